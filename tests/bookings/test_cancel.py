"""Cancelling: every segment in Cal.com, and never `cancelled` while a segment still stands."""

from __future__ import annotations

from sqlalchemy import select

from composite_booking.calcom.sandbox import BookingStatus, CallKind
from composite_booking.db.models import OutboxMessage
from composite_booking.domain.booking.notify import SEND_NOTIFICATION
from composite_booking.jobs.outbox import OutboxWorker
from tests.bookings.conftest import Salon, accepted, assert_settled, at


async def notifications(salon: Salon) -> list[tuple[str, int]]:
    async with salon.session_factory() as session:
        rows = await session.execute(
            select(OutboxMessage).where(OutboxMessage.kind == SEND_NOTIFICATION).order_by(OutboxMessage.id)
        )
        return [(m.payload["kind"], m.payload["sequence"]) for m in rows.scalars()]


async def test_cancel_cancels_every_segment(salon: Salon) -> None:
    booking = await salon.booked("men", at(9), staff="Emma")

    response = await salon.client.post(f"/v1/bookings/{booking['id']}/cancel", json={"reason": "sick"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "cancelled"
    assert [s["status"] for s in body["segments"]] == ["cancelled"] * 3
    assert accepted(salon.sandbox) == []
    assert {
        salon.sandbox.booking(s["calcom_booking_uid"]).cancellation_reason for s in booking["segments"]
    } == {"sick"}
    assert await notifications(salon) == [("confirmation", 0), ("cancellation", 1)]
    # The time is free again, and a second cancel changes nothing.
    await salon.booked("men", at(9), staff="Emma")
    again = await salon.client.post(f"/v1/bookings/{booking['id']}/cancel")
    assert again.status_code == 200
    assert again.json()["status"] == "cancelled"
    await assert_settled(salon)


async def test_a_segment_that_cannot_be_cancelled_keeps_it_pending_until_the_worker_succeeds(
    salon: Salon,
) -> None:
    booking = await salon.booked("colour", at(10), staff="Emma")
    salon.sandbox.faults.fail(CallKind.CANCEL_BOOKING, nth=2, status=400, message="Booking is locked")

    response = await salon.client.post(f"/v1/bookings/{booking['id']}/cancel")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "cancellation_pending"
    standing = [s for s in body["segments"] if s["status"] == "cancelling"]
    assert len(standing) == 1
    assert [b.uid for b in accepted(salon.sandbox)] == [standing[0]["calcom_booking_uid"]]
    assert ("cancellation", 1) not in await notifications(salon)

    worker: OutboxWorker = salon.app.state.outbox_worker
    await worker.run_once()

    after = (await salon.client.get(f"/v1/bookings/{booking['id']}")).json()
    assert after["status"] == "cancelled"
    assert accepted(salon.sandbox) == []
    assert {salon.sandbox.booking(s["calcom_booking_uid"]).status for s in booking["segments"]} == {
        BookingStatus.CANCELLED
    }
    assert ("cancellation", 1) in await notifications(salon)
    await assert_settled(salon)


async def test_unknown_booking_is_404(salon: Salon) -> None:
    assert (await salon.client.post("/v1/bookings/424242/cancel")).status_code == 404
