"""In-process locks, for the embedded run (one process): the same contract as the Redis backend."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from composite_booking.locks.base import LockOutcome, is_held


@dataclass(slots=True)
class _Holder:
    token: str
    expires_at: float


class InProcessLockService:
    def __init__(
        self, *, ttl_s: float = 15.0, wait_s: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl_s <= 0 or wait_s < 0:
            raise ValueError("ttl_s must be positive and wait_s not negative")
        self._ttl_s = ttl_s
        self._wait_s = wait_s
        self._clock = clock
        self._holders: dict[str, _Holder] = {}
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def hold(self, keys: Collection[str]) -> AsyncIterator[LockOutcome]:
        token = uuid.uuid4().hex
        names = sorted(set(keys))
        outcome = await self._acquire(names, token)
        try:
            yield outcome
        finally:
            if is_held(outcome):
                await self._release(names, token)

    def is_held(self, key: str) -> bool:
        holder = self._holders.get(key)
        return holder is not None and holder.expires_at > self._clock()

    async def _acquire(self, names: list[str], token: str) -> LockOutcome:
        deadline = self._clock() + self._wait_s
        taken: list[str] = []
        waited = False
        async with self._changed:
            for name in names:
                while self.is_held(name):
                    waited = True
                    remaining = deadline - self._clock()
                    if remaining <= 0:
                        self._drop(taken, token)
                        self._changed.notify_all()
                        return LockOutcome.TIMED_OUT
                    # Woken by a release; the timeout also notices a holder whose TTL ran out.
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, self._ttl_s))
                self._holders[name] = _Holder(token, self._clock() + self._ttl_s)
                taken.append(name)
        return LockOutcome.HELD_AFTER_WAIT if waited else LockOutcome.HELD

    async def _release(self, names: list[str], token: str) -> None:
        async with self._changed:
            self._drop(names, token)
            self._changed.notify_all()

    def _drop(self, names: list[str], token: str) -> None:
        for name in names:
            holder = self._holders.get(name)
            # Only our own acquisition: after a TTL ran out the key may belong to someone else now.
            if holder is not None and holder.token == token:
                del self._holders[name]
