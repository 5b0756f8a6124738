"""Saga recovery: finish or compensate every booking saga whose driver died, from its persisted log.

Any number of workers may run: a saga is claimed only once its lease ran out, with `FOR UPDATE SKIP LOCKED`,
and the claim bumps the saga's fencing `version`, so a driver that was merely slow stops at its next write.
`composite-booking recover` runs one pass; `serve` runs it every `RECOVERY_INTERVAL_S` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.db.repositories.idempotency import purge_expired_keys
from composite_booking.db.repositories.sagas import SagaRepository
from composite_booking.domain.booking.saga import BookingSagaRunner, SagaRef, SagaTakenOver
from composite_booking.domain.booking.states import SagaState

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass
class RecoveryReport:
    taken_over: int = 0
    confirmed: int = 0
    compensated: int = 0
    still_open: list[int] = field(default_factory=list)
    rechecked: int = 0
    keys_forgotten: int = 0

    def __str__(self) -> str:
        return (
            f"sagas taken over: {self.taken_over} (confirmed {self.confirmed}, "
            f"compensated {self.compensated}, still open {len(self.still_open)}); "
            f"late-booking checks: {self.rechecked}; "
            f"expired idempotency keys forgotten: {self.keys_forgotten}"
        )


class SagaRecovery:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        runner: BookingSagaRunner,
        *,
        clock: Clock,
        recheck_after: timedelta = timedelta(minutes=5),
        batch_size: int = 10,
    ) -> None:
        self._session_factory = session_factory
        self._runner = runner
        self._clock = clock
        self._recheck_after = recheck_after
        self._batch_size = batch_size

    async def run_once(self) -> RecoveryReport:
        report = RecoveryReport()
        seen: set[int] = set()
        while True:
            async with self._session_factory() as session, session.begin():
                claimed = await SagaRepository(session).claim_expired(
                    now=self._clock(), lease=self._runner.lease, limit=self._batch_size
                )
            fresh = [(saga_id, version) for saga_id, version in claimed if saga_id not in seen]
            if not fresh:
                break
            for saga_id, version in fresh:
                seen.add(saga_id)
                report.taken_over += 1
                await self._drive(SagaRef(saga_id, version), report)
        report.rechecked = await self._recheck_late_bookings()
        async with self._session_factory() as session, session.begin():
            report.keys_forgotten = await purge_expired_keys(session, now=self._clock())
        if report.taken_over or report.rechecked:
            log.info("saga recovery: %s", report)
        return report

    async def _drive(self, ref: SagaRef, report: RecoveryReport) -> None:
        try:
            outcome = await self._runner.drive(ref)
        except SagaTakenOver:
            return  # another worker claimed it after our lease ran out; it is theirs now
        except Exception:  # one broken saga must not stop the others; its lease brings it back later
            log.exception("recovering saga %s failed", ref.id)
            report.still_open.append(ref.id)
            return
        if outcome.state is SagaState.CONFIRMED:
            report.confirmed += 1
        elif outcome.state is SagaState.COMPENSATED:
            report.compensated += 1
        else:
            report.still_open.append(ref.id)

    async def _recheck_late_bookings(self) -> int:
        async with self._session_factory() as session, session.begin():
            due = await SagaRepository(session).claim_rechecks(now=self._clock(), limit=self._batch_size)
        for saga in due:
            if not await self._runner.recheck(saga):
                async with self._session_factory() as session, session.begin():
                    await SagaRepository(session).update_saga(
                        saga.id, recheck_at=self._clock() + self._recheck_after
                    )
        return len(due)

    async def run_forever(self, stop: asyncio.Event, *, interval_s: float) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:  # database blips must not kill the loop
                log.exception("saga recovery pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
