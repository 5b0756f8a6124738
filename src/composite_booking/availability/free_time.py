"""Free time from Cal.com: one slots request per staff member per window, all at once, cached."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta

from composite_booking.availability.cache import FreeTimeCache, MinutePairs
from composite_booking.calcom.client import CalcomClient
from composite_booking.domain.intervals import IntervalList, minute_of

_DAY_MIN = 24 * 60


def utc_days(start: datetime, end: datetime) -> list[date]:
    """The UTC days `[start, end)` touches."""
    first = start.astimezone(UTC).date()
    last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


class CalcomFreeTime:
    def __init__(self, calcom: CalcomClient, cache: FreeTimeCache) -> None:
        self._calcom = calcom
        self._cache = cache

    async def fetch(
        self, probes: Mapping[int, int], start: datetime, end: datetime
    ) -> dict[int, IntervalList]:
        """Free time in `[start, end)` of every staff member with a probe (staff id → probe event type)."""
        staff_ids = list(probes)
        results = await asyncio.gather(*(self._one(s, probes[s], start, end) for s in staff_ids))
        return dict(zip(staff_ids, results, strict=True))

    async def invalidate(self, staff_id: int) -> None:
        await self._cache.invalidate(staff_id)

    async def _one(self, staff_id: int, probe_id: int, start: datetime, end: datetime) -> IntervalList:
        days = utc_days(start, end)
        generation = await self._cache.generation(staff_id)
        by_day = await self._cache.get_days(staff_id, generation, days)
        missing = [day for day in days if day not in by_day]
        if missing:
            fetched = await self._from_calcom(
                probe_id, _day_start(missing[0]), _day_start(missing[-1] + timedelta(1))
            )
            fresh = {day: _clip_day(fetched, day) for day in missing}
            await self._cache.put_days(staff_id, generation, fresh)
            by_day.update(fresh)
        pairs = [pair for day in days for pair in by_day[day]]
        return IntervalList.from_pairs(pairs).clipped(minute_of(start, round_up=True), minute_of(end))

    async def _from_calcom(self, probe_id: int, start: datetime, end: datetime) -> IntervalList:
        ranges = await self._calcom.get_free_ranges(event_type_id=probe_id, start=start, end=end)
        # Slot bounds are whole minutes; ceil/floor keeps a stray second from ever widening free time.
        return IntervalList.from_pairs(
            (-int(-a.timestamp() // 60), int(b.timestamp() // 60)) for a, b in ranges
        )


def _clip_day(free: IntervalList, day: date) -> MinutePairs:
    lo = minute_of(_day_start(day))
    return free.clipped(lo, lo + _DAY_MIN).pairs()
