"""The booking saga: drives a booking or a reschedule from its claimed rows to a final state.

Step 1 (the claim: rows held, saga and steps logged) is written by the use case in one transaction. From
there the same `drive` serves the request that claimed it and the recovery worker that takes over a saga
whose driver died, because it reads everything it needs from the log:

- Cal.com is called outside any transaction. Before each call the step's intent is committed (`calling`),
  after it the result (`done`, `failed`: a batch's results in one transaction once all its calls have
  answered); a step found `calling` was interrupted, and its outcome is settled by asking Cal.com
  (bookings listed by event type and time, matched by the `metadata` we wrote; for a move, the old
  booking's `rescheduledToUid`) before anything else happens.
- Independent steps run concurrently; moves run in waves (see `reschedule_plan`).
- Any failure or unsettled outcome turns the saga to `compensating`: bookings made are cancelled, moved
  ones moved back, and only then are the rows released. A successful booking confirms the appointment and
  queues its e-mail in the same transaction.
- Every write is fenced on the saga's `version`: once recovery took a saga over, the previous driver's
  next write fails (`SagaTakenOver`) and it stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from composite_booking.calcom.client import CalcomClient
from composite_booking.calcom.errors import (
    CalcomError,
    CalcomRateLimited,
    CalcomSlotTaken,
    CalcomUnknownOutcome,
)
from composite_booking.calcom.models import AttendeeInput, Booking, BookingFilters, BookingStatus
from composite_booking.db.models import Appointment, AppointmentSlot, BookingSaga, BookingSagaStep, Customer
from composite_booking.db.repositories.bookings import BookingRepository
from composite_booking.db.repositories.idempotency import IdempotencyRepository
from composite_booking.db.repositories.outbox import OutboxRepository
from composite_booking.db.repositories.sagas import SagaRepository
from composite_booking.domain.booking.chain import chain_bounds, chain_of
from composite_booking.domain.booking.idempotency import stored_problem
from composite_booking.domain.booking.notify import enqueue_notification
from composite_booking.domain.booking.states import Checkpoint, SagaKind, SagaState, StepAction, StepState
from composite_booking.domain.booking.views import BookingRenderer
from composite_booking.domain.cancellation import cancel_calcom_booking
from composite_booking.domain.errors import (
    BookingUpstreamFailed,
    BookingUpstreamUnavailable,
    ServiceError,
    SlotUnavailable,
)
from composite_booking.domain.segments import SlotKind
from composite_booking.domain.statuses import AppointmentStatus, SlotStatus

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
CheckpointHook = Callable[[Checkpoint, int | None], Awaitable[None]]
StaffCalendarChanged = Callable[[int], Awaitable[None]]
# Up to three other slots to offer when Cal.com refused the chain: (company, appointment) → JSON objects.
AlternativesFinder = Callable[[int, int], Awaitable[list[dict[str, Any]]]]

CANCEL_REASON = "Composite booking could not be completed"
RESCHEDULE_REASON = "Composite appointment moved"
UNDO_REASON = "Composite appointment move taken back"
CLEANUP_REASON = "Composite appointment moved to another time"
_MAKE = (StepAction.CREATE, StepAction.MOVE)
# A booking made for a customer without an e-mail address still needs one in Cal.com; this domain never
# receives mail (RFC 2606).
PLACEHOLDER_EMAIL_DOMAIN = "no-email.invalid"
_MAX_PASSES = 50
# What a booking made before a metadata field existed stands for: before `part`, only segments were booked.
_METADATA_DEFAULTS = {"part": SlotKind.SEGMENT.value}

# What a step's Cal.com call came back with, kept until its batch records all of them.
_Outcome = TypeVar("_Outcome")


async def _no_checkpoint(_: Checkpoint, __: int | None) -> None:
    return None


async def _nothing(_: int) -> None:
    return None


def best_effort(callback: StaffCalendarChanged) -> StaffCalendarChanged:
    """The calendar-changed callback drops caches: its failure (say, Redis down) must never turn a booking
    that stands into an error, nor stop a saga half-way. Logged and ignored."""

    async def call(staff_id: int) -> None:
        try:
            await callback(staff_id)
        except Exception as exc:
            log.warning("could not report staff %s's calendar change: %r", staff_id, exc)

    return call


class SagaTakenOver(Exception):
    """Someone else (recovery) drives this saga now; this driver must stop touching it."""


@dataclass(frozen=True, slots=True)
class SagaRef:
    id: int
    version: int


@dataclass(frozen=True, slots=True)
class SagaOutcome:
    saga_id: int
    appointment_id: int
    kind: SagaKind
    state: SagaState
    failure: dict[str, Any] | None  # the stored problem, once the saga failed
    body: dict[str, Any] | None  # the booking as rendered when this drive made it stand


@dataclass(frozen=True, slots=True)
class ClaimedRows:
    """The rows step 1 has just committed for a saga (detached, fully loaded): its driver starts from them
    instead of reading them back."""

    saga: BookingSaga
    steps: list[BookingSagaStep]
    appointment: Appointment
    slots: list[AppointmentSlot]  # all of the appointment's rows (a new appointment has no others)
    customer: Customer


@dataclass(frozen=True, slots=True)
class _Result:
    state: StepState
    uid: str | None = None
    error: str | None = None
    host_busy: bool = False
    uncertain: bool = False


@dataclass(slots=True)
class _Context:
    """One pass's snapshot of the saga (detached rows; read only)."""

    ref: SagaRef
    saga: BookingSaga
    appointment: Appointment
    customer: Customer

    @property
    def steps(self) -> list[BookingSagaStep]:
        return list(self.saga.steps)

    def slot(self, slot_id: int | None) -> AppointmentSlot | None:
        return next((s for s in self.appointment.slots if s.id == slot_id), None)

    def metadata(self, step: BookingSagaStep) -> dict[str, str]:
        slot = self.slot(step.slot_id)
        return {
            "composite_uid": str(self.appointment.composite_uid),
            "segment_key": step.segment_key,
            "part": slot.kind if slot is not None else SlotKind.SEGMENT.value,
            "company_id": str(self.saga.company_id),
            "chain": str(self.saga.chain),
        }

    def attendee(self) -> AttendeeInput:
        email = self.customer.email or f"customer-{self.appointment.composite_uid}@{PLACEHOLDER_EMAIL_DOMAIN}"
        return AttendeeInput(
            name=self.customer.name,
            email=email,
            time_zone=self.appointment.timezone,
            phone_number=self.customer.phone,
            language=self.customer.language,
        )


