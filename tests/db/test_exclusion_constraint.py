"""PostgreSQL is the arbiter: two active slots of one staff member never overlap."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from composite_booking.db.errors import is_booking_race, is_staff_overlap
from composite_booking.db.models import (
    Appointment,
    AppointmentSlot,
    Branch,
    Company,
    Customer,
    Service,
    Staff,
)

T0 = datetime(2030, 5, 7, 8, 0, tzinfo=UTC)


async def make_appointment(session_factory: async_sessionmaker[AsyncSession]) -> tuple[int, int, list[int]]:
    """A company with two staff members and one appointment to hang slots on."""
    async with session_factory() as session, session.begin():
        company = Company(name="Arbiter")
        session.add(company)
        await session.flush()
        branch = Branch(company_id=company.id, name="B", timezone="Europe/Berlin")
        session.add(branch)
        await session.flush()
        staff = [Staff(company_id=company.id, branch_id=branch.id, name=n) for n in ("Emma", "Fabian")]
        customer = Customer(company_id=company.id, name="Kim")
        service = Service(
            company_id=company.id,
            branch_id=branch.id,
            name="Cut",
            composite=False,
            segments=[{"key": "A", "name": "Cut", "duration_min": 30}],
            pause_bookable_policy="free",
            reschedule_policy={},
        )
        session.add_all([*staff, customer, service])
        await session.flush()
        appointment = Appointment(
            company_id=company.id,
            branch_id=branch.id,
            composite_uid=uuid.uuid4(),
            status="pending",
            source="api",
            confirmation_code="ABC123",
            customer_id=customer.id,
            service_id=service.id,
            starts_at=T0,
            ends_at=T0 + timedelta(hours=3),
            timezone="Europe/Berlin",
        )
        session.add(appointment)
        await session.flush()
        return company.id, appointment.id, [s.id for s in staff]


_position = iter(range(1, 1_000_000))


def slot_values(
    company_id: int, appointment_id: int, staff_id: int, start_min: int, end_min: int
) -> dict[str, object]:
    return {
        "company_id": company_id,
        "appointment_id": appointment_id,
        "kind": "segment",
        "position": next(_position),
        "segment_key": "A",
        "staff_id": staff_id,
        "starts_at": T0 + timedelta(minutes=start_min),
        "ends_at": T0 + timedelta(minutes=end_min),
        "status": "held",
    }


INSERT = text(
    "INSERT INTO appointment_slots (company_id, appointment_id, kind, position, segment_key, staff_id, "
    "starts_at, ends_at, status) VALUES (:company_id, :appointment_id, :kind, :position, :segment_key, "
    ":staff_id, :starts_at, :ends_at, :status)"
)


async def count_slots(engine: AsyncEngine, staff_id: int) -> int:
    async with engine.connect() as connection:
        statement = (
            select(func.count()).select_from(AppointmentSlot).where(AppointmentSlot.staff_id == staff_id)
        )
        return int((await connection.execute(statement)).scalar_one())


async def test_two_connections_at_once_exactly_one_row(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    company_id, appointment_id, (emma, _) = await make_appointment(session_factory)
    first = await db.connect()
    second = await db.connect()
    try:
        await first.begin()
        await first.execute(INSERT, slot_values(company_id, appointment_id, emma, 0, 30))
        # The second writer overlaps the first's uncommitted row: PostgreSQL makes it wait for the outcome.
        await second.begin()
        waiting = asyncio.create_task(
            second.execute(INSERT, slot_values(company_id, appointment_id, emma, 15, 45))
        )
        await asyncio.sleep(0.2)
        assert not waiting.done(), "the second insert should wait on the first transaction"
        await first.commit()
        with pytest.raises(DBAPIError) as refused:
            await waiting
        assert is_staff_overlap(refused.value)
        assert is_booking_race(refused.value)
        await second.rollback()
    finally:
        await first.close()
        await second.close()
    assert await count_slots(db, emma) == 1


async def test_many_concurrent_overlapping_inserts_leave_one(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    company_id, appointment_id, (emma, _) = await make_appointment(session_factory)

    async def attempt(offset: int) -> DBAPIError | None:
        try:
            async with db.begin() as connection:
                await connection.execute(
                    INSERT, slot_values(company_id, appointment_id, emma, offset, offset + 30)
                )
        except DBAPIError as exc:
            return exc
        return None

    results = await asyncio.gather(*(attempt(offset) for offset in range(0, 20, 2)))
    refusals = [r for r in results if r is not None]
    assert len(refusals) == len(results) - 1
    assert all(is_staff_overlap(r) for r in refusals)
    assert await count_slots(db, emma) == 1


async def test_adjacent_other_staff_and_inactive_rows_do_not_conflict(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    company_id, appointment_id, (emma, fabian) = await make_appointment(session_factory)
    async with db.begin() as connection:
        await connection.execute(INSERT, slot_values(company_id, appointment_id, emma, 0, 30))
        await connection.execute(INSERT, slot_values(company_id, appointment_id, emma, 30, 60))  # adjacent
        await connection.execute(
            INSERT, slot_values(company_id, appointment_id, fabian, 0, 60)
        )  # other staff
    async with db.begin() as connection:
        await connection.execute(
            text("UPDATE appointment_slots SET active = false WHERE staff_id = :s"), {"s": emma}
        )
        await connection.execute(INSERT, slot_values(company_id, appointment_id, emma, 10, 50))
    assert await count_slots(db, emma) == 3
    with pytest.raises(DBAPIError) as refused:
        async with db.begin() as connection:
            await connection.execute(INSERT, slot_values(company_id, appointment_id, emma, 49, 55))
    assert is_staff_overlap(refused.value)
