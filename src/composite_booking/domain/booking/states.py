"""The saga's vocabulary: its states, its steps' actions and states, and the points a test may stop it at."""

from __future__ import annotations

from enum import StrEnum


class SagaKind(StrEnum):
    BOOK = "book"
    RESCHEDULE = "reschedule"


class SagaState(StrEnum):
    BOOKING = "booking"  # Cal.com bookings being made (or moved)
    COMPENSATING = "compensating"  # failed: taking back whatever was made
    CLEANING_UP = "cleaning_up"  # a reschedule stands; the old chain's leftovers are being cancelled
    CONFIRMED = "confirmed"  # final: the chain stands whole
    COMPENSATED = "compensated"  # final: nothing of this attempt stands

    @property
    def final(self) -> bool:
        return self in (SagaState.CONFIRMED, SagaState.COMPENSATED)


class StepAction(StrEnum):
    CREATE = "create"  # book a new segment
    MOVE = "move"  # reschedule an old segment's booking onto the new chain (where the two overlap)
    CANCEL = "cancel"  # cancel an old segment once the new chain stands


class StepState(StrEnum):
    PENDING = "pending"
    CALLING = "calling"  # intent recorded; Cal.com's answer not recorded (a crash leaves it here)
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"  # Cal.com's answer was lost and asking it failed too
    UNDOING = "undoing"  # compensation's intent recorded
    UNDONE = "undone"


class Checkpoint(StrEnum):
    """Where the saga calls its checkpoint hook (tests stop it there to simulate a crash)."""

    CLAIMED = "claimed"  # step 1 committed: rows held, saga logged, nothing asked of Cal.com yet
    INTENT = "intent"  # one step's intent committed, Cal.com not called yet
    CALLED = "called"  # Cal.com answered one step, its result not recorded yet
    RECORDED = "recorded"  # one step's result committed
    DECIDED = "decided"  # every step answered, the final transition not made yet
