"""A salon linked to the Cal.com sandbox with synced event types, and the checks every booking test ends with:
no overlap (in PostgreSQL and in Cal.com), no orphan Cal.com booking, no half-finished appointment."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.calcom.event_types import desired_event_types
from composite_booking.calcom.sandbox import BookingStatus, CalcomSandbox, DemoSalon, RateLimitPolicy
from composite_booking.config import Settings
from composite_booking.db.models import Appointment, AppointmentSlot, BookingSaga
from composite_booking.db.repositories.catalog import BranchRepository, ServiceRepository, StaffRepository
from composite_booking.db.repositories.event_map import EventMapRepository
from composite_booking.domain.booking import (
    BookingSagaRunner,
    BookingService,
    BookingSettings,
    Checkpoint,
    SagaState,
)
from composite_booking.domain.catalog import CatalogService
from composite_booking.domain.statuses import AppointmentStatus, SlotStatus
from composite_booking.jobs.recovery import SagaRecovery
from composite_booking.locks import InProcessLockService
from composite_booking.schemas.catalog import BranchCreate, ReschedulePolicy, ServiceCreate, StaffCreate
from tests.conftest import Tenant

BERLIN = ZoneInfo("Europe/Berlin")

COLOUR = [
    {"key": "A", "name": "Färben", "duration_min": 30, "gap_after_min": 30},
    {"key": "B", "name": "Waschen", "duration_min": 15},
    {"key": "C", "name": "Schneiden", "duration_min": 30, "gap_after_min": 15},
    {"key": "D", "name": "Föhnen", "duration_min": 30},
]
MEN = [
    {"key": "A", "name": "Beratung und Waschen", "duration_min": 45, "gap_after_min": 10},
    {"key": "B", "name": "Schneiden", "duration_min": 60, "gap_after_min": 15},
    {"key": "C", "name": "Styling", "duration_min": 20},
]


def booking_day(weeks_ahead: int = 2) -> date:
    """A Wednesday (the salon works Tuesday to Saturday) far enough ahead for every reschedule policy."""
    day = datetime.now(BERLIN).date() + timedelta(weeks=weeks_ahead)
    return day + timedelta(days=(2 - day.weekday()) % 7)


DAY = booking_day()


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


@pytest.fixture
def sandbox() -> CalcomSandbox:
    """Cal.com without its rate limit: the tests fire many requests in a second."""
    return CalcomSandbox(seed=7, rate_limit=RateLimitPolicy(limit=1_000_000))


@pytest.fixture
def app_settings(app_settings: Settings) -> Settings:
    return app_settings.model_copy(
        update={"calcom_rate_limit_per_minute": 1_000_000, "calcom_timeout_s": 1.0, "lock_wait_s": 5.0}
    )


@dataclass
class Salon:
    app: FastAPI
    tenant: Tenant
    sandbox: CalcomSandbox
    session_factory: async_sessionmaker[AsyncSession]
    calcom: DemoSalon
    branch_id: int
    staff: dict[str, int]
    services: dict[str, int]
    synced: set[str] = field(default_factory=set)

    async def ensure_synced(self, service: str) -> None:
        """Give the service its Cal.com event types, as the sync would, on its first use.

        The sync's own desired state, written straight into the sandbox and the event map: the same event
        types and mappings without a dozen HTTP calls per test (the sync has its own tests, and
        `test_demo_salon` books through a real one).
        """
        if service in self.synced:
            return
        service_id = self.services[service]
        async with self.session_factory() as session, session.begin():
            event_map = EventMapRepository(session, self.company_id)
            found = await event_map.service_snapshot(service_id)
            assert found is not None
            snapshot, team_id, branch_id = found
            desired = desired_event_types(
                snapshot, await event_map.eligible_staff(service_id), team_id=team_id
            )
            assert desired.unsyncable == (), desired.unsyncable
            assert team_id is not None
            for event_type in desired.event_types:
                created = self.sandbox.add_event_type(team_id, **event_type.create_body().to_body())
                mapping_id = await event_map.upsert_pending(
                    branch_id=branch_id,
                    service_id=service_id,
                    segment_key=event_type.segment_key,
                    part=event_type.part,
                    staff_id=event_type.staff_id,
                    slug=event_type.slug,
                    title=event_type.title,
                )
                await event_map.mark_synced(
                    mapping_id,
                    event_type_id=created.id,
                    config=event_type.config(),
                    title=event_type.title,
                    now=_now(),
                )
        self.synced.add(service)

    @property
    def client(self) -> httpx.AsyncClient:
        return self.tenant.client

    @property
    def company_id(self) -> int:
        return self.tenant.company_id

    def calcom_user(self, name: str) -> int:
        return {"Emma": self.calcom.emma_id, "Fabian": self.calcom.fabian_id, "David": self.calcom.david_id}[
            name
        ]

    async def book(
        self,
        service: str,
        starts_at: datetime,
        *,
        staff: str | None = None,
        key: str | None = None,
        customer: dict[str, Any] | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        await self.ensure_synced(service)
        body: dict[str, Any] = {
            "service_id": self.services[service],
            "starts_at": starts_at.isoformat(),
            "customer": customer or {"name": "Eva Müller", "email": "eva@example.org"},
        }
        if staff is not None:
            body["staff_id"] = self.staff[staff]
        headers = {"Idempotency-Key": key} if key is not None else {}
        return await (client or self.client).post("/v1/bookings", json=body, headers=headers)

    async def booked(self, service: str, starts_at: datetime, **kwargs: Any) -> dict[str, Any]:
        response = await self.book(service, starts_at, **kwargs)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def bookings_service(
        self,
        *,
        checkpoint: Callable[[Checkpoint, int | None], Awaitable[None]] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> BookingService:
        """The app's booking use cases with a checkpoint hook (to stop the saga where a test wants)."""
        state = self.app.state
        kwargs: dict[str, Any] = {}
        if checkpoint is not None:
            kwargs["checkpoint"] = checkpoint
        return BookingService(
            self.session_factory,
            state.calcom,
            state.slot_resolver,
            InProcessLockService(),
            clock=clock or _now,
            settings=BookingSettings(saga_lease=timedelta(seconds=60)),
            on_staff_calendar_changed=state.on_staff_calendar_changed,
            **kwargs,
        )

    def recovery(self, *, later_by: timedelta = timedelta(minutes=10)) -> SagaRecovery:
        """Recovery as a worker would run it once every lease has run out (`later_by` from now)."""

        def later() -> datetime:
            return _now() + later_by

        runner = BookingSagaRunner(
            self.session_factory,
            self.app.state.calcom,
            clock=later,
            lease=timedelta(seconds=60),
            recheck_after=timedelta(minutes=5),
            on_staff_calendar_changed=self.app.state.on_staff_calendar_changed,
        )
        return SagaRecovery(self.session_factory, runner, clock=later)


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def salon(
    app: FastAPI,
    tenant: Tenant,
    calcom_salon: DemoSalon,
    sandbox: CalcomSandbox,
    session_factory: async_sessionmaker[AsyncSession],
) -> Salon:
    """Branch "Mitte" on the sandbox's team; Emma, Fabian and David; four services, all performed by all:
    `colour` (free, A 30 + 30, B 15, C 30 + 15, D 30), `men` (blocked, A 45 + 10, B 60 + 15, C 20),
    `never` (the same chain, pauses held for good) and `cut` (simple, 30 min). Made through the catalog use
    cases in one transaction (the catalog API has its own tests); event types are synced for `colour` at
    once, for the others on their first booking through `Salon.book`."""
    policy = ReschedulePolicy(cutoff_hours=24, max_changes=3)
    async with session_factory() as session, session.begin():
        company = tenant.company_id
        catalog = CatalogService(
            BranchRepository(session, company),
            StaffRepository(session, company),
            ServiceRepository(session, company),
        )
        branch = await catalog.create_branch(
            BranchCreate(name="Mitte", timezone="Europe/Berlin", calcom_team_id=calcom_salon.team_id)
        )
        staff = {}
        for name, user_id in (
            ("Emma", calcom_salon.emma_id),
            ("Fabian", calcom_salon.fabian_id),
            ("David", calcom_salon.david_id),
        ):
            person = await catalog.create_staff(
                StaffCreate(branch_id=branch.id, name=name, calcom_user_id=user_id)
            )
            staff[name] = person.id
        definitions: dict[str, dict[str, Any]] = {
            "colour": {"name": "Ansatzfärbung", "composite": True, "segments": COLOUR},
            "men": {
                "name": "Herrenhaarschnitt",
                "composite": True,
                "segments": MEN,
                "pause_bookable_policy": "blocked",
            },
            "never": {
                "name": "Dauerwelle",
                "composite": True,
                "segments": MEN,
                "pause_bookable_policy": "never",
            },
            "cut": {"name": "Haarschnitt", "composite": False, "duration_min": 30},
            "brows": {"name": "Augenbrauen zupfen", "composite": False, "duration_min": 10},
        }
        services = {}
        for key, definition in definitions.items():
            created = await catalog.create_service(
                ServiceCreate.model_validate(
                    {"branch_id": branch.id, "staff_ids": list(staff.values()), "reschedule_policy": policy}
                    | definition
                )
            )
            services[key] = created.id
    salon = Salon(app, tenant, sandbox, session_factory, calcom_salon, branch.id, staff, services)
    await salon.ensure_synced("colour")
    return salon


