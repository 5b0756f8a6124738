"""Typed views of the Cal.com v2 bodies we send and the outputs we read.

Outputs ignore fields they do not name (Cal.com adds fields; that must never break us) and default the
fields that only some variants carry. Inputs forbid unknown fields, so a typo fails here rather than being
silently dropped by Cal.com's whitelist. Python names are snake_case; the wire names are camelCase.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

# Cal.com's limits on booking metadata (reference §4.1).
METADATA_MAX_KEYS = 50
METADATA_MAX_KEY_LEN = 40
METADATA_MAX_VALUE_LEN = 500


class _Output(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, extra="ignore", frozen=True
    )


class _Input(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        frozen=True,
    )

    def to_body(self) -> dict[str, Any]:
        """The JSON body: camelCase, without fields left unset or None (Cal.com's DTOs reject nulls)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True)


def to_utc_iso(moment: datetime) -> str:
    """Cal.com wants UTC with a `Z` (reference §4.1); a naive datetime is a bug, not a guess at a zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"aware datetime required, got naive {moment!r}")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


# --------------------------------------------------------------------------------------------- event types


class SchedulingType(StrEnum):
    COLLECTIVE = "collective"
    ROUND_ROBIN = "roundRobin"
    MANAGED = "managed"


class HostPriority(StrEnum):
    LOWEST = "lowest"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    HIGHEST = "highest"


class HostInput(_Input):
    user_id: int
    mandatory: bool | None = None
    priority: HostPriority | None = None


class _TeamEventTypeFields(_Input):
    """Fields shared by create and update; `locations` and `booking_fields` pass through as documented."""

    description: str | None = None
    hidden: bool | None = None
    slot_interval: int | None = Field(default=None, ge=1)
    minimum_booking_notice: int | None = Field(default=None, ge=0)
    before_event_buffer: int | None = Field(default=None, ge=0)
    after_event_buffer: int | None = Field(default=None, ge=0)
    schedule_id: int | None = None
    disable_guests: bool | None = None
    hosts: list[HostInput] | None = None
    assign_all_team_members: bool | None = None
    locations: list[dict[str, Any]] | None = None
    booking_fields: list[dict[str, Any]] | None = None
    booking_requires_authentication: bool | None = None


class TeamEventTypeCreate(_TeamEventTypeFields):
    """Body of `POST /v2/teams/{teamId}/event-types` (`CreateTeamEventTypeInput_2024_06_14`)."""

    title: str = Field(min_length=1)
    slug: str = Field(min_length=1)
    length_in_minutes: int = Field(ge=1)
    scheduling_type: SchedulingType = SchedulingType.COLLECTIVE

    def to_body(self) -> dict[str, Any]:
        # The scheduling type defaults here but is required by Cal.com, so always send it.
        return {**super().to_body(), "schedulingType": self.scheduling_type.value}


class TeamEventTypeUpdate(_TeamEventTypeFields):
    """Partial update (`UpdateTeamEventTypeInput_2024_06_14`): only the fields set are sent.

    `schedulingType` cannot change after creation, so it is not offered.
    """

    title: str | None = Field(default=None, min_length=1)
    slug: str | None = Field(default=None, min_length=1)
    length_in_minutes: int | None = Field(default=None, ge=1)


class TeamEventTypeHost(_Output):
    user_id: int
    name: str | None = None
    username: str | None = None
    avatar_url: str | None = None
    mandatory: bool | None = None
    priority: str | None = None


class TeamEventType(_Output):
    """`TeamEventTypeOutput_2024_06_14`, the fields we read."""

    id: int
    title: str
    slug: str
    length_in_minutes: int
    description: str | None = None
    team_id: int | None = None
    owner_id: int | None = None
    parent_event_type_id: int | None = None
    scheduling_type: SchedulingType | None = None
    assign_all_team_members: bool | None = None
    hosts: list[TeamEventTypeHost] = Field(default_factory=list)
    hidden: bool = False
    slot_interval: int | None = None
    minimum_booking_notice: int = 0
    before_event_buffer: int = 0
    after_event_buffer: int = 0
    schedule_id: int | None = None
    disable_guests: bool | None = None
    locations: list[dict[str, Any]] = Field(default_factory=list)
    booking_fields: list[dict[str, Any]] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


# --------------------------------------------------------------------------------------------- schedules


class Weekday(StrEnum):
    MONDAY = "Monday"
    TUESDAY = "Tuesday"
    WEDNESDAY = "Wednesday"
    THURSDAY = "Thursday"
    FRIDAY = "Friday"
    SATURDAY = "Saturday"
    SUNDAY = "Sunday"


class WeeklyHours(_Output):
    """Working hours on the given weekdays, wall-clock times in the schedule's time zone."""

    days: list[Weekday]
    start_time: time
    end_time: time


class DateOverride(_Output):
    """Replaces one date's hours with this window."""

    date: date
    start_time: time
    end_time: time


class Schedule(_Output):
    """`ScheduleOutput_2024_06_11`."""

    id: int
    owner_id: int | None = None
    name: str
    time_zone: str
    is_default: bool = False
    availability: list[WeeklyHours] = Field(default_factory=list)
    overrides: list[DateOverride] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------- slots


class SlotRange(_Output):
    """One free slot from `GET /v2/slots?format=range`; seated event types add the seat counts."""

    start: AwareDatetime
    end: AwareDatetime
    seats_booked: int | None = None
    seats_remaining: int | None = None
    seats_total: int | None = None
    booking_uid: str | None = None


SlotsByDate = dict[date, list[SlotRange]]
"""Free slots keyed by their local date in the `timeZone` asked for; dates with nothing free are absent."""


# --------------------------------------------------------------------------------------------- bookings


class BookingStatus(StrEnum):
    ACCEPTED = "accepted"
    PENDING = "pending"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class AttendeeInput(_Input):
    """The person a booking is for (`CreateBookingAttendee`)."""

    name: str = Field(min_length=1)
    email: str | None = None
    time_zone: str
    phone_number: str | None = None
    language: str | None = None

    _time_zone_is_iana = field_validator("time_zone")(_check_time_zone)


class BookingCreate(_Input):
    """Body of `POST /v2/bookings` (`CreateBookingInput_2024_08_13`), booked by event type id."""

    event_type_id: int
    start: str
    attendee: AttendeeInput
    metadata: dict[str, str] | None = None
    length_in_minutes: int | None = None
    guests: list[str] | None = None
    booking_fields_responses: dict[str, Any] | None = None

    @field_validator("metadata")
    @classmethod
    def _within_calcom_limits(cls, metadata: dict[str, str] | None) -> dict[str, str] | None:
        if metadata is None:
            return None
        if len(metadata) > METADATA_MAX_KEYS:
            raise ValueError(f"at most {METADATA_MAX_KEYS} metadata keys")
        for key, value in metadata.items():
            if len(key) > METADATA_MAX_KEY_LEN:
                raise ValueError(f"metadata key {key!r} longer than {METADATA_MAX_KEY_LEN} characters")
            if len(value) > METADATA_MAX_VALUE_LEN:
                raise ValueError(f"metadata value of {key!r} longer than {METADATA_MAX_VALUE_LEN} characters")
        return metadata


class BookingCancel(_Input):
    """`CancelBookingInput_2024_08_13`."""

    cancellation_reason: str | None = None


class BookingReschedule(_Input):
    """`RescheduleBookingInput_2024_08_13`."""

    start: str
    rescheduling_reason: str | None = None
    rescheduled_by: str | None = None


class BookingHost(_Output):
    id: int
    name: str | None = None
    email: str | None = None
    username: str | None = None
    time_zone: str | None = None


class BookingAttendee(_Output):
    name: str
    email: str | None = None
    time_zone: str | None = None
    language: str | None = None
    absent: bool = False
    phone_number: str | None = None


class BookingEventType(_Output):
    id: int
    slug: str | None = None


class Booking(_Output):
    """`BookingOutput_2024_08_13`, the fields we read."""

    id: int
    uid: str
    title: str | None = None
    description: str | None = None
    status: BookingStatus
    start: AwareDatetime
    end: AwareDatetime
    duration: int | None = None
    event_type_id: int | None = None
    event_type: BookingEventType | None = None
    hosts: list[BookingHost] = Field(default_factory=list)
    attendees: list[BookingAttendee] = Field(default_factory=list)
    guests: list[str] = Field(default_factory=list)
    location: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    booking_fields_responses: dict[str, Any] = Field(default_factory=dict)
    absent_host: bool | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    ics_uid: str | None = None
    rating: float | None = None  # the server sends null although the document does not mark it nullable
    cancellation_reason: str | None = None
    cancelled_by_email: str | None = None
    rescheduling_reason: str | None = None
    rescheduled_by_email: str | None = None
    rescheduled_from_uid: str | None = None
    rescheduled_to_uid: str | None = None
    recurring_booking_uid: str | None = None

    @property
    def booked_event_type_id(self) -> int | None:
        """`eventTypeId` is deprecated in favour of `eventType.id`; read whichever is there."""
        return self.event_type.id if self.event_type is not None else self.event_type_id


class Pagination(_Output):
    """The `pagination` block of paginated lists (`PaginationMetaDto`)."""

    total_items: int
    remaining_items: int
    returned_items: int
    items_per_page: int
    current_page: int
    total_pages: int
    has_next_page: bool
    has_previous_page: bool


class BookingPage(_Output):
    bookings: list[Booking]
    pagination: Pagination


class BookingListStatus(StrEnum):
    UPCOMING = "upcoming"
    RECURRING = "recurring"
    PAST = "past"
    CANCELLED = "cancelled"
    UNCONFIRMED = "unconfirmed"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


class BookingFilters(BaseModel):
    """Filters of `GET /v2/bookings` (reference §4.3); unset ones are not sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: list[BookingListStatus] | None = None
    attendee_email: str | None = None
    attendee_name: str | None = None
    booking_uid: str | None = None
    event_type_ids: list[int] | None = None
    team_ids: list[int] | None = None
    after_start: datetime | None = None
    before_end: datetime | None = None
    after_created_at: datetime | None = None
    before_created_at: datetime | None = None
    after_updated_at: datetime | None = None
    before_updated_at: datetime | None = None
    sort_start: SortOrder | None = None
    sort_end: SortOrder | None = None
    sort_created: SortOrder | None = None
    sort_updated_at: SortOrder | None = None

    def to_query(self) -> dict[str, str]:
        query: dict[str, str] = {}
        if self.status:
            query["status"] = ",".join(status.value for status in self.status)
        if self.event_type_ids:
            query["eventTypeIds"] = ",".join(str(event_type_id) for event_type_id in self.event_type_ids)
        if self.team_ids:
            query["teamsIds"] = ",".join(str(team_id) for team_id in self.team_ids)
        for name in ("attendee_email", "attendee_name", "booking_uid"):
            value = getattr(self, name)
            if value is not None:
                query[to_camel(name)] = value
        for name in (
            "after_start",
            "before_end",
            "after_created_at",
            "before_created_at",
            "after_updated_at",
            "before_updated_at",
        ):
            moment = getattr(self, name)
            if moment is not None:
                query[to_camel(name)] = to_utc_iso(moment)
        for name in ("sort_start", "sort_end", "sort_created", "sort_updated_at"):
            order = getattr(self, name)
            if order is not None:
                query[to_camel(name)] = order.value
        return query


# --------------------------------------------------------------------------------------------- webhooks


class WebhookTrigger(StrEnum):
    BOOKING_CREATED = "BOOKING_CREATED"
    BOOKING_PAYMENT_INITIATED = "BOOKING_PAYMENT_INITIATED"
    BOOKING_PAID = "BOOKING_PAID"
    BOOKING_RESCHEDULED = "BOOKING_RESCHEDULED"
    BOOKING_REQUESTED = "BOOKING_REQUESTED"
    BOOKING_CANCELLED = "BOOKING_CANCELLED"
    BOOKING_REJECTED = "BOOKING_REJECTED"
    BOOKING_NO_SHOW_UPDATED = "BOOKING_NO_SHOW_UPDATED"
    FORM_SUBMITTED = "FORM_SUBMITTED"
    FORM_SUBMITTED_NO_EVENT = "FORM_SUBMITTED_NO_EVENT"
    MEETING_STARTED = "MEETING_STARTED"
    MEETING_ENDED = "MEETING_ENDED"
    RECORDING_READY = "RECORDING_READY"
    RECORDING_TRANSCRIPTION_GENERATED = "RECORDING_TRANSCRIPTION_GENERATED"
    INSTANT_MEETING = "INSTANT_MEETING"
    OOO_CREATED = "OOO_CREATED"
    AFTER_HOSTS_CAL_VIDEO_NO_SHOW = "AFTER_HOSTS_CAL_VIDEO_NO_SHOW"
    AFTER_GUESTS_CAL_VIDEO_NO_SHOW = "AFTER_GUESTS_CAL_VIDEO_NO_SHOW"


class WebhookCreate(_Input):
    """`CreateWebhookInputDto`."""

    subscriber_url: str = Field(min_length=1)
    triggers: list[WebhookTrigger] = Field(min_length=1)
    active: bool = True
    secret: str | None = None
    payload_template: str | None = None

    def to_body(self) -> dict[str, Any]:
        # `active` is required by Cal.com even though it has a natural default here.
        return {**super().to_body(), "active": self.active}


class Webhook(_Output):
    """`UserWebhookOutputDto`; `triggers` stay strings so a trigger added by Cal.com cannot break a read."""

    id: int
    subscriber_url: str
    triggers: list[str] = Field(default_factory=list)
    active: bool
    payload_template: str | None = None
    secret: str | None = None
    user_id: int | None = None
    event_type_id: int | None = None
