"""The life cycle of appointments and of their slots (segment bookings and held pauses)."""

from __future__ import annotations

from enum import StrEnum


class AppointmentStatus(StrEnum):
    PENDING = "pending"  # rows written, Cal.com bookings being made
    CONFIRMED = "confirmed"  # every segment booked in Cal.com
    RESCHEDULING = "rescheduling"  # a make-before-break move is under way
    CANCELLATION_PENDING = "cancellation_pending"  # cancelling; some segment may still stand in Cal.com
    CANCELLED = "cancelled"  # no segment stands anywhere
    FAILED = "failed"  # booking failed and was compensated: nothing stands


class SlotStatus(StrEnum):
    HELD = "held"  # time claimed in PostgreSQL, no Cal.com booking yet
    BOOKED = "booked"  # the Cal.com booking exists
    CANCELLING = "cancelling"  # we asked Cal.com to cancel it
    CANCELLED = "cancelled"  # cancelled by us
    RELEASED = "released"  # a held pause given back
    FAILED = "failed"  # never booked (compensated)
    CANCELLED_EXTERNALLY = "cancelled_externally"  # cancelled in Cal.com, not by us
    MOVED_EXTERNALLY = "moved_externally"  # rescheduled in Cal.com, not by us


# States in which a change reported by Cal.com is one we made ourselves.
OWN_CHANGE_APPOINTMENT_STATES = frozenset(
    {
        AppointmentStatus.RESCHEDULING,
        AppointmentStatus.CANCELLATION_PENDING,
        AppointmentStatus.CANCELLED,
        AppointmentStatus.FAILED,
    }
)
OWN_CHANGE_SLOT_STATES = frozenset(
    {SlotStatus.CANCELLING, SlotStatus.CANCELLED, SlotStatus.RELEASED, SlotStatus.FAILED}
)
EXTERNALLY_CHANGED_SLOT_STATES = frozenset({SlotStatus.CANCELLED_EXTERNALLY, SlotStatus.MOVED_EXTERNALLY})
