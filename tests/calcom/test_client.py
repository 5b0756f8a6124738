"""The Cal.com client against `respx`: headers, retries, error mapping, paging, parsing."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx
from pydantic import ValidationError

from composite_booking.calcom.client import CalcomClient, RetryPolicy, create_http_client
from composite_booking.calcom.errors import (
    CalcomAuthError,
    CalcomBadRequest,
    CalcomConflict,
    CalcomError,
    CalcomNotFound,
    CalcomRateLimited,
    CalcomSlotTaken,
    CalcomUnknownOutcome,
    CalcomUpstreamError,
)
from composite_booking.calcom.models import (
    AttendeeInput,
    BookingFilters,
    BookingListStatus,
    BookingStatus,
    HostInput,
    SortOrder,
    TeamEventTypeCreate,
    TeamEventTypeUpdate,
    WebhookTrigger,
)
from composite_booking.calcom.ratelimit import RateLimiter, RateLimiterRegistry
from composite_booking.config import Settings
from composite_booking.domain.errors import ServiceError

BASE_URL = "https://cal.test"
API_KEY = "cal_test_0123456789"
BERLIN = ZoneInfo("Europe/Berlin")
START = 1_000.0


class FakeClock:
    """Time that only moves when something sleeps; the client and the limiter share it."""

    def __init__(self) -> None:
        self.now = START
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def envelope(data: Any, **extra: Any) -> dict[str, Any]:
    return {"status": "success", "data": data, **extra}


def error_body(status: int, code: str, message: str, path: str = "/v2/bookings") -> dict[str, Any]:
    return {
        "status": "error",
        "timestamp": "2025-10-07T12:00:00.000Z",
        "path": path,
        "error": {"code": code, "message": message, "details": {"message": message, "statusCode": status}},
    }


def booking_json(uid: str = "bk_1", booking_id: int = 101, **overrides: Any) -> dict[str, Any]:
    body = {
        "id": booking_id,
        "uid": uid,
        "title": "Ansatzfärbung A between Salon and Kim",
        "description": "",
        "status": "accepted",
        "start": "2050-09-05T08:00:00.000Z",
        "end": "2050-09-05T08:30:00.000Z",
        "duration": 30,
        "eventTypeId": 50,
        "eventType": {"id": 50, "slug": "seg-a-7"},
        "hosts": [
            {
                "id": 7,
                "name": "Fabian",
                "email": "f@salon.test",
                "username": "fabian",
                "timeZone": "Europe/Berlin",
            }
        ],
        "attendees": [
            {
                "name": "Kim",
                "email": "kim@example.com",
                "timeZone": "Europe/Berlin",
                "language": "de",
                "absent": False,
            }
        ],
        "guests": [],
        "location": "Salon",
        "absentHost": False,
        "bookingFieldsResponses": {"name": "Kim", "email": "kim@example.com"},
        "metadata": {"composite_uid": "cmp_1", "segment": "A"},
        "createdAt": "2050-09-01T10:00:00.000Z",
        "updatedAt": "2050-09-01T10:00:00.000Z",
        "icsUid": "ics_1",
        "rating": None,
        "someFieldCalcomAddsLater": {"nested": True},
    }
    return {**body, **overrides}


def event_type_json(event_type_id: int = 900, **overrides: Any) -> dict[str, Any]:
    body = {
        "id": event_type_id,
        "title": "A colour (Fabian)",
        "slug": "seg-a-7",
        "description": "",
        "lengthInMinutes": 30,
        "locations": [{"type": "address", "address": "Hauptstr. 1", "public": True}],
        "bookingFields": [],
        "disableGuests": True,
        "recurrence": None,
        "metadata": {},
        "price": 0,
        "currency": "eur",
        "lockTimeZoneToggleOnBookingPage": False,
        "forwardParamsSuccessRedirect": None,
        "successRedirectUrl": None,
        "isInstantEvent": False,
        "scheduleId": None,
        "hidden": True,
        "bookingRequiresAuthentication": False,
        "teamId": 3,
        "ownerId": None,
        "parentEventTypeId": None,
        "schedulingType": "collective",
        "afterEventBuffer": 15,
        "hosts": [{"userId": 7, "name": "Fabian", "username": "fabian", "avatarUrl": None}],
        "team": {"id": 3, "name": "Salon Mitte"},
    }
    return {**body, **overrides}


def schedule_json(schedule_id: int = 254) -> dict[str, Any]:
    return {
        "id": schedule_id,
        "ownerId": 7,
        "name": "Working hours",
        "timeZone": "Europe/Berlin",
        "availability": [{"days": ["Monday", "Tuesday"], "startTime": "09:00", "endTime": "17:00"}],
        "isDefault": True,
        "overrides": [{"date": "2050-09-08", "startTime": "10:00", "endTime": "13:00"}],
    }


def pagination(total: int, skip: int, take: int, returned: int) -> dict[str, Any]:
    return {
        "totalItems": total,
        "remainingItems": max(0, total - (skip + take)),
        "returnedItems": returned,
        "itemsPerPage": take,
        "currentPage": skip // take + 1,
        "totalPages": -(-total // take),
        "hasNextPage": skip + take < total,
        "hasPreviousPage": skip > 0,
    }


KIM = AttendeeInput(name="Kim", email="kim@example.com", time_zone="Europe/Berlin", language="de")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def router() -> respx.MockRouter:
    return respx.MockRouter(base_url=BASE_URL, assert_all_called=False)


@pytest.fixture
async def http(router: respx.MockRouter) -> AsyncIterator[httpx.AsyncClient]:
    # The router is the transport: nothing is patched globally and no real connection can be opened.
    async with httpx.AsyncClient(
        base_url=BASE_URL, transport=httpx.MockTransport(router.async_handler)
    ) as client:
        yield client


@pytest.fixture
def make_client(http: httpx.AsyncClient, clock: FakeClock) -> Callable[..., CalcomClient]:
    def make(retry: RetryPolicy | None = None) -> CalcomClient:
        return CalcomClient(
            http,
            api_key=API_KEY,
            rate_limiter=RateLimiter(clock=clock, sleep=clock.sleep),
            retry=retry or RetryPolicy(max_attempts=3),
            sleep=clock.sleep,
            rng=random.Random(7),
            request_ids=lambda: "req-fixed",
        )

    return make


@pytest.fixture
def client(make_client: Callable[..., CalcomClient]) -> CalcomClient:
    return make_client()


@pytest.fixture
def no_retry_client(make_client: Callable[..., CalcomClient]) -> CalcomClient:
    return make_client(RetryPolicy(max_attempts=1))


# ---------------------------------------------------------------------------------------------- headers


CallFn = Callable[[CalcomClient], Awaitable[object]]
FROM = datetime(2050, 9, 5, 0, 0, tzinfo=BERLIN)

HEADER_CASES: list[tuple[str, str, int, Any, CallFn, str | None]] = [
    ("POST", "/v2/teams/3/event-types", 201, envelope(event_type_json()),
     lambda c: c.create_team_event_type(3, TeamEventTypeCreate(title="A", slug="a", length_in_minutes=30)),
     "2024-06-14"),
    ("GET", "/v2/teams/3/event-types/900", 200, envelope(event_type_json()),
     lambda c: c.get_team_event_type(3, 900), "2024-06-14"),
    ("GET", "/v2/teams/3/event-types", 200, envelope([event_type_json()]),
     lambda c: c.list_team_event_types(3), "2024-06-14"),
    ("PATCH", "/v2/teams/3/event-types/900", 200, envelope(event_type_json()),
     lambda c: c.update_team_event_type(3, 900, TeamEventTypeUpdate(hidden=True)), "2024-06-14"),
    ("DELETE", "/v2/teams/3/event-types/900", 200, envelope({"id": 900}),
     lambda c: c.delete_team_event_type(3, 900), "2024-06-14"),
    ("GET", "/v2/schedules", 200, envelope([schedule_json()]), lambda c: c.list_schedules(), "2024-06-11"),
    ("GET", "/v2/schedules/default", 200, envelope(schedule_json()),
     lambda c: c.get_default_schedule(), "2024-06-11"),
    ("GET", "/v2/schedules/254", 200, envelope(schedule_json()), lambda c: c.get_schedule(254), "2024-06-11"),
    ("GET", "/v2/slots", 200, envelope({}),
     lambda c: c.get_slots(event_type_id=50, start=FROM, end=FROM + timedelta(days=1), time_zone="UTC"),
     "2024-09-04"),
    ("POST", "/v2/bookings", 201, envelope(booking_json()),
     lambda c: c.create_booking(event_type_id=50, start=FROM, attendee=KIM), "2024-08-13"),
    ("GET", "/v2/bookings/bk_1", 200, envelope(booking_json()),
     lambda c: c.get_booking("bk_1"), "2024-08-13"),
    ("GET", "/v2/bookings", 200, envelope([], pagination=pagination(0, 0, 100, 0)),
     lambda c: c.list_bookings(), "2024-08-13"),
    ("POST", "/v2/bookings/bk_1/cancel", 200, envelope(booking_json(status="cancelled")),
     lambda c: c.cancel_booking("bk_1", reason="customer asked"), "2024-08-13"),
    ("POST", "/v2/bookings/bk_1/reschedule", 201, envelope(booking_json(uid="bk_2")),
     lambda c: c.reschedule_booking("bk_1", start=FROM), "2024-08-13"),
    ("POST", "/v2/webhooks", 201,
     envelope({"id": 4, "userId": 7, "subscriberUrl": "https://us.test/hook", "triggers": ["BOOKING_CREATED"],
               "active": True, "payloadTemplate": None}),
     lambda c: c.create_webhook(subscriber_url="https://us.test/hook",
                                triggers=[WebhookTrigger.BOOKING_CREATED], secret="s3cret"),
     None),
    ("GET", "/v2/webhooks", 200, envelope([]), lambda c: c.list_webhooks(), None),
    ("DELETE", "/v2/webhooks/4", 200, envelope({"id": 4}), lambda c: c.delete_webhook(4), None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "call", "version"),
    HEADER_CASES,
    ids=[f"{method} {path}" for method, path, *_ in HEADER_CASES],
)
async def test_each_resource_sends_its_version_and_the_api_key(
    router: respx.MockRouter,
    client: CalcomClient,
    method: str,
    path: str,
    status: int,
    body: Any,
    call: CallFn,
    version: str | None,
) -> None:
    route = router.route(method=method, path=path).mock(return_value=httpx.Response(status, json=body))

    await call(client)

    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers.get("cal-api-version") == version  # bare: no quotes around the date
    assert request.headers["x-request-id"] == "req-fixed"


# ---------------------------------------------------------------------------------------------- retries


async def test_get_retries_5xx_and_429_then_succeeds(
    router: respx.MockRouter, client: CalcomClient, clock: FakeClock
) -> None:
    sent_at: list[float] = []
    answers = iter(
        [
            httpx.Response(503, json=error_body(503, "ServiceUnavailableException", "down")),
            httpx.Response(429, json=error_body(429, "ThrottlerException", "Too many requests")),
            httpx.Response(200, json=envelope(booking_json())),
        ]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        sent_at.append(clock())
        return next(answers)

    route = router.get("/v2/bookings/bk_1").mock(side_effect=answer)

    booking = await client.get_booking("bk_1")

    assert booking.uid == "bk_1"
    assert route.call_count == 3
    assert sent_at[2] - sent_at[1] == pytest.approx(60.0), "after a 429 the next request waits out the block"
    assert {call.request.headers["x-request-id"] for call in route.calls} == {"req-fixed"}


async def test_get_retries_timeouts(router: respx.MockRouter, client: CalcomClient) -> None:
    route = router.get("/v2/schedules/default").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json=envelope(schedule_json()))]
    )
    schedule = await client.get_default_schedule()
    assert schedule is not None
    assert route.call_count == 2


async def test_get_gives_up_after_max_attempts(router: respx.MockRouter, client: CalcomClient) -> None:
    route = router.get("/v2/bookings/bk_1").mock(
        return_value=httpx.Response(502, text="<html>Bad gateway</html>")
    )
    with pytest.raises(CalcomUpstreamError) as caught:
        await client.get_booking("bk_1")
    assert route.call_count == 3
    assert caught.value.upstream_status == 502
    assert type(caught.value) is CalcomUpstreamError


async def test_backoff_grows_with_jitter(
    router: respx.MockRouter, client: CalcomClient, clock: FakeClock
) -> None:
    router.get("/v2/schedules").mock(return_value=httpx.Response(500, json=error_body(500, "Error", "boom")))
    with pytest.raises(CalcomUpstreamError):
        await client.list_schedules()
    first, second = clock.sleeps
    assert 0.125 <= first <= 0.25
    assert 0.25 <= second <= 0.5


async def test_create_booking_is_never_retried_on_5xx(router: respx.MockRouter, client: CalcomClient) -> None:
    route = router.post("/v2/bookings").mock(
        return_value=httpx.Response(500, json=error_body(500, "InternalServerErrorException", "boom"))
    )
    with pytest.raises(CalcomUnknownOutcome) as caught:
        await client.create_booking(event_type_id=50, start=FROM, attendee=KIM)
    assert route.call_count == 1
    assert caught.value.upstream_status == 500
    assert caught.value.status == 504


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("timed out"), httpx.WriteTimeout("timed out"), httpx.RemoteProtocolError("dropped")],
    ids=["read-timeout", "write-timeout", "connection-dropped"],
)
async def test_create_booking_timeout_is_an_unknown_outcome_after_one_request(
    router: respx.MockRouter, client: CalcomClient, failure: Exception
) -> None:
    route = router.post("/v2/bookings").mock(side_effect=failure)
    with pytest.raises(CalcomUnknownOutcome) as caught:
        await client.create_booking(
            event_type_id=50, start=FROM, attendee=KIM, metadata={"composite_uid": "c1"}
        )
    assert route.call_count == 1
    assert isinstance(caught.value, ServiceError)
    assert caught.value.status == 504


async def test_reschedule_timeout_is_an_unknown_outcome(
    router: respx.MockRouter, client: CalcomClient
) -> None:
    route = router.post("/v2/bookings/bk_1/reschedule").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(CalcomUnknownOutcome):
        await client.reschedule_booking("bk_1", start=FROM)
    assert route.call_count == 1


@pytest.mark.parametrize(
    "refusal",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("no route"),
        httpx.Response(429, json=error_body(429, "ThrottlerException", "Too many requests")),
    ],
    ids=["connect-error", "connect-timeout", "429"],
)
async def test_create_booking_is_retried_when_it_never_reached_a_handler(
    router: respx.MockRouter, client: CalcomClient, refusal: Exception | httpx.Response
) -> None:
    route = router.post("/v2/bookings").mock(
        side_effect=[refusal, httpx.Response(201, json=envelope(booking_json()))]
    )
    booking = await client.create_booking(event_type_id=50, start=FROM, attendee=KIM)
    assert booking.uid == "bk_1"
    assert route.call_count == 2


async def test_unreadable_success_on_create_booking_is_an_unknown_outcome(
    router: respx.MockRouter, client: CalcomClient
) -> None:
    route = router.post("/v2/bookings").mock(return_value=httpx.Response(201, text="{not json"))
    with pytest.raises(CalcomUnknownOutcome):
        await client.create_booking(event_type_id=50, start=FROM, attendee=KIM)
    assert route.call_count == 1


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_cancel_and_patch_are_retried_on_429_and_5xx(
    router: respx.MockRouter, client: CalcomClient, status: int
) -> None:
    failure = httpx.Response(status, json=error_body(status, "Error", "try again"))
    cancel = router.post("/v2/bookings/bk_1/cancel").mock(
        side_effect=[failure, httpx.Response(200, json=envelope(booking_json(status="cancelled")))]
    )
    patch = router.patch("/v2/teams/3/event-types/900").mock(
        side_effect=[failure, httpx.Response(200, json=envelope(event_type_json()))]
    )

    cancelled = await client.cancel_booking("bk_1", reason="compensation")
    await client.update_team_event_type(3, 900, TeamEventTypeUpdate(after_event_buffer=0))

    assert cancelled.status is BookingStatus.CANCELLED
    assert (cancel.call_count, patch.call_count) == (2, 2)


async def test_cancel_is_not_retried_after_a_read_timeout(
    router: respx.MockRouter, client: CalcomClient
) -> None:
    route = router.post("/v2/bookings/bk_1/cancel").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(CalcomUnknownOutcome):
        await client.cancel_booking("bk_1", reason="compensation")
    assert route.call_count == 1


async def test_fails_fast_while_cal_com_blocks_the_key(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    impatient = CalcomClient(
        http,
        api_key=API_KEY,
        rate_limiter=limiter,
        retry=RetryPolicy(max_attempts=3, max_rate_limit_wait_s=5.0),
        sleep=clock.sleep,
        rng=random.Random(1),
    )
    route = router.get("/v2/bookings/bk_1").mock(
        return_value=httpx.Response(429, json=error_body(429, "ThrottlerException", "Too many requests"))
    )

    with pytest.raises(CalcomRateLimited) as caught:
        await impatient.get_booking("bk_1")

    assert route.call_count == 1, "no retry into a 60 s block the caller will not wait for"
    assert caught.value.retry_after_s is not None
    assert caught.value.retry_after_s > 5.0
    assert caught.value.status == 503


# ---------------------------------------------------------------------------------------------- errors


ERROR_CASES: list[tuple[int, dict[str, Any] | str, type[CalcomError], int]] = [
    (400, error_body(400, "BadRequestException", "Bad Request Exception"), CalcomBadRequest, 502),
    (400, {"status": "error", "error": {"code": "BAD_REQUEST", "message": "start - Invalid datetime"}},
     CalcomBadRequest, 502),
    (422, error_body(422, "UnprocessableEntityException",
                     "Can't book this team event type because it has no hosts"), CalcomBadRequest, 502),
    (401, error_body(401, "UnauthorizedException", "Invalid API key"), CalcomAuthError, 502),
    (403, error_body(403, "ForbiddenException", "Not a team admin"), CalcomAuthError, 502),
    (404, error_body(404, "NotFoundException", "Booking with uid=bk_1 not found"), CalcomNotFound, 502),
    (409, error_body(409, "ConflictException", "No more seats left at this seated booking."),
     CalcomConflict, 409),
    (429, error_body(429, "ThrottlerException",
                     "CustomThrottlerGuard - Too many requests. Please try again later."),
     CalcomRateLimited, 503),
    (500, error_body(500, "InternalServerErrorException", "Internal server error"), CalcomUpstreamError, 502),
    (503, "<html><body>upstream connect error</body></html>", CalcomUpstreamError, 502),
]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "body", "expected", "our_status"),
    ERROR_CASES,
    ids=[f"{c[0]}-{c[2].__name__}" for c in ERROR_CASES],
)
async def test_error_envelopes_map_to_typed_errors(
    router: respx.MockRouter,
    no_retry_client: CalcomClient,
    status: int,
    body: dict[str, Any] | str,
    expected: type[CalcomError],
    our_status: int,
) -> None:
    response = (
        httpx.Response(status, json=body, headers={"X-Request-Id": "cal-req-9"})
        if isinstance(body, dict)
        else httpx.Response(status, text=body, headers={"X-Request-Id": "cal-req-9"})
    )
    router.get("/v2/bookings/bk_1").mock(return_value=response)

    with pytest.raises(CalcomError) as caught:
        await no_retry_client.get_booking("bk_1")

    error = caught.value
    assert type(error) is expected
    assert isinstance(error, ServiceError)
    assert error.status == our_status
    assert error.upstream_status == status
    assert error.request_id == "cal-req-9"
    assert (error.method, error.path) == ("GET", "/v2/bookings/bk_1")
    if isinstance(body, dict):
        assert error.code == body["error"]["code"]
        assert error.upstream_message == body["error"]["message"]
    else:
        assert error.code is None
        assert "upstream connect error" in (error.upstream_message or "")


@pytest.mark.parametrize(
    "message",
    [
        "User either already has booking at this time or is not available",
        "One of the hosts either already has booking at this time or is not available",
    ],
)
async def test_busy_host_is_a_slot_taken_conflict(
    router: respx.MockRouter, client: CalcomClient, message: str
) -> None:
    route = router.post("/v2/bookings").mock(
        return_value=httpx.Response(400, json=error_body(400, "BadRequestException", message))
    )
    with pytest.raises(CalcomSlotTaken) as caught:
        await client.create_booking(event_type_id=50, start=FROM, attendee=KIM)
    assert caught.value.status == 409
    assert caught.value.upstream_status == 400
    assert caught.value.upstream_message == message
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("not json at all", "non-JSON"),
        (json.dumps([1, 2]), "not an object"),
        (json.dumps({"status": "error", "data": {}}), "error status on a 200"),
        (json.dumps({"status": "success", "data": {"id": "x"}}), "missing fields"),
        (json.dumps({"status": "success", "data": [booking_json()]}), "array where an object belongs"),
    ],
)
async def test_malformed_success_bodies_are_upstream_errors(
    router: respx.MockRouter, client: CalcomClient, body: str, why: str
) -> None:
    route = router.get("/v2/bookings/bk_1").mock(return_value=httpx.Response(200, text=body))
    with pytest.raises(CalcomUpstreamError) as caught:
        await client.get_booking("bk_1")
    assert type(caught.value) is CalcomUpstreamError, why
    assert route.call_count == 1, "a malformed body is not retried"


async def test_missing_schedule_is_not_found(router: respx.MockRouter, client: CalcomClient) -> None:
    router.get("/v2/schedules/9").mock(return_value=httpx.Response(200, json=envelope(None)))
    with pytest.raises(CalcomNotFound):
        await client.get_schedule(9)


# ---------------------------------------------------------------------------------------------- bookings


async def test_create_booking_sends_utc_start_attendee_and_metadata(
    router: respx.MockRouter, client: CalcomClient
) -> None:
    route = router.post("/v2/bookings").mock(return_value=httpx.Response(201, json=envelope(booking_json())))
    attendee = AttendeeInput(
        name="Kim", email="kim@example.com", time_zone="Europe/Berlin", phone_number="+4917012"
    )

    booking = await client.create_booking(
        event_type_id=50,
        start=datetime(2050, 9, 5, 10, 0, tzinfo=BERLIN),
        attendee=attendee,
        metadata={"composite_uid": "cmp_1", "segment": "A"},
    )

    assert json.loads(route.calls.last.request.content) == {
        "eventTypeId": 50,
        "start": "2050-09-05T08:00:00Z",
        "attendee": {
            "name": "Kim",
            "email": "kim@example.com",
            "timeZone": "Europe/Berlin",
            "phoneNumber": "+4917012",
        },
        "metadata": {"composite_uid": "cmp_1", "segment": "A"},
    }
    assert booking.status is BookingStatus.ACCEPTED
    assert booking.start == datetime(2050, 9, 5, 8, 0, tzinfo=UTC)
    assert booking.booked_event_type_id == 50
    assert booking.metadata == {"composite_uid": "cmp_1", "segment": "A"}
    assert booking.rating is None


async def test_create_booking_refuses_bad_input_before_sending(
    router: respx.MockRouter, client: CalcomClient
) -> None:
    route = router.post("/v2/bookings")
    with pytest.raises(ValueError, match="aware"):
        await client.create_booking(event_type_id=50, start=datetime(2050, 9, 5, 10, 0), attendee=KIM)
    with pytest.raises(ValidationError, match="metadata"):
        await client.create_booking(event_type_id=50, start=FROM, attendee=KIM, metadata={"k" * 41: "v"})
    with pytest.raises(ValidationError, match="time zone"):
        AttendeeInput(name="Kim", time_zone="Europe/Bielefeld")
    assert route.call_count == 0


async def test_iter_bookings_walks_every_page(router: respx.MockRouter, client: CalcomClient) -> None:
    bookings = [booking_json(uid=f"bk_{n}", booking_id=n) for n in range(5)]

    def page(request: httpx.Request) -> httpx.Response:
        take, skip = int(request.url.params["take"]), int(request.url.params["skip"])
        chunk = bookings[skip : skip + take]
        return httpx.Response(200, json=envelope(chunk, pagination=pagination(5, skip, take, len(chunk))))

    route = router.get("/v2/bookings").mock(side_effect=page)
    filters = BookingFilters(
        status=[BookingListStatus.UPCOMING, BookingListStatus.PAST],
        event_type_ids=[50, 51],
        after_start=datetime(2050, 9, 1, tzinfo=BERLIN),
        sort_start=SortOrder.ASC,
    )

    uids = [booking.uid async for booking in client.iter_bookings(filters, page_size=2)]

    assert uids == [f"bk_{n}" for n in range(5)]
    assert [call.request.url.params["skip"] for call in route.calls] == ["0", "2", "4"]
    params = route.calls.last.request.url.params
    assert params["status"] == "upcoming,past"
    assert params["eventTypeIds"] == "50,51"
    assert params["afterStart"] == "2050-08-31T22:00:00Z"
    assert params["sortStart"] == "asc"
    assert params["take"] == "2"


async def test_iter_bookings_stops_on_an_empty_page(router: respx.MockRouter, client: CalcomClient) -> None:
    lying = pagination(10, 0, 100, 0) | {"hasNextPage": True}
    route = router.get("/v2/bookings").mock(
        return_value=httpx.Response(200, json=envelope([], pagination=lying))
    )
    assert [booking async for booking in client.iter_bookings()] == []
    assert route.call_count == 1


async def test_list_bookings_rejects_a_take_cal_com_would_cap(client: CalcomClient) -> None:
    with pytest.raises(ValueError, match="take"):
        await client.list_bookings(take=251)


async def test_cancel_sends_the_reason(router: respx.MockRouter, client: CalcomClient) -> None:
    route = router.post("/v2/bookings/bk_1/cancel").mock(
        return_value=httpx.Response(200, json=envelope(booking_json(status="cancelled")))
    )
    await client.cancel_booking("bk_1", reason="Segment B could not be booked")
    assert json.loads(route.calls.last.request.content) == {
        "cancellationReason": "Segment B could not be booked"
    }


async def test_reschedule_returns_the_new_booking(router: respx.MockRouter, client: CalcomClient) -> None:
    route = router.post("/v2/bookings/bk_1/reschedule").mock(
        return_value=httpx.Response(201, json=envelope(booking_json(uid="bk_2", rescheduledFromUid="bk_1")))
    )
    new = await client.reschedule_booking(
        "bk_1", start=datetime(2050, 9, 6, 9, 0, tzinfo=timezone(timedelta(hours=2))), reason="customer asked"
    )
    assert json.loads(route.calls.last.request.content) == {
        "start": "2050-09-06T07:00:00Z",
        "reschedulingReason": "customer asked",
    }
    assert (new.uid, new.rescheduled_from_uid) == ("bk_2", "bk_1")


# ---------------------------------------------------------------------------------------------- slots


async def test_slots_are_ranges_keyed_by_local_date(router: respx.MockRouter, client: CalcomClient) -> None:
    data = {
        "2050-09-06": [{"start": "2050-09-06T09:00:00.000+02:00", "end": "2050-09-06T09:30:00.000+02:00"}],
        "2050-09-05": [
            {"start": "2050-09-05T09:00:00.000+02:00", "end": "2050-09-05T09:30:00.000+02:00"},
            {"start": "2050-09-05T23:30:00.000+02:00", "end": "2050-09-06T00:00:00.000+02:00"},
        ],
    }
    route = router.get("/v2/slots").mock(return_value=httpx.Response(200, json=envelope(data)))

    slots = await client.get_slots(
        event_type_id=50,
        start=FROM,
        end=FROM + timedelta(days=2),
        time_zone="Europe/Berlin",
        duration_min=30,
        booking_uid_to_reschedule="bk_1",
    )

    assert list(slots) == [date(2050, 9, 5), date(2050, 9, 6)]
    late = slots[date(2050, 9, 5)][1]
    assert late.start == datetime(2050, 9, 5, 21, 30, tzinfo=UTC)
    assert late.end - late.start == timedelta(minutes=30)
    assert dict(route.calls.last.request.url.params) == {
        "eventTypeId": "50",
        "start": "2050-09-04T22:00:00Z",
        "end": "2050-09-06T22:00:00Z",
        "timeZone": "Europe/Berlin",
        "format": "range",
        "duration": "30",
        "bookingUidToReschedule": "bk_1",
    }


async def test_no_free_slots_is_an_empty_mapping(router: respx.MockRouter, client: CalcomClient) -> None:
    router.get("/v2/slots").mock(return_value=httpx.Response(200, json=envelope({})))
    slots = await client.get_slots(
        event_type_id=50, start=FROM, end=FROM + timedelta(days=1), time_zone="UTC"
    )
    assert slots == {}


async def test_a_slot_without_an_end_is_malformed(router: respx.MockRouter, client: CalcomClient) -> None:
    data = {"2050-09-05": [{"start": "2050-09-05T09:00:00.000+02:00"}]}  # the server ignored format=range
    router.get("/v2/slots").mock(return_value=httpx.Response(200, json=envelope(data)))
    with pytest.raises(CalcomUpstreamError):
        await client.get_slots(event_type_id=50, start=FROM, end=FROM + timedelta(days=1), time_zone="UTC")


# ---------------------------------------------------------------------------------------------- event types


async def test_create_event_type_sends_camel_case_and_reads_hosts(
    router: respx.MockRouter, client: CalcomClient
) -> None:
    route = router.post("/v2/teams/3/event-types").mock(
        return_value=httpx.Response(201, json=envelope(event_type_json()))
    )
    spec = TeamEventTypeCreate(
        title="A colour (Fabian)",
        slug="seg-a-7",
        length_in_minutes=30,
        hidden=True,
        after_event_buffer=15,
        hosts=[HostInput(user_id=7)],
    )

    created = await client.create_team_event_type(3, spec)

    assert json.loads(route.calls.last.request.content) == {
        "title": "A colour (Fabian)",
        "slug": "seg-a-7",
        "lengthInMinutes": 30,
        "hidden": True,
        "afterEventBuffer": 15,
        "hosts": [{"userId": 7}],
        "schedulingType": "collective",
    }
    assert (created.id, created.after_event_buffer, created.hidden) == (900, 15, True)
    assert [host.user_id for host in created.hosts] == [7]


async def test_update_sends_only_what_changed_including_zero(
    router: respx.MockRouter, client: CalcomClient
) -> None:
    route = router.patch("/v2/teams/3/event-types/900").mock(
        return_value=httpx.Response(200, json=envelope(event_type_json(afterEventBuffer=0)))
    )
    await client.update_team_event_type(3, 900, TeamEventTypeUpdate(after_event_buffer=0))
    assert json.loads(route.calls.last.request.content) == {"afterEventBuffer": 0}


async def test_managed_create_returns_the_parent(router: respx.MockRouter, client: CalcomClient) -> None:
    children = [event_type_json(901, parentEventTypeId=900, schedulingType="managed", ownerId=7)]
    parent = event_type_json(900, schedulingType="managed")
    router.post("/v2/teams/3/event-types").mock(
        return_value=httpx.Response(201, json=envelope([*children, parent]))
    )
    created = await client.create_team_event_type(
        3, TeamEventTypeCreate(title="A", slug="a", length_in_minutes=30, scheduling_type="managed")
    )
    assert created.id == 900


async def test_list_event_types_by_slug(router: respx.MockRouter, client: CalcomClient) -> None:
    route = router.get("/v2/teams/3/event-types").mock(
        return_value=httpx.Response(200, json=envelope([event_type_json()]))
    )
    found = await client.list_team_event_types(3, slug="seg-a-7")
    assert [event_type.slug for event_type in found] == ["seg-a-7"]
    assert route.calls.last.request.url.params["eventSlug"] == "seg-a-7"


# ------------------------------------------------------------------------------------- schedules, webhooks


async def test_schedule_hours_are_parsed(router: respx.MockRouter, client: CalcomClient) -> None:
    router.get("/v2/schedules/default").mock(return_value=httpx.Response(200, json=envelope(schedule_json())))
    schedule = await client.get_default_schedule()
    assert schedule is not None
    assert schedule.availability[0].start_time.hour == 9
    assert schedule.overrides[0].date == date(2050, 9, 8)


async def test_create_webhook_body(router: respx.MockRouter, client: CalcomClient) -> None:
    route = router.post("/v2/webhooks").mock(
        return_value=httpx.Response(
            201,
            json=envelope(
                {"id": 4, "userId": 7, "subscriberUrl": "https://us.test/hook", "active": True,
                 "triggers": ["BOOKING_CREATED", "BOOKING_CANCELLED", "A_TRIGGER_FROM_THE_FUTURE"],
                 "payloadTemplate": None}
            ),
        )
    )  # fmt: skip
    webhook = await client.create_webhook(
        subscriber_url="https://us.test/hook",
        triggers=[WebhookTrigger.BOOKING_CREATED, WebhookTrigger.BOOKING_CANCELLED],
        secret="s3cret",
    )
    assert json.loads(route.calls.last.request.content) == {
        "subscriberUrl": "https://us.test/hook",
        "triggers": ["BOOKING_CREATED", "BOOKING_CANCELLED"],
        "secret": "s3cret",
        "active": True,
    }
    assert webhook.id == 4
    assert "A_TRIGGER_FROM_THE_FUTURE" in webhook.triggers


async def test_list_webhooks_pages_until_a_short_page(router: respx.MockRouter, client: CalcomClient) -> None:
    def hook(webhook_id: int) -> dict[str, Any]:
        return {"id": webhook_id, "subscriberUrl": "https://us.test/h", "triggers": [], "active": True}

    route = router.get("/v2/webhooks").mock(
        side_effect=[
            httpx.Response(200, json=envelope([hook(n) for n in range(250)])),
            httpx.Response(200, json=envelope([hook(250)])),
        ]
    )
    webhooks = await client.list_webhooks()
    assert len(webhooks) == 251
    assert [call.request.url.params["skip"] for call in route.calls] == ["0", "250"]


# ---------------------------------------------------------------------------------------------- wiring


async def test_http_client_factory_uses_the_settings() -> None:
    settings = Settings(calcom_base_url="https://cal.example", calcom_timeout_s=3.5)
    async with create_http_client(settings) as http:
        assert str(http.base_url) == "https://cal.example"
        assert http.timeout.read == 3.5
        assert http.timeout.connect == 3.5
        assert "authorization" not in http.headers, "the key travels per request, never on the shared client"


def test_client_requires_an_api_key(http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="API key"):
        CalcomClient(http, api_key="")


async def test_clients_built_from_settings_share_the_key_s_limiter(
    router: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    settings = Settings(calcom_api_key="cal_live_shared")
    limiters = RateLimiterRegistry()
    route = router.get("/v2/bookings/bk_1").mock(
        return_value=httpx.Response(200, json=envelope(booking_json()))
    )
    first = CalcomClient.from_settings(http, settings, rate_limiters=limiters)
    second = CalcomClient.from_settings(http, settings, rate_limiters=limiters)

    await first.get_booking("bk_1")
    assert route.calls.last.request.headers["authorization"] == "Bearer cal_live_shared"

    # A block learnt through the key's limiter stops the other client too (120 s > the default 90 s wait).
    limiters.for_api_key("cal_live_shared").note_response(429, {"retry-after": "120"})
    with pytest.raises(CalcomRateLimited):
        await second.get_booking("bk_1")
    assert route.call_count == 1

    with pytest.raises(ValueError, match="CALCOM_API_KEY"):
        CalcomClient.from_settings(http, Settings(calcom_api_key=None), rate_limiters=limiters)
