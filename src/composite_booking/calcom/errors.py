"""Typed errors for Cal.com failures, built from Cal.com's error envelope.

Every error is a `ServiceError`, so one that escapes a use case renders as a sane status: a failure of
Cal.com (or of our request to it) is a 502 for our API, never a 500, and a 404 from Cal.com is not a 404 of
ours. The upstream status, Cal.com's `error.code` and `error.message`, and the `X-Request-Id` travel along
for logs and for callers that need them (the saga checks `CalcomUnknownOutcome`).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import httpx

from composite_booking.calcom.ratelimit import retry_after_seconds
from composite_booking.domain.errors import ServiceError

# Cal.com's availability re-check on POST /v2/bookings and /reschedule answers a busy host with a 400 whose
# message is one of these (reference §4.5); nothing else tells a taken slot apart from a malformed request.
_HOST_BUSY_MARKERS = ("already has booking", "not available")


class CalcomError(ServiceError):
    status: ClassVar[int] = 502
    title: ClassVar[str] = "Calendar service error"
    type_slug: ClassVar[str] = "calcom-error"

    def __init__(
        self,
        detail: str,
        *,
        method: str,
        path: str,
        upstream_status: int | None = None,
        code: str | None = None,
        upstream_message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(
            detail,
            extra={
                "upstream_status": upstream_status,
                "upstream_code": code,
                "upstream_request_id": request_id,
            },
        )
        self.method = method
        self.path = path
        self.upstream_status = upstream_status
        self.code = code
        self.upstream_message = upstream_message
        self.request_id = request_id

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.method} {self.path}: upstream_status={self.upstream_status}, "
            f"code={self.code!r}, message={self.upstream_message!r}, request_id={self.request_id!r})"
        )


class CalcomConflict(CalcomError):
    """Cal.com answered 409 (a unique constraint, a full seated slot)."""

    status = 409
    title = "Conflict in the calendar"
    type_slug = "calcom-conflict"


class CalcomSlotTaken(CalcomConflict):
    """The host is no longer free at that time: someone else booked it, or it left working hours."""

    title = "Slot no longer available"
    type_slug = "calcom-slot-taken"


class CalcomBadRequest(CalcomError):
    """Cal.com refused our request as invalid (400/422): a bug or a stale assumption on our side."""

    title = "Calendar service refused the request"
    type_slug = "calcom-bad-request"


class CalcomAuthError(CalcomError):
    """The API key is missing, wrong, expired or lacks the rights for this resource (401/403/498)."""

    title = "Calendar service refused our credentials"
    type_slug = "calcom-auth-error"


class CalcomNotFound(CalcomError):
    """Cal.com has no such resource. Our API still answers 502: the thing missing is Cal.com's, not ours."""

    title = "Calendar resource not found"
    type_slug = "calcom-not-found"


class CalcomRateLimited(CalcomError):
    """429 from Cal.com, or our own limiter would have to wait longer than the caller allows."""

    status = 503
    title = "Calendar service rate limit reached"
    type_slug = "calcom-rate-limited"

    def __init__(self, detail: str, *, retry_after_s: float | None = None, **context: Any) -> None:
        super().__init__(detail, **context)
        self.retry_after_s = retry_after_s


class CalcomUpstreamError(CalcomError):
    """Cal.com failed (5xx), could not be reached, or answered with a body we cannot read."""

    title = "Calendar service failed"
    type_slug = "calcom-upstream-error"


class CalcomUnknownOutcome(CalcomUpstreamError):
    """A non-idempotent write was sent but no usable answer came back: it may or may not have happened.

    Never retried blindly; the caller finds out (for bookings: by the `metadata` it wrote) and then either
    keeps or compensates. A subclass of `CalcomUpstreamError` so broad handlers still catch it.
    """

    status = 504
    title = "Calendar service outcome unknown"
    type_slug = "calcom-unknown-outcome"


def error_from_response(response: httpx.Response, *, method: str, path: str) -> CalcomError:
    """Map a non-2xx Cal.com response to the matching typed error."""
    code, message = _parse_error_envelope(response)
    status = response.status_code
    context: dict[str, Any] = {
        "method": method,
        "path": path,
        "upstream_status": status,
        "code": code,
        "upstream_message": message,
        "request_id": response.headers.get("x-request-id"),
    }
    said = f": {message}" if message else ""
    if status == 400 and message and any(marker in message.lower() for marker in _HOST_BUSY_MARKERS):
        return CalcomSlotTaken(f"Cal.com reports the host busy{said}", **context)
    if status in (400, 422):
        return CalcomBadRequest(f"Cal.com refused {method} {path} ({status}){said}", **context)
    if status in (401, 403, 498):
        return CalcomAuthError(
            f"Cal.com refused our credentials for {method} {path} ({status}){said}", **context
        )
    if status == 404:
        return CalcomNotFound(f"Cal.com has no resource at {method} {path}{said}", **context)
    if status == 409:
        return CalcomConflict(f"Cal.com reports a conflict on {method} {path}{said}", **context)
    if status == 429:
        return CalcomRateLimited(
            f"Cal.com rate limit reached on {method} {path}",
            retry_after_s=retry_after_seconds(response.headers),
            **context,
        )
    return CalcomUpstreamError(f"Cal.com failed on {method} {path} ({status}){said}", **context)


def _parse_error_envelope(response: httpx.Response) -> tuple[str | None, str | None]:
    """(code, message) from `{"status":"error","error":{"code","message",...}}`; tolerant of anything else.

    Errors that never reached Cal.com's filters (a proxy's HTML 502, an empty body) still get a short,
    readable message instead of a parse failure hiding the real status.
    """
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        text = response.text.strip()
        return None, text[:200] or None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        message = body.get("message") if isinstance(body, dict) else None
        return None, _as_text(message)
    code = error.get("code")
    return (code if isinstance(code, str) else None), _as_text(error.get("message"))


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):  # class-validator sometimes reports a list of messages
        return "; ".join(str(item) for item in value)
    return str(value)
