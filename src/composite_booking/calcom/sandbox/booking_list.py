"""`GET /v2/bookings`: who sees which booking, the filters, sorting, and Cal.com's pagination block."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from composite_booking.calcom.sandbox.errors import validation_failed
from composite_booking.calcom.sandbox.records import Booking, BookingStatus, User
from composite_booking.calcom.sandbox.state import SandboxState
from composite_booking.calcom.sandbox.validation import BodyChecker

MAX_TAKE = 250
DEFAULT_TAKE = 100

_STATUS_FILTERS = ("upcoming", "recurring", "past", "cancelled", "unconfirmed")
_SORT_KEYS: dict[str, Callable[[Booking], datetime]] = {
    "sortStart": lambda b: b.start,
    "sortEnd": lambda b: b.end,
    "sortCreated": lambda b: b.created_at,
    "sortUpdatedAt": lambda b: b.updated_at,
}


@dataclass(frozen=True, slots=True)
class BookingPage:
    bookings: list[Booking]
    pagination: dict[str, Any]


def _csv_ints(value: str | None, name: str, errors: list[dict[str, Any]]) -> list[int] | None:
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not all(p.isdigit() for p in parts):
        errors.append(
            {"property": name, "value": value, "constraints": {"isNumber": f"{name} must be numbers"}}
        )
        return None
    return [int(p) for p in parts]


def list_bookings(state: SandboxState, query: Mapping[str, str], caller: User, now: datetime) -> BookingPage:
    check = BodyChecker(dict(query), allowed=(
        "status", "attendeeEmail", "attendeeName", "bookingUid", "eventTypeId", "eventTypeIds", "teamId",
        "teamsIds", "afterStart", "beforeEnd", "afterCreatedAt", "beforeCreatedAt", "afterUpdatedAt",
        "beforeUpdatedAt", *_SORT_KEYS, "take", "skip",
    ))  # fmt: skip
    take = check.integer("take", minimum=1, maximum=MAX_TAKE)
    skip = check.integer("skip", minimum=0)
    for sort_name in _SORT_KEYS:
        check.enum(sort_name, ("asc", "desc"))
    statuses = [s.strip() for s in (check.string("status") or "").split(",") if s.strip()]
    for status in statuses:
        if status not in _STATUS_FILTERS:
            check.reject(
                "status",
                "isEnum",
                f"status must be one of the following values: {', '.join(_STATUS_FILTERS)}",
            )
    bounds: dict[str, datetime] = {}
    for name in (
        "afterStart",
        "beforeEnd",
        "afterCreatedAt",
        "beforeCreatedAt",
        "afterUpdatedAt",
        "beforeUpdatedAt",
    ):
        moment = check.iso_instant(name)
        if moment is not None:
            bounds[name] = moment
    errors = list(check.errors)
    event_type_ids = _csv_ints(query.get("eventTypeIds") or query.get("eventTypeId"), "eventTypeIds", errors)
    team_ids = _csv_ints(query.get("teamsIds") or query.get("teamId"), "teamsIds", errors)
    if errors:
        raise validation_failed(errors)
    take = DEFAULT_TAKE if take is None else take
    skip = 0 if skip is None else skip

    matching = [
        b
        for b in state.bookings.values()
        if _visible_to(state, b, caller)
        and _matches_status(b, statuses, now)
        and _matches_filters(b, query, event_type_ids, team_ids, bounds)
    ]
    matching.sort(key=lambda b: (b.start, b.id))
    for sort_name in reversed(list(_SORT_KEYS)):
        direction = query.get(sort_name)
        if direction in ("asc", "desc"):
            matching.sort(key=_SORT_KEYS[sort_name], reverse=direction == "desc")
    page = matching[skip : skip + take]
    return BookingPage(page, pagination(skip=skip, take=take, total=len(matching)))


def _visible_to(state: SandboxState, booking: Booking, caller: User) -> bool:
    """The caller's own bookings, bookings they attend, and bookings of teams they administer."""
    if caller.id in booking.busy_user_ids:
        return True
    if any(a.email == caller.email for a in booking.attendees):
        return True
    return booking.team_id is not None and state.is_team_admin(booking.team_id, caller.id)


def _matches_status(booking: Booking, statuses: Sequence[str], now: datetime) -> bool:
    if not statuses:
        return True
    cancelled = booking.status is BookingStatus.CANCELLED
    for status in statuses:
        if status == "upcoming" and not cancelled and booking.end >= now:
            return True
        if status == "past" and not cancelled and booking.end <= now:
            return True
        if status == "cancelled" and cancelled:
            return True
    return False  # the sandbox has neither recurring nor unconfirmed bookings


def _matches_filters(
    booking: Booking,
    query: Mapping[str, str],
    event_type_ids: list[int] | None,
    team_ids: list[int] | None,
    bounds: Mapping[str, datetime],
) -> bool:
    email = query.get("attendeeEmail")
    if email and not any(a.email.lower() == email.lower() for a in booking.attendees):
        return False
    name = query.get("attendeeName")
    if name and not any(a.name.lower() == name.lower() for a in booking.attendees):
        return False
    uid = query.get("bookingUid")
    if uid and booking.uid != uid:
        return False
    if event_type_ids is not None and booking.event_type_id not in event_type_ids:
        return False
    if team_ids is not None and booking.team_id not in team_ids:
        return False
    lower_bounds = {
        "afterStart": booking.start,
        "afterCreatedAt": booking.created_at,
        "afterUpdatedAt": booking.updated_at,
    }
    upper_bounds = {
        "beforeEnd": booking.end,
        "beforeCreatedAt": booking.created_at,
        "beforeUpdatedAt": booking.updated_at,
    }
    return all(value >= bounds[name] for name, value in lower_bounds.items() if name in bounds) and all(
        value <= bounds[name] for name, value in upper_bounds.items() if name in bounds
    )


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))


def pagination(*, skip: int, take: int, total: int) -> dict[str, Any]:
    """Cal.com's `getPagination` (apps/api/v2/src/lib/pagination), field for field."""
    safe_skip = _clamp(skip, 0, total)
    total_pages = -(-total // take) if take else 0
    current_page = 0 if total_pages == 0 else _clamp(safe_skip // take + 1, 1, total_pages)
    return {
        "totalItems": total,
        "remainingItems": _clamp(total - (safe_skip + take), 0, total),
        "returnedItems": _clamp(total - safe_skip, 0, take),
        "itemsPerPage": take,
        "currentPage": current_page,
        "totalPages": total_pages,
        "hasNextPage": safe_skip + take < total,
        "hasPreviousPage": safe_skip > 0,
    }
