"""`cal-api-version` routing, the schedule endpoints, /v2/me, unknown routes and the demo salon."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from composite_booking.calcom.sandbox import CalcomSandbox, DemoSalon, MembershipRole

if TYPE_CHECKING:
    from conftest import SandboxApi

SLOT_QUERY = "start=2030-01-08&end=2030-01-08"


@pytest.fixture
async def cut(api: SandboxApi, salon: DemoSalon) -> dict[str, Any]:
    return await api.create_event_type("cut", hosts=[salon.emma_id])


@pytest.mark.parametrize("version", [None, "2024-08-13", "2024-04-15"])
async def test_slots_need_their_version(api: SandboxApi, cut: dict[str, Any], version: str | None) -> None:
    headers = {"cal-api-version": version} if version else {}

    response = await api.client.get(f"/v2/slots?eventTypeId={cut['id']}&{SLOT_QUERY}", headers=headers)

    assert response.status_code == 404
    assert response.json()["error"]["message"] == f"Cannot GET /v2/slots?eventTypeId={cut['id']}&{SLOT_QUERY}"


async def test_legacy_slots_route_has_the_old_shape(api: SandboxApi, cut: dict[str, Any]) -> None:
    params = {
        "eventTypeId": cut["id"],
        "startTime": "2030-01-08T00:00:00Z",
        "endTime": "2030-01-08T23:59:59Z",
    }

    legacy = await api.client.get("/v2/slots/available", params=params)
    ranged = await api.client.get("/v2/slots/available", params={**params, "slotFormat": "range"})
    with_new_version = await api.client.get(
        "/v2/slots/available", params=params, headers={"cal-api-version": "2024-09-04"}
    )
    unknown = await api.client.get("/v2/slots/available", params={**params, "eventTypeId": 999_999})

    assert legacy.json()["data"]["slots"]["2030-01-08"][0] == {"time": "2030-01-08T08:00:00.000Z"}
    assert ranged.json()["data"]["slots"]["2030-01-08"][0] == {
        "startTime": "2030-01-08T08:00:00.000Z",
        "endTime": "2030-01-08T09:00:00.000Z",
    }
    assert with_new_version.status_code == 404
    assert unknown.json()["error"] == {"code": "TRPCError", "message": "NOT_FOUND"}


@pytest.mark.parametrize("version", [None, "2024-09-04", '"2024-08-13"'])
async def test_bookings_without_their_version_fail_like_issue_16924(
    api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any], version: str | None
) -> None:
    headers = {**api.auth, **({"cal-api-version": version} if version else {})}
    body = {
        "eventTypeId": cut["id"],
        "start": "2030-01-08T09:00:00Z",
        "attendee": {"name": "Anna", "email": "anna@example.com", "timeZone": "Europe/Berlin"},
    }

    created = await api.client.post("/v2/bookings", json=body, headers=headers)
    listed = await api.client.get("/v2/bookings", headers=headers)

    assert created.status_code == 500
    assert created.json()["error"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "data" not in created.json()
    assert listed.status_code == 500
    assert sandbox.bookings == []


@pytest.mark.parametrize("version", [None, "2024-08-13", "2099-01-01"])
async def test_team_event_types_ignore_the_version(
    api: SandboxApi, salon: DemoSalon, version: str | None
) -> None:
    headers = {**api.auth, **({"cal-api-version": version} if version else {})}

    response = await api.client.post(
        f"/v2/teams/{salon.team_id}/event-types",
        json={"title": "X", "slug": f"x-{version}", "lengthInMinutes": 30, "schedulingType": "collective"},
        headers=headers,
    )

    assert response.status_code == 201


async def test_schedules_in_the_2024_06_11_shape(api: SandboxApi, salon: DemoSalon) -> None:
    headers = {**api.auth, "cal-api-version": "2024-06-11"}

    team = await api.client.get(f"/v2/teams/{salon.team_id}/schedules", headers=headers)
    own = await api.client.get("/v2/schedules", headers=headers)
    default = await api.client.get("/v2/schedules/default", headers=headers)

    emma = next(s for s in team.json()["data"] if s["ownerId"] == salon.emma_id)
    assert emma == {
        "id": salon.schedule_ids["emma-williams"],
        "ownerId": salon.emma_id,
        "name": "Salon hours",
        "timeZone": "Europe/Berlin",
        "availability": [
            {
                "days": ["Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
                "startTime": "09:00",
                "endTime": "18:00",
            }
        ],
        "isDefault": True,
        "overrides": [],
    }
    assert own.json() == {"status": "success", "data": []}  # the admin has no working hours
    assert default.json() == {"status": "success", "data": None}


async def test_schedule_by_id_and_the_legacy_shape(
    api: SandboxApi, sandbox: CalcomSandbox, salon: DemoSalon
) -> None:
    emma_key = {"Authorization": f"Bearer {sandbox.issue_api_key(salon.emma_id)}"}
    schedule_id = salon.schedule_ids["emma-williams"]

    new = await api.client.get(
        f"/v2/schedules/{schedule_id}", headers={**emma_key, "cal-api-version": "2024-06-14"}
    )
    legacy = await api.client.get("/v2/schedules/default", headers=emma_key)
    not_hers = await api.client.get(
        f"/v2/schedules/{salon.schedule_ids['david-martinez']}",
        headers={**emma_key, "cal-api-version": "2024-06-11"},
    )
    missing = await api.client.get(
        "/v2/schedules/9999", headers={**emma_key, "cal-api-version": "2024-06-11"}
    )

    assert new.json()["data"]["availability"][0]["startTime"] == "09:00"
    assert legacy.json()["data"]["workingHours"] == [
        {"days": [2, 3, 4, 5, 6], "startTime": 540, "endTime": 1080}
    ]
    assert "ownerId" not in legacy.json()["data"]
    assert not_hers.status_code == 403
    assert not_hers.json()["error"]["message"] == (
        f"User with ID={salon.emma_id} does not own schedule with ID={salon.schedule_ids['david-martinez']}"
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Schedule with ID=9999 does not exist."


async def test_unknown_routes_and_bad_paths(api: SandboxApi, salon: DemoSalon) -> None:
    unknown = await api.client.put("/v2/bookings", headers=api.auth)
    not_a_number = await api.client.get(f"/v2/teams/{salon.team_id}/event-types/abc", headers=api.auth)
    broken_json = await api.client.post(
        "/v2/bookings", content=b"{not json", headers={**api.auth, "cal-api-version": "2024-08-13"}
    )

    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "Cannot PUT /v2/bookings"
    assert not_a_number.status_code == 400
    assert not_a_number.json()["error"]["message"] == "Validation failed (numeric string is expected)"
    assert broken_json.status_code == 400


async def test_me_and_the_demo_salon(api: SandboxApi, sandbox: CalcomSandbox, salon: DemoSalon) -> None:
    me = await api.client.get("/v2/me", headers=api.auth)

    assert me.json()["data"]["id"] == salon.admin_user_id
    assert sandbox.state.teams[salon.team_id].name == "Salon Demo"
    assert salon.team_slug == "salon-demo"
    assert sorted(salon.staff_ids) == ["david-martinez", "emma-williams", "fabian-spitzer"]
    assert {u.name for u in sandbox.users} >= {"Emma Williams", "Fabian Spitzer", "David Martinez"}
    assert all(u.time_zone == "Europe/Berlin" for u in sandbox.users)
    assert sandbox.state.is_team_admin(salon.team_id, salon.admin_user_id)
    membership = sandbox.state.membership(salon.team_id, salon.emma_id)
    assert membership is not None
    assert membership.role is MembershipRole.MEMBER


async def test_a_known_api_key_can_be_registered() -> None:
    sandbox = CalcomSandbox()
    user = sandbox.add_user(name="Ops", email="ops@example.com")

    key = sandbox.issue_api_key(user.id, key="cal_configured_in_env")

    assert key == "cal_configured_in_env"
    assert sandbox.state.user_for_api_key(key) is user
    with pytest.raises(ValueError, match="cal_"):
        sandbox.issue_api_key(user.id, key="sk_live_nope")