@dataclass(slots=True)
class _Drive:
    ref: SagaRef
    company_id: int
    # (phase, step id) already attempted in this drive: each is tried once per drive, then left to recovery.
    tried: set[tuple[str, int]] = field(default_factory=set)
    body: dict[str, Any] | None = None
    finished: SagaState | None = None  # the final state this drive brought the saga to


class BookingSagaRunner:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        calcom: CalcomClient,
        *,
        clock: Clock,
        lease: timedelta,
        recheck_after: timedelta,
        checkpoint: CheckpointHook = _no_checkpoint,
        on_staff_calendar_changed: StaffCalendarChanged = _nothing,
        alternatives: AlternativesFinder | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._calcom = calcom
        self._clock = clock
        self._lease = lease
        self._recheck_after = recheck_after
        self._checkpoint = checkpoint
        self._on_staff_calendar_changed = best_effort(on_staff_calendar_changed)
        self._alternatives = alternatives

    @property
    def lease(self) -> timedelta:
        return self._lease

    async def drive(self, ref: SagaRef, *, claimed: ClaimedRows | None = None) -> SagaOutcome:
        """Advance the saga until it is final or cannot progress now (recovery then tries again later).

        `claimed`: the rows the caller's claim just committed, which are what a read would return.
        """
        # Read once; every pass then keeps this snapshot up to date with what it writes (a takeover is
        # caught by the fencing of those writes, not by reading).
        context = _claimed_context(ref, claimed) if claimed is not None else await self._load(ref)
        drive = _Drive(ref, context.saga.company_id)
        for _ in range(_MAX_PASSES):
            state = SagaState(context.saga.state)
            if state.final:
                return self._outcome(context, drive)
            if state is SagaState.BOOKING:
                progressed = await self._book(drive, context)
            elif state is SagaState.COMPENSATING:
                progressed = await self._compensate(drive, context)
            else:
                progressed = await self._clean_up(drive, context)
            if drive.finished is not None:  # no need to read back what was just written
                return replace(self._outcome(context, drive), state=drive.finished)
            if not progressed:
                return self._outcome(context, drive)
        raise RuntimeError(f"saga {ref.id} did not settle within {_MAX_PASSES} passes")

    # --- booking ----------------------------------------------------------------------------------------

    async def _book(self, drive: _Drive, context: _Context) -> bool:
        makes = [s for s in context.steps if s.action in _MAKE]
        interrupted = [s for s in makes if s.state == StepState.CALLING]
        if interrupted:
            await self._settle(drive, context, interrupted)
            return True
        if any(s.state in (StepState.FAILED, StepState.UNKNOWN) for s in makes):
            await self._start_compensation(drive, context)
            return True
        pending = [s for s in makes if s.state == StepState.PENDING]
        if pending:
            # Waves in order (see `reschedule_plan`); a booking's creates are all wave 0.
            first_wave = min(s.wave for s in pending)
            batch = [s for s in pending if s.wave == first_wave]
            await self._run_batch(
                drive,
                batch,
                "make",
                StepState.CALLING,
                lambda step: self._make(context, step),
                lambda session, _, made: self._record_makes(context, session, made),
            )
            return True
        await self._checkpoint(Checkpoint.DECIDED, None)
        if context.saga.kind == SagaKind.BOOK:
            await self._confirm(drive, context)
        else:
            await self._commit_reschedule(drive, context)
        return True

    async def _run_batch(
        self,
        drive: _Drive,
        steps: list[BookingSagaStep],
        phase: str,
        intent: StepState,
        run: Callable[[BookingSagaStep], Coroutine[Any, Any, _Outcome]],
        record: Callable[
            [AsyncSession, SagaRepository, list[tuple[BookingSagaStep, _Outcome]]], Awaitable[None]
        ],
        *,
        cancelling: Sequence[BookingSagaStep] = (),
    ) -> None:
        """Commit the intents of a whole batch (one transaction, lease renewed), run its steps at once, then
        record all their outcomes (one more transaction, fenced and renewing the lease like any write).

        Intent before the call and outcome after it is what crash safety needs; a transaction per step
        would only add round trips. A step whose outcome is not recorded (the process died, or a sibling's
        crash or takeover stopped the batch) stays `calling` and is settled by asking Cal.com, like any
        interrupted step.

        The slots of `cancelling` steps are marked as being cancelled by us first, so Cal.com's webhook
        about it is recognised as our own change and not flagged as an external cancellation.
        """
        for step in steps:
            drive.tried.add((phase, step.id))
        now = self._clock()
        async with self._transaction(drive.ref) as (session, sagas):
            await sagas.mark_intent([s.id for s in steps], state=intent, now=now)
            if cancelling:
                await BookingRepository(session, drive.company_id).update_slots(
                    [s.slot_id for s in cancelling], status=SlotStatus.CANCELLING
                )
        for step in steps:
            step.state, step.intent_at, step.attempts = intent, now, step.attempts + 1
        outcomes = await _concurrently(run(step) for step in steps)
        async with self._transaction(drive.ref) as (session, sagas):
            await record(session, sagas, list(zip(steps, outcomes, strict=True)))
        for step in steps:
            await self._checkpoint(Checkpoint.RECORDED, step.id)

    async def _make(self, context: _Context, step: BookingSagaStep) -> _Result:
        await self._checkpoint(Checkpoint.INTENT, step.id)
        result = await self._call_make(context, step)
        await self._checkpoint(Checkpoint.CALLED, step.id)
        return result

    async def _call_make(self, context: _Context, step: BookingSagaStep) -> _Result:
        try:
            if step.action == StepAction.CREATE:
                booking = await self._calcom.create_booking(
                    event_type_id=step.event_type_id,
                    start=step.starts_at,
                    attendee=context.attendee(),
                    metadata=context.metadata(step),
                )
            else:
                assert step.source_booking_uid is not None
                booking = await self._calcom.reschedule_booking(
                    step.source_booking_uid, start=step.starts_at, reason=RESCHEDULE_REASON
                )
        except CalcomSlotTaken as exc:
            return _Result(StepState.FAILED, error=_describe(exc), host_busy=True)
        except CalcomUnknownOutcome as exc:
            log.warning("saga %s step %s: outcome unknown (%r), asking Cal.com", step.saga_id, step.id, exc)
            return await self._find_made(context, step)
        except CalcomError as exc:
            return _Result(StepState.FAILED, error=_describe(exc))
        return _Result(StepState.DONE, uid=booking.uid)

    async def _settle(self, drive: _Drive, context: _Context, steps: list[BookingSagaStep]) -> None:
        """Interrupted steps (intent recorded, no result): find out from Cal.com what happened to each (at
        once), and record the answers together."""
        for step in steps:
            drive.tried.add(("make", step.id))
        results = await _concurrently(self._find_made(context, step) for step in steps)
        async with self._transaction(drive.ref) as (session, _):
            await self._record_makes(context, session, list(zip(steps, results, strict=True)))

    async def _find_made(self, context: _Context, step: BookingSagaStep) -> _Result:
        try:
            if step.action == StepAction.MOVE:
                return await self._find_moved(step)
            found = await self._bookings_of(context, step)
        except CalcomError as exc:
            return _Result(
                StepState.UNKNOWN, error=f"outcome unknown, Cal.com could not tell: {_describe(exc)}"
            )
        if not found:
            return _Result(StepState.FAILED, error="Cal.com has no such booking", uncertain=True)
        for extra in found[1:]:  # never expected; a second booking would be an orphan
            await self._cancel_quietly(extra.uid, CANCEL_REASON)
        return _Result(StepState.DONE, uid=found[0].uid)

    async def _find_moved(self, step: BookingSagaStep) -> _Result:
        assert step.source_booking_uid is not None
        source = await self._calcom.get_booking(step.source_booking_uid)
        if source.rescheduled_to_uid:
            return _Result(StepState.DONE, uid=source.rescheduled_to_uid)
        if source.status == BookingStatus.CANCELLED:
            return _Result(StepState.FAILED, error="the booking to move was cancelled in Cal.com")
        return _Result(StepState.FAILED, error="Cal.com did not move the booking", uncertain=True)

    async def _bookings_of(self, context: _Context, step: BookingSagaStep) -> list[Booking]:
        """Live bookings this step may have made: same event type and time, our metadata."""
        filters = BookingFilters(
            event_type_ids=[step.event_type_id],
            after_start=step.starts_at - timedelta(minutes=1),
            before_end=step.ends_at + timedelta(minutes=1),
        )
        wanted = context.metadata(step)
        return [
            booking
            async for booking in self._calcom.iter_bookings(filters)
            if booking.status != BookingStatus.CANCELLED
            and all(str(booking.metadata.get(k, _METADATA_DEFAULTS.get(k))) == v for k, v in wanted.items())
        ]

    async def _record_makes(
        self, context: _Context, session: AsyncSession, made: list[tuple[BookingSagaStep, _Result]]
    ) -> None:
        """The outcomes of a batch of makes, in the caller's transaction: two statements for any number."""
        finished_at = self._clock()
        await SagaRepository(session).update_steps(
            [
                {
                    "id": step.id,
                    "state": result.state,
                    "calcom_booking_uid": result.uid or step.calcom_booking_uid,
                    "error": result.error,
                    "host_busy": result.host_busy,
                    "uncertain": result.uncertain or step.uncertain,
                    "finished_at": finished_at,
                }
                for step, result in made
            ]
        )
        await BookingRepository(session, context.saga.company_id).update_each_slot(
            [
                {
                    "id": step.slot_id,
                    "calcom_booking_uid": result.uid,
                    "calcom_event_type_id": step.event_type_id,
                    "status": SlotStatus.BOOKED,
                }
                for step, result in made
                if result.state == StepState.DONE
            ]
        )
        for step, result in made:
            step.state = result.state
            step.calcom_booking_uid = result.uid or step.calcom_booking_uid
            step.error, step.host_busy = result.error, result.host_busy
            step.uncertain = result.uncertain or step.uncertain

    async def _confirm(self, drive: _Drive, context: _Context) -> None:
        async with self._transaction(drive.ref) as (session, sagas):
            bookings = BookingRepository(session, context.saga.company_id)
            appointment = await bookings.appointment(context.appointment.id, for_update=True)
            assert appointment is not None
            appointment.status = AppointmentStatus.CONFIRMED
            appointment.version += 1
            await sagas.update_saga(drive.ref.id, state=SagaState.CONFIRMED, finished_at=self._clock())
            drive.finished = SagaState.CONFIRMED
            # Rendered from the rows just written (no second read): only the server-set time is fetched.
            await session.flush()
            await session.refresh(appointment, ["updated_at"])
            renderer = BookingRenderer(bookings, sagas)
            rendered = await renderer.render(appointment, customer=context.customer, reschedules=0)
            drive.body = rendered.model_dump(mode="json")
            await IdempotencyRepository(session, context.saga.company_id).complete_for_saga(
                drive.ref.id, status=201, body=drive.body
            )
            await enqueue_notification(
                OutboxRepository(session),
                bookings,
                appointment_id=appointment.id,
                kind="confirmation",
                sequence=0,
                first_time=True,
            )
        await self._staff_changed(context)

    async def _commit_reschedule(self, drive: _Drive, context: _Context) -> None:
        """The new chain stands whole: make it the appointment's, and let the old one go."""
        saga = context.saga
        moved_sources = {s.source_slot_id for s in context.steps if s.action == StepAction.MOVE}
        to_cancel = {s.slot_id for s in context.steps if s.action == StepAction.CANCEL}
        async with self._transaction(drive.ref) as (session, sagas):
            bookings = BookingRepository(session, saga.company_id)
            appointment = await bookings.appointment(context.appointment.id, for_update=True)
            assert appointment is not None
            new = chain_of(appointment, saga.chain)
            assert saga.replaces_chain is not None
            old = chain_of(appointment, saga.replaces_chain)
            # Moved rows went with their booking; a row without one holds nothing in Cal.com to cancel.
            gone = [
                r.id for r in old.rows if r.id in moved_sources or (r.active and r.calcom_booking_uid is None)
            ]
            await bookings.update_slots(gone, status=SlotStatus.CANCELLED, active=False)
            await bookings.update_slots(sorted(to_cancel), status=SlotStatus.CANCELLING)
            appointment.starts_at, appointment.ends_at = chain_bounds(new.segments)
            appointment.status = AppointmentStatus.CONFIRMED
            appointment.version += 1
            state = SagaState.CLEANING_UP if to_cancel else SagaState.CONFIRMED
            finished = None if to_cancel else self._clock()
            await sagas.update_saga(drive.ref.id, state=state, finished_at=finished)
            context.saga.state = state
            drive.finished = None if to_cancel else SagaState.CONFIRMED
            if not to_cancel:
                await session.flush()
                await bookings.set_overlap_group(appointment.id, None)
            drive.body = await self._render(session, bookings, appointment.id)
            await IdempotencyRepository(session, saga.company_id).complete_for_saga(
                drive.ref.id, status=200, body=drive.body
            )
            sequence = await sagas.count_confirmed(appointment.id, SagaKind.RESCHEDULE)
            await enqueue_notification(
                OutboxRepository(session),
                bookings,
                appointment_id=appointment.id,
                kind="reschedule",
                sequence=sequence,
            )
        await self._staff_changed(context)

    # --- cleaning up after a reschedule -----------------------------------------------------------------

    async def _clean_up(self, drive: _Drive, context: _Context) -> bool:
        cancels = [s for s in context.steps if s.action == StepAction.CANCEL and s.state != StepState.DONE]
        if not cancels:
            async with self._transaction(drive.ref) as (session, sagas):
                await sagas.update_saga(drive.ref.id, state=SagaState.CONFIRMED, finished_at=self._clock())
                drive.finished = SagaState.CONFIRMED
                await BookingRepository(session, context.saga.company_id).set_overlap_group(
                    context.appointment.id, None
                )
            await self._staff_changed(context)
            return True
        untried = [s for s in cancels if ("cancel", s.id) not in drive.tried]
        if not untried:
            return False
        await self._run_batch(
            drive,
            untried,
            "cancel",
            StepState.CALLING,
            lambda step: self._cancel_old(context, step),
            lambda session, sagas, cancelled: self._record_cancels(context, session, sagas, cancelled),
        )
        return True

    async def _cancel_old(self, context: _Context, step: BookingSagaStep) -> str | None:
        """Cancel an old segment's booking: None once it is gone, else the error."""
        await self._checkpoint(Checkpoint.INTENT, step.id)
        error = await self._cancel(step.calcom_booking_uid, CLEANUP_REASON)
        await self._checkpoint(Checkpoint.CALLED, step.id)
        return error

    async def _record_cancels(
        self,
        context: _Context,
        session: AsyncSession,
        sagas: SagaRepository,
        cancelled: list[tuple[BookingSagaStep, str | None]],
    ) -> None:
        for step, error in cancelled:
            state = StepState.DONE if error is None else StepState.FAILED
            await sagas.update_step(step.id, state=state, error=error, finished_at=self._clock())
            step.state, step.error = state, error
            if error is None:
                await BookingRepository(session, context.saga.company_id).update_slots(
                    [step.slot_id], status=SlotStatus.CANCELLED, active=False
                )

    # --- compensation -----------------------------------------------------------------------------------

    async def _start_compensation(self, drive: _Drive, context: _Context) -> None:
        failure = await self._failure(context)
        problem = stored_problem(failure)
        async with self._transaction(drive.ref) as (session, sagas):
            await sagas.update_saga(drive.ref.id, state=SagaState.COMPENSATING, failure=problem)
            context.saga.state, context.saga.failure = SagaState.COMPENSATING, problem
            await IdempotencyRepository(session, context.saga.company_id).complete_for_saga(
                drive.ref.id, status=failure.status, body=problem
            )

    async def _failure(self, context: _Context) -> ServiceError:
        makes = [s for s in context.steps if s.action in _MAKE]
        busy = [s for s in makes if s.host_busy]
        if busy:
            keys = ", ".join(sorted({s.segment_key for s in busy}))
            alternatives: list[dict[str, Any]] = []
            if self._alternatives is not None:
                try:
                    alternatives = await self._alternatives(context.saga.company_id, context.appointment.id)
                except Exception as exc:  # suggestions are a courtesy; the 409 stands without them
                    log.warning("no alternatives for appointment %s: %r", context.appointment.id, exc)
            return SlotUnavailable(
                f"the calendar no longer has room for segment(s) {keys} at that time; nothing was booked",
                extra={"alternatives": alternatives},
            )
        errors = [s.error or "" for s in makes if s.state in (StepState.FAILED, StepState.UNKNOWN)]
        return upstream_failure(errors, outcome="nothing was booked")

    async def _compensate(self, drive: _Drive, context: _Context) -> bool:
        makes = [s for s in context.steps if s.action in _MAKE]
        unsettled = [
            s
            for s in makes
            if s.state in (StepState.CALLING, StepState.UNKNOWN) and ("make", s.id) not in drive.tried
        ]
        if unsettled:
            await self._settle(drive, context, unsettled)
            return True
        to_undo = [s for s in makes if s.state in (StepState.DONE, StepState.UNDOING)]
        if not to_undo and not any(s.state in (StepState.CALLING, StepState.UNKNOWN) for s in makes):
            await self._finish_compensation(drive, context)
            return True
        # Created bookings can go at once; moves go back latest wave first (the reverse of their order).
        moves = [s.wave for s in to_undo if s.action == StepAction.MOVE]
        last_wave = max(moves, default=0)
        batch = [
            s
            for s in to_undo
            if ("undo", s.id) not in drive.tried
            and (s.action == StepAction.CREATE or (moves and s.wave == last_wave))
        ]
        if not batch:
            return False
        await self._run_batch(
            drive,
            batch,
            "undo",
            StepState.UNDOING,
            lambda step: self._undo(context, step),
            lambda session, sagas, undone: self._record_undos(context, session, sagas, undone),
            cancelling=[s for s in batch if s.action == StepAction.CREATE],
        )
        return True

    async def _undo(self, context: _Context, step: BookingSagaStep) -> tuple[str | None, str | None]:
        """Take a made booking back: (uid it was moved back to, if it was a move; error, if it failed)."""
        await self._checkpoint(Checkpoint.INTENT, step.id)
        moved_back_to: str | None = None
        if step.action == StepAction.CREATE:
            error = await self._cancel(step.calcom_booking_uid, CANCEL_REASON)
        else:
            moved_back_to, error = await self._move_back(context, step)
            source = context.slot(step.source_slot_id)
            if moved_back_to is not None and source is not None:
                source.calcom_booking_uid = moved_back_to
        await self._checkpoint(Checkpoint.CALLED, step.id)
        return moved_back_to, error

    async def _record_undos(
        self,
        context: _Context,
        session: AsyncSession,
        sagas: SagaRepository,
        undone: list[tuple[BookingSagaStep, tuple[str | None, str | None]]],
    ) -> None:
        for step, (moved_back_to, error) in undone:
            state = StepState.UNDONE if error is None else StepState.UNDOING
            await sagas.update_step(step.id, state=state, error=error, finished_at=self._clock())
            step.state, step.error = state, error
            if moved_back_to is not None and step.source_slot_id is not None:
                await BookingRepository(session, context.saga.company_id).update_slots(
                    [step.source_slot_id], calcom_booking_uid=moved_back_to
                )

    async def _move_back(self, context: _Context, step: BookingSagaStep) -> tuple[str | None, str | None]:
        """(uid it now has at its old time, error). Asks first: an earlier attempt may have moved it."""
        source = context.slot(step.source_slot_id)
        assert source is not None
        assert step.calcom_booking_uid is not None
        try:
            moved = await self._calcom.get_booking(step.calcom_booking_uid)
            if moved.rescheduled_to_uid:
                return moved.rescheduled_to_uid, None
            back = await self._calcom.reschedule_booking(
                step.calcom_booking_uid, start=source.starts_at, reason=UNDO_REASON
            )
        except CalcomError as exc:
            log.warning("saga %s: moving %s back failed: %r", step.saga_id, step.calcom_booking_uid, exc)
            return None, _describe(exc)
        return back.uid, None

    async def _finish_compensation(self, drive: _Drive, context: _Context) -> None:
        saga = context.saga
        uncertain = any(s.uncertain for s in context.steps)
        async with self._transaction(drive.ref) as (session, sagas):
            bookings = BookingRepository(session, saga.company_id)
            appointment = await bookings.appointment(context.appointment.id, for_update=True)
            assert appointment is not None
            attempt = chain_of(appointment, saga.chain)
            await bookings.update_slots([s.id for s in attempt.rows], status=SlotStatus.FAILED, active=False)
            if saga.kind == SagaKind.BOOK:
                appointment.status = AppointmentStatus.FAILED
            else:
                appointment.status = AppointmentStatus.CONFIRMED
                await session.flush()
                await bookings.set_overlap_group(appointment.id, None)
            appointment.version += 1
            drive.finished = SagaState.COMPENSATED
            await sagas.update_saga(
                drive.ref.id,
                state=SagaState.COMPENSATED,
                finished_at=self._clock(),
                recheck_at=self._clock() + self._recheck_after if uncertain else None,
            )
        await self._staff_changed(context)

    # --- late bookings ----------------------------------------------------------------------------------

    async def recheck(self, saga: BookingSaga) -> bool:
        """After a compensation that judged an unknown outcome "not made": cancel anything that landed late.

        Returns False when Cal.com could not be asked (the caller schedules another look).
        """
        async with self._session_factory() as session:
            appointment = await BookingRepository(session, saga.company_id).appointment(saga.appointment_id)
            customer = await session.get(Customer, appointment.customer_id) if appointment else None
        if appointment is None or customer is None:
            return True
        context = _Context(SagaRef(saga.id, saga.version), saga, appointment, customer)
        for step in saga.steps:
            if not step.uncertain or step.action != StepAction.CREATE:
                continue
            try:
                late = await self._bookings_of(context, step)
            except CalcomError as exc:
                log.warning("saga %s: late-booking check failed: %r", saga.id, exc)
                return False
            for booking in late:
                log.warning("saga %s: cancelling booking %s that landed late", saga.id, booking.uid)
                if await self._cancel(booking.uid, CANCEL_REASON) is not None:
                    return False
        return True

    # --- helpers ----------------------------------------------------------------------------------------

    async def _cancel(self, uid: str | None, reason: str) -> str | None:
        """Cancel a booking; None when it no longer stands (also when it was gone already), else the error."""
        if uid is None:
            return None
        return await cancel_calcom_booking(self._calcom, uid, reason)

    async def _cancel_quietly(self, uid: str, reason: str) -> None:
        error = await self._cancel(uid, reason)
        if error is not None:
            log.warning("could not cancel duplicate booking %s: %s", uid, error)

    async def _load(self, ref: SagaRef) -> _Context:
        async with self._session_factory() as session:
            saga = await SagaRepository(session).get(ref.id)
            if saga is None or saga.version != ref.version:
                raise SagaTakenOver(f"saga {ref.id} is driven by someone else now")
            appointment = await BookingRepository(session, saga.company_id).appointment(saga.appointment_id)
            assert appointment is not None
            customer = await session.get(Customer, appointment.customer_id)
            assert customer is not None
        return _Context(ref, saga, appointment, customer)

    @asynccontextmanager
    async def _transaction(self, ref: SagaRef) -> AsyncIterator[tuple[AsyncSession, SagaRepository]]:
        """A short transaction that first proves this driver still owns the saga (the fencing token) and
        extends its lease (the saga row stays locked until commit, so no takeover slips in between)."""
        async with self._session_factory() as session, session.begin():
            sagas = SagaRepository(session)
            owned = await sagas.fence(ref.id, ref.version, lease_until=self._clock() + self._lease)
            if not owned:
                raise SagaTakenOver(f"saga {ref.id} was taken over; version {ref.version} is stale")
            yield session, sagas

    async def _render(
        self,
        session: AsyncSession,
        bookings: BookingRepository,
        appointment_id: int,
        *,
        customer: Customer | None = None,
        reschedules: int | None = None,
    ) -> dict[str, Any]:
        await session.flush()
        appointment = await bookings.appointment(appointment_id)
        assert appointment is not None
        renderer = BookingRenderer(bookings, SagaRepository(session))
        rendered = await renderer.render(appointment, customer=customer, reschedules=reschedules)
        return rendered.model_dump(mode="json")

    async def _staff_changed(self, context: _Context) -> None:
        for staff_id in sorted({s.staff_id for s in context.appointment.slots}):
            await self._on_staff_calendar_changed(staff_id)

    @staticmethod
    def _outcome(context: _Context, drive: _Drive) -> SagaOutcome:
        saga = context.saga
        return SagaOutcome(
            saga_id=saga.id,
            appointment_id=saga.appointment_id,
            kind=SagaKind(saga.kind),
            state=SagaState(saga.state),
            failure=saga.failure,
            body=drive.body,
        )


