"""`/_sandbox/` control API: off unless asked for, sets latency and error rates, resets, validates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from composite_booking.calcom.sandbox import CalcomSandbox, CallKind, DemoSalon, ManualClock, seed_demo_salon
from composite_booking.calcom.sandbox.standalone import standalone_sandbox

SLOTS_V = {"cal-api-version": "2024-09-04"}
BOOKINGS_V = {"cal-api-version": "2024-08-13"}


class Recorder:
    """An injected sleep that only writes down how long it was asked to sleep."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture
def sleep() -> Recorder:
    return Recorder()


@pytest.fixture
def controlled(clock: ManualClock, sleep: Recorder) -> CalcomSandbox:
    return CalcomSandbox(clock=clock, seed=7, sleep=sleep, control_api=True)


@pytest.fixture
def controlled_salon(controlled: CalcomSandbox) -> DemoSalon:
    return seed_demo_salon(controlled)


@pytest.fixture
async def http(controlled: CalcomSandbox) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=controlled.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://calcom.sandbox") as client:
        yield client


@pytest.fixture
def cut(controlled: CalcomSandbox, controlled_salon: DemoSalon) -> int:
    event_type = controlled.add_event_type(
        controlled_salon.team_id,
        title="Cut",
        slug="cut",
        lengthInMinutes=60,
        schedulingType="collective",
        minimumBookingNotice=0,
        hosts=[{"userId": controlled_salon.emma_id}],
    )
    return event_type.id


async def _slots(http: httpx.AsyncClient, event_type_id: int) -> httpx.Response:
    params = {"eventTypeId": event_type_id, "start": "2030-01-08", "end": "2030-01-08"}
    return await http.get("/v2/slots", params=params, headers=SLOTS_V)


async def _book(http: httpx.AsyncClient, event_type_id: int, start: str) -> httpx.Response:
    body = {
        "eventTypeId": event_type_id,
        "start": start,
        "attendee": {"name": "Anna", "email": "anna@example.com", "timeZone": "Europe/Berlin"},
    }
    return await http.post("/v2/bookings", json=body, headers=BOOKINGS_V)


async def test_without_the_flag_the_paths_are_unknown_routes(
    client: httpx.AsyncClient, sandbox: CalcomSandbox
) -> None:
    response = await client.post("/_sandbox/faults", json={"latency_s": 5})
    reset = await client.post("/_sandbox/reset-faults")

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Cannot POST /_sandbox/faults"
    assert reset.status_code == 404
    assert sandbox.faults.call_counts == {"other": 2}  # plain requests to nowhere, as on Cal.com


async def test_latency_for_one_kind_and_for_all(
    http: httpx.AsyncClient, controlled: CalcomSandbox, sleep: Recorder, cut: int
) -> None:
    for_slots = await http.post("/_sandbox/faults", json={"latency_s": 1.5, "kind": "get_slots"})
    for_all = await http.post("/_sandbox/faults", json={"latency_s": 0.25})

    await _slots(http, cut)
    await http.get("/v2/me")

    assert for_slots.status_code == 200
    assert for_slots.json() == {"status": "success", "data": {"kind": "get_slots", "latency_s": 1.5}}
    assert for_all.json()["data"] == {"kind": None, "latency_s": 0.25}
    assert sleep.slept == [1.5, 0.25]


async def test_error_rate_for_one_kind_with_a_status(
    http: httpx.AsyncClient, controlled: CalcomSandbox, cut: int
) -> None:
    response = await http.post(
        "/_sandbox/faults", json={"error_rate": 1, "kind": "create_booking", "status": 503}
    )

    slots = await _slots(http, cut)
    booking = await _book(http, cut, "2030-01-08T09:00:00Z")

    assert response.json()["data"] == {"kind": "create_booking", "error_rate": 1.0, "status": 503}
    assert slots.status_code == 200
    assert booking.status_code == 503
    assert controlled.bookings == []


