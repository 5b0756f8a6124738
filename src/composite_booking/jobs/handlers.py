"""Outbox message kinds and their handlers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from composite_booking.calcom.sync import EventTypeSync
from composite_booking.config import Settings
from composite_booking.db.models import Service
from composite_booking.db.repositories.outbox import ClaimedMessage, OutboxRepository
from composite_booking.domain.cancellation import CANCEL_APPOINTMENT, AppointmentCancellation
from composite_booking.domain.pause_release import RELEASE_PAUSE, PauseRelease, ReleaseState
from composite_booking.domain.statuses import AppointmentStatus
from composite_booking.jobs.outbox import Handler

log = logging.getLogger(__name__)

SYNC_SERVICE = "calcom.sync_service"
DRIFT_CHECK = "calcom.drift_check"
_DRIFT_CHECK_KEY = "periodic"


async def enqueue_service_sync(outbox: OutboxRepository, service: Service) -> None:
    """Called in the unit of work that saved the service: a Cal.com outage never blocks the save."""
    await outbox.enqueue(
        SYNC_SERVICE,
        {"service_id": service.id},
        company_id=service.company_id,
        dedupe_key=f"service:{service.id}",
    )


async def schedule_drift_check(outbox: OutboxRepository, *, at: datetime) -> None:
    """One pending drift check at a time across all replicas (the dedupe key keeps the earliest)."""
    await outbox.enqueue(DRIFT_CHECK, {}, dedupe_key=_DRIFT_CHECK_KEY, available_at=at)


def calcom_handlers(
    sync: EventTypeSync,
    settings: Settings,
    clock: Callable[[], datetime],
) -> dict[str, Handler]:
    async def sync_service(message: ClaimedMessage) -> None:
        assert message.company_id is not None
        report = await sync.sync_service(message.company_id, int(message.payload["service_id"]))
        log.info("synced service %s: %s", message.payload["service_id"], report)

    async def drift_check(_: ClaimedMessage) -> datetime:
        report = await sync.detect_drift()
        if report.drifted:
            log.warning("Cal.com drift on %s event types: %s", len(report.drifted), report.drifted)
            if settings.calcom_drift_auto_repair:
                await sync.repair_drift()
        return clock() + timedelta(seconds=settings.calcom_drift_interval_s)

    return {SYNC_SERVICE: sync_service, DRIFT_CHECK: drift_check}


class CancellationIncomplete(Exception):
    """Some segment still stands in Cal.com; the outbox runs the cancellation again later."""


async def _cancelled(_: int, __: int) -> None:
    return None


def cancellation_handlers(
    cancellation: AppointmentCancellation,
    *,
    on_cancelled: Callable[[int, int], Awaitable[None]] = _cancelled,
) -> dict[str, Handler]:
    """`on_cancelled(company_id, appointment_id)` runs once the cancellation is complete (the e-mail)."""

    async def cancel(message: ClaimedMessage) -> None:
        assert message.company_id is not None
        result = await cancellation.run(
            message.company_id, int(message.payload["appointment_id"]), str(message.payload["reason"])
        )
        if result.status == AppointmentStatus.CANCELLED:
            await on_cancelled(message.company_id, result.appointment_id)
        if result.still_standing:
            raise CancellationIncomplete(
                f"{result.still_standing} segment(s) of appointment {result.appointment_id} still stand"
            )

    return {CANCEL_APPOINTMENT: cancel}


class ReleaseUnsettled(Exception):
    """Cal.com could not tell whether a held pause's booking is gone: the outbox asks again later."""


def pause_release_handlers(release: PauseRelease) -> dict[str, Handler]:
    async def settle(message: ClaimedMessage) -> None:
        assert message.company_id is not None
        outcome = await release.run(message.company_id, int(message.payload["slot_id"]))
        if outcome.state is ReleaseState.UNSETTLED:
            raise ReleaseUnsettled(outcome.error or "Cal.com could not tell")

    return {RELEASE_PAUSE: settle}
