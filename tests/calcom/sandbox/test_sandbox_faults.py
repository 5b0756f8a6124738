"""Faults: call counters, latency, error rate, failing the nth call (before or after its effect), hangs."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from composite_booking.calcom.sandbox import (
    MSG_TEAM_HOST_BUSY,
    CalcomSandbox,
    CallKind,
    DemoSalon,
    ManualClock,
    seed_demo_salon,
)

if TYPE_CHECKING:
    from conftest import SandboxApi


@pytest.fixture
async def cut(api: SandboxApi, salon: DemoSalon) -> dict[str, Any]:
    return await api.create_event_type("cut", hosts=[salon.emma_id])


async def test_calls_are_counted_per_kind(
    api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any]
) -> None:
    await api.slots(cut["id"], "2030-01-08", "2030-01-08")
    await api.slots(cut["id"], "2030-01-08", "2030-01-08")
    await api.book(cut["id"], "2030-01-08T09:00:00Z")
    await api.book(cut["id"], "2030-01-08T09:00:00Z")  # refused, still a call
    await api.client.get("/v2/nothing-here")

    assert sandbox.faults.calls(CallKind.GET_SLOTS) == 2
    assert sandbox.faults.calls("create_booking") == 2
    assert sandbox.faults.calls(CallKind.CREATE_EVENT_TYPE) == 1
    assert sandbox.faults.call_counts["other"] == 1


async def test_latency_sleeps_before_handling(clock: ManualClock) -> None:
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    sandbox = CalcomSandbox(clock=clock, sleep=record)
    salon = seed_demo_salon(sandbox)
    sandbox.faults.set_latency(0.2)
    sandbox.faults.set_latency(1.5, CallKind.GET_SLOTS)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app), base_url="http://c"
    ) as client:
        await client.get("/v2/me", headers={"Authorization": f"Bearer {salon.api_key}"})
        await client.get("/v2/slots", headers={"cal-api-version": "2024-09-04"})

    assert slept == [0.2, 1.5]


async def _statuses(sandbox: CalcomSandbox, salon: DemoSalon, count: int) -> list[int]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app), base_url="http://c"
    ) as client:
        return [
            (await client.get("/v2/me", headers={"Authorization": f"Bearer {salon.api_key}"})).status_code
            for _ in range(count)
        ]


async def test_error_rate_is_seeded_and_repeatable(clock: ManualClock) -> None:
    runs = []
    for _ in range(2):
        sandbox = CalcomSandbox(clock=clock, seed=11)
        salon = seed_demo_salon(sandbox)
        sandbox.faults.set_error_rate(0.5)
        runs.append(await _statuses(sandbox, salon, 20))

    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 500}


async def test_error_rate_can_target_kinds(
    api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any]
) -> None:
    sandbox.faults.set_error_rate(1.0, status=503, kinds=[CallKind.CREATE_BOOKING])

    slots = await api.slots(cut["id"], "2030-01-08", "2030-01-08")
    booking = await api.book(cut["id"], "2030-01-08T09:00:00Z")

    assert slots.status_code == 200
    assert booking.status_code == 503
    assert booking.headers["content-type"].startswith("text/plain")  # a load balancer, not Nest, answers
    assert booking.text == "error code: 503"
    assert sandbox.bookings == []


async def test_fail_the_nth_call(api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any]) -> None:
    sandbox.faults.fail(CallKind.CREATE_BOOKING, nth=2)

    first = await api.book(cut["id"], "2030-01-08T09:00:00Z")
    second = await api.book(cut["id"], "2030-01-08T11:00:00Z")
    third = await api.book(cut["id"], "2030-01-08T11:00:00Z")

    assert [first.status_code, second.status_code, third.status_code] == [201, 500, 201]
    assert second.json()["error"] == {"code": "INTERNAL_SERVER_ERROR", "message": "Internal server error."}
    assert len(sandbox.bookings) == 2  # the failed call changed nothing


async def test_injected_400_defaults_to_the_host_busy_message(
    api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any]
) -> None:
    sandbox.faults.fail(CallKind.CREATE_BOOKING, status=400)
    sandbox.faults.fail(CallKind.CANCEL_BOOKING, status=409, message="Conflict on purpose")

    busy = await api.book(cut["id"], "2030-01-08T09:00:00Z")
    conflict = await api.cancel("whatever")

    assert busy.status_code == 400
    assert busy.json()["error"]["message"] == MSG_TEAM_HOST_BUSY
    assert busy.json()["error"]["code"] == "BadRequestException"
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "ConflictException"
    assert conflict.json()["error"]["message"] == "Conflict on purpose"


async def test_failure_after_the_effect_loses_only_the_response(
    api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any]
) -> None:
    delivered: list[object] = []

    async def inbox(outgoing: object) -> None:
        delivered.append(outgoing)

    sandbox.set_webhook_sender(inbox)
    await api.client.post(
        "/v2/webhooks",
        json={"subscriberUrl": "https://app.example/hook", "active": True, "triggers": ["BOOKING_CREATED"]},
        headers=api.auth,
    )
    sandbox.faults.fail(CallKind.CREATE_BOOKING, status=500, after_effect=True)

    response = await api.book(cut["id"], "2030-01-08T09:00:00Z", metadata={"compositeUid": "c-lost"})
    await sandbox.flush_webhooks()

    assert response.status_code == 500
    [booking] = sandbox.bookings
    assert booking.metadata == {"compositeUid": "c-lost"}
    assert len(delivered) == 1  # Cal.com made the booking, so its webhook still goes out
    found = await api.list_bookings(status="upcoming")
    assert [b["metadata"] for b in found.json()["data"]] == [{"compositeUid": "c-lost"}]


async def test_failing_cancel_after_effect(
    api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any]
) -> None:
    booking = await api.booked(cut["id"], "2030-01-08T09:00:00Z")
    sandbox.faults.fail(CallKind.CANCEL_BOOKING, status=502, after_effect=True)

    lost = await api.cancel(booking["uid"])
    retried = await api.cancel(booking["uid"])

    assert lost.status_code == 502
    assert retried.status_code == 400
    assert retried.json()["error"]["message"] == "This booking has already been cancelled."


async def test_hang_before_the_effect(api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any]) -> None:
    sandbox.faults.hang(CallKind.CREATE_BOOKING)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(api.book(cut["id"], "2030-01-08T09:00:00Z"), timeout=0.05)
    after = await api.book(cut["id"], "2030-01-08T09:00:00Z")

    assert after.status_code == 201  # the hang was for one call; the hung one never booked
    assert len(sandbox.bookings) == 1


async def test_hang_after_the_effect(api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any]) -> None:
    sandbox.faults.hang(CallKind.RESCHEDULE_BOOKING, after_effect=True)
    booking = await api.booked(cut["id"], "2030-01-08T09:00:00Z")

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(api.reschedule(booking["uid"], "2030-01-08T12:00:00Z"), timeout=0.05)

    assert sandbox.booking(booking["uid"]).rescheduled_to_uid is not None


async def test_reset_clears_rules_and_counters(
    api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any]
) -> None:
    sandbox.faults.set_error_rate(1.0)
    sandbox.faults.fail(CallKind.GET_SLOTS)
    sandbox.faults.reset()

    response = await api.slots(cut["id"], "2030-01-08", "2030-01-08")

    assert response.status_code == 200
    assert sandbox.faults.calls(CallKind.GET_SLOTS) == 1


def test_rules_are_checked() -> None:
    sandbox = CalcomSandbox()

    with pytest.raises(ValueError, match="nth"):
        sandbox.faults.fail(CallKind.GET_SLOTS, nth=0)
    with pytest.raises(ValueError, match="probability"):
        sandbox.faults.set_error_rate(1.5)
    with pytest.raises(ValueError, match="no_such_kind"):
        sandbox.faults.fail("no_such_kind")
