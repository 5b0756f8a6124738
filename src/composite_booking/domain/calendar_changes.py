"""Reconciling changes made directly in Cal.com (a segment cancelled or moved there, not by us)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from composite_booking.calcom.webhooks import BookingChange
from composite_booking.db.repositories.calendar_changes import CalendarChangeRepository
from composite_booking.db.repositories.outbox import OutboxRepository
from composite_booking.domain.cancellation import request_cancellation
from composite_booking.domain.segments import PausePolicy, SlotKind
from composite_booking.domain.statuses import (
    EXTERNALLY_CHANGED_SLOT_STATES,
    OWN_CHANGE_APPOINTMENT_STATES,
    OWN_CHANGE_SLOT_STATES,
    SlotStatus,
)

HANDLED_TRIGGERS = frozenset({"BOOKING_CANCELLED", "BOOKING_RESCHEDULED"})

StaffCalendarChanged = Callable[[int], Awaitable[None]]


async def _nothing(_: int) -> None:
    return None


@dataclass(frozen=True)
class WebhookOutcome:
    outcome: str
    duplicate: bool = False
    company_id: int | None = None
    appointment_id: int | None = None


class CalendarChanges:
    def __init__(
        self,
        changes: CalendarChangeRepository,
        outbox: OutboxRepository,
        *,
        policy: Literal["flag", "cancel"],
        now: datetime,
        on_staff_calendar_changed: StaffCalendarChanged = _nothing,
    ) -> None:
        self._changes = changes
        self._outbox = outbox
        self._policy = policy
        self._now = now
        # Lets cached free time of that staff member be dropped (availability caches).
        self._on_staff_calendar_changed = on_staff_calendar_changed

    async def receive(
        self, raw_body: bytes, document: dict[str, Any], change: BookingChange
    ) -> WebhookOutcome:
        digest = hashlib.sha256(raw_body).hexdigest()
        event_id = await self._changes.record_delivery(
            body_sha256=digest, trigger=change.trigger, booking_uid=change.booking_uid, payload=document
        )
        if event_id is None:
            return WebhookOutcome("duplicate", duplicate=True)
        outcome = await self._reconcile(change)
        await self._changes.set_outcome(
            event_id, outcome.outcome, company_id=outcome.company_id, appointment_id=outcome.appointment_id
        )
        return outcome

    async def _reconcile(self, change: BookingChange) -> WebhookOutcome:
        if change.trigger not in HANDLED_TRIGGERS:
            return WebhookOutcome("ignored: trigger not handled")
        if change.booking_uid is None:
            return WebhookOutcome("ignored: no booking uid")
        slot = await self._changes.slot_by_booking_uid(change.booking_uid)
        if slot is None:
            return WebhookOutcome("ignored: not a booking of ours")
        appointment = slot.appointment

        def ours(outcome: str) -> WebhookOutcome:
            return WebhookOutcome(outcome, company_id=appointment.company_id, appointment_id=appointment.id)

        await self._on_staff_calendar_changed(slot.staff_id)
        if appointment.status in OWN_CHANGE_APPOINTMENT_STATES or slot.status in OWN_CHANGE_SLOT_STATES:
            return ours("own change")
        if slot.status in EXTERNALLY_CHANGED_SLOT_STATES:
            return ours("already recorded")

        moved = change.trigger == "BOOKING_RESCHEDULED"
        releasable = slot.kind == SlotKind.PAUSE and not moved
        if releasable and await self._changes.pause_policy(appointment) is PausePolicy.BLOCKED:
            # The salon gave the held pause back in Cal.com: that is a release, the appointment stands.
            slot.status = SlotStatus.RELEASED
            slot.active = False
            appointment.version += 1
            return ours("pause released in Cal.com")
        slot.status = SlotStatus.MOVED_EXTERNALLY if moved else SlotStatus.CANCELLED_EXTERNALLY
        # The time no longer stands in Cal.com, so it must not block others here either.
        slot.active = False
        what = f"moved in Cal.com to {change.new_start}" if moved else "cancelled in Cal.com"
        part = (
            f"pause after {slot.segment_key}"
            if slot.kind == SlotKind.PAUSE
            else f"segment {slot.segment_key}"
        )
        reason = f"{part} {what}" + (f" ({change.reason})" if change.reason else "")
        if appointment.attention_reason is None:
            appointment.attention_reason = reason
            appointment.attention_since = self._now
        else:
            appointment.attention_reason = f"{appointment.attention_reason}; {reason}"
        appointment.version += 1
        if self._policy == "cancel":
            await request_cancellation(
                self._outbox, company_id=appointment.company_id, appointment_id=appointment.id, reason=reason
            )
            return ours("cancelling appointment")
        return ours("flagged for attention")
