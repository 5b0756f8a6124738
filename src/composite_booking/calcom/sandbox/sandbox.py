"""`CalcomSandbox`: the emulator as one object: seed and inspect state in Python, serve it over ASGI.

sandbox = CalcomSandbox(clock=ManualClock(datetime(2030, 1, 7, 8, tzinfo=UTC)))
emma = sandbox.add_user(name="Emma Williams", email="emma@salon.example", time_zone="Europe/Berlin")
sandbox.add_schedule(emma.id, time_zone="Europe/Berlin")
key = sandbox.issue_api_key(emma.id)
async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app), base_url=...) as client:
    ...
await sandbox.flush_webhooks()
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from composite_booking.calcom.sandbox.booking_output import booking_output
from composite_booking.calcom.sandbox.bookings import BookingChange, cancel_booking, insert_booking_directly
from composite_booking.calcom.sandbox.clock import Clock, system_clock
from composite_booking.calcom.sandbox.event_types import create_team_event_type
from composite_booking.calcom.sandbox.faults import Faults, Sleep
from composite_booking.calcom.sandbox.http import SandboxCore, SandboxHttp
from composite_booking.calcom.sandbox.ratelimit import RateLimitPolicy, SandboxRateLimiter, api_key_tracker
from composite_booking.calcom.sandbox.records import (
    Attendee,
    Booking,
    DateOverride,
    EventType,
    Membership,
    MembershipRole,
    Schedule,
    Team,
    User,
    Webhook,
    WeeklyHours,
)
from composite_booking.calcom.sandbox.routes import ENDPOINTS
from composite_booking.calcom.sandbox.schedules import DEFAULT_WEEKLY_HOURS, date_override, weekly_hours
from composite_booking.calcom.sandbox.snapshot import (
    read_snapshot,
    restore_state,
    snapshot_state,
    write_snapshot,
)
from composite_booking.calcom.sandbox.state import SandboxState, hash_api_key
from composite_booking.calcom.sandbox.webhooks import TRIGGERS, Delivery, WebhookDispatcher, WebhookSender


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class CalcomSandbox:
    """A stateful, in-memory emulator of the Cal.com v2 subset this service uses."""

    def __init__(
        self,
        *,
        clock: Clock = system_clock,
        rate_limit: RateLimitPolicy | None = None,
        webhook_sender: WebhookSender | None = None,
        seed: int = 0,
        sleep: Sleep = asyncio.sleep,
        control_api: bool = False,
    ) -> None:
        """`control_api` adds `POST /_sandbox/faults` and `/_sandbox/reset-faults` (see `control.py`), for
        load tests against a standalone sandbox; Cal.com has no such paths, so they are off by default."""
        self._core = SandboxCore(
            state=SandboxState(seed=seed),
            clock=clock,
            faults=Faults(seed=seed, sleep=sleep),
            limiter=SandboxRateLimiter(clock, rate_limit or RateLimitPolicy()),
            webhooks=WebhookDispatcher(webhook_sender),
        )
        self._app = SandboxHttp(self._core, ENDPOINTS, control_api=control_api).starlette_app()

    # --- serving

    @property
    def app(self) -> Starlette:
        """The ASGI app; use it with `httpx.ASGITransport(app=sandbox.app)` or uvicorn."""
        return self._app

    @property
    def faults(self) -> Faults:
        return self._core.faults

    @property
    def clock(self) -> Clock:
        return self._core.clock

    @property
    def state(self) -> SandboxState:
        """The raw store, for assertions the accessors below do not cover."""
        return self._core.state

    # --- seeding

    def add_user(
        self, *, name: str, email: str, username: str | None = None, time_zone: str = "Europe/Berlin"
    ) -> User:
        state = self._core.state
        user = User(state.next_user_id(), name, email, username or _slugify(name), time_zone)
        state.users[user.id] = user
        return user

    def add_team(self, *, name: str, slug: str | None = None) -> Team:
        state = self._core.state
        team = Team(state.next_team_id(), name, slug or _slugify(name))
        state.teams[team.id] = team
        return team

    def add_membership(
        self, team_id: int, user_id: int, role: MembershipRole | str = MembershipRole.MEMBER
    ) -> Membership:
        state = self._core.state
        if team_id not in state.teams or user_id not in state.users:
            raise KeyError(f"no team {team_id} or no user {user_id}")
        existing = state.membership(team_id, user_id)
        if existing is not None:
            existing.role = MembershipRole(role)
            return existing
        membership = Membership(team_id, user_id, MembershipRole(role))
        state.memberships.append(membership)
        return membership

    def add_schedule(
        self,
        user_id: int,
        *,
        time_zone: str,
        availability: Sequence[WeeklyHours | Mapping[str, Any]] | None = None,
        overrides: Sequence[DateOverride | Mapping[str, Any]] = (),
        name: str = "Working hours",
        is_default: bool = True,
    ) -> Schedule:
        """Weekly hours (`{days, startTime, endTime}`) in `time_zone`; date overrides replace a day's hours.

        Without `availability` the schedule is Cal.com's default, Monday to Friday 09:00-17:00.
        """
        state = self._core.state
        user = state.users[user_id]
        rules = (
            [weekly_hours(r) for r in availability]
            if availability is not None
            else list(DEFAULT_WEEKLY_HOURS)
        )
        schedule = Schedule(
            state.next_schedule_id(), user_id, name, time_zone, rules, [date_override(o) for o in overrides]
        )
        state.schedules[schedule.id] = schedule
        if is_default or user.default_schedule_id is None:
            user.default_schedule_id = schedule.id
        return schedule

    def add_override(self, schedule_id: int, override: DateOverride | Mapping[str, Any]) -> None:
        self._core.state.schedules[schedule_id].overrides.append(date_override(override))

    def issue_api_key(
        self, user_id: int, *, key: str | None = None, rate_limit: RateLimitPolicy | None = None
    ) -> str:
        """A `cal_...` key for the user (`key` registers a known one, e.g. the app's CALCOM_API_KEY)."""
        state = self._core.state
        if user_id not in state.users:
            raise KeyError(f"no user {user_id}")
        if key is not None and not key.startswith("cal_"):
            raise ValueError("Cal.com API keys start with 'cal_'")
        key = key or state.new_api_key()
        state.api_keys[hash_api_key(key)] = user_id
        if rate_limit is not None:
            self._core.key_policies[api_key_tracker(key)] = rate_limit
        return key

    def add_event_type(self, team_id: int, **body: Any) -> EventType:
        """A team event type from a `CreateTeamEventTypeInput_2024_06_14` body, without HTTP or auth."""
        return create_team_event_type(self._core.state, team_id, body)

    def add_webhook(
        self,
        *,
        subscriber_url: str,
        triggers: Sequence[str] = ("BOOKING_CREATED", "BOOKING_CANCELLED", "BOOKING_RESCHEDULED"),
        secret: str | None = None,
        user_id: int | None = None,
        team_id: int | None = None,
        active: bool = True,
    ) -> Webhook:
        """A user webhook (as `POST /v2/webhooks` makes) or a team webhook (made in Cal.com's web app)."""
        if (user_id is None) == (team_id is None):
            raise ValueError("a webhook belongs to exactly one user or one team")
        unknown = [t for t in triggers if t not in TRIGGERS]
        if unknown:
            raise ValueError(f"unknown triggers: {unknown}")
        state = self._core.state
        webhook = Webhook(
            state.next_webhook_id(), subscriber_url, list(triggers), active, secret, None, user_id, team_id
        )
        state.webhooks[webhook.id] = webhook
        return webhook

    def add_booking(
        self,
        event_type_id: int,
        start: datetime,
        *,
        attendee_name: str = "Walk-in Guest",
        attendee_email: str = "guest@example.com",
        attendee_time_zone: str = "Europe/Berlin",
        metadata: Mapping[str, Any] | None = None,
        check_availability: bool = True,
    ) -> Booking:
        """A booking made outside our API (Cal.com's own booking page); its webhooks fire like any other."""
        state = self._core.state
        change = insert_booking_directly(
            state,
            state.event_types[event_type_id],
            start,
            Attendee(attendee_name, attendee_email, attendee_time_zone),
            self._core.clock(),
            check_availability=check_availability,
            metadata=metadata,
        )
        self._core.publish(change)
        return change.booking

    def cancel_booking(self, uid: str, *, reason: str | None = None) -> Booking:
        """Cancel as an attendee would on Cal.com's own pages (no host reason required); webhooks fire."""
        change: BookingChange = cancel_booking(
            self._core.state, uid, {"cancellationReason": reason}, None, self._core.clock()
        )
        self._core.publish(change)
        return change.booking

    # --- inspection

    @property
    def bookings(self) -> list[Booking]:
        return sorted(self._core.state.bookings.values(), key=lambda b: b.id)

    def booking(self, uid: str) -> Booking:
        return self._core.state.bookings[uid]

    def booking_json(self, uid: str) -> dict[str, Any]:
        """The booking exactly as `GET /v2/bookings/{uid}` renders it."""
        return booking_output(self._core.state, self.booking(uid))

    @property
    def event_types(self) -> list[EventType]:
        return sorted(self._core.state.event_types.values(), key=lambda et: et.id)

    def event_type(self, event_type_id: int) -> EventType:
        return self._core.state.event_types[event_type_id]

    @property
    def users(self) -> list[User]:
        return sorted(self._core.state.users.values(), key=lambda u: u.id)

    @property
    def webhooks(self) -> list[Webhook]:
        return sorted(self._core.state.webhooks.values(), key=lambda w: w.id)

    @property
    def webhook_deliveries(self) -> list[Delivery]:
        """Every webhook attempted so far, in order, with the sender's error if it raised."""
        return list(self._core.webhooks.deliveries)

    async def flush_webhooks(self) -> None:
        """Wait until every queued webhook has been handed to the sender."""
        await self._core.webhooks.flush()

    def set_webhook_sender(self, sender: WebhookSender | None) -> None:
        self._core.webhooks.sender = sender

    def reset_rate_limits(self) -> None:
        self._core.limiter.reset()

    # --- persistence

    def snapshot(self) -> dict[str, Any]:
        """Every record, id counter and the uid generator's position, as a JSON-ready `{"format": 1, ...}`.

        Faults, rate-limit windows, per-key rate-limit policies and undelivered webhooks are not included.
        """
        return snapshot_state(self._core.state)

    def restore(self, document: Mapping[str, Any]) -> None:
        """Replace the whole state with a snapshot's (`SnapshotError` for an unknown format).

        Clock, faults, rate limits, the webhook sender and webhooks still queued stay as they are.
        """
        self._core.state = restore_state(document)

    def save(self, path: Path) -> None:
        """Write `snapshot()` to `path` as JSON, atomically (a temporary file, then `os.replace`)."""
        write_snapshot(path, self.snapshot())

    def load(self, path: Path) -> None:
        """`restore()` from a file `save()` wrote."""
        self.restore(read_snapshot(path))
