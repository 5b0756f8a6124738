"""Booking use cases: book, reschedule, cancel, release a held pause, and read bookings.

Book and reschedule follow the same three steps (see `saga`):
1. one transaction claims the idempotency key, the customer, the appointment and its rows (PostgreSQL's
   exclusion constraint refuses any overlap here, before Cal.com is asked anything) and logs the saga;
2. the saga makes the Cal.com bookings, concurrently, recording intent and result of each;
3. it confirms, or takes back what it made and answers 409 (the host is busy) or 502/503.
The slot is looked up through the `SlotResolver` (availability), under a lock per staff member and day so
concurrent requests for one stylist's day decide one after the other instead of racing into the constraint.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.calcom.client import CalcomClient
from composite_booking.db.errors import is_booking_race
from composite_booking.db.models import Appointment, AppointmentSlot, BookingSaga, BookingSagaStep
from composite_booking.db.repositories.bookings import (
    AppointmentFilters,
    BookableService,
    BookingRepository,
    EventTypeKey,
)
from composite_booking.db.repositories.idempotency import Claim, ClaimStatus, IdempotencyRepository
from composite_booking.db.repositories.outbox import OutboxRepository
from composite_booking.db.repositories.sagas import SagaRepository
from composite_booking.domain.availability import CompositeSlot
from composite_booking.domain.booking.chain import (
    ChainPart,
    ChainSlots,
    chain_parts,
    displayed_chain,
    next_chain_number,
    slot_rows,
)
from composite_booking.domain.booking.codes import new_confirmation_code, normalize_confirmation_code
from composite_booking.domain.booking.idempotency import KEY_LIFETIME, IdempotencyRef, replayed_problem
from composite_booking.domain.booking.notify import enqueue_notification
from composite_booking.domain.booking.reschedule_plan import BusySpan, CannotMoveInPlace, plan_reschedule
from composite_booking.domain.booking.saga import (
    PLACEHOLDER_EMAIL_DOMAIN,
    BookingSagaRunner,
    CheckpointHook,
    ClaimedRows,
    SagaOutcome,
    SagaRef,
    SagaTakenOver,
    best_effort,
    upstream_failure,
)
from composite_booking.domain.booking.states import Checkpoint, SagaKind, SagaState, StepAction, StepState
from composite_booking.domain.booking.views import BookingRenderer, pauses_of
from composite_booking.domain.cancellation import AppointmentCancellation, request_cancellation
from composite_booking.domain.catalog import Pagination
from composite_booking.domain.errors import (
    BookingOutcomePending,
    BookingStateConflict,
    BookingUpstreamUnavailable,
    CalendarNotReady,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InvalidInput,
    NotFound,
    PauseNotReleasable,
    RescheduleNotAllowed,
    ServiceError,
    SlotUnavailable,
)
from composite_booking.domain.pause_release import PauseRelease, ReleaseState, request_release
from composite_booking.domain.placement import SlotResolver
from composite_booking.domain.segments import PausePolicy, SlotKind
from composite_booking.domain.statuses import AppointmentStatus, SlotStatus
from composite_booking.locks import LockOutcome, LockService, staff_day_keys
from composite_booking.notifications import CalendarMethod, build_ics
from composite_booking.schemas import bookings as schemas
from composite_booking.schemas.common import Page

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
StaffCalendarChanged = Callable[[int], Awaitable[None]]

DEFAULT_CANCEL_REASON = "Cancelled at the customer's request"


async def _nothing(_: int) -> None:
    return None


async def _no_checkpoint(_: Checkpoint, __: int | None) -> None:
    return None


@dataclass(frozen=True, slots=True)
class CustomerDetails:
    name: str
    email: str | None = None
    phone: str | None = None
    language: str = "de"


@dataclass(frozen=True, slots=True)
class BookingRequest:
    service_id: int
    starts_at: datetime
    customer: CustomerDetails
    staff_id: int | None = None
    timezone: str | None = None
    notes: str | None = None
    source: str = "api"


@dataclass(frozen=True, slots=True)
class RescheduleRequest:
    starts_at: datetime
    staff_id: int | None = None


@dataclass(frozen=True, slots=True)
class BookingResponse:
    """What to answer: the status and the booking as JSON (stored with the Idempotency-Key, if any)."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class BookingSettings:
    saga_lease: timedelta = timedelta(seconds=60)
    # After an unknown outcome was judged "not made", look once more this much later for a late booking.
    recheck_after: timedelta = timedelta(minutes=5)
    # How long an idempotency claim without a saga (cancel) is protected before a retry may take it over.
    request_lease: timedelta = timedelta(minutes=2)
    claim_attempts: int = 3
    organizer_email: str = "bookings@composite-booking.invalid"
    organizer_name: str | None = None


@dataclass(frozen=True, slots=True)
class _Claimed:
    ref: SagaRef
    appointment_id: int
    rows: ClaimedRows | None = None  # what the claim wrote, when the saga may start from it


