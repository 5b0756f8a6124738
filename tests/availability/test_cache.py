"""The free-time caches: what one replica invalidates, every replica stops serving."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from composite_booking.availability.cache import (
    CachedFreeTime,
    FreeTimeCache,
    InMemoryFreeTimeCache,
    RedisFreeTimeCache,
    redis_prefix,
)

DAY = date(2031, 3, 4)
NEXT = date(2031, 3, 5)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url("redis://127.0.0.1:6379/15")
    yield client
    await client.aclose()


async def read_one(cache: FreeTimeCache, staff_id: int, days: list[date]) -> CachedFreeTime:
    return (await cache.read([staff_id], days))[staff_id]


async def check_round_trip_and_invalidation(cache: FreeTimeCache, other_replica: FreeTimeCache) -> None:
    generation = (await read_one(cache, 7, [DAY])).generation
    await cache.write({7: CachedFreeTime(generation, {DAY: [(10, 20), (30, 40)], NEXT: []})})
    assert await read_one(other_replica, 7, [DAY, NEXT]) == CachedFreeTime(
        generation, {DAY: [(10, 20), (30, 40)], NEXT: []}
    )
    assert (await read_one(cache, 8, [DAY])).days == {}  # another staff member

    await other_replica.invalidate(7)
    assert await read_one(cache, 7, [DAY]) == CachedFreeTime(generation + 1, {})
    # A fetch that started before the invalidation may still write, but only under the old generation.
    await cache.write({7: CachedFreeTime(generation, {DAY: [(0, 5)]})})
    assert (await read_one(cache, 7, [DAY])).days == {}


async def test_redis_cache_is_shared_by_replicas(redis: Redis) -> None:
    prefix = f"cb:test:{uuid.uuid4().hex}"
    first = RedisFreeTimeCache(redis, ttl_s=30, prefix=prefix)
    second = RedisFreeTimeCache(redis, ttl_s=30, prefix=prefix)
    await check_round_trip_and_invalidation(first, second)


class CountingRedis(Redis):
    commands: list[str]

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.commands.append(str(args[0]))
        return await super().execute_command(*args, **options)


async def test_redis_reads_many_staff_members_in_two_round_trips() -> None:
    client = CountingRedis.from_url("redis://127.0.0.1:6379/15")
    client.commands = []
    try:
        cache = RedisFreeTimeCache(client, ttl_s=30, prefix=f"cb:test:{uuid.uuid4().hex}")
        staff = list(range(1, 25))
        days = [DAY + timedelta(days=i) for i in range(14)]
        await cache.invalidate(3)
        await cache.write({s: CachedFreeTime(0 if s != 3 else 1, {DAY: [(s, s + 1)]}) for s in staff})
        client.commands.clear()

        found = await cache.read(staff, days)

        assert client.commands == ["MGET", "MGET"]
        assert {s: c.days for s, c in found.items()} == {s: {DAY: [(s, s + 1)]} for s in staff}
        assert found[3].generation == 1
    finally:
        await client.aclose()


async def test_redis_entries_expire(redis: Redis) -> None:
    cache = RedisFreeTimeCache(redis, ttl_s=0.05, prefix=f"cb:test:{uuid.uuid4().hex}")
    await cache.write({1: CachedFreeTime(0, {DAY: [(1, 2)]})})
    assert (await read_one(cache, 1, [DAY])).days == {DAY: [(1, 2)]}
    await asyncio.sleep(0.2)
    assert (await read_one(cache, 1, [DAY])).days == {}


async def test_in_process_cache() -> None:
    now = [0.0]
    cache = InMemoryFreeTimeCache(ttl_s=60, clock=lambda: now[0])
    await check_round_trip_and_invalidation(cache, cache)
    await cache.write({9: CachedFreeTime(0, {DAY: [(1, 2)]})})
    now[0] = 61
    assert (await read_one(cache, 9, [DAY])).days == {}


async def test_a_dead_redis_means_misses_not_errors() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        cache = RedisFreeTimeCache(dead, ttl_s=30)
        cached = await read_one(cache, 7, [DAY])
        assert cached.days == {}
        await cache.write({7: CachedFreeTime(cached.generation, {DAY: [(1, 2)]})})
        await cache.invalidate(7)
    finally:
        await dead.aclose()


def test_deployments_sharing_a_redis_do_not_share_keys() -> None:
    first = redis_prefix("postgresql+asyncpg://postgres@db/one")
    assert first == redis_prefix("postgresql+asyncpg://postgres@db/one")
    assert first != redis_prefix("postgresql+asyncpg://postgres@db/two")
