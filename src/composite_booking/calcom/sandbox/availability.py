"""When a host can take an event: working hours minus busy time, as Cal.com computes it.

One predicate, `HostCalendar.can_take`, defines when a host can take an event; the re-check inside
`POST /v2/bookings` asks it directly, and `GET /v2/slots` computes the set of starts where it holds (in
integer microseconds, a thousand candidates at a time), which a randomised test compares with asking it per
candidate, so the two can never disagree:

- the event `[start, end)` must lie inside one working window of the schedule the event type uses (its own
  `scheduleId`, else the host's default schedule), built from weekly hours in the schedule's time zone with
  date overrides replacing a day's hours;
- the event widened by its own `beforeEventBuffer`/`afterEventBuffer` must not overlap any busy interval, and
  busy time is every accepted booking of the host on any event type, each widened by that booking's event
  type buffers (Cal.com adds both buffers to each busy booking; widening both sides is the same test).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from composite_booking.calcom.sandbox.clock import MICROS_PER_MINUTE, from_micros, to_micros
from composite_booking.calcom.sandbox.records import (
    WEEKDAYS,
    Booking,
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


Span = tuple[int, int]
"""A closed range `[first, last]` of start instants in microseconds; `first == last` is one instant."""


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


def _busy_bookings(
    state: SandboxState, user_id: int, ignore_booking_uid: str | None
) -> Iterator[tuple[Booking, int, int]]:
    """Every accepted booking of the user with its own event type's buffers (minutes before, after)."""
    for booking in state.accepted_bookings_of(user_id):
        if booking.uid == ignore_booking_uid:
            continue
        event_type = state.event_types.get(booking.event_type_id) if booking.event_type_id else None
        if event_type is None:
            yield booking, 0, 0
        else:
            yield booking, event_type.before_event_buffer, event_type.after_event_buffer


def busy_intervals(
    state: SandboxState, user_id: int, *, ignore_booking_uid: str | None = None
) -> list[Interval]:
    """Every accepted booking of the user, each widened by its own event type's buffers."""
    return sorted(
        Interval(booking.start, booking.end).widened(before, after)
        for booking, before, after in _busy_bookings(state, user_id, ignore_booking_uid)
    )


def _busy_micros(state: SandboxState, user_id: int, ignore_booking_uid: str | None) -> list[tuple[int, int]]:
    """`busy_intervals` as half-open `(start, end)` in microseconds, unsorted."""
    return [
        (
            to_micros(booking.start) - before * MICROS_PER_MINUTE,
            to_micros(booking.end) + after * MICROS_PER_MINUTE,
        )
        for booking, before, after in _busy_bookings(state, user_id, ignore_booking_uid)
    ]


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
    return HostCalendar(
        user_id,
        _host_windows(state, user_id, event_type, around),
        busy_intervals(state, user_id, ignore_booking_uid=ignore_booking_uid),
    )


def _host_windows(
    state: SandboxState, user_id: int, event_type: EventType, around: Interval
) -> list[Interval]:
    schedule = effective_schedule(state, user_id, event_type)
    return working_windows(schedule, around) if schedule is not None else []


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
    """`available_slot_instants` as datetimes."""
    instants = available_slot_instants(
        state,
        event_type,
        period=period,
        length_min=length_min,
        now=now,
        ignore_booking_uid=ignore_booking_uid,
    )
    return [from_micros(instant) for instant in instants]