class _TimeTaken(Exception):
    """Step 1 lost a race for the time in PostgreSQL (the exclusion constraint refused a row)."""


class BookingService:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        calcom: CalcomClient | None,
        resolver: SlotResolver | None,
        locks: LockService,
        *,
        clock: Clock,
        settings: BookingSettings | None = None,
        checkpoint: CheckpointHook = _no_checkpoint,
        on_staff_calendar_changed: StaffCalendarChanged = _nothing,
    ) -> None:
        self._session_factory = session_factory
        self._calcom = calcom
        self._resolver = resolver
        self._locks = locks
        self._clock = clock
        self._settings = settings or BookingSettings()
        self._checkpoint = checkpoint
        on_staff_calendar_changed = best_effort(on_staff_calendar_changed)
        self._on_staff_calendar_changed = on_staff_calendar_changed
        self.saga: BookingSagaRunner | None = None
        self._cancellation: AppointmentCancellation | None = None
        self._pause_release: PauseRelease | None = None
        if calcom is not None:
            self.saga = BookingSagaRunner(
                session_factory,
                calcom,
                clock=clock,
                lease=self._settings.saga_lease,
                recheck_after=self._settings.recheck_after,
                checkpoint=checkpoint,
                on_staff_calendar_changed=on_staff_calendar_changed,
                alternatives=self.alternatives_for,
            )
            self._cancellation = AppointmentCancellation(
                session_factory, calcom, on_staff_calendar_changed=on_staff_calendar_changed
            )
            self._pause_release = PauseRelease(
                session_factory, calcom, on_staff_calendar_changed=on_staff_calendar_changed
            )

    # --- reads ------------------------------------------------------------------------------------------

    async def get(self, company_id: int, appointment_id: int) -> schemas.BookingOut:
        async with self._reading(company_id) as (bookings, renderer):
            return await renderer.render(await _require(bookings, appointment_id))

    async def get_by_code(self, company_id: int, code: str) -> schemas.BookingOut:
        async with self._reading(company_id) as (bookings, renderer):
            appointment = await bookings.appointment_by_code(normalize_confirmation_code(code))
            if appointment is None:
                raise NotFound("booking with confirmation code", code)
            return await renderer.render(appointment)

    async def search(
        self, company_id: int, filters: AppointmentFilters, page: Pagination
    ) -> Page[schemas.BookingOut]:
        async with self._reading(company_id) as (bookings, renderer):
            rows, total = await bookings.list_appointments(filters, limit=page.limit, offset=page.offset)
            items = await renderer.render_many(rows)
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    async def ics(self, company_id: int, appointment_id: int) -> bytes:
        """The appointment as an iCalendar file: REQUEST while it stands, CANCEL once cancelled."""
        async with self._reading(company_id) as (bookings, renderer):
            appointment = await _require(bookings, appointment_id)
            view = await renderer.notification_view(
                appointment,
                organizer_email=self._settings.organizer_email,
                organizer_name=self._settings.organizer_name,
                placeholder_email=f"customer-{appointment.composite_uid}@{PLACEHOLDER_EMAIL_DOMAIN}",
            )
        if view is None:
            raise BookingStateConflict(
                f"booking {appointment_id} is {appointment.status}: there is no calendar entry to show"
            )
        method: CalendarMethod = "CANCEL" if view.status is AppointmentStatus.CANCELLED else "REQUEST"
        return build_ics(view, method=method, stamp=self._clock())

    async def alternatives_for(self, company_id: int, appointment_id: int) -> list[dict[str, Any]]:
        """Up to three other slots for an appointment's service around its start (same staff first)."""
        async with self._reading(company_id) as (bookings, _):
            appointment = await _require(bookings, appointment_id)
            service = await bookings.service(appointment.service_id)
        assert service is not None
        staff_id = displayed_chain(appointment).segments[0].staff_id if appointment.slots else None
        return await self._alternatives(company_id, service, appointment.starts_at, staff_id)

    # --- book -------------------------------------------------------------------------------------------

    async def book(
        self, company_id: int, request: BookingRequest, *, idempotency: IdempotencyRef | None = None
    ) -> BookingResponse:
        saga = self._require_saga()
        known = await self._known_answer(company_id, idempotency)
        if known is not None:
            return known
        service = await self._bookable_service(company_id, request.service_id)
        try:
            claimed, placement = await self._claim_new_booking(company_id, service, request, idempotency)
        except SlotUnavailable:
            # The time may be taken by the first request with this very key: then that one answers.
            known = await self._known_answer(company_id, idempotency)
            if known is not None:
                return known
            raise
        return await self._after_claim(saga, claimed, placement, success_status=201)

    async def _claim_new_booking(
        self,
        company_id: int,
        service: BookableService,
        request: BookingRequest,
        idempotency: IdempotencyRef | None,
    ) -> tuple[_Claimed | BookingResponse, CompositeSlot]:
        """Place the chain and claim it (step 1) under the staff-day locks; a lost race places it again."""

        async def place() -> CompositeSlot:
            return await self._place(company_id, service, request.starts_at, request.staff_id, None)

        async def claim(placement: CompositeSlot) -> _Claimed | BookingResponse:
            return await self._claim_booking(company_id, service, request, placement, idempotency)

        return await self._claim_under_locks(
            company_id, service, request.starts_at, request.staff_id, place, claim, also_locked=[]
        )

    async def _claim_under_locks(
        self,
        company_id: int,
        service: BookableService,
        starts_at: datetime,
        staff_id: int | None,
        place: Callable[[], Awaitable[CompositeSlot]],
        claim: Callable[[CompositeSlot], Awaitable[_Claimed | BookingResponse]],
        *,
        also_locked: list[tuple[int, datetime, datetime]],
    ) -> tuple[_Claimed | BookingResponse, CompositeSlot]:
        """Shared by booking and moving: place, lock the staff members' days (and `also_locked`: the chain
        being moved), place again if someone decided for them while we waited, claim; a lost race in
        PostgreSQL places it once more, up to `claim_attempts` times, then it is a 409."""
        zone = ZoneInfo(service.time_zone)
        for _ in range(self._settings.claim_attempts):
            placement = await place()
            keys = staff_day_keys([*_spans(placement), *also_locked], zone)
            async with self._locks.hold(keys) as lock:
                if lock is LockOutcome.HELD_AFTER_WAIT:
                    # Someone decided for these staff members and days while we waited: decide again.
                    placement = await place()
                    if not set(staff_day_keys(_spans(placement), zone)) <= set(keys):
                        continue
                try:
                    return await claim(placement), placement
                except _TimeTaken:
                    continue
        raise await self._unavailable(company_id, service, starts_at, staff_id)

    async def _claim_booking(
        self,
        company_id: int,
        service: BookableService,
        request: BookingRequest,
        placement: CompositeSlot,
        idempotency: IdempotencyRef | None,
    ) -> _Claimed | BookingResponse:
        try:
            async with self._session_factory() as session, session.begin():
                key_id, answer = await self._claim_key(session, company_id, idempotency, with_saga=True)
                if answer is not None:
                    return answer
                bookings = BookingRepository(session, company_id)
                event_types = await self._event_types(bookings, service, placement)
                customer = await bookings.upsert_customer(
                    name=request.customer.name,
                    email=request.customer.email,
                    phone=request.customer.phone,
                    language=request.customer.language,
                )
                appointment = Appointment(
                    company_id=company_id,
                    branch_id=service.branch_id,
                    composite_uid=uuid.uuid4(),
                    status=AppointmentStatus.PENDING,
                    source=request.source,
                    confirmation_code=await _unused_code(bookings),
                    customer_id=customer.id,
                    service_id=service.id,
                    starts_at=placement.starts_at,
                    ends_at=placement.segments[-1].ends_at,
                    timezone=request.timezone or service.time_zone,
                    notes=request.notes,
                )
                bookings.add(appointment)
                await bookings.flush()
                rows = slot_rows(
                    company_id=company_id,
                    appointment_id=appointment.id,
                    chain=1,
                    placement=placement,
                    policy=service.policy,
                )
                saga, sagas = await self._hold_and_log(
                    session,
                    bookings,
                    rows,
                    BookingSaga(appointment_id=appointment.id, kind=SagaKind.BOOK, chain=1),
                )
                # Every row is one Cal.com booking: each segment, and each held pause.
                steps = [
                    _step(saga.id, row, StepAction.CREATE, event_types[_event_type_key(row)]) for row in rows
                ]
                for step in steps:
                    sagas.add(step)
                if key_id is not None:
                    await IdempotencyRepository(session, company_id).attach_saga(key_id, saga.id)
        except DBAPIError as exc:
            if is_booking_race(exc):
                raise _TimeTaken from exc
            raise
        # The saga starts from these rows (committed, fully loaded) instead of reading them back.
        return _Claimed(
            SagaRef(saga.id, 1), appointment.id, ClaimedRows(saga, steps, appointment, rows, customer)
        )

    async def _hold_and_log(
        self,
        session: AsyncSession,
        bookings: BookingRepository,
        rows: list[AppointmentSlot],
        saga: BookingSaga,
    ) -> tuple[BookingSaga, SagaRepository]:
        """Step 1's heart, shared by booking and moving: hold the rows (PostgreSQL's exclusion constraint
        decides here, before Cal.com is asked anything) and open the saga's log, leased to this driver."""
        for row in rows:
            bookings.add(row)
        await bookings.flush()
        saga.company_id = bookings.company_id
        saga.state = SagaState.BOOKING
        saga.version = 1
        saga.lease_until = self._clock() + self._settings.saga_lease
        sagas = SagaRepository(session)
        sagas.add(saga)
        await sagas.flush()
        return saga, sagas

    # --- reschedule -------------------------------------------------------------------------------------

    async def reschedule(
        self,
        company_id: int,
        appointment_id: int,
        request: RescheduleRequest,
        *,
        idempotency: IdempotencyRef | None = None,
    ) -> BookingResponse:
        """Make-before-break: the whole chain moves, or nothing changes (see `reschedule_plan`)."""
        saga = self._require_saga()
        known = await self._known_answer(company_id, idempotency)
        if known is not None:
            return known
        async with self._session_factory() as session:
            bookings = BookingRepository(session, company_id)
            sagas = SagaRepository(session)
            appointment = await _require(bookings, appointment_id)
            service = await bookings.service(appointment.service_id)
            assert service is not None
            current = displayed_chain(appointment)
            reschedules = await sagas.count_confirmed(appointment_id, SagaKind.RESCHEDULE)
            unchanged_body = (await BookingRenderer(bookings, sagas).render(appointment)).model_dump(
                mode="json"
            )
        current_staff = current.segments[0].staff_id
        try:
            self._check_reschedulable(appointment, service, reschedules)
            if request.starts_at == appointment.starts_at and request.staff_id in (None, current_staff):
                return BookingResponse(200, unchanged_body)  # already there: nothing to move
            claimed, placement = await self._claim_move(
                company_id, service, appointment, current, request, idempotency
            )
        except (SlotUnavailable, BookingStateConflict):
            # The appointment may be being moved (or already moved) by the first request with this key.
            known = await self._known_answer(company_id, idempotency)
            if known is not None:
                return known
            raise
        return await self._after_claim(saga, claimed, placement, success_status=200)

    async def _claim_move(
        self,
        company_id: int,
        service: BookableService,
        appointment: Appointment,
        current: ChainSlots,
        request: RescheduleRequest,
        idempotency: IdempotencyRef | None,
    ) -> tuple[_Claimed | BookingResponse, CompositeSlot]:
        current_staff = current.segments[0].staff_id

        async def place() -> CompositeSlot:
            return await self._place_moved(company_id, service, request, current_staff, appointment.id)

        async def claim(placement: CompositeSlot) -> _Claimed | BookingResponse:
            return await self._claim_reschedule(
                company_id, service, appointment, current, placement, idempotency
            )

        return await self._claim_under_locks(
            company_id,
            service,
            request.starts_at,
            request.staff_id,
            place,
            claim,
            also_locked=_row_spans(current),
        )

    async def _place_moved(
        self,
        company_id: int,
        service: BookableService,
        request: RescheduleRequest,
        current_staff: int,
        appointment_id: int,
    ) -> CompositeSlot:
        """Without a staff member named, the chain stays with its current one when that person fits."""
        if request.staff_id is None:
            resolver = self._require_resolver()
            placement = await resolver.resolve(
                company_id,
                service.id,
                request.starts_at,
                staff_id=current_staff,
                ignore_appointment_id=appointment_id,
            )
            if placement is not None:
                return placement
        return await self._place(company_id, service, request.starts_at, request.staff_id, appointment_id)

    def _check_reschedulable(self, appointment: Appointment, service: BookableService, done: int) -> None:
        status = AppointmentStatus(appointment.status)
        if status in (AppointmentStatus.PENDING, AppointmentStatus.RESCHEDULING):
            raise BookingStateConflict(
                f"booking {appointment.id} is being changed right now; try again shortly"
            )
        if status is not AppointmentStatus.CONFIRMED:
            raise BookingStateConflict(f"booking {appointment.id} is {status.value} and cannot be moved")
        if any(s.active and s.status == SlotStatus.CANCELLING for s in appointment.slots):
            raise BookingStateConflict(
                f"a pause of booking {appointment.id} is being released right now; try again shortly"
            )
        cutoff_hours = int(service.reschedule_policy.get("cutoff_hours", 24))
        max_changes = int(service.reschedule_policy.get("max_changes", 3))
        if self._clock() + timedelta(hours=cutoff_hours) > appointment.starts_at:
            raise RescheduleNotAllowed(
                f"this service can only be moved up to {cutoff_hours} hours before it starts",
                extra={"cutoff_hours": cutoff_hours},
            )
        if done >= max_changes:
            raise RescheduleNotAllowed(
                f"this booking was moved {done} times already; the service allows {max_changes}",
                extra={"max_changes": max_changes},
            )

    async def _claim_reschedule(
        self,
        company_id: int,
        service: BookableService,
        seen: Appointment,
        current: ChainSlots,
        placement: CompositeSlot,
        idempotency: IdempotencyRef | None,
    ) -> _Claimed | BookingResponse:
        try:
            async with self._session_factory() as session, session.begin():
                key_id, answer = await self._claim_key(session, company_id, idempotency, with_saga=True)
                if answer is not None:
                    return answer
                bookings = BookingRepository(session, company_id)
                appointment = await bookings.appointment(seen.id, for_update=True)
                if appointment is None or appointment.version != seen.version:
                    raise BookingStateConflict(f"booking {seen.id} changed meanwhile; try again")
                event_types = await self._event_types(bookings, service, placement)
                plan = plan_reschedule(
                    _busy_spans_of_rows(current),
                    _busy_spans_of_parts(chain_parts(placement, service.policy), event_types),
                )
                appointment.status = AppointmentStatus.RESCHEDULING
                appointment.version += 1
                # The old and the new chain may overlap each other (never anyone else) while both stand.
                await bookings.set_overlap_group(appointment.id, appointment.id)
                chain = next_chain_number(appointment)
                rows = slot_rows(
                    company_id=company_id,
                    appointment_id=appointment.id,
                    chain=chain,
                    placement=placement,
                    policy=service.policy,
                    overlap_group=appointment.id,
                )
                saga, sagas = await self._hold_and_log(
                    session,
                    bookings,
                    rows,
                    BookingSaga(
                        appointment_id=appointment.id,
                        kind=SagaKind.RESCHEDULE,
                        chain=chain,
                        replaces_chain=current.number,
                    ),
                )
                old_by_key = {_span_key(s): s for s in current.rows}
                for row in rows:
                    event_type_id = event_types[_event_type_key(row)]
                    if _span_key(row) in plan.moves:
                        source = old_by_key[_span_key(row)]
                        step = _step(saga.id, row, StepAction.MOVE, event_type_id)
                        step.source_slot_id = source.id
                        step.source_booking_uid = source.calcom_booking_uid
                        step.wave = plan.moves[_span_key(row)]
                        sagas.add(step)
                    else:
                        step = _step(saga.id, row, StepAction.CREATE, event_type_id)
                        step.wave = plan.create_waves.get(_span_key(row), 0)
                        sagas.add(step)
                for key in plan.cancels:
                    old = old_by_key[key]
                    step = _step(saga.id, old, StepAction.CANCEL, old.calcom_event_type_id or 0)
                    step.calcom_booking_uid = old.calcom_booking_uid
                    sagas.add(step)
                if key_id is not None:
                    await IdempotencyRepository(session, company_id).attach_saga(key_id, saga.id)
        except CannotMoveInPlace as exc:
            raise SlotUnavailable(
                f"the new time overlaps the current chain in a way that cannot be moved in place: {exc}",
                extra={"alternatives": []},
            ) from exc
        except DBAPIError as exc:
            if is_booking_race(exc):
                raise _TimeTaken from exc
            raise
        return _Claimed(SagaRef(saga.id, 1), appointment.id)

    # --- cancel -----------------------------------------------------------------------------------------

    async def cancel(
        self,
        company_id: int,
        appointment_id: int,
        reason: str | None,
        *,
        idempotency: IdempotencyRef | None = None,
    ) -> BookingResponse:
        """Every segment cancelled in Cal.com; `cancellation_pending` while any still stands (retried)."""
        cancellation = self._cancellation
        if cancellation is None:
            raise CalendarNotReady("Cal.com is not configured (CALCOM_API_KEY): bookings cannot be changed")
        known = await self._known_answer(company_id, idempotency)
        if known is not None:
            return known
        reason = reason or DEFAULT_CANCEL_REASON
        key_id: int | None = None
        async with self._session_factory() as session, session.begin():
            key_id, answer = await self._claim_key(session, company_id, idempotency, with_saga=False)
            if answer is not None:
                return answer
            bookings = BookingRepository(session, company_id)
            appointment = await bookings.appointment(appointment_id, for_update=True)
            if appointment is None:
                raise NotFound("booking", appointment_id)
            status = AppointmentStatus(appointment.status)
            if status in (AppointmentStatus.PENDING, AppointmentStatus.RESCHEDULING):
                raise BookingStateConflict(
                    f"booking {appointment_id} is being changed right now; try again shortly"
                )
            if status is AppointmentStatus.FAILED:
                raise BookingStateConflict(f"booking {appointment_id} failed and holds nothing to cancel")
            if status is not AppointmentStatus.CANCELLED:
                if status is not AppointmentStatus.CANCELLATION_PENDING:
                    appointment.status = AppointmentStatus.CANCELLATION_PENDING
                    appointment.version += 1
                # The outbox finishes the cancellation whatever happens to this request.
                await request_cancellation(
                    OutboxRepository(session),
                    company_id=company_id,
                    appointment_id=appointment_id,
                    reason=reason,
                )
        result = await cancellation.run(company_id, appointment_id, reason)
        async with self._session_factory() as session, session.begin():
            bookings = BookingRepository(session, company_id)
            if result.status is AppointmentStatus.CANCELLED:
                await self._notify_cancelled(session, bookings, appointment_id)
            body = await self._render(session, bookings, appointment_id)
            if key_id is not None:
                await IdempotencyRepository(session, company_id).complete(key_id, status=200, body=body)
        return BookingResponse(200, body)

    async def notify_cancelled(self, company_id: int, appointment_id: int) -> None:
        """Queue the cancellation e-mail (once) for an appointment whose cancellation just finished."""
        async with self._session_factory() as session, session.begin():
            await self._notify_cancelled(session, BookingRepository(session, company_id), appointment_id)

    async def _notify_cancelled(
        self, session: AsyncSession, bookings: BookingRepository, appointment_id: int
    ) -> None:
        sequence = await SagaRepository(session).count_confirmed(appointment_id, SagaKind.RESCHEDULE) + 1
        await enqueue_notification(
            OutboxRepository(session),
            bookings,
            appointment_id=appointment_id,
            kind="cancellation",
            sequence=sequence,
        )

    # --- pauses -----------------------------------------------------------------------------------------

    async def release_pause(
        self, company_id: int, appointment_id: int, number: int, *, idempotency: IdempotencyRef | None = None
    ) -> BookingResponse:
        """Give a held pause back (`blocked` services only): its Cal.com booking is cancelled, so the staff
        member is bookable during it again, here and in Cal.com (see `pause_release`).

        If Cal.com refuses, the pause stays held and the answer is 502; if it cannot tell, 503 and the
        outbox finishes the release. Either way the Idempotency-Key is not kept: a retry asks again.
        """
        release = self._pause_release
        if release is None:
            raise CalendarNotReady("Cal.com is not configured (CALCOM_API_KEY): bookings cannot be changed")
        known = await self._known_answer(company_id, idempotency)
        if known is not None:
            return known
        async with self._session_factory() as session, session.begin():
            key_id, answer = await self._claim_key(session, company_id, idempotency, with_saga=False)
            if answer is not None:
                return answer
            bookings = BookingRepository(session, company_id)
            row = await self._held_pause(bookings, appointment_id, number)
            if row is None or row.calcom_booking_uid is None:
                if row is not None:  # held here only (booked before pauses had bookings): nothing in Cal.com
                    await bookings.update_slots([row.id], status=SlotStatus.RELEASED, active=False)
                    await bookings.bump_version(appointment_id)
                return await self._answer_release(session, bookings, company_id, appointment_id, key_id)
            if row.status != SlotStatus.CANCELLING:
                # The version bump turns away a reschedule that read the appointment before this.
                await bookings.update_slots([row.id], status=SlotStatus.CANCELLING)
                await bookings.bump_version(appointment_id)
                await request_release(OutboxRepository(session), company_id=company_id, slot_id=row.id)
        outcome = await release.run(company_id, row.id)
        async with self._session_factory() as session, session.begin():
            bookings = BookingRepository(session, company_id)
            if outcome.state is ReleaseState.RELEASED:
                return await self._answer_release(session, bookings, company_id, appointment_id, key_id)
            if key_id is not None:
                await IdempotencyRepository(session, company_id).forget(key_id)
        if outcome.state is ReleaseState.STILL_HELD:
            raise upstream_failure([outcome.error or ""], outcome="the pause is still held")
        raise BookingUpstreamUnavailable(
            f"Cal.com did not confirm the release ({outcome.error}); it is finished in the background"
        )

    async def _held_pause(
        self, bookings: BookingRepository, appointment_id: int, number: int
    ) -> AppointmentSlot | None:
        """The row holding pause `number` (locked with its appointment), None when it is held no more."""
        appointment = await bookings.appointment(appointment_id, for_update=True)
        if appointment is None:
            raise NotFound("booking", appointment_id)
        service = await bookings.service(appointment.service_id)
        assert service is not None
        if service.policy is PausePolicy.NEVER:
            raise PauseNotReleasable(
                "this service holds its pauses by policy `never`: they cannot be released"
            )
        if service.policy is not PausePolicy.BLOCKED:
            raise PauseNotReleasable(
                f"pauses of a `{service.policy.value}` service are not held: there is nothing to release"
            )
        if appointment.status != AppointmentStatus.CONFIRMED:
            raise BookingStateConflict(f"booking {appointment_id} is {appointment.status}")
        pause = next((p for p in pauses_of(displayed_chain(appointment)) if p.number == number), None)
        if pause is None:
            raise NotFound("pause", number)
        row = pause.held_row
        return row if row is not None and row.active else None

    async def _answer_release(
        self,
        session: AsyncSession,
        bookings: BookingRepository,
        company_id: int,
        appointment_id: int,
        key_id: int | None,
    ) -> BookingResponse:
        body = await self._render(session, bookings, appointment_id)
        if key_id is not None:
            await IdempotencyRepository(session, company_id).complete(key_id, status=200, body=body)
        return BookingResponse(200, body)

    # --- shared steps -----------------------------------------------------------------------------------

    async def _after_claim(
        self,
        saga: BookingSagaRunner,
        claimed: _Claimed | BookingResponse,
        placement: CompositeSlot,
        *,
        success_status: int,
    ) -> BookingResponse:
        """Shared by booking and moving: a replayed answer as it is, else report the claimed time and run
        the saga to its end."""
        if isinstance(claimed, BookingResponse):
            return claimed
        await self._checkpoint(Checkpoint.CLAIMED, None)
        for staff_id in sorted({s.staff_id for s in placement.segments}):
            await self._on_staff_calendar_changed(staff_id)
        return await self._finish(saga, claimed, success_status=success_status)

    async def _finish(
        self, saga: BookingSagaRunner, claimed: _Claimed, *, success_status: int
    ) -> BookingResponse:
        try:
            outcome = await saga.drive(claimed.ref, claimed=claimed.rows)
        except SagaTakenOver as exc:
            raise BookingOutcomePending(
                "the booking took too long and is being finished in the background; ask again with the same "
                "Idempotency-Key, or read the booking",
                extra={"booking_id": claimed.appointment_id},
            ) from exc
        return await self._answer(outcome, success_status)

    async def _answer(self, outcome: SagaOutcome, success_status: int) -> BookingResponse:
        if outcome.state in (SagaState.CONFIRMED, SagaState.CLEANING_UP):
            if outcome.body is not None:
                return BookingResponse(success_status, outcome.body)
            return BookingResponse(success_status, await self._render_fresh(outcome))
        if outcome.failure is not None:
            raise replayed_problem(outcome.failure)
        raise BookingOutcomePending(
            "the booking's outcome is still being settled; ask again with the same Idempotency-Key",
            extra={"booking_id": outcome.appointment_id},
        )

    async def _render_fresh(self, outcome: SagaOutcome) -> dict[str, Any]:
        async with self._session_factory() as session:
            saga = await SagaRepository(session).get(outcome.saga_id)
            assert saga is not None
            return await self._render(
                session, BookingRepository(session, saga.company_id), outcome.appointment_id
            )

    async def _known_answer(
        self, company_id: int, idempotency: IdempotencyRef | None
    ) -> BookingResponse | None:
        """A key seen before answers without doing anything (checked again when the key is claimed)."""
        if idempotency is None:
            return None
        async with self._session_factory() as session:
            claim = await IdempotencyRepository(session, company_id).peek(
                idempotency.key,
                operation=idempotency.operation,
                fingerprint=idempotency.fingerprint,
                now=self._clock(),
            )
        return _answer_for_claim(claim) if claim is not None else None

    async def _claim_key(
        self, session: AsyncSession, company_id: int, idempotency: IdempotencyRef | None, *, with_saga: bool
    ) -> tuple[int | None, BookingResponse | None]:
        if idempotency is None:
            return None, None
        now = self._clock()
        claim = await IdempotencyRepository(session, company_id).claim(
            idempotency.key,
            operation=idempotency.operation,
            fingerprint=idempotency.fingerprint,
            now=now,
            expires_at=now + KEY_LIFETIME,
            locked_until=now + (self._settings.saga_lease if with_saga else self._settings.request_lease),
        )
        if claim.status is ClaimStatus.CLAIMED:
            return claim.key_id, None
        return None, _answer_for_claim(claim)

    async def _place(
        self,
        company_id: int,
        service: BookableService,
        starts_at: datetime,
        staff_id: int | None,
        moving: int | None,
    ) -> CompositeSlot:
        resolver = self._require_resolver()
        placement = await resolver.resolve(
            company_id, service.id, starts_at, staff_id=staff_id, ignore_appointment_id=moving
        )
        if placement is None:
            raise await self._unavailable(company_id, service, starts_at, staff_id)
        return placement

    async def _unavailable(
        self, company_id: int, service: BookableService, starts_at: datetime, staff_id: int | None
    ) -> SlotUnavailable:
        alternatives = await self._alternatives(company_id, service, starts_at, staff_id)
        who = f" with staff member {staff_id}" if staff_id is not None else ""
        return SlotUnavailable(
            f"{service.name} does not fit at {starts_at.isoformat()}{who}",
            extra={"alternatives": alternatives},
        )

    async def _alternatives(
        self, company_id: int, service: BookableService, around: datetime, staff_id: int | None
    ) -> list[dict[str, Any]]:
        if self._resolver is None:
            return []
        try:
            slots = await self._resolver.alternatives(
                company_id, service.id, around, staff_id=staff_id, count=3
            )
        except ServiceError as exc:
            log.warning("no alternatives for service %s: %s", service.id, exc.detail)
            return []
        zone = ZoneInfo(service.time_zone)
        return [_slot_json(slot, zone) for slot in slots[:3]]

    async def _bookable_service(self, company_id: int, service_id: int) -> BookableService:
        async with self._session_factory() as session:
            service = await BookingRepository(session, company_id).service(service_id)
        if service is None or service.deleted:
            raise InvalidInput.single("service_id", f"service {service_id} does not exist")
        if not service.active:
            raise InvalidInput.single("service_id", f"service {service_id} is not active")
        return service

    @staticmethod
    async def _event_types(
        bookings: BookingRepository, service: BookableService, placement: CompositeSlot
    ) -> dict[EventTypeKey, int]:
        wanted = [_event_type_key(part) for part in chain_parts(placement, service.policy)]
        found = await bookings.event_types(service.id, wanted)
        missing = [
            f"{key}{'' if part is SlotKind.SEGMENT else ' pause'}/staff {staff_id}"
            for key, part, staff_id in wanted
            if (key, part, staff_id) not in found
        ]
        if missing:
            raise CalendarNotReady(
                f"the Cal.com event types of service {service.id} are not synced yet ({', '.join(missing)}); "
                "run `composite-booking calcom sync` or wait for the sync to finish",
                extra={"missing": missing},
            )
        return found

    async def _render(
        self, session: AsyncSession, bookings: BookingRepository, appointment_id: int
    ) -> dict[str, Any]:
        await session.flush()
        appointment = await _require(bookings, appointment_id)
        rendered = await BookingRenderer(bookings, SagaRepository(session)).render(appointment)
        return rendered.model_dump(mode="json")

    @asynccontextmanager
    async def _reading(self, company_id: int) -> AsyncIterator[tuple[BookingRepository, BookingRenderer]]:
        async with self._session_factory() as session:
            bookings = BookingRepository(session, company_id)
            yield bookings, BookingRenderer(bookings, SagaRepository(session))

    def _require_saga(self) -> BookingSagaRunner:
        if self.saga is None:
            raise CalendarNotReady("Cal.com is not configured (CALCOM_API_KEY): bookings cannot be made")
        return self.saga

    def _require_resolver(self) -> SlotResolver:
        if self._resolver is None:
            raise CalendarNotReady("availability is not configured: bookings cannot be placed")
        return self._resolver


