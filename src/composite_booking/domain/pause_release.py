"""Releasing a held pause: its own Cal.com booking cancelled, then its row `released`.

The request marks the row `cancelling` and queues `pauses.release` in one transaction (`request_release`),
then runs the release once at once; the outbox runs it again until it is settled. So neither a crash nor an
unanswered cancel leaves the row holding time that Cal.com already gave back, or the reverse: a cancel
whose answer was lost is settled by reading the booking back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.calcom.client import CalcomClient
from composite_booking.calcom.errors import CalcomError, CalcomNotFound
from composite_booking.calcom.models import BookingStatus
from composite_booking.db.repositories.bookings import BookingRepository
from composite_booking.db.repositories.outbox import OutboxRepository
from composite_booking.domain.cancellation import cancel_calcom_booking
from composite_booking.domain.statuses import SlotStatus

log = logging.getLogger(__name__)

RELEASE_PAUSE = "pauses.release"
RELEASE_REASON = "Pause released: the staff member is free during it"

StaffCalendarChanged = Callable[[int], Awaitable[None]]


class ReleaseState(StrEnum):
    RELEASED = "released"  # the Cal.com booking is gone and the row released
    STILL_HELD = "still_held"  # Cal.com refused and the booking stands: the row holds the pause again
    UNSETTLED = "unsettled"  # Cal.com could not tell; the row stays `cancelling` and the outbox asks again


@dataclass(frozen=True, slots=True)
class ReleaseOutcome:
    state: ReleaseState
    error: str | None = None


async def request_release(outbox: OutboxRepository, *, company_id: int, slot_id: int) -> None:
    """Queue, in the caller's transaction (which marked the row `cancelling`), the job that settles it."""
    await outbox.enqueue(
        RELEASE_PAUSE, {"slot_id": slot_id}, company_id=company_id, dedupe_key=f"pause-release:{slot_id}"
    )


async def _nothing(_: int) -> None:
    return None


class PauseRelease:
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

    async def run(self, company_id: int, slot_id: int) -> ReleaseOutcome:
        """Settle a release asked for earlier; safe to repeat (a settled one is reported as it ended)."""
        async with self._session_factory() as session:
            row = await BookingRepository(session, company_id).slot(slot_id)
        if row is None or row.status != SlotStatus.CANCELLING or not row.active:
            released = row is not None and row.status == SlotStatus.RELEASED
            return ReleaseOutcome(ReleaseState.RELEASED if released else ReleaseState.STILL_HELD)
        assert row.calcom_booking_uid is not None
        uid = row.calcom_booking_uid
        error = await cancel_calcom_booking(self._calcom, uid, RELEASE_REASON)
        if error is not None:
            stands = await self._still_stands(uid)
            if stands is None:
                log.warning(
                    "release of pause %s: Cal.com could not tell (%s); asking again later", slot_id, error
                )
                return ReleaseOutcome(ReleaseState.UNSETTLED, error)
            if stands:
                await self._settle(company_id, slot_id, SlotStatus.BOOKED, active=True)
                return ReleaseOutcome(ReleaseState.STILL_HELD, error)
        await self._settle(company_id, slot_id, SlotStatus.RELEASED, active=False)
        await self._on_staff_calendar_changed(row.staff_id)
        return ReleaseOutcome(ReleaseState.RELEASED)

    async def _still_stands(self, uid: str) -> bool | None:
        """Whether the booking still stands after a cancel that failed; None when Cal.com cannot say."""
        try:
            booking = await self._calcom.get_booking(uid)
        except CalcomNotFound:
            return False
        except CalcomError as exc:
            log.warning("could not read booking %s back: %r", uid, exc)
            return None
        return booking.status != BookingStatus.CANCELLED

    async def _settle(self, company_id: int, slot_id: int, status: SlotStatus, *, active: bool) -> None:
        """The row's final state, unless something else settled it meanwhile (say, a cancellation)."""
        async with self._session_factory() as session, session.begin():
            bookings = BookingRepository(session, company_id)
            row = await bookings.slot(slot_id, for_update=True)
            if row is None or row.status != SlotStatus.CANCELLING:
                return
            row.status, row.active = status, active
            await bookings.bump_version(row.appointment_id)
