"""When a host can take an event: working hours minus busy time, as Cal.com computes it.

One predicate, `host_is_free`, serves both `GET /v2/slots` and the re-check inside `POST /v2/bookings`, so
the two can never disagree:

- the event `[start, end)` must lie inside one working window of the schedule the event type uses (its own
  `scheduleId`, else the host's default schedule), built from weekly hours in the schedule's time zone with
  date overrides replacing a day's hours;
- the event widened by its own `beforeEventBuffer`/`afterEventBuffer` must not overlap any busy interval, and
  busy time is every accepted booking of the host on any event type, each widened by that booking's event
  type buffers (Cal.com adds both buffers to each busy booking; widening both sides is the same test).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from composite_booking.calcom.sandbox.records import (
    WEEKDAYS,
    EventType,
    Schedule,
    SchedulingType,
)
from composite_booking.calcom.sandbox.state import SandboxState


@dataclass(frozen=True, order=True, slots=True)
class Interval:
    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end

    def widened(self, before_min: int, after_min: int) -> Interval:
        return Interval(self.start - timedelta(minutes=before_min), self.end + timedelta(minutes=after_min))


def hours_on(schedule: Schedule, day: date) -> list[tuple[time, time]]:
    """The wall-clock windows of one local date: the date's overrides if any, else its weekly hours."""
    overrides = [(o.start, o.end) for o in schedule.overrides if o.day == day]
    if overrides:
        return [(start, end) for start, end in overrides if start != end]
    weekday = WEEKDAYS[day.weekday()]
    return [(rule.start, rule.end) for rule in schedule.availability if weekday in rule.days]


def working_windows(schedule: Schedule, around: Interval) -> list[Interval]:
    """Working windows (UTC, merged) of every local date that can touch `around`."""
    zone = ZoneInfo(schedule.time_zone)
    first_day = around.start.astimezone(zone).date() - timedelta(days=1)
    last_day = around.end.astimezone(zone).date() + timedelta(days=1)
    windows: list[Interval] = []
    day = first_day
    while day <= last_day:
        for start, end in hours_on(schedule, day):
            # Local wall times become instants through the zone, so a DST day is 23 or 25 hours long.
            local_start = datetime.combine(day, start, tzinfo=zone)
            local_end = datetime.combine(day if end > start else day + timedelta(days=1), end, tzinfo=zone)
            windows.append(Interval(local_start.astimezone(UTC), local_end.astimezone(UTC)))
        day += timedelta(days=1)
    return _merge(windows)


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for interval in sorted(intervals):
        if merged and interval.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, interval.end))
        else:
            merged.append(interval)
    return merged


def _intersect(left: Sequence[Interval], right: Sequence[Interval]) -> list[Interval]:
    result: list[Interval] = []
    for a in left:
        for b in right:
            start, end = max(a.start, b.start), min(a.end, b.end)
            if start < end:
                result.append(Interval(start, end))
    return _merge(result)


def effective_schedule(state: SandboxState, user_id: int, event_type: EventType) -> Schedule | None:
    """The event type's own schedule when it has one, otherwise the host's default schedule."""
    if event_type.schedule_id is not None:
        return state.schedules.get(event_type.schedule_id)
    user = state.users.get(user_id)
    if user is None or user.default_schedule_id is None:
        return None
    return state.schedules.get(user.default_schedule_id)


def busy_intervals(
    state: SandboxState, user_id: int, *, ignore_booking_uid: str | None = None
) -> list[Interval]:
    """Every accepted booking of the user, each widened by its own event type's buffers."""
    busy: list[Interval] = []
    for booking in state.accepted_bookings_of(user_id):
        if booking.uid == ignore_booking_uid:
            continue
        event_type = state.event_types.get(booking.event_type_id) if booking.event_type_id else None
        before = event_type.before_event_buffer if event_type else 0
        after = event_type.after_event_buffer if event_type else 0
        busy.append(Interval(booking.start, booking.end).widened(before, after))
    return sorted(busy)


