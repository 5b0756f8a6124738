"""Property tests: the interval engine against the minute-by-minute reference, every policy and staff mode.

Two independent checks per generated case:
- *soundness*, checked directly here, minute by minute: every returned slot starts on the local grid inside
  the window, its segments are free for their staff members under the pause policy, its pauses have allowed
  lengths, and its staff are eligible;
- *completeness and ranking*, by comparison with `brute_force_slots`: the same starts (no feasible grid start
  missing), the same earliest-ending flexible stretches, and the same staff chosen by the ranking rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from composite_booking.domain.availability import (
    CompositeSlot,
    FreeTime,
    SearchOptions,
    SearchWindow,
    ServicePlan,
    find_composite_slots,
)
from composite_booking.domain.availability_reference import brute_force_slots
from composite_booking.domain.intervals import IntervalList, minute_of
from composite_booking.domain.segments import PausePolicy, Segment, StaffMode

BERLIN = ZoneInfo("Europe/Berlin")
UTC_ZONE = ZoneInfo("UTC")
# the two DST switches of 2026 in Berlin, and an ordinary summer day
DAYS = (datetime(2026, 3, 29), datetime(2026, 10, 25), datetime(2026, 6, 15))


@dataclass(frozen=True)
class Case:
    plan: ServicePlan
    free_time: FreeTime
    window: SearchWindow
    now: datetime
    options: SearchOptions


@st.composite
def cases(draw: st.DrawFn, policy: PausePolicy, staff_modes: bool) -> Case:
    zone: tzinfo = draw(st.sampled_from([BERLIN, UTC_ZONE]))
    day = draw(st.sampled_from(DAYS)).replace(tzinfo=zone)
    base = minute_of(day)
    step = draw(st.sampled_from([5, 10, 15, 30, 25]))  # 25 does not divide a day: per-day alignment

    count = draw(st.integers(1, 4))
    segments = []
    for index in range(count):
        last = index == count - 1
        gap = 0 if last else draw(st.sampled_from([0, 5, 10, 15, 30]))
        gap_max = None
        if policy is PausePolicy.FLEXIBLE and not last and draw(st.integers(0, 3)):
            gap_max = gap + draw(st.sampled_from([0, 5, 15, 20, 40]))
        mode = draw(st.sampled_from([StaffMode.SAME, StaffMode.ANY])) if staff_modes else StaffMode.SAME
        duration = draw(st.sampled_from([5, 10, 15, 20, 30, 45]))
        segments.append(Segment(chr(ord("A") + index), f"segment {index}", duration, gap, gap_max, mode))

    staff = list(range(1, draw(st.integers(1, 3)) + 1))
    everyone = frozenset(staff)
    some_staff = st.lists(st.sampled_from(staff), min_size=1, unique=True).map(frozenset)
    eligible = {s.key: draw(st.one_of(st.just(everyone), some_staff)) for s in segments}
    # working blocks with short bookings cut out: fragments where stretching and other staff matter
    blocks = st.lists(st.tuples(st.integers(0, 1200), st.integers(60, 600)), min_size=1, max_size=3)
    bookings = st.lists(st.tuples(st.integers(0, 1500), st.integers(5, 30)), max_size=15)
    free = {
        member: IntervalList.from_pairs((base + a, base + a + n) for a, n in draw(blocks)).subtract(
            IntervalList.from_pairs((base + a, base + a + n) for a, n in draw(bookings))
        )
        for member in staff
    }
    if draw(st.booleans()):  # identical calendars: every start is a tie the ranking rule has to break
        free = dict.fromkeys(staff, free[1])
    window_start = base + draw(st.integers(0, 600))
    window = SearchWindow(
        datetime_from(window_start),
        datetime_from(window_start + draw(st.integers(60, 1200))),
        zone,
    )
    options = SearchOptions(
        step_min=step,
        min_notice=timedelta(minutes=draw(st.sampled_from([0, 0, 45, 120]))),
        horizon=draw(st.sampled_from([None, None, timedelta(hours=16)])),
        preferred_staff_id=draw(st.sampled_from([None, None, *staff])),
        limit=draw(st.sampled_from([None, None, 1, 4])),
        useful_gap_min=draw(st.sampled_from([None, 0, 20, 60])),
    )
    now = datetime_from(base + draw(st.integers(-600, 300)))
    return Case(
        ServicePlan(tuple(segments), policy, eligible), FreeTime.from_minutes(free), window, now, options
    )


def datetime_from(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, tz=UTC_ZONE)


def assert_slot_is_sound(slot: CompositeSlot, case: Case) -> None:
    plan, options = case.plan, case.options
    free = {staff: {m for a, b in iv for m in range(a, b)} for staff, iv in case.free_time.by_staff.items()}
    start = minute_of(slot.starts_at)

    local = slot.starts_at.astimezone(case.window.time_zone)
    assert (local.hour * 60 + local.minute) % options.step_min == 0
    assert case.window.starts_at <= slot.starts_at < case.window.ends_at
    assert slot.starts_at >= case.now + options.min_notice
    if options.horizon is not None:
        assert slot.starts_at < case.now + options.horizon

    placements = slot.segments
    assert [p.key for p in placements] == [s.key for s in plan.segments]
    assert placements[0].starts_at == slot.starts_at
    assert placements[-1].ends_at == slot.ends_at
    same_staff = {
        p.staff_id for p, s in zip(placements, plan.segments, strict=True) if s.staff_mode == "same"
    }
    assert len(same_staff) <= 1
    if options.preferred_staff_id is not None and same_staff:
        assert same_staff == {options.preferred_staff_id}

    pauses = {p.after_key: p for p in slot.pauses}
    for index, (placement, segment) in enumerate(zip(placements, plan.segments, strict=True)):
        assert placement.staff_id in plan.eligible_staff[segment.key]
        begin, end = minute_of(placement.starts_at), minute_of(placement.ends_at)
        assert end - begin == segment.duration_min
        assert all(m in free[placement.staff_id] for m in range(begin, end))
        if index == len(placements) - 1:
            continue
        gap = minute_of(placements[index + 1].starts_at) - end
        high = segment.gap_after_max_min if plan.policy is PausePolicy.FLEXIBLE else None
        if high is None:
            assert gap == segment.gap_after_min
        else:
            assert gap == high or (
                segment.gap_after_min <= gap <= high and (gap - segment.gap_after_min) % options.step_min == 0
            )
        if gap == 0:
            assert segment.key not in pauses
            continue
        pause = pauses[segment.key]
        assert (pause.starts_at, pause.ends_at) == (placement.ends_at, placements[index + 1].starts_at)
        if plan.policy.holds_pauses:
            assert pause.held_by_staff_id == placement.staff_id
            assert all(m in free[placement.staff_id] for m in range(end, end + gap))
        else:
            assert pause.held_by_staff_id is None
    assert start == minute_of(placements[0].starts_at)


def check(case: Case) -> None:
    result = find_composite_slots(case.plan, case.free_time, case.window, now=case.now, options=case.options)
    reference = brute_force_slots(case.plan, case.free_time, case.window, now=case.now, options=case.options)

    for slot in result.slots:
        assert_slot_is_sound(slot, case)
    limit = case.options.limit
    assert result.slots == (reference[:limit] if limit is not None else reference)
    assert result.has_more == (limit is not None and len(reference) > limit)
    assert bool(result.reasons) == (not result.slots)
    assert len({slot.starts_at for slot in result.slots}) == len(result.slots)  # one slot per start


@pytest.mark.parametrize("policy", list(PausePolicy))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_single_staff_chain_matches_the_minute_by_minute_reference(
    policy: PausePolicy, data: st.DataObject
) -> None:
    check(data.draw(cases(policy, staff_modes=False)))


@pytest.mark.parametrize("policy", list(PausePolicy))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_mixed_staff_modes_match_the_minute_by_minute_reference(
    policy: PausePolicy, data: st.DataObject
) -> None:
    check(data.draw(cases(policy, staff_modes=True)))
