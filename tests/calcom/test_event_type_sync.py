"""Hidden segment event types: created once, changed exactly where the service changed, drift repaired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.calcom.sandbox import CalcomSandbox, CallKind, DemoSalon
from composite_booking.calcom.sync import EventTypeSync
from composite_booking.db.models import CalcomEventMap, OutboxMessage
from composite_booking.db.repositories.outbox import OutboxRepository
from composite_booking.jobs.handlers import schedule_drift_check
from composite_booking.jobs.outbox import OutboxWorker
from tests.api.conftest import COLOUR_SEGMENTS, create
from tests.conftest import Salon, Tenant


def sync_of(app: FastAPI) -> EventTypeSync:
    sync: EventTypeSync = app.state.event_type_sync
    return sync


def managed(sandbox: CalcomSandbox) -> list[Any]:
    return [e for e in sandbox.event_types if e.slug.startswith("cb-")]


async def mappings(session_factory: async_sessionmaker[AsyncSession]) -> list[CalcomEventMap]:
    async with session_factory() as session:
        rows = await session.execute(
            select(CalcomEventMap).order_by(CalcomEventMap.segment_key, CalcomEventMap.staff_id)
        )
        return list(rows.scalars())


async def test_first_sync_creates_one_hidden_event_type_per_segment_and_staff(
    app: FastAPI,
    salon: Salon,
    sandbox: CalcomSandbox,
    calcom_salon: DemoSalon,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    report = await sync_of(app).sync_service(salon.tenant.company_id, salon.service["id"])
    assert (report.created, report.updated, report.deleted, report.errors) == (8, 0, 0, [])

    event_types = managed(sandbox)
    assert len(event_types) == 4 * 2
    by_slug = {e.slug: e for e in event_types}
    colour_emma = by_slug[f"cb-s{salon.service['id']}-a-st{salon.staff['Emma']}"]
    assert colour_emma.title == "Ansatzfärbung – A: Färben (1/4)"
    assert colour_emma.length_in_minutes == 30
    assert colour_emma.hidden is True
    assert [h.user_id for h in colour_emma.hosts] == [calcom_salon.emma_id]
    assert colour_emma.after_event_buffer == 0  # policy free: the pause stays bookable
    assert {e.length_in_minutes for e in event_types} == {30, 15}

    rows = await mappings(session_factory)
    assert len(rows) == 8
    assert {r.sync_status for r in rows} == {"synced"}
    assert {r.event_type_id for r in rows} == {e.id for e in event_types}
    assert all(r.last_synced_at is not None for r in rows)


async def test_second_sync_makes_no_calls(app: FastAPI, salon: Salon, sandbox: CalcomSandbox) -> None:
    sync = sync_of(app)
    await sync.sync_service(salon.tenant.company_id, salon.service["id"])
    calls_before = dict(sandbox.faults.call_counts)
    report = await sync.sync_service(salon.tenant.company_id, salon.service["id"])
    assert (report.created, report.updated, report.deleted, report.unchanged) == (0, 0, 0, 8)
    assert dict(sandbox.faults.call_counts) == calls_before
    assert len(managed(sandbox)) == 8


async def test_changes_propagate_exactly(
    app: FastAPI, salon: Salon, sandbox: CalcomSandbox, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    sync, company, service_id = sync_of(app), salon.tenant.company_id, salon.service["id"]
    client = salon.tenant.client
    await sync.sync_service(company, service_id)
    ids_before = {e.slug: e.id for e in managed(sandbox)}

    # A longer cut: only the two "C" event types change, in place.
    segments = [dict(s) for s in COLOUR_SEGMENTS]
    segments[2]["duration_min"] = 45
    await client.patch(f"/v1/services/{service_id}", json={"segments": segments})
    report = await sync.sync_service(company, service_id)
    assert (report.created, report.updated, report.deleted) == (0, 2, 0)
    cut = [e for e in managed(sandbox) if "-c-" in e.slug]
    assert {e.length_in_minutes for e in cut} == {45}
    assert {e.slug: e.id for e in managed(sandbox)} == ids_before

    # Blocked policy: each held pause (after A and after C) gets its own event type per staff member; no
    # event type carries a buffer (a buffer could not be given back when a pause is released).
    await client.patch(f"/v1/services/{service_id}", json={"pause_bookable_policy": "blocked"})
    report = await sync.sync_service(company, service_id)
    assert (report.created, report.updated, report.deleted) == (4, 0, 0)
    emma = salon.staff["Emma"]
    pauses = {e.slug: e for e in managed(sandbox) if e.slug.startswith("cb-p")}
    assert {slug: e.length_in_minutes for slug, e in pauses.items() if slug.endswith(f"-st{emma}")} == {
        f"cb-p{service_id}-a-st{emma}": 30,
        f"cb-p{service_id}-c-st{emma}": 15,
    }
    assert pauses[f"cb-p{service_id}-a-st{emma}"].title == "Ansatzfärbung – A: pause after Färben (held)"
    assert {e.after_event_buffer for e in managed(sandbox)} == {0}
    assert all(e.hidden for e in pauses.values())
    assert {(m.segment_key, m.part) for m in await mappings(session_factory)} >= {
        ("A", "pause"),
        ("C", "pause"),
    }

    # Segment D removed (C, now last, loses its pause): D's and C's pause event types go, the segments' titles
    # change to (n/3).
    without_d = [*segments[:2], {**segments[2], "gap_after_min": 0}]
    response = await client.patch(f"/v1/services/{service_id}", json={"segments": without_d})
    assert response.status_code == 200, response.text
    report = await sync.sync_service(company, service_id)
    assert (report.created, report.updated, report.deleted) == (0, 6, 4)
    assert not [e for e in managed(sandbox) if "-d-" in e.slug or e.slug.startswith(f"cb-p{service_id}-c-")]

    # Fabian no longer performs it: his three segments and his pause go; the rest stays Emma's.
    await client.patch(f"/v1/services/{service_id}", json={"staff_ids": [emma]})
    report = await sync.sync_service(company, service_id)
    assert report.deleted == 4
    remaining = managed(sandbox)
    assert len(remaining) == 4
    assert all(e.slug.endswith(f"-st{emma}") for e in remaining)
    assert len(await mappings(session_factory)) == 4

    # A new name reaches the titles.
    await client.patch(f"/v1/services/{service_id}", json={"name": "Ansatz"})
    await sync.sync_service(company, service_id)
    assert sorted(e.title for e in managed(sandbox))[0].startswith("Ansatz – A:")

    # Deleting the service removes everything.
    await client.delete(f"/v1/services/{service_id}")
    report = await sync.sync_service(company, service_id)
    assert report.deleted == 4
    assert managed(sandbox) == []
    assert await mappings(session_factory) == []


async def test_simple_service_gets_one_event_type_per_staff(
    app: FastAPI, salon: Salon, sandbox: CalcomSandbox
) -> None:
    simple = await create(
        salon.tenant.client,
        "/v1/services",
        {
            "branch_id": salon.branch_id,
            "name": "Haarschnitt",
            "duration_min": 30,
            "staff_ids": list(salon.staff.values()),
        },
    )
    report = await sync_of(app).sync_service(salon.tenant.company_id, simple["id"])
    assert report.created == 2
    made = [e for e in managed(sandbox) if e.slug.startswith(f"cb-s{simple['id']}-")]
    assert {e.title for e in made} == {"Haarschnitt"}
    assert {e.length_in_minutes for e in made} == {30}


async def test_staff_without_calcom_user_is_recorded_as_error(
    app: FastAPI, salon: Salon, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    newcomer = await create(salon.tenant.client, "/v1/staff", {"branch_id": salon.branch_id, "name": "Nina"})
    await salon.tenant.client.patch(
        f"/v1/services/{salon.service['id']}", json={"staff_ids": [*salon.staff.values(), newcomer["id"]]}
    )
    report = await sync_of(app).sync_service(salon.tenant.company_id, salon.service["id"])
    assert report.created == 8
    assert len(report.errors) == 4
    assert "no calcom_user_id" in report.errors[0]
    response = await salon.tenant.client.get(f"/v1/services/{salon.service['id']}/calcom-mappings")
    nina = [m for m in response.json() if m["staff_id"] == newcomer["id"]]
    assert {m["sync_status"] for m in nina} == {"error"}
    assert all("no calcom_user_id" in m["sync_error"] for m in nina)


async def test_lost_create_answer_is_adopted_not_duplicated(
    app: FastAPI, salon: Salon, sandbox: CalcomSandbox
) -> None:
    # Cal.com creates the event type but the answer is lost (a 500 after the effect).
    sandbox.faults.fail(CallKind.CREATE_EVENT_TYPE, nth=1, status=500, after_effect=True)
    report = await sync_of(app).sync_service(salon.tenant.company_id, salon.service["id"])
    assert report.created == 8
    assert report.errors == []
    slugs = [e.slug for e in managed(sandbox)]
    assert len(slugs) == len(set(slugs)) == 8


async def test_cal_com_outage_never_blocks_saving_and_the_outbox_catches_up(
    app: FastAPI,
    tenant: Tenant,
    calcom_salon: DemoSalon,
    sandbox: CalcomSandbox,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    sandbox.faults.set_error_rate(
        1.0, status=500, kinds=[CallKind.CREATE_EVENT_TYPE, CallKind.LIST_EVENT_TYPES]
    )
    branch = await create(
        tenant.client,
        "/v1/branches",
        {"name": "B", "timezone": "Europe/Berlin", "calcom_team_id": calcom_salon.team_id},
    )
    emma = await create(
        tenant.client,
        "/v1/staff",
        {"branch_id": branch["id"], "name": "Emma", "calcom_user_id": calcom_salon.emma_id},
    )
    service = await create(
        tenant.client,
        "/v1/services",
        {"branch_id": branch["id"], "name": "Cut", "duration_min": 30, "staff_ids": [emma["id"]]},
    )
    now = [datetime.now(UTC)]
    worker = OutboxWorker(session_factory, app.state.outbox_worker._handlers, clock=lambda: now[0])
    await worker.run_once()
    async with session_factory() as session:
        message = (await session.execute(select(OutboxMessage))).scalar_one()
    assert message.done_at is None
    assert message.last_error is not None
    assert "SyncFailed" in message.last_error
    assert managed(sandbox) == []

    sandbox.faults.set_error_rate(0.0)
    assert await worker.run_once() == 0  # not due yet: backing off
    now[0] += timedelta(minutes=2)
    assert await worker.run_once() == 1
    assert [e.title for e in managed(sandbox)] == ["Cut"]
    response = await tenant.client.get(f"/v1/services/{service['id']}/calcom-mappings")
    assert [m["sync_status"] for m in response.json()] == ["synced"]


async def test_saving_a_service_twice_during_a_sync_runs_it_again(
    app: FastAPI, salon: Salon, sandbox: CalcomSandbox, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    worker: OutboxWorker = app.state.outbox_worker
    # The message enqueued by creating the service is claimed; a save meanwhile bumps its generation.
    original = worker._handlers["calcom.sync_service"]

    runs: list[int] = []

    async def sync_then_change_once(message: Any) -> None:
        await original(message)
        runs.append(message.generation)
        if len(runs) == 1:
            await salon.tenant.client.patch(f"/v1/services/{salon.service['id']}", json={"name": "Neu"})

    worker._handlers["calcom.sync_service"] = sync_then_change_once
    try:
        handled = await worker.run_once()
    finally:
        worker._handlers["calcom.sync_service"] = original
    # The change made during the first run bumped the generation, so the same pass ran it again.
    assert handled == 2
    assert runs == [runs[0], runs[0] + 1]
    assert all(e.title.startswith("Neu – ") for e in managed(sandbox))
    async with session_factory() as session:
        assert (await session.execute(select(OutboxMessage.done_at))).scalar_one() is not None


async def test_drift_is_detected_shown_and_repaired(
    app: FastAPI, salon: Salon, sandbox: CalcomSandbox, calcom_salon: DemoSalon
) -> None:
    sync, company = sync_of(app), salon.tenant.company_id
    await sync.sync_service(company, salon.service["id"])
    by_slug = {e.slug: e for e in managed(sandbox)}
    prefix = f"cb-s{salon.service['id']}"
    emma, fabian = salon.staff["Emma"], salon.staff["Fabian"]
    lengthened = by_slug[f"{prefix}-a-st{emma}"]
    unhidden = by_slug[f"{prefix}-b-st{emma}"]
    rehosted = by_slug[f"{prefix}-c-st{fabian}"]
    deleted = by_slug[f"{prefix}-d-st{fabian}"]
    admin = {"Authorization": f"Bearer {calcom_salon.api_key}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app), base_url="http://c"
    ) as calcom:
        base = f"/v2/teams/{calcom_salon.team_id}/event-types"
        assert (
            await calcom.patch(f"{base}/{lengthened.id}", json={"lengthInMinutes": 50}, headers=admin)
        ).is_success
        assert (await calcom.patch(f"{base}/{unhidden.id}", json={"hidden": False}, headers=admin)).is_success
        hosts = {"hosts": [{"userId": calcom_salon.david_id}]}
        assert (await calcom.patch(f"{base}/{rehosted.id}", json=hosts, headers=admin)).is_success
        assert (await calcom.delete(f"{base}/{deleted.id}", headers=admin)).is_success

    report = await sync.detect_drift(company)
    assert report.checked == 8
    assert len(report.drifted) == 4
    response = await salon.tenant.client.get(f"/v1/services/{salon.service['id']}/calcom-mappings")
    drift = {(m["segment_key"], m["staff_id"]): m for m in response.json() if m["drift"]}
    assert drift[("A", emma)]["drift"]["fields"] == {"lengthInMinutes": {"expected": 30, "actual": 50}}
    assert drift[("B", emma)]["drift"]["fields"] == {"hidden": {"expected": True, "actual": False}}
    assert drift[("C", fabian)]["drift"]["fields"]["hosts"] == {
        "expected": [calcom_salon.fabian_id],
        "actual": [calcom_salon.david_id],
    }
    assert drift[("D", fabian)]["drift"]["deleted"] is True
    assert all(m["sync_status"] == "drifted" and m["drift_detected_at"] for m in drift.values())

    # A second check keeps "since when".
    first_seen = drift[("A", emma)]["drift_detected_at"]
    await sync.detect_drift(company)
    again = await salon.tenant.client.get(f"/v1/services/{salon.service['id']}/calcom-mappings")
    assert {
        m["drift_detected_at"] for m in again.json() if m["segment_key"] == "A" and m["staff_id"] == emma
    } == {first_seen}

    repaired = await sync.repair_drift(company)
    assert (repaired.updated, repaired.created) == (3, 1)
    restored = {e.slug: e for e in managed(sandbox)}
    assert restored[f"{prefix}-a-st{emma}"].length_in_minutes == 30
    assert restored[f"{prefix}-b-st{emma}"].hidden is True
    assert [h.user_id for h in restored[f"{prefix}-c-st{fabian}"].hosts] == [calcom_salon.fabian_id]
    assert restored[f"{prefix}-d-st{fabian}"].id != deleted.id
    assert (await sync.detect_drift(company)).drifted == []
    final = await salon.tenant.client.get(f"/v1/services/{salon.service['id']}/calcom-mappings")
    assert {m["sync_status"] for m in final.json()} == {"synced"}
    assert all(m["drift"] is None for m in final.json())


async def test_periodic_drift_check_records_drift_and_comes_back(
    app: FastAPI,
    salon: Salon,
    sandbox: CalcomSandbox,
    calcom_salon: DemoSalon,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await sync_of(app).sync_service(salon.tenant.company_id, salon.service["id"])
    async with session_factory() as session, session.begin():
        await session.execute(OutboxMessage.__table__.delete())
    victim = managed(sandbox)[0]
    admin = {"Authorization": f"Bearer {calcom_salon.api_key}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app), base_url="http://c"
    ) as calcom:
        await calcom.delete(f"/v2/teams/{calcom_salon.team_id}/event-types/{victim.id}", headers=admin)

    now = [datetime.now(UTC)]
    async with session_factory() as session, session.begin():
        await schedule_drift_check(OutboxRepository(session), at=now[0])
    worker = OutboxWorker(session_factory, app.state.outbox_worker._handlers, clock=lambda: now[0])
    assert await worker.run_once() == 1

    response = await salon.tenant.client.get(f"/v1/services/{salon.service['id']}/calcom-mappings")
    drifted = [m for m in response.json() if m["drift"]]
    assert [m["event_type_id"] for m in drifted] == [victim.id]
    async with session_factory() as session:
        message = (await session.execute(select(OutboxMessage))).scalar_one()
    assert message.done_at is None, "a recurring job is rescheduled, not finished"
    interval = timedelta(seconds=app.state.settings.calcom_drift_interval_s)
    # The handler takes "now" from the app's clock: the next run is an interval away, give or take.
    assert abs(message.available_at - (now[0] + interval)) < timedelta(seconds=30)
    assert await worker.run_once() == 0
