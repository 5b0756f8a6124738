"""Domain errors carry their HTTP status; one handler renders them all as problem+json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldProblem:
    """One invalid input field: `field` is a dotted path such as `segments[1].duration_min`."""

    field: str
    message: str


class ServiceError(Exception):
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    type_slug: ClassVar[str] = "internal-error"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


class NotFound(ServiceError):
    status = 404
    title = "Not found"
    type_slug = "not-found"

    def __init__(self, resource: str, resource_id: object) -> None:
        super().__init__(f"{resource} {resource_id} does not exist")
        self.resource = resource


class Unauthorized(ServiceError):
    status = 401
    title = "Unauthorized"
    type_slug = "unauthorized"


class Conflict(ServiceError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class InvalidInput(ServiceError):
    """422 naming every offending field."""

    status = 422
    title = "Invalid input"
    type_slug = "invalid-input"

    def __init__(self, problems: list[FieldProblem]) -> None:
        detail = "; ".join(f"{p.field}: {p.message}" for p in problems)
        super().__init__(detail)
        self.problems = problems

    @classmethod
    def single(cls, field: str, message: str) -> InvalidInput:
        return cls([FieldProblem(field, message)])


# --- bookings --------------------------------------------------------------------------------------------


class SlotUnavailable(Conflict):
    """The chain does not fit at that time (taken meanwhile, or never free); `alternatives` suggest others."""

    title = "Slot unavailable"
    type_slug = "slot-unavailable"


class BookingStateConflict(Conflict):
    """The appointment is in a state that does not allow this change (e.g. cancelled, or being moved)."""

    title = "Booking cannot be changed now"
    type_slug = "booking-state-conflict"


class RescheduleNotAllowed(ServiceError):
    """The service's reschedule policy forbids this move (too close to the start, or moved too often)."""

    status = 422
    title = "Reschedule not allowed"
    type_slug = "reschedule-not-allowed"


class PauseNotReleasable(ServiceError):
    status = 422
    title = "Pause cannot be released"
    type_slug = "pause-not-releasable"


class IdempotencyKeyReused(ServiceError):
    """The key was used before for a different request (IETF draft: 422)."""

    status = 422
    title = "Idempotency-Key reused"
    type_slug = "idempotency-key-reused"


class IdempotencyKeyInFlight(Conflict):
    """The first request with this key is still being processed; retry later for its response."""

    title = "Request with this Idempotency-Key in progress"
    type_slug = "idempotency-key-in-flight"


class CalendarNotReady(ServiceError):
    """Cal.com cannot take the booking: no API key, or the segment event types are not synced yet."""

    status = 503
    title = "Calendar not ready"
    type_slug = "calendar-not-ready"


class BookingUpstreamFailed(ServiceError):
    """Cal.com failed while the chain was being booked; whatever was booked has been taken back."""

    status = 502
    title = "Calendar service failed"
    type_slug = "booking-upstream-failed"


class BookingUpstreamUnavailable(BookingUpstreamFailed):
    """Cal.com could not be reached or refused us for now (rate limit); nothing is left booked."""

    status = 503
    title = "Calendar service unavailable"
    type_slug = "booking-upstream-unavailable"


class BookingOutcomePending(ServiceError):
    """The booking's outcome is being settled in the background (its request lost the saga to recovery)."""

    status = 504
    title = "Booking outcome pending"
    type_slug = "booking-outcome-pending"
