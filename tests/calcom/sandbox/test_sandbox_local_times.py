"""Rendering many slots at once gives byte for byte what `iso_in_zone`/`local_date` per slot gave."""

from __future__ import annotations

import json
import zoneinfo
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from composite_booking.calcom.sandbox.clock import to_micros
from composite_booking.calcom.sandbox.local_times import (
    PROBE_SPACING_MICROS,
    OffsetRuns,
    slots_json_by_local_day,
)
from tests.calcom.sandbox.slot_references import reference_json

ZONES = (
    None,
    "UTC",
    "Etc/UTC",
    "Zulu",
    "GMT",  # zero offset, but not one of the names luxon writes as "Z"
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",  # falls back at midnight
    "America/Goose_Bay",  # fell back at 00:01 until 2010, so the previous date came back
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
    "Asia/Kathmandu",
    "Antarctica/Troll",  # DST of two hours
    "Etc/GMT+5",
)
MINUTE = 60_000_000
# Instants around DST changes of 2030 in the zones above.
CHANGES = tuple(
    to_micros(moment)
    for moment in (
        datetime(2030, 3, 31, 1, tzinfo=UTC),
        datetime(2030, 10, 27, 1, tzinfo=UTC),
        datetime(2030, 3, 10, 7, tzinfo=UTC),
        datetime(2030, 11, 3, 6, tzinfo=UTC),
        datetime(2030, 4, 6, 15, tzinfo=UTC),
        datetime(2030, 10, 5, 15, tzinfo=UTC),
        datetime(2030, 11, 3, 5, tzinfo=UTC),
        datetime(2030, 4, 7, 3, tzinfo=UTC),
        datetime(2000, 10, 29, 3, 1, tzinfo=UTC),
    )
)


@st.composite
def slot_starts(draw: st.DrawFn) -> list[int]:
    """Ascending starts in runs of a fixed step, near a DST change, sometimes off the whole minute."""
    cursor = draw(st.sampled_from(CHANGES)) + draw(st.integers(-3 * 1440, 1440)) * MINUTE
    cursor += draw(st.sampled_from([0, 0, 0, 30_000_000, 1_234_567]))
    starts: list[int] = []
    for _ in range(draw(st.integers(0, 4))):
        step = draw(st.sampled_from([5, 15, 60]) | st.integers(1, 240)) * MINUTE
        for _ in range(draw(st.integers(1, 40))):
            starts.append(cursor)
            cursor += step
        cursor += draw(st.integers(0, 2 * 1440)) * MINUTE
    return starts


@settings(max_examples=300, deadline=None)
@given(
    slot_starts(),
    st.sampled_from(ZONES),
    st.sampled_from([5, 30, 60]) | st.integers(1, 600),
    st.sampled_from([("start", "end"), ("start", None), ("startTime", "endTime"), ("time", None)]),
)
def test_rendering_matches_the_per_slot_functions(
    starts: list[int], zone_name: str | None, length_min: int, keys: tuple[str, str | None]
) -> None:
    start_key, end_key = keys

    rendered = slots_json_by_local_day(
        starts, length_micros=length_min * MINUTE, zone_name=zone_name, start_key=start_key, end_key=end_key
    )

    assert rendered == reference_json(
        starts, length_min=length_min, zone_name=zone_name, start_key=start_key, end_key=end_key
    )


def test_a_known_fall_back_night() -> None:
    # 2030-10-27 in Berlin: 02:00-03:00 happens twice, first at +02:00 then at +01:00.
    starts = [to_micros(datetime(2030, 10, 26, 23, 30, tzinfo=UTC)) + i * 30 * MINUTE for i in range(4)]

    rendered = slots_json_by_local_day(
        starts, length_micros=30 * MINUTE, zone_name="Europe/Berlin", start_key="start", end_key="end"
    )

    assert json.loads(rendered) == {
        "2030-10-27": [
            {"start": "2030-10-27T01:30:00.000+02:00", "end": "2030-10-27T02:00:00.000+02:00"},
            {"start": "2030-10-27T02:00:00.000+02:00", "end": "2030-10-27T02:30:00.000+02:00"},
            {"start": "2030-10-27T02:30:00.000+02:00", "end": "2030-10-27T02:00:00.000+01:00"},
            {"start": "2030-10-27T02:00:00.000+01:00", "end": "2030-10-27T02:30:00.000+01:00"},
        ]
    }


