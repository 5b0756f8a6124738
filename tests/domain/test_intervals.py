"""Interval algebra: each operation checked against the same question asked of plain sets of minutes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from composite_booking.domain.intervals import (
    IntervalList,
    datetime_of,
    intersect_all,
    minute_of,
)


def minutes(intervals: IntervalList) -> set[int]:
    return {m for a, b in intervals for m in range(a, b)}


def is_canonical(intervals: IntervalList) -> bool:
    pairs = intervals.pairs()
    return all(a < b for a, b in pairs) and all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(pairs))


raw_pairs = st.lists(st.tuples(st.integers(0, 300), st.integers(0, 60)).map(lambda p: (p[0], p[0] + p[1])))
interval_lists = raw_pairs.map(IntervalList.from_pairs)


def test_from_pairs_sorts_merges_touching_and_drops_empty() -> None:
    merged = IntervalList.from_pairs([(50, 60), (10, 20), (20, 30), (25, 28), (40, 40), (59, 70)])

    assert merged.pairs() == [(10, 30), (50, 70)]


def test_fitting_starts_are_the_starts_where_a_span_fits_inside_one_interval() -> None:
    free = IntervalList.from_pairs([(0, 30), (40, 45), (100, 160)])

    assert free.fitting_starts(30).pairs() == [(0, 1), (100, 131)]
    assert free.fitting_starts(31).pairs() == [(100, 130)]
    with pytest.raises(ValueError, match="positive"):
        free.fitting_starts(0)


def test_intersection_with_shift_asks_whether_t_plus_shift_is_in_the_other_list() -> None:
    starts = IntervalList.from_pairs([(0, 100)])
    later = IntervalList.from_pairs([(60, 70), (90, 200)])

    assert starts.intersection(later, other_shift=30).pairs() == [(30, 40), (60, 100)]
    # the same question with the longer list first exercises the swapped walk
    assert later.intersection(starts, other_shift=-30).pairs() == [(60, 70), (90, 130)]


def test_covers_and_index_containing() -> None:
    free = IntervalList.from_pairs([(10, 20), (30, 40)])

    assert free.covers(10, 20)
    assert not free.covers(15, 31)
    assert not free.covers(20, 20)
    assert free.index_containing(35) == 1
    assert free.index_containing(20) == -1
    assert free.index_containing(5) == -1


def test_minute_of_rounds_as_asked_and_refuses_naive_datetimes() -> None:
    moment = datetime(2026, 1, 1, 9, 0, 30, tzinfo=UTC)
    whole = minute_of(datetime(2026, 1, 1, 9, 0, tzinfo=UTC))

    assert minute_of(moment) == whole
    assert minute_of(moment, round_up=True) == whole + 1
    assert minute_of(moment.replace(second=0), round_up=True) == whole
    assert datetime_of(whole) == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert minute_of(datetime(2026, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))) == whole
    with pytest.raises(ValueError, match="naive"):
        minute_of(datetime(2026, 1, 1, 9, 0))  # naive on purpose


def test_from_datetimes_never_grows_free_time() -> None:
    start = datetime(2026, 1, 1, 9, 0, 20, tzinfo=UTC)
    free = IntervalList.from_datetimes([(start, start + timedelta(minutes=10))])

    assert free.datetime_pairs() == [
        (datetime(2026, 1, 1, 9, 1, tzinfo=UTC), datetime(2026, 1, 1, 9, 10, tzinfo=UTC))
    ]


@settings(max_examples=150, deadline=None)
@given(interval_lists, interval_lists, st.integers(-80, 80))
def test_intersection_matches_minute_sets(a: IntervalList, b: IntervalList, shift: int) -> None:
    result = a.intersection(b, other_shift=shift)

    assert is_canonical(result)
    other = minutes(b)
    assert minutes(result) == {t for t in minutes(a) if t + shift in other}


@settings(max_examples=150, deadline=None)
@given(interval_lists, interval_lists)
def test_union_and_subtract_match_minute_sets(a: IntervalList, b: IntervalList) -> None:
    assert minutes(a.union(b)) == minutes(a) | minutes(b)
    assert is_canonical(a.subtract(b))
    assert minutes(a.subtract(b)) == minutes(a) - minutes(b)


@settings(max_examples=150, deadline=None)
@given(interval_lists, st.integers(1, 50), st.integers(0, 400), st.integers(0, 400))
def test_fitting_starts_and_clipping_match_minute_sets(
    a: IntervalList, length: int, lo: int, hi: int
) -> None:
    free = minutes(a)

    candidates = range(min(free, default=0) - 1, max(free, default=0) + 2)
    assert minutes(a.fitting_starts(length)) == {
        t for t in candidates if all(m in free for m in range(t, t + length))
    }
    assert minutes(a.clipped(lo, hi)) == {m for m in free if lo <= m < hi}
    assert a.overlaps(lo, hi) == any(lo <= m < hi for m in free)


@settings(max_examples=150, deadline=None)
@given(interval_lists, st.integers(0, 30), st.integers(0, 30))
def test_widened_matches_minute_sets(a: IntervalList, before: int, after: int) -> None:
    free = minutes(a)
    grown = a.widened(before, after)

    assert is_canonical(grown)
    assert minutes(grown) == {t for m in free for t in range(m - before, m + after + 1)}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(interval_lists, st.integers(-50, 50)), min_size=1, max_size=4))
def test_intersect_all_matches_minute_sets(lists: list[tuple[IntervalList, int]]) -> None:
    result = intersect_all(lists)

    expected = set.intersection(*({m - shift for m in minutes(lst)} for lst, shift in lists))
    assert minutes(result) == expected