async def test_error_rate_defaults_to_500_on_every_kind(http: httpx.AsyncClient, cut: int) -> None:
    response = await http.post("/_sandbox/faults", json={"error_rate": 1.0})

    slots = await _slots(http, cut)

    assert response.json()["data"] == {"kind": None, "error_rate": 1.0, "status": 500}
    assert slots.status_code == 500
    assert slots.json()["error"]["code"] == "INTERNAL_SERVER_ERROR"


async def test_control_requests_skip_the_faults_they_set(
    http: httpx.AsyncClient, controlled: CalcomSandbox, sleep: Recorder, cut: int
) -> None:
    await http.post("/_sandbox/faults", json={"error_rate": 1.0, "latency_s": 2})

    again = await http.post("/_sandbox/faults", json={"latency_s": 3})
    reset = await http.post("/_sandbox/reset-faults")
    after = await _slots(http, cut)

    assert again.status_code == 200  # neither failed nor delayed nor counted
    assert reset.json() == {"status": "success", "data": {"reset": True}}
    assert after.status_code == 200
    assert sleep.slept == []
    assert controlled.faults.call_counts == {"get_slots": 1}


async def test_reset_clears_rules_and_counters(
    http: httpx.AsyncClient, controlled: CalcomSandbox, sleep: Recorder, cut: int
) -> None:
    await http.post("/_sandbox/faults", json={"latency_s": 0.5, "error_rate": 1.0, "status": 429})
    throttled = await _slots(http, cut)

    await http.post("/_sandbox/reset-faults")
    fine = await _book(http, cut, "2030-01-08T09:00:00Z")

    assert throttled.status_code == 429
    assert fine.status_code == 201
    assert sleep.slept == [0.5]
    assert controlled.faults.calls(CallKind.GET_SLOTS) == 0
    assert controlled.faults.calls(CallKind.CREATE_BOOKING) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Nothing to set: give latency_s and/or error_rate."),
        ({"latency_s": -1}, "latency_s must be at least 0."),
        ({"latency_s": True}, "latency_s must be a finite number."),
        ({"latency_s": "1"}, "latency_s must be a finite number."),
        ({"error_rate": 1.5}, "error_rate must be within [0, 1]."),
        ({"error_rate": 0.5, "status": 200}, "status must be an integer HTTP error status (400-599)."),
        ({"latency_s": 1, "status": 503}, "status is the status of injected errors, so it needs error_rate."),
        ({"latency_s": 1, "kind": "get_everything"}, "kind must be one of: "),
        (
            {"latency_s": 1, "latency": 2},
            "Unknown fields: latency. Allowed: latency_s, kind, error_rate, status.",
        ),
        ([1, 2], "The body must be a JSON object."),
    ],
)
async def test_bad_bodies_are_refused_and_change_nothing(
    http: httpx.AsyncClient, controlled: CalcomSandbox, sleep: Recorder, cut: int, body: Any, message: str
) -> None:
    response = await http.post("/_sandbox/faults", json=body)
    slots = await _slots(http, cut)

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(message)
    assert slots.status_code == 200
    assert sleep.slept == []


async def test_invalid_json_and_unknown_control_paths(http: httpx.AsyncClient) -> None:
    garbled = await http.post(
        "/_sandbox/faults", content=b"{latency", headers={"content-type": "application/json"}
    )
    wrong_method = await http.get("/_sandbox/faults")
    unknown = await http.post("/_sandbox/nothing")

    assert garbled.status_code == 400
    assert garbled.json()["error"]["message"] == "The body is not valid JSON."
    assert wrong_method.status_code == 404
    assert wrong_method.json()["error"]["message"] == "Cannot GET /_sandbox/faults"
    assert unknown.status_code == 404


async def test_the_standalone_sandbox_has_the_control_api() -> None:
    sandbox = standalone_sandbox(None)
    transport = httpx.ASGITransport(app=sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://calcom.sandbox") as client:
        response = await client.post("/_sandbox/faults", json={"latency_s": 0.1, "kind": "get_me"})

    assert response.status_code == 200
