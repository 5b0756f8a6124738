"""Everything one running process shares, built once from the settings.

The app's lifespan opens a `Runtime` and publishes it on `app.state`; the CLI commands that need Cal.com
(`calcom sync`, `calcom drift`, `recover`) open the same one, so a command wires the saga, its cache
invalidation and Cal.com's rate limits exactly as `serve` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

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
from composite_booking.config import Settings
from composite_booking.db.repositories.outbox import OutboxRepository
from composite_booking.db.session import create_engine, create_session_factory
from composite_booking.domain.booking.saga import StaffCalendarChanged
from composite_booking.domain.booking.service import BookingService
from composite_booking.domain.booking.wiring import booking_settings, lock_service, mail_sender
from composite_booking.domain.cancellation import AppointmentCancellation
from composite_booking.domain.pause_release import PauseRelease
from composite_booking.jobs.handlers import (
    calcom_handlers,
    cancellation_handlers,
    pause_release_handlers,
    schedule_drift_check,
)
from composite_booking.jobs.notifications import notification_handlers
from composite_booking.jobs.outbox import Handler, OutboxWorker
from composite_booking.jobs.recovery import SagaRecovery
from composite_booking.locks import LockService

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


async def _no_cache(_: int) -> None:
    return None


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    redis: Redis | None
    # None while CALCOM_API_KEY is unset: the catalog still works, bookings answer 503 calendar-not-ready.
    calcom: CalcomClient | None
    event_type_sync: EventTypeSync | None
    availability: AvailabilityService | None
    locks: LockService
    bookings: BookingService
    outbox_worker: OutboxWorker
    saga_recovery: SagaRecovery | None

    @property
    def on_staff_calendar_changed(self) -> StaffCalendarChanged:
        """Told whenever a staff member's calendar changed: drops their cached free time."""
        return self.availability.invalidate if self.availability is not None else _no_cache

    def publish(self, state: Any) -> None:
        """Expose the shared objects on `app.state`, where the API's dependencies look them up."""
        for name in self.__slots__:
            setattr(state, name, getattr(self, name))
        # The booking saga's placement of a chain (domain.placement.SlotResolver).
        state.slot_resolver = self.availability
        state.on_staff_calendar_changed = self.on_staff_calendar_changed

    @asynccontextmanager
    async def background_work(self) -> AsyncIterator[None]:
        """The outbox worker and the saga recovery, running until the block ends."""
        settings = self.settings
        if self.calcom is not None:
            async with self.session_factory() as session, session.begin():
                first_check = utc_now() + timedelta(seconds=settings.calcom_drift_interval_s)
                await schedule_drift_check(OutboxRepository(session), at=first_check)
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(
                self.outbox_worker.run_forever(stop, poll_interval_s=settings.outbox_poll_interval_s),
                name="outbox-worker",
            )
        ]
        if self.saga_recovery is not None:
            tasks.append(
                asyncio.create_task(
                    self.saga_recovery.run_forever(stop, interval_s=settings.recovery_interval_s),
                    name="saga-recovery",
                )
            )
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, calcom_http: httpx.AsyncClient | None = None
) -> AsyncIterator[Runtime]:
    """`calcom_http` replaces the Cal.com HTTP client (the demo and tests pass one bound to the sandbox);
    the caller keeps owning it. Everything made here is closed when the block ends."""
    engine = create_engine(settings)
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    owned_http = create_http_client(settings) if calcom_http is None and settings.calcom_api_key else None
    try:
        yield _build(settings, engine, redis, _calcom_client(settings, calcom_http or owned_http))
    finally:
        if owned_http is not None:
            await owned_http.aclose()
        if redis is not None:
            await redis.aclose()
        await engine.dispose()


def _build(
    settings: Settings, engine: AsyncEngine, redis: Redis | None, calcom: CalcomClient | None
) -> Runtime:
    session_factory = create_session_factory(engine)
    availability = _availability_service(settings, session_factory, calcom, redis) if calcom else None
    on_staff_calendar_changed = availability.invalidate if availability is not None else _no_cache
    locks = lock_service(settings, redis)
    bookings = BookingService(
        session_factory,
        calcom,
        availability,
        locks,
        clock=utc_now,
        settings=booking_settings(settings),
        on_staff_calendar_changed=on_staff_calendar_changed,
    )
    handlers: dict[str, Handler] = notification_handlers(
        session_factory,
        mail_sender(settings),
        organizer_email=settings.mail_from_address,
        organizer_name=settings.mail_from_name,
        clock=utc_now,
    )
    event_type_sync = None
    if calcom is not None:
        event_type_sync = EventTypeSync(session_factory, calcom, clock=utc_now)
        handlers.update(calcom_handlers(event_type_sync, settings, utc_now))
        cancellation = AppointmentCancellation(
            session_factory, calcom, on_staff_calendar_changed=on_staff_calendar_changed
        )
        handlers.update(cancellation_handlers(cancellation, on_cancelled=bookings.notify_cancelled))
        release = PauseRelease(session_factory, calcom, on_staff_calendar_changed=on_staff_calendar_changed)
        handlers.update(pause_release_handlers(release))
    saga_recovery = None
    if bookings.saga is not None:
        recheck_after = timedelta(seconds=settings.saga_recheck_after_s)
        saga_recovery = SagaRecovery(
            session_factory, bookings.saga, clock=utc_now, recheck_after=recheck_after
        )
    return Runtime(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        redis=redis,
        calcom=calcom,
        event_type_sync=event_type_sync,
        availability=availability,
        locks=locks,
        bookings=bookings,
        outbox_worker=OutboxWorker(session_factory, handlers, clock=utc_now),
        saga_recovery=saga_recovery,
    )


def _availability_service(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    calcom: CalcomClient,
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
        CalcomFreeTime(calcom, cache),
        ProbeManager(session_factory, calcom),
        policy=policy,
        clock=utc_now,
    )


def _calcom_client(settings: Settings, http: httpx.AsyncClient | None) -> CalcomClient | None:
    if http is None or not settings.calcom_api_key:
        if http is not None:
            log.warning("a Cal.com HTTP client was given but CALCOM_API_KEY is not set; Cal.com is off")
        return None
    limit = settings.calcom_rate_limit_per_minute
    registry = RateLimiterRegistry(lambda: RateLimiter(limit=limit))
    return CalcomClient.from_settings(http, settings, rate_limiters=registry)
