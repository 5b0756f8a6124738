"""Composite availability: where a chain of segments with pauses fits into staff members' free time.

Pure: the caller reads free time once per staff member (Cal.com, cache) and this module does the rest
locally, on integer minutes since the epoch (see `intervals`).

Rules, each with one meaning:

Chain geometry. Segment i lasts `duration_min`; the pause after it lasts `gap_after_min`, except under the
`flexible` policy, where it may be any of `gap_after_min, gap_after_min + step, ...` up to
`gap_after_max_min`, and `gap_after_max_min` itself even when it is not on that ladder (step = the search's
grid step). A pause of 0 minutes is not reported as a pause.

What must be free. Under `free` and `flexible` only the segments need free time (the pauses are bookable by
others). Under `blocked` and `never` the pause after a segment is held by *that segment's* staff member, so
the segment plus its pause must lie in one free interval of that person.

Staff. All `same` segments are served by one *primary* staff member, who must be eligible for every one of
them; a preferred staff member pins the primary. Each `any` segment may be served by any staff member
eligible for it. A slot names the primary (or, when every segment is `any`, the staff member of the first
segment).

One slot per grid start, ranked by idle waste. Placing the chain cuts the free intervals it lands in; a
left-over piece shorter than `useful_gap_min` (default: the plan's shortest segment) can never be sold and
is *waste*. The primary is the eligible staff member whose `same` segments leave the fewest waste minutes,
ties to the lower staff id (under `flexible` the earliest end comes first: the shortest stretch wins). Then
each `any` segment, in chain order, goes to the eligible staff member with the smallest *added* waste given
what the chain already holds (negative when it fills a crumb the chain itself left); ties go to someone
already serving the chain, then to the lower id. (Greedy by design: exact minimisation over every
combination is exponential and the difference is minutes of idle time.)

Window. Grid starts are wall-clock multiples of the step in the branch zone (see `timegrid` for DST). A slot
*starts* in `[window.starts_at, window.ends_at)`, no earlier than `now + min_notice` and before `now +
horizon`; it may end after the window, as long as it fits the free time given."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import NamedTuple

from composite_booking.domain.intervals import IntervalList, datetime_of, intersect_all, minute_of
from composite_booking.domain.segments import PausePolicy, Segment, StaffMode
from composite_booking.domain.timegrid import LocalGrid

StaffId = int

# ---------------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """What to place: the service's segments, its pause policy and who may perform each segment (by key)."""

    segments: tuple[Segment, ...]
    policy: PausePolicy
    eligible_staff: Mapping[str, frozenset[StaffId]] = field(hash=False)

    def __post_init__(self) -> None:
        if not self.segments:
            raise ValueError("a service plan needs at least one segment")
        keys = [s.key for s in self.segments]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate segment keys in {keys}")
        for segment in self.segments:
            if segment.duration_min <= 0:
                raise ValueError(f"segment {segment.key!r} must last at least one minute")
            if segment.gap_after_min < 0 or segment.longest_gap_min < segment.gap_after_min:
                raise ValueError(f"segment {segment.key!r} has an invalid pause range")

    @classmethod
    def for_staff(
        cls, segments: Sequence[Segment], policy: PausePolicy, staff_ids: Collection[StaffId]
    ) -> ServicePlan:
        """Every segment may be performed by the same staff members."""
        staff = frozenset(staff_ids)
        return cls(tuple(segments), policy, {s.key: staff for s in segments})

    def eligible_for(self, key: str) -> frozenset[StaffId]:
        return self.eligible_staff.get(key, frozenset())


@dataclass(frozen=True, slots=True)
class FreeTime:
    """Each staff member's free time as an `IntervalList`; a staff member not listed has none."""

    by_staff: Mapping[StaffId, IntervalList] = field(hash=False)

    @classmethod
    def from_datetimes(cls, free: Mapping[StaffId, Iterable[tuple[datetime, datetime]]]) -> FreeTime:
        return cls({staff: IntervalList.from_datetimes(pairs) for staff, pairs in free.items()})

    @classmethod
    def from_minutes(cls, free: Mapping[StaffId, Iterable[tuple[int, int]]]) -> FreeTime:
        return cls({staff: IntervalList.from_pairs(pairs) for staff, pairs in free.items()})

    def of(self, staff_id: StaffId) -> IntervalList:
        return self.by_staff.get(staff_id, _EMPTY)


