"""The Cal.com sandbox's own cost of `GET /v2/slots`, as an in-process benchmark pays it.

    python bench/sandbox_slots.py [--runs 21]

One host of the demo salon (Tue-Sat 09:00-18:00 Europe/Berlin), a hidden 5-minute event type (slotInterval
5, minimumBookingNotice 0) and a 14-day range: ten working days, about 1070 slots. The host carries 1, 10 or
100 accepted bookings of a 30-minute event type with buffers. Each request goes through
`httpx.ASGITransport` (so routing and JSON count too), with and without `timeZone`. Prints the median of
`--runs` requests per case; the target is <= 5 ms (it was about 40 ms before the slot search was rewritten).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx

from composite_booking.calcom.sandbox import CalcomSandbox, ManualClock, seed_demo_salon

SLOTS_VERSION = {"cal-api-version": "2024-09-04"}
NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # Monday 09:00 Berlin
FIRST_DAY = NOW.date()


def seeded_sandbox(bookings: int) -> tuple[CalcomSandbox, int]:
    """A salon whose first stylist has `bookings` accepted bookings spread over the 14 days."""
    sandbox = CalcomSandbox(clock=ManualClock(NOW), seed=1)
    salon = seed_demo_salon(sandbox)
    probe = sandbox.add_event_type(
        salon.team_id,
        title="Probe",
        slug="probe",
        lengthInMinutes=5,
        slotInterval=5,
        minimumBookingNotice=0,
        hidden=True,
        schedulingType="collective",
        hosts=[{"userId": salon.emma_id}],
    )
    busy = sandbox.add_event_type(
        salon.team_id,
        title="Colour",
        slug="colour",
        lengthInMinutes=30,
        minimumBookingNotice=0,
        beforeEventBuffer=10,
        afterEventBuffer=15,
        schedulingType="collective",
        hosts=[{"userId": salon.emma_id}],
    )
    # Round-robin over the ten working days (Tue-Sat), then 50 minutes apart from 10:00 Berlin (09:00 UTC).
    working_days = [FIRST_DAY + timedelta(days=d) for d in range(14)]
    working_days = [d for d in working_days if d.weekday() in (1, 2, 3, 4, 5)]
    for index in range(bookings):
        day = working_days[index % len(working_days)]
        slot = (index // len(working_days)) % 10
        start = datetime(day.year, day.month, day.day, 9, tzinfo=UTC) + timedelta(minutes=50 * slot)
        sandbox.add_booking(busy.id, start, check_availability=False)
    return sandbox, probe.id


async def median_ms(
    sandbox: CalcomSandbox, event_type_id: int, runs: int, time_zone: str | None
) -> tuple[float, int]:
    """(median milliseconds per request, slots in the response)."""
    params = {
        "eventTypeId": str(event_type_id),
        "start": FIRST_DAY.isoformat(),
        "end": (FIRST_DAY + timedelta(days=13)).isoformat(),
        "format": "range",
    }
    if time_zone is not None:
        params["timeZone"] = time_zone
    transport = httpx.ASGITransport(app=sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://calcom.sandbox") as client:
        timings: list[float] = []
        slot_count = 0
        for _ in range(runs):
            began = time.perf_counter()
            response = await client.get("/v2/slots", params=params, headers=SLOTS_VERSION)
            timings.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()
            slot_count = sum(len(day) for day in response.json()["data"].values())
    return statistics.median(timings), slot_count


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=21)
    arguments = parser.parse_args()
    for bookings in (1, 10, 100):
        sandbox, event_type_id = seeded_sandbox(bookings)
        for time_zone in (None, "Europe/Berlin"):
            median, slots = await median_ms(sandbox, event_type_id, arguments.runs, time_zone)
            label = time_zone or "no timeZone"
            print(
                f"{bookings:>4} bookings, {label:<14} {slots:>5} slots: "
                f"median {median:6.2f} ms over {arguments.runs} runs"
            )


if __name__ == "__main__":
    asyncio.run(main())
