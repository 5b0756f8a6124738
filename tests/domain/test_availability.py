"""Scenarios for the composite availability search, written in Berlin wall-clock time."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from composite_booking.domain.availability import (
    CompositeSlot,
    FillerService,
    FreeTime,
    NoSlotCode,
    SearchOptions,
    SearchWindow,
    ServicePlan,
    SlotSearchResult,
    StaffId,
    earliest_chain,
    find_composite_slots,
    find_pause_fillers,
    find_slots_after,
)
from composite_booking.domain.intervals import IntervalList, minute_of
from composite_booking.domain.segments import PausePolicy, Segment, StaffMode

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
MONDAY = date(2026, 6, 15)
SPRING_FORWARD = date(2026, 3, 29)
FALL_BACK = date(2026, 10, 25)


def at(hhmm: str, day: date = MONDAY) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=BERLIN)


def span(start: str, end: str, day: date = MONDAY) -> tuple[int, int]:
    return minute_of(at(start, day)), minute_of(at(end, day))


def free_time(by_staff: dict[StaffId, list[tuple[str, str]]], day: date = MONDAY) -> FreeTime:
    return FreeTime.from_minutes(
        {staff: [span(a, b, day) for a, b in spans] for staff, spans in by_staff.items()}
    )


def search(
    plan: ServicePlan,
    free: FreeTime,
    *,
    day: date = MONDAY,
    window: tuple[str, str] = ("00:00", "23:59"),
    now: datetime | None = None,
    **options: object,
) -> SlotSearchResult:
    search_window = SearchWindow(at(window[0], day), at(window[1], day), BERLIN)
    return find_composite_slots(
        plan,
        free,
        search_window,
        now=now or at("00:00", day) - timedelta(days=1),
        options=SearchOptions(**options),  # type: ignore[arg-type]
    )


def local_starts(result: SlotSearchResult) -> list[str]:
    return [slot.starts_at.astimezone(BERLIN).strftime("%H:%M") for slot in result.slots]


def wall(moment: datetime) -> str:
    return moment.astimezone(BERLIN).strftime("%H:%M")


def slot_at(result: SlotSearchResult, hhmm: str) -> CompositeSlot:
    return next(slot for slot in result.slots if wall(slot.starts_at) == hhmm)


COLOUR = (Segment("A", "Färben", 30, 30), Segment("B", "Waschen", 15))


# ------------------------------------------------------------------------------------------- pause policies


def test_free_pauses_may_overlap_other_bookings_but_blocked_and_never_pauses_may_not() -> None:
    # staff 1 has a booking 09:45-10:00, exactly inside the colour's processing time of a 09:15 start
    free = free_time({1: [("09:00", "09:45"), ("10:00", "12:00")]})

    free_policy = search(ServicePlan.for_staff(COLOUR, PausePolicy.FREE, [1]), free)
    blocked = search(ServicePlan.for_staff(COLOUR, PausePolicy.BLOCKED, [1]), free)
    never = search(ServicePlan.for_staff(COLOUR, PausePolicy.NEVER, [1]), free)

    assert local_starts(free_policy)[:2] == ["09:00", "09:15"]
    assert local_starts(blocked)[:1] == ["10:00"]  # A+pause needs a free hour; 09:00-09:45 is too short
    assert local_starts(never) == local_starts(blocked)
    pause = slot_at(free_policy, "09:15").pauses[0]
    assert (wall(pause.starts_at), wall(pause.ends_at), pause.held_by_staff_id) == ("09:45", "10:15", None)
    held = slot_at(blocked, "10:00").pauses[0]
    assert (held.policy, held.held_by_staff_id) == (PausePolicy.BLOCKED, 1)


def test_blocked_pause_is_held_by_the_staff_member_of_the_segment_before_it() -> None:
    segments = (
        Segment("A", "Färben", 30, 15, staff_mode=StaffMode.ANY),
        Segment("B", "Schneiden", 30),
    )
    plan = ServicePlan(segments, PausePolicy.BLOCKED, {"A": frozenset({2}), "B": frozenset({1})})
    # staff 2 (colour) is free only for colour + held pause; staff 1 is busy in that pause but free for B
    free = free_time({1: [("09:45", "10:15")], 2: [("09:00", "09:45")]})

    result = search(plan, free)

    assert local_starts(result) == ["09:00"]
    slot = result.slots[0]
    assert [p.staff_id for p in slot.segments] == [2, 1]
    assert slot.staff_id == 1  # the primary (the staff member of the `same` segments)
    assert slot.pauses[0].held_by_staff_id == 2


def test_flexible_pause_stretches_to_the_shortest_length_that_fits() -> None:
    segments = (Segment("A", "Aufhellen", 30, 15, 45), Segment("B", "Toner", 30))
    plan = ServicePlan.for_staff(segments, PausePolicy.FLEXIBLE, [1])
    # a booking 09:30-10:15 forces B of a 09:00 start to 10:15: a 45-minute pause
    free = free_time({1: [("09:00", "09:30"), ("10:15", "11:00")]})

    result = search(plan, free)

    slot = slot_at(result, "09:00")
    assert (wall(slot.pauses[0].starts_at), wall(slot.pauses[0].ends_at)) == ("09:30", "10:15")
    assert wall(slot.ends_at) == "10:45"
    assert slot.pauses[0].held_by_staff_id is None


def test_flexible_maximum_is_reachable_even_off_the_step_ladder() -> None:
    segments = (Segment("A", "Aufhellen", 30, 10, 25), Segment("B", "Toner", 15))
    plan = ServicePlan.for_staff(segments, PausePolicy.FLEXIBLE, [1])
    # with a 15-minute step the ladder is 10, 25 (the maximum itself): B can only start at 09:55
    free = free_time({1: [("09:00", "09:30"), ("09:55", "10:10")]})

    result = search(plan, free)

    assert local_starts(result) == ["09:00"]
    assert wall(result.slots[0].segments[1].starts_at) == "09:55"


def test_flexible_finds_the_earliest_end_even_when_the_earliest_next_segment_is_a_dead_end() -> None:
    segments = (Segment("A", "A", 10, 0, 20), Segment("B", "B", 10), Segment("C", "C", 10))
    plan = ServicePlan.for_staff(segments, PausePolicy.FLEXIBLE, [1])
    # B fits at 09:10 but C then needs 09:20 (busy); only B at 09:30 leads to a whole chain
    free = free_time({1: [("09:00", "09:20"), ("09:25", "09:50")]})

    result = search(plan, free, step_min=10)

    slot = slot_at(result, "09:00")
    assert [wall(p.starts_at) for p in slot.segments] == ["09:00", "09:30", "09:40"]


def test_flexible_prefers_short_early_pauses_among_equally_short_chains() -> None:
    segments = (Segment("A", "A", 10, 0, 30), Segment("B", "B", 30, 0, 30), Segment("C", "C", 30))
    plan = ServicePlan.for_staff(segments, PausePolicy.FLEXIBLE, [1])
    # pauses (10, 20) and (20, 10) both end at 10:50; the rule takes the shorter first pause
    free = free_time({1: [("09:00", "10:00"), ("10:20", "12:00")]})

    result = search(plan, free, step_min=10)

    slot = slot_at(result, "09:00")
    assert [wall(p.starts_at) for p in slot.segments] == ["09:00", "09:20", "10:20"]
    assert wall(slot.ends_at) == "10:50"


def test_earliest_chain_returns_none_when_no_stretch_fits() -> None:
    fits = [IntervalList.from_pairs([(0, 1)]), IntervalList.from_pairs([(100, 101)])]

    assert earliest_chain(0, [10], [(0, 10, 20)], fits) is None
    assert earliest_chain(0, [10], [(0, 10, 20, 90)], fits) == (0, 100)


# ------------------------------------------------------------------------------------- staff and ranking


def test_any_segment_goes_to_another_staff_member_when_the_primary_is_busy() -> None:
    segments = (
        Segment("A", "Färben", 30, 0),
        Segment("B", "Waschen", 15, 0, staff_mode=StaffMode.ANY),
        Segment("C", "Schneiden", 30),
    )
    plan = ServicePlan(
        segments, PausePolicy.FREE, {"A": frozenset({1}), "B": frozenset({1, 2}), "C": frozenset({1})}
    )
    free = free_time({1: [("09:00", "09:30"), ("09:45", "10:15")], 2: [("08:00", "12:00")]})

    result = search(plan, free)

    slot = slot_at(result, "09:00")
    assert [p.staff_id for p in slot.segments] == [1, 2, 1]
    assert slot.staff_id == 1
    assert slot.staff_ids == frozenset({1, 2})


def test_any_segment_stays_with_the_primary_when_nobody_wastes_less() -> None:
    segments = (Segment("A", "Färben", 30), Segment("B", "Waschen", 30, staff_mode=StaffMode.ANY))
    plan = ServicePlan.for_staff(segments, PausePolicy.FREE, [1, 2])
    free = free_time({1: [("09:00", "10:00")], 2: [("09:00", "10:00")]})

    result = search(plan, free)

    assert [p.staff_id for p in slot_at(result, "09:00").segments] == [1, 1]


def test_an_any_segment_may_fill_a_crumb_the_chain_itself_left() -> None:
    segments = (
        Segment("A", "Färben", 5, 5),
        Segment("B", "Waschen", 15, staff_mode=StaffMode.ANY),
        Segment("C", "Pflege", 5, staff_mode=StaffMode.ANY),
        Segment("D", "Föhnen", 5),
    )
    plan = ServicePlan.for_staff(segments, PausePolicy.FREE, [1, 2])
    free = free_time({1: [("09:00", "10:05")], 2: [("09:00", "10:00")]})

    result = search(plan, free, step_min=5, useful_gap_min=20)

    # B on staff 2 leaves 2 a 5-minute crumb 09:55-10:00; C takes exactly that crumb (added waste -5)
    # rather than staying with staff 1, where it would add none
    slot = slot_at(result, "09:30")
    assert [p.staff_id for p in slot.segments] == [1, 2, 2, 1]
    assert slot.idle_waste_min == 0


def test_ranking_prefers_the_staff_member_left_with_the_least_unusable_idle_time() -> None:
    plan = ServicePlan.for_staff((Segment("A", "Schnitt", 60),), PausePolicy.FREE, [1, 2, 3])
    # at 09:00 staff 1 would keep a useless 10-minute crumb; staff 2 fits exactly; staff 3 leaves an hour
    free = free_time({1: [("09:00", "10:10")], 2: [("09:00", "10:00")], 3: [("09:00", "11:00")]})

    result = search(plan, free, useful_gap_min=30)

    nine = slot_at(result, "09:00")
    assert (nine.staff_id, nine.idle_waste_min) == (2, 0)


def test_ranking_ties_go_to_the_lower_staff_id_even_when_both_waste_time() -> None:
    plan = ServicePlan.for_staff((Segment("A", "Schnitt", 60),), PausePolicy.FREE, [5, 3])
    free = free_time({3: [("09:00", "10:10")], 5: [("09:00", "10:10")]})

    result = search(plan, free, useful_gap_min=30)

    nine = slot_at(result, "09:00")
    assert (nine.staff_id, nine.idle_waste_min) == (3, 10)


def test_a_pause_filled_by_an_existing_booking_counts_as_no_waste() -> None:
    plan = ServicePlan.for_staff(COLOUR, PausePolicy.FREE, [1, 2])
    # staff 2 already has a booking 09:30-10:00 inside the pause; staff 1 would idle through it
    free = free_time({1: [("09:00", "10:15")], 2: [("09:00", "09:30"), ("10:00", "10:15")]})

    result = search(plan, free, useful_gap_min=45)

    assert slot_at(result, "09:00").staff_id == 2


def test_preferred_staff_pins_the_same_segments() -> None:
    plan = ServicePlan.for_staff(COLOUR, PausePolicy.FREE, [1, 2])
    free = free_time({1: [("09:00", "12:00")], 2: [("09:00", "12:00")]})

    anyone = search(plan, free)
    preferred = search(plan, free, preferred_staff_id=2)

    assert {slot.staff_id for slot in anyone.slots} == {1}
    assert {slot.staff_id for slot in preferred.slots} == {2}
    assert local_starts(preferred) == local_starts(anyone)


def test_preferred_staff_who_may_not_perform_the_service_is_a_reason() -> None:
    plan = ServicePlan.for_staff(COLOUR, PausePolicy.FREE, [1])
    free = free_time({1: [("09:00", "12:00")], 7: [("09:00", "12:00")]})

    result = search(plan, free, preferred_staff_id=7)

    assert result.slots == ()
    assert [(r.code, r.staff_id) for r in result.reasons] == [(NoSlotCode.NO_ELIGIBLE_STAFF, 7)]


# ------------------------------------------------------------------------------------- grid, DST, window


def test_spring_forward_skips_the_nonexistent_hour() -> None:
    plan = ServicePlan.for_staff((Segment("A", "A", 30),), PausePolicy.FREE, [1])
    night = FreeTime.from_minutes({1: [span("00:00", "06:00", SPRING_FORWARD)]})

    result = search(plan, night, day=SPRING_FORWARD, window=("00:00", "05:00"), step_min=30)

    assert local_starts(result) == ["00:00", "00:30", "01:00", "01:30", "03:00", "03:30", "04:00", "04:30"]
    utc = [slot.starts_at.astimezone(UTC).strftime("%H:%M") for slot in result.slots]
    assert utc[3:5] == ["00:30", "01:00"]  # 01:30 CET and 03:00 CEST are consecutive half hours


def test_fall_back_offers_the_repeated_hour_twice() -> None:
    plan = ServicePlan.for_staff((Segment("A", "A", 30),), PausePolicy.FREE, [1])
    start = at("00:00", FALL_BACK)
    night = FreeTime.from_minutes({1: [(minute_of(start), minute_of(start) + 6 * 60)]})

    result = search(plan, night, day=FALL_BACK, window=("01:00", "03:30"), step_min=30)

    assert local_starts(result) == ["01:00", "01:30", "02:00", "02:30", "02:00", "02:30", "03:00"]
    offsets = [slot.starts_at.astimezone(BERLIN).utcoffset() for slot in result.slots]
    assert offsets[2] == timedelta(hours=2)
    assert offsets[4] == timedelta(hours=1)


def test_working_hours_keep_their_wall_clock_across_the_switch() -> None:
    plan = ServicePlan.for_staff((Segment("A", "A", 60),), PausePolicy.FREE, [1])
    saturday = SPRING_FORWARD - timedelta(days=1)
    free = FreeTime.from_minutes(
        {1: [span("09:00", "10:00", saturday), span("09:00", "10:00", SPRING_FORWARD)]}
    )
    window = SearchWindow(at("00:00", saturday), at("23:00", SPRING_FORWARD), BERLIN)

    result = find_composite_slots(plan, free, window, now=at("00:00", saturday))

    assert [slot.starts_at.astimezone(UTC).strftime("%d %H:%M") for slot in result.slots] == [
        "28 08:00",
        "29 07:00",
    ]


def test_a_step_that_does_not_divide_the_day_restarts_at_local_midnight() -> None:
    plan = ServicePlan.for_staff((Segment("A", "A", 5),), PausePolicy.FREE, [1])
    late = FreeTime.from_minutes(
        {1: [(minute_of(at("23:00")), minute_of(at("00:40", MONDAY + timedelta(1))))]}
    )
    window = SearchWindow(at("23:00"), at("00:40", MONDAY + timedelta(days=1)), BERLIN)

    result = find_composite_slots(plan, late, window, now=at("00:00"), options=SearchOptions(step_min=25))

    assert local_starts(result) == ["23:20", "23:45", "00:00", "00:25"]


def test_minimum_notice_and_horizon_bound_the_starts() -> None:
    plan = ServicePlan.for_staff((Segment("A", "A", 30),), PausePolicy.FREE, [1])
    free = free_time({1: [("08:00", "18:00")]})

    result = search(
        plan, free, now=at("09:05"), min_notice=timedelta(hours=1), horizon=timedelta(hours=3), step_min=15
    )

    assert local_starts(result)[0] == "10:15"
    assert local_starts(result)[-1] == "12:00"  # must start before 12:05


def test_a_window_entirely_before_the_minimum_notice_is_closed() -> None:
    plan = ServicePlan.for_staff((Segment("A", "A", 30),), PausePolicy.FREE, [1])
    free = free_time({1: [("08:00", "18:00")]})

    result = search(plan, free, window=("09:00", "10:00"), now=at("09:30"), min_notice=timedelta(hours=1))

    assert [r.code for r in result.reasons] == [NoSlotCode.WINDOW_CLOSED]
    assert "notice" in result.reasons[0].message


def test_a_window_beyond_the_horizon_is_closed() -> None:
    plan = ServicePlan.for_staff((Segment("A", "A", 30),), PausePolicy.FREE, [1])
    free = free_time({1: [("08:00", "18:00")]})

    result = search(plan, free, now=at("00:00") - timedelta(days=30), horizon=timedelta(days=14))

    assert [r.code for r in result.reasons] == [NoSlotCode.WINDOW_CLOSED]
    assert "horizon" in result.reasons[0].message


def test_seconds_in_free_time_and_window_never_widen_them() -> None:
    plan = ServicePlan.for_staff((Segment("A", "A", 30),), PausePolicy.FREE, [1])
    free = FreeTime.from_datetimes({1: [(at("09:00") + timedelta(seconds=1), at("10:00"))]})

    result = search(plan, free, step_min=5)

    assert local_starts(result)[0] == "09:05"
    assert local_starts(result)[-1] == "09:30"


# ------------------------------------------------------------------------------------------ no slot: why


def test_no_eligible_staff_names_the_segment() -> None:
    segments = (Segment("A", "Färben", 30), Segment("B", "Massage", 30, staff_mode=StaffMode.ANY))
    plan = ServicePlan(segments, PausePolicy.FREE, {"A": frozenset({1}), "B": frozenset()})

    result = search(plan, free_time({1: [("09:00", "12:00")]}))

    assert [(r.code, r.segment_key) for r in result.reasons] == [(NoSlotCode.NO_ELIGIBLE_STAFF, "B")]


def test_no_staff_member_may_perform_all_same_segments() -> None:
    plan = ServicePlan(COLOUR, PausePolicy.FREE, {"A": frozenset({1}), "B": frozenset({2})})

    result = search(plan, free_time({1: [("09:00", "12:00")], 2: [("09:00", "12:00")]}))

    assert [r.code for r in result.reasons] == [NoSlotCode.NO_ELIGIBLE_STAFF]
    assert "A, B" in result.reasons[0].message


def test_outside_working_hours_is_no_free_time() -> None:
    plan = ServicePlan.for_staff(COLOUR, PausePolicy.FREE, [1, 2])

    result = search(plan, free_time({1: [("09:00", "18:00")]}), window=("19:00", "23:00"))

    assert [r.code for r in result.reasons] == [NoSlotCode.NO_FREE_TIME]


def test_a_segment_longer_than_every_free_interval_is_named() -> None:
    segments = (Segment("A", "Färben", 30), Segment("B", "Strähnen", 60))
    plan = ServicePlan.for_staff(segments, PausePolicy.FREE, [1])

    result = search(plan, free_time({1: [("09:00", "09:45"), ("10:00", "10:45")]}))

    assert [(r.code, r.segment_key) for r in result.reasons] == [(NoSlotCode.SEGMENT_NEVER_FITS, "B")]
    assert "Strähnen" in result.reasons[0].message


def test_a_held_pause_counts_towards_whether_a_segment_fits() -> None:
    plan = ServicePlan.for_staff(COLOUR, PausePolicy.BLOCKED, [1])

    result = search(plan, free_time({1: [("09:00", "09:45"), ("10:00", "10:45")]}))

    assert [(r.code, r.segment_key) for r in result.reasons] == [(NoSlotCode.SEGMENT_NEVER_FITS, "A")]
    assert "held pause" in result.reasons[0].message


def test_segments_that_fit_alone_but_never_as_a_chain() -> None:
    segments = (Segment("A", "Färben", 30), Segment("B", "Schneiden", 30))
    plan = ServicePlan.for_staff(segments, PausePolicy.FREE, [1])

    result = search(plan, free_time({1: [("09:00", "09:30"), ("12:00", "12:30")]}))

    assert [r.code for r in result.reasons] == [NoSlotCode.CHAIN_NEVER_FITS]


# ------------------------------------------------------------------------------------- limit and "next"


def test_limit_keeps_the_earliest_and_says_there_are_more() -> None:
    plan = ServicePlan.for_staff((Segment("A", "A", 30),), PausePolicy.FREE, [1, 2])
    free = free_time({1: [("09:00", "12:00")], 2: [("09:00", "12:00")]})

    result = search(plan, free, limit=3)
    everything = search(plan, free, limit=12)

    assert local_starts(result) == ["09:00", "09:15", "09:30"]
    assert result.has_more
    assert len(everything.slots) == 11
    assert not everything.has_more


def test_the_three_nearest_slots_after_a_full_window() -> None:
    plan = ServicePlan.for_staff(COLOUR, PausePolicy.FREE, [1])
    tomorrow = MONDAY + timedelta(days=1)
    # today only 16:00 fits (someone else is booked in the colour's pause); then tomorrow from 10:00
    free = FreeTime.from_minutes(
        {1: [span("16:00", "16:30"), span("17:00", "17:15"), span("10:00", "18:00", tomorrow)]}
    )

    result = find_slots_after(plan, free, at("12:00"), BERLIN, now=at("08:00"))

    assert [slot.starts_at for slot in result.slots] == [
        at("16:00"),
        at("10:00", tomorrow),
        at("10:15", tomorrow),
    ]
    assert result.has_more


def test_the_nearest_slots_stop_at_the_horizon() -> None:
    plan = ServicePlan.for_staff(COLOUR, PausePolicy.FREE, [1])
    next_week = MONDAY + timedelta(days=7)
    free = FreeTime.from_minutes({1: [span("10:00", "18:00", next_week)]})

    result = find_slots_after(
        plan, free, at("12:00"), BERLIN, now=at("08:00"), options=SearchOptions(horizon=timedelta(days=3))
    )

    assert result.slots == ()
    assert [r.code for r in result.reasons] == [NoSlotCode.NO_FREE_TIME]


# ----------------------------------------------------------------------------------------------- filling


def test_pause_fillers_are_the_services_whose_whole_chain_fits_inside_a_pause() -> None:
    # a colour's 45-minute processing pause 10:00-10:45, with a 10-minute booking already at 10:35
    free = IntervalList.from_pairs([span("09:00", "10:35"), span("10:45", "18:00")])
    pauses = IntervalList.from_pairs([span("10:00", "10:45"), span("14:00", "14:10")])
    services = [
        FillerService(11, (Segment("A", "Pony schneiden", 15),), PausePolicy.FREE),
        FillerService(12, (Segment("A", "Herrenschnitt", 40),), PausePolicy.FREE),
        FillerService(13, (Segment("A", "Maske", 10, 10), Segment("B", "Ausspülen", 10)), PausePolicy.FREE),
        FillerService(
            14, (Segment("A", "Maske", 10, 10), Segment("B", "Ausspülen", 10)), PausePolicy.BLOCKED
        ),
        FillerService(15, (Segment("A", "Maske", 10, 15), Segment("B", "Ausspülen", 10)), PausePolicy.FREE),
    ]

    fills = find_pause_fillers(free, pauses, services)

    assert [(wall(f.starts_at), wall(f.ends_at), f.service_ids) for f in fills] == [
        ("10:00", "10:45", (11, 13, 14, 15)),
        ("14:00", "14:10", ()),
    ]
    by_id = {f.service_id: f for f in fills[0].fillers}
    # 15's pause may cover the 10:35 booking, its segments not: it starts at 10:00 and ends 10:35
    assert (wall(by_id[15].starts_at), wall(by_id[15].ends_at)) == ("10:00", "10:35")
    assert wall(by_id[11].starts_at) == "10:00"


def test_plans_reject_inconsistent_segments() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        ServicePlan.for_staff((Segment("A", "A", 10), Segment("A", "B", 10)), PausePolicy.FREE, [1])
    with pytest.raises(ValueError, match="at least one"):
        ServicePlan((), PausePolicy.FREE, {})
    with pytest.raises(ValueError, match="step"):
        SearchOptions(step_min=0)
