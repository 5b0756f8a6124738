"""Every catalog validation rule: a 422 problem+json naming the field, and nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import COLOUR_SEGMENTS, composite_service, create
from tests.conftest import Tenant


def segments_with(index: int, **changes: Any) -> list[dict[str, Any]]:
    segments = [dict(s) for s in COLOUR_SEGMENTS]
    segments[index].update(changes)
    return segments


async def assert_refused(tenant: Tenant, body: dict[str, Any], field: str, fragment: str = "") -> None:
    response = await tenant.client.post("/v1/services", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    fields = [error["field"] for error in problem["errors"]]
    assert field in fields, problem
    assert field in problem["detail"]
    if fragment:
        assert fragment in problem["detail"]
    listed = (await tenant.client.get("/v1/services")).json()
    assert listed["total"] == 0, "a refused service must leave nothing behind"


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"segments": segments_with(1, key="A")}, "segments[1].key", "duplicate"),
        ({"segments": segments_with(1, key="a")}, "segments[1].key", "duplicate"),
        ({"segments": segments_with(1, key="b_1")}, "segments[1].key", ""),
        ({"segments": segments_with(2, key="not a key!")}, "segments[2].key", ""),
        ({"segments": segments_with(0, duration_min=4)}, "segments[0].duration_min", "between 5 and 480"),
        ({"segments": segments_with(3, duration_min=481)}, "segments[3].duration_min", "between 5 and 480"),
        ({"segments": segments_with(0, gap_after_min=-1)}, "segments[0].gap_after_min", "0 or more"),
        ({"segments": segments_with(3, gap_after_min=10)}, "segments[3].gap_after_min", "last segment"),
        ({"segments": segments_with(0, gap_after_max_min=45)}, "segments[0].gap_after_max_min", "flexible"),
        (
            {"segments": segments_with(0, gap_after_max_min=10), "pause_bookable_policy": "flexible"},
            "segments[0].gap_after_max_min",
            "at least gap_after_min",
        ),
        ({"segments": [COLOUR_SEGMENTS[3]]}, "segments", "at least 2"),
        (
            {
                "segments": [
                    {"key": "A", "name": "a", "duration_min": 480, "gap_after_min": 60},
                    {"key": "B", "name": "b", "duration_min": 200},
                ]
            },
            "segments",
            "at most 720",
        ),
        ({"pause_bookable_policy": "sometimes"}, "pause_bookable_policy", ""),
        ({"segments": segments_with(0, duration_min="long")}, "segments[0].duration_min", ""),
        ({"segments": segments_with(1, staff_mode="whoever")}, "segments[1].staff_mode", ""),
        ({"duration_min": 30}, "duration_min", "either segments or duration_min"),
        ({"segments": None}, "segments", "required"),
        ({"price": "-1"}, "price", ""),
        ({"currency": "euro"}, "currency", ""),
        ({"colour": "red"}, "colour", "Extra inputs"),
        ({"branch_id": 999_999}, "branch_id", "does not exist"),
        ({"reschedule_policy": {"cutoff_hours": -1}}, "reschedule_policy.cutoff_hours", ""),
    ],
)
async def test_service_rules(
    tenant: Tenant, branch: dict[str, Any], overrides: dict[str, Any], field: str, fragment: str
) -> None:
    body = composite_service(branch["id"])
    body.update(overrides)
    await assert_refused(tenant, body, field, fragment)


async def test_duration_bounds_are_inclusive(tenant: Tenant, branch: dict[str, Any]) -> None:
    segments = [
        {"key": "A", "name": "a", "duration_min": 5, "gap_after_min": 0},
        {"key": "B", "name": "b", "duration_min": 480},
    ]
    await create(tenant.client, "/v1/services", composite_service(branch["id"], segments=segments))


async def test_whole_service_may_last_exactly_twelve_hours(tenant: Tenant, branch: dict[str, Any]) -> None:
    segments = [
        {"key": "A", "name": "a", "duration_min": 400, "gap_after_min": 20},
        {"key": "B", "name": "b", "duration_min": 300},
    ]
    service = await create(tenant.client, "/v1/services", composite_service(branch["id"], segments=segments))
    assert service["duration_min"] == 720


async def test_twelve_hour_limit_counts_the_longest_flexible_pauses(
    tenant: Tenant, branch: dict[str, Any]
) -> None:
    segments = [
        {"key": "A", "name": "a", "duration_min": 400, "gap_after_min": 20, "gap_after_max_min": 40},
        {"key": "B", "name": "b", "duration_min": 300},
    ]
    body = composite_service(branch["id"], segments=segments, pause_bookable_policy="flexible")
    await assert_refused(tenant, body, "segments", "at most 720")


async def test_simple_service_rules(tenant: Tenant, branch: dict[str, Any]) -> None:
    two = composite_service(branch["id"], composite=False)
    await assert_refused(tenant, two, "segments", "exactly 1 segment")
    shorthand_composite = {"branch_id": branch["id"], "name": "x", "composite": True, "duration_min": 30}
    await assert_refused(tenant, shorthand_composite, "duration_min", "defined by its segments")
    too_short = {"branch_id": branch["id"], "name": "x", "duration_min": 3}
    await assert_refused(tenant, too_short, "segments[0].duration_min")


async def test_every_problem_is_reported_at_once(tenant: Tenant, branch: dict[str, Any]) -> None:
    segments = segments_with(0, duration_min=2)
    segments[1]["gap_after_min"] = -5
    response = await tenant.client.post(
        "/v1/services", json=composite_service(branch["id"], segments=segments)
    )
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"segments[0].duration_min", "segments[1].gap_after_min"}


async def test_update_revalidates_the_whole_service(tenant: Tenant, branch: dict[str, Any]) -> None:
    segments = segments_with(0, gap_after_max_min=60)
    body = composite_service(branch["id"], segments=segments, pause_bookable_policy="flexible")
    service = await create(tenant.client, "/v1/services", body)
    # Leaving `flexible` makes the stored gap_after_max_min invalid: refused, nothing changed.
    response = await tenant.client.patch(
        f"/v1/services/{service['id']}", json={"pause_bookable_policy": "free"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "segments[0].gap_after_max_min"
    unchanged = (await tenant.client.get(f"/v1/services/{service['id']}")).json()
    assert unchanged["pause_bookable_policy"] == "flexible"


async def test_update_refuses_null_for_required_fields(tenant: Tenant, branch: dict[str, Any]) -> None:
    service = await create(tenant.client, "/v1/services", composite_service(branch["id"]))
    response = await tenant.client.patch(f"/v1/services/{service['id']}", json={"name": None})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"


async def test_branch_and_staff_rules(tenant: Tenant, branch: dict[str, Any]) -> None:
    bad_zone = await tenant.client.post("/v1/branches", json={"name": "x", "timezone": "Mars/Olympus"})
    assert bad_zone.status_code == 422
    assert bad_zone.json()["errors"][0]["field"] == "timezone"

    bad_email = await tenant.client.post(
        "/v1/staff", json={"branch_id": branch["id"], "name": "x", "email": "not-an-email"}
    )
    assert bad_email.json()["errors"][0]["field"] == "email"

    other_branch = await create(tenant.client, "/v1/branches", {"name": "Other", "timezone": "UTC"})
    service = await create(tenant.client, "/v1/services", composite_service(other_branch["id"]))
    wrong_branch = await tenant.client.post(
        "/v1/staff", json={"branch_id": branch["id"], "name": "x", "service_ids": [service["id"]]}
    )
    assert wrong_branch.status_code == 422
    assert wrong_branch.json()["errors"][0]["field"] == "service_ids[0]"
    assert (await tenant.client.get("/v1/staff")).json()["total"] == 0


async def test_malformed_json_is_a_clear_422(tenant: Tenant) -> None:
    response = await tenant.client.post(
        "/v1/branches", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
