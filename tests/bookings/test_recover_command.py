"""`composite-booking recover`: one recovery pass from the command line, against Cal.com over HTTP."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
from sqlalchemy import update

from composite_booking.db.models import BookingSaga
from composite_booking.domain.booking import Checkpoint
from tests.bookings.conftest import Salon, accepted, assert_settled
from tests.bookings.test_crash_recovery import Crash, crash_at, request


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_recover_finishes_a_crashed_booking(salon: Salon, test_database: str) -> None:
    with pytest.raises(Crash):
        await salon.bookings_service(checkpoint=crash_at(Checkpoint.CALLED, 2)).book(
            salon.company_id, request(salon, 10)
        )
    async with salon.session_factory() as session, session.begin():  # as if the lease had run out
        await session.execute(
            update(BookingSaga).values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(salon.sandbox.app, host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn offers only this flag)
            await asyncio.sleep(0.01)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "composite_booking",
            "recover",
            env={
                **os.environ,
                "DATABASE_URL": test_database,
                "CALCOM_API_KEY": salon.calcom.api_key,
                "CALCOM_BASE_URL": f"http://127.0.0.1:{port}",
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        server.should_exit = True
        await serving

    assert process.returncode == 0, stderr.decode()
    assert "sagas taken over: 1" in stdout.decode()
    assert len(accepted(salon.sandbox)) in (0, 4)
    await assert_settled(salon)
