"""How a reschedule reaches Cal.com so the old chain stands until the new one does (make-before-break).

Cal.com refuses a new booking that overlaps the same host's old one ("host busy"), and the old one must not
be cancelled first. So each new segment is either
- **created** as a new booking, when it overlaps none of the old chain's bookings of its staff member; or
- **moved**: the old booking of the same segment and staff member is rescheduled onto the new time, which
  Cal.com does atomically (the new booking is made and the old one cancelled in one step, and the
  availability check ignores the booking being moved). A move whose new time overlaps *other* old bookings
  of that person waits until those have moved away themselves (so they move too, even where their own
  new time would not need it): moves run in waves.
A new part that overlaps the old chain but has no old booking of its own to move (its pause was released
before the move) is created once the old bookings in its way have moved away (the wave after theirs).
Old segments that were not moved are cancelled once every new segment stands. Taking it back reverses it:
created bookings are cancelled, moved ones are moved back (latest wave first).

A move that cannot be made (the segment changes staff member or event type, or moves that wait on each
other in a cycle) makes the plan impossible: the caller answers 409 and nothing is touched.

Overlap is judged on Cal.com's busy spans, one per booking: each segment and, under blocked/never, each held
pause (a booking of its own, named `{key}/pause` here), so held pauses are created, moved and cancelled
exactly like segments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class BusySpan:
    key: str
    staff_id: int
    starts_at: datetime
    ends_at: datetime
    event_type_id: int

    def overlaps(self, other: BusySpan) -> bool:
        return (
            self.staff_id == other.staff_id
            and self.starts_at < other.ends_at
            and other.starts_at < self.ends_at
        )


@dataclass(frozen=True, slots=True)
class ReschedulePlan:
    creates: tuple[str, ...]  # new parts booked as new bookings
    moves: dict[str, int]  # new part → wave (the old booking of the same part moves there)
    cancels: tuple[str, ...]  # old parts cancelled once the new chain stands
    # Creates that must wait for moves (new part → wave); every other create goes out in wave 0.
    create_waves: dict[str, int] = field(default_factory=dict)

    @property
    def waves(self) -> int:
        return max([*self.moves.values(), *self.create_waves.values()], default=-1) + 1


class CannotMoveInPlace(Exception):
    """The new chain overlaps the old one in a way no order of moves can untangle."""


def plan_reschedule(old: Sequence[BusySpan], new: Sequence[BusySpan]) -> ReschedulePlan:
    old_by_key = {span.key: span for span in old}
    new_by_key = {span.key: span for span in new}

    def blockers(key: str) -> list[BusySpan]:
        """Old bookings (other than its own) that must be gone before segment `key` can move in."""
        return [span for span in old if span.overlaps(new_by_key[key]) and span.key != key]

    # Parts that overlap the old chain move; so does every old booking in the way of a move or of a waiting
    # create (an old booking that is only cancelled at the end would block it for good). A part with no old
    # booking of its own waits instead.
    overlapping = {span.key for span in new if any(o.overlaps(span) for o in old)}
    waiting = {key for key in overlapping if key not in old_by_key}
    moves = overlapping - waiting
    while True:
        in_the_way = {b.key for key in moves | waiting for b in blockers(key)} - moves
        if not in_the_way:
            break
        moves |= in_the_way
    for key in sorted(moves):
        source, target = old_by_key.get(key), new_by_key.get(key)
        if source is None or target is None:
            raise CannotMoveInPlace(f"segment {key} overlaps the current chain and cannot be moved there")
        if source.staff_id != target.staff_id or source.event_type_id != target.event_type_id:
            raise CannotMoveInPlace(
                f"segment {key} would overlap the current chain of staff member {target.staff_id}, and its "
                "current booking cannot be moved there (another staff member or event type)"
            )
    waves = _waves({key: [b.key for b in blockers(key)] for key in moves})
    create_waves = {key: max(waves[b.key] + 1 for b in blockers(key)) for key in sorted(waiting)}
    creates = tuple(span.key for span in new if span.key not in moves)
    cancels = tuple(span.key for span in old if span.key not in moves)
    return ReschedulePlan(creates, waves, cancels, create_waves)


def _waves(waits_for: dict[str, list[str]]) -> dict[str, int]:
    """Wave of each move: one after the latest move it waits for; a cycle cannot be ordered."""
    waves: dict[str, int] = {}
    visiting: set[str] = set()

    def wave_of(key: str) -> int:
        if key in waves:
            return waves[key]
        if key in visiting:
            raise CannotMoveInPlace(
                f"segment {key} and another segment would each wait for the other to move"
            )
        visiting.add(key)
        wave = max((wave_of(other) + 1 for other in waits_for[key]), default=0)
        visiting.discard(key)
        waves[key] = wave
        return wave

    for key in waits_for:
        wave_of(key)
    return waves
