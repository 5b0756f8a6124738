"""End to end: GET /v1/availability through the app against the Cal.com sandbox with injected latency.

    python bench/availability_api.py [--staff 10] [--latency-ms 100] [--cold-runs 11] [--warm-runs 51]

Needs the machine's PostgreSQL on 127.0.0.1:5432 (it creates and drops a scratch database). The sandbox
runs in-process, so its own work (computing slots) counts in the figures, as Cal.com's would.
Targets (issue 4): cold <= 1.5 x the injected latency (one concurrent round of requests), warm <= 20 ms
median; Cal.com requests per query <= the staff count cold, 0 warm.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from _salon import admin, seed_calcom, set_up_salon

from composite_booking.app import create_app
from composite_booking.calcom.sandbox import CalcomSandbox, CallKind, RateLimitPolicy
from composite_booking.config import Settings
from composite_booking.db.migrate import upgrade
from composite_booking.db.repositories.companies import CompanyRepository


async def run(staff: int, latency_ms: int, cold_runs: int, warm_runs: int, limit: int = 100) -> None:
    database = f"cb_bench_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{database}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
    try:
        await asyncio.to_thread(upgrade, url)
        sandbox = CalcomSandbox(rate_limit=RateLimitPolicy(limit=1_000_000))
        team_id, users, calcom_key = seed_calcom(sandbox, staff)
        settings = Settings(
            database_url=url,
            calcom_api_key=calcom_key,
            calcom_base_url="http://calcom.sandbox",
            workers_enabled=False,
            # As for a key whose limit Cal.com raised: at 120/min a 10-staff cold query costs 10 requests.
            calcom_rate_limit_per_minute=1_000_000,
        )
        transport = httpx.ASGITransport(app=sandbox.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://calcom.sandbox") as calcom_http:
            app = create_app(settings, calcom_http=calcom_http)
            async with app.router.lifespan_context(app):
                async with app.state.session_factory() as session, session.begin():
                    companies = CompanyRepository(session)
                    company = await companies.create("Bench")
                    key = await companies.issue_api_key(company.id)
                client = httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://app",
                    headers={"Authorization": f"Bearer {key}"},
                )
                service_id, staff_ids = await set_up_salon(client, team_id, users)
                start = next_tuesday()
                params = {
                    "service_id": service_id,
                    "start": start.isoformat(),
                    "end": (start + timedelta(days=13)).isoformat(),
                    "limit": limit,
                }
                first = await client.get("/v1/availability", params=params)  # creates the probes
                assert first.status_code == 200, first.text
                slots = len(first.json()["slots"])

                sandbox.faults.set_latency(latency_ms / 1000, kind=CallKind.GET_SLOTS)
                cold, cold_requests = [], []
                for _ in range(cold_runs):
                    for staff_id in staff_ids:
                        await app.state.on_staff_calendar_changed(staff_id)
                    before = sandbox.faults.calls(CallKind.GET_SLOTS)
                    began = time.perf_counter()
                    response = await client.get("/v1/availability", params=params)
                    cold.append((time.perf_counter() - began) * 1000)
                    cold_requests.append(sandbox.faults.calls(CallKind.GET_SLOTS) - before)
                    assert response.status_code == 200
                warm, warm_requests = [], []
                for _ in range(warm_runs):
                    before = sandbox.faults.calls(CallKind.GET_SLOTS)
                    began = time.perf_counter()
                    response = await client.get("/v1/availability", params=params)
                    warm.append((time.perf_counter() - began) * 1000)
                    warm_requests.append(sandbox.faults.calls(CallKind.GET_SLOTS) - before)
                    assert response.status_code == 200
                await client.aclose()
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    cold_median, warm_median = statistics.median(cold), statistics.median(warm)
    print(f"availability API, 14-day window, {staff} staff, 4-segment service, limit={limit}")
    print(f"{slots} slots per answer; injected Cal.com latency: {latency_ms} ms on GET /v2/slots")
    print(row("case", "runs", "median ms", "min ms", "max ms", "Cal.com req/query", "target"))
    cold_target = (
        f"<= {1.5 * latency_ms:.0f} ms ({cold_median / latency_ms:.2f} x latency), <= {staff} requests"
    )
    print(row("cold", cold_runs, cold_median, min(cold), max(cold), max(cold_requests), cold_target))
    print(
        row("warm", warm_runs, warm_median, min(warm), max(warm), max(warm_requests), "<= 20 ms, 0 requests")
    )


def row(
    case: str, runs: object, median: object, low: object, high: object, requests: object, target: str
) -> str:
    def cell(value: object, width: int) -> str:
        return f"{value:>{width}.1f}" if isinstance(value, float) else f"{value!s:>{width}}"

    cells = [cell(runs, 5), cell(median, 10), cell(low, 8), cell(high, 8), cell(requests, 18)]
    return f"{case:<6} {' '.join(cells)}  {target}"


def next_tuesday() -> date:
    day = datetime.now(ZoneInfo("Europe/Berlin")).date() + timedelta(days=7)
    return day + timedelta(days=(1 - day.weekday()) % 7)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--staff", type=int, default=10)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--cold-runs", type=int, default=11)
    parser.add_argument("--warm-runs", type=int, default=51)
    parser.add_argument("--limit", type=int, default=100, help="slots per answer (the API's default is 100)")
    arguments = parser.parse_args()
    asyncio.run(
        run(arguments.staff, arguments.latency_ms, arguments.cold_runs, arguments.warm_runs, arguments.limit)
    )
