"""Appointments and their slots, scoped by company."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from composite_booking.db.models import Appointment, AppointmentSlot


class AppointmentRepository:
    def __init__(self, session: AsyncSession, company_id: int) -> None:
        self._session = session
        self.company_id = company_id

    async def get(self, appointment_id: int, *, for_update: bool = False) -> Appointment | None:
        """The appointment with its slots; `for_update` locks it against concurrent state changes."""
        statement = (
            select(Appointment)
            .where(Appointment.company_id == self.company_id, Appointment.id == appointment_id)
            .options(selectinload(Appointment.slots))
            .execution_options(populate_existing=True)
        )
        if for_update:
            statement = statement.with_for_update(of=Appointment)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def set_slot_states(self, slot_ids: Sequence[int], *, status: str, active: bool) -> None:
        if slot_ids:
            await self._session.execute(
                update(AppointmentSlot)
                .where(AppointmentSlot.company_id == self.company_id, AppointmentSlot.id.in_(slot_ids))
                .values(status=status, active=active)
            )
