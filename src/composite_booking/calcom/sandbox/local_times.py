"""Many instants rendered at once, byte for byte as `clock.iso_in_zone` and `clock.local_date` render one.

`GET /v2/slots` answers a thousand slots or more, and a datetime, `astimezone` and `isoformat` per slot was
most of its cost. Here an instant is an integer (microseconds since the epoch, `clock.to_micros`), the
zone's UTC offset is found once per run of constant offset, and each text is glued from a per-day and a
per-time-of-day piece that are each formatted once.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from composite_booking.calcom.sandbox.clock import UTC_ZONE_NAMES, from_micros

_MICROS_PER_DAY = 86_400_000_000
_MICROS_PER_HOUR = 3_600_000_000
_MICROS_PER_MINUTE = 60_000_000
_MICROS_PER_SECOND = 1_000_000
_ONE_MICROSECOND = timedelta(microseconds=1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_NEVER = 1 << 62
"""Later than any instant a datetime can hold (year 9999 is about 2.5e17 microseconds)."""

PROBE_SPACING_MICROS = 12 * _MICROS_PER_HOUR
"""How far apart a zone's offset is probed. No zone in the tz database changes its offset twice within four
days (a test checks the installed data), so two probes that agree have no change between them and two that
differ have exactly one, which bisection pins to the microsecond."""


class OffsetRuns:
    """A zone's UTC offsets between two instants: `offsets[i]` holds from `changes[i - 1]` on."""

    def __init__(self, changes: list[int], offsets: list[int], suffixes: list[str]) -> None:
        self.changes = changes
        self.offsets = offsets
        self.suffixes = suffixes
        """What `isoformat` writes after the milliseconds for each offset: `+01:00`, `-03:30`, `Z`."""

    @classmethod
    def utc(cls) -> OffsetRuns:
        return cls([], [0], ["Z"])

    @classmethod
    def probe(cls, zone: ZoneInfo, first: int, last: int) -> OffsetRuns:
        """Every offset change in `(first, last]`, found with probes `PROBE_SPACING_MICROS` apart."""
        offset, suffix = _offset_at(zone, first)
        runs = cls([], [offset], [suffix])
        probed = first
        while probed < last:
            ahead = min(probed + PROBE_SPACING_MICROS, last)
            if _offset_at(zone, ahead)[0] == runs.offsets[-1]:
                probed = ahead
                continue
            same, changed = probed, ahead
            while changed - same > 1:
                middle = (same + changed) // 2
                if _offset_at(zone, middle)[0] == runs.offsets[-1]:
                    same = middle
                else:
                    changed = middle
            offset, suffix = _offset_at(zone, changed)
            runs.changes.append(changed)
            runs.offsets.append(offset)
            runs.suffixes.append(suffix)
            # Carry on from the change itself, so even a second change before `ahead` would be found.
            probed = changed
        return runs


def _offset_at(zone: ZoneInfo, micros: int) -> tuple[int, str]:
    """The zone's UTC offset at an instant, in microseconds and as `isoformat` writes it."""
    local = from_micros(micros).astimezone(zone)
    offset = local.utcoffset() or timedelta(0)  # a ZoneInfo always has one
    # "YYYY-MM-DDTHH:MM:SS.mmm" is 23 characters; what follows is the offset exactly as isoformat spells it.
    return offset // _ONE_MICROSECOND, local.isoformat(timespec="milliseconds")[23:]


