"""Booking latency and throughput: POST /v1/bookings of a 4-segment chain against the Cal.com sandbox with
injected latency on every Cal.com request.

    python bench/booking_latency.py [--latency-ms 100] [--runs 15] [--processes 2] [--concurrency 8]
                                    [--attempts 120]

1. Latency (one process, one booking at a time): the median time of a booking, (a) as a customer makes it
   right after reading /v1/availability (the staff member's free time is cached), (b) with that cache just
   dropped, so the placement asks Cal.com first. The four segment bookings go out concurrently, so the
   Cal.com part costs about one latency, not four. Target (issue 5): (a) <= 2 x the injected latency.
2. Contention (two processes, each its own app instance, sharing PostgreSQL, Redis and one sandbox served
   over HTTP): requests for overlapping slots of three staff members over five days, `--concurrency` in flight
   per process; successful bookings per second, and a check that nobody is double-booked anywhere.

Each latency line also gives a booking's database work (medians): SQL statements (an executemany counts
once), transactions, and connections taken from the pool (each one pinged first: `pool_pre_ping`).

Needs the machine's PostgreSQL on 127.0.0.1:5432 (a scratch database is created and dropped) and Redis on
127.0.0.1:6379 (database 13, keys under a random prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import random
import socket
import statistics
import time
import uuid
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import uvicorn
from _salon import admin, seed_calcom, set_up_salon
from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.engine import Engine

from composite_booking.app import create_app
from composite_booking.calcom.sandbox import BookingStatus, CalcomSandbox, RateLimitPolicy
from composite_booking.config import Settings
from composite_booking.db.migrate import upgrade
from composite_booking.db.repositories.companies import CompanyRepository
from composite_booking.domain.booking import BookingService, Checkpoint
from composite_booking.domain.booking.wiring import booking_settings

BERLIN = ZoneInfo("Europe/Berlin")
REDIS_URL = "redis://127.0.0.1:6379/13"
# Few enough that one booking's placement (which reads every eligible stylist's free time) stays cheap.
STAFF = 8
CONTENDED_STAFF = 3
CONTENDED_DAYS = 5  # Tuesday to Saturday


@dataclass(frozen=True)
class Salon:
    database_url: str
    calcom_key: str
    api_key: str
    service_id: int
    staff_ids: list[int]


@dataclass
class SqlCounter:
    """What the app's engine did, counted through SQLAlchemy's events."""

    statements: int = 0
    transactions: int = 0
    checkouts: int = 0

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._transaction)
        event.listen(engine, "rollback", self._transaction)
        event.listen(engine.pool, "checkout", self._checkout)

    def reading(self) -> tuple[int, int, int]:
        return self.statements, self.transactions, self.checkouts

    def _statement(self, *_: object) -> None:
        self.statements += 1

    def _transaction(self, *_: object) -> None:
        self.transactions += 1

    def _checkout(self, *_: object) -> None:
        self.checkouts += 1


@dataclass(frozen=True)
class Measured:
    whole_ms: list[float]
    calcom_part_ms: list[float]  # from the claim on
    sql: list[tuple[int, int, int]]  # per booking: statements, transactions, connections


@dataclass(frozen=True)
class WorkerArgs:
    salon: Salon
    calcom_url: str
    lock_prefix: str
    attempts: int
    concurrency: int
    seed: int
    day: date


@dataclass(frozen=True)
class WorkerResult:
    started: float
    finished: float
    statuses: dict[int, int]
    latencies_ms: list[float]


def settings_for(database_url: str, calcom_key: str, calcom_url: str, **extra: object) -> Settings:
    return Settings(
        database_url=database_url,
        calcom_api_key=calcom_key,
        calcom_base_url=calcom_url,
        workers_enabled=False,
        calcom_rate_limit_per_minute=1_000_000,  # as for a key whose limit Cal.com raised
        calcom_timeout_s=10.0,
        **extra,  # type: ignore[arg-type]
    )


def weekday_ahead(weeks: int, weekday: int) -> date:
    day = datetime.now(BERLIN).date() + timedelta(weeks=weeks)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, clock_time(hour, minute), tzinfo=BERLIN)


async def measure_latency(
    app: object,
    client: httpx.AsyncClient,
    service_id: int,
    staff_ids: list[int],
    runs: int,
    *,
    cold: bool,
    weeks_ahead: int,
    counter: SqlCounter,
) -> Measured:
    """One booking at a time."""
    state = app.state  # type: ignore[attr-defined]
    claimed_at: list[float] = []

    async def checkpoint(point: Checkpoint, _: int | None) -> None:
        if point is Checkpoint.CLAIMED:
            claimed_at.append(time.perf_counter())

    state.bookings = BookingService(
        state.session_factory,
        state.calcom,
        state.slot_resolver,
        state.locks,
        clock=lambda: datetime.now(UTC),
        settings=booking_settings(state.settings),
        checkpoint=checkpoint,
        on_staff_calendar_changed=state.on_staff_calendar_changed,
    )
    day = weekday_ahead(weeks_ahead, 2)  # phases apart: each books every stylist once a week
    whole, calcom_part, sql = [], [], []
    for run in range(runs + 1):  # the first one warms up connections and statements
        staff_id = staff_ids[run % len(staff_ids)]
        starts_at = at(day + timedelta(days=7 * (run // len(staff_ids))), 10)
        response = await client.get(
            "/v1/availability",
            params={
                "service_id": service_id,
                "start": starts_at.date().isoformat(),
                "end": starts_at.date().isoformat(),
                "staff_id": staff_id,
            },
        )
        assert response.status_code == 200, response.text
        if cold:
            await state.on_staff_calendar_changed(staff_id)
        before = counter.reading()
        began = time.perf_counter()
        booked = await client.post(
            "/v1/bookings",
            json={
                "service_id": service_id,
                "starts_at": starts_at.isoformat(),
                "staff_id": staff_id,
                "customer": {"name": "Bench", "email": "b@bench.example"},
            },
        )
        ended = time.perf_counter()
        after = counter.reading()
        assert booked.status_code == 201, booked.text
        if run:
            whole.append((ended - began) * 1000)
            calcom_part.append((ended - claimed_at[-1]) * 1000)
            sql.append((after[0] - before[0], after[1] - before[1], after[2] - before[2]))
    return Measured(whole, calcom_part, sql)


def contention_worker(args: WorkerArgs) -> WorkerResult:
    return asyncio.run(_contend(args))


async def _contend(args: WorkerArgs) -> WorkerResult:
    salon = args.salon
    settings = settings_for(
        salon.database_url,
        salon.calcom_key,
        args.calcom_url,
        redis_url=REDIS_URL,
        lock_key_prefix=args.lock_prefix,
    )
    app = create_app(settings)
    rng = random.Random(args.seed)
    days = [args.day + timedelta(days=offset) for offset in range(CONTENDED_DAYS)]
    starts = [at(day, hour, minute) for day in days for hour in range(9, 16) for minute in (0, 15, 30, 45)]
    candidates = [(staff, start) for staff in salon.staff_ids[:CONTENDED_STAFF] for start in starts]
    statuses: dict[int, int] = defaultdict(int)
    latencies: list[float] = []
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://app",
            headers={"Authorization": f"Bearer {salon.api_key}"},
            timeout=60,
        ) as client,
    ):
        queue = [rng.choice(candidates) for _ in range(args.attempts)]

        async def one(staff_id: int, starts_at: datetime) -> None:
            began = time.perf_counter()
            response = await client.post(
                "/v1/bookings",
                json={
                    "service_id": salon.service_id,
                    "starts_at": starts_at.isoformat(),
                    "staff_id": staff_id,
                    "customer": {"name": "Load", "email": "load@bench.example"},
                },
            )
            latencies.append((time.perf_counter() - began) * 1000)
            statuses[response.status_code] += 1

        async def lane() -> None:
            while queue:
                staff_id, starts_at = queue.pop()
                await one(staff_id, starts_at)

        started = time.time()
        await asyncio.gather(*(lane() for _ in range(args.concurrency)))
        finished = time.time()
    return WorkerResult(started, finished, dict(statuses), latencies)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def overlaps_in_database(database_url: str) -> int:
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return int(
            await connection.fetchval(
                """
                SELECT count(*) FROM appointment_slots a JOIN appointment_slots b
                  ON a.staff_id = b.staff_id AND a.id < b.id AND a.appointment_id <> b.appointment_id
                 AND tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)
                WHERE a.active AND b.active
                """
            )
        )
    finally:
        await connection.close()


def overlaps_in_calcom(sandbox: CalcomSandbox) -> int:
    by_user: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for booking in sandbox.bookings:
        if booking.status is BookingStatus.ACCEPTED:
            for user_id in booking.busy_user_ids:
                by_user[user_id].append((booking.start, booking.end))
    clashes = 0
    for spans in by_user.values():
        spans.sort()
        clashes += sum(1 for (_, end), (start, _) in itertools.pairwise(spans) if start < end)
    return clashes


async def forget_cached_free_time() -> None:
    """The availability cache's Redis keys are named by staff id only: an earlier run's staff 1 is this
    run's staff 1, so its cached free time (60 s) would be read as this one's. Start clean."""
    redis = Redis.from_url(REDIS_URL)
    try:
        async for key in redis.scan_iter(match="cb:free:*"):
            await redis.delete(key)
    finally:
        await redis.aclose()


async def run(latency_ms: int, runs: int, processes: int, concurrency: int, attempts: int) -> None:
    await forget_cached_free_time()
    database = f"cb_bench_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{database}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
    port = free_port()
    calcom_url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(upgrade, url)
        sandbox = CalcomSandbox(rate_limit=RateLimitPolicy(limit=1_000_000))
        team_id, users, calcom_key = seed_calcom(sandbox, STAFF)
        server = uvicorn.Server(uvicorn.Config(sandbox.app, host="127.0.0.1", port=port, log_level="warning"))
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 (uvicorn offers only this flag)
            await asyncio.sleep(0.01)

        settings = settings_for(url, calcom_key, calcom_url)
        async with httpx.AsyncClient(base_url=calcom_url) as calcom_http:
            app = create_app(settings, calcom_http=calcom_http)
            async with app.router.lifespan_context(app):
                counter = SqlCounter()
                counter.attach(app.state.engine.sync_engine)
                async with app.state.session_factory() as session, session.begin():
                    companies = CompanyRepository(session)
                    company = await companies.create("Bench")
                    api_key = await companies.issue_api_key(company.id)
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://app",
                    headers={"Authorization": f"Bearer {api_key}"},
                    timeout=60,
                ) as client:
                    service_id, staff_ids = await set_up_salon(client, team_id, users)
                    report = await app.state.event_type_sync.sync_company(company.id)
                    assert not report.errors, report.errors
                    weeks = 2 + (runs + 1) // len(staff_ids) + 1
                    base = await measure_latency(
                        app, client, service_id, staff_ids, runs, cold=False, weeks_ahead=2, counter=counter
                    )
                    sandbox.faults.set_latency(latency_ms / 1000)
                    warm = await measure_latency(
                        app,
                        client,
                        service_id,
                        staff_ids,
                        runs,
                        cold=False,
                        weeks_ahead=weeks,
                        counter=counter,
                    )
                    cold = await measure_latency(
                        app,
                        client,
                        service_id,
                        staff_ids,
                        runs,
                        cold=True,
                        weeks_ahead=2 * weeks,
                        counter=counter,
                    )

        salon = Salon(url, calcom_key, api_key, service_id, staff_ids)
        day = weekday_ahead(6, 1)
        prefix = f"bench:{uuid.uuid4().hex}:"
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
            loop = asyncio.get_running_loop()
            results = await asyncio.gather(
                *(
                    loop.run_in_executor(
                        pool,
                        contention_worker,
                        WorkerArgs(salon, calcom_url, prefix, attempts, concurrency, seed, day),
                    )
                    for seed in range(processes)
                )
            )
        db_overlaps = await overlaps_in_database(url)
        calcom_overlaps = overlaps_in_calcom(sandbox)
        server.should_exit = True
        await serving
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    print(f"booking a 4-segment chain; injected Cal.com latency {latency_ms} ms on every request")
    for name, measured in (
        ("no latency (our own work)", base),
        ("after availability (cached)", warm),
        ("free-time cache dropped", cold),
    ):
        whole = measured.whole_ms
        median = statistics.median(whole)
        statements, transactions, checkouts = (
            statistics.median(column) for column in zip(*measured.sql, strict=True)
        )
        print(
            f"  {name:<28} runs {len(whole):>3}  median {median:6.1f} ms ({median / latency_ms:.2f} x)"
            f"  p90 {statistics.quantiles(whole, n=10)[-1]:6.1f} ms"
            f"  Cal.com part (claim → answer) median {statistics.median(measured.calcom_part_ms):6.1f} ms"
        )
        print(
            f"  {'':<28} database per booking: {statements:.0f} SQL statements, {transactions:.0f} "
            f"transactions, {checkouts:.0f} connections from the pool"
        )
    added = statistics.median(warm.whole_ms) - statistics.median(base.whole_ms)
    print(
        f"  target: median <= {2 * latency_ms} ms (2 x latency) for a booking made after reading availability"
    )
    print(
        f"  Cal.com's latency adds {added:.0f} ms ({added / latency_ms:.2f} x): one round trip for 4 segments"
    )
    window = max(r.finished for r in results) - min(r.started for r in results)
    statuses: dict[int, int] = defaultdict(int)
    for result in results:
        for status, count in result.statuses.items():
            statuses[status] += count
    latencies = [ms for result in results for ms in result.latencies_ms]
    print(
        f"contention: {processes} processes x {concurrency} in flight, {attempts} requests each, "
        f"{CONTENDED_STAFF} staff members on {CONTENDED_DAYS} days (overlapping starts every 15 min)"
    )
    print(
        f"  {statuses.get(201, 0)} booked, {statuses.get(409, 0)} refused (409), "
        f"other: {({s: c for s, c in statuses.items() if s not in (201, 409)}) or 'none'}; "
        f"{window:.1f} s -> {statuses.get(201, 0) / window:.1f} successful bookings/s, "
        f"{sum(statuses.values()) / window:.1f} requests/s; "
        f"request median {statistics.median(latencies):.0f} ms"
    )
    print(f"  overlaps: {db_overlaps} in PostgreSQL, {calcom_overlaps} in Cal.com")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--attempts", type=int, default=120, help="requests per process")
    arguments = parser.parse_args()
    asyncio.run(
        run(
            arguments.latency_ms,
            arguments.runs,
            arguments.processes,
            arguments.concurrency,
            arguments.attempts,
        )
    )
