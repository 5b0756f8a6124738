"""A saga stopped between any two steps (a crash) is finished or compensated by recovery, from its log."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from composite_booking.calcom.sandbox import CallKind
from composite_booking.db.models import Appointment, BookingSaga, BookingSagaStep
from composite_booking.domain.booking import (
    BookingRequest,
    Checkpoint,
    CustomerDetails,
    RescheduleRequest,
    SagaState,
    StepState,
    idempotency_ref,
)
from composite_booking.domain.errors import BookingOutcomePending, IdempotencyKeyInFlight, ServiceError
from tests.bookings.conftest import Salon, accepted, assert_no_overlaps, assert_settled, at, local


class Crash(Exception):
    """The process dies here: nothing after this point runs (no compensation, no cleanup)."""


def crash_at(point: Checkpoint, nth: int = 1):  # type: ignore[no-untyped-def]
    seen: Counter[Checkpoint] = Counter()

    async def checkpoint(reached: Checkpoint, _: int | None) -> None:
        seen[reached] += 1
        if reached is point and seen[reached] == nth:
            raise Crash(f"{point.value} #{nth}")

    return checkpoint


def request(salon: Salon, hour: int, staff: str = "Emma") -> BookingRequest:
    return BookingRequest(
        service_id=salon.services["colour"],
        starts_at=at(hour),
        customer=CustomerDetails(name="Eva", email="eva@example.org"),
        staff_id=salon.staff[staff],
    )


async def saga_states(salon: Salon) -> list[str]:
    async with salon.session_factory() as session:
        return list((await session.execute(select(BookingSaga.state).order_by(BookingSaga.id))).scalars())


# (where, which occurrence, the final state recovery must reach). Where every Cal.com outcome is on
# record (or no call was made yet) recovery finishes the booking; where a step was cut off mid-call and
# Cal.com has no booking for it, it cannot tell "never sent" from "not landed yet" and compensates.
CRASHES = [
    (Checkpoint.CLAIMED, 1, {"confirmed"}),
    (Checkpoint.INTENT, 1, {"compensated"}),
    (Checkpoint.INTENT, 4, {"confirmed", "compensated"}),
    (Checkpoint.CALLED, 1, {"confirmed", "compensated"}),
    (Checkpoint.CALLED, 3, {"confirmed", "compensated"}),
    (Checkpoint.RECORDED, 2, {"confirmed", "compensated"}),
    (Checkpoint.RECORDED, 4, {"confirmed"}),
    (Checkpoint.DECIDED, 1, {"confirmed"}),
]


@pytest.mark.parametrize(("point", "nth", "final"), CRASHES, ids=[f"{p.value}-{n}" for p, n, _ in CRASHES])
async def test_a_booking_crashed_anywhere_is_finished_by_recovery(
    salon: Salon, point: Checkpoint, nth: int, final: set[str]
) -> None:
    crashing = salon.bookings_service(checkpoint=crash_at(point, nth))
    key = idempotency_ref("crash-1", "bookings.create", {"any": "body"})

    with pytest.raises(Crash):
        await crashing.book(salon.company_id, request(salon, 10), idempotency=key)

    assert await saga_states(salon) == ["booking"]
    # A retry while nobody drives the saga yet: still in flight.
    with pytest.raises(IdempotencyKeyInFlight):
        await salon.bookings_service().book(salon.company_id, request(salon, 10), idempotency=key)
    # Recovery leaves sagas alone while their lease runs...
    assert (await salon.recovery(later_by=timedelta(seconds=0)).run_once()).taken_over == 0

    report = await salon.recovery().run_once()

    assert (report.taken_over, report.still_open) == (1, [])
    [state] = await saga_states(salon)
    assert state in final
    assert len(accepted(salon.sandbox)) == (4 if state == "confirmed" else 0)
    await assert_settled(salon)
    await assert_no_overlaps(salon)
    # The stored answer is the outcome, whichever it was.
    retry = salon.bookings_service().book(salon.company_id, request(salon, 10), idempotency=key)
    if state == "confirmed":
        replay = await retry
        assert (replay.status_code, replay.replayed, replay.body["status"]) == (201, True, "confirmed")
    else:
        with pytest.raises(ServiceError) as failed:
            await retry
        assert failed.value.status == 502


async def test_a_batch_s_outcomes_are_recorded_together_after_its_last_call(salon: Salon) -> None:
    called: list[int | None] = []

    async def checkpoint(point: Checkpoint, step_id: int | None) -> None:
        if point is Checkpoint.CALLED:
            called.append(step_id)
            if len(called) == 4:
                # Time for the first three outcomes to be written, were they written one by one; then the
                # process dies before the batch's outcomes are recorded.
                await asyncio.sleep(0.2)
                raise Crash("after the last call")

    crashing = salon.bookings_service(checkpoint=checkpoint)

    with pytest.raises(Crash):
        await crashing.book(salon.company_id, request(salon, 10))

    async with salon.session_factory() as session:
        states = (await session.execute(select(BookingSagaStep.state))).scalars().all()
    assert states == [StepState.CALLING] * 4
    assert len(accepted(salon.sandbox)) == 4
    # Recovery learns from Cal.com that all four bookings were made.
    report = await salon.recovery().run_once()

    assert (report.taken_over, report.still_open) == (1, [])
    assert await saga_states(salon) == ["confirmed"]
    await assert_settled(salon)


@pytest.mark.parametrize("nth", [1, 3])
async def test_a_crash_during_compensation_is_compensated_by_recovery(salon: Salon, nth: int) -> None:
    salon.sandbox.faults.fail(CallKind.CREATE_BOOKING, nth=2, status=400)
    # Four intents to book, then the intents to take back the three made: crash on one of those.
    crashing = salon.bookings_service(checkpoint=crash_at(Checkpoint.INTENT, 4 + nth))

    with pytest.raises(Crash):
        await crashing.book(salon.company_id, request(salon, 10))
    assert await saga_states(salon) == ["compensating"]

    report = await salon.recovery().run_once()

    assert report.compensated == 1
    assert accepted(salon.sandbox) == []
    async with salon.session_factory() as session:
        assert (await session.execute(select(Appointment.status))).scalars().all() == ["failed"]
    await assert_settled(salon)


RESCHEDULE_CRASHES = [
    (Checkpoint.CLAIMED, 1, 14),
    (Checkpoint.INTENT, 2, 14),
    (Checkpoint.CALLED, 1, 14),
    (Checkpoint.DECIDED, 1, 14),
    (Checkpoint.INTENT, 5, 14),  # cancelling the first of the old chain's bookings
    (Checkpoint.CALLED, 1, 10),  # 10: half an hour later, so segments move onto each other
    (Checkpoint.RECORDED, 3, 10),
    (Checkpoint.DECIDED, 1, 10),
]


@pytest.mark.parametrize(
    ("point", "nth", "new_hour"),
    RESCHEDULE_CRASHES,
    ids=[f"{'overlapping' if h == 10 else 'elsewhere'}-{p.value}-{n}" for p, n, h in RESCHEDULE_CRASHES],
)
async def test_a_reschedule_crashed_anywhere_is_finished_by_recovery(
    salon: Salon, point: Checkpoint, nth: int, new_hour: int
) -> None:
    booking = await salon.bookings_service().book(salon.company_id, request(salon, 9))
    appointment_id = booking.body["id"]
    crashing = salon.bookings_service(checkpoint=crash_at(point, nth))
    new_start = at(new_hour) if new_hour == 14 else at(9, 30)

    try:
        await crashing.reschedule(salon.company_id, appointment_id, RescheduleRequest(starts_at=new_start))
    except Crash:
        await salon.recovery().run_once()
    else:  # the overlapping move has fewer steps: not every crash point exists
        assert point is Checkpoint.INTENT

    await assert_settled(salon)
    await assert_no_overlaps(salon)
    after = (await salon.client.get(f"/v1/bookings/{appointment_id}")).json()
    assert after["status"] == "confirmed"
    # Either the whole chain moved, or it stands exactly where it stood: never a mix.
    shift = new_start - at(9) if after["reschedule_count"] == 1 else timedelta(0)
    assert [s["starts_at"] for s in after["segments"]] == [
        (local(s["starts_at"]) + shift).isoformat() for s in booking.body["segments"]
    ]
    assert {s["calcom_booking_uid"] for s in after["segments"]} == {b.uid for b in accepted(salon.sandbox)}
    if point in (Checkpoint.CLAIMED, Checkpoint.DECIDED):
        assert after["reschedule_count"] == 1  # nothing uncertain: recovery finishes the move


async def test_a_slow_driver_is_fenced_out_once_recovery_took_over(salon: Salon) -> None:
    recovery = salon.recovery()
    takeover: list[asyncio.Task[int]] = []

    async def take_over() -> int:
        # The other steps' short transactions may hold the saga row for a moment (SKIP LOCKED).
        for _ in range(100):
            taken = (await recovery.run_once()).taken_over
            if taken:
                return taken
            await asyncio.sleep(0.01)
        return 0

    async def checkpoint(point: Checkpoint, _: int | None) -> None:
        # The first Cal.com answer arrives after the lease ran out: recovery takes the saga meanwhile (in a
        # process of its own: the slow driver stopping must not stop it).
        if point is Checkpoint.CALLED and not takeover:
            takeover.append(asyncio.create_task(take_over()))
            await asyncio.shield(takeover[0])

    slow = salon.bookings_service(checkpoint=checkpoint)
    with pytest.raises(BookingOutcomePending):
        await slow.book(salon.company_id, request(salon, 10))

    assert await takeover[0] == 1
    # Recovery found the slow driver's bookings (normally: all four), or compensated a step still in the
    # air; then its late-booking check, a while later, cancels anything that landed after all.
    await salon.recovery(later_by=timedelta(minutes=30)).run_once()
    [state] = await saga_states(salon)
    assert state in (SagaState.CONFIRMED, SagaState.COMPENSATED)
    assert len(accepted(salon.sandbox)) == (4 if state == SagaState.CONFIRMED else 0)
    await assert_settled(salon)
