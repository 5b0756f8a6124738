"""`BookingOutput_2024_08_13` exactly as the server renders a stored booking."""

from __future__ import annotations

from typing import Any

from composite_booking.calcom.sandbox.clock import iso_utc
from composite_booking.calcom.sandbox.records import Attendee, Booking, BookingStatus
from composite_booking.calcom.sandbox.state import SandboxState


def booking_output(state: SandboxState, booking: Booking) -> dict[str, Any]:
    """`BookingOutput_2024_08_13` as the server renders it; optional fields appear only when they apply."""
    organizer = state.users.get(booking.organizer_id)
    output: dict[str, Any] = {
        "id": booking.id,
        "uid": booking.uid,
        "title": booking.title,
        "description": booking.description,
        "hosts": [
            {
                "id": organizer.id,
                "name": organizer.name,
                "email": organizer.email,
                "username": organizer.username,
                "timeZone": organizer.time_zone,
            }
            if organizer
            else {"id": "unknown", "name": "unknown", "email": "unknown", "username": "unknown"}
        ],
        "status": booking.status.value,
        "start": iso_utc(booking.start),
        "end": iso_utc(booking.end),
        "duration": int((booking.end - booking.start).total_seconds() // 60),
        "eventTypeId": booking.event_type_id,
        "eventType": {"id": booking.event_type_id, "slug": booking.event_type_slug}
        if booking.event_type_id is not None
        else None,
        "attendees": [_attendee_output(a) for a in booking.attendees],
        "guests": list(booking.guests),
        "location": booking.location,
        "meetingUrl": booking.location,
        "absentHost": False,
        "bookingFieldsResponses": dict(booking.responses),
        "metadata": dict(booking.metadata),
        "createdAt": iso_utc(booking.created_at),
        "updatedAt": iso_utc(booking.updated_at),
        "rating": None,
        "icsUid": booking.ical_uid,
    }
    if booking.status is BookingStatus.CANCELLED:
        if booking.cancellation_reason is not None:
            output["cancellationReason"] = booking.cancellation_reason
        if booking.cancelled_by_email is not None:
            output["cancelledByEmail"] = booking.cancelled_by_email
    optional = {
        "reschedulingReason": booking.rescheduling_reason,
        "rescheduledFromUid": booking.rescheduled_from_uid,
        "rescheduledToUid": booking.rescheduled_to_uid,
        "rescheduledByEmail": booking.rescheduled_by_email,
    }
    output.update({key: value for key, value in optional.items() if value is not None})
    return output


def _attendee_output(attendee: Attendee) -> dict[str, Any]:
    output: dict[str, Any] = {
        "name": attendee.name,
        "email": attendee.email,
        "timeZone": attendee.time_zone,
        "language": attendee.language,
        "absent": attendee.absent,
    }
    if attendee.phone_number:
        output["phoneNumber"] = attendee.phone_number
    return output
