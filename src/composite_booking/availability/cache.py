"""Free time per staff member and UTC day, cached briefly (Redis when configured, in-process otherwise).

Invalidation bumps a per-staff generation that is part of every key, so it is one atomic step and a fetch
that started before it can only write under the old generation, which nobody reads any more.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# A generation no key carries: the cache could not be read, so nothing is read from or written to it.
_UNCACHED = -1

MinutePairs = list[tuple[int, int]]


class FreeTimeCache(Protocol):
    async def generation(self, staff_id: int) -> int: ...

    async def get_days(self, staff_id: int, generation: int, days: Sequence[date]) -> dict[date, MinutePairs]:
        """The cached days (days not cached are missing from the result)."""
        ...

    async def put_days(self, staff_id: int, generation: int, free: dict[date, MinutePairs]) -> None: ...

    async def invalidate(self, staff_id: int) -> None: ...


class InMemoryFreeTimeCache:
    """One process's cache: the embedded run, and single-replica deployments without Redis."""

    def __init__(self, ttl_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._generations: dict[int, int] = {}
        self._entries: dict[tuple[int, int, date], tuple[float, MinutePairs]] = {}

    async def generation(self, staff_id: int) -> int:
        return self._generations.get(staff_id, 0)

    async def get_days(self, staff_id: int, generation: int, days: Sequence[date]) -> dict[date, MinutePairs]:
        now = self._clock()
        found = {}
        for day in days:
            entry = self._entries.get((staff_id, generation, day))
            if entry is not None and entry[0] > now:
                found[day] = entry[1]
        return found

    async def put_days(self, staff_id: int, generation: int, free: dict[date, MinutePairs]) -> None:
        expires = self._clock() + self._ttl_s
        if len(self._entries) > 50_000:  # bounded: drop expired entries before growing further
            now = self._clock()
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
        for day, pairs in free.items():
            self._entries[(staff_id, generation, day)] = (expires, pairs)

    async def invalidate(self, staff_id: int) -> None:
        self._generations[staff_id] = self._generations.get(staff_id, 0) + 1


class RedisFreeTimeCache:
    """Shared by every replica, so a booking on one invalidates the free time all of them serve.

    Redis is an efficiency measure here: when it fails, reads miss (free time is fetched from Cal.com) and
    writes are skipped, so an outage slows availability down but never breaks it. Invalidations lost during
    an outage can leave entries up to their TTL; bookings are still checked by PostgreSQL and Cal.com.
    """

    def __init__(self, redis: Redis, ttl_s: float, *, prefix: str = "cb:free") -> None:
        self._redis = redis
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._prefix = prefix

    def _generation_key(self, staff_id: int) -> str:
        return f"{self._prefix}:gen:{staff_id}"

    def _day_key(self, staff_id: int, generation: int, day: date) -> str:
        return f"{self._prefix}:{staff_id}:{generation}:{day.isoformat()}"

    async def generation(self, staff_id: int) -> int:
        try:
            value = await self._redis.get(self._generation_key(staff_id))
        except RedisError as exc:
            log.warning("free-time cache unavailable, reading Cal.com instead: %r", exc)
            return _UNCACHED
        return int(value) if value is not None else 0

    async def get_days(self, staff_id: int, generation: int, days: Sequence[date]) -> dict[date, MinutePairs]:
        if not days or generation == _UNCACHED:
            return {}
        try:
            values = await self._redis.mget([self._day_key(staff_id, generation, day) for day in days])
        except RedisError as exc:
            log.warning("free-time cache unavailable, reading Cal.com instead: %r", exc)
            return {}
        return {
            day: [(int(a), int(b)) for a, b in json.loads(value)]
            for day, value in zip(days, values, strict=True)
            if value is not None
        }

    async def put_days(self, staff_id: int, generation: int, free: dict[date, MinutePairs]) -> None:
        if generation == _UNCACHED:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for day, pairs in free.items():
                    pipe.set(self._day_key(staff_id, generation, day), json.dumps(pairs), px=self._ttl_ms)
                await pipe.execute()
        except RedisError as exc:
            log.warning("free-time cache unavailable, not storing: %r", exc)

    async def invalidate(self, staff_id: int) -> None:
        try:
            await self._redis.incr(self._generation_key(staff_id))
        except RedisError as exc:
            log.warning("free-time cache unavailable, invalidation of staff %s lost: %r", staff_id, exc)


def redis_prefix(database_url: str) -> str:
    """Keys name staff by id, and ids are per database: deployments sharing a Redis must not share keys."""
    return "cb:free:" + hashlib.sha256(database_url.encode()).hexdigest()[:12]