def available_slot_instants(
    state: SandboxState,
    event_type: EventType,
    *,
    period: Interval,
    length_min: int,
    now: datetime,
    ignore_booking_uid: str | None = None,
) -> list[int]:
    """Slot starts inside `period` (inclusive at both ends), ascending, in microseconds since the epoch.

    Candidates step by `slotInterval` (default: the length) from the start of each working window (shifted
    by `offsetStart`), must end inside the window, and must not start before `now + minimumBookingNotice`;
    a candidate is offered when the hosts can take it (`HostCalendar.can_take`: every host for a collective
    event, any host for round robin).

    Instead of asking `can_take` per candidate, each host's takeable starts are computed once as closed
    spans (working windows shortened by the length, minus the open ranges of starts whose padded event
    would overlap a busy interval), and the candidates inside each span are counted off arithmetically.
    """
    length = length_min * MICROS_PER_MINUTE
    step = (event_type.slot_interval or length_min) * MICROS_PER_MINUTE
    offset_start = event_type.offset_start * MICROS_PER_MINUTE
    around = Interval(
        period.start - timedelta(minutes=length_min), period.end + timedelta(minutes=length_min)
    )
    hosts = host_ids(state, event_type)
    if not hosts:
        return []
    windows_by_host = [_host_windows(state, user_id, event_type, around) for user_id in hosts]
    before = event_type.before_event_buffer * MICROS_PER_MINUTE
    after = event_type.after_event_buffer * MICROS_PER_MINUTE
    per_host = [
        _takeable_starts(windows, _busy_micros(state, user_id, ignore_booking_uid), length, before, after)
        for user_id, windows in zip(hosts, windows_by_host, strict=True)
    ]
    first_allowed = max(
        to_micros(period.start), to_micros(now) + event_type.minimum_booking_notice * MICROS_PER_MINUTE
    )
    bounds = [(first_allowed, to_micros(period.end))]
    if event_type.scheduling_type is SchedulingType.COLLECTIVE:
        takeable = bounds
        for spans in per_host:
            takeable = _intersect_spans(takeable, spans)
        shared = windows_by_host[0]
        for windows in windows_by_host[1:]:
            shared = _intersect(shared, windows)
        window_sets = [shared]
    else:
        takeable = _intersect_spans(bounds, _union_spans(per_host))
        window_sets = windows_by_host

    span_firsts = [first for first, _ in takeable]
    found: list[int] = []
    for windows in window_sets:
        for window in windows:
            origin = to_micros(window.start) + offset_start
            last = to_micros(window.end) - length
            index = max(bisect_right(span_firsts, origin) - 1, 0)
            while index < len(takeable) and takeable[index][0] <= last:
                span_first, span_last = takeable[index]
                low, high = max(span_first, origin), min(span_last, last)
                if low <= high:
                    # The grid points origin + k * step with low <= point <= high.
                    first_k = -((origin - low) // step)
                    last_k = (high - origin) // step
                    found.extend(range(origin + first_k * step, origin + last_k * step + 1, step))
                index += 1
    # One set of windows (collective, or a single host) is merged and sorted, so its grid points already
    # ascend without repeats; round robin's hosts' grids can coincide.
    return found if len(window_sets) == 1 else sorted(set(found))


def _takeable_starts(
    windows: list[Interval], busy: list[tuple[int, int]], length: int, before: int, after: int
) -> list[Span]:
    """The starts at which `HostCalendar.can_take` holds for an event of `length` with these own buffers.

    Inside a window: `window.start <= start <= window.end - length`. Against a busy interval `b`, the
    padded event `[start - before, start + length + after]` overlaps iff
    `b.start - length - after < start < b.end + before`: an open range, so its ends stay takeable.
    """
    blocked = _merge_open((busy_start - length - after, busy_end + before) for busy_start, busy_end in busy)
    blocked_ends = [end for _, end in blocked]
    spans: list[Span] = []
    for window in windows:
        first, last = to_micros(window.start), to_micros(window.end) - length
        # Skip the blocked ranges that end at or before `first`: they block nothing from `first` on.
        index = bisect_right(blocked_ends, first)
        while first <= last and index < len(blocked) and blocked[index][0] < last:
            blocked_start, blocked_end = blocked[index]
            if blocked_start >= first:
                spans.append((first, blocked_start))
            first = blocked_end
            index += 1
        if first <= last:
            spans.append((first, last))
    return spans


def _merge_open(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of open ranges `(start, end)`; two that only touch stay apart, since the shared end is free."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if start >= end:
            continue
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _union_spans(span_lists: Iterable[list[Span]]) -> list[Span]:
    merged: list[Span] = []
    for first, last in sorted(span for spans in span_lists for span in spans):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _intersect_spans(left: Sequence[Span], right: Sequence[Span]) -> list[Span]:
    """Both arguments ascending and disjoint (so is the result)."""
    result: list[Span] = []
    i = j = 0
    while i < len(left) and j < len(right):
        first = max(left[i][0], right[j][0])
        last = min(left[i][1], right[j][1])
        if first <= last:
            result.append((first, last))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return result
