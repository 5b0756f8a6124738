"""Idempotency-Key: same key and body → the same answer (also after a restart); other body → 422;
still running → 409; kept 24 hours; no key → no deduplication."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from composite_booking.app import create_app
from composite_booking.calcom.sandbox import CalcomSandbox, CallKind
from composite_booking.config import Settings
from composite_booking.db.models import IdempotencyKey
from tests.bookings.conftest import Salon, accepted, assert_settled, at
from tests.conftest import SANDBOX_URL


async def test_a_retry_gets_the_same_answer_and_books_nothing_more(salon: Salon) -> None:
    first = await salon.book("colour", at(10), staff="Emma", key="retry-1")
    assert first.status_code == 201
    calls = salon.sandbox.faults.calls(CallKind.CREATE_BOOKING)

    second = await salon.book("colour", at(10), staff="Emma", key="retry-1")

    assert second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert salon.sandbox.faults.calls(CallKind.CREATE_BOOKING) == calls
    assert len(accepted(salon.sandbox)) == 4
    await assert_settled(salon)


async def test_the_answer_survives_a_restart(
    salon: Salon, app_settings: Settings, sandbox: CalcomSandbox
) -> None:
    first = await salon.book("cut", at(9), staff="Fabian", key="restart-1")
    assert first.status_code == 201
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app), base_url=SANDBOX_URL) as http,
        RunningApp(create_app(app_settings, calcom_http=http)) as restarted,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=restarted),
            base_url="http://test",
            headers={"Authorization": f"Bearer {salon.tenant.api_key}"},
        ) as client,
    ):
        again = await salon.book("cut", at(9), staff="Fabian", key="restart-1", client=client)
    assert (again.status_code, again.json()) == (201, first.json())
    assert len(accepted(sandbox)) == 1


async def test_the_same_key_with_another_body_is_422(salon: Salon) -> None:
    assert (await salon.book("cut", at(9), staff="Emma", key="k-1")).status_code == 201
    other = await salon.book("cut", at(11), staff="Emma", key="k-1")
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")
    assert len(accepted(salon.sandbox)) == 1


async def test_a_key_still_in_flight_is_409(salon: Salon) -> None:
    salon.sandbox.faults.set_latency(0.5, CallKind.CREATE_BOOKING)
    first = asyncio.create_task(salon.book("colour", at(10), staff="Emma", key="slow-1"))
    # The key is claimed before Cal.com is called: wait for the first call (a counter the sandbox keeps).
    while salon.sandbox.faults.calls(CallKind.CREATE_BOOKING) == 0:  # noqa: ASYNC110
        await asyncio.sleep(0.01)

    meanwhile = await salon.book("colour", at(10), staff="Emma", key="slow-1")

    assert meanwhile.status_code == 409, meanwhile.text
    assert meanwhile.json()["type"].endswith("/idempotency-key-in-flight")
    assert (await first).status_code == 201
    assert (await salon.book("colour", at(10), staff="Emma", key="slow-1")).status_code == 201
    assert len(accepted(salon.sandbox)) == 4


async def test_a_failure_is_answered_again_the_same_way(salon: Salon) -> None:
    salon.sandbox.faults.fail(CallKind.CREATE_BOOKING, nth=2, status=400)
    first = await salon.book("colour", at(10), staff="Emma", key="fail-1")
    assert first.status_code == 409

    again = await salon.book("colour", at(10), staff="Emma", key="fail-1")

    assert (again.status_code, again.json()) == (409, first.json())
    assert again.headers["content-type"].startswith("application/problem+json")
    assert accepted(salon.sandbox) == []
    # A new key is a new request: the time is free, so it books.
    assert (await salon.book("colour", at(10), staff="Emma", key="fail-2")).status_code == 201


async def test_keys_are_forgotten_after_24_hours(salon: Salon) -> None:
    first = await salon.booked("cut", at(9), staff="Emma", key="old-1")
    async with salon.session_factory() as session, session.begin():
        await session.execute(
            update(IdempotencyKey).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    # Expired: the key is free again, so this is a new request (a new booking at another time).
    second = await salon.book("cut", at(11), staff="Emma", key="old-1")
    assert second.status_code == 201
    assert second.json()["id"] != first["id"]
    report = await salon.recovery(later_by=timedelta(days=2)).run_once()
    assert report.keys_forgotten == 1


async def test_without_a_key_nothing_is_deduplicated(salon: Salon) -> None:
    assert (await salon.book("cut", at(9), staff="Emma")).status_code == 201
    assert (await salon.book("cut", at(9), staff="Emma")).status_code == 409  # a second booking attempt


async def test_reschedule_and_cancel_take_keys_too(salon: Salon) -> None:
    booking = await salon.booked("cut", at(9), staff="Emma")
    path = f"/v1/bookings/{booking['id']}"
    headers = {"Idempotency-Key": "move-1"}
    moved = await salon.client.post(
        f"{path}/reschedule", json={"starts_at": at(10).isoformat()}, headers=headers
    )
    again = await salon.client.post(
        f"{path}/reschedule", json={"starts_at": at(10).isoformat()}, headers=headers
    )
    assert moved.status_code == again.status_code == 200
    assert again.json() == moved.json()
    assert again.json()["reschedule_count"] == 1
    other = await salon.client.post(
        f"{path}/reschedule", json={"starts_at": at(11).isoformat()}, headers=headers
    )
    assert other.status_code == 422

    cancel = {"Idempotency-Key": "cancel-1"}
    cancelled = await salon.client.post(f"{path}/cancel", json={"reason": "x"}, headers=cancel)
    repeated = await salon.client.post(f"{path}/cancel", json={"reason": "x"}, headers=cancel)
    assert (cancelled.status_code, repeated.status_code) == (200, 200)
    assert repeated.json() == cancelled.json()
    assert repeated.headers["idempotent-replayed"] == "true"


class RunningApp:
    """The app with its lifespan started, as a process would run it."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._context = app.router.lifespan_context(app)

    async def __aenter__(self) -> FastAPI:
        await self._context.__aenter__()
        return self._app

    async def __aexit__(self, *exc: object) -> None:
        await self._context.__aexit__(*exc)
