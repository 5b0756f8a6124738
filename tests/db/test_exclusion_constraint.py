"""PostgreSQL is the arbiter: two active slots of one staff member never overlap."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from composite_booking.db.errors import is_booking_race, is_staff_overlap
from composite_booking.db.models import AppointmentSlot
from tests.factories import SlotSpec, make_appointment, make_world

T0 = datetime(2030, 5, 7, 8, 0, tzinfo=UTC)


async def make_appointment_for_two(
    session_factory: async_sessionmaker[AsyncSession],
) -> tuple[int, int, list[int]]:
    """A company with two staff members and one appointment (without slots) to hang slots on."""
    world = await make_world(session_factory)
    appointment_id = await make_appointment(
        session_factory, world, [SlotSpec("A", world.staff_ids[1], T0 + timedelta(days=30), 30)]
    )
    return world.company_id, appointment_id, world.staff_ids


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
    company_id, appointment_id, (emma, _) = await make_appointment_for_two(session_factory)
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
    company_id, appointment_id, (emma, _) = await make_appointment_for_two(session_factory)

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
    company_id, appointment_id, (emma, fabian) = await make_appointment_for_two(session_factory)
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
