"""The sandbox's in-memory database: one object, deterministic ids and uids, and the lookups routes need.

Ids of each kind start in their own range (users 101, teams 11, schedules 201, event types 1001, webhooks
301, bookings 5001) so a client that mixes up two kinds of id fails loudly instead of hitting another row.
"""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from composite_booking.calcom.sandbox.records import (
    Booking,
    BookingStatus,
    EventType,
    Membership,
    MembershipRole,
    Schedule,
    Team,
    User,
    Webhook,
)

_UID_ALPHABET = string.ascii_letters + string.digits


@dataclass
class _Counter:
    next_value: int

    def take(self) -> int:
        value = self.next_value
        self.next_value += 1
        return value


@dataclass
class SandboxState:
    seed: int = 0
    users: dict[int, User] = field(default_factory=dict)
    teams: dict[int, Team] = field(default_factory=dict)
    memberships: list[Membership] = field(default_factory=list)
    schedules: dict[int, Schedule] = field(default_factory=dict)
    event_types: dict[int, EventType] = field(default_factory=dict)
    bookings: dict[str, Booking] = field(default_factory=dict)
    webhooks: dict[int, Webhook] = field(default_factory=dict)
    api_keys: dict[str, int] = field(default_factory=dict)
    """sha256(key) -> user id; like Cal.com, only the hash is kept."""

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._user_ids = _Counter(101)
        self._team_ids = _Counter(11)
        self._schedule_ids = _Counter(201)
        self._event_type_ids = _Counter(1001)
        self._webhook_ids = _Counter(301)
        self._booking_ids = _Counter(5001)

    # --- identities

    def next_user_id(self) -> int:
        return self._user_ids.take()

    def next_team_id(self) -> int:
        return self._team_ids.take()

    def next_schedule_id(self) -> int:
        return self._schedule_ids.take()

    def next_event_type_id(self) -> int:
        return self._event_type_ids.take()

    def next_webhook_id(self) -> int:
        return self._webhook_ids.take()

    def next_booking_id(self) -> int:
        return self._booking_ids.take()

    def new_booking_uid(self) -> str:
        """22 characters like Cal.com's short uuids, drawn from the seeded generator (stable across runs)."""
        while True:
            uid = "".join(self._rng.choice(_UID_ALPHABET) for _ in range(22))
            if uid not in self.bookings:
                return uid

    def new_api_key(self) -> str:
        return "cal_" + "".join(self._rng.choice("0123456789abcdef") for _ in range(32))

    # --- persistence (see snapshot.py)

    def next_ids(self) -> dict[str, int]:
        """The id each kind of record gets next, keyed by the name of the table it goes into."""
        return {table: counter.next_value for table, counter in self._id_counters().items()}

    def resume_ids(self, next_ids: Mapping[str, int]) -> None:
        """Carry on numbering from a snapshot's `next_ids()`, so no id is handed out twice."""
        counters = self._id_counters()
        if set(next_ids) != set(counters):
            raise ValueError(f"next ids must name exactly {sorted(counters)}, not {sorted(next_ids)}")
        for table, next_value in next_ids.items():
            counters[table].next_value = next_value

    def generator_position(self) -> tuple[Any, ...]:
        """Where the uid and API-key generator stands (`random.Random.getstate()`)."""
        return self._rng.getstate()

    def resume_generator(self, position: tuple[Any, ...]) -> None:
        """Continue the uid sequence exactly where a snapshot's generator stood, not from the seed again."""
        self._rng.setstate(position)

    def _id_counters(self) -> dict[str, _Counter]:
        return {
            "users": self._user_ids,
            "teams": self._team_ids,
            "schedules": self._schedule_ids,
            "event_types": self._event_type_ids,
            "webhooks": self._webhook_ids,
            "bookings": self._booking_ids,
        }

    # --- lookups

    def user_for_api_key(self, key: str) -> User | None:
        user_id = self.api_keys.get(hash_api_key(key))
        return self.users.get(user_id) if user_id is not None else None

    def membership(self, team_id: int, user_id: int) -> Membership | None:
        for membership in self.memberships:
            if membership.team_id == team_id and membership.user_id == user_id:
                return membership
        return None

    def team_member_ids(self, team_id: int) -> list[int]:
        return [m.user_id for m in self.memberships if m.team_id == team_id]

    def is_team_admin(self, team_id: int, user_id: int) -> bool:
        membership = self.membership(team_id, user_id)
        return membership is not None and membership.role in (MembershipRole.ADMIN, MembershipRole.OWNER)

    def team_by_slug(self, slug: str) -> Team | None:
        return next((team for team in self.teams.values() if team.slug == slug), None)

    def team_event_type_by_slug(self, team_id: int, slug: str) -> EventType | None:
        return next(
            (et for et in self.event_types.values() if et.team_id == team_id and et.slug == slug),
            None,
        )

    def schedules_of(self, user_id: int) -> list[Schedule]:
        return [s for s in self.schedules.values() if s.owner_id == user_id]

    def accepted_bookings_of(self, user_id: int) -> Iterator[Booking]:
        for booking in self.bookings.values():
            if booking.status is BookingStatus.ACCEPTED and user_id in booking.busy_user_ids:
                yield booking

    def booking_by_id(self, booking_id: int) -> Booking | None:
        return next((b for b in self.bookings.values() if b.id == booking_id), None)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
