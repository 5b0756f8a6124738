"""What a notification is built from: a read-only view of one composite appointment.

The booking code fills these from its rows; everything in this package is a pure function of them (plus a
timestamp), so a retried outbox job renders the same calendar and the same e-mail again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from composite_booking.domain.segments import PausePolicy
from composite_booking.domain.statuses import AppointmentStatus

# Only these two states are ever announced to a customer; the others are internal steps of the saga.
NOTIFIABLE_STATUSES = frozenset({AppointmentStatus.CONFIRMED, AppointmentStatus.CANCELLED})


class Language(StrEnum):
    DE = "de"
    EN = "en"


@dataclass(frozen=True, slots=True)
class CustomerView:
    name: str
    email: str
    language: Language = Language.DE


@dataclass(frozen=True, slots=True)
class SegmentView:
    key: str
    name: str
    starts_at: datetime
    ends_at: datetime
    staff_name: str | None = None

    def __post_init__(self) -> None:
        _require_ordered_aware(f"segment {self.key!r}", self.starts_at, self.ends_at)


@dataclass(frozen=True, slots=True)
class PauseView:
    """The wait after segment `after_key`. `held`: the staff member stays reserved for this customer."""

    after_key: str
    starts_at: datetime
    ends_at: datetime
    policy: PausePolicy = PausePolicy.FREE
    held: bool = False
    # What the customer is waiting for, in the customer's language ("Einwirkzeit"). None: the default
    # wording for a salon pause (see texts.py).
    label: str | None = None

    def __post_init__(self) -> None:
        _require_ordered_aware(f"pause after {self.after_key!r}", self.starts_at, self.ends_at)


@dataclass(frozen=True, slots=True)
class AppointmentView:
    composite_uid: uuid.UUID
    confirmation_code: str
    status: AppointmentStatus
    # Raised on every reschedule (and for the cancellation): calendar clients keep the highest one.
    sequence: int
    service_name: str
    branch_name: str
    branch_time_zone: str
    customer: CustomerView
    segments: tuple[SegmentView, ...]
    organizer_email: str
    organizer_name: str
    pauses: tuple[PauseView, ...] = ()
    notes: str | None = None

    def __post_init__(self) -> None:
        if self.status not in NOTIFIABLE_STATUSES:
            raise ValueError(f"a {self.status.value} appointment is not announced to customers")
        if self.sequence < 0:
            raise ValueError("sequence must be 0 or more")
        if not self.segments:
            raise ValueError("an appointment has at least one segment")
        try:
            ZoneInfo(self.branch_time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.branch_time_zone!r}") from exc
        keys = [segment.key for segment in self.segments]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate segment keys in {keys}")
        for earlier, later in zip(self.segments, self.segments[1:], strict=False):
            if later.starts_at < earlier.ends_at:
                raise ValueError(f"segment {later.key!r} starts before {earlier.key!r} ends")
        for pause in self.pauses:
            if pause.after_key not in keys:
                raise ValueError(f"pause after unknown segment {pause.after_key!r}")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.branch_time_zone)

    @property
    def starts_at(self) -> datetime:
        return self.segments[0].starts_at

    @property
    def ends_at(self) -> datetime:
        return self.segments[-1].ends_at

    def pauses_after(self, segment_key: str) -> list[PauseView]:
        return sorted((p for p in self.pauses if p.after_key == segment_key), key=lambda p: p.starts_at)


def _require_ordered_aware(what: str, starts_at: datetime, ends_at: datetime) -> None:
    # A naive datetime would be read in the server's zone, not the branch's: refuse it outright.
    if starts_at.utcoffset() is None or ends_at.utcoffset() is None:
        raise ValueError(f"{what}: times must be timezone-aware")
    if ends_at <= starts_at:
        raise ValueError(f"{what}: must end after it starts")
