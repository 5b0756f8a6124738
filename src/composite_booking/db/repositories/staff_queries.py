"""Queries about staff that several repositories share."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from composite_booking.db.models import Staff, StaffService


async def staff_performing(
    session: AsyncSession, company_id: int, service_id: int
) -> list[tuple[int, str, int | None]]:
    """(id, name, calcom_user_id) of the live, active staff who perform a service, in id order."""
    rows = await session.execute(
        select(Staff.id, Staff.name, Staff.calcom_user_id)
        .join(StaffService, StaffService.staff_id == Staff.id)
        .where(
            Staff.company_id == company_id,
            StaffService.service_id == service_id,
            Staff.deleted_at.is_(None),
            Staff.active.is_(True),
        )
        .order_by(Staff.id)
    )
    return [(int(staff_id), str(name), user_id) for staff_id, name, user_id in rows.all()]
