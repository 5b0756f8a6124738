"""Branches, staff and services of one company."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from composite_booking.db.models import Branch, Service, Staff, StaffService

RowT = TypeVar("RowT", Branch, Staff, Service)


class _SoftDeletableRepository(Generic[RowT]):
    """Shared shape: rows of one company, soft-deleted rows invisible."""

    model: type[RowT]

    def __init__(self, session: AsyncSession, company_id: int) -> None:
        self._session = session
        self.company_id = company_id

    def _visible(self) -> Select[RowT]:
        return select(self.model).where(
            self.model.company_id == self.company_id, self.model.deleted_at.is_(None)
        )

    async def get(self, row_id: int) -> RowT | None:
        statement = self._with_relations(self._visible().where(self.model.id == row_id))
        # populate_existing: a row already in the session is reloaded with its current links.
        statement = statement.execution_options(populate_existing=True)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def list(self, *, limit: int, offset: int, filters: Sequence[Any] = ()) -> tuple[list[RowT], int]:
        base = self._visible().where(*filters)
        total = await self._session.scalar(select(func.count()).select_from(base.subquery()))
        page = self._with_relations(base.order_by(self.model.id).limit(limit).offset(offset))
        rows = list((await self._session.execute(page)).scalars())
        return rows, int(total or 0)

    async def existing_ids(self, ids: Sequence[int]) -> set[int]:
        if not ids:
            return set()
        statement = select(self.model.id).where(
            self.model.company_id == self.company_id,
            self.model.deleted_at.is_(None),
            self.model.id.in_(ids),
        )
        return set((await self._session.execute(statement)).scalars())

    def add(self, row: RowT) -> None:
        row.company_id = self.company_id
        self._session.add(row)

    async def flush(self) -> None:
        await self._session.flush()

    async def refresh(self, row: RowT) -> None:
        await self._session.refresh(row)

    async def soft_delete(self, row: RowT) -> None:
        row.deleted_at = datetime.now(UTC)
        await self._session.flush()

    def _with_relations(self, statement: Select[RowT]) -> Select[RowT]:
        return statement


class BranchRepository(_SoftDeletableRepository[Branch]):
    model = Branch

    async def count_members(self, branch_id: int) -> tuple[int, int]:
        """Live staff and services still attached to a branch."""
        staff = await self._session.scalar(
            select(func.count()).where(
                Staff.company_id == self.company_id, Staff.branch_id == branch_id, Staff.deleted_at.is_(None)
            )
        )
        services = await self._session.scalar(
            select(func.count()).where(
                Service.company_id == self.company_id,
                Service.branch_id == branch_id,
                Service.deleted_at.is_(None),
            )
        )
        return int(staff or 0), int(services or 0)


class StaffRepository(_SoftDeletableRepository[Staff]):
    model = Staff

    def _with_relations(self, statement: Select[Staff]) -> Select[Staff]:
        return statement.options(selectinload(Staff.service_links))

    async def staff_ids_by_service(self, service_ids: Sequence[int]) -> dict[int, list[int]]:
        """Live staff performing each service, in id order."""
        result: dict[int, list[int]] = {service_id: [] for service_id in service_ids}
        if not service_ids:
            return result
        statement = (
            select(StaffService.service_id, StaffService.staff_id)
            .join(Staff, Staff.id == StaffService.staff_id)
            .where(
                StaffService.company_id == self.company_id,
                StaffService.service_id.in_(service_ids),
                Staff.deleted_at.is_(None),
            )
            .order_by(StaffService.staff_id)
        )
        for service_id, staff_id in (await self._session.execute(statement)).all():
            result[service_id].append(staff_id)
        return result

    async def set_services_of_staff(self, staff: Staff, service_ids: Sequence[int]) -> None:
        await self._session.execute(delete(StaffService).where(StaffService.staff_id == staff.id))
        await self._insert_links([(staff.id, service_id) for service_id in sorted(set(service_ids))])

    async def set_staff_of_service(self, service_id: int, staff_ids: Sequence[int]) -> None:
        await self._session.execute(
            delete(StaffService).where(
                StaffService.company_id == self.company_id, StaffService.service_id == service_id
            )
        )
        await self._insert_links([(staff_id, service_id) for staff_id in sorted(set(staff_ids))])

    async def _insert_links(self, pairs: Sequence[tuple[int, int]]) -> None:
        if pairs:
            await self._session.execute(
                insert(StaffService),
                [
                    {"staff_id": staff_id, "service_id": service_id, "company_id": self.company_id}
                    for staff_id, service_id in pairs
                ],
            )


class ServiceRepository(_SoftDeletableRepository[Service]):
    model = Service
