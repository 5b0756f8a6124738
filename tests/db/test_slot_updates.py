"""Slot writes that give each row its own values (one statement for a whole batch) stay within the company."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.db.models import AppointmentSlot
from composite_booking.db.repositories.bookings import BookingRepository
from tests.factories import SlotSpec, make_appointment, make_world

T0 = datetime(2030, 5, 7, 8, 0, tzinfo=UTC)


async def slot_ids(session_factory: async_sessionmaker[AsyncSession], appointment_id: int) -> list[int]:
    async with session_factory() as session:
        statement = (
            select(AppointmentSlot.id)
            .where(AppointmentSlot.appointment_id == appointment_id)
            .order_by(AppointmentSlot.position)
        )
        return list((await session.execute(statement)).scalars())


async def test_each_slot_gets_its_own_values_and_another_company_s_slot_none(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    ours = await make_world(session_factory)
    theirs = await make_world(session_factory)
    held = [SlotSpec("A", ours.staff_ids[0], T0, 30, status="held"), SlotSpec("B", ours.staff_ids[1], T0, 30)]
    first, second = await slot_ids(session_factory, await make_appointment(session_factory, ours, held))
    [foreign] = await slot_ids(
        session_factory,
        await make_appointment(
            session_factory, theirs, [SlotSpec("A", theirs.staff_ids[0], T0, 30, status="held")]
        ),
    )

    async with session_factory() as session, session.begin():
        await BookingRepository(session, ours.company_id).update_each_slot(
            [
                {"id": first, "calcom_booking_uid": "uid-1", "status": "booked"},
                {"id": second, "calcom_booking_uid": "uid-2", "status": "booked"},
                {"id": foreign, "calcom_booking_uid": "uid-3", "status": "booked"},
            ]
        )

    async with session_factory() as session:
        rows = await session.execute(
            select(AppointmentSlot.id, AppointmentSlot.calcom_booking_uid, AppointmentSlot.status).order_by(
                AppointmentSlot.id
            )
        )
        assert sorted(tuple(row) for row in rows) == sorted(
            [(first, "uid-1", "booked"), (second, "uid-2", "booked"), (foreign, None, "held")]
        )
