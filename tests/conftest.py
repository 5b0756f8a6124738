"""Test harness: a fresh PostgreSQL database built by `alembic upgrade head` for the run, emptied before
each test that asks for it; the app driven through ASGITransport with its real lifespan."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from composite_booking.app import create_app
from composite_booking.calcom.sandbox import CalcomSandbox, DemoSalon, seed_demo_salon
from composite_booking.config import Settings
from composite_booking.db.base import Base
from composite_booking.db.migrate import upgrade
from composite_booking.db.repositories.companies import CompanyRepository
from composite_booking.db.session import create_engine, create_session_factory

PG_HOST = os.environ.get("TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TEST_PG_PORT", "5432"))


def database_url(name: str) -> str:
    return f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="postgres")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def run_outside_loop(function: Callable[[], None]) -> None:
    """Alembic's env.py calls asyncio.run(); give it a thread of its own."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            function()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


@pytest.fixture(scope="session")
def test_database() -> Iterator[str]:
    name = f"cb_test_{uuid.uuid4().hex[:10]}"
    try:
        run_outside_loop(lambda: asyncio.run(_admin(f'CREATE DATABASE "{name}"')))
    except OSError as exc:
        pytest.exit(f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT}: {exc}", returncode=3)
    url = database_url(name)
    run_outside_loop(lambda: upgrade(url))
    yield url
    run_outside_loop(lambda: asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))


@pytest.fixture(scope="session")
def settings(test_database: str) -> Settings:
    """Workers off: tests drive the outbox worker themselves (`app.state.outbox_worker.run_once()`)."""
    return Settings(database_url=test_database, redis_url=None, environment="test", workers_enabled=False)


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


_TABLES = ", ".join(table.name for table in Base.metadata.sorted_tables)


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncEngine:
    """An empty database for this test (data never leaks between tests)."""
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))
    return engine


@pytest.fixture
def session_factory(db: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(db)


WEBHOOK_SECRET = "whsec_test_secret"
SANDBOX_URL = "http://calcom.sandbox"


@pytest.fixture
def sandbox() -> CalcomSandbox:
    """A fresh Cal.com for each test (in memory, in-process)."""
    return CalcomSandbox(seed=7)


@pytest.fixture
def calcom_salon(sandbox: CalcomSandbox) -> DemoSalon:
    """Team "Salon Demo" with Emma, Fabian and David working Tue–Sat 09:00–18:00 Europe/Berlin."""
    return seed_demo_salon(sandbox)


@pytest.fixture
def app_settings(settings: Settings, calcom_salon: DemoSalon) -> Settings:
    return settings.model_copy(
        update={
            "calcom_api_key": calcom_salon.api_key,
            "calcom_base_url": SANDBOX_URL,
            "calcom_webhook_secret": WEBHOOK_SECRET,
            "calcom_timeout_s": 2.0,
        }
    )


@pytest.fixture
async def app(app_settings: Settings, sandbox: CalcomSandbox, db: AsyncEngine) -> AsyncIterator[FastAPI]:
    """The service with the sandbox as its Cal.com."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app), base_url=SANDBOX_URL
    ) as http:
        app = create_app(app_settings, calcom_http=http)
        async with app.router.lifespan_context(app):
            yield app


@dataclass
class Tenant:
    company_id: int
    api_key: str
    client: httpx.AsyncClient


TenantFactory = Callable[[str], Awaitable[Tenant]]


@pytest.fixture
async def make_tenant(
    app: FastAPI, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[TenantFactory]:
    """Creates a company with an API key and an authenticated client for it."""
    clients: list[httpx.AsyncClient] = []

    async def make(name: str) -> Tenant:
        async with session_factory() as session, session.begin():
            companies = CompanyRepository(session)
            company = await companies.create(name)
            key = await companies.issue_api_key(company.id)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test",
            headers={"Authorization": f"Bearer {key}"},
        )
        clients.append(client)
        return Tenant(company.id, key, client)

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def tenant(make_tenant: TenantFactory) -> Tenant:
    return await make_tenant("Salon One")


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


@dataclass
class Salon:
    """A branch linked to the sandbox's team, Emma and Fabian with Cal.com users, and a 4-segment
    `free` service (A 30 + 30, B 15, C 30 + 15, D 30) both of them perform."""

    tenant: Tenant
    branch_id: int
    staff: dict[str, int]
    service: dict[str, Any]


SALON_SEGMENTS = [
    {"key": "A", "name": "Färben", "duration_min": 30, "gap_after_min": 30},
    {"key": "B", "name": "Waschen", "duration_min": 15},
    {"key": "C", "name": "Schneiden", "duration_min": 30, "gap_after_min": 15},
    {"key": "D", "name": "Föhnen", "duration_min": 30},
]


async def create(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST that must answer 201; the created resource."""
    response = await client.post(path, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
async def salon(tenant: Tenant, calcom_salon: DemoSalon) -> Salon:
    client = tenant.client
    branch = await create(
        client,
        "/v1/branches",
        {"name": "Mitte", "timezone": "Europe/Berlin", "calcom_team_id": calcom_salon.team_id},
    )
    staff = {}
    for name, user_id in (("Emma", calcom_salon.emma_id), ("Fabian", calcom_salon.fabian_id)):
        person = await create(
            client, "/v1/staff", {"branch_id": branch["id"], "name": name, "calcom_user_id": user_id}
        )
        staff[name] = person["id"]
    service = await create(
        client,
        "/v1/services",
        {
            "branch_id": branch["id"],
            "name": "Ansatzfärbung",
            "composite": True,
            "segments": SALON_SEGMENTS,
            "staff_ids": list(staff.values()),
        },
    )
    return Salon(tenant, branch["id"], staff, service)
