"""The outbox job that e-mails a customer about their booking (confirmation, move, cancellation)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.db.repositories.bookings import BookingRepository
from composite_booking.db.repositories.outbox import ClaimedMessage
from composite_booking.db.repositories.sagas import SagaRepository
from composite_booking.domain.booking.notify import SEND_NOTIFICATION, NotificationKind
from composite_booking.domain.booking.views import BookingRenderer
from composite_booking.domain.statuses import AppointmentStatus
from composite_booking.jobs.outbox import Handler
from composite_booking.notifications import MailDeliveryFailed, MailSender, build_notification

log = logging.getLogger(__name__)

_STATUS_FOR_KIND: dict[str, AppointmentStatus] = {
    "confirmation": AppointmentStatus.CONFIRMED,
    "reschedule": AppointmentStatus.CONFIRMED,
    "cancellation": AppointmentStatus.CANCELLED,
}


def notification_handlers(
    session_factory: async_sessionmaker[AsyncSession],
    sender: MailSender | None,
    *,
    organizer_email: str,
    organizer_name: str | None,
    clock: Callable[[], datetime],
) -> dict[str, Handler]:
    async def send(message: ClaimedMessage) -> None:
        assert message.company_id is not None
        appointment_id = int(message.payload["appointment_id"])
        kind: NotificationKind = message.payload["kind"]
        async with session_factory() as session:
            bookings = BookingRepository(session, message.company_id)
            appointment = await bookings.appointment(appointment_id)
            if appointment is None:
                return
            view = await BookingRenderer(bookings, SagaRepository(session)).notification_view(
                appointment, organizer_email=organizer_email, organizer_name=organizer_name
            )
        if view is None or view.status is not _STATUS_FOR_KIND[kind]:
            log.info(
                "no %s e-mail for appointment %s (no address, or it changed since)", kind, appointment_id
            )
            return
        if kind != "cancellation" and view.sequence != int(message.payload["sequence"]):
            log.info("%s e-mail of appointment %s is out of date; a newer one follows", kind, appointment_id)
            return
        email = build_notification(view, kind=kind, now=clock())
        if sender is None:
            log.info(
                "no SMTP server or folder configured: %s e-mail to %s not sent", kind, view.customer.email
            )
            return
        try:
            await sender.send(email)
        except MailDeliveryFailed as exc:
            if exc.permanent:  # retrying cannot help; the booking itself stands
                log.warning("%s e-mail for appointment %s refused for good: %s", kind, appointment_id, exc)
                return
            raise

    return {SEND_NOTIFICATION: send}
