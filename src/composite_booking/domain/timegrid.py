"""The grid of bookable start times, aligned to the wall clock of the branch's time zone.

A grid start is an instant whose *local wall-clock* time is a multiple of the step counted from local
midnight (09:00, 09:15, ... for a 15-minute step), so customers see round times in summer and winter alike.

DST rules (documented, and tested on Europe/Berlin's switches 2026-03-29 and 2026-10-25):
- a local time that does not exist (02:00–02:59 on the spring-forward night) is no grid start: no instant
  shows it on the wall clock;
- a local time that exists twice (02:00–02:59 on the fall-back night) gives two grid starts, one in each
  offset, because both are real instants at which the wall clock shows a round time.

Implementation: the search range is cut into runs of constant UTC offset (found by sampling the zone every
`_SAMPLE_MIN` minutes and bisecting each change to the minute), and inside a run grid starts form an
arithmetic progression per local day. That costs a few dozen zone look-ups per fortnight instead of one per
candidate. Offsets are taken in whole minutes (only pre-1900 local mean times had seconds). We assume at
most one offset change per `_SAMPLE_MIN` minutes, which every real zone satisfies.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import tzinfo

from composite_booking.domain.intervals import datetime_of

MINUTES_PER_DAY = 24 * 60
_SAMPLE_MIN = 12 * 60


def utc_offset_min(zone: tzinfo, minute: int) -> int:
    """The zone's UTC offset in whole minutes at the instant `minute` (minutes since the epoch, UTC)."""
    offset = datetime_of(minute).astimezone(zone).utcoffset()
    assert offset is not None  # astimezone into a tzinfo always yields an aware datetime
    return int(offset.total_seconds()) // 60


class LocalGrid:
    """Grid starts in `[lo, hi)` (minutes since the epoch) for one zone and step."""

    __slots__ = ("_run_ends", "_run_offsets", "_run_starts", "hi", "lo", "step_min", "zone")

    def __init__(self, zone: tzinfo, step_min: int, lo: int, hi: int) -> None:
        if step_min <= 0:
            raise ValueError("the grid step must be positive")
        self.zone = zone
        self.step_min = step_min
        self.lo = lo
        self.hi = hi
        self._run_starts: list[int] = []
        self._run_ends: list[int] = []
        self._run_offsets: list[int] = []
        if lo < hi:
            self._build_runs()

    def _build_runs(self) -> None:
        lo, hi, zone = self.lo, self.hi, self.zone
        samples = [*range(lo, hi, _SAMPLE_MIN), hi - 1]
        offsets = [utc_offset_min(zone, m) for m in samples]
        run_start = lo
        for k in range(1, len(samples)):
            if offsets[k] == offsets[k - 1]:
                continue
            # bisect for the first minute in (samples[k-1], samples[k]] that has the new offset
            before, after = samples[k - 1], samples[k]
            while after - before > 1:
                mid = (before + after) // 2
                if utc_offset_min(zone, mid) == offsets[k - 1]:
                    before = mid
                else:
                    after = mid
            self._append_run(run_start, after, offsets[k - 1])
            run_start = after
        self._append_run(run_start, hi, offsets[-1])

    def _append_run(self, start: int, end: int, offset: int) -> None:
        self._run_starts.append(start)
        self._run_ends.append(end)
        self._run_offsets.append(offset)

    def points(self) -> Sequence[int]:
        return self.points_between(self.lo, self.hi)

    def points_between(self, x: int, y: int) -> Sequence[int]:
        """Grid starts t with `x <= t < y` (clipped to the grid's range), ascending."""
        x = max(x, self.lo)
        y = min(y, self.hi)
        if x >= y:
            return ()
        k = bisect_right(self._run_ends, x)
        if k < len(self._run_ends) and y <= self._run_ends[k]:
            return self._points_in_run(x, y, self._run_offsets[k])  # the common case: one offset
        out: list[int] = []
        while k < len(self._run_starts) and self._run_starts[k] < y:
            lo = max(x, self._run_starts[k])
            hi = min(y, self._run_ends[k])
            out.extend(self._points_in_run(lo, hi, self._run_offsets[k]))
            k += 1
        return out

    def _points_in_run(self, lo: int, hi: int, offset: int) -> Sequence[int]:
        step = self.step_min
        if MINUTES_PER_DAY % step == 0:
            # local midnight is a multiple of the step, so "multiple of step from midnight" is a plain modulus
            return range(lo + (-(lo + offset)) % step, hi, step)
        out: list[int] = []
        local_lo = lo + offset
        local_hi = hi + offset
        day = local_lo - local_lo % MINUTES_PER_DAY
        while day < local_hi:
            first = day + max(0, -(-(local_lo - day) // step)) * step
            last = min(day + MINUTES_PER_DAY, local_hi)
            out.extend(range(first - offset, last - offset, step))
            day += MINUTES_PER_DAY
        return out
