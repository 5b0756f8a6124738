"""The appointment as an iCalendar (RFC 5545) invitation: one event per segment, in the branch's zone.

Why one event per segment and not one for the whole chain: the customer sees the pauses as gaps in their
calendar (and may step out during a long one), and each event matches one Cal.com booking on the staff
side. The UIDs are derived from the composite uid and the segment key, so a reschedule (same UIDs, higher
SEQUENCE) moves the entries the customer already has instead of adding new ones, and a CANCEL removes them.
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, date, datetime
from typing import Literal, get_args

from icalendar import Calendar, Event, Timezone, vCalAddress

from composite_booking.domain.statuses import AppointmentStatus
from composite_booking.notifications.model import AppointmentView, SegmentView
from composite_booking.notifications.texts import EN_DASH, chain_lines, texts_for

CalendarMethod = Literal["REQUEST", "CANCEL"]

PRODID = "-//composite-booking//Appointment notifications//EN"
UID_DOMAIN = "composite-booking"
# Years of time-zone transitions written around the appointment: enough for any client to place it,
# without the 1970-2038 decades icalendar describes by default (about 2 KB more in every invitation).
_TIMEZONE_YEARS_BEFORE = 1
_TIMEZONE_YEARS_AFTER = 2


def segment_uid(composite_uid: uuid.UUID, segment_key: str) -> str:
    """Stable across reschedules and cancellation: it is how a calendar client finds its entry again."""
    return f"{composite_uid}-{segment_key}@{UID_DOMAIN}"


def build_ics(view: AppointmentView, *, method: CalendarMethod, stamp: datetime | None = None) -> bytes:
    """One VCALENDAR with a VTIMEZONE for the branch and one VEVENT per segment.

    `stamp` is the DTSTAMP (when this invitation was made); the current time when omitted.
    """
    if method not in get_args(CalendarMethod):
        raise ValueError(f"unsupported iTIP method {method!r}")
    if method == "REQUEST" and view.status is AppointmentStatus.CANCELLED:
        # A REQUEST would put the entries back into the customer's calendar.
        raise ValueError("a cancelled appointment is announced with method CANCEL")
    stamp = (stamp or datetime.now(UTC)).astimezone(UTC)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(_branch_timezone(view))
    for number, segment in enumerate(view.segments, start=1):
        calendar.add_component(_segment_event(view, segment, number, method=method, stamp=stamp))
    ical: bytes = calendar.to_ical()
    return ical


def _segment_event(
    view: AppointmentView, segment: SegmentView, number: int, *, method: CalendarMethod, stamp: datetime
) -> Event:
    zone = view.zone
    event = Event()
    event.add("uid", segment_uid(view.composite_uid, segment.key))
    event.add("dtstamp", stamp)
    event.add("sequence", view.sequence)
    # Converted to the branch's zone so DTSTART/DTEND carry TZID=<branch zone> and read as salon time.
    event.add("dtstart", segment.starts_at.astimezone(zone))
    event.add("dtend", segment.ends_at.astimezone(zone))
    event.add("summary", _summary(view, segment, number))
    event.add("location", view.branch_name)
    event.add("description", _description(view, segment, number, cancelled=method == "CANCEL"))
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", _address(view.organizer_email, view.organizer_name))
    attendee = _address(view.customer.email, view.customer.name)
    attendee.params["ROLE"] = "REQ-PARTICIPANT"
    # The customer booked it themselves; there is nothing to accept and no reply we would process.
    attendee.params["PARTSTAT"] = "ACCEPTED"
    attendee.params["RSVP"] = "FALSE"
    event.add("attendee", attendee)
    return event


def _summary(view: AppointmentView, segment: SegmentView, number: int) -> str:
    total = len(view.segments)
    if total == 1:
        return view.service_name
    return f"{view.service_name} {EN_DASH} {segment.name} ({number}/{total})"


def _description(view: AppointmentView, segment: SegmentView, number: int, *, cancelled: bool) -> str:
    texts = texts_for(view.customer.language)
    headline = f"{view.service_name}, {view.branch_name}"
    if cancelled:
        headline = f"{texts.cancelled_prefix}: {headline}"
    lines = [
        headline,
        texts.long_date(view.starts_at.astimezone(view.zone).date()),
        "",
        texts.overview_heading,
        *chain_lines(view),
        texts.local_time_note.format(zone=view.branch_time_zone),
        "",
    ]
    if len(view.segments) > 1:
        lines.append(texts.part_of_chain.format(number=number, total=len(view.segments), name=segment.name))
    lines.append(f"{texts.confirmation_code}: {view.confirmation_code}")
    if view.notes:
        lines.append(f"{texts.notes}: {view.notes}")
    return "\n".join(lines)


def _address(email: str, name: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params["CN"] = name
    return address


def _branch_timezone(view: AppointmentView) -> Timezone:
    first_year = view.starts_at.year - _TIMEZONE_YEARS_BEFORE
    last_year = view.ends_at.year + _TIMEZONE_YEARS_AFTER
    timezone = Timezone.from_ical(_timezone_ical(view.branch_time_zone, first_year, last_year))
    assert isinstance(timezone, Timezone)  # parsed from our own VTIMEZONE
    return timezone


@functools.lru_cache(maxsize=64)
def _timezone_ical(zone: str, first_year: int, last_year: int) -> bytes:
    """Generating a VTIMEZONE walks the zone's transitions; a branch's zone is the same for every mail.

    The cache holds the serialized form, so no caller can mutate a component another one is using.
    """
    generated = Timezone.from_tzid(zone, first_date=date(first_year, 1, 1), last_date=date(last_year, 1, 1))
    ical: bytes = generated.to_ical()
    return ical
