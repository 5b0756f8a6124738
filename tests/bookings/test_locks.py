"""Locks per staff member and day: sorted keys, a TTL on every key, a bounded wait, never someone else's key
released, and a backend that fails is reported (the booking goes on: PostgreSQL decides)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis

from composite_booking.locks import (
    InProcessLockService,
    LockOutcome,
    LockService,
    RedisLockService,
    staff_day_keys,
)

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 3, day, hour, minute, tzinfo=BERLIN)


def test_keys_name_each_staff_member_and_local_day_sorted() -> None:
    keys = staff_day_keys(
        [
            (7, berlin(5, 23), berlin(6, 1)),
            (3, berlin(5, 10), berlin(5, 11)),
            (7, berlin(5, 9), berlin(5, 10)),
        ],
        BERLIN,
    )
    assert keys == ["staff:3:2030-03-05", "staff:7:2030-03-05", "staff:7:2030-03-06"]
    # The end is exclusive: a span ending at midnight stays on its day.
    assert staff_day_keys([(1, berlin(5, 23), berlin(6, 0))], BERLIN) == ["staff:1:2030-03-05"]


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url("redis://127.0.0.1:6379/15")
    yield client
    await client.aclose()


@pytest.fixture(params=["memory", "redis"])
def make_locks(request: pytest.FixtureRequest, redis: Redis):  # type: ignore[no-untyped-def]
    prefix = f"test:{uuid.uuid4().hex}:"

    def make(*, ttl_s: float = 5.0, wait_s: float = 1.0) -> LockService:
        if request.param == "memory":
            return InProcessLockService(ttl_s=ttl_s, wait_s=wait_s)
        return RedisLockService(redis, prefix=prefix, ttl_s=ttl_s, wait_s=wait_s)

    return make


async def test_a_second_holder_waits_for_the_first(make_locks) -> None:  # type: ignore[no-untyped-def]
    locks = make_locks(wait_s=2.0)
    order: list[str] = []

    async def hold(name: str, keys: list[str], pause: float) -> LockOutcome:
        async with locks.hold(keys) as outcome:
            order.append(f"{name} in")
            await asyncio.sleep(pause)
            order.append(f"{name} out")
            return outcome

    first = asyncio.create_task(hold("first", ["staff:1:d", "staff:2:d"], 0.2))
    await asyncio.sleep(0.05)
    # Asked in another order: acquisition is sorted, so the two can never wait on each other.
    second = await hold("second", ["staff:2:d", "staff:1:d"], 0)
    assert (await first, second) == (LockOutcome.HELD, LockOutcome.HELD_AFTER_WAIT)
    assert order == ["first in", "first out", "second in", "second out"]


async def test_the_wait_is_bounded(make_locks) -> None:  # type: ignore[no-untyped-def]
    locks = make_locks(wait_s=0.1)
    async with locks.hold(["staff:1:d"]) as first:
        async with locks.hold(["staff:0:d", "staff:1:d"]) as second:
            assert (first, second) == (LockOutcome.HELD, LockOutcome.TIMED_OUT)
        # The key it did get (staff:0) was given back when the wait ran out.
        async with locks.hold(["staff:0:d"]) as third:
            assert third is LockOutcome.HELD


async def test_a_holder_that_outlives_its_ttl_cannot_release_the_next_holders_key(make_locks) -> None:  # type: ignore[no-untyped-def]
    locks = make_locks(ttl_s=0.1, wait_s=0.05)
    async with locks.hold(["staff:1:d"]) as first:
        assert first is LockOutcome.HELD
        await asyncio.sleep(0.15)  # the TTL runs out: the key is free for the next one
        next_holder_in = asyncio.Event()
        release_next = asyncio.Event()

        async def next_holder() -> None:
            async with locks.hold(["staff:1:d"]) as outcome:
                assert outcome is LockOutcome.HELD
                next_holder_in.set()
                await release_next.wait()

        task = asyncio.create_task(next_holder())
        await next_holder_in.wait()
    # The first holder has left (and "released"): the next holder still holds the key.
    async with locks.hold(["staff:1:d"]) as meanwhile:
        assert meanwhile is LockOutcome.TIMED_OUT
    release_next.set()
    await task


async def test_redis_keys_always_carry_a_ttl_and_are_gone_after_release(redis: Redis) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    locks = RedisLockService(redis, prefix=prefix, ttl_s=7, wait_s=0.1)
    async with locks.hold(["staff:1:d", "staff:2:d"]) as outcome:
        assert outcome is LockOutcome.HELD
        ttls = [await redis.pttl(f"{prefix}staff:{n}:d") for n in (1, 2)]
        assert all(0 < ttl <= 7000 for ttl in ttls)
    assert await redis.keys(f"{prefix}*") == []


async def test_a_dead_redis_is_reported_and_the_body_still_runs() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    locks = RedisLockService(dead, ttl_s=5, wait_s=0.5)
    ran = False
    async with locks.hold(["staff:1:d"]) as outcome:
        ran = True
    await dead.aclose()
    assert (outcome, ran) == (LockOutcome.UNAVAILABLE, True)
