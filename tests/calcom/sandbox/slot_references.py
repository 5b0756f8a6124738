"""The slot search and its rendering as they were before the optimisation, kept as test references.

`reference_slot_starts` steps through each working window and asks `HostCalendar.can_take` (the predicate
the booking re-check uses) for every candidate; `reference_json` renders each slot with `iso_in_zone` and
`local_date` into dicts and hands them to `json.dumps`, as the routes did.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from composite_booking.calcom.sandbox import EventType, SchedulingType
from composite_booking.calcom.sandbox.availability import Interval, host_calendar, host_ids
from composite_booking.calcom.sandbox.clock import from_micros, iso_in_zone, local_date
from composite_booking.calcom.sandbox.state import SandboxState


def reference_slot_starts(
    state: SandboxState,
    event_type: EventType,
    *,
    period: Interval,
    length_min: int,
    now: datetime,
    ignore_booking_uid: str | None = None,
) -> list[datetime]:
    """The per-candidate search, kept as it was before the optimisation."""
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


def _intersect(left: list[Interval], right: list[Interval]) -> list[Interval]:
    pieces = sorted(
        Interval(max(a.start, b.start), min(a.end, b.end))
        for a in left
        for b in right
        if max(a.start, b.start) < min(a.end, b.end)
    )
    merged: list[Interval] = []
    for piece in pieces:
        if merged and piece.start <= merged[-1].end:
            merged[-1] = Interval(merged[-1].start, max(merged[-1].end, piece.end))
        else:
            merged.append(piece)
    return merged


def reference_json(
    starts: list[int], *, length_min: int, zone_name: str | None, start_key: str, end_key: str | None
) -> str:
    """What the route rendered before: a dict per slot, grouped with setdefault, then `json.dumps`."""
    by_day: dict[str, list[dict[str, str]]] = {}
    for start in (from_micros(instant) for instant in starts):
        slot = {start_key: iso_in_zone(start, zone_name)}
        if end_key is not None:
            slot[end_key] = iso_in_zone(start + timedelta(minutes=length_min), zone_name)
        by_day.setdefault(local_date(start, zone_name).isoformat(), []).append(slot)
    return json.dumps(by_day, ensure_ascii=False)
