"""Recognising the database's refusals, so an expected conflict becomes a 409 and never a 500."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from composite_booking.db.models import STAFF_OVERLAP_CONSTRAINT

EXCLUSION_VIOLATION = "23P01"
DEADLOCK_DETECTED = "40P01"
SERIALIZATION_FAILURE = "40001"


def _sqlstate(exc: DBAPIError) -> str | None:
    original = exc.orig
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return str(code) if code else None


def is_staff_overlap(exc: DBAPIError) -> bool:
    """The exclusion constraint refused a second active booking of the same staff time."""
    if _sqlstate(exc) != EXCLUSION_VIOLATION:
        return False
    # asyncpg's exception (the cause of the adapter's wrapper) names the constraint.
    cause = getattr(exc.orig, "__cause__", None)
    constraint = getattr(cause, "constraint_name", None)
    return constraint in (None, STAFF_OVERLAP_CONSTRAINT) or STAFF_OVERLAP_CONSTRAINT in str(exc)


def is_booking_race(exc: DBAPIError) -> bool:
    """A conflict between concurrent writers that the caller should report as 409 (or retry)."""
    return is_staff_overlap(exc) or _sqlstate(exc) in (DEADLOCK_DETECTED, SERIALIZATION_FAILURE)