@dataclass(frozen=True, slots=True)
class SearchWindow:
    """Slots start in `[starts_at, ends_at)`; the grid follows the wall clock of the branch's `time_zone`."""

    starts_at: datetime
    ends_at: datetime
    time_zone: tzinfo

    def __post_init__(self) -> None:
        minute_of(self.starts_at)  # rejects naive datetimes
        minute_of(self.ends_at)


@dataclass(frozen=True, slots=True)
class SearchOptions:
    step_min: int = 15
    min_notice: timedelta = timedelta(0)
    horizon: timedelta | None = None  # slots must start before now + horizon
    preferred_staff_id: StaffId | None = None
    limit: int | None = None  # at most this many slots, earliest first
    useful_gap_min: int | None = None  # shorter idle pieces are waste; default: the plan's shortest segment

    def __post_init__(self) -> None:
        if self.step_min <= 0:
            raise ValueError("step_min must be positive")
        if self.min_notice < timedelta(0):
            raise ValueError("min_notice cannot be negative")
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be at least 1")


# --------------------------------------------------------------------------------------------------- outputs


@dataclass(frozen=True, slots=True)
class SegmentPlacement:
    key: str
    name: str
    starts_at: datetime
    ends_at: datetime
    staff_id: StaffId


@dataclass(frozen=True, slots=True)
class PausePlacement:
    after_key: str
    starts_at: datetime
    ends_at: datetime
    policy: PausePolicy
    held_by_staff_id: StaffId | None  # set under blocked/never: the staff member of the segment before


@dataclass(frozen=True, slots=True)
class CompositeSlot:
    starts_at: datetime
    ends_at: datetime
    staff_id: StaffId
    segments: tuple[SegmentPlacement, ...]
    pauses: tuple[PausePlacement, ...]
    idle_waste_min: int  # the ranking score: unsellable idle minutes this placement leaves (lower is better)

    @property
    def staff_ids(self) -> frozenset[StaffId]:
        return frozenset(s.staff_id for s in self.segments)


class NoSlotCode(StrEnum):
    NO_ELIGIBLE_STAFF = "no_eligible_staff"
    WINDOW_CLOSED = "window_closed"  # nothing left after minimum notice and horizon
    NO_FREE_TIME = "no_free_time"  # outside working hours, or fully booked
    SEGMENT_NEVER_FITS = "segment_never_fits"
    CHAIN_NEVER_FITS = "chain_never_fits"  # each segment fits somewhere, never as a chain


@dataclass(frozen=True, slots=True)
class NoSlotReason:
    code: NoSlotCode
    message: str
    segment_key: str | None = None
    staff_id: StaffId | None = None


@dataclass(frozen=True, slots=True)
class SlotSearchResult:
    slots: tuple[CompositeSlot, ...]
    reasons: tuple[NoSlotReason, ...] = ()  # only when `slots` is empty: why nothing fits
    has_more: bool = False  # the limit cut off further slots


# ----------------------------------------------------------------------------------------------- entry points


def find_composite_slots(
    plan: ServicePlan,
    free_time: FreeTime,
    window: SearchWindow,
    *,
    now: datetime,
    options: SearchOptions | None = None,
) -> SlotSearchResult:
    """Every grid start in the window where the whole chain fits, one slot per start (see the module doc)."""
    options = options or SearchOptions()
    chain = _Chain.compile(plan, options.step_min)
    lo = max(minute_of(window.starts_at, round_up=True), minute_of(now + options.min_notice, round_up=True))
    hi = minute_of(window.ends_at, round_up=True)
    if options.horizon is not None:
        hi = min(hi, minute_of(now + options.horizon, round_up=True))

    primaries, reasons = _primaries(plan, chain, options.preferred_staff_id)
    if reasons:
        return SlotSearchResult((), reasons)
    if lo >= hi:
        return SlotSearchResult((), (_window_closed_reason(window, now, options),))

    search = _Search(plan, chain, free_time, options, primaries)
    grid = LocalGrid(window.time_zone, options.step_min, lo, min(hi, search.latest_free_end()))
    found = search.run(grid, options.limit)
    limit = options.limit
    has_more = limit is not None and len(found) > limit
    if has_more:
        found = found[:limit]
    slots = tuple(search.materialise(f) for f in found)
    if slots:
        return SlotSearchResult(slots, (), has_more)
    return SlotSearchResult((), search.diagnose(lo, hi))


