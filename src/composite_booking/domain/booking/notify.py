"""Customer notifications of a booking, queued in the outbox by the transaction that made the change."""

from __future__ import annotations

from typing import Literal

from composite_booking.db.repositories.bookings import BookingRepository
from composite_booking.db.repositories.outbox import OutboxRepository

SEND_NOTIFICATION = "bookings.notify"
NotificationKind = Literal["confirmation", "reschedule", "cancellation"]


async def enqueue_notification(
    outbox: OutboxRepository,
    bookings: BookingRepository,
    *,
    appointment_id: int,
    kind: NotificationKind,
    sequence: int,
    first_time: bool = False,
) -> None:
    """Once per (appointment, kind, sequence): a repeated request for the same e-mail adds nothing.

    `first_time`: the caller knows this is the only request for it (a confirmation is enqueued by the one
    transition that confirms), so the look for an earlier one is skipped.
    """
    dedupe_key = f"appointment:{appointment_id}:{kind}:{sequence}"
    if not first_time and await bookings.message_done(SEND_NOTIFICATION, dedupe_key):
        return
    await outbox.enqueue(
        SEND_NOTIFICATION,
        {"appointment_id": appointment_id, "kind": kind, "sequence": sequence},
        company_id=bookings.company_id,
        dedupe_key=dedupe_key,
    )
