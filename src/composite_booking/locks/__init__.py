"""Locks per staff member and day: an efficiency measure in front of PostgreSQL's exclusion constraint."""

from composite_booking.locks.base import LockOutcome, LockService, is_held, staff_day_keys
from composite_booking.locks.memory import InProcessLockService
from composite_booking.locks.redis import RedisLockService

__all__ = [
    "InProcessLockService",
    "LockOutcome",
    "LockService",
    "RedisLockService",
    "is_held",
    "staff_day_keys",
]
