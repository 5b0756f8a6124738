"""Catalog CRUD through the HTTP API."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import COLOUR_SEGMENTS, composite_service, create
from tests.conftest import Tenant


async def test_branch_crud(tenant: Tenant) -> None:
    client = tenant.client
    branch = await create(client, "/v1/branches", {"name": "Mitte", "timezone": "Europe/Berlin"})
    assert branch["timezone"] == "Europe/Berlin"

    patched = await client.patch(f"/v1/branches/{branch['id']}", json={"calcom_team_id": 7})
    assert patched.status_code == 200
    assert patched.json()["calcom_team_id"] == 7
    assert patched.json()["name"] == "Mitte"

    assert (await client.get(f"/v1/branches/{branch['id']}")).json()["calcom_team_id"] == 7
    assert (await client.delete(f"/v1/branches/{branch['id']}")).status_code == 204
    assert (await client.get(f"/v1/branches/{branch['id']}")).status_code == 404
    assert (await client.get("/v1/branches")).json()["total"] == 0


async def test_branch_with_staff_cannot_be_deleted(tenant: Tenant, branch: dict[str, Any]) -> None:
    await create(tenant.client, "/v1/staff", {"branch_id": branch["id"], "name": "Emma"})
    response = await tenant.client.delete(f"/v1/branches/{branch['id']}")
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert "1 staff" in response.json()["detail"]


async def test_service_crud_derives_duration(tenant: Tenant, branch: dict[str, Any]) -> None:
    client = tenant.client
    service = await create(client, "/v1/services", composite_service(branch["id"]))
    assert service["duration_min"] == 30 + 30 + 15 + 30 + 15 + 30
    assert service["max_duration_min"] == service["duration_min"]
    assert [s["key"] for s in service["segments"]] == ["A", "B", "C", "D"]
    assert service["price"] == "85.00"
    assert service["reschedule_policy"] == {"cutoff_hours": 24, "max_changes": 3}

    shorter = [dict(s) for s in COLOUR_SEGMENTS]
    shorter[0]["gap_after_min"] = 20
    patched = await client.patch(f"/v1/services/{service['id']}", json={"segments": shorter, "name": "Neu"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["duration_min"] == service["duration_min"] - 10
    assert patched.json()["name"] == "Neu"

    fetched = (await client.get(f"/v1/services/{service['id']}")).json()
    assert fetched["duration_min"] == service["duration_min"] - 10

    assert (await client.delete(f"/v1/services/{service['id']}")).status_code == 204
    assert (await client.get(f"/v1/services/{service['id']}")).status_code == 404
    assert (await client.patch(f"/v1/services/{service['id']}", json={"name": "x"})).status_code == 404
    assert (await client.get("/v1/services")).json()["items"] == []


async def test_simple_service_from_duration_shorthand(tenant: Tenant, branch: dict[str, Any]) -> None:
    body = {"branch_id": branch["id"], "name": "Haarschnitt", "duration_min": 30}
    service = await create(tenant.client, "/v1/services", body)
    assert service["composite"] is False
    assert service["duration_min"] == 30
    assert service["segments"] == [
        {
            "key": "A",
            "name": "Haarschnitt",
            "duration_min": 30,
            "gap_after_min": 0,
            "gap_after_max_min": None,
            "staff_mode": "same",
        }
    ]


async def test_flexible_service_reports_longest_duration(tenant: Tenant, branch: dict[str, Any]) -> None:
    segments = [
        {"key": "A", "name": "Farbe", "duration_min": 30, "gap_after_min": 20, "gap_after_max_min": 45},
        {"key": "B", "name": "Schnitt", "duration_min": 30},
    ]
    body = composite_service(branch["id"], segments=segments, pause_bookable_policy="flexible")
    service = await create(tenant.client, "/v1/services", body)
    assert (service["duration_min"], service["max_duration_min"]) == (80, 105)


async def test_staff_and_services_link_both_ways(tenant: Tenant, branch: dict[str, Any]) -> None:
    client = tenant.client
    service = await create(client, "/v1/services", composite_service(branch["id"]))
    emma = await create(
        client,
        "/v1/staff",
        {
            "branch_id": branch["id"],
            "name": "Emma Williams",
            "email": "emma@example.com",
            "aliases": ["Emma", "Frau Williams"],
            "service_ids": [service["id"]],
        },
    )
    assert emma["service_ids"] == [service["id"]]
    fabian = await create(client, "/v1/staff", {"branch_id": branch["id"], "name": "Fabian"})

    assert (await client.get(f"/v1/services/{service['id']}")).json()["staff_ids"] == [emma["id"]]
    response = await client.patch(f"/v1/services/{service['id']}", json={"staff_ids": [fabian["id"]]})
    assert response.json()["staff_ids"] == [fabian["id"]]
    assert (await client.get(f"/v1/staff/{emma['id']}")).json()["service_ids"] == []

    listed = (await client.get("/v1/staff", params={"service_id": service["id"]})).json()
    assert [s["id"] for s in listed["items"]] == [fabian["id"]]

    await client.delete(f"/v1/staff/{fabian['id']}")
    assert (await client.get(f"/v1/services/{service['id']}")).json()["staff_ids"] == []


async def test_staff_update_keeps_unsent_fields(tenant: Tenant, branch: dict[str, Any]) -> None:
    staff = await create(
        tenant.client,
        "/v1/staff",
        {"branch_id": branch["id"], "name": "David", "aliases": ["Dave"], "calcom_user_id": 12},
    )
    response = await tenant.client.patch(f"/v1/staff/{staff['id']}", json={"active": False})
    assert response.status_code == 200
    assert response.json()["aliases"] == ["Dave"]
    assert response.json()["calcom_user_id"] == 12
    assert response.json()["active"] is False
    listed = await tenant.client.get("/v1/staff", params={"active": "true"})
    assert listed.json()["total"] == 0


async def test_pagination(tenant: Tenant) -> None:
    for index in range(5):
        await create(tenant.client, "/v1/branches", {"name": f"B{index}", "timezone": "UTC"})
    page = (await tenant.client.get("/v1/branches", params={"limit": 2, "offset": 2})).json()
    assert page["total"] == 5
    assert [b["name"] for b in page["items"]] == ["B2", "B3"]
    assert (page["limit"], page["offset"]) == (2, 2)
    last = (await tenant.client.get("/v1/branches", params={"limit": 2, "offset": 4})).json()
    assert [b["name"] for b in last["items"]] == ["B4"]
    too_big = await tenant.client.get("/v1/branches", params={"limit": 500})
    assert too_big.status_code == 422
    assert too_big.json()["errors"][0]["field"] == "limit"


async def test_service_filters(tenant: Tenant, branch: dict[str, Any]) -> None:
    await create(tenant.client, "/v1/services", composite_service(branch["id"]))
    simple = {"branch_id": branch["id"], "name": "Cut", "duration_min": 30, "active": False}
    await create(tenant.client, "/v1/services", simple)
    composite_only = (await tenant.client.get("/v1/services", params={"composite": "true"})).json()
    assert [s["name"] for s in composite_only["items"]] == ["Ansatzfärbung"]
    inactive = (await tenant.client.get("/v1/services", params={"active": "false"})).json()
    assert [s["name"] for s in inactive["items"]] == ["Cut"]


async def test_segment_templates(tenant: Tenant, branch: dict[str, Any]) -> None:
    templates = (await tenant.client.get("/v1/segment-templates")).json()
    assert len(templates) >= 8
    categories = {t["category"] for t in templates}
    assert {"hair", "therapy", "spa"} <= categories
    for template in templates:
        response = await tenant.client.post(
            f"/v1/segment-templates/{template['key']}/instantiate", json={"branch_id": branch["id"]}
        )
        assert response.status_code == 201, (template["key"], response.text)
        service = response.json()
        assert service["composite"] is True
        assert service["segments"] == template["segments"]
        assert service["pause_bookable_policy"] == template["pause_bookable_policy"]
        assert service["duration_min"] == template["duration_min"]
    missing = await tenant.client.post(
        "/v1/segment-templates/nope/instantiate", json={"branch_id": branch["id"]}
    )
    assert missing.status_code == 404


async def test_authentication_required(anonymous: Any, tenant: Tenant) -> None:
    response = await anonymous.get("/v1/services")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    wrong = await anonymous.get("/v1/services", headers={"Authorization": "Bearer cb_wrong"})
    assert wrong.status_code == 401


async def test_health(anonymous: Any) -> None:
    assert (await anonymous.get("/healthz")).json() == {"status": "ok", "checks": {}}
    ready = await anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok"}
