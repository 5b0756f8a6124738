"""Fixtures for the Cal.com sandbox tests: a manual clock, a seeded salon and an in-process client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from composite_booking.calcom.sandbox import CalcomSandbox, DemoSalon, ManualClock, seed_demo_salon

# Monday 2030-01-07 08:00 UTC = 09:00 in Berlin (CET, +01:00). The demo salon works Tuesday to Saturday.
MONDAY_0800_UTC = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
TUESDAY = "2030-01-08"
BOOKINGS_V = {"cal-api-version": "2024-08-13"}
SLOTS_V = {"cal-api-version": "2024-09-04"}


class SandboxApi:
    """The HTTP calls most tests make, spelled once."""

    def __init__(self, client: httpx.AsyncClient, salon: DemoSalon) -> None:
        self.client = client
        self.salon = salon
        self.auth = {"Authorization": f"Bearer {salon.api_key}"}

    async def create_event_type(
        self, slug: str, *, hosts: Sequence[int], length: int = 60, **options: Any
    ) -> dict[str, Any]:
        body = {
            "title": slug.replace("-", " ").title(),
            "slug": slug,
            "lengthInMinutes": length,
            "schedulingType": options.pop("schedulingType", "collective"),
            "hosts": [{"userId": host} for host in hosts],
            "minimumBookingNotice": options.pop("minimumBookingNotice", 0),
            **options,
        }
        response = await self.client.post(
            f"/v2/teams/{self.salon.team_id}/event-types", json=body, headers=self.auth
        )
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def slots(self, event_type_id: int, start: str, end: str, **params: Any) -> httpx.Response:
        return await self.client.get(
            "/v2/slots",
            params={"eventTypeId": event_type_id, "start": start, "end": end, **params},
            headers={**self.auth, **SLOTS_V},
        )

    async def slot_starts(
        self, event_type_id: int, start: str, end: str, **params: Any
    ) -> dict[str, list[str]]:
        response = await self.slots(event_type_id, start, end, **params)
        assert response.status_code == 200, response.text
        return {day: [slot["start"] for slot in slots] for day, slots in response.json()["data"].items()}

    async def book(
        self,
        event_type_id: int,
        start: str,
        *,
        name: str = "Anna Schmidt",
        email: str = "anna@example.com",
        **extra: Any,
    ) -> httpx.Response:
        body = {
            "eventTypeId": event_type_id,
            "start": start,
            "attendee": {"name": name, "email": email, "timeZone": "Europe/Berlin"},
            **extra,
        }
        return await self.client.post("/v2/bookings", json=body, headers={**self.auth, **BOOKINGS_V})

    async def booked(self, event_type_id: int, start: str, **extra: Any) -> dict[str, Any]:
        response = await self.book(event_type_id, start, **extra)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def cancel(self, uid: str, reason: str | None = "Customer called") -> httpx.Response:
        body = {"cancellationReason": reason} if reason is not None else {}
        return await self.client.post(
            f"/v2/bookings/{uid}/cancel", json=body, headers={**self.auth, **BOOKINGS_V}
        )

    async def reschedule(self, uid: str, start: str, **extra: Any) -> httpx.Response:
        return await self.client.post(
            f"/v2/bookings/{uid}/reschedule",
            json={"start": start, **extra},
            headers={**self.auth, **BOOKINGS_V},
        )

    async def list_bookings(self, **params: Any) -> httpx.Response:
        return await self.client.get("/v2/bookings", params=params, headers={**self.auth, **BOOKINGS_V})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_0800_UTC)


@pytest.fixture
def sandbox(clock: ManualClock) -> CalcomSandbox:
    return CalcomSandbox(clock=clock, seed=7)


@pytest.fixture
def salon(sandbox: CalcomSandbox) -> DemoSalon:
    return seed_demo_salon(sandbox)


@pytest.fixture
async def client(sandbox: CalcomSandbox) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://calcom.sandbox") as http:
        yield http


@pytest.fixture
def api(client: httpx.AsyncClient, salon: DemoSalon) -> SandboxApi:
    return SandboxApi(client, salon)