# --- the invariants ---------------------------------------------------------------------------------------


async def all_appointments(session_factory: async_sessionmaker[AsyncSession]) -> list[Appointment]:
    from sqlalchemy.orm import selectinload

    async with session_factory() as session:
        rows = await session.execute(
            select(Appointment).options(selectinload(Appointment.slots)).order_by(Appointment.id)
        )
        return list(rows.scalars())


async def active_rows(session_factory: async_sessionmaker[AsyncSession]) -> list[AppointmentSlot]:
    async with session_factory() as session:
        rows = await session.execute(select(AppointmentSlot).where(AppointmentSlot.active.is_(True)))
        return list(rows.scalars())


def _overlapping_pairs(spans: list[tuple[Any, datetime, datetime]]) -> list[tuple[Any, Any]]:
    clashes = []
    ordered = sorted(spans, key=lambda s: s[1])
    for i, (first, _, first_end) in enumerate(ordered):
        for second, second_start, _ in ordered[i + 1 :]:
            if second_start >= first_end:
                break
            clashes.append((first, second))
    return clashes


async def assert_no_overlaps(salon: Salon) -> None:
    """No staff member holds overlapping rows of two appointments, nor two overlapping Cal.com bookings."""
    by_staff: dict[int, list[tuple[Any, datetime, datetime]]] = defaultdict(list)
    for row in await active_rows(salon.session_factory):
        by_staff[row.staff_id].append(((row.appointment_id, row.id), row.starts_at, row.ends_at))
    for staff_id, spans in by_staff.items():
        clashes = [(a, b) for a, b in _overlapping_pairs(spans) if a[0] != b[0]]
        assert clashes == [], f"staff {staff_id} double-booked in PostgreSQL: {clashes}"
    state = salon.sandbox.state
    by_user: dict[int, list[tuple[Any, datetime, datetime]]] = defaultdict(list)
    for booking in salon.sandbox.bookings:
        if booking.status is not BookingStatus.ACCEPTED:
            continue
        event_type = state.event_types.get(booking.event_type_id) if booking.event_type_id else None
        buffer = timedelta(minutes=event_type.after_event_buffer if event_type else 0)
        for user_id in booking.busy_user_ids:
            by_user[user_id].append((booking.uid, booking.start, booking.end + buffer))
    for user_id, spans in by_user.items():
        assert _overlapping_pairs(spans) == [], f"Cal.com user {user_id} double-booked"


