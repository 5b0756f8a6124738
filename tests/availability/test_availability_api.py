"""GET /v1/availability and /v1/availability/gap-fill against the Cal.com sandbox."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.app import create_app
from composite_booking.availability.service import AvailabilityService
from composite_booking.calcom.sandbox import CalcomSandbox, CallKind, DemoSalon
from composite_booking.config import Settings
from composite_booking.db.models import Customer
from tests.conftest import Salon, TenantFactory
from tests.factories import SlotSpec, World, make_appointment

BERLIN = ZoneInfo("Europe/Berlin")


def next_tuesday(weeks_ahead: int = 2) -> date:
    day = datetime.now(BERLIN).date() + timedelta(weeks=weeks_ahead)
    return day + timedelta(days=(1 - day.weekday()) % 7)


DAY = next_tuesday()


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


def local(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def availability(salon: Salon, **params: Any) -> dict[str, Any]:
    query = {"service_id": salon.service["id"], "start": DAY.isoformat(), "end": DAY.isoformat(), **params}
    response = await salon.tenant.client.get("/v1/availability", params=query)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def busy_event_type(sandbox: CalcomSandbox, calcom_salon: DemoSalon, user_id: int) -> int:
    return sandbox.add_event_type(
        calcom_salon.team_id,
        title=f"Other {user_id}",
        slug=f"other-{user_id}",
        lengthInMinutes=30,
        schedulingType="collective",
        hosts=[{"userId": user_id}],
        minimumBookingNotice=0,
    ).id


async def test_an_empty_day_offers_every_grid_start_that_fits(salon: Salon) -> None:
    answer = await availability(salon)
    starts = [local(s["starts_at"]) for s in answer["slots"]]
    # 150 minutes from 09:00 to the last start that ends by 18:00, every 15 minutes.
    assert starts[0] == at(9)
    assert starts[-1] == at(15, 30)
    assert len(starts) == 27
    first = answer["slots"][0]
    assert first["staff"] == {"id": salon.staff["Emma"], "name": "Emma"}  # tie: the lower staff id
    assert [(s["key"], local(s["starts_at"]), local(s["ends_at"])) for s in first["segments"]] == [
        ("A", at(9), at(9, 30)),
        ("B", at(10), at(10, 15)),
        ("C", at(10, 15), at(10, 45)),
        ("D", at(11), at(11, 30)),
    ]
    assert [
        (p["after_key"], local(p["starts_at"]), local(p["ends_at"]), p["policy"]) for p in first["pauses"]
    ] == [
        ("A", at(9, 30), at(10), "free"),
        ("C", at(10, 45), at(11), "free"),
    ]
    assert first["starts_at"].endswith(at(9).strftime("%z")[:3] + ":00")
    assert answer["reasons"] == []
    assert answer["nearest"] == []


async def test_free_pauses_may_wrap_around_other_bookings_but_segments_never_overlap(
    salon: Salon, sandbox: CalcomSandbox, calcom_salon: DemoSalon
) -> None:
    other = busy_event_type(sandbox, calcom_salon, calcom_salon.emma_id)
    sandbox.add_booking(other, at(9, 30).astimezone(UTC))  # Emma busy 09:30–10:00, inside A's pause
    sandbox.add_booking(other, at(12).astimezone(UTC))  # and 12:00–12:30
    answer = await availability(salon, staff_id=salon.staff["Emma"])
    slots = {local(s["starts_at"]): s for s in answer["slots"]}
    assert at(9) in slots, "A 09:00–09:30 and B from 10:00: the busy half hour sits in the free pause"
    busy = [(at(9, 30), at(10)), (at(12), at(12, 30))]
    for slot in answer["slots"]:
        assert slot["staff"]["id"] == salon.staff["Emma"]
        for segment in slot["segments"]:
            start, end = local(segment["starts_at"]), local(segment["ends_at"])
            assert all(end <= b_start or start >= b_end for b_start, b_end in busy), slot["starts_at"]
    assert at(9, 15) not in slots  # A would run into 09:30


async def test_blocked_policy_needs_the_pauses_free_too(
    salon: Salon, sandbox: CalcomSandbox, calcom_salon: DemoSalon
) -> None:
    await salon.tenant.client.patch(
        f"/v1/services/{salon.service['id']}", json={"pause_bookable_policy": "blocked"}
    )
    other = busy_event_type(sandbox, calcom_salon, calcom_salon.emma_id)
    sandbox.add_booking(other, at(9, 30).astimezone(UTC))
    answer = await availability(salon, staff_id=salon.staff["Emma"])
    starts = {local(s["starts_at"]) for s in answer["slots"]}
    assert at(9) not in starts
    assert answer["slots"][0]["pauses"][0]["held_by_staff_id"] == salon.staff["Emma"]


async def test_one_calcom_request_per_staff_member_then_none_while_cached(
    app: FastAPI, salon: Salon, sandbox: CalcomSandbox
) -> None:
    await availability(salon)  # creates the probe event types on first use
    service: AvailabilityService = app.state.availability
    for staff_id in salon.staff.values():
        await service.invalidate(staff_id)
    before = sandbox.faults.calls(CallKind.GET_SLOTS)
    await availability(salon)
    assert sandbox.faults.calls(CallKind.GET_SLOTS) - before == len(salon.staff)
    await availability(salon)
    await availability(salon, end=(DAY - timedelta(days=0)).isoformat())
    assert sandbox.faults.calls(CallKind.GET_SLOTS) - before == len(salon.staff), "warm: no Cal.com request"
    assert sandbox.faults.calls(CallKind.CREATE_EVENT_TYPE) == len(salon.staff)  # the probes, once


async def test_a_pinned_staff_member_costs_one_calcom_request(
    app: FastAPI, salon: Salon, sandbox: CalcomSandbox
) -> None:
    await availability(salon)
    for staff_id in salon.staff.values():
        await app.state.on_staff_calendar_changed(staff_id)
    before = sandbox.faults.calls(CallKind.GET_SLOTS)
    answer = await availability(salon, staff_id=salon.staff["Fabian"])
    assert sandbox.faults.calls(CallKind.GET_SLOTS) - before == 1
    assert {s["staff"]["id"] for s in answer["slots"]} == {salon.staff["Fabian"]}


async def test_a_webhook_invalidates_the_cached_free_time(
    app: FastAPI, salon: Salon, sandbox: CalcomSandbox
) -> None:
    await availability(salon)
    before = sandbox.faults.calls(CallKind.GET_SLOTS)
    await app.state.on_staff_calendar_changed(salon.staff["Emma"])
    await availability(salon)
    assert sandbox.faults.calls(CallKind.GET_SLOTS) - before == 1


async def test_time_we_hold_ourselves_is_not_offered(
    salon: Salon, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world = World(
        salon.tenant.company_id, salon.branch_id, list(salon.staff.values()), 0, salon.service["id"]
    )
    async with session_factory() as session, session.begin():
        customer = Customer(company_id=salon.tenant.company_id, name="Kim")
        session.add(customer)
        await session.flush()
        world = World(world.company_id, world.branch_id, world.staff_ids, customer.id, world.service_id)
    # A booking still in flight (held in PostgreSQL, not yet in Cal.com) blocks Emma 09:00–12:00.
    await make_appointment(
        session_factory,
        world,
        [SlotSpec("A", salon.staff["Emma"], at(9), 180, status="held")],
        status="pending",
    )
    answer = await availability(salon, staff_id=salon.staff["Emma"])
    assert all(local(s["starts_at"]) >= at(12) for s in answer["slots"])
    anyone = await availability(salon)
    assert anyone["slots"][0]["staff"]["id"] == salon.staff["Fabian"]
    assert local(anyone["slots"][0]["starts_at"]) == at(9)


async def test_nothing_fits_says_why_and_offers_the_next_slots(salon: Salon) -> None:
    monday = DAY - timedelta(days=1)  # the salon is closed on Mondays
    answer = await availability(salon, start=monday.isoformat(), end=monday.isoformat())
    assert answer["slots"] == []
    assert answer["reasons"][0]["code"] == "no_free_time"
    # One slot per start time: Tuesday 09:00, 09:15, 09:30.
    assert [local(s["starts_at"]) for s in answer["nearest"]] == [at(9), at(9, 15), at(9, 30)]


async def test_reasons_when_nobody_can_do_it(salon: Salon) -> None:
    await salon.tenant.client.patch(f"/v1/services/{salon.service['id']}", json={"staff_ids": []})
    answer = await availability(salon)
    assert [r["code"] for r in answer["reasons"]] == ["no_eligible_staff"]


async def test_rendering_zone_and_limit(salon: Salon) -> None:
    answer = await availability(salon, timezone="America/New_York", limit=2)
    assert answer["timezone"] == "America/New_York"
    assert len(answer["slots"]) == 2
    assert answer["has_more"] is True
    assert local(answer["slots"][0]["starts_at"]) == at(9)
    assert answer["slots"][0]["starts_at"].endswith("-05:00") or answer["slots"][0]["starts_at"].endswith(
        "-04:00"
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2030-01-01T09:00:00"}, "start"),
        ({"start": "tomorrow"}, "start"),
        ({"end": "2020-01-01"}, "end"),
        ({"end": "2099-01-01"}, "end"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"limit": 0}, "limit"),
        ({"staff_id": 999_999}, "staff_id"),
    ],
)
async def test_bad_queries_name_the_field(salon: Salon, params: dict[str, Any], field: str) -> None:
    query = {"service_id": salon.service["id"], "start": DAY.isoformat(), "end": DAY.isoformat(), **params}
    response = await salon.tenant.client.get("/v1/availability", params=query)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field


async def test_another_company_cannot_see_the_service(salon: Salon, make_tenant: TenantFactory) -> None:
    other = await make_tenant("Other salon")
    response = await other.client.get(
        "/v1/availability",
        params={"service_id": salon.service["id"], "start": DAY.isoformat(), "end": DAY.isoformat()},
    )
    assert response.status_code == 404
    gap = await other.client.get(
        "/v1/availability/gap-fill", params={"staff_id": salon.staff["Emma"], "date": DAY.isoformat()}
    )
    assert gap.status_code == 404


async def test_resolver_places_a_chain_exactly_and_gives_back_a_moved_chains_time(
    app: FastAPI, salon: Salon, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    resolver: AvailabilityService = app.state.slot_resolver
    company, service_id, emma = salon.tenant.company_id, salon.service["id"], salon.staff["Emma"]
    placed = await resolver.resolve(company, service_id, at(10), staff_id=emma)
    assert placed is not None
    assert placed.starts_at == at(10)
    assert [s.key for s in placed.segments] == ["A", "B", "C", "D"]
    assert await resolver.resolve(company, service_id, at(10, 7), staff_id=emma) is None  # off the grid
    assert await resolver.resolve(company, service_id, at(17), staff_id=emma) is None  # would end after 18:00

    async with session_factory() as session, session.begin():
        customer = Customer(company_id=company, name="Kim")
        session.add(customer)
        await session.flush()
        customer_id = customer.id
    world = World(company, salon.branch_id, [emma], customer_id, service_id)
    appointment_id = await make_appointment(
        session_factory,
        world,
        [
            SlotSpec(s.key, emma, s.starts_at, int((s.ends_at - s.starts_at).total_seconds() // 60))
            for s in placed.segments
        ],
    )
    assert await resolver.resolve(company, service_id, at(10, 15), staff_id=emma) is None
    moved = await resolver.resolve(
        company, service_id, at(10, 15), staff_id=emma, ignore_appointment_id=appointment_id
    )
    assert moved is not None
    alternatives = await resolver.alternatives(company, service_id, at(10), staff_id=emma, count=3)
    assert len(alternatives) == 3
    assert alternatives[0].staff_id == emma


async def test_gap_fill_lists_the_pauses_and_what_fits_into_them(
    salon: Salon,
    sandbox: CalcomSandbox,
    calcom_salon: DemoSalon,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    company, emma = salon.tenant.company_id, salon.staff["Emma"]
    cut = await salon.tenant.client.post(
        "/v1/services",
        json={"branch_id": salon.branch_id, "name": "Haarschnitt", "duration_min": 30, "staff_ids": [emma]},
    )
    assert cut.status_code == 201
    # Emma's colour appointment at 10:00: A 10:00–10:30, pause to 11:00, B, C to 11:45, pause to 12:00, D.
    lengths = {"A": 30, "B": 15, "C": 30, "D": 30}
    starts = {"A": at(10), "B": at(11), "C": at(11, 15), "D": at(12)}
    event_types = {
        minutes: sandbox.add_event_type(
            calcom_salon.team_id,
            title=f"Segment {minutes}",
            slug=f"segment-{minutes}",
            lengthInMinutes=minutes,
            schedulingType="collective",
            hosts=[{"userId": calcom_salon.emma_id}],
            minimumBookingNotice=0,
        ).id
        for minutes in (15, 30)
    }
    uids = {
        key: sandbox.add_booking(event_types[lengths[key]], starts[key].astimezone(UTC)).uid for key in starts
    }
    async with session_factory() as session, session.begin():
        customer = Customer(company_id=company, name="Kim")
        session.add(customer)
        await session.flush()
        customer_id = customer.id
    world = World(company, salon.branch_id, [emma], customer_id, salon.service["id"])
    await make_appointment(
        session_factory,
        world,
        [SlotSpec(key, emma, starts[key], lengths[key], calcom_booking_uid=uids[key]) for key in starts],
    )

    response = await salon.tenant.client.get(
        "/v1/availability/gap-fill", params={"staff_id": emma, "date": DAY.isoformat()}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["staff"] == {"id": emma, "name": "Emma"}
    assert answer["timezone"] == "Europe/Berlin"
    pauses = [(local(p["starts_at"]), local(p["ends_at"])) for p in answer["pauses"]]
    assert pauses == [(at(10, 30), at(11)), (at(11, 45), at(12))]
    processing, short = answer["pauses"]
    assert [(f["name"], local(f["starts_at"])) for f in processing["services"]] == [
        ("Haarschnitt", at(10, 30))
    ]
    assert short["services"] == []


async def test_availability_works_with_redis_down(
    app_settings: Settings, sandbox: CalcomSandbox, salon: Salon
) -> None:
    """The cache is an efficiency measure: with Redis configured but dead, answers come from Cal.com."""
    settings = app_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app), base_url="http://c") as http:
        app = create_app(settings, calcom_http=http)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://test",
                headers={"Authorization": f"Bearer {salon.tenant.api_key}"},
            ) as client,
        ):
            query = {"service_id": salon.service["id"], "start": DAY.isoformat(), "end": DAY.isoformat()}
            response = await client.get("/v1/availability", params=query)
            assert response.status_code == 200, response.text
            assert len(response.json()["slots"]) == 27