def _answer_for_claim(claim: Claim) -> BookingResponse:
    if claim.status is ClaimStatus.MISMATCH:
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different request")
    if claim.status is ClaimStatus.IN_FLIGHT:
        raise IdempotencyKeyInFlight("the first request with this Idempotency-Key is still being processed")
    assert claim.status is ClaimStatus.REPLAY
    assert claim.response_status is not None
    assert claim.response_body is not None
    if claim.response_status >= 400:
        raise replayed_problem(claim.response_body)
    return BookingResponse(claim.response_status, claim.response_body, replayed=True)


async def _require(
    bookings: BookingRepository, appointment_id: int, *, for_update: bool = False
) -> Appointment:
    appointment = await bookings.appointment(appointment_id, for_update=for_update)
    if appointment is None:
        raise NotFound("booking", appointment_id)
    return appointment


async def _unused_code(bookings: BookingRepository) -> str:
    while True:
        code = new_confirmation_code()
        if not await bookings.code_taken(code):
            return code


def _step(saga_id: int, row: AppointmentSlot, action: StepAction, event_type_id: int) -> BookingSagaStep:
    return BookingSagaStep(
        saga_id=saga_id,
        slot_id=row.id,
        action=action,
        state=StepState.PENDING,
        segment_key=row.segment_key,
        event_type_id=event_type_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        wave=0,
    )


