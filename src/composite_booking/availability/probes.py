"""Each staff member's hidden 5-minute probe event type, created on first use and found again by slug."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.calcom.client import CalcomClient
from composite_booking.calcom.errors import CalcomBadRequest, CalcomUnknownOutcome
from composite_booking.calcom.models import HostInput, TeamEventType, TeamEventTypeCreate
from composite_booking.db.repositories.availability import AvailabilityRepository, StaffRef

log = logging.getLogger(__name__)

# Free time is read at this resolution: a free stretch whose ends fall between two marks is shortened to
# the marks inside it (never lengthened), so the probe can hide a few minutes but never invent any.
PROBE_LENGTH_MIN = 5


def probe_slug(staff_id: int) -> str:
    return f"cb-probe-st{staff_id}"


def probe_definition(staff: StaffRef) -> TeamEventTypeCreate:
    assert staff.calcom_user_id is not None
    return TeamEventTypeCreate(
        title=f"Verfügbarkeit {staff.name} (composite-booking)",
        slug=probe_slug(staff.id),
        length_in_minutes=PROBE_LENGTH_MIN,
        description="Managed by composite-booking to read free time; never booked.",
        hidden=True,
        slot_interval=PROBE_LENGTH_MIN,
        minimum_booking_notice=0,
        before_event_buffer=0,
        after_event_buffer=0,
        hosts=[HostInput(user_id=staff.calcom_user_id)],
    )


class ProbeManager:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], calcom: CalcomClient) -> None:
        self._session_factory = session_factory
        self._calcom = calcom
        # Probes are made once and never change: remembered per process to save a query per search.
        self._known: dict[int, int] = {}

    async def ensure(self, company_id: int, team_id: int, staff: Sequence[StaffRef]) -> dict[int, int]:
        """staff id → probe event type id; creates the missing ones (outside any transaction)."""
        if all(s.id in self._known for s in staff):
            return {s.id: self._known[s.id] for s in staff}
        async with self._repository(company_id) as repository:
            known = await repository.probes([s.id for s in staff])
        for person in staff:
            if person.id in known or person.calcom_user_id is None:
                continue
            event_type = await self._create_or_adopt(team_id, person)
            async with self._repository(company_id) as repository:
                await repository.save_probe(
                    staff_id=person.id, team_id=team_id, event_type_id=event_type.id, slug=event_type.slug
                )
            known[person.id] = event_type.id
        self._known.update(known)
        return known

    async def _create_or_adopt(self, team_id: int, person: StaffRef) -> TeamEventType:
        slug = probe_slug(person.id)
        try:
            return await self._calcom.create_team_event_type(team_id, probe_definition(person))
        except (CalcomBadRequest, CalcomUnknownOutcome):
            # Made by a concurrent request, or by an attempt whose answer was lost: use that one.
            found = [
                e for e in await self._calcom.list_team_event_types(team_id, slug=slug) if e.slug == slug
            ]
            if not found:
                raise
            log.info("adopted probe event type %s for staff %s", found[0].id, person.id)
            return found[0]

    @asynccontextmanager
    async def _repository(self, company_id: int) -> AsyncIterator[AvailabilityRepository]:
        async with self._session_factory() as session, session.begin():
            yield AvailabilityRepository(session, company_id)