@dataclass(frozen=True, slots=True)
class HostCalendar:
    """One host's working windows and busy time around a period, computed once per request."""

    user_id: int
    windows: list[Interval]
    busy: list[Interval]

    def can_take(self, event: Interval, event_type: EventType) -> bool:
        if not any(window.contains(event) for window in self.windows):
            return False
        padded = event.widened(event_type.before_event_buffer, event_type.after_event_buffer)
        return not any(padded.overlaps(b) for b in self.busy)


def host_calendar(
    state: SandboxState,
    user_id: int,
    event_type: EventType,
    around: Interval,
    *,
    ignore_booking_uid: str | None = None,
) -> HostCalendar:
    schedule = effective_schedule(state, user_id, event_type)
    windows = working_windows(schedule, around) if schedule is not None else []
    return HostCalendar(
        user_id, windows, busy_intervals(state, user_id, ignore_booking_uid=ignore_booking_uid)
    )


def host_ids(state: SandboxState, event_type: EventType) -> list[int]:
    """The event type's hosts; `assignAllTeamMembers` means every current member of the team."""
    if event_type.assign_all_team_members:
        return state.team_member_ids(event_type.team_id)
    return [host.user_id for host in event_type.hosts]


def free_hosts(
    state: SandboxState,
    event_type: EventType,
    event: Interval,
    *,
    ignore_booking_uid: str | None = None,
) -> list[int] | None:
    """Who would attend an event at `event`, or None when the event type cannot take it then.

    Collective: every host must be free and all of them attend. Round robin: the free hosts, in host order.
    """
    calendars = [
        host_calendar(state, user_id, event_type, event, ignore_booking_uid=ignore_booking_uid)
        for user_id in host_ids(state, event_type)
    ]
    if not calendars:
        return None
    free = [calendar.user_id for calendar in calendars if calendar.can_take(event, event_type)]
    if event_type.scheduling_type is SchedulingType.COLLECTIVE:
        return free if len(free) == len(calendars) else None
    return free or None


def available_slot_starts(
    state: SandboxState,
    event_type: EventType,
    *,
    period: Interval,
    length_min: int,
    now: datetime,
    ignore_booking_uid: str | None = None,
) -> list[datetime]:
    """Slot starts inside `period` (inclusive at both ends), like `GET /v2/slots`.

    Candidates step by `slotInterval` (default: the length) from the start of each working window (shifted
    by `offsetStart`), must end inside the window, and must not start before `now + minimumBookingNotice`.
    """
    length = timedelta(minutes=length_min)
    step = timedelta(minutes=event_type.slot_interval or length_min)
    earliest = now + timedelta(minutes=event_type.minimum_booking_notice)
    around = Interval(period.start - length, period.end + length)
    calendars = [
        host_calendar(state, user_id, event_type, around, ignore_booking_uid=ignore_booking_uid)
        for user_id in host_ids(state, event_type)
    ]
    if not calendars:
        return []

    if event_type.scheduling_type is SchedulingType.COLLECTIVE:
        shared = calendars[0].windows
        for calendar in calendars[1:]:
            shared = _intersect(shared, calendar.windows)
        window_sets = [shared]
    else:
        window_sets = [calendar.windows for calendar in calendars]

    starts: set[datetime] = set()
    for windows in window_sets:
        for window in windows:
            candidate = window.start + timedelta(minutes=event_type.offset_start)
            while candidate + length <= window.end:
                if period.start <= candidate <= period.end and candidate >= earliest:
                    event = Interval(candidate, candidate + length)
                    free = [c for c in calendars if c.can_take(event, event_type)]
                    if event_type.scheduling_type is SchedulingType.COLLECTIVE:
                        takeable = len(free) == len(calendars)
                    else:
                        takeable = bool(free)
                    if takeable:
                        starts.add(candidate)
                candidate += step
    return sorted(starts)
