"""Many requests for overlapping slots through two app instances sharing PostgreSQL, Redis and one Cal.com:
exactly the feasible number succeed and nobody is ever double-booked, also when Redis dies half-way."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from composite_booking.app import create_app
from composite_booking.calcom.sandbox import CalcomSandbox
from composite_booking.config import Settings
from composite_booking.domain.booking import BookingService
from composite_booking.domain.booking.wiring import booking_settings
from composite_booking.locks import LockOutcome, RedisLockService, is_held
from tests.bookings.conftest import Salon, accepted, assert_no_overlaps, assert_settled, at
from tests.conftest import SANDBOX_URL

REDIS_URL = "redis://127.0.0.1:6379/15"
# The blocked "men" chain holds its staff member 150 minutes straight: two starts of one group (0, 15 or
# 30 minutes after its base) always overlap, two groups never do. So exactly one request per staff member
# and group can succeed, whatever the order: the feasible number is groups × staff members.
GROUP_BASES = ((9, 0), (12, 0), (15, 0))
OFFSETS_MIN = (0, 15, 30)
STAFF = ("Emma", "Fabian")


def requests(count: int, seed: int) -> list[tuple[str, datetime]]:
    rng = random.Random(seed)
    everything = [
        (staff, at(hour, minute) + timedelta(minutes=offset))
        for staff in STAFF
        for hour, minute in GROUP_BASES
        for offset in OFFSETS_MIN
    ]
    chosen = everything + [rng.choice(everything) for _ in range(count - len(everything))]
    rng.shuffle(chosen)
    return chosen


class ObservedLocks(RedisLockService):
    """Redis locks that remember how each acquisition went."""

    outcomes: list[LockOutcome]
    busy: asyncio.Event  # set once a few acquisitions went through

    def hold(self, keys: Collection[str]) -> AbstractAsyncContextManager[LockOutcome]:
        return self._observed(keys)

    @asynccontextmanager
    async def _observed(self, keys: Collection[str]) -> AsyncIterator[LockOutcome]:
        async with super().hold(keys) as outcome:
            self.outcomes.append(outcome)
            if len(self.outcomes) >= 2:
                self.busy.set()
            yield outcome


@asynccontextmanager
async def instance(
    settings: Settings, sandbox: CalcomSandbox, locks: RedisLockService, api_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    """One more replica of the service: its own process state, the shared database, Redis and Cal.com."""
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app), base_url=SANDBOX_URL)
        )
        app = create_app(settings, calcom_http=http)
        await stack.enter_async_context(app.router.lifespan_context(app))
        _use_redis_locks(app, locks)
        yield await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://test",
                headers={"Authorization": f"Bearer {api_key}"},
            )
        )


def _use_redis_locks(app: FastAPI, locks: RedisLockService) -> None:
    """Locks in the shared Redis (under a key prefix of this test's own); the availability cache stays in
    process, so other test sessions on the same Redis cannot leak cached free time into this one."""
    state = app.state
    state.bookings = BookingService(
        state.session_factory,
        state.calcom,
        state.slot_resolver,
        locks,
        clock=lambda: datetime.now(UTC),
        settings=booking_settings(state.settings),
        on_staff_calendar_changed=state.on_staff_calendar_changed,
    )


def locks(redis: Redis, prefix: str) -> ObservedLocks:
    service = ObservedLocks(redis, prefix=prefix, ttl_s=10, wait_s=5)
    service.outcomes = []
    service.busy = asyncio.Event()
    return service


@pytest.fixture
def lock_prefix() -> str:
    return f"test:{uuid.uuid4().hex}:"


async def fire(
    salon: Salon, clients: list[httpx.AsyncClient], batch: list[tuple[str, datetime]]
) -> list[int]:
    responses = await asyncio.gather(
        *(
            salon.book("men", starts_at, staff=staff, client=clients[i % len(clients)])
            for i, (staff, starts_at) in enumerate(batch)
        )
    )
    unexpected = [r.text for r in responses if r.status_code not in (201, 409)]
    assert unexpected == []
    return [r.status_code for r in responses]


async def test_fifty_requests_through_two_instances(
    salon: Salon, app_settings: Settings, sandbox: CalcomSandbox, lock_prefix: str
) -> None:
    await salon.ensure_synced("men")
    redis = Redis.from_url(REDIS_URL)
    try:
        async with (
            instance(app_settings, sandbox, locks(redis, lock_prefix), salon.tenant.api_key) as first,
            instance(app_settings, sandbox, locks(redis, lock_prefix), salon.tenant.api_key) as second,
        ):
            statuses = await fire(salon, [first, second], requests(50, seed=5))
        leftover = await redis.keys(f"{lock_prefix}*")
    finally:
        await redis.aclose()

    feasible = len(GROUP_BASES) * len(STAFF)
    assert statuses.count(201) == feasible
    assert statuses.count(409) == 50 - feasible
    assert len(accepted(sandbox)) == (3 + 2) * feasible  # three segments and two held pauses each
    assert leftover == []  # every lock released
    await assert_settled(salon)
    await assert_no_overlaps(salon)


class RedisProxy:
    """A TCP hop in front of the real Redis that can be pulled like a plug (Redis "stopped")."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", 6379)
        self._writers |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    target.write(data)
                    await target.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                target.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()


async def test_redis_dying_mid_run_never_lets_a_booking_overlap(
    salon: Salon, app_settings: Settings, sandbox: CalcomSandbox, lock_prefix: str
) -> None:
    await salon.ensure_synced("men")
    proxy = RedisProxy()
    port = await proxy.start()
    redis = Redis.from_url(f"redis://127.0.0.1:{port}/15", socket_connect_timeout=0.5, socket_timeout=0.5)
    batch = requests(40, seed=9)
    observed = [locks(redis, lock_prefix), locks(redis, lock_prefix)]
    try:
        async with (
            instance(app_settings, sandbox, observed[0], salon.tenant.api_key) as first,
            instance(app_settings, sandbox, observed[1], salon.tenant.api_key) as second,
        ):
            running = asyncio.ensure_future(fire(salon, [first, second], batch[:25]))
            await observed[0].busy.wait()
            await proxy.stop()  # Redis gone while requests hold and wait for locks
            statuses = await running
            statuses += await fire(salon, [first, second], batch[25:])  # no Redis at all
    finally:
        await redis.aclose()

    outcomes = observed[0].outcomes + observed[1].outcomes
    assert any(is_held(outcome) for outcome in outcomes)
    assert LockOutcome.UNAVAILABLE in outcomes  # the bookings went on without locks
    feasible = len(GROUP_BASES) * len(STAFF)
    assert statuses.count(201) == feasible
    await assert_settled(salon)
    await assert_no_overlaps(salon)
