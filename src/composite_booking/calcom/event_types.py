"""What Cal.com should hold for a service: hidden single-host event types, per staff member one for each
segment and, where the policy holds pauses (blocked/never), one for each pause.

A held pause is its own Cal.com booking rather than the segment's after-event buffer: a buffer belongs to
the event type and cannot be taken back for one booking, while a pause booking can simply be cancelled when
the pause is released. No event type of ours carries a buffer.

Pure: given a service and its staff, `desired_event_types` says which event types must exist and how they
look; `plan_sync` compares that with what the event map recorded and lists the calls to make.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from composite_booking.calcom.models import HostInput, TeamEventTypeCreate, TeamEventTypeUpdate
from composite_booking.domain.segments import PausePolicy, Segment, SlotKind

MANAGED_DESCRIPTION = (
    "Managed by composite-booking: one segment of a composite service. "
    "Edits here are reverted by the next sync."
)
# Our own API decides when a chain may start; Cal.com only has to accept each segment at its exact time.
SEGMENT_SLOT_INTERVAL_MIN = 5


@dataclass(frozen=True, slots=True)
class ServiceSnapshot:
    id: int
    name: str
    composite: bool
    policy: PausePolicy
    segments: tuple[Segment, ...]
    deleted: bool


@dataclass(frozen=True, slots=True)
class StaffSnapshot:
    id: int
    name: str
    calcom_user_id: int | None


def event_type_slug(
    service_id: int, segment_key: str, staff_id: int, part: SlotKind = SlotKind.SEGMENT
) -> str:
    """Deterministic, so a lost create can be found again by slug (keys are unique case-insensitively).

    Segments are `cb-s…`, pauses `cb-p…`: a distinct prefix, because keys may contain hyphens and a suffix
    such as `-pause` could equal another segment's key.
    """
    prefix = "s" if part is SlotKind.SEGMENT else "p"
    return f"cb-{prefix}{service_id}-{segment_key.lower()}-st{staff_id}"


def event_type_title(service: ServiceSnapshot, index: int, part: SlotKind = SlotKind.SEGMENT) -> str:
    segment = service.segments[index]
    if part is SlotKind.PAUSE:
        return f"{service.name} – {segment.key}: pause after {segment.name} (held)"[:255]
    if not service.composite:
        return service.name
    return f"{service.name} – {segment.key}: {segment.name} ({index + 1}/{len(service.segments)})"[:255]


def holds_pause_after(service: ServiceSnapshot, segment: Segment) -> bool:
    """Under blocked/never a pause is held in Cal.com by a booking of its own."""
    return service.policy.holds_pauses and segment.gap_after_min > 0


@dataclass(frozen=True, slots=True)
class DesiredEventType:
    segment_key: str
    staff_id: int
    slug: str
    title: str
    length_in_minutes: int
    calcom_user_id: int
    part: SlotKind = SlotKind.SEGMENT

    def config(self) -> dict[str, Any]:
        """The fields we own, in Cal.com's spelling: stored as `synced_config` and compared for drift."""
        return {
            "title": self.title,
            "slug": self.slug,
            "lengthInMinutes": self.length_in_minutes,
            "hidden": True,
            "beforeEventBuffer": 0,
            "afterEventBuffer": 0,
            "minimumBookingNotice": 0,
            "slotInterval": SEGMENT_SLOT_INTERVAL_MIN,
            "hosts": [self.calcom_user_id],
        }

    def _managed_fields(self) -> dict[str, Any]:
        """Everything we own except the slug, which never changes (it is derived from ids)."""
        return {
            "title": self.title,
            "length_in_minutes": self.length_in_minutes,
            "description": MANAGED_DESCRIPTION,
            "hidden": True,
            "before_event_buffer": 0,
            "after_event_buffer": 0,
            "minimum_booking_notice": 0,
            "slot_interval": SEGMENT_SLOT_INTERVAL_MIN,
            "hosts": [HostInput(user_id=self.calcom_user_id)],
        }

    def create_body(self) -> TeamEventTypeCreate:
        return TeamEventTypeCreate(slug=self.slug, **self._managed_fields())

    def update_body(self) -> TeamEventTypeUpdate:
        # No slug: Cal.com refuses a PATCH that resends an event type's own slug.
        return TeamEventTypeUpdate(**self._managed_fields())


@dataclass(frozen=True, slots=True)
class Unsyncable:
    """A pairing that should have an event type but cannot get one; recorded as a sync error."""

    segment_key: str
    staff_id: int
    slug: str
    reason: str
    part: SlotKind = SlotKind.SEGMENT


@dataclass(frozen=True, slots=True)
class DesiredState:
    event_types: tuple[DesiredEventType, ...] = ()
    unsyncable: tuple[Unsyncable, ...] = ()


