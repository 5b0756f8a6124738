"""Schedules: building them from the Python API, and the two output shapes the version header selects.

`2024-06-11` (and `2024-06-14`) answer `ScheduleOutput_2024_06_11`; any other or no `cal-api-version` falls
back to the 2024-04-15 controller, whose `ScheduleOutput` speaks minutes and weekday numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, time
from typing import Any

from composite_booking.calcom.sandbox.records import WEEKDAYS, DateOverride, Schedule, WeeklyHours

SCHEDULE_VERSIONS = frozenset({"2024-06-11", "2024-06-14"})
DEFAULT_WEEKLY_HOURS = (WeeklyHours(WEEKDAYS[:5], time(9), time(17)),)
"""Cal.com's default when a schedule is created without availability: Monday to Friday, 09:00-17:00."""


def parse_hhmm(value: str) -> time:
    hours, _, minutes = value.partition(":")
    return time(int(hours), int(minutes))


def weekly_hours(rule: WeeklyHours | Mapping[str, Any]) -> WeeklyHours:
    """Accepts a `WeeklyHours` or the API's `{days, startTime, endTime}` mapping."""
    if isinstance(rule, WeeklyHours):
        return rule
    days = tuple(str(d) for d in rule["days"])
    unknown = [d for d in days if d not in WEEKDAYS]
    if unknown:
        raise ValueError(f"unknown weekday(s): {unknown}")
    return WeeklyHours(days, parse_hhmm(str(rule["startTime"])), parse_hhmm(str(rule["endTime"])))


def date_override(rule: DateOverride | Mapping[str, Any]) -> DateOverride:
    """Accepts a `DateOverride` or the API's `{date, startTime, endTime}` mapping."""
    if isinstance(rule, DateOverride):
        return rule
    return DateOverride(
        date.fromisoformat(str(rule["date"])),
        parse_hhmm(str(rule["startTime"])),
        parse_hhmm(str(rule["endTime"])),
    )


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


def schedule_output(schedule: Schedule, *, is_default: bool) -> dict[str, Any]:
    """`ScheduleOutput_2024_06_11`."""
    return {
        "id": schedule.id,
        "ownerId": schedule.owner_id,
        "name": schedule.name,
        "timeZone": schedule.time_zone,
        "availability": [
            {"days": list(rule.days), "startTime": _hhmm(rule.start), "endTime": _hhmm(rule.end)}
            for rule in schedule.availability
        ],
        "isDefault": is_default,
        "overrides": [
            {"date": o.day.isoformat(), "startTime": _hhmm(o.start), "endTime": _hhmm(o.end)}
            for o in schedule.overrides
        ],
    }


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def _weekday_numbers(days: Iterable[str]) -> list[int]:
    """0 = Sunday, as the legacy controller counts."""
    return sorted((WEEKDAYS.index(d) + 1) % 7 for d in days)


def legacy_schedule_output(schedule: Schedule, *, is_default: bool, is_last: bool) -> dict[str, Any]:
    """The 2024-04-15 `ScheduleOutput` (what a request without the right version header gets)."""
    availability: list[list[dict[str, str]]] = [[] for _ in range(7)]
    for rule in schedule.availability:
        for number in _weekday_numbers(rule.days):
            availability[number].append(
                {
                    "start": f"1970-01-01T{_hhmm(rule.start)}:00.000Z",
                    "end": f"1970-01-01T{_hhmm(rule.end)}:00.000Z",
                }
            )
    return {
        "id": schedule.id,
        "name": schedule.name,
        "isManaged": False,
        "workingHours": [
            {
                "days": _weekday_numbers(rule.days),
                "startTime": _minutes(rule.start),
                "endTime": _minutes(rule.end),
            }
            for rule in schedule.availability
        ],
        "schedule": [],
        "availability": availability,
        "timeZone": schedule.time_zone,
        "dateOverrides": [
            {
                "ranges": [
                    {
                        "start": f"{o.day.isoformat()}T{_hhmm(o.start)}:00.000Z",
                        "end": f"{o.day.isoformat()}T{_hhmm(o.end)}:00.000Z",
                    }
                ]
            }
            for o in schedule.overrides
        ],
        "isDefault": is_default,
        "isLastSchedule": is_last,
        "readOnly": False,
    }
