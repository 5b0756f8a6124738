"""What a service is made of: ordered segments with pauses, and the rules that keep it bookable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from composite_booking.domain.errors import FieldProblem

MIN_SEGMENT_MIN = 5
MAX_SEGMENT_MIN = 480
MAX_TOTAL_MIN = 12 * 60


class PausePolicy(StrEnum):
    """What happens to the staff member during a pause (one meaning each, see the README)."""

    FREE = "free"  # bookable by others; only segments are busy
    BLOCKED = "blocked"  # held through the pause; an explicit call may release it later
    FLEXIBLE = "flexible"  # bookable; each pause may stretch between gap_after_min and gap_after_max_min
    NEVER = "never"  # held through the pause, and the hold can never be released

    @property
    def holds_pauses(self) -> bool:
        return self in (PausePolicy.BLOCKED, PausePolicy.NEVER)


class SlotKind(StrEnum):
    """What a held row, and the Cal.com booking behind it, stands for."""

    SEGMENT = "segment"  # the work itself
    PAUSE = "pause"  # the pause after a segment, held under blocked/never


class StaffMode(StrEnum):
    SAME = "same"  # the staff member who serves the rest of the chain
    ANY = "any"  # any eligible staff member may take this segment


class ReminderPolicy(StrEnum):
    SINGLE = "single"  # one reminder for the whole appointment
    PER_SEGMENT = "per_segment"  # one reminder before each segment
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Segment:
    key: str
    name: str
    duration_min: int
    gap_after_min: int = 0
    gap_after_max_min: int | None = None
    staff_mode: StaffMode = StaffMode.SAME

    @property
    def longest_gap_min(self) -> int:
        return self.gap_after_min if self.gap_after_max_min is None else self.gap_after_max_min


def shortest_duration_min(segments: Sequence[Segment]) -> int:
    """Segments plus the shortest pauses: the length of the appointment as normally booked."""
    return sum(s.duration_min + s.gap_after_min for s in segments)


def longest_duration_min(segments: Sequence[Segment]) -> int:
    return sum(s.duration_min + s.longest_gap_min for s in segments)


def segment_problems(
    segments: Sequence[Segment], *, composite: bool, policy: PausePolicy
) -> list[FieldProblem]:
    """Every rule a service's segments must satisfy, each problem naming its field."""
    problems: list[FieldProblem] = []
    if composite and len(segments) < 2:
        problems.append(FieldProblem("segments", "a composite service needs at least 2 segments"))
    if not composite and len(segments) != 1:
        problems.append(FieldProblem("segments", "a simple service has exactly 1 segment"))

    seen_keys: set[str] = set()
    for index, segment in enumerate(segments):
        path = f"segments[{index}]"
        # Case-insensitive: keys become part of lowercase Cal.com slugs.
        if segment.key.lower() in seen_keys:
            problems.append(FieldProblem(f"{path}.key", f"duplicate segment key {segment.key!r}"))
        seen_keys.add(segment.key.lower())
        if not MIN_SEGMENT_MIN <= segment.duration_min <= MAX_SEGMENT_MIN:
            problems.append(
                FieldProblem(
                    f"{path}.duration_min",
                    f"must be between {MIN_SEGMENT_MIN} and {MAX_SEGMENT_MIN} minutes",
                )
            )
        if segment.gap_after_min < 0:
            problems.append(FieldProblem(f"{path}.gap_after_min", "must be 0 or more"))
        if segment.gap_after_max_min is not None:
            if policy is not PausePolicy.FLEXIBLE:
                problems.append(
                    FieldProblem(
                        f"{path}.gap_after_max_min",
                        "only allowed when pause_bookable_policy is 'flexible'",
                    )
                )
            elif segment.gap_after_max_min < segment.gap_after_min:
                problems.append(FieldProblem(f"{path}.gap_after_max_min", "must be at least gap_after_min"))
        is_last = index == len(segments) - 1
        if is_last and (segment.gap_after_min > 0 or segment.gap_after_max_min):
            problems.append(FieldProblem(f"{path}.gap_after_min", "the last segment cannot have a pause"))
        if not composite and segment.staff_mode is not StaffMode.SAME:
            problems.append(FieldProblem(f"{path}.staff_mode", "only composite services may mix staff"))

    if not problems and longest_duration_min(segments) > MAX_TOTAL_MIN:
        problems.append(
            FieldProblem("segments", f"the whole service may last at most {MAX_TOTAL_MIN} minutes")
        )
    return problems


def segment_from_json(data: dict[str, object]) -> Segment:
    """Segments are stored as JSON written by `segment_to_json`; the shape is trusted here."""
    max_gap = data.get("gap_after_max_min")
    return Segment(
        key=str(data["key"]),
        name=str(data["name"]),
        duration_min=int(str(data["duration_min"])),
        gap_after_min=int(str(data.get("gap_after_min", 0))),
        gap_after_max_min=None if max_gap is None else int(str(max_gap)),
        staff_mode=StaffMode(str(data.get("staff_mode", StaffMode.SAME))),
    )


def segment_to_json(segment: Segment) -> dict[str, object]:
    return {
        "key": segment.key,
        "name": segment.name,
        "duration_min": segment.duration_min,
        "gap_after_min": segment.gap_after_min,
        "gap_after_max_min": segment.gap_after_max_min,
        "staff_mode": segment.staff_mode.value,
    }