def test_a_date_that_comes_back_gets_its_later_slots_appended() -> None:
    # Goose Bay fell back from 2000-10-29 00:01 -03:00 to 2000-10-28 23:01 -04:00.
    starts = [to_micros(datetime(2000, 10, 29, 2, 30, tzinfo=UTC)) + i * 30 * MINUTE for i in range(4)]

    rendered = slots_json_by_local_day(
        starts, length_micros=30 * MINUTE, zone_name="America/Goose_Bay", start_key="time", end_key=None
    )

    assert rendered == (
        '{"2000-10-28": [{"time": "2000-10-28T23:30:00.000-03:00"}, '
        '{"time": "2000-10-28T23:30:00.000-04:00"}], '
        '"2000-10-29": [{"time": "2000-10-29T00:00:00.000-03:00"}, '
        '{"time": "2000-10-29T00:00:00.000-04:00"}]}'
    )
    assert rendered == reference_json(
        starts, length_min=30, zone_name="America/Goose_Bay", start_key="time", end_key=None
    )


def test_no_slots_is_an_empty_object_even_for_an_unknown_zone() -> None:
    """As before, an unknown zone only fails once there is a slot to render (the legacy route allows any)."""
    assert slots_json_by_local_day(
        [], length_micros=MINUTE, zone_name="Mars/Olympus", start_key="t", end_key=None
    )
    with pytest.raises(zoneinfo.ZoneInfoNotFoundError):
        slots_json_by_local_day(
            [0], length_micros=MINUTE, zone_name="Mars/Olympus", start_key="t", end_key=None
        )


def test_offset_runs_pin_each_change_to_the_microsecond() -> None:
    zone = zoneinfo.ZoneInfo("Australia/Lord_Howe")  # +11:00 until 2030-04-07 02:00 local, then +10:30
    change = to_micros(datetime(2030, 4, 6, 15, tzinfo=UTC))

    runs = OffsetRuns.probe(zone, change - 3 * 86_400_000_000, change + 86_400_000_000)

    assert runs.changes == [change]
    assert runs.offsets == [11 * 60 * MINUTE, 10 * 60 * MINUTE + 30 * MINUTE]
    assert runs.suffixes == ["+11:00", "+10:30"]


def test_no_zone_changes_its_offset_twice_within_the_probe_spacing() -> None:
    """`OffsetRuns.probe` relies on this to find every change; the tz database could one day break it.

    Reads the transitions through the pure-Python zoneinfo (private, hence the skip if it changes shape):
    the explicit ones, and those of each zone's closing rule for the years after them.
    """
    try:
        from zoneinfo import _zoneinfo

        zones = [_zoneinfo.ZoneInfo.no_cache(key) for key in sorted(zoneinfo.available_timezones())]
        explicit = [(zone, list(zone._trans_utc), [t.utcoff for t in zone._ttinfos]) for zone in zones]
    except (ImportError, AttributeError) as error:
        pytest.skip(f"zoneinfo internals changed: {error}")
    spacing_s = PROBE_SPACING_MICROS // 1_000_000
    closest: list[tuple[int, str]] = []
    for zone, transitions, offsets in explicit:
        changes = [
            transition
            for transition, (before, after) in zip(transitions[1:], pairwise(offsets), strict=False)
            if before != after
        ]
        rule = zone._tz_after
        if hasattr(rule, "transitions") and rule.dst_diff:
            last_year = datetime.fromtimestamp(transitions[-1], UTC).year if transitions else 1970
            for year in range(last_year + 1, 2101):
                start, end = rule.transitions(year)
                for instant in (
                    start - rule.std.utcoff.total_seconds(),
                    end - rule.dst.utcoff.total_seconds(),
                ):
                    if _offset(zone, instant - 1) != _offset(zone, instant):  # a rule may be DST all year
                        changes.append(int(instant))
        changes = sorted(changes)
        gaps = [later - earlier for earlier, later in pairwise(changes)]
        if gaps:
            closest.append((min(gaps), str(zone)))

    assert min(closest)[0] > spacing_s, min(closest)


def _offset(zone: zoneinfo.ZoneInfo, timestamp: float) -> timedelta | None:
    return datetime.fromtimestamp(timestamp, zone).utcoffset()