class LocalTexts:
    """ISO texts and local-date keys of instants in one zone (None: UTC with `Z`, as `iso_in_zone` does)."""

    def __init__(self, zone_name: str | None, first: int, last: int) -> None:
        """`first` and `last` bound every instant that will be rendered."""
        if zone_name is None or zone_name in UTC_ZONE_NAMES:
            self._utc, self._runs = True, OffsetRuns.utc()
        else:
            self._utc, self._runs = False, OffsetRuns.probe(ZoneInfo(zone_name), first, last)
        self._days: dict[int, tuple[str, str]] = {}
        self._times = [_TimeTexts(suffix) for suffix in self._runs.suffixes]

    def render(self, instants: Sequence[int], *, lead: str = "") -> tuple[list[str], list[tuple[str, int]]]:
        """The ISO texts of ascending instants, and where each local date begins: `(key, first index)`.

        `lead` is put before every text (once per segment rather than once per text).

        The instants are cut into segments of one local date and one offset; inside a segment a text is
        the date part plus the cached time of day, built in one comprehension.
        """
        changes, offsets = self._runs.changes, self._runs.offsets
        texts: list[str] = []
        day_breaks: list[tuple[str, int]] = []
        run, key, index, count = 0, "", 0, len(instants)
        while index < count:
            instant = instants[index]
            while run < len(changes) and instant >= changes[run]:
                run += 1
            offset = offsets[run]
            day = (instant + offset) // _MICROS_PER_DAY
            day_start = day * _MICROS_PER_DAY - offset  # the instant the local day begins, in this run
            limit = min(day_start + _MICROS_PER_DAY, changes[run] if run < len(changes) else _NEVER)
            end = bisect_left(instants, limit, index)
            day_key, date_part = self._day_texts(day)
            prefix = lead + date_part
            if day_key != key:
                key = day_key
                day_breaks.append((key, index))
            times = self._times[run]
            texts.extend([prefix + times[moment - day_start] for moment in instants[index:end]])
            index = end
        return texts, day_breaks

    def _day_texts(self, day: int) -> tuple[str, str]:
        """The date key (`date.isoformat`) and the text's date part, spelled as `iso_in_zone` spells it."""
        known = self._days.get(day)
        if known is None:
            local_day = date.fromordinal(_EPOCH_ORDINAL + day)
            key = local_day.isoformat()
            # `iso_utc` goes through strftime, whose %Y is not zero-padded below year 1000 everywhere.
            known = self._days[day] = (key, local_day.strftime("%Y-%m-%dT") if self._utc else key + "T")
        return known


class _TimeTexts(dict[int, str]):
    """Time of day (microseconds since local midnight) -> `HH:MM:SS.mmm` plus one offset's suffix."""

    def __init__(self, suffix: str) -> None:
        super().__init__()
        self._suffix = suffix

    def __missing__(self, time_of_day: int) -> str:
        text = self[time_of_day] = _time_of_day_text(time_of_day) + self._suffix
        return text


@lru_cache(maxsize=4096)
def _time_of_day_text(time_of_day: int) -> str:
    """Cached across requests: formatting is the slow part, and slots mostly fall on the same minutes."""
    hours, rest = divmod(time_of_day, _MICROS_PER_HOUR)
    minutes, rest = divmod(rest, _MICROS_PER_MINUTE)
    seconds, micros = divmod(rest, _MICROS_PER_SECOND)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{micros // 1000:03d}"


def slots_json_by_local_day(
    starts: Sequence[int], *, length_micros: int, zone_name: str | None, start_key: str, end_key: str | None
) -> str:
    """`json.dumps(..., ensure_ascii=False)` of `{local date: [{start_key: iso, end_key: iso}, ...]}`.

    The texts are glued straight into JSON (a thousand small dicts cost more to build and encode than to
    compute): dates and ISO times are digits and `-:.+TZ`, which JSON never escapes. Days appear in the
    order of their first slot and a date that comes back (a fall-back at midnight) gets its later slots
    appended, as `dict.setdefault` over the slots would do.
    """
    if not starts:
        return "{}"
    texts = LocalTexts(zone_name, starts[0], starts[-1] + length_micros)
    start_texts, day_breaks = texts.render(starts)
    if end_key is None:
        items = start_texts
    else:
        ends = [start + length_micros for start in starts]
        end_texts, _ = texts.render(ends, lead=f'", "{end_key}": "')
        items = [start + end for start, end in zip(start_texts, end_texts, strict=True)]
    opening, separator, closing = f'{{"{start_key}": "', f'"}}, {{"{start_key}": "', '"}'
    by_day: dict[str, list[str]] = {}
    bounds = [index for _, index in day_breaks[1:]] + [len(items)]
    for (key, first), after_last in zip(day_breaks, bounds, strict=True):
        by_day.setdefault(key, []).append(opening + separator.join(items[first:after_last]) + closing)
    return "{" + ", ".join(f'"{key}": [{", ".join(chunks)}]' for key, chunks in by_day.items()) + "}"
