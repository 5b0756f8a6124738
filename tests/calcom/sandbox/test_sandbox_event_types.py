"""/v2/teams/{teamId}/event-types: create, list, get, update, delete, with Cal.com's messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from composite_booking.calcom.sandbox import CalcomSandbox, DemoSalon, SchedulingType
from composite_booking.calcom.sandbox.errors import MSG_DUPLICATE_TEAM_SLUG, MSG_NO_AUTH

if TYPE_CHECKING:
    from conftest import SandboxApi


def _body(slug: str, host: int, **extra: Any) -> dict[str, Any]:
    return {
        "title": "Colour",
        "slug": slug,
        "lengthInMinutes": 30,
        "schedulingType": "collective",
        "hosts": [{"userId": host}],
        **extra,
    }


async def test_create_renders_the_team_event_type(
    api: SandboxApi, sandbox: CalcomSandbox, salon: DemoSalon
) -> None:
    response = await api.client.post(
        f"/v2/teams/{salon.team_id}/event-types",
        json=_body(
            "colour-emma", salon.emma_id, hidden=True, afterEventBuffer=15, color={"lightThemeHex": "#fff"}
        ),
        headers=api.auth,
    )

    assert response.status_code == 201
    data = response.json()["data"]
    assert data["slug"] == "colour-emma"
    assert data["lengthInMinutes"] == 30
    assert data["hidden"] is True
    assert data["afterEventBuffer"] == 15
    assert data["beforeEventBuffer"] == 0
    assert data["minimumBookingNotice"] == 120
    assert data["slotInterval"] is None
    assert data["schedulingType"] == "collective"
    assert data["teamId"] == salon.team_id
    assert data["ownerId"] is None
    assert data["hosts"] == [
        {"userId": salon.emma_id, "name": "Emma Williams", "username": "emma-williams", "avatarUrl": None}
    ]
    assert data["team"]["slug"] == "salon-demo"
    assert data["locations"] == [{"type": "integration", "integration": "cal-video"}]
    assert data["color"] == {"lightThemeHex": "#fff"}
    stored = sandbox.event_type(data["id"])
    assert stored.scheduling_type is SchedulingType.COLLECTIVE
    assert stored.after_event_buffer == 15


async def test_unknown_body_keys_are_dropped(api: SandboxApi, salon: DemoSalon) -> None:
    response = await api.client.post(
        f"/v2/teams/{salon.team_id}/event-types",
        json=_body("colour", salon.emma_id, length=30, teamId=999, userId=1),
        headers=api.auth,
    )

    assert response.status_code == 201
    assert "length" not in response.json()["data"]
    assert response.json()["data"]["teamId"] == salon.team_id


async def test_round_robin_hosts_carry_priority(api: SandboxApi, salon: DemoSalon) -> None:
    body = _body("any", salon.emma_id, schedulingType="roundRobin")
    body["hosts"] = [
        {"userId": salon.emma_id, "priority": "high", "mandatory": True},
        {"userId": salon.david_id},
    ]

    data = (
        await api.client.post(f"/v2/teams/{salon.team_id}/event-types", json=body, headers=api.auth)
    ).json()["data"]

    assert [(h["userId"], h["priority"], h["mandatory"]) for h in data["hosts"]] == [
        (salon.emma_id, "high", True),
        (salon.david_id, "medium", False),
    ]


async def test_duplicate_slug_is_refused(api: SandboxApi, salon: DemoSalon) -> None:
    url = f"/v2/teams/{salon.team_id}/event-types"
    first = await api.client.post(url, json=_body("colour", salon.emma_id), headers=api.auth)

    second = await api.client.post(url, json=_body("colour", salon.fabian_id), headers=api.auth)

    assert first.status_code == 201
    assert second.status_code == 400
    assert second.json()["error"] == {
        "code": "BadRequestException",
        "message": MSG_DUPLICATE_TEAM_SLUG,
        "details": {"message": MSG_DUPLICATE_TEAM_SLUG, "error": "Bad Request", "statusCode": 400},
    }


async def test_update_is_partial_and_keeps_the_scheduling_type(api: SandboxApi, salon: DemoSalon) -> None:
    created = await api.create_event_type("colour", hosts=[salon.emma_id])
    url = f"/v2/teams/{salon.team_id}/event-types/{created['id']}"

    response = await api.client.patch(
        url,
        json={"afterEventBuffer": 45, "hosts": [{"userId": salon.fabian_id}], "schedulingType": "roundRobin"},
        headers=api.auth,
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["afterEventBuffer"] == 45
    assert data["title"] == created["title"]
    assert [h["userId"] for h in data["hosts"]] == [salon.fabian_id]
    assert data["schedulingType"] == "collective"  # not part of the update body, silently dropped


async def test_patch_resending_the_current_slug_fails_like_cal_com(api: SandboxApi, salon: DemoSalon) -> None:
    created = await api.create_event_type("colour", hosts=[salon.emma_id])

    response = await api.client.patch(
        f"/v2/teams/{salon.team_id}/event-types/{created['id']}", json={"slug": "colour"}, headers=api.auth
    )

    assert response.status_code == 400
    assert response.json()["error"]["message"] == MSG_DUPLICATE_TEAM_SLUG


async def test_get_list_and_delete(api: SandboxApi, salon: DemoSalon) -> None:
    colour = await api.create_event_type("colour", hosts=[salon.emma_id])
    wash = await api.create_event_type("wash", hosts=[salon.emma_id])
    base = f"/v2/teams/{salon.team_id}/event-types"

    one = await api.client.get(f"{base}/{colour['id']}", headers=api.auth)
    everything = await api.client.get(base)  # the list needs no credentials
    by_slug = await api.client.get(base, params={"eventSlug": "wash"})
    deleted = await api.client.delete(f"{base}/{colour['id']}", headers=api.auth)
    gone = await api.client.get(f"{base}/{colour['id']}", headers=api.auth)
    delete_again = await api.client.delete(f"{base}/{colour['id']}", headers=api.auth)

    assert one.json()["data"] == colour
    assert [et["id"] for et in everything.json()["data"]] == [colour["id"], wash["id"]]
    assert [et["id"] for et in by_slug.json()["data"]] == [wash["id"]]
    assert deleted.status_code == 200
    assert deleted.json()["data"] == {"id": colour["id"], "title": colour["title"]}
    assert gone.status_code == 404
    assert gone.json()["error"]["message"] == f"Event type with id {colour['id']} not found"
    assert delete_again.status_code == 404
    assert delete_again.json()["error"]["message"] == f"Event type with ID={colour['id']} does not exist."


async def test_deleting_an_event_type_keeps_its_bookings_busy(api: SandboxApi, salon: DemoSalon) -> None:
    colour = await api.create_event_type("colour", hosts=[salon.emma_id])
    cut = await api.create_event_type("cut", hosts=[salon.emma_id])
    booking = await api.booked(colour["id"], "2030-01-08T09:00:00Z")
    await api.client.delete(f"/v2/teams/{salon.team_id}/event-types/{colour['id']}", headers=api.auth)

    clash = await api.book(cut["id"], "2030-01-08T09:00:00Z", email="x@example.com")
    kept = await api.client.get(f"/v2/bookings/{booking['uid']}", headers={"cal-api-version": "2024-08-13"})

    assert clash.status_code == 400
    assert kept.json()["data"]["eventTypeId"] is None


async def test_only_team_admins_write(api: SandboxApi, sandbox: CalcomSandbox, salon: DemoSalon) -> None:
    member_key = sandbox.issue_api_key(salon.emma_id)
    url = f"/v2/teams/{salon.team_id}/event-types"

    member = await api.client.post(
        url, json=_body("x", salon.emma_id), headers={"Authorization": f"Bearer {member_key}"}
    )
    anonymous = await api.client.post(url, json=_body("x", salon.emma_id))
    other_team = await api.client.post(
        "/v2/teams/99/event-types", json=_body("x", salon.emma_id), headers=api.auth
    )

    assert member.status_code == 403
    assert member.json()["error"]["message"] == (
        f"RolesGuard - user with id={salon.emma_id} does not have the minimum required role=TEAM_ADMIN "
        f"within team with id={salon.team_id}."
    )
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["message"] == MSG_NO_AUTH
    assert other_team.status_code == 403


async def test_hosts_must_be_team_members(api: SandboxApi, sandbox: CalcomSandbox, salon: DemoSalon) -> None:
    outsider = sandbox.add_user(name="Out Sider", email="out@example.com")

    response = await api.client.post(
        f"/v2/teams/{salon.team_id}/event-types", json=_body("x", outsider.id), headers=api.auth
    )

    assert response.status_code == 404
    assert response.json()["error"]["message"] == (
        f"Invalid hosts: {outsider.id} are not members of team with id {salon.team_id}."
    )


async def test_body_validation_lists_every_problem(api: SandboxApi, salon: DemoSalon) -> None:
    response = await api.client.post(
        f"/v2/teams/{salon.team_id}/event-types",
        json={"slug": "x", "lengthInMinutes": "long", "schedulingType": "solo", "afterEventBuffer": -5},
        headers=api.auth,
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "Bad Request Exception"
    assert {e["property"] for e in error["details"]["errors"]} == {
        "title",
        "lengthInMinutes",
        "schedulingType",
        "afterEventBuffer",
    }


async def test_assign_all_team_members_hosts_everyone(api: SandboxApi, salon: DemoSalon) -> None:
    body = _body("all", salon.emma_id, assignAllTeamMembers=True)
    del body["hosts"]

    data = (
        await api.client.post(f"/v2/teams/{salon.team_id}/event-types", json=body, headers=api.auth)
    ).json()["data"]

    assert data["assignAllTeamMembers"] is True
    assert {h["userId"] for h in data["hosts"]} == {salon.admin_user_id, *salon.staff_ids.values()}
