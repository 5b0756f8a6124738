"""What availability reads about a company: the service, its staff, their probes and the time we hold."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from composite_booking.db.models import (
    Appointment,
    AppointmentSlot,
    Branch,
    CalcomStaffProbe,
    Service,
    Staff,
    StaffService,
)
from composite_booking.db.repositories.staff_queries import staff_performing
from composite_booking.domain.segments import PausePolicy, Segment, segment_from_json

Pairs = list[tuple[datetime, datetime]]


@dataclass(frozen=True, slots=True)
class ServiceContext:
    service_id: int
    name: str
    segments: tuple[Segment, ...]
    policy: PausePolicy
    active: bool
    branch_time_zone: str
    team_id: int | None


@dataclass(frozen=True, slots=True)
class StaffRef:
    id: int
    name: str
    calcom_user_id: int | None


class AvailabilityRepository:
    def __init__(self, session: AsyncSession, company_id: int) -> None:
        self._session = session
        self.company_id = company_id

    async def service(self, service_id: int) -> ServiceContext | None:
        row = (
            await self._session.execute(
                select(Service, Branch.timezone, Branch.calcom_team_id)
                .join(Branch, Branch.id == Service.branch_id)
                .where(
                    Service.company_id == self.company_id,
                    Service.id == service_id,
                    Service.deleted_at.is_(None),
                )
            )
        ).one_or_none()
        if row is None:
            return None
        service, time_zone, team_id = row
        return ServiceContext(
            service_id=service.id,
            name=service.name,
            segments=tuple(segment_from_json(s) for s in service.segments),
            policy=PausePolicy(service.pause_bookable_policy),
            active=service.active,
            branch_time_zone=time_zone,
            team_id=team_id,
        )

    async def staff_performing(self, service_id: int) -> list[StaffRef]:
        """Live, active staff who perform the service, in id order."""
        return [StaffRef(*row) for row in await staff_performing(self._session, self.company_id, service_id)]

    async def staff(self, staff_id: int) -> StaffRef | None:
        row = (
            await self._session.execute(
                select(Staff.id, Staff.name, Staff.calcom_user_id).where(
                    Staff.company_id == self.company_id, Staff.id == staff_id, Staff.deleted_at.is_(None)
                )
            )
        ).one_or_none()
        return StaffRef(*row) if row else None

    async def staff_names(self, staff_ids: Sequence[int]) -> dict[int, str]:
        rows = await self._session.execute(
            select(Staff.id, Staff.name).where(Staff.company_id == self.company_id, Staff.id.in_(staff_ids))
        )
        return {int(staff_id): str(name) for staff_id, name in rows.all()}

    async def probes(self, staff_ids: Sequence[int]) -> dict[int, int]:
        """staff id → probe event type id, for those that have one."""
        rows = await self._session.execute(
            select(CalcomStaffProbe.staff_id, CalcomStaffProbe.event_type_id).where(
                CalcomStaffProbe.company_id == self.company_id,
                CalcomStaffProbe.staff_id.in_(staff_ids),
                CalcomStaffProbe.event_type_id.is_not(None),
            )
        )
        return {int(staff_id): int(event_type_id) for staff_id, event_type_id in rows.all() if event_type_id}

    async def save_probe(self, *, staff_id: int, team_id: int, event_type_id: int, slug: str) -> None:
        statement = insert(CalcomStaffProbe).values(
            company_id=self.company_id,
            staff_id=staff_id,
            team_id=team_id,
            event_type_id=event_type_id,
            slug=slug,
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["staff_id"],
                set_={"team_id": team_id, "event_type_id": event_type_id, "slug": slug},
            )
        )

    async def held_time(
        self, staff_ids: Sequence[int], start: datetime, end: datetime, *, except_appointment_id: int | None
    ) -> dict[int, Pairs]:
        """Time our own active rows hold (segments, held pauses, bookings still in flight)."""
        statement = select(
            AppointmentSlot.staff_id, AppointmentSlot.starts_at, AppointmentSlot.ends_at
        ).where(
            AppointmentSlot.company_id == self.company_id,
            AppointmentSlot.staff_id.in_(staff_ids),
            AppointmentSlot.active.is_(True),
            AppointmentSlot.starts_at < end,
            AppointmentSlot.ends_at > start,
        )
        if except_appointment_id is not None:
            statement = statement.where(AppointmentSlot.appointment_id != except_appointment_id)
        held: dict[int, Pairs] = defaultdict(list)
        for staff_id, starts_at, ends_at in (await self._session.execute(statement)).all():
            held[int(staff_id)].append((starts_at, ends_at))
        return held

    async def appointment_time(self, appointment_id: int) -> dict[int, Pairs]:
        """The active time of one appointment, per staff member (given back when it is being moved)."""
        rows = await self._session.execute(
            select(AppointmentSlot.staff_id, AppointmentSlot.starts_at, AppointmentSlot.ends_at).where(
                AppointmentSlot.company_id == self.company_id,
                AppointmentSlot.appointment_id == appointment_id,
                AppointmentSlot.active.is_(True),
            )
        )
        own: dict[int, Pairs] = defaultdict(list)
        for staff_id, starts_at, ends_at in rows.all():
            own[int(staff_id)].append((starts_at, ends_at))
        return own

    async def bookable_pauses(self, staff_id: int, start: datetime, end: datetime) -> Pairs:
        """Pauses of `free`/`flexible` appointments that follow a segment of this staff member."""
        appointment_ids = (
            select(AppointmentSlot.appointment_id)
            .where(
                AppointmentSlot.company_id == self.company_id,
                AppointmentSlot.staff_id == staff_id,
                AppointmentSlot.active.is_(True),
                AppointmentSlot.starts_at < end,
                AppointmentSlot.ends_at > start,
            )
            .scalar_subquery()
        )
        rows = await self._session.execute(
            select(AppointmentSlot, Service.pause_bookable_policy)
            .join(Appointment, Appointment.id == AppointmentSlot.appointment_id)
            .join(Service, Service.id == Appointment.service_id)
            .where(
                AppointmentSlot.appointment_id.in_(appointment_ids),
                AppointmentSlot.kind == "segment",
                AppointmentSlot.active.is_(True),
            )
            .order_by(AppointmentSlot.appointment_id, AppointmentSlot.starts_at)
        )
        by_appointment: dict[int, list[tuple[AppointmentSlot, str]]] = defaultdict(list)
        for slot, policy in rows.all():
            by_appointment[slot.appointment_id].append((slot, policy))
        pauses: Pairs = []
        for chain in by_appointment.values():
            for (before, policy), (after, _) in itertools.pairwise(chain):
                bookable = PausePolicy(policy) in (PausePolicy.FREE, PausePolicy.FLEXIBLE)
                if bookable and before.staff_id == staff_id and after.starts_at > before.ends_at:
                    pauses.append((before.ends_at, after.starts_at))
        return sorted(pauses)

    async def services_of_staff(self, staff_id: int) -> list[ServiceContext]:
        rows = await self._session.execute(
            select(StaffService.service_id).where(
                StaffService.company_id == self.company_id, StaffService.staff_id == staff_id
            )
        )
        contexts = [await self.service(int(service_id)) for service_id in rows.scalars()]
        return sorted((c for c in contexts if c is not None and c.active), key=lambda c: c.service_id)
