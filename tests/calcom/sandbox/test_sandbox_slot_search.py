"""The fast slot search gives exactly the slots of the per-candidate search it replaced.

`reference_slot_starts` (in `slot_references.py`) is the former `available_slot_starts`. Hypothesis draws
schedules in zones with DST (and half-hour DST), overnight and 24-hour weekly hours, date overrides,
bookings with buffers (some cancelled, some whose event type is gone), collective and round-robin event
types with odd lengths, steps, offsets and notices, ranges that start mid-minute, and a booking to ignore.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from composite_booking.calcom.sandbox import (
    BookingStatus,
    CalcomSandbox,
    DateOverride,
    DemoSalon,
    EventType,
    ManualClock,
    MembershipRole,
    WeeklyHours,
)
from composite_booking.calcom.sandbox.availability import (
    Interval,
    available_slot_instants,
    available_slot_starts,
)
from composite_booking.calcom.sandbox.clock import to_micros
from composite_booking.calcom.sandbox.records import WEEKDAYS
from tests.calcom.sandbox.slot_references import reference_json, reference_slot_starts

if TYPE_CHECKING:
    from conftest import SandboxApi

ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # DST moves the clock by 30 minutes
    "America/St_Johns",  # -03:30 / -02:30
    "Asia/Kathmandu",  # +05:45, no DST
    "Pacific/Chatham",  # +12:45 / +13:45
    "UTC",
)
# DST changes in 2030 somewhere in ZONES: Europe (Mar 31, Oct 27), USA (Mar 10, Nov 3), Lord Howe and
# Chatham (Apr 7, Sep 29 / Oct 6), plus a date without any change.
AROUND_DATES = (
    date(2030, 3, 31),
    date(2030, 10, 27),
    date(2030, 3, 10),
    date(2030, 11, 3),
    date(2030, 4, 7),
    date(2030, 9, 29),
    date(2030, 10, 6),
    date(2030, 1, 15),
)


# --- scenarios


@dataclass(frozen=True)
class Host:
    zone: str
    weekly: list[WeeklyHours]
    overrides: list[DateOverride]


@dataclass(frozen=True)
class Scenario:
    day: date
    hosts: list[Host]
    event_type: dict[str, object]
    own_schedule_of_host: int | None
    bookings: list[tuple[int, int, int, int, int, bool, bool]]
    """(host index, start minute from the day, second, length, buffer before/after, cancelled, orphaned)"""
    period_start_s: int
    period_length_s: int
    now_offset_min: int
    ignore_first_booking: bool


def _clock_time(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


@st.composite
def weekly_rules(draw: st.DrawFn) -> WeeklyHours:
    days = draw(
        st.just(list(WEEKDAYS)) | st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True)
    )
    start = draw(st.sampled_from([0, 9 * 60, 8 * 60 + 30]) | st.integers(0, 1439))
    # end <= start means the window runs past midnight (equal: a whole day).
    end = draw(st.sampled_from([18 * 60, 0, start]) | st.integers(0, 1439))
    return WeeklyHours(tuple(days), _clock_time(start), _clock_time(end))


@st.composite
def hosts(draw: st.DrawFn, day: date) -> Host:
    zone = draw(st.sampled_from(ZONES))
    weekly = draw(st.lists(weekly_rules(), min_size=1, max_size=3) | st.just([]))
    overrides = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, 1439))
        end = draw(st.sampled_from([start, 0]) | st.integers(start, 1439))  # start == end: closed
        overrides.append(
            DateOverride(day + timedelta(days=draw(st.integers(-2, 3))), _clock_time(start), _clock_time(end))
        )
    return Host(zone, weekly, overrides)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    day = draw(st.sampled_from(AROUND_DATES)) - timedelta(days=draw(st.integers(0, 2)))
    drawn_hosts = draw(st.lists(hosts(day), min_size=1, max_size=3))
    length = draw(st.sampled_from([5, 15, 30, 60]) | st.integers(1, 120))
    event_type: dict[str, object] = {
        "lengthInMinutes": length,
        "schedulingType": draw(st.sampled_from(["collective", "roundRobin"])),
        "minimumBookingNotice": draw(st.sampled_from([0, 0, 120]) | st.integers(0, 1500)),
        "beforeEventBuffer": draw(st.sampled_from([0, 0, 15]) | st.integers(0, 60)),
        "afterEventBuffer": draw(st.sampled_from([0, 0, 10]) | st.integers(0, 60)),
        "offsetStart": draw(st.sampled_from([0, 0, 0, 5]) | st.integers(0, 40)),
    }
    interval = draw(st.none() | st.sampled_from([5, 15, 30]) | st.integers(3, 90))
    if interval is not None:
        event_type["slotInterval"] = interval
    bookings = draw(
        st.lists(
            st.tuples(
                st.integers(0, len(drawn_hosts) - 1),
                # Quarter hours make bookings meet each other and the grid exactly, where off-by-one
                # mistakes live.
                st.integers(-96, 288).map(lambda quarter: quarter * 15) | st.integers(-1440, 3 * 1440),
                st.sampled_from([0, 0, 0, 30]),
                st.sampled_from([15, 30, 45, 60]) | st.integers(1, 150),
                st.sampled_from([0, 0, 5, 15]) | st.integers(0, 45),
                st.sampled_from([0, 0, 5, 15]) | st.integers(0, 45),
                st.booleans(),
                st.booleans(),
            ),
            max_size=12,
        )
    )
    return Scenario(
        day=day,
        hosts=drawn_hosts,
        event_type=event_type,
        own_schedule_of_host=draw(st.none() | st.integers(0, len(drawn_hosts) - 1)),
        bookings=bookings,
        period_start_s=draw(st.integers(-1440, 1440)) * 60 + draw(st.sampled_from([0, 0, 17])),
        period_length_s=draw(st.integers(1440, 3 * 1440) | st.integers(0, 3 * 1440)) * 60
        + draw(st.sampled_from([0, 59])),
        now_offset_min=draw(st.integers(-3000, -1440) | st.integers(-3000, 3000)),
        ignore_first_booking=draw(st.booleans()),
    )


@dataclass(frozen=True)
class Built:
    sandbox: CalcomSandbox
    event_type: EventType
    period: Interval
    now: datetime
    ignore_uid: str | None


def build(scenario: Scenario) -> Built:
    midnight = datetime.combine(scenario.day, time(0), tzinfo=UTC)
    now = midnight + timedelta(minutes=scenario.now_offset_min)
    sandbox = CalcomSandbox(clock=ManualClock(now))
    team = sandbox.add_team(name="Team")
    user_ids, schedule_ids = [], []
    for index, host in enumerate(scenario.hosts):
        user = sandbox.add_user(name=f"Host {index}", email=f"host{index}@example.com")
        sandbox.add_membership(team.id, user.id, MembershipRole.MEMBER)
        schedule = sandbox.add_schedule(
            user.id, time_zone=host.zone, availability=host.weekly, overrides=host.overrides
        )
        user_ids.append(user.id)
        schedule_ids.append(schedule.id)
    body = dict(scenario.event_type)
    if scenario.own_schedule_of_host is not None:
        body["scheduleId"] = schedule_ids[scenario.own_schedule_of_host]
    event_type = sandbox.add_event_type(
        team.id, title="Probe", slug="probe", hosts=[{"userId": u} for u in user_ids], **body
    )
    uids = []
    for index, (host, minute, second, length, before, after, cancelled, orphaned) in enumerate(
        scenario.bookings
    ):
        busy_type = sandbox.add_event_type(
            team.id,
            title=f"Busy {index}",
            slug=f"busy-{index}",
            lengthInMinutes=length,
            schedulingType="collective",
            hosts=[{"userId": user_ids[host]}],
            beforeEventBuffer=before,
            afterEventBuffer=after,
        )
        start = midnight + timedelta(minutes=minute, seconds=second)
        booking = sandbox.add_booking(busy_type.id, start, check_availability=False)
        if cancelled:
            booking.status = BookingStatus.CANCELLED
        if orphaned:  # its event type was deleted: the busy time stays, without buffers
            booking.event_type_id = None
        uids.append(booking.uid)
    period_start = midnight + timedelta(seconds=scenario.period_start_s)
    return Built(
        sandbox,
        event_type,
        Interval(period_start, period_start + timedelta(seconds=scenario.period_length_s)),
        now,
        uids[0] if uids and scenario.ignore_first_booking else None,
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.none() | st.integers(1, 120))
def test_the_fast_search_offers_exactly_what_the_per_candidate_search_offers(
    scenario: Scenario, duration: int | None
) -> None:
    built = build(scenario)
    state, event_type = built.sandbox.state, built.event_type
    length = duration or event_type.length_in_minutes
    period, now, ignore = built.period, built.now, built.ignore_uid

    expected = reference_slot_starts(
        state, event_type, period=period, length_min=length, now=now, ignore_booking_uid=ignore
    )
    fast = available_slot_starts(
        state, event_type, period=period, length_min=length, now=now, ignore_booking_uid=ignore
    )
    instants = available_slot_instants(
        state, event_type, period=period, length_min=length, now=now, ignore_booking_uid=ignore
    )

    event("no slots" if not expected else "1-20 slots" if len(expected) <= 20 else "over 20 slots")
    assert fast == expected
    assert instants == [to_micros(start) for start in expected]


def test_an_event_that_exactly_fills_a_gap_between_bookings_is_offered() -> None:
    scenario = Scenario(
        day=date(2030, 1, 15),
        hosts=[Host("UTC", [WeeklyHours(tuple(WEEKDAYS), time(9), time(18))], [])],
        event_type={
            "lengthInMinutes": 30,
            "schedulingType": "collective",
            "minimumBookingNotice": 0,
            "slotInterval": 5,
            "beforeEventBuffer": 5,
            "afterEventBuffer": 10,
        },
        own_schedule_of_host=None,
        # Busy 10:00-11:00 and 11:45-12:30: the gap is exactly 5 + 30 + 10 minutes.
        bookings=[(0, 600, 0, 60, 0, 0, False, False), (0, 705, 0, 45, 0, 0, False, False)],
        period_start_s=0,
        period_length_s=86399,
        now_offset_min=-60,
        ignore_first_booking=False,
    )
    built = build(scenario)

    starts = available_slot_starts(
        built.sandbox.state, built.event_type, period=built.period, length_min=30, now=built.now
    )

    around_the_gap = [s.strftime("%H:%M") for s in starts if time(10) <= s.time() <= time(12)]
    assert around_the_gap == ["11:05"]
    assert starts == reference_slot_starts(
        built.sandbox.state, built.event_type, period=built.period, length_min=30, now=built.now
    )


def test_a_known_night_across_the_spring_change() -> None:
    """A hand-checked example, so that a search that is wrong in the same way as the reference still fails."""
    every_night = [WeeklyHours(tuple(WEEKDAYS), time(0), time(6))]
    scenario = Scenario(
        day=date(2030, 3, 31),
        hosts=[
            Host("Europe/Berlin", every_night, []),
            Host("Europe/Berlin", [WeeklyHours(tuple(WEEKDAYS), time(1), time(5))], []),
        ],
        event_type={
            "lengthInMinutes": 20,
            "schedulingType": "collective",
            "minimumBookingNotice": 0,
            "slotInterval": 15,
            "beforeEventBuffer": 5,
        },
        own_schedule_of_host=None,
        # Host 0 busy 01:00-01:30 UTC plus a 10-minute after-buffer, host 1 busy 02:00-02:30 UTC.
        bookings=[(0, 60, 0, 30, 0, 10, False, False), (1, 120, 0, 30, 0, 0, False, False)],
        period_start_s=-3600,  # 2030-03-30 23:00 UTC ...
        period_length_s=86400,  # ... to 2030-03-31 23:00 UTC, inclusive
        now_offset_min=-600,
        ignore_first_booking=False,
    )
    built = build(scenario)

    starts = available_slot_starts(
        built.sandbox.state, built.event_type, period=built.period, length_min=20, now=built.now
    )

    # On the night of the change host 1 works 01:00 CET-05:00 CEST = 00:00-03:00 UTC. Starts from 00:45 to
    # 02:30 would overlap a busy time with their 5-minute before-buffer; 02:45 would end after 03:00.
    # The next night both work from 01:00 CEST = 23:00 UTC, the inclusive end of the range.
    assert starts == [
        datetime(2030, 3, 31, 0, 0, tzinfo=UTC),
        datetime(2030, 3, 31, 0, 15, tzinfo=UTC),
        datetime(2030, 3, 31, 0, 30, tzinfo=UTC),
        datetime(2030, 3, 31, 23, 0, tzinfo=UTC),
    ]
    assert starts == reference_slot_starts(
        built.sandbox.state, built.event_type, period=built.period, length_min=20, now=built.now
    )


# --- the whole response, byte for byte


def reference_body(data: object) -> bytes:
    return json.dumps({"status": "success", "data": data}, ensure_ascii=False).encode()


@pytest.mark.parametrize("time_zone", [None, "Europe/Berlin", "America/New_York", "UTC", "Asia/Kathmandu"])
async def test_both_slot_routes_answer_the_bytes_they_answered_before(
    api: SandboxApi, sandbox: CalcomSandbox, salon: DemoSalon, time_zone: str | None
) -> None:
    # Four days across Berlin's spring change, busy time with buffers, a 20-minute event every 10 minutes.
    colour = await api.create_event_type("colour", hosts=[salon.emma_id], afterEventBuffer=15)
    trim = await api.create_event_type(
        "trim", hosts=[salon.emma_id], length=20, slotInterval=10, beforeEventBuffer=5
    )
    sandbox.add_booking(colour["id"], datetime(2030, 3, 29, 10, tzinfo=UTC), check_availability=False)
    sandbox.add_booking(colour["id"], datetime(2030, 4, 2, 7, 30, tzinfo=UTC), check_availability=False)
    state, event_type = sandbox.state, sandbox.event_type(trim["id"])
    period = Interval(datetime(2030, 3, 29, tzinfo=UTC), datetime(2030, 4, 2, 23, 59, 59, tzinfo=UTC))
    expected = [
        to_micros(start)
        for start in reference_slot_starts(
            state, event_type, period=period, length_min=20, now=sandbox.clock()
        )
    ]
    zone = {"timeZone": time_zone} if time_zone else {}

    ranged = await api.slots(trim["id"], "2030-03-29", "2030-04-02", format="range", **zone)
    timed = await api.slots(trim["id"], "2030-03-29", "2030-04-02", **zone)
    legacy = await api.client.get(
        "/v2/slots/available",
        params={
            "eventTypeId": trim["id"],
            "startTime": "2030-03-29T00:00:00Z",
            "endTime": "2030-04-02T23:59:59Z",
            "slotFormat": "range",
            **zone,
        },
    )

    assert len(expected) > 100
    assert ranged.content == reference_body(
        json.loads(
            reference_json(expected, length_min=20, zone_name=time_zone, start_key="start", end_key="end")
        )
    )
    assert timed.content == reference_body(
        json.loads(
            reference_json(expected, length_min=20, zone_name=time_zone, start_key="start", end_key=None)
        )
    )
    assert legacy.content == reference_body(
        {
            "slots": json.loads(
                reference_json(
                    expected, length_min=20, zone_name=time_zone, start_key="startTime", end_key="endTime"
                )
            )
        }
    )
