"""The obvious, slow availability search: the reference the real one is tested and benchmarked against.

Minute by minute: every minute of the window is converted to the branch's wall clock to decide whether it is a
grid start, every segment is checked minute by minute against sets of free minutes, every combination of
flexible pauses is tried, and idle waste is measured by walking free minutes. It shares only the input and
output types with `availability`, none of its algorithms, so agreement between the two means something.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import datetime

from composite_booking.domain.availability import (
    CompositeSlot,
    FreeTime,
    PausePlacement,
    SearchOptions,
    SearchWindow,
    SegmentPlacement,
    ServicePlan,
    StaffId,
)
from composite_booking.domain.intervals import datetime_of, minute_of
from composite_booking.domain.segments import PausePolicy, StaffMode

_FreeLookup = Callable[[StaffId], set[int]]


def brute_force_slots(
    plan: ServicePlan,
    free_time: FreeTime,
    window: SearchWindow,
    *,
    now: datetime,
    options: SearchOptions | None = None,
) -> tuple[CompositeSlot, ...]:
    """Every slot `find_composite_slots` should return, ignoring `options.limit` (slice the result)."""
    options = options or SearchOptions()
    segments = plan.segments
    n = len(segments)
    holds = plan.policy in (PausePolicy.BLOCKED, PausePolicy.NEVER)
    durations = [s.duration_min for s in segments]
    held = [s.duration_min + (s.gap_after_min if holds and i < n - 1 else 0) for i, s in enumerate(segments)]
    useful = options.useful_gap_min if options.useful_gap_min is not None else min(durations)
    free = {staff: {m for a, b in spans for m in range(a, b)} for staff, spans in free_time.by_staff.items()}

    def free_minutes(staff: StaffId) -> set[int]:
        return free.get(staff, set())

    def all_free(staff: StaffId, start: int, length: int) -> bool:
        minutes = free_minutes(staff)
        return all(m in minutes for m in range(start, start + length))

    same = [i for i, s in enumerate(segments) if s.staff_mode is StaffMode.SAME]
    eligible = [sorted(plan.eligible_staff.get(s.key, frozenset())) for s in segments]
    if same:
        candidates = sorted(set.intersection(*(set(eligible[i]) for i in same)))
        if options.preferred_staff_id is not None:
            if options.preferred_staff_id not in candidates:
                return ()
            candidates = [options.preferred_staff_id]
        primaries: list[StaffId | None] = list(candidates)
    else:
        primaries = [options.preferred_staff_id]

    pause_options: list[list[int]] = []
    for s in segments[:-1]:
        lengths = [s.gap_after_min]
        if plan.policy is PausePolicy.FLEXIBLE and s.gap_after_max_min is not None:
            lengths = list(range(s.gap_after_min, s.gap_after_max_min + 1, options.step_min))
            if s.gap_after_max_min not in lengths:
                lengths.append(s.gap_after_max_min)
        pause_options.append(lengths)
    combos = sorted(itertools.product(*pause_options), key=lambda c: (sum(c), c))

    lo = max(minute_of(window.starts_at, round_up=True), minute_of(now + options.min_notice, round_up=True))
    hi = minute_of(window.ends_at, round_up=True)
    if options.horizon is not None:
        hi = min(hi, minute_of(now + options.horizon, round_up=True))

    slots: list[CompositeSlot] = []
    for t in range(lo, hi):
        local = datetime_of(t).astimezone(window.time_zone)
        if (local.hour * 60 + local.minute) % options.step_min:
            continue
        best: tuple[int, int, StaffId | None, list[int]] | None = None
        for primary in primaries:
            for combo in combos:
                starts = [t]
                for i in range(n - 1):
                    starts.append(starts[-1] + durations[i] + combo[i])
                if all(
                    all_free(primary, starts[i], held[i])
                    if primary is not None and i in same
                    else any(all_free(s, starts[i], held[i]) for s in eligible[i])
                    for i in range(n)
                ):
                    spans = [(starts[i], starts[i] + held[i]) for i in same]
                    waste = _waste(free_minutes(primary), spans, useful) if primary is not None else 0
                    end = starts[-1] + durations[-1]
                    if best is None or (end, waste) < (best[0], best[1]):
                        best = (end, waste, primary, starts)
                    break
        if best is None:
            continue
        _, _, primary, starts = best
        staff = _assign(plan, primary, same, eligible, starts, held, free_minutes, useful)
        slots.append(_slot(plan, primary, same, staff, starts, held, durations, free_minutes, useful))
    return tuple(slots)


def _assign(
    plan: ServicePlan,
    primary: StaffId | None,
    same: list[int],
    eligible: list[list[StaffId]],
    starts: list[int],
    held: list[int],
    free_minutes: _FreeLookup,
    useful: int,
) -> list[StaffId]:
    staff: dict[int, StaffId] = {}
    spans: dict[StaffId, list[tuple[int, int]]] = {}
    serving: set[StaffId] = set()
    if primary is not None:
        serving.add(primary)
        for i in same:
            staff[i] = primary
            spans.setdefault(primary, []).append((starts[i], starts[i] + held[i]))
    for i in range(len(plan.segments)):
        if i in same:
            continue
        span = (starts[i], starts[i] + held[i])
        options = []
        for s in eligible[i]:
            minutes = free_minutes(s)
            if not all(m in minutes for m in range(*span)):
                continue
            before = spans.get(s, [])
            added = _waste(minutes, sorted([*before, span]), useful) - _waste(minutes, before, useful)
            options.append((added, 0 if s in serving else 1, s))
        chosen = min(options)[2]
        staff[i] = chosen
        serving.add(chosen)
        spans.setdefault(chosen, []).append(span)
    return [staff[i] for i in range(len(plan.segments))]


def _slot(
    plan: ServicePlan,
    primary: StaffId | None,
    same: list[int],
    staff: list[StaffId],
    starts: list[int],
    held: list[int],
    durations: list[int],
    free_minutes: _FreeLookup,
    useful: int,
) -> CompositeSlot:
    segments = plan.segments
    holds = plan.policy in (PausePolicy.BLOCKED, PausePolicy.NEVER)
    placements = tuple(
        SegmentPlacement(
            s.key, s.name, datetime_of(starts[i]), datetime_of(starts[i] + durations[i]), staff[i]
        )
        for i, s in enumerate(segments)
    )
    pauses = tuple(
        PausePlacement(
            segments[i].key,
            datetime_of(starts[i] + durations[i]),
            datetime_of(starts[i + 1]),
            plan.policy,
            staff[i] if holds else None,
        )
        for i in range(len(segments) - 1)
        if starts[i + 1] - starts[i] - durations[i] > 0
    )
    by_staff: dict[StaffId, list[tuple[int, int]]] = {}
    for i, s in enumerate(staff):
        by_staff.setdefault(s, []).append((starts[i], starts[i] + held[i]))
    waste = sum(_waste(free_minutes(s), spans, useful) for s, spans in by_staff.items())
    named = primary if primary is not None and same else staff[0]
    return CompositeSlot(placements[0].starts_at, placements[-1].ends_at, named, placements, pauses, waste)


def _waste(free: set[int], spans: Sequence[tuple[int, int]], useful: int) -> int:
    """Walk each free run the spans touch, minute by minute, and add up the short idle pieces."""
    occupied = {m for a, b in spans for m in range(a, b)}
    runs: set[tuple[int, int]] = set()
    for a, _ in spans:
        left = a
        while left - 1 in free:
            left -= 1
        right = a
        while right in free:
            right += 1
        runs.add((left, right))
    waste = 0
    for left, right in runs:
        piece = 0
        for m in range(left, right + 1):
            if m < right and m not in occupied:
                piece += 1
                continue
            if 0 < piece < useful:
                waste += piece
            piece = 0
    return waste
