"""Cal.com failing at every step of the saga: never an orphan booking, never a half-finished appointment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from composite_booking.calcom.sandbox import CallKind
from composite_booking.db.models import Appointment, BookingSaga, BookingSagaStep
from tests.bookings.conftest import Salon, accepted, assert_no_overlaps, assert_settled, at

# (what goes wrong on the nth `POST /v2/bookings`, the answer the customer gets)
# (what goes wrong on the nth `POST /v2/bookings`, which one, the answer the customer gets)
CREATE_FAULTS = [
    pytest.param({"status": 400}, 1, 409, id="host-busy-first"),
    pytest.param({"status": 400}, 4, 409, id="host-busy-last"),
    pytest.param({"status": 500}, 2, 502, id="5xx-nothing-made"),
    pytest.param({"status": 500, "after_effect": True}, 3, 201, id="5xx-but-made"),
    pytest.param({"status": 502}, 1, 502, id="gateway-error"),
    pytest.param({"status": 401}, 4, 502, id="auth"),
    pytest.param({"status": 404, "message": "Event type with id 1 not found."}, 2, 502, id="event-type-gone"),
]


@pytest.mark.parametrize(("fault", "nth", "answer"), CREATE_FAULTS)
async def test_a_failing_create(salon: Salon, fault: dict[str, object], nth: int, answer: int) -> None:
    salon.sandbox.faults.fail(CallKind.CREATE_BOOKING, nth=nth, **fault)  # type: ignore[arg-type]

    response = await salon.book("colour", at(10), staff="Emma")

    assert response.status_code == answer, response.text
    assert len(accepted(salon.sandbox)) == (4 if answer == 201 else 0)
    await assert_settled(salon)
    await assert_no_overlaps(salon)


@pytest.mark.parametrize("after_effect", [False, True], ids=["lost-before", "lost-after"])
async def test_a_create_that_times_out_is_looked_up_before_deciding(salon: Salon, after_effect: bool) -> None:
    salon.sandbox.faults.hang(CallKind.CREATE_BOOKING, seconds=5, after_effect=after_effect)

    response = await salon.book("colour", at(10), staff="Emma")

    # The timeout is not a failure: Cal.com is asked. Made → kept; not made → the others are taken back.
    assert response.status_code == (201 if after_effect else 502), response.text
    assert salon.sandbox.faults.calls(CallKind.LIST_BOOKINGS) >= 1
    assert len(accepted(salon.sandbox)) == (4 if after_effect else 0)
    await assert_settled(salon)


async def test_an_outcome_that_cannot_be_looked_up_is_compensated(salon: Salon) -> None:
    salon.sandbox.faults.fail(CallKind.CREATE_BOOKING, nth=2, status=500, after_effect=True)
    salon.sandbox.faults.set_error_rate(1.0, kinds=[CallKind.LIST_BOOKINGS])

    response = await salon.book("colour", at(10), staff="Emma")

    assert response.status_code == 502, response.text
    # The three known bookings are gone; the unknown one stays in doubt until Cal.com answers again.
    assert len(accepted(salon.sandbox)) == 1
    async with salon.session_factory() as session:
        assert (await session.execute(select(BookingSaga.state))).scalars().all() == ["compensating"]

    salon.sandbox.faults.reset()
    report = await salon.recovery().run_once()

    assert report.compensated == 1
    assert accepted(salon.sandbox) == []
    await assert_settled(salon)


async def test_a_failing_compensation_is_finished_by_recovery(salon: Salon) -> None:
    salon.sandbox.faults.fail(CallKind.CREATE_BOOKING, nth=4, status=400)
    salon.sandbox.faults.set_error_rate(1.0, kinds=[CallKind.CANCEL_BOOKING])

    response = await salon.book("colour", at(10), staff="Emma")

    assert response.status_code == 409  # the customer's answer does not wait for the clean-up
    assert len(accepted(salon.sandbox)) == 3
    # Their rows keep holding the time until Cal.com has really let it go.
    refused = await salon.book("cut", at(10), staff="Emma")
    assert refused.status_code == 409

    assert (await salon.recovery().run_once()).still_open == [1]  # Cal.com still failing
    salon.sandbox.faults.reset()
    report = await salon.recovery(later_by=timedelta(minutes=30)).run_once()

    assert report.compensated == 1
    assert accepted(salon.sandbox) == []
    await assert_settled(salon)


@pytest.mark.parametrize("written_by", ["this version", "a version before `part`"])
async def test_a_late_booking_after_an_unknown_outcome_is_cancelled(salon: Salon, written_by: str) -> None:
    """Cal.com had not made it when asked, but the lost request lands afterwards: the recheck finds it.

    Also when the request was sent by the version before held pauses had bookings (no `part` in its
    metadata): a saga in flight across an upgrade leaves no orphan.
    """
    salon.sandbox.faults.hang(CallKind.CREATE_BOOKING, seconds=5)

    response = await salon.book("colour", at(10), staff="Emma")
    assert response.status_code == 502
    async with salon.session_factory() as session:
        step = (
            await session.execute(select(BookingSagaStep).where(BookingSagaStep.uncertain.is_(True)))
        ).scalar_one()
    # The lost request arrives at Cal.com after all, with our metadata.
    metadata = await _metadata_of(salon, step)
    if written_by != "this version":
        del metadata["part"]
    late = salon.sandbox.add_booking(step.event_type_id, step.starts_at, metadata=metadata)
    assert [b.uid for b in accepted(salon.sandbox)] == [late.uid]

    assert (await salon.recovery(later_by=timedelta(minutes=1)).run_once()).rechecked == 0  # not yet due
    report = await salon.recovery(later_by=timedelta(minutes=10)).run_once()

    assert report.rechecked == 1
    assert accepted(salon.sandbox) == []
    await assert_settled(salon)


@pytest.mark.parametrize(
    ("service", "bookings_each", "error_rate", "seed", "hours"),
    [
        ("colour", 4, 0.3, 11, (9, 12)),  # four segments, free pauses
        ("men", 5, 0.2, 5, (9, 13)),  # blocked: three segments and two held pauses, all or none stand
    ],
)
async def test_random_upstream_errors_never_leave_anything_behind(
    salon: Salon, service: str, bookings_each: int, error_rate: float, seed: int, hours: tuple[int, ...]
) -> None:
    kinds = [CallKind.CREATE_BOOKING, CallKind.CANCEL_BOOKING, CallKind.LIST_BOOKINGS]
    salon.sandbox.faults.set_error_rate(error_rate, kinds=kinds, seed=seed)
    answers = []
    for hour in hours:
        for staff in ("Emma", "Fabian", "David"):
            answers.append((await salon.book(service, at(hour), staff=staff)).status_code)
    assert set(answers) <= {201, 502}
    assert 201 in answers
    assert 502 in answers

    salon.sandbox.faults.reset()
    await salon.recovery().run_once()
    await salon.recovery(later_by=timedelta(minutes=30)).run_once()

    assert len(accepted(salon.sandbox)) == bookings_each * answers.count(201)
    await assert_settled(salon)
    await assert_no_overlaps(salon)


async def _metadata_of(salon: Salon, step: BookingSagaStep) -> dict[str, str]:
    """What our create request carried (see the saga): the lost request lands with exactly this."""
    async with salon.session_factory() as session:
        saga = await session.get(BookingSaga, step.saga_id)
        assert saga is not None
        appointment = await session.get(Appointment, saga.appointment_id)
        assert appointment is not None
    return {
        "composite_uid": str(appointment.composite_uid),
        "segment_key": step.segment_key,
        "part": "segment",
        "company_id": str(salon.company_id),
        "chain": str(saga.chain),
    }