async def assert_settled(salon: Salon) -> None:
    """Every saga final, every appointment whole or gone, and Cal.com holding exactly what stands here."""
    async with salon.session_factory() as session:
        open_sagas = (
            await session.execute(
                select(BookingSaga.id, BookingSaga.state).where(
                    BookingSaga.state.not_in([SagaState.CONFIRMED, SagaState.COMPENSATED])
                )
            )
        ).all()
    assert open_sagas == [], f"sagas not final: {open_sagas}"
    expected_uids: set[str] = set()
    for appointment in await all_appointments(salon.session_factory):
        status = AppointmentStatus(appointment.status)
        assert status in (
            AppointmentStatus.CONFIRMED,
            AppointmentStatus.FAILED,
            AppointmentStatus.CANCELLED,
        ), (
            appointment.id,
            status,
        )
        active = [s for s in appointment.slots if s.active]
        if status is AppointmentStatus.CONFIRMED:
            # Every standing row is a Cal.com booking: each segment and each held pause.
            assert [s for s in active if s.kind == "segment"], appointment.id
            assert all(s.status == SlotStatus.BOOKED and s.calcom_booking_uid for s in active), [
                (s.kind, s.segment_key, s.status, s.calcom_booking_uid) for s in active
            ]
            assert len({s.chain for s in active}) == 1, "a confirmed appointment stands on one chain"
            expected_uids |= {str(s.calcom_booking_uid) for s in active}
        else:
            assert active == [], (appointment.id, status, [(s.id, s.status) for s in active])
    ours = {
        b.uid
        for b in salon.sandbox.bookings
        if b.status is BookingStatus.ACCEPTED and "composite_uid" in b.metadata
    }
    assert ours == expected_uids, (
        f"orphans in Cal.com: {ours - expected_uids}; missing: {expected_uids - ours}"
    )


def accepted(sandbox: CalcomSandbox) -> list[Any]:
    return [b for b in sandbox.bookings if b.status is BookingStatus.ACCEPTED]


def local(value: str) -> datetime:
    return datetime.fromisoformat(value)
