"""Interval algebra on whole minutes since the Unix epoch (UTC).

The availability search works on integers, not datetimes: comparing and shifting ints is what makes it fast,
and `bisect` on a sorted tuple of starts finds "the free interval around minute t" in C. Every interval is
half-open, `[start, end)`. An `IntervalList` is always sorted, disjoint and *non-adjacent* (touching intervals
are merged), so one free stretch of a staff member's day is exactly one interval of the list.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import compress, repeat
from operator import ge, sub

MINUTE = timedelta(minutes=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def minute_of(moment: datetime, *, round_up: bool = False) -> int:
    """Whole minutes since the epoch; a moment between two minutes is floored unless `round_up`."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: availability needs aware datetimes")
    if round_up:
        return -((EPOCH - moment) // MINUTE)
    return (moment - EPOCH) // MINUTE


def datetime_of(minute: int) -> datetime:
    """The aware UTC datetime of a minute since the epoch."""
    return datetime.fromtimestamp(minute * 60, UTC)  # exact for whole seconds, and twice as fast as adding


@dataclass(frozen=True, slots=True)
class IntervalList:
    """Sorted, disjoint, non-adjacent half-open minute intervals `[starts[k], ends[k])`.

    Build it with `from_pairs` / `from_datetimes` (they normalise); the plain constructor trusts its input and
    is meant for the algebra below, which preserves the invariants.
    """

    starts: tuple[int, ...] = ()
    ends: tuple[int, ...] = ()

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[int, int]]) -> IntervalList:
        """Sorts, drops empty intervals and merges overlapping or touching ones."""
        starts: list[int] = []
        ends: list[int] = []
        for start, end in sorted(p for p in pairs if p[0] < p[1]):
            if ends and start <= ends[-1]:
                if end > ends[-1]:
                    ends[-1] = end
            else:
                starts.append(start)
                ends.append(end)
        return cls(tuple(starts), tuple(ends))

    @classmethod
    def from_datetimes(cls, pairs: Iterable[tuple[datetime, datetime]]) -> IntervalList:
        """From aware datetimes; a bound between two minutes shrinks the interval, never grows it."""
        return cls.from_pairs((minute_of(a, round_up=True), minute_of(b)) for a, b in pairs)

    def __len__(self) -> int:
        return len(self.starts)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self.starts, self.ends, strict=True)

    def pairs(self) -> list[tuple[int, int]]:
        return list(zip(self.starts, self.ends, strict=True))

    def datetime_pairs(self) -> list[tuple[datetime, datetime]]:
        return [(datetime_of(a), datetime_of(b)) for a, b in self]

    @property
    def total_minutes(self) -> int:
        return sum(self.ends) - sum(self.starts)

    def index_containing(self, minute: int) -> int:
        """Index of the interval holding `minute`, or -1."""
        k = bisect_right(self.starts, minute) - 1
        return k if k >= 0 and minute < self.ends[k] else -1

    def covers(self, start: int, end: int) -> bool:
        """Whether `[start, end)` lies inside one interval (an empty span is covered nowhere)."""
        k = bisect_right(self.starts, start) - 1
        return k >= 0 and start < end <= self.ends[k]

    def fitting_starts(self, length: int) -> IntervalList:
        """Every t with `[t, t + length)` inside one interval: t ∈ [a, b - length] for each `[a, b)`.

        This is the heart of the search: a segment of `length` minutes fits at t exactly when t is in this
        list, so a chain is a question of intersecting shifted lists instead of scanning minutes.
        """
        if length <= 0:
            raise ValueError("length must be positive")
        # map/compress keep the loop in C: this runs once per staff member and segment length
        keep = list(map(ge, map(sub, self.ends, self.starts), repeat(length)))
        return IntervalList(
            tuple(compress(self.starts, keep)), tuple(map(sub, compress(self.ends, keep), repeat(length - 1)))
        )

    def shifted(self, delta: int) -> IntervalList:
        if delta == 0:
            return self
        return IntervalList(tuple(a + delta for a in self.starts), tuple(b + delta for b in self.ends))

    def widened(self, before: int, after: int = 0) -> IntervalList:
        """Each interval grown to `[a - before, b + after)`, merging those that come to overlap."""
        if before == 0 and after == 0:
            return self
        return IntervalList.from_pairs((a - before, b + after) for a, b in self)

    def clipped(self, lo: int, hi: int) -> IntervalList:
        """The part inside `[lo, hi)`."""
        if lo >= hi:
            return IntervalList()
        first = bisect_right(self.ends, lo)
        last = bisect_left(self.starts, hi)
        if first >= last:
            return IntervalList()
        starts = list(self.starts[first:last])
        ends = list(self.ends[first:last])
        starts[0] = max(starts[0], lo)
        ends[-1] = min(ends[-1], hi)
        return IntervalList(tuple(starts), tuple(ends))

    def intersection(self, other: IntervalList, *, other_shift: int = 0) -> IntervalList:
        """`self ∩ (other - other_shift)`, i.e. the t in self with `t + other_shift` in other.

        Walks the shorter list and bisects into the longer one, so intersecting a few candidate pieces with a
        long free list costs a handful of C-level bisects, not a Python loop over both.
        """
        if not self.starts or not other.starts:
            return IntervalList()
        out_s: list[int] = []
        out_e: list[int] = []
        if len(self.starts) <= len(other.starts):
            _intersect_into(self.starts, self.ends, other.starts, other.ends, other_shift, out_s, out_e)
        else:
            _intersect_into(other.starts, other.ends, self.starts, self.ends, -other_shift, out_s, out_e)
            if other_shift:
                out_s = [a - other_shift for a in out_s]
                out_e = [b - other_shift for b in out_e]
        return IntervalList(tuple(out_s), tuple(out_e))

    def union(self, *others: IntervalList) -> IntervalList:
        if not others:
            return self
        lists = (self, *others)
        return IntervalList.from_pairs(p for lst in lists for p in lst)

    def subtract(self, other: IntervalList) -> IntervalList:
        """The minutes of self not in other."""
        out: list[tuple[int, int]] = []
        o_starts = other.starts
        o_ends = other.ends
        for a, b in self:
            cursor = a
            k = bisect_right(o_ends, a)
            while k < len(o_starts) and o_starts[k] < b:
                if o_starts[k] > cursor:
                    out.append((cursor, o_starts[k]))
                cursor = max(cursor, o_ends[k])
                k += 1
            if cursor < b:
                out.append((cursor, b))
        return IntervalList(tuple(a for a, _ in out), tuple(b for _, b in out))

    def overlaps(self, lo: int, hi: int) -> bool:
        """Whether any minute of `[lo, hi)` is in the list."""
        k = bisect_right(self.ends, lo)
        return k < len(self.starts) and self.starts[k] < hi and lo < hi


