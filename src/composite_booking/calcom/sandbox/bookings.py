"""Bookings (`cal-api-version: 2024-08-13`): create, cancel and reschedule.

Checks on create and reschedule run in Cal.com's order: body validation, event type lookup, start in the
past, minimum notice, then host availability through the same predicate `GET /v2/slots` uses. Nothing in
here awaits, so the check and the insert happen without interleaving: two clients racing for one slot get
one booking and one 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from composite_booking.calcom.sandbox.availability import Interval, free_hosts, host_ids
from composite_booking.calcom.sandbox.errors import (
    MSG_ALREADY_CANCELLED,
    MSG_BOOKING_METADATA,
    MSG_CANCEL_ENDED,
    MSG_CANCEL_REASON_REQUIRED,
    MSG_IN_THE_PAST,
    MSG_OUT_OF_BOUNDS,
    MSG_TEAM_HOST_BUSY,
    bad_request,
    internal_error,
    not_found,
)
from composite_booking.calcom.sandbox.records import (
    Attendee,
    Booking,
    BookingStatus,
    EventType,
    SchedulingType,
    User,
)
from composite_booking.calcom.sandbox.state import SandboxState
from composite_booking.calcom.sandbox.validation import BodyChecker, booking_metadata_problem

LANGUAGES = (
    "ar", "ca", "de", "es", "eu", "he", "id", "ja", "lv", "pl", "ro", "sr", "th", "vi", "az", "cs", "el",
    "es-419", "fi", "hr", "it", "km", "nl", "pt", "ru", "sv", "tr", "zh-CN", "bg", "da", "en", "et", "fr",
    "hu", "iw", "ko", "no", "pt-BR", "sk", "ta", "uk", "zh-TW", "bn",
)  # fmt: skip
_CREATE_FIELDS = (
    "start",
    "attendee",
    "bookingFieldsResponses",
    "eventTypeId",
    "eventTypeSlug",
    "username",
    "teamSlug",
    "organizationSlug",
    "guests",
    "meetingUrl",
    "location",
    "metadata",
    "lengthInMinutes",
    "routing",
    "emailVerificationCode",
)
_ATTENDEE_FIELDS = ("name", "email", "timeZone", "phoneNumber", "language")


@dataclass(frozen=True, slots=True)
class BookingChange:
    """What a write did, for the webhook dispatcher: the trigger and the bookings involved."""

    trigger: str
    booking: Booking
    previous: Booking | None = None


# --- create


@dataclass(frozen=True, slots=True)
class _NewBookingRequest:
    event_type: EventType
    start: datetime
    length_min: int
    attendee: Attendee
    guests: list[str]
    metadata: dict[str, Any]
    responses: dict[str, Any]
    location: str | None


def _parse_create_body(state: SandboxState, body: Any) -> _NewBookingRequest:
    check = BodyChecker(body, allowed=_CREATE_FIELDS)
    start = check.iso_instant("start", required=True)
    attendee_body = check.obj("attendee", required=True)
    attendee_check = BodyChecker(attendee_body or {}, allowed=_ATTENDEE_FIELDS)
    if attendee_body is not None:
        attendee_check.string("name", required=True, non_empty=True)
        attendee_check.time_zone("timeZone", required=True)
        # The schema calls email optional, but without a phone-only booking field Cal.com cannot book.
        attendee_check.email("email", required=True)
        attendee_check.string("phoneNumber")
        attendee_check.enum("language", LANGUAGES)
        check.nest("attendee", attendee_check)
    event_type_id = check.integer("eventTypeId", minimum=1)
    event_type_slug = check.string("eventTypeSlug")
    team_slug = check.string("teamSlug")
    username = check.string("username")
    guests = check.array("guests") or []
    if not all(isinstance(g, str) for g in guests):
        check.reject("guests", "isEmail", "each value in guests must be an email")
    length = check.integer("lengthInMinutes", minimum=1)
    metadata = check.obj("metadata")
    if check.present("metadata") and booking_metadata_problem(check.raw("metadata")):
        check.reject("metadata", "validateMetadata", MSG_BOOKING_METADATA)
    field_responses = check.obj("bookingFieldsResponses") or {}
    location = check.raw("location")
    check.finish()

    event_type = _find_event_type(state, event_type_id, event_type_slug, team_slug, username)
    _check_length(event_type, length)
    values = attendee_check.values
    attendee = Attendee(
        name=values["name"],
        email=values["email"],
        time_zone=values["timeZone"],
        language=values.get("language") or "en",
        phone_number=values.get("phoneNumber"),
    )
    responses: dict[str, Any] = {**field_responses, "name": attendee.name, "email": attendee.email}
    responses["guests"] = list(guests)
    if attendee.phone_number:
        responses["attendeePhoneNumber"] = attendee.phone_number
    return _NewBookingRequest(
        event_type=event_type,
        start=start,
        length_min=length or event_type.length_in_minutes,
        attendee=attendee,
        guests=list(guests),
        metadata=dict(metadata or {}),
        responses=responses,
        location=_location_text(event_type, location),
    )


def _find_event_type(
    state: SandboxState,
    event_type_id: int | None,
    event_type_slug: str | None,
    team_slug: str | None,
    username: str | None,
) -> EventType:
    if event_type_id is not None:
        event_type = state.event_types.get(event_type_id)
        if event_type is None:
            raise not_found(f"Event type with id {event_type_id} not found.")
        return event_type
    if event_type_slug and team_slug:
        team = state.team_by_slug(team_slug)
        if team is None:
            raise not_found(f"Team with slug {team_slug} not found")
        found = state.team_event_type_by_slug(team.id, event_type_slug)
        if found is None:
            raise not_found(
                f"Event type with slug {event_type_slug} belonging to team {team_slug} not found."
            )
        return found
    if event_type_slug and username:
        # Only team event types are emulated, so a user's own event type is never found.
        raise not_found(f"Event type with slug {event_type_slug} belonging to user {username} not found.")
    raise not_found(f"Event type with id {event_type_id} not found.")


def _check_length(event_type: EventType, length: int | None) -> None:
    if length is None:
        return
    options = event_type.length_in_minutes_options
    if not options:
        raise bad_request(
            "Can't specify 'lengthInMinutes' because event type does not have multiple possible lengths. "
            "Please, remove the 'lengthInMinutes' field from the request."
        )
    if length not in options:
        raise bad_request(
            "Provided 'lengthInMinutes' is not one of the possible lengths for the event type. The possible "
            f"lengths are: {', '.join(str(o) for o in options)}"
        )


def _location_text(event_type: EventType, requested: Any) -> str | None:
    """The booking's `location` string: the attendee's choice when given, else the event type's first."""
    if isinstance(requested, str):
        return requested
    if isinstance(requested, dict):
        for key in ("address", "phone", "location", "link"):
            if isinstance(requested.get(key), str):
                return str(requested[key])
    for location in event_type.locations:
        if location.get("type") == "address":
            return str(location.get("address", ""))
        if location.get("type") == "link":
            return str(location.get("link", ""))
        if location.get("type") == "phone":
            return str(location.get("phone", ""))
        if location.get("type") == "integration":
            return "integrations:daily" if location.get("integration") == "cal-video" else None
    return None


