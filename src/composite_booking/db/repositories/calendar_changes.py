"""What a Cal.com webhook touches: the delivery log and the slot whose booking changed.

The delivery itself names no company: the booking uid leads to the slot, and the slot to its company (as an
API key leads to its company). Everything after that lookup is scoped by that company.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from composite_booking.db.models import Appointment, AppointmentSlot, CalcomWebhookEvent, Service
from composite_booking.domain.segments import PausePolicy


class CalendarChangeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record_delivery(
        self, *, body_sha256: str, trigger: str, booking_uid: str | None, payload: dict[str, Any]
    ) -> int | None:
        """Log a delivery; None when the same body was delivered before (a redelivery)."""
        statement = (
            insert(CalcomWebhookEvent)
            .values(
                body_sha256=body_sha256,
                trigger=trigger,
                booking_uid=booking_uid,
                outcome="received",
                payload=payload,
            )
            .on_conflict_do_nothing(index_elements=["body_sha256"])
            .returning(CalcomWebhookEvent.id)
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def set_outcome(
        self, event_id: int, outcome: str, *, company_id: int | None = None, appointment_id: int | None = None
    ) -> None:
        event = await self._session.get(CalcomWebhookEvent, event_id)
        assert event is not None
        event.outcome = outcome
        event.company_id = company_id
        event.appointment_id = appointment_id
        await self._session.flush()

    async def slot_by_booking_uid(self, booking_uid: str) -> AppointmentSlot | None:
        """The slot and its appointment (with all its slots), locked for the update that follows."""
        statement = (
            select(AppointmentSlot)
            .where(AppointmentSlot.calcom_booking_uid == booking_uid)
            .options(selectinload(AppointmentSlot.appointment).selectinload(Appointment.slots))
            .with_for_update(of=AppointmentSlot)
        )
        return (await self._session.execute(statement)).scalars().first()

    async def pause_policy(self, appointment: Appointment) -> PausePolicy:
        """The pause policy of the appointment's service (scoped by the appointment's company)."""
        policy = (
            await self._session.execute(
                select(Service.pause_bookable_policy).where(
                    Service.company_id == appointment.company_id, Service.id == appointment.service_id
                )
            )
        ).scalar_one()
        return PausePolicy(policy)