def _intersect_into(
    small_s: Sequence[int],
    small_e: Sequence[int],
    big_s: Sequence[int],
    big_e: Sequence[int],
    big_shift: int,
    out_s: list[int],
    out_e: list[int],
) -> None:
    """Appends `small ∩ (big - big_shift)` to out_s/out_e, in order."""
    n_big = len(big_s)
    append_start, append_end, first_ending_after = out_s.append, out_e.append, bisect_right
    for x, y in zip(small_s, small_e, strict=True):
        x_big = x + big_shift
        y_big = y + big_shift
        k = first_ending_after(big_e, x_big)
        while k < n_big:
            a = big_s[k]
            if a >= y_big:
                break
            b = big_e[k]
            append_start((a if a > x_big else x_big) - big_shift)
            append_end((b if b < y_big else y_big) - big_shift)
            k += 1


def intersect_all(lists: Sequence[tuple[IntervalList, int]]) -> IntervalList:
    """The t with `t + shift` in `lst` for every `(lst, shift)`; smallest lists first to shrink early."""
    if not lists:
        raise ValueError("nothing to intersect")
    ordered = sorted(lists, key=lambda item: len(item[0]))
    first, first_shift = ordered[0]
    result = first.shifted(-first_shift)
    for lst, shift in ordered[1:]:
        if not result.starts:
            break
        result = result.intersection(lst, other_shift=shift)
    return result
