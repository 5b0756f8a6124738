"""POST /v1/calcom/webhook: verified, idempotent, and it tells our own changes from external ones."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.calcom.sandbox import CalcomSandbox, DemoSalon, OutgoingWebhook
from composite_booking.db.models import Appointment, AppointmentSlot, CalcomWebhookEvent, OutboxMessage
from tests.conftest import WEBHOOK_SECRET, Tenant
from tests.factories import SlotSpec, World, make_appointment, make_world

T0 = datetime(2030, 6, 4, 8, 0, tzinfo=UTC)


def signed(body: bytes, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "X-Cal-Signature-256": signature}


def cancelled(uid: str, reason: str = "Kundin krank") -> bytes:
    document = {
        "triggerEvent": "BOOKING_CANCELLED",
        "createdAt": "2030-06-01T10:00:00.000Z",
        "payload": {"uid": uid, "status": "CANCELLED", "cancellationReason": reason},
    }
    return json.dumps(document).encode()


def rescheduled(old_uid: str, new_uid: str) -> bytes:
    document = {
        "triggerEvent": "BOOKING_RESCHEDULED",
        "createdAt": "2030-06-01T10:00:00.000Z",
        "payload": {"uid": new_uid, "rescheduleUid": old_uid, "startTime": "2030-06-05T12:00:00Z"},
    }
    return json.dumps(document).encode()


async def chain(
    session_factory: async_sessionmaker[AsyncSession], status: str = "confirmed"
) -> tuple[World, int]:
    world = await make_world(session_factory)
    emma = world.staff_ids[0]
    appointment_id = await make_appointment(
        session_factory,
        world,
        [
            SlotSpec("A", emma, T0, 30, calcom_booking_uid="uid-a"),
            SlotSpec("B", emma, T0 + timedelta(minutes=60), 15, calcom_booking_uid="uid-b"),
        ],
        status=status,
    )
    return world, appointment_id


async def load(
    session_factory: async_sessionmaker[AsyncSession], appointment_id: int
) -> tuple[Appointment, list[AppointmentSlot]]:
    async with session_factory() as session:
        appointment = await session.get(Appointment, appointment_id)
        assert appointment is not None
        slots = (
            (
                await session.execute(
                    select(AppointmentSlot)
                    .where(AppointmentSlot.appointment_id == appointment_id)
                    .order_by(AppointmentSlot.position)
                )
            )
            .scalars()
            .all()
        )
        return appointment, list(slots)


async def events(session_factory: async_sessionmaker[AsyncSession]) -> int:
    async with session_factory() as session:
        return int((await session.execute(select(func.count()).select_from(CalcomWebhookEvent))).scalar_one())


async def test_bad_or_missing_signature_is_refused_and_nothing_is_done(
    anonymous: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    _, appointment_id = await chain(session_factory)
    body = cancelled("uid-a")
    for headers in ({"content-type": "application/json"}, signed(body, secret="wrong"), signed(body + b" ")):
        response = await anonymous.post("/v1/calcom/webhook", content=body, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
    assert await events(session_factory) == 0
    appointment, slots = await load(session_factory, appointment_id)
    assert appointment.attention_reason is None
    assert all(s.active for s in slots)


async def test_external_cancellation_flags_the_appointment_and_redelivery_is_harmless(
    anonymous: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    _, appointment_id = await chain(session_factory)
    body = cancelled("uid-b")
    response = await anonymous.post("/v1/calcom/webhook", content=body, headers=signed(body))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "outcome": "flagged for attention",
        "duplicate": False,
        "appointment_id": appointment_id,
    }
    appointment, slots = await load(session_factory, appointment_id)
    assert appointment.attention_reason == "segment B cancelled in Cal.com (Kundin krank)"
    assert appointment.attention_since is not None
    assert [(s.segment_key, s.status, s.active) for s in slots] == [
        ("A", "booked", True),
        ("B", "cancelled_externally", False),
    ]
    version = appointment.version

    again = await anonymous.post("/v1/calcom/webhook", content=body, headers=signed(body))
    assert again.json()["duplicate"] is True
    appointment, _ = await load(session_factory, appointment_id)
    assert appointment.version == version
    assert await events(session_factory) == 1


async def held_pause_chain(session_factory: async_sessionmaker[AsyncSession], policy: str) -> int:
    world = await make_world(session_factory, policy=policy)
    emma = world.staff_ids[0]
    return await make_appointment(
        session_factory,
        world,
        [
            SlotSpec("A", emma, T0, 30, calcom_booking_uid="uid-a"),
            SlotSpec("A", emma, T0 + timedelta(minutes=30), 30, calcom_booking_uid="uid-hold", kind="pause"),
            SlotSpec("B", emma, T0 + timedelta(minutes=60), 15, calcom_booking_uid="uid-b"),
        ],
    )


async def test_a_held_pause_cancelled_in_calcom_is_a_release_and_the_appointment_stands(
    anonymous: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    appointment_id = await held_pause_chain(session_factory, "blocked")
    body = cancelled("uid-hold", reason="Emma hat Zeit")
    response = await anonymous.post("/v1/calcom/webhook", content=body, headers=signed(body))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "pause released in Cal.com"
    appointment, slots = await load(session_factory, appointment_id)
    assert appointment.attention_reason is None
    assert appointment.status == "confirmed"
    assert sorted((s.kind, s.segment_key, s.status, s.active) for s in slots) == [
        ("pause", "A", "released", False),
        ("segment", "A", "booked", True),
        ("segment", "B", "booked", True),
    ]


async def test_a_never_released_pause_cancelled_in_calcom_is_flagged(
    anonymous: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    appointment_id = await held_pause_chain(session_factory, "never")
    body = cancelled("uid-hold", reason="versehentlich")
    response = await anonymous.post("/v1/calcom/webhook", content=body, headers=signed(body))
    assert response.json()["outcome"] == "flagged for attention"
    appointment, slots = await load(session_factory, appointment_id)
    assert appointment.attention_reason == "pause after A cancelled in Cal.com (versehentlich)"
    assert ("pause", "cancelled_externally", False) in {(s.kind, s.status, s.active) for s in slots}


async def test_external_reschedule_is_recorded(
    anonymous: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    _, appointment_id = await chain(session_factory)
    body = rescheduled("uid-a", "uid-a2")
    response = await anonymous.post("/v1/calcom/webhook", content=body, headers=signed(body))
    assert response.json()["outcome"] == "flagged for attention"
    appointment, slots = await load(session_factory, appointment_id)
    assert appointment.attention_reason == "segment A moved in Cal.com to 2030-06-05T12:00:00Z"
    assert slots[0].status == "moved_externally"


async def test_our_own_cancellation_echo_changes_nothing(
    anonymous: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    _, appointment_id = await chain(session_factory, status="cancellation_pending")
    body = cancelled("uid-a")
    response = await anonymous.post("/v1/calcom/webhook", content=body, headers=signed(body))
    assert response.json()["outcome"] == "own change"
    appointment, _ = await load(session_factory, appointment_id)
    assert appointment.attention_reason is None


async def test_unknown_bookings_and_other_triggers_are_logged_and_ignored(
    anonymous: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    unknown = cancelled("someone-elses-booking")
    response = await anonymous.post("/v1/calcom/webhook", content=unknown, headers=signed(unknown))
    assert response.json()["outcome"] == "ignored: not a booking of ours"
    created = json.dumps({"triggerEvent": "BOOKING_CREATED", "payload": {"uid": "x"}}).encode()
    response = await anonymous.post("/v1/calcom/webhook", content=created, headers=signed(created))
    assert response.json()["outcome"] == "ignored: trigger not handled"
    assert await events(session_factory) == 2


async def test_malformed_body_is_a_422(anonymous: httpx.AsyncClient) -> None:
    for body in (b"not json", b"[1, 2]"):
        response = await anonymous.post("/v1/calcom/webhook", content=body, headers=signed(body))
        assert response.status_code == 422


async def test_cancel_policy_enqueues_cancelling_the_whole_chain(
    app: FastAPI, anonymous: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"calcom_external_change_policy": "cancel"})
    _, appointment_id = await chain(session_factory)
    body = cancelled("uid-a")
    response = await anonymous.post("/v1/calcom/webhook", content=body, headers=signed(body))
    assert response.json()["outcome"] == "cancelling appointment"
    async with session_factory() as session:
        message = (await session.execute(select(OutboxMessage))).scalar_one()
    assert message.kind == "appointments.cancel"
    assert message.payload["appointment_id"] == appointment_id


async def test_without_a_configured_secret_webhooks_are_refused(
    app: FastAPI, anonymous: httpx.AsyncClient
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"calcom_webhook_secret": None})
    body = cancelled("uid-a")
    response = await anonymous.post("/v1/calcom/webhook", content=body, headers=signed(body))
    assert response.status_code == 503


async def test_sandbox_delivery_end_to_end(
    app: FastAPI,
    tenant: Tenant,
    sandbox: CalcomSandbox,
    calcom_salon: DemoSalon,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Cal.com (the sandbox) signs and delivers; our endpoint verifies and flags the appointment."""
    received: list[dict[str, Any]] = []

    async def deliver_to_app(outgoing: OutgoingWebhook) -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
            response = await client.post(
                "/v1/calcom/webhook", content=outgoing.body, headers=dict(outgoing.headers)
            )
            received.append({"status": response.status_code, **response.json()})

    sandbox.set_webhook_sender(deliver_to_app)
    sandbox.add_webhook(
        subscriber_url="http://app/v1/calcom/webhook",
        triggers=("BOOKING_CANCELLED",),
        secret=WEBHOOK_SECRET,
        team_id=calcom_salon.team_id,
    )
    event_type = sandbox.add_event_type(
        calcom_salon.team_id,
        title="Cut",
        slug="cut",
        lengthInMinutes=30,
        schedulingType="collective",
        hosts=[{"userId": calcom_salon.emma_id}],
        minimumBookingNotice=0,
    )
    start = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Berlin
    booking = sandbox.add_booking(event_type.id, start)
    world = await make_world(session_factory, company_id=tenant.company_id)
    appointment_id = await make_appointment(
        session_factory, world, [SlotSpec("A", world.staff_ids[0], start, 30, calcom_booking_uid=booking.uid)]
    )

    sandbox.cancel_booking(booking.uid, reason="Termin abgesagt")
    await sandbox.flush_webhooks()

    assert received == [
        {
            "status": 200,
            "outcome": "flagged for attention",
            "duplicate": False,
            "appointment_id": appointment_id,
        }
    ]
    appointment, _ = await load(session_factory, appointment_id)
    assert appointment.attention_reason == "segment A cancelled in Cal.com (Termin abgesagt)"
