"""The free-time caches: what one replica invalidates, every replica stops serving."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date

import pytest
from redis.asyncio import Redis

from composite_booking.availability.cache import (
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


async def check_round_trip_and_invalidation(cache: FreeTimeCache, other_replica: FreeTimeCache) -> None:
    generation = await cache.generation(7)
    await cache.put_days(7, generation, {DAY: [(10, 20), (30, 40)], NEXT: []})
    assert await other_replica.get_days(7, generation, [DAY, NEXT]) == {DAY: [(10, 20), (30, 40)], NEXT: []}
    assert await cache.get_days(8, generation, [DAY]) == {}  # another staff member

    await other_replica.invalidate(7)
    assert await cache.generation(7) == generation + 1
    assert await cache.get_days(7, await cache.generation(7), [DAY]) == {}
    # A fetch that started before the invalidation may still write, but only under the old generation.
    await cache.put_days(7, generation, {DAY: [(0, 5)]})
    assert await cache.get_days(7, await cache.generation(7), [DAY]) == {}


async def test_redis_cache_is_shared_by_replicas(redis: Redis) -> None:
    prefix = f"cb:test:{uuid.uuid4().hex}"
    first = RedisFreeTimeCache(redis, ttl_s=30, prefix=prefix)
    second = RedisFreeTimeCache(redis, ttl_s=30, prefix=prefix)
    await check_round_trip_and_invalidation(first, second)


async def test_redis_entries_expire(redis: Redis) -> None:
    cache = RedisFreeTimeCache(redis, ttl_s=0.05, prefix=f"cb:test:{uuid.uuid4().hex}")
    await cache.put_days(1, 0, {DAY: [(1, 2)]})
    assert await cache.get_days(1, 0, [DAY]) == {DAY: [(1, 2)]}
    await asyncio.sleep(0.2)
    assert await cache.get_days(1, 0, [DAY]) == {}


async def test_in_process_cache() -> None:
    now = [0.0]
    cache = InMemoryFreeTimeCache(ttl_s=60, clock=lambda: now[0])
    await check_round_trip_and_invalidation(cache, cache)
    await cache.put_days(9, 0, {DAY: [(1, 2)]})
    now[0] = 61
    assert await cache.get_days(9, 0, [DAY]) == {}


async def test_a_dead_redis_means_misses_not_errors() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        cache = RedisFreeTimeCache(dead, ttl_s=30)
        generation = await cache.generation(7)
        assert await cache.get_days(7, generation, [DAY]) == {}
        await cache.put_days(7, generation, {DAY: [(1, 2)]})
        await cache.invalidate(7)
    finally:
        await dead.aclose()


def test_deployments_sharing_a_redis_do_not_share_keys() -> None:
    first = redis_prefix("postgresql+asyncpg://postgres@db/one")
    assert first == redis_prefix("postgresql+asyncpg://postgres@db/one")
    assert first != redis_prefix("postgresql+asyncpg://postgres@db/two")
