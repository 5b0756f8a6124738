"""Which new segments are created, which old bookings move (in which wave), which are cancelled at the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from composite_booking.domain.booking.reschedule_plan import BusySpan, CannotMoveInPlace, plan_reschedule

T0 = datetime(2030, 1, 8, 9, 0, tzinfo=UTC)
EMMA, FABIAN = 1, 2
# (key, start minute, end minute incl. held pause) of the colour chain: A 30 + 30, B 15, C 30 + 15, D 30.
COLOUR = (("A", 0, 30), ("B", 60, 75), ("C", 75, 105), ("D", 120, 150))


def chain(
    shift_min: int, staff: int = EMMA, layout: tuple[tuple[str, int, int], ...] = COLOUR
) -> list[BusySpan]:
    return [
        BusySpan(
            key,
            staff,
            T0 + timedelta(minutes=start + shift_min),
            T0 + timedelta(minutes=end + shift_min),
            100 + i,
        )
        for i, (key, start, end) in enumerate(layout)
    ]


def test_far_away_every_segment_is_created_and_the_old_ones_cancelled() -> None:
    plan = plan_reschedule(chain(0), chain(240))
    assert plan.creates == ("A", "B", "C", "D")
    assert plan.moves == {}
    assert plan.cancels == ("A", "B", "C", "D")


def test_another_staff_member_never_overlaps() -> None:
    plan = plan_reschedule(chain(0), chain(0, staff=FABIAN))
    assert (plan.creates, plan.moves, plan.cancels) == (("A", "B", "C", "D"), {}, ("A", "B", "C", "D"))


def test_half_an_hour_later_moves_in_waves_from_the_end() -> None:
    # New B lands on old C, new C on old D: D must move first, then C, then B. New A overlaps nothing.
    plan = plan_reschedule(chain(0), chain(30))
    assert plan.creates == ("A",)
    assert plan.moves == {"D": 0, "C": 1, "B": 2}
    assert plan.cancels == ("A",)
    assert plan.waves == 3


def test_a_quarter_earlier_moves_from_the_front() -> None:
    plan = plan_reschedule(chain(0), chain(-15))
    # New A overlaps only its own old booking; new C lands on old B.
    assert plan.moves["A"] == 0
    assert plan.moves["C"] > plan.moves["B"]
    assert set(plan.creates) | set(plan.moves) == {"A", "B", "C", "D"}
    assert set(plan.cancels) == {"A", "B", "C", "D"} - set(plan.moves)


def test_held_pauses_count_as_busy() -> None:
    blocked = (("A", 0, 55), ("B", 55, 130), ("C", 130, 150))  # segments with their held pauses
    plan = plan_reschedule(chain(0, layout=blocked), chain(20, layout=blocked))
    assert set(plan.moves) == {"A", "B", "C"}
    assert plan.creates == ()


def test_a_move_onto_another_staff_members_chain_is_impossible() -> None:
    old = chain(0)
    new = [*chain(30)[:2], *chain(30, staff=FABIAN)[2:]]
    # New B overlaps old C, which cannot move (its new place is Fabian's): no order makes room.
    with pytest.raises(CannotMoveInPlace):
        plan_reschedule(old, new)


def test_a_changed_event_type_cannot_be_moved_onto() -> None:
    old = chain(0)
    new = [BusySpan(s.key, s.staff_id, s.starts_at, s.ends_at, s.event_type_id + 50) for s in chain(15)]
    with pytest.raises(CannotMoveInPlace):
        plan_reschedule(old, new)


def test_a_part_with_nothing_to_move_is_created_once_the_old_bookings_in_its_way_moved() -> None:
    # Blocked chain: A 0-45, A's pause 45-55 (released: no booking any more), B 55-115, B's pause 115-130.
    layout = (("A", 0, 45), ("A/pause", 45, 55), ("B", 55, 115), ("B/pause", 115, 130))
    old = [s for s in chain(0, layout=layout) if s.key != "A/pause"]
    new = chain(15, layout=layout)
    plan = plan_reschedule(old, new)
    # The new A/pause (60-70) lands on old B: B moves first (after its own pause moved out of its way).
    assert "A/pause" in plan.creates
    assert plan.create_waves == {"A/pause": plan.moves["B"] + 1}
    assert plan.moves["B"] > plan.moves["B/pause"]
    assert plan.waves == plan.create_waves["A/pause"] + 1
