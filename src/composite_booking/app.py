"""The FastAPI application: shared clients are made in the lifespan and injected through `app.state`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking import __version__
from composite_booking.api import availability as availability_api
from composite_booking.api import bookings, branches, calcom, health, services, staff, templates
from composite_booking.api.problems import PROBLEM_MEDIA_TYPE, Problem, install_problem_handlers
from composite_booking.availability.cache import (
    FreeTimeCache,
    InMemoryFreeTimeCache,
    RedisFreeTimeCache,
    redis_prefix,
)
from composite_booking.availability.free_time import CalcomFreeTime
from composite_booking.availability.probes import ProbeManager
from composite_booking.availability.service import AvailabilityPolicy, AvailabilityService
from composite_booking.calcom.client import CalcomClient, create_http_client
from composite_booking.calcom.ratelimit import RateLimiter, RateLimiterRegistry
from composite_booking.calcom.sync import EventTypeSync
from composite_booking.config import Settings, get_settings
from composite_booking.db.repositories.outbox import OutboxRepository
from composite_booking.db.session import create_engine, create_session_factory
from composite_booking.domain.booking.service import BookingService
from composite_booking.domain.booking.wiring import booking_settings, lock_service, mail_sender
from composite_booking.domain.cancellation import AppointmentCancellation
from composite_booking.jobs.handlers import calcom_handlers, cancellation_handlers, schedule_drift_check
from composite_booking.jobs.notifications import notification_handlers
from composite_booking.jobs.outbox import Handler, OutboxWorker
from composite_booking.jobs.recovery import SagaRecovery

log = logging.getLogger(__name__)

API_DESCRIPTION = """\
Books **composite appointments**: services made of several segments with pauses between them, where the
staff member may serve other customers during the pauses (pause policy `free`/`flexible`) or is held
(`blocked`/`never`). Every error is `application/problem+json` (RFC 9457); a 422 names each invalid field.
Authenticate with the company's API key: `Authorization: Bearer <key>`.
"""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: Settings | None = None, *, calcom_http: httpx.AsyncClient | None = None) -> FastAPI:
    """`calcom_http` replaces the Cal.com HTTP client (the demo and tests pass one bound to the sandbox)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        session_factory = create_session_factory(engine)
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        owned_http = calcom_http is None and settings.calcom_api_key is not None
        http = (
            calcom_http if calcom_http is not None else (create_http_client(settings) if owned_http else None)
        )
        calcom_client = _calcom_client(settings, http)
        handlers: dict[str, Handler] = {}
        event_type_sync = None
        availability: AvailabilityService | None = None
        if calcom_client is not None:
            event_type_sync = EventTypeSync(session_factory, calcom_client, clock=_utc_now)
            handlers.update(calcom_handlers(event_type_sync, settings, _utc_now))
            availability = _availability_service(settings, session_factory, calcom_client, redis)
            cancellation = AppointmentCancellation(
                session_factory, calcom_client, on_staff_calendar_changed=availability.invalidate
            )

            async def cancelled(company_id: int, appointment_id: int) -> None:
                await app.state.bookings.notify_cancelled(company_id, appointment_id)

            handlers.update(cancellation_handlers(cancellation, on_cancelled=cancelled))
        handlers.update(
            notification_handlers(
                session_factory,
                mail_sender(settings),
                organizer_email=settings.mail_from_address,
                organizer_name=settings.mail_from_name,
                clock=_utc_now,
            )
        )
        worker = OutboxWorker(session_factory, handlers, clock=_utc_now)

        app.state.settings = settings
        app.state.engine = engine
        app.state.session_factory = session_factory
        app.state.redis = redis
        app.state.calcom = calcom_client
        app.state.event_type_sync = event_type_sync
        app.state.availability = availability
        # The booking saga's placement of a chain (domain.placement.SlotResolver).
        app.state.slot_resolver = availability
        app.state.on_staff_calendar_changed = availability.invalidate if availability else _no_cache
        app.state.outbox_worker = worker
        # Bookings (the saga) and the recovery of sagas whose driver died.
        app.state.locks = lock_service(settings, redis)
        app.state.bookings = BookingService(
            session_factory,
            calcom_client,
            app.state.slot_resolver,
            app.state.locks,
            clock=_utc_now,
            settings=booking_settings(settings),
            on_staff_calendar_changed=app.state.on_staff_calendar_changed,
        )
        saga_runner = app.state.bookings.saga
        app.state.saga_recovery = (
            SagaRecovery(
                session_factory,
                saga_runner,
                clock=_utc_now,
                recheck_after=timedelta(seconds=settings.saga_recheck_after_s),
            )
            if saga_runner is not None
            else None
        )

        stop = asyncio.Event()
        background: asyncio.Task[None] | None = None
        recovery_loop: asyncio.Task[None] | None = None
        if settings.workers_enabled:
            if calcom_client is not None:
                async with session_factory() as session, session.begin():
                    first_check = _utc_now() + timedelta(seconds=settings.calcom_drift_interval_s)
                    await schedule_drift_check(OutboxRepository(session), at=first_check)
            background = asyncio.create_task(
                worker.run_forever(stop, poll_interval_s=settings.outbox_poll_interval_s),
                name="outbox-worker",
            )
            if app.state.saga_recovery is not None:
                recovery_loop = asyncio.create_task(
                    app.state.saga_recovery.run_forever(stop, interval_s=settings.recovery_interval_s),
                    name="saga-recovery",
                )
        try:
            yield
        finally:
            stop.set()
            for task in (background, recovery_loop):
                if task is not None:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if owned_http and http is not None:
                await http.aclose()
            if redis is not None:
                await redis.aclose()
            await engine.dispose()

    app = FastAPI(
        title="composite-booking",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    for module in (health, branches, staff, services, templates, calcom, availability_api, bookings):
        app.include_router(module.router)
    _register_problem_schema(app)
    return app


async def _no_cache(_: int) -> None:
    return None


def _availability_service(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    calcom_client: CalcomClient,
    redis: Redis | None,
) -> AvailabilityService:
    ttl = settings.availability_cache_ttl_s
    cache: FreeTimeCache = (
        RedisFreeTimeCache(redis, ttl, prefix=redis_prefix(settings.database_url))
        if redis is not None
        else InMemoryFreeTimeCache(ttl)
    )
    policy = AvailabilityPolicy(
        step_min=settings.availability_step_min,
        min_notice=timedelta(minutes=settings.availability_min_notice_min),
        horizon=timedelta(days=settings.availability_horizon_days),
        max_window=timedelta(days=settings.availability_max_window_days),
    )
    return AvailabilityService(
        session_factory,
        CalcomFreeTime(calcom_client, cache),
        ProbeManager(session_factory, calcom_client),
        policy=policy,
        clock=_utc_now,
    )


def _calcom_client(settings: Settings, http: httpx.AsyncClient | None) -> CalcomClient | None:
    if http is None or not settings.calcom_api_key:
        if http is not None:
            log.warning("a Cal.com HTTP client was given but CALCOM_API_KEY is not set; Cal.com is off")
        return None
    limit = settings.calcom_rate_limit_per_minute
    registry = RateLimiterRegistry(lambda: RateLimiter(limit=limit))
    return CalcomClient.from_settings(http, settings, rate_limiters=registry)


def _register_problem_schema(app: FastAPI) -> None:
    """Every error in the document is a `Problem` (problem+json), FastAPI's default 422 included."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas["FieldError"] = problem.pop("$defs")["FieldError"]
            schemas["Problem"] = problem
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            problem_content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for status, response in operation.get("responses", {}).items():
                        if status.startswith(("4", "5")):
                            response["content"] = problem_content
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
