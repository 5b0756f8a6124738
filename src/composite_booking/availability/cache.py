"""Free time per staff member and UTC day, cached briefly (Redis when configured, in-process otherwise).

Invalidation bumps a per-staff generation that is part of every key, so it is one atomic step and a fetch
that started before it can only write under the old generation, which nobody reads any more.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# A generation no key carries: the cache could not be read, so nothing is read from or written to it.
_UNCACHED = -1

MinutePairs = list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class CachedFreeTime:
    """A staff member's cache generation when read, and the days cached under it (missing days absent)."""

    generation: int
    days: dict[date, MinutePairs] = field(default_factory=dict)


class FreeTimeCache(Protocol):
    async def read(self, staff_ids: Sequence[int], days: Sequence[date]) -> dict[int, CachedFreeTime]:
        """Every staff member's generation and cached days, in one go (one query covers many people)."""
        ...

    async def write(self, entries: Mapping[int, CachedFreeTime]) -> None:
        """Store days under the generation they were read at: after an invalidation nobody reads them."""
        ...

    async def invalidate(self, staff_id: int) -> None: ...


class InMemoryFreeTimeCache:
    """One process's cache: the embedded run, and single-replica deployments without Redis."""

    def __init__(self, ttl_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._generations: dict[int, int] = {}
        self._entries: dict[tuple[int, int, date], tuple[float, MinutePairs]] = {}

    async def read(self, staff_ids: Sequence[int], days: Sequence[date]) -> dict[int, CachedFreeTime]:
        now = self._clock()
        found: dict[int, CachedFreeTime] = {}
        for staff_id in staff_ids:
            generation = self._generations.get(staff_id, 0)
            cached = CachedFreeTime(generation)
            for day in days:
                entry = self._entries.get((staff_id, generation, day))
                if entry is not None and entry[0] > now:
                    cached.days[day] = entry[1]
            found[staff_id] = cached
        return found

    async def write(self, entries: Mapping[int, CachedFreeTime]) -> None:
        expires = self._clock() + self._ttl_s
        if len(self._entries) > 50_000:  # bounded: drop expired entries before growing further
            now = self._clock()
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
        for staff_id, cached in entries.items():
            for day, pairs in cached.days.items():
                self._entries[(staff_id, cached.generation, day)] = (expires, pairs)

    async def invalidate(self, staff_id: int) -> None:
        self._generations[staff_id] = self._generations.get(staff_id, 0) + 1


class RedisFreeTimeCache:
    """Shared by every replica, so a booking on one invalidates the free time all of them serve.

    A read is two round trips whatever the number of staff members: one MGET of their generations, one of
    their days. Redis is an efficiency measure here: when it fails, reads miss (free time is fetched from
    Cal.com) and writes are skipped, so an outage slows availability down but never breaks it. Invalidations
    lost during an outage can leave entries up to their TTL; bookings are still checked by PostgreSQL and
    Cal.com.
    """

    def __init__(self, redis: Redis, ttl_s: float, *, prefix: str = "cb:free") -> None:
        self._redis = redis
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._prefix = prefix

    def _generation_key(self, staff_id: int) -> str:
        return f"{self._prefix}:gen:{staff_id}"

    def _day_key(self, staff_id: int, generation: int, day: date) -> str:
        return f"{self._prefix}:{staff_id}:{generation}:{day.isoformat()}"

    async def read(self, staff_ids: Sequence[int], days: Sequence[date]) -> dict[int, CachedFreeTime]:
        if not staff_ids:
            return {}
        try:
            generations = [
                int(value) if value is not None else 0
                for value in await self._redis.mget([self._generation_key(s) for s in staff_ids])
            ]
            wanted = [(s, g, day) for s, g in zip(staff_ids, generations, strict=True) for day in days]
            values = await self._redis.mget([self._day_key(*key) for key in wanted]) if wanted else []
        except RedisError as exc:
            log.warning("free-time cache unavailable, reading Cal.com instead: %r", exc)
            return {staff_id: CachedFreeTime(_UNCACHED) for staff_id in staff_ids}
        found = {s: CachedFreeTime(g) for s, g in zip(staff_ids, generations, strict=True)}
        for (staff_id, _, day), value in zip(wanted, values, strict=True):
            if value is not None:
                found[staff_id].days[day] = [(int(a), int(b)) for a, b in json.loads(value)]
        return found

    async def write(self, entries: Mapping[int, CachedFreeTime]) -> None:
        cacheable = {s: c for s, c in entries.items() if c.generation != _UNCACHED and c.days}
        if not cacheable:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for staff_id, cached in cacheable.items():
                    for day, pairs in cached.days.items():
                        key = self._day_key(staff_id, cached.generation, day)
                        pipe.set(key, json.dumps(pairs), px=self._ttl_ms)
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
