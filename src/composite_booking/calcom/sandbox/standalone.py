"""Serve the sandbox over real HTTP (`composite-booking calcom-sandbox --port N` calls this)."""

from __future__ import annotations

import asyncio
import logging

import httpx
import uvicorn

from composite_booking.calcom.sandbox.demo import seed_demo_salon
from composite_booking.calcom.sandbox.sandbox import CalcomSandbox
from composite_booking.calcom.sandbox.webhooks import WebhookSender, httpx_sender

logger = logging.getLogger(__name__)


def run_standalone(host: str, port: int, seed_demo: bool, *, api_key: str | None = None) -> None:
    """Run until interrupted; webhooks are POSTed to their subscriber URLs with httpx.

    The control API (`POST /_sandbox/faults`, `POST /_sandbox/reset-faults`) is on, for load tests.

    `api_key` makes the demo admin's key a known value (e.g. the app's CALCOM_API_KEY).
    """
    asyncio.run(_serve(host, port, seed_demo, api_key))


def standalone_sandbox(webhook_sender: WebhookSender | None) -> CalcomSandbox:
    """The sandbox `run_standalone` serves: the system clock, and the `/_sandbox/` control API switched on
    (a load generator in another process has no `sandbox.faults` to call)."""
    return CalcomSandbox(webhook_sender=webhook_sender, control_api=True)


async def _serve(host: str, port: int, seed_demo: bool, api_key: str | None) -> None:
    async with httpx.AsyncClient(timeout=10.0) as client:
        sandbox = standalone_sandbox(httpx_sender(client))
        if seed_demo:
            salon = seed_demo_salon(sandbox, api_key=api_key)
            logger.warning(
                "Cal.com sandbox seeded: team %s (id %s), staff %s, admin API key %s",
                salon.team_slug,
                salon.team_id,
                salon.staff_ids,
                salon.api_key,
            )
        server = uvicorn.Server(uvicorn.Config(sandbox.app, host=host, port=port, log_level="info"))
        await server.serve()
        await sandbox.flush_webhooks()
