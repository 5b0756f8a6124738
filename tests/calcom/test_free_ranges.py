"""`get_free_ranges`: slots merged into free ranges, only their edges parsed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from composite_booking.calcom.client import CalcomClient
from composite_booking.calcom.errors import CalcomUpstreamError

BASE = "https://cal.test"
START = datetime(2031, 3, 4, tzinfo=UTC)
END = datetime(2031, 3, 6, tzinfo=UTC)


def slot(start: str, end: str) -> dict[str, str]:
    return {"start": start, "end": end}


async def free_ranges(data: Any) -> list[tuple[datetime, datetime]]:
    async with respx.mock(base_url=BASE) as mock, httpx.AsyncClient(base_url=BASE) as http:
        route = mock.get("/v2/slots").respond(200, json={"status": "success", "data": data})
        client = CalcomClient(http, api_key="cal_test")
        ranges = await client.get_free_ranges(event_type_id=7, start=START, end=END)
        request = route.calls.last.request
        assert request.url.params["format"] == "range"
        assert request.url.params["timeZone"] == "UTC"
        assert request.headers["cal-api-version"] == "2024-09-04"
        return ranges


async def test_touching_slots_merge_and_gaps_stay() -> None:
    ranges = await free_ranges(
        {
            "2031-03-04": [
                slot("2031-03-04T08:00:00.000Z", "2031-03-04T08:05:00.000Z"),
                slot("2031-03-04T08:05:00.000Z", "2031-03-04T08:10:00.000Z"),
                slot("2031-03-04T09:00:00.000Z", "2031-03-04T09:05:00.000Z"),
            ],
            "2031-03-05": [slot("2031-03-05T08:00:00.000Z", "2031-03-05T08:05:00.000Z")],
        }
    )
    assert ranges == [
        (datetime(2031, 3, 4, 8, 0, tzinfo=UTC), datetime(2031, 3, 4, 8, 10, tzinfo=UTC)),
        (datetime(2031, 3, 4, 9, 0, tzinfo=UTC), datetime(2031, 3, 4, 9, 5, tzinfo=UTC)),
        (datetime(2031, 3, 5, 8, 0, tzinfo=UTC), datetime(2031, 3, 5, 8, 5, tzinfo=UTC)),
    ]


async def test_nothing_free_is_empty() -> None:
    assert await free_ranges({}) == []


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"2031-03-04": [slot("2031-03-04T08:00:00", "2031-03-04T08:05:00")]},
        {"2031-03-04": [{"start": "2031-03-04T08:00:00Z"}]},
    ],
)
async def test_malformed_answers_are_upstream_errors(data: Any) -> None:
    with pytest.raises(CalcomUpstreamError):
        await free_ranges(data)
