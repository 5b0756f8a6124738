"""Composite availability for the API, the voice agent and the booking saga (it is the `SlotResolver`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.availability.free_time import CalcomFreeTime
from composite_booking.availability.probes import ProbeManager
from composite_booking.db.repositories.availability import (
    AvailabilityRepository,
    ServiceContext,
    StaffRef,
)
from composite_booking.domain.availability import (
    CompositeSlot,
    FillerService,
    FreeTime,
    PauseFill,
    SearchOptions,
    SearchWindow,
    ServicePlan,
    SlotSearchResult,
    find_composite_slots,
    find_pause_fillers,
    find_slots_after,
)
from composite_booking.domain.errors import InvalidInput, NotFound
from composite_booking.domain.intervals import IntervalList
from composite_booking.domain.segments import StaffMode, longest_duration_min

Clock = Callable[[], datetime]
# How far past the window the search looks for "the next three slots" when the window has none.
NEAREST_LOOKAHEAD = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class AvailabilityPolicy:
    step_min: int = 15
    min_notice: timedelta = timedelta(minutes=60)
    horizon: timedelta = timedelta(days=90)
    max_window: timedelta = timedelta(days=31)


@dataclass(frozen=True, slots=True)
class AvailabilityQuery:
    """`start`/`end` are instants, or dates meaning days in the branch's zone (an end date is inclusive)."""

    service_id: int
    start: datetime | date
    end: datetime | date
    staff_id: int | None = None
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class AvailabilityAnswer:
    service: ServiceContext
    start: datetime
    end: datetime
    result: SlotSearchResult
    nearest: tuple[CompositeSlot, ...]
    staff_names: Mapping[int, str]


@dataclass(frozen=True, slots=True)
class GapFillAnswer:
    staff: StaffRef
    day: date
    time_zone: str
    fills: tuple[PauseFill, ...]
    service_names: Mapping[int, str]


