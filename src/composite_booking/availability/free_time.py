"""Free time from Cal.com: one slots request per staff member per window, all at once, cached."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta

from composite_booking.availability.cache import CachedFreeTime, FreeTimeCache, MinutePairs
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
        """Free time in `[start, end)` of every staff member with a probe (staff id → probe event type).

        One cache read for everybody; Cal.com is asked, concurrently, only for the days someone misses.
        """
        staff_ids = list(probes)
        days = utc_days(start, end)
        cached = await self._cache.read(staff_ids, days)
        fresh = await asyncio.gather(*(self._missing(probes[s], days, cached[s]) for s in staff_ids))
        await self._cache.write(
            {
                s: CachedFreeTime(cached[s].generation, new)
                for s, new in zip(staff_ids, fresh, strict=True)
                if new
            }
        )
        window = (minute_of(start, round_up=True), minute_of(end))
        free: dict[int, IntervalList] = {}
        for staff_id, new in zip(staff_ids, fresh, strict=True):
            by_day = {**cached[staff_id].days, **new}
            pairs = [pair for day in days for pair in by_day[day]]
            free[staff_id] = IntervalList.from_pairs(pairs).clipped(*window)
        return free

    async def invalidate(self, staff_id: int) -> None:
        await self._cache.invalidate(staff_id)

    async def _missing(
        self, probe_id: int, days: list[date], cached: CachedFreeTime
    ) -> dict[date, MinutePairs]:
        """The days not cached, from one Cal.com request spanning them."""
        missing = [day for day in days if day not in cached.days]
        if not missing:
            return {}
        fetched = await self._from_calcom(
            probe_id, _day_start(missing[0]), _day_start(missing[-1] + timedelta(1))
        )
        return {day: _clip_day(fetched, day) for day in missing}

    async def _from_calcom(self, probe_id: int, start: datetime, end: datetime) -> IntervalList:
        ranges = await self._calcom.get_free_ranges(event_type_id=probe_id, start=start, end=end)
        # Slot bounds are whole minutes; ceil/floor keeps a stray second from ever widening free time.
        return IntervalList.from_pairs(
            (-int(-a.timestamp() // 60), int(b.timestamp() // 60)) for a, b in ranges
        )


def _clip_day(free: IntervalList, day: date) -> MinutePairs:
    lo = minute_of(_day_start(day))
    return free.clipped(lo, lo + _DAY_MIN).pairs()
