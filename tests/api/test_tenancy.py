"""Another company's catalog is invisible: every route answers 404, and lists never include it."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import composite_service, create
from tests.conftest import TenantFactory


async def test_second_company_sees_nothing_of_the_first(make_tenant: TenantFactory) -> None:
    owner = await make_tenant("Owner")
    intruder = await make_tenant("Intruder")
    branch = await create(owner.client, "/v1/branches", {"name": "Mitte", "timezone": "Europe/Berlin"})
    service = await create(owner.client, "/v1/services", composite_service(branch["id"]))
    staff = await create(
        owner.client, "/v1/staff", {"branch_id": branch["id"], "name": "Emma", "service_ids": [service["id"]]}
    )
    resources: dict[str, tuple[int, dict[str, Any]]] = {
        "branches": (branch["id"], {"name": "stolen"}),
        "services": (service["id"], {"name": "stolen"}),
        "staff": (staff["id"], {"name": "stolen"}),
    }
    for collection, (resource_id, patch) in resources.items():
        path = f"/v1/{collection}/{resource_id}"
        for response in (
            await intruder.client.get(path),
            await intruder.client.patch(path, json=patch),
            await intruder.client.delete(path),
        ):
            assert response.status_code == 404, (path, response.request.method, response.text)
            assert response.headers["content-type"] == "application/problem+json"
        listed = (await intruder.client.get(f"/v1/{collection}")).json()
        assert listed == {"items": [], "total": 0, "limit": 50, "offset": 0}

    # Nor can the intruder reference the owner's rows from its own writes.
    stolen_branch = await intruder.client.post("/v1/staff", json={"branch_id": branch["id"], "name": "x"})
    assert stolen_branch.status_code == 422
    assert stolen_branch.json()["errors"][0]["field"] == "branch_id"
    stolen_template = await intruder.client.post(
        "/v1/segment-templates/hair-perm/instantiate", json={"branch_id": branch["id"]}
    )
    assert stolen_template.status_code == 422
    own_branch = await create(intruder.client, "/v1/branches", {"name": "Own", "timezone": "UTC"})
    stolen_link = await intruder.client.post(
        "/v1/staff", json={"branch_id": own_branch["id"], "name": "x", "service_ids": [service["id"]]}
    )
    assert stolen_link.status_code == 422
    assert stolen_link.json()["errors"][0]["field"] == "service_ids[0]"
    stolen_staff = await intruder.client.post(
        "/v1/services", json=composite_service(own_branch["id"], staff_ids=[staff["id"]])
    )
    assert stolen_staff.status_code == 422
    assert stolen_staff.json()["errors"][0]["field"] == "staff_ids[0]"

    # The owner's data is untouched.
    assert (await owner.client.get(f"/v1/services/{service['id']}")).json()["name"] == service["name"]
    assert (await owner.client.get(f"/v1/staff/{staff['id']}")).json()["service_ids"] == [service["id"]]
