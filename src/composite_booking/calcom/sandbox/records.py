"""The sandbox's stored objects: the parts of Cal.com's database the emulated endpoints read and write."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class MembershipRole(StrEnum):
    MEMBER = "MEMBER"
    ADMIN = "ADMIN"
    OWNER = "OWNER"


class SchedulingType(StrEnum):
    """API spelling; the database stores COLLECTIVE / ROUND_ROBIN."""

    COLLECTIVE = "collective"
    ROUND_ROBIN = "roundRobin"


class BookingStatus(StrEnum):
    ACCEPTED = "accepted"
    CANCELLED = "cancelled"


@dataclass(slots=True)
class User:
    id: int
    name: str
    email: str
    username: str
    time_zone: str
    default_schedule_id: int | None = None


@dataclass(slots=True)
class Team:
    id: int
    name: str
    slug: str


@dataclass(slots=True)
class Membership:
    team_id: int
    user_id: int
    role: MembershipRole


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """`{days: ["Monday", ...], startTime: "09:00", endTime: "17:00"}`, wall-clock in the schedule's zone."""

    days: tuple[str, ...]
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class DateOverride:
    """Replaces the whole day's hours; several overrides for one date add up, start == end means "closed"."""

    day: date
    start: time
    end: time


@dataclass(slots=True)
class Schedule:
    id: int
    owner_id: int
    name: str
    time_zone: str
    availability: list[WeeklyHours]
    overrides: list[DateOverride]


@dataclass(frozen=True, slots=True)
class Host:
    user_id: int
    mandatory: bool = False
    priority: str = "medium"


@dataclass(slots=True)
class EventType:
    id: int
    team_id: int
    title: str
    slug: str
    length_in_minutes: int
    scheduling_type: SchedulingType
    hosts: list[Host]
    description: str = ""
    hidden: bool = False
    slot_interval: int | None = None
    # Cal.com's column default: an event type created without a notice cannot be booked in the next 2 hours.
    minimum_booking_notice: int = 120
    before_event_buffer: int = 0
    after_event_buffer: int = 0
    offset_start: int = 0
    schedule_id: int | None = None
    length_in_minutes_options: list[int] | None = None
    assign_all_team_members: bool = False
    locations: list[dict[str, Any]] = field(
        default_factory=lambda: [{"type": "integration", "integration": "cal-video"}]
    )
    booking_fields: list[dict[str, Any]] | None = None
    custom_name: str | None = None
    flags: dict[str, bool] = field(default_factory=dict)
    """Plain boolean settings (disableGuests, hideCalendarNotes, ...) echoed back as given."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Object settings stored and echoed without acting on them (bookingWindow, color, ...)."""


@dataclass(slots=True)
class Attendee:
    name: str
    email: str
    time_zone: str
    language: str = "en"
    phone_number: str | None = None
    absent: bool = False


@dataclass(slots=True)
class Booking:
    id: int
    uid: str
    title: str
    status: BookingStatus
    start: datetime
    end: datetime
    event_type_id: int | None
    event_type_slug: str
    team_id: int | None
    organizer_id: int
    busy_user_ids: list[int]
    """Everyone this booking makes busy: the organizer plus, for collective events, the other hosts."""
    attendees: list[Attendee]
    guests: list[str]
    location: str | None
    metadata: dict[str, Any]
    responses: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    description: str = ""
    cancellation_reason: str | None = None
    cancelled_by_email: str | None = None
    rescheduled_from_uid: str | None = None
    rescheduled_to_uid: str | None = None
    rescheduling_reason: str | None = None
    rescheduled_by_email: str | None = None

    @property
    def ical_uid(self) -> str:
        return f"{self.uid}@Cal.com"


@dataclass(slots=True)
class Webhook:
    id: int
    subscriber_url: str
    triggers: list[str]
    active: bool
    secret: str | None
    payload_template: str | None
    user_id: int | None = None
    team_id: int | None = None
