"""Rows for tests that need appointments before the booking API makes them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.db.models import (
    Appointment,
    AppointmentSlot,
    Branch,
    Company,
    Customer,
    Service,
    Staff,
)


@dataclass(frozen=True)
class SlotSpec:
    segment_key: str
    staff_id: int
    start: datetime
    minutes: int
    calcom_booking_uid: str | None = None
    kind: str = "segment"
    status: str = "booked"


@dataclass(frozen=True)
class World:
    company_id: int
    branch_id: int
    staff_ids: list[int]
    customer_id: int
    service_id: int


async def make_world(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    company_id: int | None = None,
    staff: int = 2,
    policy: str = "free",
) -> World:
    """A company (or the given one) with a branch, staff, a customer and a simple service."""
    async with session_factory() as session, session.begin():
        if company_id is None:
            company = Company(name="Factory")
            session.add(company)
            await session.flush()
            company_id = company.id
        branch = Branch(company_id=company_id, name="Factory branch", timezone="Europe/Berlin")
        session.add(branch)
        await session.flush()
        people = [Staff(company_id=company_id, branch_id=branch.id, name=f"Staff {i}") for i in range(staff)]
        customer = Customer(company_id=company_id, name="Kim", email="kim@example.com")
        service = Service(
            company_id=company_id,
            branch_id=branch.id,
            name="Cut",
            composite=False,
            segments=[{"key": "A", "name": "Cut", "duration_min": 30}],
            pause_bookable_policy=policy,
            reschedule_policy={},
        )
        session.add_all([*people, customer, service])
        await session.flush()
        return World(company_id, branch.id, [p.id for p in people], customer.id, service.id)


async def make_appointment(
    session_factory: async_sessionmaker[AsyncSession],
    world: World,
    slots: list[SlotSpec],
    *,
    status: str = "confirmed",
) -> int:
    """An appointment with the given slots; returns its id."""
    async with session_factory() as session, session.begin():
        starts = min(s.start for s in slots)
        ends = max(s.start + timedelta(minutes=s.minutes) for s in slots)
        appointment = Appointment(
            company_id=world.company_id,
            branch_id=world.branch_id,
            composite_uid=uuid.uuid4(),
            status=status,
            source="api",
            confirmation_code=uuid.uuid4().hex[:8].upper(),
            customer_id=world.customer_id,
            service_id=world.service_id,
            starts_at=starts,
            ends_at=ends,
            timezone="Europe/Berlin",
        )
        session.add(appointment)
        await session.flush()
        session.add_all(
            AppointmentSlot(
                company_id=world.company_id,
                appointment_id=appointment.id,
                kind=spec.kind,
                position=position,
                segment_key=spec.segment_key,
                staff_id=spec.staff_id,
                starts_at=spec.start,
                ends_at=spec.start + timedelta(minutes=spec.minutes),
                status=spec.status,
                calcom_booking_uid=spec.calcom_booking_uid,
            )
            for position, spec in enumerate(slots)
        )
        return appointment.id