def _spans(placement: CompositeSlot) -> list[tuple[int, datetime, datetime]]:
    spans = [(s.staff_id, s.starts_at, s.ends_at) for s in placement.segments]
    spans += [(p.held_by_staff_id, p.starts_at, p.ends_at) for p in placement.pauses if p.held_by_staff_id]
    return spans


def _row_spans(chain: ChainSlots) -> list[tuple[int, datetime, datetime]]:
    return [(s.staff_id, s.starts_at, s.ends_at) for s in chain.rows]


def _event_type_key(row: AppointmentSlot | ChainPart) -> EventTypeKey:
    return (row.segment_key, SlotKind(row.kind), row.staff_id)


def _span_key(row: AppointmentSlot | ChainPart) -> str:
    """A chain part's name in a reschedule plan: the segment key, or the key and `/pause` for its pause."""
    return row.segment_key if row.kind == SlotKind.SEGMENT else f"{row.segment_key}/pause"


def _busy_spans_of_rows(chain: ChainSlots) -> list[BusySpan]:
    """The current chain as Cal.com sees it: one busy span per standing booking (segments, held pauses)."""
    return [
        BusySpan(_span_key(row), row.staff_id, row.starts_at, row.ends_at, row.calcom_event_type_id or 0)
        for row in chain.rows
        if row.active and row.calcom_booking_uid is not None
    ]


def _busy_spans_of_parts(parts: list[ChainPart], event_types: dict[EventTypeKey, int]) -> list[BusySpan]:
    return [
        BusySpan(_span_key(p), p.staff_id, p.starts_at, p.ends_at, event_types[_event_type_key(p)])
        for p in parts
    ]


def _slot_json(slot: CompositeSlot, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "starts_at": slot.starts_at.astimezone(zone).isoformat(),
        "ends_at": slot.ends_at.astimezone(zone).isoformat(),
        "staff_id": slot.staff_id,
        "segments": [
            {
                "key": s.key,
                "name": s.name,
                "starts_at": s.starts_at.astimezone(zone).isoformat(),
                "ends_at": s.ends_at.astimezone(zone).isoformat(),
                "staff_id": s.staff_id,
            }
            for s in slot.segments
        ],
    }