def find_slots_after(
    plan: ServicePlan,
    free_time: FreeTime,
    after: datetime,
    time_zone: tzinfo,
    *,
    now: datetime,
    options: SearchOptions | None = None,
    count: int = 3,
) -> SlotSearchResult:
    """The `count` nearest slots starting at or after `after` ("nothing today — here are the next three").

    Searches forward until the horizon, or without one until the end of the free time given. Cheap: the search
    works on intervals, so a long range costs little more than a short one, and it stops at `count`.
    """
    options = options or SearchOptions()
    if options.horizon is not None:
        until = now + options.horizon
    else:
        latest = max((iv.ends[-1] for iv in free_time.by_staff.values() if iv.ends), default=None)
        until = datetime_of(latest) if latest is not None else after + timedelta(minutes=options.step_min)
    until = max(until, after + timedelta(minutes=options.step_min))
    limited = replace(options, limit=count)
    return find_composite_slots(
        plan, free_time, SearchWindow(after, until, time_zone), now=now, options=limited
    )


# ---------------------------------------------------------------------------------------------------- engine

_EMPTY = IntervalList()


@dataclass(frozen=True, slots=True)
class _Chain:
    """The plan reduced to integers: what the engine actually iterates over."""

    durations: tuple[int, ...]
    held: tuple[int, ...]  # minutes segment i occupies on its staff member (plus its pause when held)
    pause_choices: tuple[tuple[int, ...], ...]  # allowed lengths of the pause after segment i (n - 1 entries)
    same: tuple[int, ...]  # indices of segments served by the primary
    any_: tuple[int, ...]  # indices of segments open to any eligible staff member
    policy: PausePolicy

    @property
    def flexible(self) -> bool:
        return any(len(choices) > 1 for choices in self.pause_choices)

    @property
    def fixed_offsets(self) -> tuple[int, ...]:
        """Start offsets from the chain start with the shortest pauses (the only ones unless flexible)."""
        offsets = [0]
        for d, choices in zip(self.durations, self.pause_choices, strict=False):
            offsets.append(offsets[-1] + d + choices[0])
        return tuple(offsets)

    @property
    def longest_offsets(self) -> tuple[int, ...]:
        offsets = [0]
        for d, choices in zip(self.durations, self.pause_choices, strict=False):
            offsets.append(offsets[-1] + d + choices[-1])
        return tuple(offsets)

    @classmethod
    def compile(cls, plan: ServicePlan, step_min: int) -> _Chain:
        segments = plan.segments
        holds = plan.policy.holds_pauses
        last = len(segments) - 1
        durations = tuple(s.duration_min for s in segments)
        held = tuple(
            s.duration_min + (s.gap_after_min if holds and i < last else 0) for i, s in enumerate(segments)
        )
        choices = tuple(pause_lengths(s, plan.policy, step_min) for s in segments[:-1])  # none after the last
        same = tuple(i for i, s in enumerate(segments) if s.staff_mode is StaffMode.SAME)
        any_ = tuple(i for i, s in enumerate(segments) if s.staff_mode is StaffMode.ANY)
        return cls(durations, held, choices, same, any_, plan.policy)


def pause_lengths(segment: Segment, policy: PausePolicy, step_min: int) -> tuple[int, ...]:
    """Allowed lengths of the pause after `segment`, shortest first.

    Flexible: `gap_after_min + k * step` up to `gap_after_max_min`, plus `gap_after_max_min` itself when it is
    off that ladder (so the documented maximum is always reachable). Every other policy: `gap_after_min` only.
    """
    low = segment.gap_after_min
    if policy is not PausePolicy.FLEXIBLE or segment.gap_after_max_min is None:
        return (low,)
    high = segment.gap_after_max_min
    lengths = list(range(low, high + 1, step_min))
    if lengths[-1] != high:
        lengths.append(high)
    return tuple(lengths)


