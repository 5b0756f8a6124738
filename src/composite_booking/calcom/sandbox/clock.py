"""The sandbox's notion of "now" (injected) and the ISO spellings Cal.com puts on the wire."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Clock = Callable[[], datetime]
"""Returns the current instant as an aware UTC datetime."""

# Zone names luxon renders with a trailing "Z" (a fixed zero offset); every other zone gets "+hh:mm".
UTC_ZONE_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"})

MICROS_PER_MINUTE = 60_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)


def system_clock() -> datetime:
    return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, start: datetime) -> None:
        self._now = _require_aware(start)

    def __call__(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = _require_aware(moment)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("the sandbox clock needs timezone-aware datetimes")
    return moment.astimezone(UTC)


def zone_or_none(name: str) -> ZoneInfo | None:
    """The IANA zone called `name`, or None when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def iso_utc(moment: datetime) -> str:
    """`2024-08-13T15:30:00.000Z`, the shape of a JavaScript `Date.toISOString()`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_utc_seconds(moment: datetime) -> str:
    """`2023-05-25T09:30:00Z`, the shape of dayjs `.utc().format()` used in webhook payloads."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_in_zone(moment: datetime, zone_name: str | None) -> str:
    """Luxon's `toISO()` after `setZone(zone_name)`: `Z` for UTC, otherwise the local offset."""
    if zone_name is None or zone_name in UTC_ZONE_NAMES:
        return iso_utc(moment)
    return moment.astimezone(ZoneInfo(zone_name)).isoformat(timespec="milliseconds")


def local_date(moment: datetime, zone_name: str | None) -> date:
    if zone_name is None:
        return moment.astimezone(UTC).date()
    return moment.astimezone(ZoneInfo(zone_name)).date()


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch: exact integer arithmetic for the slot search."""
    return (moment - _EPOCH) // _ONE_MICROSECOND


def from_micros(micros: int) -> datetime:
    """The aware UTC datetime `to_micros` came from."""
    return _EPOCH + timedelta(microseconds=micros)


def parse_instant(value: str) -> datetime | None:
    """An ISO-8601 instant; a value without an offset is read as UTC (luxon `fromISO(..., {zone: "utc"})`)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_range_start(value: str) -> datetime | None:
    """`GET /v2/slots` start: a bare date means that day's 00:00:00Z."""
    return parse_instant(value)


def parse_range_end(value: str) -> datetime | None:
    """`GET /v2/slots` end: a time of exactly 00:00:00 (so also a bare date) means 23:59:59 of that day.

    Cal.com applies this to any midnight value, not only to bare dates; the sandbox copies that quirk.
    """
    parsed = parse_instant(value)
    if parsed is None:
        return None
    if parsed.time() == time(0, 0):
        return parsed.replace(hour=23, minute=59, second=59)
    return parsed


def utc_offset_minutes(moment: datetime, zone_name: str) -> int:
    offset = moment.astimezone(ZoneInfo(zone_name)).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0
