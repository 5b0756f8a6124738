"""The throttler: headers on every response, 429 ThrottlerException past the limit, then a block."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
import pytest

from composite_booking.calcom.sandbox import MSG_THROTTLED, CalcomSandbox, ManualClock, RateLimitPolicy

if TYPE_CHECKING:
    from conftest import SandboxApi

LIMIT = "x-ratelimit-limit-default"
REMAINING = "x-ratelimit-remaining-default"
RESET = "x-ratelimit-reset-default"


@pytest.fixture
def tight(clock: ManualClock) -> CalcomSandbox:
    return CalcomSandbox(clock=clock, rate_limit=RateLimitPolicy(limit=3, window_s=60, block_s=30))


@pytest.fixture
async def tight_client(tight: CalcomSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=tight.app), base_url="http://c") as http:
        yield http


def _key(sandbox: CalcomSandbox) -> dict[str, str]:
    user = sandbox.add_user(name="Key Holder", email=f"k{len(sandbox.users)}@example.com")
    return {"Authorization": f"Bearer {sandbox.issue_api_key(user.id)}"}


async def test_default_headers_on_every_response(client: httpx.AsyncClient, api: SandboxApi) -> None:
    first = await client.get("/v2/me", headers=api.auth)
    missing = await client.get("/v2/bookings/nope", headers={"cal-api-version": "2024-08-13", **api.auth})

    assert (first.headers[LIMIT], first.headers[REMAINING], first.headers[RESET]) == ("120", "119", "60")
    assert missing.status_code == 404
    assert missing.headers[REMAINING] == "118"


async def test_past_the_limit_is_429_then_blocked(
    tight: CalcomSandbox, tight_client: httpx.AsyncClient, clock: ManualClock
) -> None:
    headers = _key(tight)
    allowed = [await tight_client.get("/v2/me", headers=headers) for _ in range(3)]

    refused = await tight_client.get("/v2/me", headers=headers)
    clock.advance(timedelta(seconds=29))
    still_blocked = await tight_client.get("/v2/me", headers=headers)
    clock.advance(timedelta(seconds=1))
    free_again = await tight_client.get("/v2/me", headers=headers)

    assert [r.headers[REMAINING] for r in allowed] == ["2", "1", "0"]
    assert refused.status_code == 429
    assert refused.json()["error"] == {
        "code": "ThrottlerException",
        "message": MSG_THROTTLED,
        "details": MSG_THROTTLED,
    }
    assert refused.headers[REMAINING] == "0"
    assert refused.headers[RESET] == "30"
    assert refused.headers["x-request-id"] == "unknown-request-id"
    assert still_blocked.status_code == 429
    assert still_blocked.headers[RESET] == "1"
    assert free_again.status_code == 200
    assert free_again.headers[REMAINING] == "2"


async def test_the_window_resets_after_its_length(
    tight: CalcomSandbox, tight_client: httpx.AsyncClient, clock: ManualClock
) -> None:
    headers = _key(tight)
    for _ in range(3):
        await tight_client.get("/v2/me", headers=headers)
    clock.advance(timedelta(seconds=20))
    later_in_window = await tight_client.get("/v2/me", headers=headers.copy())
    tight.reset_rate_limits()
    for _ in range(3):
        await tight_client.get("/v2/me", headers=headers)
    clock.advance(timedelta(seconds=60))  # the window that opened with the first request has ended
    next_window = await tight_client.get("/v2/me", headers=headers)

    assert later_in_window.status_code == 429  # the window started with the first request, not a rolling one
    assert later_in_window.headers[RESET] == "30"
    assert next_window.status_code == 200
    assert next_window.headers[REMAINING] == "2"
    assert next_window.headers[RESET] == "60"


async def test_keys_are_limited_separately_and_per_key_limits_apply(
    tight: CalcomSandbox, tight_client: httpx.AsyncClient
) -> None:
    busy = _key(tight)
    quiet = _key(tight)
    user = tight.add_user(name="Big Customer", email="big@example.com")
    raised = {
        "Authorization": f"Bearer {tight.issue_api_key(user.id, rate_limit=RateLimitPolicy(limit=500))}"
    }
    for _ in range(4):
        await tight_client.get("/v2/me", headers=busy)

    assert (await tight_client.get("/v2/me", headers=busy)).status_code == 429
    assert (await tight_client.get("/v2/me", headers=quiet)).status_code == 200
    assert (await tight_client.get("/v2/me", headers=raised)).headers[LIMIT] == "500"


async def test_anonymous_callers_are_tracked_by_address(tight_client: httpx.AsyncClient) -> None:
    statuses = [(await tight_client.get("/v2/teams/1/event-types")).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