def _check_bookable(
    state: SandboxState,
    event_type: EventType,
    event: Interval,
    now: datetime,
    *,
    ignore_booking_uid: str | None = None,
    preferred_organizer: int | None = None,
) -> list[int]:
    """Cal.com's checks in its order; returns who the booking makes busy, organizer first."""
    if event.start < now:
        raise bad_request(MSG_IN_THE_PAST)
    if event.start < now + timedelta(minutes=event_type.minimum_booking_notice):
        raise bad_request(MSG_OUT_OF_BOUNDS)
    free = free_hosts(state, event_type, event, ignore_booking_uid=ignore_booking_uid)
    if free is None:
        # Every emulated event type is a team event type, so Cal.com answers with the team wording.
        raise bad_request(MSG_TEAM_HOST_BUSY)
    if event_type.scheduling_type is SchedulingType.COLLECTIVE:
        return free
    return [_pick_round_robin_host(state, free, preferred_organizer)]


def _pick_round_robin_host(state: SandboxState, free: list[int], preferred: int | None) -> int:
    """Keep the previous host on reschedule when free; otherwise the least busy free host, then host order."""
    if preferred is not None and preferred in free:
        return preferred
    return min(
        free, key=lambda user_id: (sum(1 for _ in state.accepted_bookings_of(user_id)), free.index(user_id))
    )


