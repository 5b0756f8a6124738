"""`calcom_event_map` and what the event-type sync reads about a service, scoped by company."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from composite_booking.calcom.event_types import MappingSnapshot, ServiceSnapshot, StaffSnapshot
from composite_booking.db.models import Branch, CalcomEventMap, Company, Service
from composite_booking.db.repositories.staff_queries import staff_performing
from composite_booking.domain.segments import PausePolicy, SlotKind, segment_from_json


class EventMapRepository:
    def __init__(self, session: AsyncSession, company_id: int) -> None:
        self._session = session
        self.company_id = company_id

    async def service_snapshot(self, service_id: int) -> tuple[ServiceSnapshot, int | None, int] | None:
        """The service (deleted ones too: their event types must go), its branch's Cal.com team and branch."""
        row = (
            await self._session.execute(
                select(Service, Branch.calcom_team_id)
                .join(Branch, Branch.id == Service.branch_id)
                .where(Service.company_id == self.company_id, Service.id == service_id)
            )
        ).one_or_none()
        if row is None:
            return None
        service, team_id = row
        snapshot = ServiceSnapshot(
            id=service.id,
            name=service.name,
            composite=service.composite,
            policy=PausePolicy(service.pause_bookable_policy),
            segments=tuple(segment_from_json(s) for s in service.segments),
            deleted=service.deleted_at is not None,
        )
        return snapshot, team_id, service.branch_id

    async def team_ids(self, service_ids: set[int]) -> dict[int, int | None]:
        """The Cal.com team of each service's branch."""
        rows = await self._session.execute(
            select(Service.id, Branch.calcom_team_id)
            .join(Branch, Branch.id == Service.branch_id)
            .where(Service.company_id == self.company_id, Service.id.in_(service_ids))
        )
        return {int(service_id): team_id for service_id, team_id in rows.all()}

    async def eligible_staff(self, service_id: int) -> list[StaffSnapshot]:
        """Live, active staff who perform the service."""
        performing = await staff_performing(self._session, self.company_id, service_id)
        return [StaffSnapshot(*row) for row in performing]

    async def mappings(self, service_id: int) -> list[CalcomEventMap]:
        statement = (
            select(CalcomEventMap)
            .where(CalcomEventMap.company_id == self.company_id, CalcomEventMap.service_id == service_id)
            .order_by(CalcomEventMap.segment_key, CalcomEventMap.part.desc(), CalcomEventMap.staff_id)
        )
        return list((await self._session.execute(statement)).scalars())

    async def mapping_snapshots(self, service_id: int) -> list[MappingSnapshot]:
        return [
            MappingSnapshot(
                id=m.id,
                segment_key=m.segment_key,
                staff_id=m.staff_id,
                event_type_id=m.event_type_id,
                slug=m.slug,
                sync_status=m.sync_status,
                synced_config=m.synced_config,
                part=SlotKind(m.part),
            )
            for m in await self.mappings(service_id)
        ]

    async def service_ids_with_work(self) -> list[int]:
        """Every live service, plus deleted ones that still have mappings to remove."""
        live = select(Service.id).where(Service.company_id == self.company_id, Service.deleted_at.is_(None))
        mapped = select(CalcomEventMap.service_id).where(CalcomEventMap.company_id == self.company_id)
        rows = await self._session.execute(live.union(mapped))
        return sorted(rows.scalars())

    async def upsert_pending(
        self,
        *,
        branch_id: int,
        service_id: int,
        segment_key: str,
        part: SlotKind,
        staff_id: int,
        slug: str,
        title: str | None,
    ) -> int:
        """Record the intent to create before calling Cal.com; returns the mapping id."""
        statement = (
            insert(CalcomEventMap)
            .values(
                company_id=self.company_id,
                branch_id=branch_id,
                service_id=service_id,
                segment_key=segment_key,
                part=part.value,
                staff_id=staff_id,
                slug=slug,
                title=title,
                sync_status="pending",
            )
            .on_conflict_do_update(
                index_elements=["service_id", "segment_key", "part", "staff_id"],
                set_={"slug": slug, "title": title, "sync_status": "pending", "updated_at": func.now()},
            )
            .returning(CalcomEventMap.id)
        )
        return int((await self._session.execute(statement)).scalar_one())

    async def mark_synced(
        self, mapping_id: int, *, event_type_id: int, config: dict[str, Any], title: str, now: datetime
    ) -> None:
        await self._update(
            mapping_id,
            event_type_id=event_type_id,
            synced_config=config,
            title=title,
            slug=config["slug"],
            sync_status="synced",
            sync_error=None,
            last_synced_at=now,
            drift=None,
            drift_detected_at=None,
        )

    async def mark_error(self, mapping_id: int, error: str) -> None:
        await self._update(mapping_id, sync_status="error", sync_error=error[:2000])

    async def mark_drift(self, mapping_id: int, drift: dict[str, Any], *, now: datetime) -> None:
        mapping = await self._session.get(CalcomEventMap, mapping_id)
        if mapping is None or mapping.company_id != self.company_id:
            return
        mapping.drift = drift
        mapping.drift_detected_at = mapping.drift_detected_at or now
        mapping.sync_status = "drifted"
        await self._session.flush()

    async def clear_drift(self, mapping_id: int) -> None:
        await self._update(mapping_id, drift=None, drift_detected_at=None, sync_status="synced")

    async def forget_remote_state(self, mapping_id: int, *, deleted_remotely: bool) -> None:
        """Make the next sync rewrite (or, when Cal.com lost it, recreate) this event type."""
        changes: dict[str, Any] = {"synced_config": None}
        if deleted_remotely:
            changes["event_type_id"] = None
        await self._update(mapping_id, **changes)

    async def remove(self, mapping_id: int) -> None:
        await self._session.execute(
            delete(CalcomEventMap).where(
                CalcomEventMap.company_id == self.company_id, CalcomEventMap.id == mapping_id
            )
        )

    async def drift_candidates(self) -> list[CalcomEventMap]:
        statement = (
            select(CalcomEventMap)
            .where(
                CalcomEventMap.company_id == self.company_id,
                CalcomEventMap.event_type_id.is_not(None),
                CalcomEventMap.sync_status.in_(("synced", "drifted")),
            )
            .order_by(CalcomEventMap.id)
        )
        return list((await self._session.execute(statement)).scalars())

    async def _update(self, mapping_id: int, **values: Any) -> None:
        await self._session.execute(
            update(CalcomEventMap)
            .where(CalcomEventMap.company_id == self.company_id, CalcomEventMap.id == mapping_id)
            .values(**values)
        )


async def company_ids(session: AsyncSession, only: Sequence[int] | None = None) -> list[int]:
    """Companies a cross-tenant job (sync, drift check) walks; `only` narrows it to the given ones."""
    statement = select(Company.id).order_by(Company.id)
    if only:
        statement = statement.where(Company.id.in_(only))
    return list((await session.execute(statement)).scalars())