def idle_waste(free: IntervalList, occupied: Sequence[tuple[int, int]], useful_gap_min: int) -> int:
    """Minutes of the free intervals touched by `occupied` that are left in pieces shorter than useful.

    `occupied` is sorted and each span lies inside one free interval (the search only places chains that fit).
    """
    starts, ends = free.starts, free.ends
    waste = 0
    current = -1
    cursor = 0
    for u, v in occupied:
        k = bisect_right(starts, u) - 1
        piece = u - (starts[k] if k != current else cursor)
        if k != current and current >= 0:
            right = ends[current] - cursor
            if 0 < right < useful_gap_min:
                waste += right
        if 0 < piece < useful_gap_min:
            waste += piece
        current = k
        cursor = v
    if current >= 0:
        right = ends[current] - cursor
        if 0 < right < useful_gap_min:
            waste += right
    return waste


class _Found(NamedTuple):
    """One chosen placement before it becomes datetimes (a NamedTuple: made in the hot loop)."""

    start: int
    primary: StaffId | None
    segment_starts: tuple[int, ...]
    waste: int


def _primaries(
    plan: ServicePlan, chain: _Chain, preferred: StaffId | None
) -> tuple[list[StaffId | None], tuple[NoSlotReason, ...]]:
    """Candidate primaries, ascending; `[None]` (or the preferred) when every segment is `any`."""
    reasons: list[NoSlotReason] = []
    for i in chain.any_:
        key = plan.segments[i].key
        if not plan.eligible_for(key):
            reasons.append(
                NoSlotReason(NoSlotCode.NO_ELIGIBLE_STAFF, f"no staff member may perform {key}", key)
            )
    if not chain.same:
        return [preferred], tuple(reasons)
    same_keys = [plan.segments[i].key for i in chain.same]
    candidates = frozenset.intersection(*(plan.eligible_for(k) for k in same_keys))
    if not candidates:
        reasons.insert(
            0,
            NoSlotReason(
                NoSlotCode.NO_ELIGIBLE_STAFF,
                f"no staff member may perform all of {', '.join(same_keys)}",
                same_keys[0] if len(same_keys) == 1 else None,
            ),
        )
    elif preferred is not None and preferred not in candidates:
        reasons.insert(
            0,
            NoSlotReason(
                NoSlotCode.NO_ELIGIBLE_STAFF,
                f"staff member {preferred} may not perform all of {', '.join(same_keys)}",
                staff_id=preferred,
            ),
        )
    if reasons:
        return [], tuple(reasons)
    if preferred is not None:
        return [preferred], ()
    ordered: list[StaffId | None] = [*sorted(candidates)]
    return ordered, ()


def _window_closed_reason(window: SearchWindow, now: datetime, options: SearchOptions) -> NoSlotReason:
    if window.ends_at <= window.starts_at:
        message = "the search window is empty"
    elif window.ends_at <= now + options.min_notice:
        message = f"the window ends before the minimum notice of {options.min_notice} allows a booking"
    else:
        message = "the window lies beyond the booking horizon"
    return NoSlotReason(NoSlotCode.WINDOW_CLOSED, message)