class AvailabilityService:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        free_time: CalcomFreeTime,
        probes: ProbeManager,
        *,
        policy: AvailabilityPolicy,
        clock: Clock,
    ) -> None:
        self._session_factory = session_factory
        self._free_time = free_time
        self._probes = probes
        self._policy = policy
        self._clock = clock

    # --- API ------------------------------------------------------------------------------------------

    async def search(self, company_id: int, query: AvailabilityQuery) -> AvailabilityAnswer:
        context, staff = await self._load(company_id, query.service_id, query.staff_id)
        zone = ZoneInfo(context.branch_time_zone)
        start, end = _instant(query.start, zone), _instant(query.end, zone, end_of_day=True)
        if end <= start:
            raise InvalidInput.single("end", "must be after start")
        if end - start > self._policy.max_window:
            raise InvalidInput.single(
                "end", f"the window may span at most {self._policy.max_window.days} days"
            )
        now = self._clock()
        free = await self._free(company_id, context, staff, start, end, except_appointment_id=None)
        options = self._options(staff_id=query.staff_id, limit=query.limit)
        plan = self._plan(context, staff)
        result = find_composite_slots(plan, free, SearchWindow(start, end, zone), now=now, options=options)
        nearest: tuple[CompositeSlot, ...] = ()
        if not result.slots and staff:
            nearest = tuple(await self._nearest(company_id, context, staff, plan, end, query.staff_id, 3))
        names = {s.id: s.name for s in staff}
        return AvailabilityAnswer(context, start, end, result, nearest, names)

    async def gap_fill(self, company_id: int, staff_id: int, day: date) -> GapFillAnswer:
        """The held-free pauses of a staff member's day and which services fit into each."""
        async with self._repository(company_id) as repository:
            person = await repository.staff(staff_id)
            if person is None:
                raise NotFound("staff member", staff_id)
            services = await repository.services_of_staff(staff_id)
            zone_name = await self._staff_zone(repository, services)
            zone = ZoneInfo(zone_name)
            start = datetime.combine(day, time(0), tzinfo=zone)
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
            pauses = await repository.bookable_pauses(staff_id, start, end)
            held = await repository.held_time([staff_id], start, end, except_appointment_id=None)
        free = IntervalList()
        if services and services[0].team_id is not None:
            probes = await self._probes.ensure(company_id, services[0].team_id, [person])
            if staff_id in probes:
                fetched = await self._free_time.fetch({staff_id: probes[staff_id]}, start, end)
                free = fetched[staff_id]
        free = free.subtract(IntervalList.from_datetimes(held.get(staff_id, [])))
        fillers = [FillerService(s.service_id, s.segments, s.policy) for s in services]
        fills = find_pause_fillers(free, IntervalList.from_datetimes(pauses), fillers)
        names = {s.service_id: s.name for s in services}
        return GapFillAnswer(person, day, zone_name, fills, names)

    async def invalidate(self, staff_id: int) -> None:
        """Drop a staff member's cached free time (our booking changed it, or Cal.com told us)."""
        await self._free_time.invalidate(staff_id)

    # --- SlotResolver ---------------------------------------------------------------------------------

    async def resolve(
        self,
        company_id: int,
        service_id: int,
        starts_at: datetime,
        *,
        staff_id: int | None = None,
        ignore_appointment_id: int | None = None,
    ) -> CompositeSlot | None:
        context, staff = await self._load(company_id, service_id, staff_id)
        end = starts_at + timedelta(minutes=1)
        free = await self._free(
            company_id, context, staff, starts_at, end, except_appointment_id=ignore_appointment_id
        )
        window = SearchWindow(starts_at, end, ZoneInfo(context.branch_time_zone))
        options = self._options(staff_id=staff_id, limit=1)
        result = find_composite_slots(
            self._plan(context, staff), free, window, now=self._clock(), options=options
        )
        return result.slots[0] if result.slots and result.slots[0].starts_at == starts_at else None

    async def alternatives(
        self,
        company_id: int,
        service_id: int,
        around: datetime,
        *,
        staff_id: int | None = None,
        count: int = 3,
    ) -> list[CompositeSlot]:
        context, staff = await self._load(company_id, service_id, None)
        plan = self._plan(context, staff)
        return await self._nearest(company_id, context, staff, plan, around, staff_id, count)

    # --- internals ------------------------------------------------------------------------------------

    async def _nearest(
        self,
        company_id: int,
        context: ServiceContext,
        staff: list[StaffRef],
        plan: ServicePlan,
        after: datetime,
        preferred_staff_id: int | None,
        count: int,
    ) -> list[CompositeSlot]:
        """Up to `count` slots at or after `after`; the preferred staff member's first, then anyone's."""
        now = self._clock()
        until = min(after + NEAREST_LOOKAHEAD, now + self._policy.horizon)
        if until <= after:
            return []
        free = await self._free(company_id, context, staff, after, until, except_appointment_id=None)
        zone = ZoneInfo(context.branch_time_zone)
        found: list[CompositeSlot] = []
        preferences = [preferred_staff_id, None] if preferred_staff_id is not None else [None]
        for preferred in preferences:
            options = self._options(staff_id=preferred, limit=count)
            result = find_slots_after(plan, free, after, zone, now=now, options=options, count=count)
            known = {(s.starts_at, s.staff_id) for s in found}
            found.extend(s for s in result.slots if (s.starts_at, s.staff_id) not in known)
        return found[:count]

    async def _load(
        self, company_id: int, service_id: int, staff_id: int | None
    ) -> tuple[ServiceContext, list[StaffRef]]:
        async with self._repository(company_id) as repository:
            context = await repository.service(service_id)
            if context is None:
                raise NotFound("service", service_id)
            staff = await repository.staff_performing(service_id)
        if not context.active:
            raise InvalidInput.single("service_id", f"service {service_id} is not active")
        if staff_id is not None and staff_id not in {s.id for s in staff}:
            raise InvalidInput.single(
                "staff_id", f"staff member {staff_id} does not perform service {service_id}"
            )
        bookable = [s for s in staff if s.calcom_user_id is not None]
        if staff_id is not None and all(s.staff_mode is StaffMode.SAME for s in context.segments):
            # Pinned, and no segment may go to anyone else: only this person's calendar matters.
            bookable = [s for s in bookable if s.id == staff_id]
        return context, bookable

    async def _free(
        self,
        company_id: int,
        context: ServiceContext,
        staff: list[StaffRef],
        start: datetime,
        end: datetime,
        *,
        except_appointment_id: int | None,
    ) -> FreeTime:
        """Cal.com's free time, minus what we hold ourselves (bookings in flight included)."""
        if not staff or context.team_id is None:
            return FreeTime({})
        reach = end + timedelta(minutes=longest_duration_min(context.segments))
        probes = await self._probes.ensure(company_id, context.team_id, staff)
        calcom_free = await self._free_time.fetch(probes, start, reach)
        async with self._repository(company_id) as repository:
            ids = list(calcom_free)
            held = await repository.held_time(ids, start, reach, except_appointment_id=except_appointment_id)
            own = await repository.appointment_time(except_appointment_id) if except_appointment_id else {}
        free = {}
        for staff_id, intervals in calcom_free.items():
            # A chain being moved gives its own time back: Cal.com shows it busy only because of that chain.
            mine = IntervalList.from_datetimes(own.get(staff_id, []))
            theirs = IntervalList.from_datetimes(held.get(staff_id, []))
            free[staff_id] = intervals.union(mine).subtract(theirs)
        return FreeTime(free)

    def _plan(self, context: ServiceContext, staff: list[StaffRef]) -> ServicePlan:
        return ServicePlan.for_staff(context.segments, context.policy, [s.id for s in staff])

    def _options(self, *, staff_id: int | None, limit: int | None) -> SearchOptions:
        return SearchOptions(
            step_min=self._policy.step_min,
            min_notice=self._policy.min_notice,
            horizon=self._policy.horizon,
            preferred_staff_id=staff_id,
            limit=limit,
        )

    @staticmethod
    async def _staff_zone(repository: AvailabilityRepository, services: list[ServiceContext]) -> str:
        return services[0].branch_time_zone if services else "UTC"

    @asynccontextmanager
    async def _repository(self, company_id: int) -> AsyncIterator[AvailabilityRepository]:
        async with self._session_factory() as session:
            yield AvailabilityRepository(session, company_id)


def _instant(moment: datetime | date, zone: ZoneInfo, *, end_of_day: bool = False) -> datetime:
    if isinstance(moment, datetime):
        return moment
    day = moment + timedelta(days=1) if end_of_day else moment
    return datetime.combine(day, time(0), tzinfo=zone)
