"""A chain on paper and in rows: placements become slot rows, rows become the chain a reader sees.

An appointment's rows may hold several chains (`chain` 1 when booked, one more per reschedule attempt);
superseded and failed ones stay as history, inactive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from composite_booking.db.models import Appointment, AppointmentSlot
from composite_booking.domain.availability import CompositeSlot
from composite_booking.domain.segments import PausePolicy, SlotKind
from composite_booking.domain.statuses import AppointmentStatus, SlotStatus

SEGMENT = SlotKind.SEGMENT.value
PAUSE = SlotKind.PAUSE.value


@dataclass(frozen=True, slots=True)
class ChainSlots:
    number: int
    segments: tuple[AppointmentSlot, ...]
    pauses: tuple[AppointmentSlot, ...]  # held pauses only (blocked/never); free pauses have no rows

    def held_pause_after(self, segment: AppointmentSlot) -> AppointmentSlot | None:
        for pause in self.pauses:
            if pause.segment_key == segment.segment_key and pause.staff_id == segment.staff_id:
                return pause
        return None

    @property
    def rows(self) -> tuple[AppointmentSlot, ...]:
        return self.segments + self.pauses


@dataclass(frozen=True, slots=True)
class ChainPart:
    """One thing a placement books: a segment, or (when the policy holds pauses) the pause after one."""

    kind: SlotKind
    position: int
    segment_key: str
    staff_id: int
    starts_at: datetime
    ends_at: datetime


def chain_parts(placement: CompositeSlot, policy: PausePolicy) -> list[ChainPart]:
    parts = [
        ChainPart(SlotKind.SEGMENT, index, s.key, s.staff_id, s.starts_at, s.ends_at)
        for index, s in enumerate(placement.segments)
    ]
    if policy.holds_pauses:
        staff_of = {segment.key: segment.staff_id for segment in placement.segments}
        held = (p for p in placement.pauses if p.ends_at > p.starts_at)
        parts.extend(
            ChainPart(
                SlotKind.PAUSE,
                index,
                pause.after_key,
                pause.held_by_staff_id or staff_of[pause.after_key],
                pause.starts_at,
                pause.ends_at,
            )
            for index, pause in enumerate(held)
        )
    return parts


def slot_rows(
    *,
    company_id: int,
    appointment_id: int,
    chain: int,
    placement: CompositeSlot,
    policy: PausePolicy,
    overlap_group: int | None = None,
) -> list[AppointmentSlot]:
    """One held row per segment and, when the policy holds the pauses, one per pause."""
    return [
        AppointmentSlot(
            company_id=company_id,
            appointment_id=appointment_id,
            chain=chain,
            kind=part.kind.value,
            position=part.position,
            segment_key=part.segment_key,
            staff_id=part.staff_id,
            starts_at=part.starts_at,
            ends_at=part.ends_at,
            status=SlotStatus.HELD,
            active=True,
            overlap_group=overlap_group,
        )
        for part in chain_parts(placement, policy)
    ]


def chain_of(appointment: Appointment, number: int) -> ChainSlots:
    rows = [s for s in appointment.slots if s.chain == number]
    segments = sorted((s for s in rows if s.kind == SEGMENT), key=lambda s: s.position)
    pauses = sorted((s for s in rows if s.kind == PAUSE), key=lambda s: s.position)
    return ChainSlots(number, tuple(segments), tuple(pauses))


def displayed_chain_number(appointment: Appointment) -> int:
    """The chain the appointment stands on (or stood on, once cancelled).

    While a reschedule runs, that is still the old chain: the new one stands only once it is complete.
    Failed chains never stand, unless nothing else exists (a booking that failed).
    """
    numbers = sorted({s.chain for s in appointment.slots})
    if not numbers:
        return 1
    not_failed = sorted({s.chain for s in appointment.slots if s.status != SlotStatus.FAILED})
    if not not_failed:
        return numbers[-1]
    if appointment.status == AppointmentStatus.RESCHEDULING and len(not_failed) > 1:
        return not_failed[-2]
    return not_failed[-1]


def displayed_chain(appointment: Appointment) -> ChainSlots:
    return chain_of(appointment, displayed_chain_number(appointment))


def next_chain_number(appointment: Appointment) -> int:
    return max((s.chain for s in appointment.slots), default=0) + 1


def chain_bounds(segments: Sequence[AppointmentSlot]) -> tuple[datetime, datetime]:
    return min(s.starts_at for s in segments), max(s.ends_at for s in segments)