def _title(state: SandboxState, event_type: EventType, attendee_name: str) -> str:
    if event_type.custom_name:
        return event_type.custom_name.replace("{Event type title}", event_type.title).replace(
            "{Scheduler}", attendee_name
        )
    team = state.teams.get(event_type.team_id)
    # Team events name the team, not the host: "<title> between <team name> and <attendee>".
    return f"{event_type.title} between {team.name if team else 'Nameless'} and {attendee_name}"


def create_booking(state: SandboxState, body: Any, now: datetime) -> BookingChange:
    request = _parse_create_body(state, body)
    event = Interval(request.start, request.start + timedelta(minutes=request.length_min))
    busy_users = _check_bookable(state, request.event_type, event, now)
    booking = _insert(
        state,
        event_type=request.event_type,
        event=event,
        busy_users=busy_users,
        attendee=request.attendee,
        guests=request.guests,
        metadata=request.metadata,
        responses=request.responses,
        location=request.location,
        now=now,
    )
    return BookingChange("BOOKING_CREATED", booking)


def _insert(
    state: SandboxState,
    *,
    event_type: EventType,
    event: Interval,
    busy_users: list[int],
    attendee: Attendee,
    guests: list[str],
    metadata: dict[str, Any],
    responses: dict[str, Any],
    location: str | None,
    now: datetime,
    rescheduled_from: Booking | None = None,
) -> Booking:
    uid = state.new_booking_uid()
    attendees = [attendee]
    # Collective bookings list the other hosts as attendees, as Cal.com does.
    for user_id in busy_users[1:]:
        host = state.users[user_id]
        attendees.append(Attendee(name=host.name, email=host.email, time_zone=host.time_zone))
    if location == "integrations:daily":
        location = f"https://app.cal.com/video/{uid}"
    booking = Booking(
        id=state.next_booking_id(),
        uid=uid,
        title=_title(state, event_type, attendee.name),
        status=BookingStatus.ACCEPTED,
        start=event.start,
        end=event.end,
        event_type_id=event_type.id,
        event_type_slug=event_type.slug,
        team_id=event_type.team_id,
        organizer_id=busy_users[0],
        busy_user_ids=list(busy_users),
        attendees=attendees,
        guests=guests,
        location=location,
        metadata=metadata,
        responses=responses,
        created_at=now,
        updated_at=now,
        rescheduled_from_uid=rescheduled_from.uid if rescheduled_from else None,
    )
    state.bookings[booking.uid] = booking
    return booking


def insert_booking_directly(
    state: SandboxState,
    event_type: EventType,
    start: datetime,
    attendee: Attendee,
    now: datetime,
    *,
    check_availability: bool,
    metadata: Mapping[str, Any] | None = None,
) -> BookingChange:
    """A booking made outside the API (Cal.com's own booking page); tests use it to create busy time."""
    event = Interval(start, start + timedelta(minutes=event_type.length_in_minutes))
    if check_availability:
        busy_users = _check_bookable(state, event_type, event, now)
    else:
        busy_users = host_ids(state, event_type)
        if event_type.scheduling_type is SchedulingType.ROUND_ROBIN:
            busy_users = busy_users[:1]
        if not busy_users:
            raise ValueError(f"event type {event_type.id} has no hosts")
    booking = _insert(
        state,
        event_type=event_type,
        event=event,
        busy_users=busy_users,
        attendee=attendee,
        guests=[],
        metadata=dict(metadata or {}),
        responses={"name": attendee.name, "email": attendee.email, "guests": []},
        location=_location_text(event_type, None),
        now=now,
    )
    return BookingChange("BOOKING_CREATED", booking)


