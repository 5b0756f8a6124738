"""The demo's Cal.com: the bundled sandbox, in-process, persisted in the demo's data directory.

The sandbox state is written to `calcom-sandbox.json` after every request that can change it, so a restart
of the demo finds its event types and bookings as they were (and ids keep counting where they stopped).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from composite_booking.calcom.sandbox import CalcomSandbox, OutgoingWebhook, seed_demo_salon
from composite_booking.calcom.sandbox.demo import DEMO_TEAM_SLUG
from composite_booking.calcom.sandbox.snapshot import write_snapshot

SANDBOX_URL = "http://calcom.sandbox"
_STATE_FILE = "calcom-sandbox.json"
_SECRETS_FILE = "calcom-demo-secrets.json"
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class DemoCalendar:
    sandbox: CalcomSandbox
    team_id: int
    user_ids_by_name: dict[str, int]
    api_key: str
    webhook_secret: str
    state_file: Path

    def asgi_app(self) -> ASGIApp:
        """The sandbox's ASGI app, saving its state after every request that may have changed it."""
        sandbox, state_file, lock = self.sandbox, self.state_file, asyncio.Lock()
        inner = sandbox.app

        async def persisting(scope: Scope, receive: Receive, send: Send) -> None:
            await inner(scope, receive, send)
            if scope["type"] == "http" and scope["method"] not in _READS:
                async with lock:  # snapshot inside the lock: a later write never loses to an earlier one
                    document = sandbox.snapshot()
                    await asyncio.to_thread(write_snapshot, state_file, document)

        return persisting

    def http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.asgi_app()), base_url=SANDBOX_URL)

    def deliver_webhooks_to(self, app: ASGIApp) -> None:
        """Webhooks reach our own app in-process, signed as Cal.com signs them."""

        async def deliver(outgoing: OutgoingWebhook) -> None:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://demo"
            ) as client:
                await client.post("/v1/calcom/webhook", content=outgoing.body, headers=dict(outgoing.headers))

        self.sandbox.set_webhook_sender(deliver)


def open_demo_calendar(data_dir: Path, *, port: int) -> DemoCalendar:
    """Load the persisted sandbox, or seed a new one: the salon's team, stylists, hours, key and webhook."""
    state_file = data_dir / _STATE_FILE
    secrets_file = data_dir / _SECRETS_FILE
    sandbox = CalcomSandbox()
    if state_file.exists() and secrets_file.exists():
        sandbox.load(state_file)
        keys = json.loads(secrets_file.read_text(encoding="utf-8"))
    else:
        keys = {
            "api_key": "cal_demo_" + secrets.token_urlsafe(24),
            "webhook_secret": secrets.token_urlsafe(32),
        }
        salon = seed_demo_salon(sandbox, api_key=keys["api_key"])
        sandbox.add_webhook(
            subscriber_url=f"http://127.0.0.1:{port}/v1/calcom/webhook",
            triggers=("BOOKING_CANCELLED", "BOOKING_RESCHEDULED"),
            secret=keys["webhook_secret"],
            team_id=salon.team_id,
        )
        secrets_file.write_text(json.dumps(keys), encoding="utf-8")
        secrets_file.chmod(0o600)
        sandbox.save(state_file)
    team = sandbox.state.team_by_slug(DEMO_TEAM_SLUG)
    assert team is not None, "the demo sandbox has no salon team"
    return DemoCalendar(
        sandbox=sandbox,
        team_id=team.id,
        user_ids_by_name={user.name: user.id for user in sandbox.users},
        api_key=keys["api_key"],
        webhook_secret=keys["webhook_secret"],
        state_file=state_file,
    )
