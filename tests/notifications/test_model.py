"""The view refuses what would render wrong times or announce an internal state."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from composite_booking.domain.statuses import AppointmentStatus
from composite_booking.notifications import PauseView, SegmentView
from tests.notifications.appointments import berlin, colour_appointment

START = berlin(2026, 12, 1, 10)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SegmentView(key="A", name="Färben", starts_at=datetime(2026, 12, 1, 10), ends_at=START)


def test_a_segment_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError, match="end after"):
        SegmentView(key="A", name="Färben", starts_at=START, ends_at=START)


@pytest.mark.parametrize(
    "status", [AppointmentStatus.PENDING, AppointmentStatus.RESCHEDULING, AppointmentStatus.FAILED]
)
def test_only_confirmed_or_cancelled_appointments_are_announced(status: AppointmentStatus) -> None:
    with pytest.raises(ValueError, match="not announced"):
        replace(colour_appointment(START), status=status)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        replace(colour_appointment(START), branch_time_zone="Europe/Atlantis")


def test_a_pause_must_follow_a_known_segment() -> None:
    view = colour_appointment(START)
    stray = PauseView(after_key="Z", starts_at=START, ends_at=START + timedelta(minutes=5))

    with pytest.raises(ValueError, match="unknown segment 'Z'"):
        replace(view, pauses=(*view.pauses, stray))


def test_segments_must_not_overlap() -> None:
    view = colour_appointment(START)

    with pytest.raises(ValueError, match="starts before"):
        replace(view, segments=tuple(reversed(view.segments)))


def test_segment_keys_are_unique() -> None:
    view = colour_appointment(START)
    first, second, *rest = view.segments

    with pytest.raises(ValueError, match="duplicate segment keys"):
        replace(view, segments=(first, replace(second, key=first.key), *rest))