def upstream_failure(errors: Sequence[str], *, outcome: str) -> ServiceError:
    """503 when Cal.com could not be reached or limited us (worth a retry soon), else 502."""
    detail = "; ".join(sorted({e for e in errors if e})) or "Cal.com failed"
    if any(e.startswith(CalcomRateLimited.__name__) or "could not reach" in e for e in errors):
        return BookingUpstreamUnavailable(f"Cal.com is unavailable ({detail}); {outcome}")
    return BookingUpstreamFailed(f"Cal.com failed ({detail}); {outcome}")


def _claimed_context(ref: SagaRef, claimed: ClaimedRows) -> _Context:
    # The relationships as `_load` would read them (ordered as the mapping orders them), set as loaded state.
    set_committed_value(claimed.saga, "steps", sorted(claimed.steps, key=lambda s: s.id))
    set_committed_value(claimed.appointment, "slots", sorted(claimed.slots, key=lambda s: s.position))
    return _Context(ref, claimed.saga, claimed.appointment, claimed.customer)


def _describe(error: CalcomError) -> str:
    return f"{type(error).__name__}: {error.detail}"


async def _concurrently(coroutines: Iterable[Coroutine[Any, Any, _Outcome]]) -> list[_Outcome]:
    """Run steps at once; their outcomes in order. Steps report Cal.com failures as results; anything
    raised here is a crash (or a takeover) and stops the siblings, as a crash of the process would."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(coroutine) for coroutine in coroutines]
    except BaseExceptionGroup as failures:
        first = failures.exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [task.result() for task in tasks]
