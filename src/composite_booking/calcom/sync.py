"""Keeps Cal.com's hidden segment event types in step with the catalog, and finds and repairs drift.

Each step is its own short unit of work; no Cal.com call is made inside an open transaction. The intent to
create is recorded before the call, so a crash leaves a `pending` mapping that the next run resolves by slug.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.calcom.client import CalcomClient
from composite_booking.calcom.errors import (
    CalcomBadRequest,
    CalcomError,
    CalcomNotFound,
    CalcomUnknownOutcome,
)
from composite_booking.calcom.event_types import (
    Action,
    Create,
    Delete,
    DesiredEventType,
    RecordError,
    SyncPlan,
    SyncReport,
    Update,
    desired_event_types,
    drift_between,
    plan_sync,
)
from composite_booking.calcom.models import TeamEventType
from composite_booking.db.repositories.event_map import EventMapRepository, company_ids

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def remote_config(event_type: TeamEventType) -> dict[str, Any]:
    """An event type as Cal.com reports it, in the shape of `DesiredEventType.config()`."""
    return {
        "title": event_type.title,
        "slug": event_type.slug,
        "lengthInMinutes": event_type.length_in_minutes,
        "hidden": event_type.hidden,
        "beforeEventBuffer": event_type.before_event_buffer,
        "afterEventBuffer": event_type.after_event_buffer,
        "minimumBookingNotice": event_type.minimum_booking_notice,
        "slotInterval": event_type.slot_interval,
        "hosts": sorted(host.user_id for host in event_type.hosts),
    }


@dataclass(frozen=True)
class ServicePlan:
    plan: SyncPlan
    team_id: int | None
    branch_id: int


@dataclass
class DriftReport:
    checked: int = 0
    drifted: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class SyncFailed(Exception):
    """Some Cal.com calls failed (recorded on their mappings); the outbox retries the service later."""


class EventTypeSync:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        calcom: CalcomClient,
        *,
        clock: Clock = _utc_now,
    ) -> None:
        self._session_factory = session_factory
        self._calcom = calcom
        self._clock = clock

    # --- sync -------------------------------------------------------------------------------------------

    async def plan_service(self, company_id: int, service_id: int) -> ServicePlan | None:
        async with self._session_factory() as session:
            event_map = EventMapRepository(session, company_id)
            found = await event_map.service_snapshot(service_id)
            if found is None:
                return None
            service, team_id, branch_id = found
            staff = await event_map.eligible_staff(service_id)
            desired = desired_event_types(service, staff, team_id=team_id)
            plan = plan_sync(desired, await event_map.mapping_snapshots(service_id))
        return ServicePlan(plan, team_id, branch_id)

    async def sync_service(self, company_id: int, service_id: int, *, dry_run: bool = False) -> SyncReport:
        """Bring one service's event types to the desired state; idempotent (a second run calls nothing)."""
        planned = await self.plan_service(company_id, service_id)
        report = SyncReport()
        if planned is None:
            return report
        report.unchanged = planned.plan.unchanged
        if dry_run:
            report.created = planned.plan.count(Create)
            report.updated = planned.plan.count(Update)
            report.deleted = planned.plan.count(Delete)
            report.errors = [a.unsyncable.reason for a in planned.plan.actions if isinstance(a, RecordError)]
            return report
        failed_calls = 0
        for action in planned.plan.actions:
            try:
                await self._apply(company_id, service_id, planned, action, report)
            except CalcomError as exc:
                failed_calls += 1
                report.errors.append(f"service {service_id}: {exc.detail}")
                mapping_id = getattr(action, "mapping_id", None)
                if mapping_id is not None:
                    async with self._event_map(company_id) as event_map:
                        await event_map.mark_error(mapping_id, exc.detail)
        if failed_calls:
            raise SyncFailed(f"{failed_calls} Cal.com call(s) failed for service {service_id}")
        return report

    async def sync_company(self, company_id: int | None = None, *, dry_run: bool = False) -> SyncReport:
        """Every service of one company (or of all companies); failures are reported, not raised."""
        report = SyncReport()
        for company in await self._companies(company_id):
            async with self._session_factory() as session:
                services = await EventMapRepository(session, company).service_ids_with_work()
            for service_id in services:
                try:
                    report.add(await self.sync_service(company, service_id, dry_run=dry_run))
                except SyncFailed as exc:
                    report.errors.append(str(exc))
        return report

    async def _apply(
        self, company_id: int, service_id: int, planned: ServicePlan, action: Action, report: SyncReport
    ) -> None:
        if isinstance(action, RecordError):
            problem = action.unsyncable
            async with self._event_map(company_id) as event_map:
                mapping_id = await event_map.upsert_pending(
                    branch_id=planned.branch_id,
                    service_id=service_id,
                    segment_key=problem.segment_key,
                    part=problem.part,
                    staff_id=problem.staff_id,
                    slug=problem.slug,
                    title=None,
                )
                await event_map.mark_error(mapping_id, problem.reason)
            report.errors.append(f"service {service_id}: {problem.reason}")
        elif isinstance(action, Delete):
            await self._delete(company_id, planned.team_id, action)
            report.deleted += 1
        else:
            # Desired event types exist only for branches with a Cal.com team.
            assert planned.team_id is not None
            if isinstance(action, Update) and await self._update(company_id, planned.team_id, action):
                report.updated += 1
                return
            look_up_first = isinstance(action, Create) and action.look_up_first
            await self._create(company_id, service_id, planned, action.desired, look_up_first=look_up_first)
            report.created += 1

    async def _update(self, company_id: int, team_id: int, action: Update) -> bool:
        """PATCH to the desired state; False when Cal.com lost the event type (the caller recreates it)."""
        try:
            updated = await self._calcom.update_team_event_type(
                team_id, action.event_type_id, action.desired.update_body()
            )
        except CalcomNotFound:
            return False
        await self._record_synced(company_id, action.mapping_id, updated.id, action.desired)
        return True

    async def _create(
        self,
        company_id: int,
        service_id: int,
        planned: ServicePlan,
        desired: DesiredEventType,
        *,
        look_up_first: bool,
    ) -> None:
        assert planned.team_id is not None
        team_id = planned.team_id
        async with self._event_map(company_id) as event_map:
            mapping_id = await event_map.upsert_pending(
                branch_id=planned.branch_id,
                service_id=service_id,
                segment_key=desired.segment_key,
                part=desired.part,
                staff_id=desired.staff_id,
                slug=desired.slug,
                title=desired.title,
            )
        existing = await self._find_by_slug(team_id, desired.slug) if look_up_first else None
        if existing is None:
            try:
                existing = await self._calcom.create_team_event_type(team_id, desired.create_body())
            except (CalcomUnknownOutcome, CalcomBadRequest) as exc:
                # A lost answer, or "slug exists" after an earlier lost answer: adopt it if it is there.
                existing = await self._find_by_slug(team_id, desired.slug)
                if existing is None:
                    raise
                log.info("adopted event type %s (%s) after %r", existing.id, desired.slug, exc)
        if remote_config(existing) != desired.config():
            existing = await self._calcom.update_team_event_type(team_id, existing.id, desired.update_body())
        await self._record_synced(company_id, mapping_id, existing.id, desired)

    async def _delete(self, company_id: int, team_id: int | None, action: Delete) -> None:
        event_type_id = action.event_type_id
        if event_type_id is None and team_id is not None:
            found = await self._find_by_slug(team_id, action.slug)
            event_type_id = found.id if found else None
        if event_type_id is not None and team_id is not None:
            with contextlib.suppress(CalcomNotFound):  # already gone: the goal is reached
                await self._calcom.delete_team_event_type(team_id, event_type_id)
        async with self._event_map(company_id) as event_map:
            await event_map.remove(action.mapping_id)

    async def _find_by_slug(self, team_id: int, slug: str) -> TeamEventType | None:
        matches = [e for e in await self._calcom.list_team_event_types(team_id, slug=slug) if e.slug == slug]
        return matches[0] if matches else None

    async def _record_synced(
        self, company_id: int, mapping_id: int, event_type_id: int, desired: DesiredEventType
    ) -> None:
        async with self._event_map(company_id) as event_map:
            await event_map.mark_synced(
                mapping_id,
                event_type_id=event_type_id,
                config=desired.config(),
                title=desired.title,
                now=self._clock(),
            )

    @asynccontextmanager
    async def _event_map(self, company_id: int) -> AsyncIterator[EventMapRepository]:
        """One short unit of work on the event map."""
        async with self._session_factory() as session, session.begin():
            yield EventMapRepository(session, company_id)

    async def _companies(self, company_id: int | None) -> list[int]:
        async with self._session_factory() as session:
            return await company_ids(session, [company_id] if company_id is not None else None)

    # --- drift ------------------------------------------------------------------------------------------

    async def detect_drift(self, company_id: int | None = None) -> DriftReport:
        """Compare every synced mapping with Cal.com; record what differs and since when."""
        report = DriftReport()
        for company in await self._companies(company_id):
            async with self._session_factory() as session:
                event_map = EventMapRepository(session, company)
                candidates = await event_map.drift_candidates()
                teams = await event_map.team_ids({m.service_id for m in candidates})
            for mapping in candidates:
                team_id = teams.get(mapping.service_id)
                if team_id is None or mapping.event_type_id is None or mapping.synced_config is None:
                    continue
                report.checked += 1
                try:
                    remote = await self._calcom.get_team_event_type(team_id, mapping.event_type_id)
                    drift: dict[str, Any] = {
                        "deleted": False,
                        "fields": drift_between(mapping.synced_config, remote_config(remote)),
                    }
                except CalcomNotFound:
                    drift = {"deleted": True, "fields": {}}
                except CalcomError as exc:
                    report.errors.append(f"event type {mapping.event_type_id}: {exc.detail}")
                    continue
                async with self._event_map(company) as event_map:
                    if drift["deleted"] or drift["fields"]:
                        await event_map.mark_drift(mapping.id, drift, now=self._clock())
                        report.drifted.append(
                            {
                                "service_id": mapping.service_id,
                                "segment_key": mapping.segment_key,
                                "part": mapping.part,
                                "staff_id": mapping.staff_id,
                                "event_type_id": mapping.event_type_id,
                                **drift,
                            }
                        )
                    else:
                        await event_map.clear_drift(mapping.id)
        return report

    async def repair_drift(self, company_id: int | None = None) -> SyncReport:
        """Restore the desired state wherever drift was recorded (recreating deleted event types)."""
        report = SyncReport()
        for company in await self._companies(company_id):
            async with self._event_map(company) as event_map:
                drifted = [m for m in await event_map.drift_candidates() if m.sync_status == "drifted"]
                for mapping in drifted:
                    deleted = bool(mapping.drift and mapping.drift.get("deleted"))
                    await event_map.forget_remote_state(mapping.id, deleted_remotely=deleted)
                services = sorted({m.service_id for m in drifted})
            for service_id in services:
                try:
                    report.add(await self.sync_service(company, service_id))
                except SyncFailed as exc:
                    report.errors.append(str(exc))
        return report
