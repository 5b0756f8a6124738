"""The demo's promise: booking service 177 makes four Cal.com bookings, leaves Emma's pauses bookable, and its
calendar file opens with four events."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.calcom.sandbox import CalcomSandbox, DemoSalon
from composite_booking.calcom.sync import EventTypeSync
from composite_booking.db.models import Staff
from composite_booking.demo import seed_demo_salon
from tests.bookings.conftest import accepted, at, local


async def test_service_177_books_four_segments_and_keeps_emmas_pauses_free(
    app: FastAPI,
    sandbox: CalcomSandbox,
    calcom_salon: DemoSalon,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    users = {user.name: user.id for user in sandbox.users}
    async with session_factory() as session, session.begin():
        api_key = await seed_demo_salon(session, calcom_team_id=calcom_salon.team_id, calcom_user_ids=users)
        emma = (await session.execute(select(Staff).where(Staff.name == "Emma Williams"))).scalar_one()
    sync: EventTypeSync = app.state.event_type_sync
    assert (await sync.sync_company()).errors == []

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {api_key}"},
    ) as client:
        response = await client.post(
            "/v1/bookings",
            json={
                "service_id": 177,
                "starts_at": at(10).isoformat(),
                "staff_id": emma.id,
                "customer": {"name": "Eva Müller", "email": "eva@example.org"},
            },
        )
        assert response.status_code == 201, response.text
        booking = response.json()
        assert len(accepted(sandbox)) == 4
        assert {tuple(b.busy_user_ids) for b in accepted(sandbox)} == {(calcom_salon.emma_id,)}

        # Emma's first pause (10:30-11:00, the colour works) is bookable by another customer.
        pause = booking["pauses"][0]
        assert (local(pause["starts_at"]), local(pause["ends_at"]), pause["held"]) == (
            at(10, 30),
            at(11),
            False,
        )
        services = (await client.get("/v1/services", params={"composite": False})).json()["items"]
        haircut = next(s for s in services if s["name"] == "Haarschnitt")
        in_the_pause = await client.post(
            "/v1/bookings",
            json={
                "service_id": haircut["id"],
                "starts_at": at(10, 30).isoformat(),
                "staff_id": emma.id,
                "customer": {"name": "Kim", "email": "kim@example.org"},
            },
        )
        assert in_the_pause.status_code == 201, in_the_pause.text

        ics = await client.get(f"/v1/bookings/{booking['id']}/ics")
    calendar = Calendar.from_ical(ics.content)
    assert len(list(calendar.walk("VEVENT"))) == 4
