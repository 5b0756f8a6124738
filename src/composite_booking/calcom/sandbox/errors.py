"""Cal.com's error shapes (reference §1.4) and the exact messages the sandbox answers with.

The real API is NestJS: an `HttpException` renders as `{status:"error", timestamp, path, error:{code, message,
details}}` where `code` is the exception class name and `details` is Nest's own response object. Anything
that is not an `HttpException` ends in the catch-all filter as a bare 500 `INTERNAL_SERVER_ERROR`.
"""

from __future__ import annotations

from typing import Any

# --- messages copied from Cal.com: apps/api/v2, handleNewBooking, handleCancelBooking

MSG_HOST_BUSY = "User either already has booking at this time or is not available"
MSG_TEAM_HOST_BUSY = "One of the hosts either already has booking at this time or is not available"
MSG_OUT_OF_BOUNDS = (
    "The event type can't be booked at the \"start\" time provided. This could be because it's too soon "
    "(violating the minimum booking notice) or too far in the future (outside the event's scheduling "
    "window). Try fetching available slots first using the GET /v2/slots endpoint and then make a booking "
    'with "start" time equal to one of the available slots: https://cal.com/docs/api-reference/v2/slots'
)
MSG_IN_THE_PAST = "Attempting to book a meeting in the past."
MSG_THROTTLED = "CustomThrottlerGuard - Too many requests. Please try again later."
MSG_INVALID_API_KEY = "ApiAuthStrategy - api key - Your api key is not valid"
MSG_INVALID_BEARER = "ApiAuthStrategy - Invalid Bearer token"
MSG_NO_AUTH = (
    "ApiAuthStrategy - No authentication method provided. Either pass an API key as 'Bearer' header or "
    "OAuth client credentials as 'x-cal-secret-key' and 'x-cal-client-id' headers"
)
MSG_DUPLICATE_TEAM_SLUG = "Team event type with this slug already exists"
MSG_BOOKING_METADATA = (
    "Metadata must have at most 50 keys, each key up to 40 characters, and string values up to 500 "
    "characters."
)
MSG_ALREADY_CANCELLED = "This booking has already been cancelled."
MSG_CANCEL_REASON_REQUIRED = "Cancellation reason is required when you are the host"
MSG_CANCEL_ENDED = "Cannot cancel a booking that has already ended"
MSG_INTERNAL = "Internal server error."
MSG_VALIDATION = "Bad Request Exception"

_NEST_EXCEPTIONS: dict[int, tuple[str, str]] = {
    400: ("BadRequestException", "Bad Request"),
    401: ("UnauthorizedException", "Unauthorized"),
    403: ("ForbiddenException", "Forbidden"),
    404: ("NotFoundException", "Not Found"),
    409: ("ConflictException", "Conflict"),
    422: ("UnprocessableEntityException", "Unprocessable Entity"),
    500: ("InternalServerErrorException", "Internal Server Error"),
    502: ("BadGatewayException", "Bad Gateway"),
    503: ("ServiceUnavailableException", "Service Unavailable"),
    504: ("GatewayTimeoutException", "Gateway Timeout"),
}

_NO_DETAILS = object()


class CalcomError(Exception):
    """An error the sandbox renders with Cal.com's envelope; raise it anywhere below a route."""

    def __init__(self, status: int, code: str, message: str, details: Any = _NO_DETAILS) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def envelope(self, *, path: str, timestamp: str) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not _NO_DETAILS:
            error["details"] = self.details
        return {"status": "error", "timestamp": timestamp, "path": path, "error": error}


def http_exception(status: int, message: str) -> CalcomError:
    """A Nest built-in `HttpException` subclass, e.g. `new BadRequestException(message)`."""
    code, reason = _NEST_EXCEPTIONS.get(status, ("HttpException", "Error"))
    return CalcomError(status, code, message, {"message": message, "error": reason, "statusCode": status})


def bad_request(message: str) -> CalcomError:
    return http_exception(400, message)


def unauthorized(message: str) -> CalcomError:
    return http_exception(401, message)


def forbidden(message: str) -> CalcomError:
    return http_exception(403, message)


def not_found(message: str) -> CalcomError:
    return http_exception(404, message)


def conflict(message: str) -> CalcomError:
    return http_exception(409, message)


def route_not_found(method: str, path: str) -> CalcomError:
    """What Nest answers for a path (or a `cal-api-version`) no controller serves."""
    return not_found(f"Cannot {method} {path}")


def validation_failed(errors: list[dict[str, Any]]) -> CalcomError:
    """The global ValidationPipe: `new BadRequestException({errors})`, so `message` is Nest's default text."""
    return CalcomError(400, "BadRequestException", MSG_VALIDATION, {"errors": errors})


def throttled() -> CalcomError:
    """`ThrottlerException` is built from a plain string, so Nest's response (`details`) is that string."""
    return CalcomError(429, "ThrottlerException", MSG_THROTTLED, MSG_THROTTLED)


def internal_error() -> CalcomError:
    """A non-HTTP exception caught by the catch-all filter: no `details`."""
    return CalcomError(500, "INTERNAL_SERVER_ERROR", MSG_INTERNAL)


def injected_error(status: int, message: str | None) -> CalcomError:
    """The error a fault rule asks for, in the shape Cal.com would use for that status."""
    if status == 429:
        return throttled()
    if status == 500 and message is None:
        return internal_error()
    _, reason = _NEST_EXCEPTIONS.get(status, ("HttpException", "Error"))
    return http_exception(status, message if message is not None else reason)
