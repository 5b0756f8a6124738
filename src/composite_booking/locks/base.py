"""The lock service: serialises booking decisions per staff member and day, across processes.

Locks are an efficiency measure, never the reason a booking is valid (PostgreSQL's exclusion constraint is).
They keep concurrent requests for one stylist's day from all resolving against the same free time and
racing into the constraint, and keep multi-staff claims from deadlocking (keys are taken in sorted order).
So a lock that cannot be had — the wait ran out, or the backend is down — is reported, not raised: the
caller goes on without it and the database still refuses any overlap.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Protocol


class LockOutcome(StrEnum):
    HELD = "held"  # free at once
    HELD_AFTER_WAIT = "held_after_wait"  # someone else held a key first: what they decided is now visible
    TIMED_OUT = "timed_out"  # another holder kept a key past the bounded wait
    UNAVAILABLE = "unavailable"  # the backend failed (e.g. Redis is down)


class LockService(Protocol):
    def hold(self, keys: Collection[str]) -> AbstractAsyncContextManager[LockOutcome]:
        """Hold every key for the body of the `async with` (or report why not; the body runs either way).

        Keys are acquired in sorted order with one bounded wait for all of them, each with a TTL, and
        released at the end; an acquisition never reuses a previous one's identity.
        """
        ...


def staff_day_keys(spans: Iterable[tuple[int, datetime, datetime]], zone: tzinfo) -> list[str]:
    """`staff:{id}:{local date}` for every local day (in the branch's zone) each staff member's span touches.

    Sorted, so every caller acquires in the same order and two chains can never wait on each other.
    """
    keys: set[str] = set()
    for staff_id, starts_at, ends_at in spans:
        day = starts_at.astimezone(zone).date()
        # The end is exclusive: a span ending exactly at midnight does not touch the next day.
        last = (ends_at - timedelta(microseconds=1)).astimezone(zone).date()
        while day <= last:
            keys.add(f"staff:{staff_id}:{day.isoformat()}")
            day += timedelta(days=1)
    return sorted(keys)


def is_held(outcome: LockOutcome) -> bool:
    return outcome in (LockOutcome.HELD, LockOutcome.HELD_AFTER_WAIT)
