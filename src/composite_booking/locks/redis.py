"""Locks in Redis, shared by every replica: `SET key token NX PX ttl`, released by compare-and-delete."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError

from composite_booking.locks.base import LockOutcome, is_held

log = logging.getLogger(__name__)

# Deletes each key only while it still holds our token: a lock whose TTL ran out and that someone else
# took since is never released by us.
_RELEASE = """
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[1] then
    released = released + redis.call('del', key)
  end
end
return released
"""

_POLL_MIN_S = 0.005
_POLL_MAX_S = 0.05
# One Redis command may take this long before the backend counts as down (a stalled server must not
# stall bookings: they go on without the lock).
_COMMAND_TIMEOUT_S = 1.0


class _WaitExpired(Exception):
    pass


class RedisLockService:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "composite-booking:lock:",
        ttl_s: float = 15.0,
        wait_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if ttl_s <= 0 or wait_s < 0:
            raise ValueError("ttl_s must be positive and wait_s not negative")
        self._redis = redis
        self._prefix = prefix
        self._ttl_ms = max(1, round(ttl_s * 1000))
        self._wait_s = wait_s
        self._clock = clock
        self._rng = rng or random.Random()

    @asynccontextmanager
    async def hold(self, keys: Collection[str]) -> AsyncIterator[LockOutcome]:
        # A fresh token per acquisition: a release can only ever remove this acquisition's own keys.
        token = uuid.uuid4().hex
        names = [self._prefix + key for key in sorted(set(keys))]
        taken: list[str] = []
        try:
            waited = await self._acquire(names, token, taken)
            outcome = LockOutcome.HELD_AFTER_WAIT if waited else LockOutcome.HELD
        except _WaitExpired:
            outcome = LockOutcome.TIMED_OUT
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("lock backend unavailable, going on without locks: %r", exc)
            outcome = LockOutcome.UNAVAILABLE
        if not is_held(outcome):
            await self._release(taken, token)
            taken = []
        try:
            yield outcome
        finally:
            await self._release(taken, token)

    async def _acquire(self, names: list[str], token: str, taken: list[str]) -> bool:
        """Take every key in order; True when some key was held by someone else first."""
        deadline = self._clock() + self._wait_s
        waited = False
        for name in names:
            delay = _POLL_MIN_S
            while True:
                async with asyncio.timeout(_COMMAND_TIMEOUT_S):
                    acquired = await self._redis.set(name, token, nx=True, px=self._ttl_ms)
                if acquired:
                    taken.append(name)
                    break
                waited = True
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise _WaitExpired
                await asyncio.sleep(min(remaining, delay * self._rng.uniform(0.5, 1.5)))
                delay = min(delay * 2, _POLL_MAX_S)
        return waited

    async def _release(self, names: list[str], token: str) -> None:
        if not names:
            return
        try:
            async with asyncio.timeout(_COMMAND_TIMEOUT_S):
                await self._redis.eval(_RELEASE, len(names), *names, token)
        except (RedisError, OSError, TimeoutError) as exc:
            # The TTL frees them; nothing else to do.
            log.warning("could not release locks %s: %r", names, exc)
