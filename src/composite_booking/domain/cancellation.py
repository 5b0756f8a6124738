"""Cancelling a whole composite appointment: every segment in Cal.com, or the appointment says it is not done.

The appointment is `cancellation_pending` while any segment may still stand in Cal.com; only when every
Cal.com booking is gone does it become `cancelled`. Cal.com is called outside any transaction, all segments
at once; what failed is retried by the outbox until it succeeds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.calcom.client import CalcomClient
from composite_booking.calcom.errors import CalcomBadRequest, CalcomError, CalcomNotFound
from composite_booking.db.repositories.appointments import AppointmentRepository
from composite_booking.db.repositories.outbox import OutboxRepository
from composite_booking.domain.errors import NotFound
from composite_booking.domain.statuses import AppointmentStatus, SlotStatus

log = logging.getLogger(__name__)

CANCEL_APPOINTMENT = "appointments.cancel"
# Cal.com's answers that mean "this booking no longer stands" (reference §4.4).
_ALREADY_GONE = ("already cancelled", "has been cancelled", "already been cancelled")

StaffCalendarChanged = Callable[[int], Awaitable[None]]


async def _nothing(_: int) -> None:
    return None


@dataclass(frozen=True)
class CancellationResult:
    appointment_id: int
    status: AppointmentStatus
    still_standing: int


async def request_cancellation(
    outbox: OutboxRepository, *, company_id: int, appointment_id: int, reason: str
) -> None:
    """Enqueue, in the caller's unit of work, the job that finishes a cancellation whatever happens next."""
    await outbox.enqueue(
        CANCEL_APPOINTMENT,
        {"appointment_id": appointment_id, "reason": reason},
        company_id=company_id,
        dedupe_key=f"appointment:{appointment_id}",
    )


async def cancel_calcom_booking(calcom: CalcomClient, uid: str, reason: str) -> str | None:
    """Cancel one Cal.com booking: None once it no longer stands (also when it was gone already), else why
    it may still stand. Never raises for Cal.com's errors: callers decide whether to retry."""
    try:
        await calcom.cancel_booking(uid, reason=reason)
    except CalcomNotFound:
        return None
    except CalcomBadRequest as exc:
        message = (exc.upstream_message or "").lower()
        if any(marker in message for marker in _ALREADY_GONE):
            return None
        return f"{type(exc).__name__}: {exc.detail}"
    except CalcomError as exc:
        return f"{type(exc).__name__}: {exc.detail}"
    return None


class AppointmentCancellation:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        calcom: CalcomClient,
        *,
        on_staff_calendar_changed: StaffCalendarChanged = _nothing,
    ) -> None:
        self._session_factory = session_factory
        self._calcom = calcom
        self._on_staff_calendar_changed = on_staff_calendar_changed

    async def run(self, company_id: int, appointment_id: int, reason: str) -> CancellationResult:
        """Cancel what still stands; safe to repeat (and repeated by the outbox until nothing stands)."""
        async with self._appointments(company_id) as appointments:
            appointment = await appointments.get(appointment_id, for_update=True)
            if appointment is None:
                raise NotFound("appointment", appointment_id)
            if appointment.status == AppointmentStatus.CANCELLED:
                return CancellationResult(appointment_id, AppointmentStatus.CANCELLED, 0)
            if appointment.status != AppointmentStatus.CANCELLATION_PENDING:
                appointment.status = AppointmentStatus.CANCELLATION_PENDING
                appointment.version += 1
            standing = [s for s in appointment.slots if s.active and s.calcom_booking_uid]
            # Held pauses and segments never booked in Cal.com are released at once.
            local_only = [s.id for s in appointment.slots if s.active and not s.calcom_booking_uid]
            await appointments.set_slot_states(local_only, status=SlotStatus.CANCELLED, active=False)
            await appointments.set_slot_states(
                [s.id for s in standing], status=SlotStatus.CANCELLING, active=True
            )
            to_cancel = [(s.id, str(s.calcom_booking_uid), s.staff_id) for s in standing]
            staff_ids = {s.staff_id for s in appointment.slots}

        outcomes = await asyncio.gather(*(self._cancel_in_calcom(uid, reason) for _, uid, _ in to_cancel))
        gone = [slot_id for (slot_id, _, _), done in zip(to_cancel, outcomes, strict=True) if done]

        async with self._appointments(company_id) as appointments:
            await appointments.set_slot_states(gone, status=SlotStatus.CANCELLED, active=False)
            appointment = await appointments.get(appointment_id, for_update=True)
            assert appointment is not None
            still_standing = sum(1 for s in appointment.slots if s.active)
            if still_standing == 0:
                appointment.status = AppointmentStatus.CANCELLED
                appointment.version += 1
            status = AppointmentStatus(appointment.status)
        for staff_id in staff_ids:
            await self._on_staff_calendar_changed(staff_id)
        return CancellationResult(appointment_id, status, still_standing)

    async def _cancel_in_calcom(self, uid: str, reason: str) -> bool:
        error = await cancel_calcom_booking(self._calcom, uid, reason)
        if error is not None:
            log.warning("cancelling %s failed, will retry: %s", uid, error)
        return error is None

    @asynccontextmanager
    async def _appointments(self, company_id: int) -> AsyncIterator[AppointmentRepository]:
        async with self._session_factory() as session, session.begin():
            yield AppointmentRepository(session, company_id)