def desired_event_types(
    service: ServiceSnapshot, staff: Sequence[StaffSnapshot], *, team_id: int | None
) -> DesiredState:
    """Every (segment, staff member) of a live service, and every held pause's; nothing for a deleted one."""
    if service.deleted:
        return DesiredState()
    wanted: list[DesiredEventType] = []
    blocked: list[Unsyncable] = []
    for index, segment in enumerate(service.segments):
        parts = [(SlotKind.SEGMENT, segment.duration_min)]
        if holds_pause_after(service, segment):
            parts.append((SlotKind.PAUSE, segment.gap_after_min))
        for person in staff:
            for part, length in parts:
                slug = event_type_slug(service.id, segment.key, person.id, part)
                if team_id is None:
                    reason = "the branch has no calcom_team_id"
                    blocked.append(Unsyncable(segment.key, person.id, slug, reason, part))
                elif person.calcom_user_id is None:
                    reason = f"staff member {person.id} ({person.name}) has no calcom_user_id"
                    blocked.append(Unsyncable(segment.key, person.id, slug, reason, part))
                else:
                    wanted.append(
                        DesiredEventType(
                            segment_key=segment.key,
                            staff_id=person.id,
                            slug=slug,
                            title=event_type_title(service, index, part),
                            length_in_minutes=length,
                            calcom_user_id=person.calcom_user_id,
                            part=part,
                        )
                    )
    return DesiredState(tuple(wanted), tuple(blocked))


# --- planning ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MappingSnapshot:
    id: int
    segment_key: str
    staff_id: int
    event_type_id: int | None
    slug: str
    sync_status: str
    synced_config: dict[str, Any] | None
    part: SlotKind = SlotKind.SEGMENT


@dataclass(frozen=True, slots=True)
class Create:
    desired: DesiredEventType
    mapping_id: int | None
    # A mapping without an event type id may mean a create whose answer was lost: look the slug up first.
    look_up_first: bool


@dataclass(frozen=True, slots=True)
class Update:
    desired: DesiredEventType
    mapping_id: int
    event_type_id: int


@dataclass(frozen=True, slots=True)
class Delete:
    mapping_id: int
    event_type_id: int | None
    slug: str


@dataclass(frozen=True, slots=True)
class RecordError:
    unsyncable: Unsyncable
    mapping_id: int | None


Action = Create | Update | Delete | RecordError


@dataclass(frozen=True, slots=True)
class SyncPlan:
    actions: tuple[Action, ...]
    unchanged: int

    def count(self, kind: type[Action]) -> int:
        return sum(isinstance(action, kind) for action in self.actions)


@dataclass
class SyncReport:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: SyncReport) -> None:
        self.created += other.created
        self.updated += other.updated
        self.deleted += other.deleted
        self.unchanged += other.unchanged
        self.errors.extend(other.errors)


def plan_sync(desired: DesiredState, mappings: Sequence[MappingSnapshot]) -> SyncPlan:
    """The calls that bring Cal.com to the desired state; none when it is there already."""
    by_pair = {(m.segment_key, m.part, m.staff_id): m for m in mappings}
    wanted_pairs = {(d.segment_key, d.part, d.staff_id) for d in desired.event_types}
    wanted_pairs |= {(u.segment_key, u.part, u.staff_id) for u in desired.unsyncable}
    actions: list[Action] = []
    unchanged = 0
    for wanted in desired.event_types:
        mapping = by_pair.get((wanted.segment_key, wanted.part, wanted.staff_id))
        if mapping is None:
            actions.append(Create(wanted, None, look_up_first=False))
        elif mapping.event_type_id is None:
            actions.append(Create(wanted, mapping.id, look_up_first=True))
        elif mapping.sync_status != "synced" or mapping.synced_config != wanted.config():
            actions.append(Update(wanted, mapping.id, mapping.event_type_id))
        else:
            unchanged += 1
    for problem in desired.unsyncable:
        mapping = by_pair.get((problem.segment_key, problem.part, problem.staff_id))
        actions.append(RecordError(problem, mapping.id if mapping else None))
    for mapping in mappings:
        if (mapping.segment_key, mapping.part, mapping.staff_id) not in wanted_pairs:
            actions.append(Delete(mapping.id, mapping.event_type_id, mapping.slug))
    return SyncPlan(tuple(actions), unchanged)


# --- drift ------------------------------------------------------------------------------------------------

DRIFT_FIELDS = ("lengthInMinutes", "afterEventBuffer", "beforeEventBuffer", "hidden", "slug", "title")


def drift_between(expected: dict[str, Any], actual: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Fields whose value in Cal.com differs from what we last wrote (`hosts` compared as a set of ids)."""
    differences = {
        name: {"expected": expected.get(name), "actual": actual.get(name)}
        for name in DRIFT_FIELDS
        if name in expected and expected.get(name) != actual.get(name)
    }
    if sorted(expected.get("hosts", [])) != sorted(actual.get("hosts", [])):
        differences["hosts"] = {"expected": sorted(expected["hosts"]), "actual": sorted(actual["hosts"])}
    return differences