# --- cancel and reschedule


def cancel_booking(
    state: SandboxState, uid: str, body: Any, caller: User | None, now: datetime
) -> BookingChange:
    check = BodyChecker(body, allowed=("cancellationReason", "cancelSubsequentBookings", "seatUid"))
    reason = check.string("cancellationReason")
    check.boolean("cancelSubsequentBookings")
    check.finish()
    booking = state.bookings.get(uid)
    if booking is None:
        raise not_found(f"Booking with uid={uid} not found")
    if booking.status is BookingStatus.CANCELLED:
        raise bad_request(MSG_ALREADY_CANCELLED)
    if caller is not None and caller.id == booking.organizer_id and not (reason or "").strip():
        raise bad_request(MSG_CANCEL_REASON_REQUIRED)
    if now > booking.end:
        raise bad_request(MSG_CANCEL_ENDED)
    booking.status = BookingStatus.CANCELLED
    booking.cancellation_reason = reason
    booking.cancelled_by_email = caller.email if caller is not None else None
    booking.updated_at = now
    return BookingChange("BOOKING_CANCELLED", booking)


def reschedule_booking(
    state: SandboxState, uid: str, body: Any, caller: User | None, now: datetime
) -> BookingChange:
    check = BodyChecker(
        body, allowed=("start", "rescheduledBy", "reschedulingReason", "emailVerificationCode", "seatUid")
    )
    start = check.iso_instant("start", required=True)
    rescheduled_by = check.string("rescheduledBy")
    reason = check.string("reschedulingReason")
    check.finish()
    old = state.bookings.get(uid)
    if old is None:
        # Cal.com throws a plain Error here, which its catch-all filter turns into a 500.
        raise internal_error()
    if old.status is BookingStatus.CANCELLED and old.rescheduled_to_uid is None:
        raise bad_request(
            f"Can't reschedule booking with uid={uid} because it has been cancelled. Please provide uid of a "
            "booking that is not cancelled."
        )
    if old.status is BookingStatus.CANCELLED:
        new_uid = old.rescheduled_to_uid
        raise bad_request(
            f"Can't reschedule booking with uid={uid} because it has been cancelled and rescheduled already "
            f"to booking with uid={new_uid}. You probably want to reschedule {new_uid} instead by passing it "
            "within the request URL."
        )
    event_type = state.event_types.get(old.event_type_id) if old.event_type_id else None
    if event_type is None:
        raise not_found(f"Booking with uid={uid} is missing event type")
    event = Interval(start, start + timedelta(minutes=event_type.length_in_minutes))
    busy_users = _check_bookable(
        state, event_type, event, now, ignore_booking_uid=old.uid, preferred_organizer=old.organizer_id
    )
    responses = dict(old.responses)
    if reason is not None:
        responses["rescheduledReason"] = reason
    new = _insert(
        state,
        event_type=event_type,
        event=event,
        busy_users=busy_users,
        attendee=old.attendees[0],
        guests=list(old.guests),
        metadata=dict(old.metadata),
        responses=responses,
        location=old.location,
        now=now,
        rescheduled_from=old,
    )
    new.rescheduling_reason = reason
    new.rescheduled_by_email = rescheduled_by or (caller.email if caller else None)
    old.status = BookingStatus.CANCELLED
    old.rescheduled_to_uid = new.uid
    old.rescheduled_by_email = new.rescheduled_by_email
    old.updated_at = now
    return BookingChange("BOOKING_RESCHEDULED", new, previous=old)