class _Search:
    """One search: caches per (staff member, length) the minutes at which a span of that length fits."""

    def __init__(
        self,
        plan: ServicePlan,
        chain: _Chain,
        free_time: FreeTime,
        options: SearchOptions,
        primaries: list[StaffId | None],
    ) -> None:
        self.plan = plan
        self.chain = chain
        self.free_time = free_time
        self.primaries = primaries
        self.useful = (
            options.useful_gap_min
            if options.useful_gap_min is not None
            else min(s.duration_min for s in plan.segments)
        )
        self._fits: dict[tuple[StaffId, int], IntervalList] = {}
        self._any_fits: dict[int, IntervalList] = {}
        self._datetimes: dict[int, datetime] = {}
        self._labels = [(s.key, s.name) for s in plan.segments]

    # -- building blocks

    def fits(self, staff_id: StaffId, length: int) -> IntervalList:
        key = (staff_id, length)
        cached = self._fits.get(key)
        if cached is None:
            cached = self._fits[key] = self.free_time.of(staff_id).fitting_starts(length)
        return cached

    def any_fits(self, i: int) -> IntervalList:
        """Where `any` segment i fits for at least one eligible staff member."""
        cached = self._any_fits.get(i)
        if cached is None:
            length = self.chain.held[i]
            staff = sorted(self.plan.eligible_for(self.plan.segments[i].key))
            lists = [self.fits(s, length) for s in staff]
            cached = self._any_fits[i] = lists[0].union(*lists[1:]) if lists else _EMPTY
        return cached

    def segment_fits(self, primary: StaffId | None, i: int) -> IntervalList:
        if primary is not None and i in self.chain.same:
            return self.fits(primary, self.chain.held[i])
        return self.any_fits(i)

    def latest_free_end(self) -> int:
        staff = {s for s in self.primaries if s is not None}
        for i in self.chain.any_:
            staff |= self.plan.eligible_for(self.plan.segments[i].key)
        ends = [self.free_time.of(s).ends[-1] for s in staff if self.free_time.of(s).ends]
        return max(ends, default=-(2**62))

    def primary_waste(self, primary: StaffId | None, segment_starts: Sequence[int]) -> int:
        if primary is None:
            return 0
        held = self.chain.held
        occupied = [(segment_starts[i], segment_starts[i] + held[i]) for i in self.chain.same]
        return idle_waste(self.free_time.of(primary), occupied, self.useful)

    # -- the search

    def run(self, grid: LocalGrid, limit: int | None) -> list[_Found]:
        """Placements in start order; one more than `limit` so the caller can tell there are more."""
        if self.chain.flexible:
            return self._run_flexible(grid, limit)
        return self._run_fixed(grid, limit)

    def _run_fixed(self, grid: LocalGrid, limit: int | None) -> list[_Found]:
        """Fixed offsets: per primary, the chain starts are one intersection of shifted interval lists."""
        offsets = self.chain.fixed_offsets
        n = len(offsets)
        per_primary: list[tuple[StaffId | None, IntervalList]] = []
        for primary in self.primaries:
            starts = intersect_all(
                [
                    (
                        self.segment_fits(primary, i).clipped(grid.lo + offsets[i], grid.hi + offsets[i]),
                        offsets[i],
                    )
                    for i in range(n)
                ]
            )
            per_primary.append((primary, starts))

        cutoff = grid.hi
        if limit is not None and per_primary:
            # walk the union of everyone's starts to the (limit + 1)-th grid start (the extra one says "there
            # are more"); ranking then only looks at starts up to it, however far the horizon is
            anyone = per_primary[0][1].union(*(starts for _, starts in per_primary[1:]))
            seen = 0
            for a, b in anyone:
                points_here = grid.points_between(a, b)
                if seen + len(points_here) > limit:
                    cutoff = points_here[limit - seen] + 1
                    break
                seen += len(points_here)

        best: dict[int, tuple[int, StaffId | None]] = {}
        settled: set[int] = set()  # starts whose best waste is already 0: no later (higher) id can beat it
        useful = self.useful
        for primary, starts in per_primary:
            for x, y in starts:
                points: Collection[int] = grid.points_between(x, min(y, cutoff))
                if settled:
                    points = set(points).difference(settled)
                if not points:
                    continue
                constant, terms = self._waste_terms(primary, x, offsets)
                for t in points:
                    waste = constant
                    for alpha, beta in terms:
                        left = t + alpha
                        if 0 < left < useful:
                            waste += left
                        right = beta - t
                        if 0 < right < useful:
                            waste += right
                    current = best.get(t)
                    # primaries come in ascending id order, so keeping the first of equals honours "lower id"
                    if current is None or waste < current[0]:
                        best[t] = (waste, primary)
                        if waste == 0:
                            settled.add(t)
        return [
            _Found(t, primary, tuple([t + o for o in offsets]), waste)
            for t, (waste, primary) in sorted(best.items())
        ]

    def _waste_terms(
        self, primary: StaffId | None, x: int, offsets: Sequence[int]
    ) -> tuple[int, list[tuple[int, int]]]:
        """`idle_waste` of the primary's `same` segments as a function of the chain start t, for one piece.

        Inside one piece of chain starts `[x, y)` every segment stays in the same free interval `[a, b)`, so
        per interval the waste is a constant (the idle pieces between two segments) plus the left piece
        `t + alpha` (alpha = offset of its first segment - a) and the right piece `beta - t` (beta = b - end
        offset of its last segment). Evaluating that per grid start costs a few additions, not a bisect.
        """
        if primary is None or not self.chain.same:
            return 0, []
        free = self.free_time.of(primary)
        free_starts, free_ends = free.starts, free.ends
        held = self.chain.held
        useful = self.useful
        constant = 0
        terms: list[tuple[int, int]] = []
        current = -1
        alpha = 0
        end_offset = 0
        for i in self.chain.same:
            k = bisect_right(free_starts, x + offsets[i]) - 1
            if k != current:
                if current >= 0:
                    terms.append((alpha, free_ends[current] - end_offset))
                alpha = offsets[i] - free_starts[k]
            else:
                between = offsets[i] - end_offset
                if 0 < between < useful:
                    constant += between
            end_offset = offsets[i] + held[i]
            current = k
        terms.append((alpha, free_ends[current] - end_offset))
        return constant, terms

    def _run_flexible(self, grid: LocalGrid, limit: int | None) -> list[_Found]:
        """Per start and primary, the earliest-ending chain (see `earliest_chain`); best primary per start."""
        chain = self.chain
        per_primary: dict[StaffId | None, tuple[tuple[IntervalList, ...], set[int]]] = {}
        shortest_offsets, longest_offsets = chain.fixed_offsets, chain.longest_offsets
        for primary in self.primaries:
            lists = tuple(self.segment_fits(primary, i) for i in range(len(chain.durations)))
            # a necessary condition, cheap on intervals: segment i can start somewhere in
            # [t + shortest offset, t + longest offset]; only starts passing it get the exact check
            maybe = intersect_all(
                [
                    (lst.widened(longest_offsets[i] - shortest_offsets[i]), shortest_offsets[i])
                    for i, lst in enumerate(lists)
                ]
            )
            points = {t for a, b in maybe.clipped(grid.lo, grid.hi) for t in grid.points_between(a, b)}
            per_primary[primary] = (lists, points)
        candidates = set().union(*(points for _, points in per_primary.values()))
        shortest = chain.fixed_offsets[-1]
        found: list[_Found] = []
        for t in sorted(candidates):
            best: tuple[int, int, _Found] | None = None
            for primary, (lists, points) in per_primary.items():
                if t not in points:
                    continue
                if best is not None and best[:2] == (t + shortest, 0):
                    break  # the shortest chain with no waste: a higher id cannot beat it
                starts = earliest_chain(t, chain.durations, chain.pause_choices, lists)
                if starts is None:
                    continue
                waste = self.primary_waste(primary, starts)
                end = starts[-1]
                if best is None or (end, waste) < best[:2]:
                    best = (end, waste, _Found(t, primary, starts, waste))
            if best is not None:
                found.append(best[2])
                if limit is not None and len(found) > limit:
                    break
        return found

    # -- output

    def materialise(self, found: _Found) -> CompositeSlot:
        chain = self.chain
        staff = self._assign_staff(found)
        starts = found.segment_starts
        at = self._datetime_at
        ends = [u + d for u, d in zip(starts, chain.durations, strict=True)]
        placements = tuple(
            [
                SegmentPlacement(key, name, at(u), at(v), who)
                for (key, name), u, v, who in zip(self._labels, starts, ends, staff, strict=True)
            ]
        )
        policy = self.plan.policy
        holds = policy.holds_pauses
        pauses = tuple(
            [
                PausePlacement(key, at(v), at(u), policy, who if holds else None)
                for (key, _), v, u, who in zip(self._labels, ends, starts[1:], staff, strict=False)
                if u > v
            ]
        )
        named = found.primary if found.primary is not None and chain.same else staff[0]
        waste = self._total_waste(staff, starts) if chain.any_ else found.waste
        return CompositeSlot(
            placements[0].starts_at, placements[-1].ends_at, named, placements, pauses, waste
        )

    def _datetime_at(self, minute: int) -> datetime:
        """Slots on a grid share most boundaries (A at 10:30 ends as A at 11:00 starts): convert each once."""
        moment = self._datetimes.get(minute)
        if moment is None:
            moment = self._datetimes[minute] = datetime_of(minute)
        return moment

    def _assign_staff(self, found: _Found) -> list[StaffId]:
        """The primary for `same` segments; greedily the least added waste for each `any` segment."""
        chain = self.chain
        starts = found.segment_starts
        if not chain.any_ and found.primary is not None:
            return [found.primary] * len(starts)
        staff: list[StaffId | None] = [None] * len(starts)
        occupied: dict[StaffId, list[tuple[int, int]]] = {}
        serving: set[StaffId] = set()
        if found.primary is not None:
            serving.add(found.primary)
            if chain.same:
                occupied[found.primary] = [(starts[i], starts[i] + chain.held[i]) for i in chain.same]
                for i in chain.same:
                    staff[i] = found.primary
        for i in chain.any_:
            u, v = starts[i], starts[i] + chain.held[i]
            best: tuple[int, int, StaffId] | None = None
            # no early exit on "adds nothing": added waste can be negative (filling a crumb the chain left)
            for candidate in sorted(self.plan.eligible_for(self.plan.segments[i].key)):
                free = self.free_time.of(candidate)
                if not free.covers(u, v):
                    continue
                held = occupied.get(candidate)
                if held:
                    added = idle_waste(free, sorted([*held, (u, v)]), self.useful) - idle_waste(
                        free, held, self.useful
                    )
                else:
                    added = idle_waste(free, [(u, v)], self.useful)
                key = (added, 0 if candidate in serving else 1, candidate)
                if best is None or key < best:
                    best = key
            assert best is not None  # the search only yields starts where every `any` segment fits someone
            chosen = best[2]
            staff[i] = chosen
            serving.add(chosen)
            occupied[chosen] = sorted([*occupied.get(chosen, []), (u, v)])
        return [s for s in staff if s is not None]

    def _total_waste(self, staff: Sequence[StaffId], starts: Sequence[int]) -> int:
        by_staff: dict[StaffId, list[tuple[int, int]]] = {}
        for i, s in enumerate(staff):
            by_staff.setdefault(s, []).append((starts[i], starts[i] + self.chain.held[i]))
        return sum(idle_waste(self.free_time.of(s), spans, self.useful) for s, spans in by_staff.items())

    # -- explaining an empty result

    def diagnose(self, lo: int, hi: int) -> tuple[NoSlotReason, ...]:
        plan, chain = self.plan, self.chain
        shortest = chain.fixed_offsets
        longest = chain.longest_offsets
        span_end = hi + longest[-1] + chain.held[-1]
        staff_of: dict[int, list[StaffId]] = {}
        for i in range(len(plan.segments)):
            if i in chain.same:
                staff_of[i] = [p for p in self.primaries if p is not None]
            else:
                staff_of[i] = sorted(plan.eligible_for(plan.segments[i].key))
        everyone = sorted({s for group in staff_of.values() for s in group})
        pinned = self.primaries[0] if len(self.primaries) == 1 and chain.same else None
        if not any(self.free_time.of(s).overlaps(lo, span_end) for s in everyone):
            message = (
                f"staff member {pinned} has no free time in the window (outside working hours?)"
                if pinned is not None
                else "no eligible staff member has free time in the window (outside working hours?)"
            )
            return (NoSlotReason(NoSlotCode.NO_FREE_TIME, message, staff_id=pinned),)
        reasons: list[NoSlotReason] = []
        for i, segment in enumerate(plan.segments):
            length = chain.held[i]
            fits_somewhere = any(
                self.fits(s, length).overlaps(lo + shortest[i], hi + longest[i]) for s in staff_of[i]
            )
            if not fits_somewhere:
                what = f"{segment.duration_min} min"
                if length > segment.duration_min:
                    what += f" plus its held pause of {length - segment.duration_min} min"
                reasons.append(
                    NoSlotReason(
                        NoSlotCode.SEGMENT_NEVER_FITS,
                        f"segment {segment.key} ({segment.name}, {what}) fits no free interval in the window",
                        segment.key,
                        pinned,
                    )
                )
        if reasons:
            return tuple(reasons)
        return (
            NoSlotReason(
                NoSlotCode.CHAIN_NEVER_FITS,
                "each segment fits somewhere, but never as one chain with its pauses on the grid",
                staff_id=pinned,
            ),
        )


