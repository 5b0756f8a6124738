"""A composite appointment is cancelled whole: never "cancelled" while a segment still stands in Cal.com."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.calcom.sandbox import CalcomSandbox, CallKind, DemoSalon, OutgoingWebhook
from composite_booking.db.models import Appointment, AppointmentSlot, OutboxMessage
from composite_booking.domain.cancellation import AppointmentCancellation
from composite_booking.domain.statuses import AppointmentStatus
from composite_booking.jobs.outbox import OutboxWorker
from tests.conftest import WEBHOOK_SECRET, Tenant
from tests.factories import SlotSpec, make_appointment, make_world

START = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Berlin


@pytest.fixture
def cut_event_type_id(sandbox: CalcomSandbox, calcom_salon: DemoSalon) -> int:
    event_type = sandbox.add_event_type(
        calcom_salon.team_id,
        title="Segment",
        slug="segment",
        lengthInMinutes=30,
        schedulingType="collective",
        hosts=[{"userId": calcom_salon.emma_id}],
        minimumBookingNotice=0,
    )
    return event_type.id


async def booked_chain(
    sandbox: CalcomSandbox,
    event_type_id: int,
    tenant: Tenant,
    session_factory: async_sessionmaker[AsyncSession],
) -> tuple[int, list[str]]:
    """Three segments booked in the sandbox, with a held pause row between the first two."""
    starts = [START, START + timedelta(minutes=60), START + timedelta(minutes=120)]
    uids = [sandbox.add_booking(event_type_id, start).uid for start in starts]
    world = await make_world(session_factory, company_id=tenant.company_id)
    emma = world.staff_ids[0]
    slots = [
        SlotSpec(key, emma, start, 30, calcom_booking_uid=uid)
        for key, start, uid in zip("ABC", starts, uids, strict=True)
    ]
    slots.append(SlotSpec("A", emma, START + timedelta(minutes=30), 30, kind="pause", status="held"))
    return await make_appointment(session_factory, world, slots), uids


async def state(
    session_factory: async_sessionmaker[AsyncSession], appointment_id: int
) -> tuple[str, list[Any]]:
    async with session_factory() as session:
        appointment = await session.get(Appointment, appointment_id)
        assert appointment is not None
        slots = (
            await session.execute(
                select(AppointmentSlot).where(AppointmentSlot.appointment_id == appointment_id)
            )
        ).scalars()
        return appointment.status, sorted((s.kind, s.segment_key, s.status, s.active) for s in slots)


async def test_cancel_runs_until_nothing_stands(
    app: FastAPI,
    tenant: Tenant,
    sandbox: CalcomSandbox,
    cut_event_type_id: int,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    appointment_id, uids = await booked_chain(sandbox, cut_event_type_id, tenant, session_factory)
    cancellation = AppointmentCancellation(session_factory, app.state.calcom)
    sandbox.faults.set_error_rate(1.0, status=503, kinds=[CallKind.CANCEL_BOOKING])

    first = await cancellation.run(tenant.company_id, appointment_id, "Kundin sagt ab")
    assert first.status == AppointmentStatus.CANCELLATION_PENDING
    assert first.still_standing == 3
    status, slots = await state(session_factory, appointment_id)
    assert status == "cancellation_pending"
    assert [s[2] for s in slots if s[3]] == ["cancelling"] * 3
    assert ("pause", "A", "cancelled", False) in slots  # the held pause is released at once
    assert all(sandbox.booking(uid).status == "accepted" for uid in uids)

    sandbox.faults.set_error_rate(0.0)

    second = await cancellation.run(tenant.company_id, appointment_id, "Kundin sagt ab")
    assert second.status == AppointmentStatus.CANCELLED
    status, slots = await state(session_factory, appointment_id)
    assert status == "cancelled"
    assert all(not active for *_, active in slots)
    assert all(sandbox.booking(uid).status == "cancelled" for uid in uids)

    again = await cancellation.run(tenant.company_id, appointment_id, "noch einmal")
    assert again.status == AppointmentStatus.CANCELLED


async def test_an_already_cancelled_booking_counts_as_gone(
    app: FastAPI,
    tenant: Tenant,
    sandbox: CalcomSandbox,
    cut_event_type_id: int,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    appointment_id, uids = await booked_chain(sandbox, cut_event_type_id, tenant, session_factory)
    sandbox.cancel_booking(uids[1], reason="vorher abgesagt")
    result = await AppointmentCancellation(session_factory, app.state.calcom).run(
        tenant.company_id, appointment_id, "ganz absagen"
    )
    assert result.status == AppointmentStatus.CANCELLED


async def test_external_cancellation_with_cancel_policy_cancels_the_chain(
    app: FastAPI,
    tenant: Tenant,
    sandbox: CalcomSandbox,
    calcom_salon: DemoSalon,
    cut_event_type_id: int,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"calcom_external_change_policy": "cancel"})

    async def deliver(outgoing: OutgoingWebhook) -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
            await client.post("/v1/calcom/webhook", content=outgoing.body, headers=dict(outgoing.headers))

    sandbox.set_webhook_sender(deliver)
    sandbox.add_webhook(
        subscriber_url="http://app/v1/calcom/webhook",
        triggers=("BOOKING_CANCELLED",),
        secret=WEBHOOK_SECRET,
        team_id=calcom_salon.team_id,
    )
    appointment_id, uids = await booked_chain(sandbox, cut_event_type_id, tenant, session_factory)

    sandbox.cancel_booking(uids[0], reason="auf Cal.com abgesagt")
    await sandbox.flush_webhooks()
    worker: OutboxWorker = app.state.outbox_worker
    # The cancellation, then the cancellation e-mail it enqueues once nothing stands.
    assert await worker.run_once() == 2
    await sandbox.flush_webhooks()  # our own cancellations echo back; they change nothing

    status, slots = await state(session_factory, appointment_id)
    assert status == "cancelled"
    assert ("segment", "A", "cancelled_externally", False) in slots
    assert all(sandbox.booking(uid).status == "cancelled" for uid in uids)
    async with session_factory() as session:
        messages = (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars().all()
        appointment = await session.get(Appointment, appointment_id)
    assert [m.kind for m in messages] == ["appointments.cancel", "bookings.notify"]
    assert all(m.done_at is not None for m in messages)
    assert appointment is not None
    assert appointment.attention_reason == "segment A cancelled in Cal.com (auf Cal.com abgesagt)"
