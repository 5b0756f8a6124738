"""Webhooks: management endpoints, the delivered payloads, signatures, and delivery off the request path."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from composite_booking.calcom.sandbox import SIGNATURE_HEADER, CalcomSandbox, DemoSalon, OutgoingWebhook

if TYPE_CHECKING:
    from conftest import SandboxApi

SECRET = "whsec-demo"
TRIGGERS = ["BOOKING_CREATED", "BOOKING_CANCELLED", "BOOKING_RESCHEDULED"]


class Inbox:
    """A webhook sender that only records what it was given."""

    def __init__(self) -> None:
        self.received: list[OutgoingWebhook] = []

    async def __call__(self, outgoing: OutgoingWebhook) -> None:
        self.received.append(outgoing)

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(o.body) for o in self.received]


@pytest.fixture
def inbox(sandbox: CalcomSandbox) -> Inbox:
    recorder = Inbox()
    sandbox.set_webhook_sender(recorder)
    return recorder


@pytest.fixture
async def cut(api: SandboxApi, salon: DemoSalon) -> dict[str, Any]:
    return await api.create_event_type("cut", hosts=[salon.emma_id])


async def _subscribe(api: SandboxApi, **extra: Any) -> dict[str, Any]:
    body = {
        "subscriberUrl": "https://app.example/hooks/calcom",
        "active": True,
        "triggers": TRIGGERS,
        **extra,
    }
    response = await api.client.post("/v2/webhooks", json=body, headers=api.auth)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_webhook_management(api: SandboxApi, salon: DemoSalon) -> None:
    created = await _subscribe(api, secret=SECRET)
    duplicate = await api.client.post(
        "/v2/webhooks",
        json={"subscriberUrl": "https://app.example/hooks/calcom", "active": True, "triggers": TRIGGERS},
        headers=api.auth,
    )
    listed = await api.client.get("/v2/webhooks", headers=api.auth)
    patched = await api.client.patch(
        f"/v2/webhooks/{created['id']}", json={"active": False}, headers=api.auth
    )
    deleted = await api.client.delete(f"/v2/webhooks/{created['id']}", headers=api.auth)
    gone = await api.client.get(f"/v2/webhooks/{created['id']}", headers=api.auth)

    assert created == {
        "id": created["id"],
        "subscriberUrl": "https://app.example/hooks/calcom",
        "triggers": TRIGGERS,
        "active": True,
        "payloadTemplate": None,
        "userId": salon.admin_user_id,
        "secret": SECRET,
    }
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "ConflictException"
    assert listed.json()["data"] == [created]
    assert patched.json()["data"]["active"] is False
    assert deleted.status_code == 200
    assert gone.status_code == 404


async def test_webhook_body_is_validated(api: SandboxApi) -> None:
    response = await api.client.post(
        "/v2/webhooks",
        json={"subscriberUrl": "https://x", "triggers": ["BOOKING_EXPLODED"]},
        headers=api.auth,
    )

    assert response.status_code == 400
    assert {e["property"] for e in response.json()["error"]["details"]["errors"]} == {"active", "triggers"}


async def test_booking_created_is_signed_and_carries_the_booking(
    api: SandboxApi, sandbox: CalcomSandbox, salon: DemoSalon, cut: dict[str, Any], inbox: Inbox
) -> None:
    await _subscribe(api, secret=SECRET)
    booking = await api.booked(cut["id"], "2030-01-08T09:00:00Z", metadata={"compositeUid": "c-9"})

    await sandbox.flush_webhooks()

    [delivery] = inbox.received
    assert delivery.url == "https://app.example/hooks/calcom"
    assert delivery.headers["Content-Type"] == "application/json"
    expected = hmac.new(SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(delivery.headers[SIGNATURE_HEADER], expected)
    body = json.loads(delivery.body)
    assert body["triggerEvent"] == "BOOKING_CREATED"
    assert body["createdAt"] == "2030-01-07T08:00:00.000Z"
    payload = body["payload"]
    assert payload["uid"] == booking["uid"]
    assert payload["bookingId"] == booking["id"]
    assert payload["eventTypeId"] == cut["id"]
    assert payload["type"] == "cut"
    assert payload["startTime"] == "2030-01-08T09:00:00Z"
    assert payload["endTime"] == "2030-01-08T10:00:00Z"
    assert payload["length"] == 60
    assert payload["status"] == "ACCEPTED"
    assert payload["metadata"]["compositeUid"] == "c-9"
    assert payload["organizer"]["id"] == salon.emma_id
    assert payload["organizer"]["utcOffset"] == 60  # Berlin in January
    assert payload["attendees"][0]["email"] == "anna@example.com"
    assert payload["responses"]["email"] == {"label": "email_address", "value": "anna@example.com"}


async def test_cancel_and_reschedule_payloads(
    api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any], inbox: Inbox
) -> None:
    await _subscribe(api, secret=SECRET)
    first = await api.booked(cut["id"], "2030-01-08T09:00:00Z")
    moved = (await api.reschedule(first["uid"], "2030-01-08T12:00:00Z")).json()["data"]
    await api.cancel(moved["uid"], reason="Ill")

    await sandbox.flush_webhooks()

    created, rescheduled, cancelled = inbox.payloads()
    triggers = [created["triggerEvent"], rescheduled["triggerEvent"], cancelled["triggerEvent"]]
    assert triggers == ["BOOKING_CREATED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED"]
    assert rescheduled["payload"]["uid"] == moved["uid"]
    assert rescheduled["payload"]["rescheduleUid"] == first["uid"]
    assert rescheduled["payload"]["rescheduleId"] == first["id"]
    assert rescheduled["payload"]["rescheduleStartTime"] == "2030-01-08T09:00:00Z"
    assert rescheduled["payload"]["startTime"] == "2030-01-08T12:00:00Z"
    assert cancelled["payload"]["uid"] == moved["uid"]
    assert cancelled["payload"]["status"] == "CANCELLED"
    assert cancelled["payload"]["cancellationReason"] == "Ill"
    assert cancelled["payload"]["cancelledBy"] == "admin@salon-demo.example"


async def test_without_secret_the_header_says_so(
    api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any], inbox: Inbox
) -> None:
    await _subscribe(api)
    await api.booked(cut["id"], "2030-01-08T09:00:00Z")

    await sandbox.flush_webhooks()

    assert inbox.received[0].headers[SIGNATURE_HEADER] == "no-secret-provided"


async def test_only_matching_active_subscriptions_fire(
    api: SandboxApi, sandbox: CalcomSandbox, salon: DemoSalon, cut: dict[str, Any], inbox: Inbox
) -> None:
    await _subscribe(api, subscriberUrl="https://a.example/cancel-only", triggers=["BOOKING_CANCELLED"])
    await _subscribe(api, subscriberUrl="https://a.example/inactive", active=False)
    david_key = sandbox.issue_api_key(salon.david_id)
    await api.client.post(
        "/v2/webhooks",
        json={"subscriberUrl": "https://david.example", "active": True, "triggers": TRIGGERS},
        headers={"Authorization": f"Bearer {david_key}"},
    )
    sandbox.add_webhook(
        team_id=salon.team_id, subscriber_url="https://team.example", triggers=["BOOKING_CREATED"]
    )

    await api.booked(cut["id"], "2030-01-08T09:00:00Z")  # Emma's booking: David is neither host nor admin
    await sandbox.flush_webhooks()

    assert [o.url for o in inbox.received] == ["https://team.example"]


async def test_a_failing_subscriber_does_not_break_the_sandbox(
    api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any]
) -> None:
    async def refuse(outgoing: OutgoingWebhook) -> None:
        raise ConnectionError("subscriber down")

    sandbox.set_webhook_sender(refuse)
    await _subscribe(api)

    response = await api.book(cut["id"], "2030-01-08T09:00:00Z")
    await sandbox.flush_webhooks()

    assert response.status_code == 201
    assert sandbox.webhook_deliveries[0].error == "ConnectionError('subscriber down')"


async def test_delivery_happens_after_the_response(
    api: SandboxApi, sandbox: CalcomSandbox, cut: dict[str, Any]
) -> None:
    release = asyncio.Event()
    received: list[OutgoingWebhook] = []

    async def slow_subscriber(outgoing: OutgoingWebhook) -> None:
        await release.wait()
        received.append(outgoing)

    sandbox.set_webhook_sender(slow_subscriber)
    await _subscribe(api)

    response = await api.book(cut["id"], "2030-01-08T09:00:00Z")  # returns although the subscriber is stuck
    assert response.status_code == 201
    assert received == []
    release.set()
    await sandbox.flush_webhooks()

    assert len(received) == 1


async def test_bookings_made_in_python_fire_webhooks_too(
    sandbox: CalcomSandbox, salon: DemoSalon, inbox: Inbox
) -> None:
    event_type = sandbox.add_event_type(
        salon.team_id, title="Cut", slug="cut", lengthInMinutes=30, schedulingType="collective",
        hosts=[{"userId": salon.emma_id}], minimumBookingNotice=0,
    )  # fmt: skip
    sandbox.add_webhook(team_id=salon.team_id, subscriber_url="https://team.example", secret=SECRET)

    booking = sandbox.add_booking(event_type.id, datetime(2030, 1, 8, 9, 0, tzinfo=UTC))
    sandbox.cancel_booking(booking.uid, reason="No-show")
    await sandbox.flush_webhooks()

    assert [p["triggerEvent"] for p in inbox.payloads()] == ["BOOKING_CREATED", "BOOKING_CANCELLED"]