def earliest_chain(
    start: int,
    durations: Sequence[int],
    pause_choices: Sequence[Sequence[int]],
    fits: Sequence[IntervalList],
) -> tuple[int, ...] | None:
    """Segment start minutes of the earliest-ending chain that starts at `start`, or None.

    `fits[i]` holds the minutes at which segment i may start; the pause after segment i may take any length in
    `pause_choices[i]`. Among the earliest-ending chains the pauses are lexicographically smallest (earlier
    pauses as short as possible).

    Why this is exact: let R_0 = {start} ∩ fits[0] and
    R_{i+1} = {r + d_i + p : r ∈ R_i, p ∈ choices_i} ∩ fits[i+1]. By induction R_i is *exactly* the set of
    start minutes of segment i over all feasible placements of segments 0..i (every such placement extends
    one of R_i by a valid pause into fits[i+1], and every element arises that way). The chain ends at the
    start of the last segment + d_last, so the earliest possible end is min(R_last) + d_last, and no choice
    of stretches can end earlier. Walking back we keep B_i, the members of R_i from which min(R_last) is
    still reachable, and walk forward again taking the shortest pause that stays inside B: the
    lexicographically smallest pauses of an earliest-ending chain.
    """
    if fits[0].index_containing(start) < 0:
        return None
    shortest = [start]
    for d, choices in zip(durations, pause_choices, strict=False):
        shortest.append(shortest[-1] + d + choices[0])
    if all(lst.index_containing(m) >= 0 for lst, m in zip(fits, shortest, strict=True)):
        return tuple(shortest)  # the shortest pauses fit: nothing ends earlier, nothing is smaller
    layers: list[list[int]] = [[start]]
    for i, choices in enumerate(pause_choices):
        nxt = fits[i + 1]
        reach = sorted({r + durations[i] + p for r in layers[-1] for p in choices})
        layer = [m for m in reach if nxt.index_containing(m) >= 0]
        if not layer:
            return None
        layers.append(layer)
    backward: list[set[int]] = [{layers[-1][0]}]
    for i in range(len(pause_choices) - 1, -1, -1):
        target = backward[0]
        backward.insert(
            0, {r for r in layers[i] if any(r + durations[i] + p in target for p in pause_choices[i])}
        )
    starts = [start]
    for i, choices in enumerate(pause_choices):
        target = backward[i + 1]
        pause = next(p for p in choices if starts[-1] + durations[i] + p in target)
        starts.append(starts[-1] + durations[i] + pause)
    return tuple(starts)


