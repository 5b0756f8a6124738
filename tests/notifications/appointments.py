"""A colour appointment as the booking code would describe it: four segments, two pauses, times in UTC."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from composite_booking.domain.segments import PausePolicy
from composite_booking.domain.statuses import AppointmentStatus
from composite_booking.notifications import (
    AppointmentView,
    CustomerView,
    Language,
    PauseView,
    SegmentView,
)

BERLIN = ZoneInfo("Europe/Berlin")
COMPOSITE_UID = uuid.UUID("0f6f2a8e-3c1b-4d5e-9a7b-1c2d3e4f5a6b")
# (key, name, minutes, pause minutes after it)
CHAIN = (("A", "Färben", 30, 30), ("B", "Waschen", 15, 30), ("C", "Schneiden", 30, 0), ("D", "Föhnen", 30, 0))


def berlin(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def colour_appointment(
    local_start: datetime,
    *,
    language: Language = Language.DE,
    sequence: int = 0,
    status: AppointmentStatus = AppointmentStatus.CONFIRMED,
    first_pause_held: bool = True,
    notes: str | None = None,
) -> AppointmentView:
    """Starts at `local_start` (Berlin); every time is handed over in UTC, as it comes from the database."""
    cursor = local_start.astimezone(UTC)
    segments: list[SegmentView] = []
    pauses: list[PauseView] = []
    for index, (key, name, minutes, pause_minutes) in enumerate(CHAIN):
        end = cursor + timedelta(minutes=minutes)
        segments.append(SegmentView(key=key, name=name, staff_name="Anna", starts_at=cursor, ends_at=end))
        cursor = end
        if pause_minutes:
            pause_end = cursor + timedelta(minutes=pause_minutes)
            held = first_pause_held and index == 0
            policy = PausePolicy.BLOCKED if held else PausePolicy.FREE
            pauses.append(
                PauseView(after_key=key, starts_at=cursor, ends_at=pause_end, policy=policy, held=held)
            )
            cursor = pause_end
    return AppointmentView(
        composite_uid=COMPOSITE_UID,
        confirmation_code="K7Q2-M9",
        status=status,
        sequence=sequence,
        service_name="Ansatzfärbung" if language is Language.DE else "Root colour",
        branch_name="Salon Mitte",
        branch_time_zone="Europe/Berlin",
        customer=CustomerView(name="Eva Müller", email="eva@example.org", language=language),
        segments=tuple(segments),
        pauses=tuple(pauses),
        organizer_email="termine@salon-mitte.example",
        organizer_name="Salon Mitte",
        notes=notes,
    )


def moved(view: AppointmentView, by: timedelta) -> AppointmentView:
    """The same appointment rescheduled: every time shifted, the sequence raised."""
    return replace(
        view,
        sequence=view.sequence + 1,
        segments=tuple(replace(s, starts_at=s.starts_at + by, ends_at=s.ends_at + by) for s in view.segments),
        pauses=tuple(replace(p, starts_at=p.starts_at + by, ends_at=p.ends_at + by) for p in view.pauses),
    )


def cancelled(view: AppointmentView) -> AppointmentView:
    return replace(view, status=AppointmentStatus.CANCELLED, sequence=view.sequence + 1)
