"""Runs outbox messages: claim in a short transaction, handle outside any transaction, record the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.db.repositories.outbox import ClaimedMessage, OutboxRepository

log = logging.getLogger(__name__)

# A handler returns None when the work is done, or the time at which the same message should run again
# (recurring jobs such as the drift check).
Handler = Callable[[ClaimedMessage], Awaitable[datetime | None]]
Clock = Callable[[], datetime]

MAX_BACKOFF = timedelta(hours=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


def retry_delay(attempts: int, rng: random.Random) -> timedelta:
    """Exponential backoff from 5 s, capped at an hour, with jitter so failed messages do not stampede."""
    base = min(5.0 * 2 ** max(attempts - 1, 0), MAX_BACKOFF.total_seconds())
    return timedelta(seconds=base * rng.uniform(0.75, 1.25))


class OutboxWorker:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        handlers: Mapping[str, Handler],
        *,
        clock: Clock = utc_now,
        lease: timedelta = timedelta(minutes=5),
        batch_size: int = 10,
        rng: random.Random | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._handlers = dict(handlers)
        self._clock = clock
        self._lease = lease
        self._batch_size = batch_size
        self._rng = rng or random.Random()

    @property
    def kinds(self) -> list[str]:
        return sorted(self._handlers)

    async def run_once(self) -> int:
        """Handle every message due now (in batches); returns how many were handled."""
        handled = 0
        while True:
            async with self._session_factory() as session, session.begin():
                batch = await OutboxRepository(session).claim_due(
                    self.kinds, now=self._clock(), lease=self._lease, limit=self._batch_size
                )
            if not batch:
                return handled
            for message in batch:
                await self._handle(message)
                handled += 1

    async def _handle(self, message: ClaimedMessage) -> None:
        handler = self._handlers[message.kind]
        try:
            run_again_at = await handler(message)
        except Exception as exc:  # a failing message is retried later; the worker itself carries on
            delay = retry_delay(message.attempts, self._rng)
            log.warning(
                "outbox %s #%s failed (attempt %s), retry in %s: %r",
                message.kind,
                message.id,
                message.attempts,
                delay,
                exc,
            )
            async with self._session_factory() as session, session.begin():
                await OutboxRepository(session).fail(
                    message, error=f"{type(exc).__name__}: {exc}", retry_at=self._clock() + delay
                )
            return
        async with self._session_factory() as session, session.begin():
            outbox = OutboxRepository(session)
            if run_again_at is not None:
                await outbox.reschedule(message, at=run_again_at)
            else:
                await outbox.complete(message, now=self._clock())

    async def run_forever(self, stop: asyncio.Event, *, poll_interval_s: float = 1.0) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:  # database blips must not kill the loop
                log.exception("outbox worker pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_interval_s)