# ------------------------------------------------------------------------------------------------ gap filling


@dataclass(frozen=True, slots=True)
class FillerService:
    """A service that might fill a pause: its whole chain has to fit inside the pause."""

    service_id: int
    segments: tuple[Segment, ...]
    policy: PausePolicy


@dataclass(frozen=True, slots=True)
class PauseFiller:
    service_id: int
    starts_at: datetime  # the earliest placement inside the pause
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class PauseFill:
    starts_at: datetime
    ends_at: datetime
    fillers: tuple[PauseFiller, ...]

    @property
    def service_ids(self) -> tuple[int, ...]:
        return tuple(f.service_id for f in self.fillers)


def find_pause_fillers(
    free: IntervalList, held_free_pauses: IntervalList, services: Sequence[FillerService]
) -> tuple[PauseFill, ...]:
    """For each bookable pause in one staff member's day, the services whose whole chain fits inside it.

    `free` is the staff member's free time (the pauses of `free`/`flexible` appointments included, minus
    anything already booked into them); `held_free_pauses` are those pause intervals. A filler's chain uses
    its shortest pauses, must start and end inside the pause, and needs free time for its segments (and, if
    its own policy holds pauses, for those too). Placements are to the minute, not on the booking grid.
    """
    fills = []
    for pause_start, pause_end in held_free_pauses:
        usable = free.clipped(pause_start, pause_end)
        fillers = []
        for service in services:
            plan = ServicePlan(service.segments, service.policy, {})
            chain = _Chain.compile(plan, step_min=1)
            offsets = chain.fixed_offsets
            total = offsets[-1] + chain.durations[-1]
            if total > pause_end - pause_start:
                continue
            starts = intersect_all(
                [(usable.fitting_starts(chain.held[i]), offsets[i]) for i in range(len(offsets))]
            ).clipped(pause_start, pause_end - total + 1)
            if starts.starts:
                first = starts.starts[0]
                fillers.append(
                    PauseFiller(service.service_id, datetime_of(first), datetime_of(first + total))
                )
        fills.append(PauseFill(datetime_of(pause_start), datetime_of(pause_end), tuple(fillers)))
    return tuple(fills)
