"""The booking saga log: sagas, their steps, the lease and the fencing version.

Not tenant-scoped: the recovery worker serves every company. Each saga carries its company id, and the
booking code only ever reaches a saga through an appointment of the caller's company.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from composite_booking.db.models import BookingSaga, BookingSagaStep

OPEN_STATES = ("booking", "compensating", "cleaning_up")


class SagaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, row: BookingSaga | BookingSagaStep) -> None:
        self._session.add(row)

    async def flush(self) -> None:
        await self._session.flush()

    async def fence(self, saga_id: int, version: int, *, lease_until: datetime) -> bool:
        """Renew the lease, but only if nobody took the saga over since `version` (the fencing token).

        Every write of a saga's driver starts with this, in the same transaction: the row stays locked
        until that transaction ends, so a takeover can never slip between the check and the write.
        """
        result = await self._session.execute(
            update(BookingSaga)
            .where(BookingSaga.id == saga_id, BookingSaga.version == version)
            .values(lease_until=lease_until)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def mark_intent(self, step_ids: Sequence[int], *, state: str, now: datetime) -> None:
        """Record that these steps are about to call Cal.com (one transaction for a whole batch)."""
        await self._session.execute(
            update(BookingSagaStep)
            .where(BookingSagaStep.id.in_(step_ids))
            .values(state=state, intent_at=now, attempts=BookingSagaStep.attempts + 1)
        )

    async def get(self, saga_id: int) -> BookingSaga | None:
        statement = (
            select(BookingSaga)
            .where(BookingSaga.id == saga_id)
            .options(selectinload(BookingSaga.steps))
            .execution_options(populate_existing=True)
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def update_saga(self, saga_id: int, **values: Any) -> None:
        await self._session.execute(update(BookingSaga).where(BookingSaga.id == saga_id).values(**values))

    async def update_step(self, step_id: int, **values: Any) -> None:
        await self._session.execute(
            update(BookingSagaStep).where(BookingSagaStep.id == step_id).values(**values)
        )

    async def update_steps(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Each step its own values (`id` names the step; every row sets the same columns): one
        executemany, sent to PostgreSQL as one pipelined batch."""
        if rows:
            await self._session.execute(update(BookingSagaStep), list(rows))

    async def open_saga_of(self, appointment_id: int) -> BookingSaga | None:
        statement = (
            select(BookingSaga)
            .where(BookingSaga.appointment_id == appointment_id, BookingSaga.state.in_(OPEN_STATES))
            .order_by(BookingSaga.id.desc())
            .limit(1)
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def count_confirmed(self, appointment_id: int, kind: str) -> int:
        statement = select(func.count()).where(
            BookingSaga.appointment_id == appointment_id,
            BookingSaga.kind == kind,
            BookingSaga.state.in_(("cleaning_up", "confirmed")),
        )
        return int((await self._session.execute(statement)).scalar_one())

    async def claim_expired(self, *, now: datetime, lease: timedelta, limit: int) -> list[tuple[int, int]]:
        """Take over open sagas whose driver's lease ran out: (id, new version) each.

        Rows another worker is claiming are skipped, never waited for; the version bump fences the
        previous driver out should it still be alive.
        """
        expired = (
            select(BookingSaga.id)
            .where(BookingSaga.state.in_(OPEN_STATES), BookingSaga.lease_until < now)
            .order_by(BookingSaga.lease_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("expired")
        )
        rows = await self._session.execute(
            update(BookingSaga)
            .where(BookingSaga.id.in_(select(expired.c.id)))
            .values(
                version=BookingSaga.version + 1,
                lease_until=now + lease,
                recoveries=BookingSaga.recoveries + 1,
            )
            .returning(BookingSaga.id, BookingSaga.version)
        )
        return sorted((int(saga_id), int(version)) for saga_id, version in rows.all())

    async def claim_rechecks(self, *, now: datetime, limit: int) -> list[BookingSaga]:
        """Finished sagas due for the late-booking check; cleared here (a failed check sets it again)."""
        due = (
            select(BookingSaga.id)
            .where(BookingSaga.recheck_at.is_not(None), BookingSaga.recheck_at <= now)
            .order_by(BookingSaga.recheck_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        ids = (
            await self._session.execute(
                update(BookingSaga)
                .where(BookingSaga.id.in_(select(due.c.id)))
                .values(recheck_at=None)
                .returning(BookingSaga.id)
            )
        ).scalars()
        claimed = sorted(int(saga_id) for saga_id in ids)
        if not claimed:
            return []
        statement = (
            select(BookingSaga)
            .where(BookingSaga.id.in_(claimed))
            .options(selectinload(BookingSaga.steps))
            .order_by(BookingSaga.id)
        )
        return list((await self._session.execute(statement)).scalars())

    async def steps_of(self, saga_id: int, step_ids: Sequence[int]) -> list[BookingSagaStep]:
        statement = select(BookingSagaStep).where(
            BookingSagaStep.saga_id == saga_id, BookingSagaStep.id.in_(step_ids)
        )
        return list((await self._session.execute(statement)).scalars())
