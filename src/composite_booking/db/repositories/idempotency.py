"""Idempotency keys, scoped by company: claim, replay, complete, forget after their time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from composite_booking.db.models import IdempotencyKey

IN_FLIGHT = "in_flight"
COMPLETED = "completed"


class ClaimStatus(StrEnum):
    CLAIMED = "claimed"  # ours now: run the request
    REPLAY = "replay"  # answered before: send that answer again
    IN_FLIGHT = "in_flight"  # the first request with this key is still running
    MISMATCH = "mismatch"  # the key named a different request


@dataclass(frozen=True, slots=True)
class Claim:
    status: ClaimStatus
    key_id: int | None = None
    response_status: int | None = None
    response_body: dict[str, Any] | None = None


class IdempotencyRepository:
    def __init__(self, session: AsyncSession, company_id: int) -> None:
        self._session = session
        self.company_id = company_id

    async def claim(
        self,
        key: str,
        *,
        operation: str,
        fingerprint: str,
        now: datetime,
        expires_at: datetime,
        locked_until: datetime,
    ) -> Claim:
        """Take the key for this request, or say what the key already stands for.

        A concurrent claim of the same key waits here for the first one's transaction (the unique index),
        then sees its row: two requests with one key never both run.
        """
        values = {
            "company_id": self.company_id,
            "key": key,
            "operation": operation,
            "fingerprint": fingerprint,
            "state": IN_FLIGHT,
            "locked_until": locked_until,
            "created_at": now,
            "expires_at": expires_at,
        }
        inserted = await self._session.execute(
            insert(IdempotencyKey)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["company_id", "key"])
            .returning(IdempotencyKey.id)
        )
        key_id = inserted.scalar_one_or_none()
        if key_id is not None:
            return Claim(ClaimStatus.CLAIMED, key_id)
        row = (
            await self._session.execute(
                select(IdempotencyKey)
                .where(IdempotencyKey.company_id == self.company_id, IdempotencyKey.key == key)
                .with_for_update()
            )
        ).scalar_one()
        abandoned = (
            row.state == IN_FLIGHT
            and row.saga_id is None
            and row.locked_until is not None
            and row.locked_until < now
        )
        if row.expires_at <= now or (abandoned and row.fingerprint == fingerprint):
            # Expired keys are forgotten; a claim whose request died without a saga may be taken over.
            for name, value in values.items():
                setattr(row, name, value)
            row.saga_id = None
            row.response_status = None
            row.response_body = None
            await self._session.flush()
            return Claim(ClaimStatus.CLAIMED, row.id)
        if row.operation != operation or row.fingerprint != fingerprint:
            return Claim(ClaimStatus.MISMATCH, row.id)
        if row.state == COMPLETED:
            return Claim(ClaimStatus.REPLAY, row.id, row.response_status, row.response_body)
        return Claim(ClaimStatus.IN_FLIGHT, row.id)

    async def peek(self, key: str, *, operation: str, fingerprint: str, now: datetime) -> Claim | None:
        """What the key stands for right now, without claiming it (None: unknown or expired, so free)."""
        row = (
            await self._session.execute(
                select(IdempotencyKey).where(
                    IdempotencyKey.company_id == self.company_id, IdempotencyKey.key == key
                )
            )
        ).scalar_one_or_none()
        if row is None or row.expires_at <= now:
            return None
        if row.operation != operation or row.fingerprint != fingerprint:
            return Claim(ClaimStatus.MISMATCH, row.id)
        if row.state == COMPLETED:
            return Claim(ClaimStatus.REPLAY, row.id, row.response_status, row.response_body)
        abandoned = row.saga_id is None and row.locked_until is not None and row.locked_until < now
        return None if abandoned else Claim(ClaimStatus.IN_FLIGHT, row.id)

    async def attach_saga(self, key_id: int, saga_id: int) -> None:
        await self._session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.company_id == self.company_id, IdempotencyKey.id == key_id)
            .values(saga_id=saga_id, locked_until=None)
        )

    async def complete(self, key_id: int, *, status: int, body: dict[str, Any]) -> None:
        await self._session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.company_id == self.company_id, IdempotencyKey.id == key_id)
            .values(state=COMPLETED, response_status=status, response_body=body, locked_until=None)
        )

    async def forget(self, key_id: int) -> None:
        """Drop a claim whose request changed nothing and failed: a retry with the key runs afresh."""
        await self._session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.company_id == self.company_id, IdempotencyKey.id == key_id
            )
        )

    async def complete_for_saga(self, saga_id: int, *, status: int, body: dict[str, Any]) -> None:
        await self._session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.company_id == self.company_id,
                IdempotencyKey.saga_id == saga_id,
                IdempotencyKey.state == IN_FLIGHT,
            )
            .values(state=COMPLETED, response_status=status, response_body=body, locked_until=None)
        )


async def purge_expired_keys(session: AsyncSession, *, now: datetime) -> int:
    """Forget keys past their 24 hours (every company's; run by the recovery pass)."""
    result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
    return int(result.rowcount)  # type: ignore[attr-defined]
