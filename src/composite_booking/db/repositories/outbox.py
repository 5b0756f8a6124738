"""The outbox: durable work, enqueued in the same transaction as the change that caused it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from composite_booking.db.models import OutboxMessage


@dataclass(frozen=True)
class ClaimedMessage:
    id: int
    kind: str
    payload: dict[str, Any]
    company_id: int | None
    generation: int
    attempts: int


class OutboxRepository:
    """Not tenant-scoped: workers serve every company. Messages carry their company id."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        company_id: int | None = None,
        dedupe_key: str | None = None,
        available_at: datetime | None = None,
    ) -> None:
        """Add work. With a `dedupe_key` at most one message is pending; a repeat bumps its generation.

        The bump matters while a worker holds the message: it will see the new generation and run again,
        so a change made during a sync is never lost.
        """
        values: dict[str, Any] = {
            "kind": kind,
            "payload": payload,
            "company_id": company_id,
            "dedupe_key": dedupe_key,
        }
        if available_at is not None:
            values["available_at"] = available_at
        statement = insert(OutboxMessage).values(**values)
        if dedupe_key is not None:
            statement = statement.on_conflict_do_update(
                index_elements=["kind", "dedupe_key"],
                index_where=text("done_at IS NULL AND dedupe_key IS NOT NULL"),
                set_={
                    "generation": OutboxMessage.generation + 1,
                    "payload": statement.excluded.payload,
                    "available_at": func.least(OutboxMessage.available_at, statement.excluded.available_at),
                    "updated_at": func.now(),
                },
            )
        await self._session.execute(statement)

    async def claim_due(
        self, kinds: Sequence[str], *, now: datetime, lease: timedelta, limit: int
    ) -> list[ClaimedMessage]:
        """Lease up to `limit` due messages; rows another worker holds are skipped, never waited for."""
        due = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.done_at.is_(None),
                OutboxMessage.kind.in_(kinds),
                OutboxMessage.available_at <= now,
                (OutboxMessage.locked_until.is_(None)) | (OutboxMessage.locked_until < now),
            )
            .order_by(OutboxMessage.available_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        statement = (
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(select(due.c.id)))
            .values(locked_until=now + lease, attempts=OutboxMessage.attempts + 1)
            .returning(
                OutboxMessage.id,
                OutboxMessage.kind,
                OutboxMessage.payload,
                OutboxMessage.company_id,
                OutboxMessage.generation,
                OutboxMessage.attempts,
            )
        )
        rows = (await self._session.execute(statement)).all()
        return sorted((ClaimedMessage(*row) for row in rows), key=lambda m: m.id)

    async def complete(self, message: ClaimedMessage, *, now: datetime) -> bool:
        """Mark done unless it was re-enqueued meanwhile; then release it to run again (returns False)."""
        done = await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id, OutboxMessage.generation == message.generation)
            .values(done_at=now, locked_until=None, last_error=None)
        )
        if done.rowcount:  # type: ignore[attr-defined]
            return True
        await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id)
            .values(locked_until=None, attempts=0, available_at=now)
        )
        return False

    async def reschedule(self, message: ClaimedMessage, *, at: datetime) -> None:
        """Run the same message again at `at` (a recurring job); its failure count starts over."""
        await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id)
            .values(locked_until=None, available_at=at, attempts=0, last_error=None)
        )

    async def fail(self, message: ClaimedMessage, *, error: str, retry_at: datetime) -> None:
        await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id)
            .values(locked_until=None, available_at=retry_at, last_error=error[:2000])
        )

    async def pending(self, kind: str | None = None) -> list[OutboxMessage]:
        statement = select(OutboxMessage).where(OutboxMessage.done_at.is_(None)).order_by(OutboxMessage.id)
        if kind is not None:
            statement = statement.where(OutboxMessage.kind == kind)
        return list((await self._session.execute(statement)).scalars())
