"""POST/GET /v2/bookings, cancel, reschedule: the re-check, exact error envelopes, filters and pagination."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from composite_booking.calcom.sandbox import (
    MSG_IN_THE_PAST,
    MSG_OUT_OF_BOUNDS,
    MSG_TEAM_HOST_BUSY,
    BookingStatus,
    CalcomSandbox,
    DemoSalon,
    ManualClock,
)
from composite_booking.calcom.sandbox.booking_list import pagination
from composite_booking.calcom.sandbox.errors import MSG_BOOKING_METADATA, MSG_NO_AUTH

if TYPE_CHECKING:
    from conftest import SandboxApi

BERLIN = "Europe/Berlin"
TUESDAY = "2030-01-08"


@pytest.fixture
async def cut(api: SandboxApi, salon: DemoSalon) -> dict[str, Any]:
    return await api.create_event_type("cut", hosts=[salon.emma_id])


async def test_create_returns_201_with_the_booking(
    api: SandboxApi, salon: DemoSalon, cut: dict[str, Any]
) -> None:
    response = await api.book(
        cut["id"], "2030-01-08T09:00:00Z", metadata={"compositeUid": "c-1", "segment": "A"}
    )

    assert response.status_code == 201
    booking = response.json()["data"]
    assert booking["status"] == "accepted"
    assert booking["start"] == "2030-01-08T09:00:00.000Z"
    assert booking["end"] == "2030-01-08T10:00:00.000Z"
    assert booking["duration"] == 60
    assert booking["eventTypeId"] == cut["id"]
    assert booking["eventType"] == {"id": cut["id"], "slug": "cut"}
    assert booking["hosts"] == [
        {
            "id": salon.emma_id,
            "name": "Emma Williams",
            "email": "emma.williams@salon-demo.example",
            "username": "emma-williams",
            "timeZone": BERLIN,
        }
    ]
    assert booking["attendees"] == [
        {
            "name": "Anna Schmidt",
            "email": "anna@example.com",
            "timeZone": BERLIN,
            "language": "en",
            "absent": False,
        }
    ]
    assert booking["metadata"] == {"compositeUid": "c-1", "segment": "A"}
    assert booking["title"] == "Cut between Salon Demo and Anna Schmidt"
    assert len(booking["uid"]) == 22
    assert "cancellationReason" not in booking
    assert "rescheduledToUid" not in booking


async def test_busy_host_gets_the_exact_cal_com_envelope(api: SandboxApi, cut: dict[str, Any]) -> None:
    await api.booked(cut["id"], "2030-01-08T09:00:00Z")

    response = await api.client.post(
        "/v2/bookings",
        json={
            "eventTypeId": cut["id"],
            "start": "2030-01-08T09:30:00Z",
            "attendee": {"name": "Bea", "email": "bea@example.com", "timeZone": BERLIN},
        },
        headers={**api.auth, "cal-api-version": "2024-08-13", "X-Request-Id": "req-42"},
    )

    assert response.status_code == 400
    assert response.headers["x-request-id"] == "req-42"
    assert response.json() == {
        "status": "error",
        "timestamp": "2030-01-07T08:00:00.000Z",
        "path": "/v2/bookings",
        "error": {
            "code": "BadRequestException",
            "message": MSG_TEAM_HOST_BUSY,
            "details": {"message": MSG_TEAM_HOST_BUSY, "error": "Bad Request", "statusCode": 400},
        },
    }


async def test_errors_without_request_id_say_so(api: SandboxApi) -> None:
    response = await api.book(999_999, "2030-01-08T09:00:00Z")

    assert response.status_code == 404
    assert response.headers["x-request-id"] == "unknown-request-id"
    assert response.json()["error"]["message"] == "Event type with id 999999 not found."


async def test_outside_working_hours_is_host_busy(api: SandboxApi, cut: dict[str, Any]) -> None:
    monday = await api.book(cut["id"], "2030-01-14T09:00:00Z")  # the salon is closed on Mondays
    too_late = await api.book(cut["id"], "2030-01-08T16:30:00Z")  # 17:30-18:30 runs past closing

    assert monday.json()["error"]["message"] == MSG_TEAM_HOST_BUSY
    assert too_late.json()["error"]["message"] == MSG_TEAM_HOST_BUSY


async def test_buffer_overlap_is_rejected_like_slots_reject_it(
    api: SandboxApi, salon: DemoSalon, cut: dict[str, Any]
) -> None:
    colour = await api.create_event_type("colour", hosts=[salon.emma_id], afterEventBuffer=30)
    await api.booked(colour["id"], "2030-01-08T09:00:00Z")  # 10:00-11:00 + 30 min after-buffer

    inside_buffer = await api.book(cut["id"], "2030-01-08T10:15:00Z")
    after_buffer = await api.book(cut["id"], "2030-01-08T10:30:00Z")

    assert inside_buffer.status_code == 400
    assert inside_buffer.json()["error"]["message"] == MSG_TEAM_HOST_BUSY
    assert after_buffer.status_code == 201


async def test_past_and_minimum_notice(api: SandboxApi, salon: DemoSalon, clock: ManualClock) -> None:
    clock.set(datetime(2030, 1, 8, 9, 0, tzinfo=UTC))
    noticed = await api.create_event_type("noticed", hosts=[salon.emma_id], minimumBookingNotice=120)

    past = await api.book(noticed["id"], "2030-01-08T08:00:00Z")
    too_soon = await api.book(noticed["id"], "2030-01-08T10:00:00Z")
    in_time = await api.book(noticed["id"], "2030-01-08T11:00:00Z")

    assert past.status_code == 400
    assert past.json()["error"]["message"] == MSG_IN_THE_PAST
    assert too_soon.status_code == 400
    assert too_soon.json()["error"]["message"] == MSG_OUT_OF_BOUNDS
    assert in_time.status_code == 201


@pytest.mark.parametrize(
    "metadata",
    [
        {f"k{i}": "v" for i in range(51)},
        {"k" * 41: "v"},
        {"note": "x" * 501},
        {"nested": {"not": "allowed"}},
    ],
    ids=["51-keys", "41-char-key", "501-char-value", "nested-value"],
)
async def test_metadata_limits(api: SandboxApi, cut: dict[str, Any], metadata: dict[str, Any]) -> None:
    response = await api.book(cut["id"], "2030-01-08T09:00:00Z", metadata=metadata)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadRequestException"
    assert error["message"] == "Bad Request Exception"
    assert error["details"]["errors"] == [
        {"property": "metadata", "value": metadata, "constraints": {"validateMetadata": MSG_BOOKING_METADATA}}
    ]


async def test_metadata_at_the_limits_is_accepted(api: SandboxApi, cut: dict[str, Any]) -> None:
    metadata: dict[str, Any] = {f"{i:040d}": "x" * 500 for i in range(49)}
    metadata["flag"] = True

    response = await api.book(cut["id"], "2030-01-08T09:00:00Z", metadata=metadata)

    assert response.status_code == 201
    assert response.json()["data"]["metadata"] == metadata


async def test_unknown_body_keys_are_dropped_and_missing_ones_reported(
    api: SandboxApi, cut: dict[str, Any]
) -> None:
    extra = await api.book(cut["id"], "2030-01-08T09:00:00Z", status="ACCEPTED", responses={"x": 1})
    missing = await api.client.post(
        "/v2/bookings",
        json={"eventTypeId": cut["id"], "start": "not a date"},
        headers={**api.auth, "cal-api-version": "2024-08-13"},
    )

    assert extra.status_code == 201
    assert missing.status_code == 400
    properties = {e["property"] for e in missing.json()["error"]["details"]["errors"]}
    assert properties == {"start", "attendee"}


async def test_get_one_and_unknown_uid(api: SandboxApi, cut: dict[str, Any]) -> None:
    booking = await api.booked(cut["id"], "2030-01-08T09:00:00Z")

    found = await api.client.get(f"/v2/bookings/{booking['uid']}", headers={"cal-api-version": "2024-08-13"})
    missing = await api.client.get("/v2/bookings/nope", headers={"cal-api-version": "2024-08-13"})

    assert found.status_code == 200
    assert found.json() == {"status": "success", "data": booking}
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Booking with uid=nope was not found in the database"


async def test_two_clients_racing_for_one_slot_get_one_booking(
    api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any]
) -> None:
    first, second = await asyncio.gather(
        api.book(cut["id"], "2030-01-08T09:00:00Z", email="a@example.com"),
        api.book(cut["id"], "2030-01-08T09:00:00Z", email="b@example.com"),
    )

    assert sorted([first.status_code, second.status_code]) == [201, 400]
    assert len(sandbox.bookings) == 1


async def test_cancel_frees_the_slot(api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any]) -> None:
    booking = await api.booked(cut["id"], "2030-01-08T09:00:00Z")

    cancelled = await api.cancel(booking["uid"], reason="Customer is ill")
    rebooked = await api.book(cut["id"], "2030-01-08T09:00:00Z", email="other@example.com")

    assert cancelled.status_code == 200
    data = cancelled.json()["data"]
    assert data["status"] == "cancelled"
    assert data["cancellationReason"] == "Customer is ill"
    assert data["cancelledByEmail"] == "admin@salon-demo.example"
    assert sandbox.booking(booking["uid"]).status is BookingStatus.CANCELLED
    assert rebooked.status_code == 201


async def test_cancel_twice_unknown_and_ended(
    api: SandboxApi, cut: dict[str, Any], clock: ManualClock
) -> None:
    booking = await api.booked(cut["id"], "2030-01-08T09:00:00Z")
    ended = await api.booked(cut["id"], "2030-01-08T11:00:00Z")
    await api.cancel(booking["uid"])

    twice = await api.cancel(booking["uid"])
    unknown = await api.cancel("nope")
    clock.set(datetime(2030, 1, 8, 13, 0, tzinfo=UTC))
    late = await api.cancel(ended["uid"])

    assert twice.status_code == 400
    assert twice.json()["error"]["message"] == "This booking has already been cancelled."
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "Booking with uid=nope not found"
    assert late.json()["error"]["message"] == "Cannot cancel a booking that has already ended"


async def test_a_host_must_give_a_reason(
    api: SandboxApi, sandbox: CalcomSandbox, salon: DemoSalon, cut: dict[str, Any]
) -> None:
    booking = await api.booked(cut["id"], "2030-01-08T09:00:00Z")
    emma_key = sandbox.issue_api_key(salon.emma_id)

    response = await api.client.post(
        f"/v2/bookings/{booking['uid']}/cancel",
        json={},
        headers={"Authorization": f"Bearer {emma_key}", "cal-api-version": "2024-08-13"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Cancellation reason is required when you are the host"


async def test_reschedule_makes_a_new_booking_and_cancels_the_old(
    api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any]
) -> None:
    old = await api.booked(cut["id"], "2030-01-08T09:00:00Z", metadata={"compositeUid": "c-1"})

    response = await api.reschedule(old["uid"], "2030-01-08T09:30:00Z", reschedulingReason="Later please")

    assert response.status_code == 201
    new = response.json()["data"]
    assert new["uid"] != old["uid"]
    assert new["start"] == "2030-01-08T09:30:00.000Z"
    assert new["rescheduledFromUid"] == old["uid"]
    assert new["reschedulingReason"] == "Later please"
    assert new["metadata"] == {"compositeUid": "c-1"}
    previous = sandbox.booking_json(old["uid"])
    assert previous["status"] == "cancelled"
    assert previous["rescheduledToUid"] == new["uid"]
    # The overlap with its own old time (09:30-10:00) was allowed; the old hour is now free again.
    assert (await api.book(cut["id"], "2030-01-08T08:00:00Z", email="x@example.com")).status_code == 201


async def test_rescheduling_a_cancelled_booking_is_refused(api: SandboxApi, cut: dict[str, Any]) -> None:
    moved = await api.booked(cut["id"], "2030-01-08T09:00:00Z")
    new = (await api.reschedule(moved["uid"], "2030-01-08T12:00:00Z")).json()["data"]
    dropped = await api.booked(cut["id"], "2030-01-08T14:00:00Z")
    await api.cancel(dropped["uid"])

    again = await api.reschedule(moved["uid"], "2030-01-08T15:00:00Z")
    cancelled = await api.reschedule(dropped["uid"], "2030-01-08T15:00:00Z")

    assert again.status_code == 400
    assert again.json()["error"]["message"] == (
        f"Can't reschedule booking with uid={moved['uid']} because it has been cancelled and rescheduled "
        f"already to booking with uid={new['uid']}. You probably want to reschedule {new['uid']} instead by "
        "passing it within the request URL."
    )
    assert cancelled.status_code == 400
    assert cancelled.json()["error"]["message"] == (
        f"Can't reschedule booking with uid={dropped['uid']} because it has been cancelled. Please provide "
        "uid of a booking that is not cancelled."
    )


async def test_reschedule_into_a_busy_slot_keeps_the_old_booking(
    api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any]
) -> None:
    old = await api.booked(cut["id"], "2030-01-08T09:00:00Z")
    await api.booked(cut["id"], "2030-01-08T12:00:00Z", email="other@example.com")

    response = await api.reschedule(old["uid"], "2030-01-08T12:00:00Z")

    assert response.status_code == 400
    assert response.json()["error"]["message"] == MSG_TEAM_HOST_BUSY
    assert sandbox.booking(old["uid"]).status is BookingStatus.ACCEPTED


async def test_rescheduling_an_unknown_uid_is_a_500_like_cal_com(api: SandboxApi) -> None:
    response = await api.reschedule("nope", "2030-01-08T12:00:00Z")

    assert response.status_code == 500
    assert response.json()["error"] == {"code": "INTERNAL_SERVER_ERROR", "message": "Internal server error."}


async def test_list_needs_credentials(api: SandboxApi) -> None:
    anonymous = await api.client.get("/v2/bookings", headers={"cal-api-version": "2024-08-13"})
    wrong_key = await api.client.get(
        "/v2/bookings", headers={"cal-api-version": "2024-08-13", "Authorization": "Bearer cal_nope"}
    )

    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["message"] == MSG_NO_AUTH
    assert anonymous.json()["error"]["code"] == "UnauthorizedException"
    assert wrong_key.json()["error"]["message"] == "ApiAuthStrategy - api key - Your api key is not valid"


@pytest.fixture
async def seven_bookings(
    api: SandboxApi, salon: DemoSalon, cut: dict[str, Any], clock: ManualClock
) -> list[str]:
    """Seven bookings over three days and two event types; the second one is cancelled."""
    wash = await api.create_event_type("wash", hosts=[salon.fabian_id], length=30)
    uids = [
        (await api.booked(cut["id"], "2030-01-08T09:00:00Z", name="Anna Schmidt", email="anna@example.com"))[
            "uid"
        ],
        (await api.booked(cut["id"], "2030-01-08T11:00:00Z", name="Ben Braun", email="ben@example.com"))[
            "uid"
        ],
        (await api.booked(wash["id"], "2030-01-08T09:00:00Z", name="Anna Schmidt", email="anna@example.com"))[
            "uid"
        ],
        (await api.booked(cut["id"], "2030-01-09T09:00:00Z", name="Cem Demir", email="cem@example.com"))[
            "uid"
        ],
        (await api.booked(wash["id"], "2030-01-09T10:00:00Z", name="Ben Braun", email="ben@example.com"))[
            "uid"
        ],
        (await api.booked(cut["id"], "2030-01-10T09:00:00Z", name="Anna Schmidt", email="anna@example.com"))[
            "uid"
        ],
        (await api.booked(wash["id"], "2030-01-10T13:00:00Z", name="Dora Ek", email="dora@example.com"))[
            "uid"
        ],
    ]
    await api.cancel(uids[1])
    clock.set(datetime(2030, 1, 9, 12, 0, tzinfo=UTC))  # the first four (Tuesday, Wednesday 10:00) are past
    return uids


async def _uids(api: SandboxApi, **params: Any) -> list[str]:
    response = await api.list_bookings(**params)
    assert response.status_code == 200, response.text
    return [b["uid"] for b in response.json()["data"]]


async def test_list_filters(
    api: SandboxApi, salon: DemoSalon, cut: dict[str, Any], seven_bookings: list[str]
) -> None:
    u = seven_bookings

    assert await _uids(api) == [u[0], u[2], u[1], u[3], u[4], u[5], u[6]]  # by start, then id
    assert await _uids(api, status="upcoming") == [u[5], u[6]]
    assert await _uids(api, status="past") == [u[0], u[2], u[3], u[4]]
    assert await _uids(api, status="cancelled") == [u[1]]
    assert await _uids(api, status="upcoming,cancelled") == [u[1], u[5], u[6]]
    assert await _uids(api, attendeeEmail="anna@example.com") == [u[0], u[2], u[5]]
    assert await _uids(api, attendeeName="Ben Braun") == [u[1], u[4]]
    assert await _uids(api, bookingUid=u[3]) == [u[3]]
    assert await _uids(api, eventTypeId=cut["id"]) == [u[0], u[1], u[3], u[5]]
    assert await _uids(api, eventTypeIds=f"{cut['id']},999") == [u[0], u[1], u[3], u[5]]
    assert await _uids(api, teamId=salon.team_id) == await _uids(api)
    assert await _uids(api, teamId=999) == []
    assert await _uids(api, afterStart="2030-01-09T00:00:00Z", beforeEnd="2030-01-10T10:00:00Z") == [
        u[3],
        u[4],
        u[5],
    ]
    assert await _uids(api, sortStart="desc") == [u[6], u[5], u[4], u[3], u[1], u[0], u[2]]


async def test_a_stylist_sees_only_her_own_bookings(
    api: SandboxApi, sandbox: CalcomSandbox, salon: DemoSalon, seven_bookings: list[str]
) -> None:
    fabian_key = sandbox.issue_api_key(salon.fabian_id)

    response = await api.client.get(
        "/v2/bookings", headers={"Authorization": f"Bearer {fabian_key}", "cal-api-version": "2024-08-13"}
    )

    assert [b["uid"] for b in response.json()["data"]] == [seven_bookings[i] for i in (2, 4, 6)]


async def test_pagination_block(api: SandboxApi, seven_bookings: list[str]) -> None:
    middle = (await api.list_bookings(take=3, skip=3)).json()
    last = (await api.list_bookings(take=3, skip=6)).json()

    assert [b["uid"] for b in middle["data"]] == [seven_bookings[i] for i in (3, 4, 5)]
    assert middle["pagination"] == {
        "totalItems": 7,
        "remainingItems": 1,
        "returnedItems": 3,
        "itemsPerPage": 3,
        "currentPage": 2,
        "totalPages": 3,
        "hasNextPage": True,
        "hasPreviousPage": True,
    }
    assert last["pagination"]["returnedItems"] == 1
    assert last["pagination"]["remainingItems"] == 0
    assert last["pagination"]["currentPage"] == 3
    assert last["pagination"]["hasNextPage"] is False


async def test_take_is_capped_at_250(api: SandboxApi, seven_bookings: list[str]) -> None:
    too_many = await api.list_bookings(take=251)
    default = await api.list_bookings()

    assert too_many.status_code == 400
    assert too_many.json()["error"]["details"]["errors"][0]["property"] == "take"
    assert default.json()["pagination"]["itemsPerPage"] == 100


@pytest.mark.parametrize(
    ("skip", "take", "total", "expected"),
    [
        (0, 100, 0, {"currentPage": 0, "totalPages": 0, "returnedItems": 0, "remainingItems": 0}),
        (0, 10, 10, {"currentPage": 1, "totalPages": 1, "returnedItems": 10, "hasNextPage": False}),
        (20, 10, 15, {"currentPage": 2, "returnedItems": 0, "hasPreviousPage": True, "hasNextPage": False}),
        (5, 10, 30, {"currentPage": 1, "remainingItems": 15, "hasNextPage": True, "returnedItems": 10}),
    ],
)
def test_pagination_math(skip: int, take: int, total: int, expected: dict[str, Any]) -> None:
    result = pagination(skip=skip, take=take, total=total)

    assert {key: result[key] for key in expected} == expected


async def test_collective_booking_busies_every_host(
    api: SandboxApi, sandbox: CalcomSandbox, salon: DemoSalon
) -> None:
    duo = await api.create_event_type("duo", hosts=[salon.emma_id, salon.fabian_id])
    fabian_solo = await api.create_event_type("fabian-solo", hosts=[salon.fabian_id])

    booking = await api.booked(duo["id"], "2030-01-08T09:00:00Z")
    clash = await api.book(fabian_solo["id"], "2030-01-08T09:00:00Z", email="x@example.com")

    # Cal.com names the organizer as the host and lists the other collective hosts among the attendees.
    assert [h["id"] for h in booking["hosts"]] == [salon.emma_id]
    assert [a["email"] for a in booking["attendees"]] == [
        "anna@example.com",
        "fabian.spitzer@salon-demo.example",
    ]
    assert sandbox.booking(booking["uid"]).busy_user_ids == [salon.emma_id, salon.fabian_id]
    assert clash.status_code == 400


async def test_round_robin_picks_a_free_host_and_spreads_the_load(api: SandboxApi, salon: DemoSalon) -> None:
    either = await api.create_event_type(
        "either", hosts=[salon.emma_id, salon.fabian_id], schedulingType="roundRobin"
    )
    emma_solo = await api.create_event_type("emma-solo", hosts=[salon.emma_id])
    await api.booked(emma_solo["id"], "2030-01-08T09:00:00Z")

    while_emma_busy = await api.booked(either["id"], "2030-01-08T09:00:00Z")
    later = await api.booked(either["id"], "2030-01-08T12:00:00Z", email="b@example.com")

    assert while_emma_busy["hosts"][0]["id"] == salon.fabian_id
    assert later["hosts"][0]["id"] == salon.emma_id  # one booking each: host order decides
    third = await api.booked(either["id"], "2030-01-08T14:00:00Z", email="c@example.com")
    assert third["hosts"][0]["id"] == salon.fabian_id  # Emma has two bookings now, Fabian one
