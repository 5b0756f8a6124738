"""Contract tests against Cal.com's own OpenAPI document (reference §9).

Requests: the JSON bodies the client really sends are validated against the named input components,
made strict (`additionalProperties: false`), because Cal.com silently drops unknown keys: a misspelt field
would otherwise vanish without an error anywhere.

Responses: examples built from the document's own `example` values are parsed into our models. Where the
document and the server disagree, the server wins and the test says so (`SERVER_DIFFERS`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx
from openapi_schema_validator import OAS30Validator

from composite_booking.calcom.client import CalcomClient, RetryPolicy
from composite_booking.calcom.models import (
    AttendeeInput,
    Booking,
    BookingStatus,
    HostInput,
    Pagination,
    Schedule,
    SchedulingType,
    TeamEventType,
    TeamEventTypeCreate,
    TeamEventTypeUpdate,
    Webhook,
    WebhookTrigger,
    Weekday,
)
from composite_booking.calcom.ratelimit import RateLimiter
from tests.calcom.openapi_document import calcom_openapi

BASE_URL = "https://cal.test"
BERLIN = ZoneInfo("Europe/Berlin")
AT = datetime(2050, 9, 5, 10, 0, tzinfo=BERLIN)

openapi_document = calcom_openapi


@cache
def strict_components() -> dict[str, Any]:
    """The document's components with every object schema closed to undeclared properties.

    Safe here because the document has no multi-member `allOf` (which closing would break). It also makes
    the `oneOf` location unions decidable: an open `{type}`-only variant no longer matches every location.
    """
    components: dict[str, Any] = copy.deepcopy(openapi_document()["components"])

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for child in node.values():
                close(child)
        elif isinstance(node, list):
            for child in node:
                close(child)

    close(components["schemas"])
    return components


def contract_errors(
    component: str, body: Any, *, patch: Callable[[dict[str, Any]], None] | None = None
) -> list[str]:
    """Violations of `components.schemas[component]`, with the components beside it so `$ref`s resolve."""
    components = strict_components()
    if patch is not None:
        components = copy.deepcopy(components)
        patch(components["schemas"])
    schema = {**components["schemas"][component], "components": components}
    validator = OAS30Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(body)
    ]


def example_of(schema: dict[str, Any], *, depth: int = 0) -> Any:
    """An instance assembled from the document's `example` values (types fill the gaps)."""
    components = openapi_document()["components"]["schemas"]
    if depth > 12:
        return None
    if "$ref" in schema:
        return example_of(components[schema["$ref"].rsplit("/", 1)[-1]], depth=depth + 1)
    if "example" in schema:
        return copy.deepcopy(schema["example"])
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(example_of(part, depth=depth + 1) or {})
        return merged
    for union in ("oneOf", "anyOf"):
        if union in schema:
            return example_of(schema[union][0], depth=depth + 1)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: example_of(prop, depth=depth + 1) for name, prop in properties.items()}
    if kind == "array":
        return [example_of(schema.get("items", {}), depth=depth + 1)]
    return {"string": "text", "number": 1, "integer": 1, "boolean": False}.get(kind)


def component_example(name: str) -> dict[str, Any]:
    example = example_of(openapi_document()["components"]["schemas"][name])
    assert isinstance(example, dict)
    return dict(example)


# Where the server answers differently from what the document declares (reference §2.1, §4.2, §6.1).
SERVER_DIFFERS: dict[str, dict[str, Any]] = {
    "TeamEventTypeOutput_2024_06_14": {
        # Declared as strings; the server sends host objects.
        "hosts": [
            {"userId": 7, "name": "Fabian", "username": "fabian", "avatarUrl": None, "priority": "medium"}
        ],
        # Declared as untyped objects; the server sends ids or null.
        "ownerId": None,
        "parentEventTypeId": None,
    },
    # Declared as a number, not nullable; the server sends null for an unrated booking.
    "BookingOutput_2024_08_13": {"rating": None},
    # Trigger items are declared as objects; the server sends the trigger names.
    "UserWebhookOutputDto": {"triggers": ["BOOKING_CREATED", "BOOKING_CANCELLED"]},
}


def realistic(name: str) -> dict[str, Any]:
    return {**component_example(name), **SERVER_DIFFERS.get(name, {})}


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def router() -> respx.MockRouter:
    return respx.MockRouter(base_url=BASE_URL, assert_all_called=False)


@pytest.fixture
async def client(router: respx.MockRouter) -> AsyncIterator[CalcomClient]:
    async def no_sleep(seconds: float) -> None:
        return None

    async with httpx.AsyncClient(
        base_url=BASE_URL, transport=httpx.MockTransport(router.async_handler)
    ) as http:
        yield CalcomClient(
            http,
            api_key="cal_contract",
            rate_limiter=RateLimiter(sleep=no_sleep),
            retry=RetryPolicy(max_attempts=1),
            sleep=no_sleep,
        )


def ok(data: Any, status: int = 200, **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"status": "success", "data": data, **extra})


async def sent_body(route: respx.Route, call: Awaitable[object]) -> Any:
    await call
    return json.loads(route.calls.last.request.content)


# --------------------------------------------------------------------------------------------- request bodies


async def test_create_booking_body_matches_the_contract(
    router: respx.MockRouter, client: CalcomClient
) -> None:
    route = router.post("/v2/bookings").mock(return_value=ok(realistic("BookingOutput_2024_08_13"), 201))
    attendee = AttendeeInput(
        name="Kim Meyer",
        email="kim@example.com",
        time_zone="Europe/Berlin",
        phone_number="+4917012345",
        language="de",
    )
    body = await sent_body(
        route,
        client.create_booking(
            event_type_id=50,
            start=AT,
            attendee=attendee,
            metadata={"composite_uid": "cmp_1", "segment": "A"},
            length_in_minutes=30,
            guests=["friend@example.com"],
            booking_fields_responses={"notes": "first visit"},
        ),
    )
    assert contract_errors("CreateBookingInput_2024_08_13", body) == []
    minimal = await sent_body(route, client.create_booking(event_type_id=50, start=AT, attendee=attendee))
    assert contract_errors("CreateBookingInput_2024_08_13", minimal) == []


def test_the_strict_contract_would_catch_a_misspelt_field() -> None:
    """Guards the guard: without closing the schemas, this body would pass and Cal.com would drop the key."""
    body = {
        "start": "2050-09-05T08:00:00Z",
        "eventTypeId": 50,
        "attendee": {"name": "Kim", "timezone": "UTC"},
    }
    assert contract_errors("CreateBookingInput_2024_08_13", body) != []


async def test_team_event_type_bodies_match_the_contract(
    router: respx.MockRouter, client: CalcomClient
) -> None:
    event_type = realistic("TeamEventTypeOutput_2024_06_14")
    create = router.post("/v2/teams/3/event-types").mock(return_value=ok(event_type, 201))
    update = router.patch("/v2/teams/3/event-types/1").mock(return_value=ok(event_type))
    spec = TeamEventTypeCreate(
        title="A colour (Fabian)",
        slug="seg-a-7",
        length_in_minutes=30,
        scheduling_type=SchedulingType.COLLECTIVE,
        hosts=[HostInput(user_id=7)],
        hidden=True,
        description="Segment A of Ansatzfärbung",
        slot_interval=15,
        minimum_booking_notice=60,
        before_event_buffer=0,
        after_event_buffer=15,
        schedule_id=254,
        disable_guests=True,
        locations=[{"type": "integration", "integration": "cal-video"}],
        booking_requires_authentication=True,
    )

    created = await sent_body(create, client.create_team_event_type(3, spec))
    changed = await sent_body(
        update,
        client.update_team_event_type(
            3, 1, TeamEventTypeUpdate(after_event_buffer=0, hosts=[HostInput(user_id=8)], hidden=True)
        ),
    )

    assert contract_errors("CreateTeamEventTypeInput_2024_06_14", created) == []
    assert contract_errors("UpdateTeamEventTypeInput_2024_06_14", changed) == []


async def test_cancel_and_reschedule_bodies_match_the_contract(
    router: respx.MockRouter, client: CalcomClient
) -> None:
    booking = realistic("BookingOutput_2024_08_13")
    cancel = router.post("/v2/bookings/bk_1/cancel").mock(return_value=ok(booking))
    reschedule = router.post("/v2/bookings/bk_1/reschedule").mock(return_value=ok(booking, 201))

    cancelled = await sent_body(cancel, client.cancel_booking("bk_1", reason="Segment B could not be booked"))
    moved = await sent_body(
        reschedule,
        client.reschedule_booking(
            "bk_1", start=AT + timedelta(days=1), reason="customer asked", rescheduled_by="owner@salon.test"
        ),
    )

    assert contract_errors("CancelBookingInput_2024_08_13", cancelled) == []
    assert contract_errors("RescheduleBookingInput_2024_08_13", moved) == []


async def test_webhook_body_matches_the_contract(router: respx.MockRouter, client: CalcomClient) -> None:
    route = router.post("/v2/webhooks").mock(return_value=ok(realistic("UserWebhookOutputDto"), 201))
    body = await sent_body(
        route,
        client.create_webhook(
            subscriber_url="https://booking.salon.test/calcom/webhooks",
            triggers=[WebhookTrigger.BOOKING_CREATED, WebhookTrigger.BOOKING_RESCHEDULED],
            secret="whsec",
        ),
    )

    def triggers_are_an_array(schemas: dict[str, Any]) -> None:
        # The document types `triggers` as one string with the enum; the server takes an array of them.
        declared = schemas["CreateWebhookInputDto"]["properties"]["triggers"]
        declared.update({"type": "array", "items": {"type": "string", "enum": declared.pop("enum")}})

    assert contract_errors("CreateWebhookInputDto", body, patch=triggers_are_an_array) == []


# ---------------------------------------------------------------------------------------------- responses


async def test_booking_examples_parse(router: respx.MockRouter, client: CalcomClient) -> None:
    example = realistic("BookingOutput_2024_08_13")
    router.get("/v2/bookings/booking_uid_123").mock(return_value=ok(example))

    booking = await client.get_booking("booking_uid_123")

    assert (booking.id, booking.uid, booking.status) == (123, "booking_uid_123", BookingStatus.ACCEPTED)
    assert booking.start.utcoffset() == timedelta(0)
    assert booking.end - booking.start == timedelta(minutes=booking.duration or 0)
    assert booking.booked_event_type_id == example["eventType"]["id"]
    assert booking.attendees[0].email == example["attendees"][0]["email"]
    assert booking.rescheduled_to_uid == "new_uid_456"


async def test_booking_list_example_parses_with_its_pagination(
    router: respx.MockRouter, client: CalcomClient
) -> None:
    router.get("/v2/bookings").mock(
        return_value=ok(
            [realistic("BookingOutput_2024_08_13")], pagination=component_example("PaginationMetaDto")
        )
    )
    page = await client.list_bookings(take=10, skip=10)
    assert len(page.bookings) == 1
    assert page.pagination == Pagination(
        total_items=123,
        remaining_items=103,
        returned_items=10,
        items_per_page=10,
        current_page=2,
        total_pages=13,
        has_next_page=True,
        has_previous_page=True,
    )


def test_the_reference_booking_example_parses() -> None:
    """The full example of reference §4.2, including fields only some bookings carry."""
    booking = Booking.model_validate(
        {"id": 123, "uid": "abc", "title": "Intro", "description": "", "status": "accepted",
         "start": "2024-08-13T15:30:00.000Z", "end": "2024-08-13T16:30:00.000Z", "duration": 60,
         "eventTypeId": 50, "eventType": {"id": 50, "slug": "intro"},
         "hosts": [{"id": 1, "name": "Host", "email": "h@x.com", "username": "host",
                    "timeZone": "Europe/Berlin"}],
         "attendees": [{"name": "A", "email": "a@x.com", "timeZone": "Europe/Berlin", "language": "en",
                        "absent": False, "phoneNumber": "+491701234"}],
         "guests": ["g@x.com"], "location": "https://cal.com/video/abc", "meetingUrl": "https://cal.com/video/abc",
         "absentHost": False, "bookingFieldsResponses": {"name": "A", "email": "a@x.com"}, "metadata": {},
         "createdAt": "2024-08-01T10:00:00.000Z", "updatedAt": "2024-08-01T10:00:00.000Z", "icsUid": "ics",
         "rating": None, "cancellationReason": "r", "cancelledByEmail": "c@x.com", "reschedulingReason": "r",
         "rescheduledByEmail": "r@x.com", "rescheduledFromUid": "old", "rescheduledToUid": "new"}
    )  # fmt: skip
    assert booking.hosts[0].time_zone == "Europe/Berlin"
    assert (booking.rescheduled_from_uid, booking.rescheduled_to_uid) == ("old", "new")


async def test_team_event_type_example_parses(router: respx.MockRouter, client: CalcomClient) -> None:
    example = realistic("TeamEventTypeOutput_2024_06_14")
    router.get("/v2/teams/3/event-types/1").mock(return_value=ok(example))

    event_type = await client.get_team_event_type(3, 1)

    assert isinstance(event_type, TeamEventType)
    assert (event_type.id, event_type.slug, event_type.length_in_minutes) == (1, example["slug"], 60)
    assert event_type.slot_interval == 60
    assert event_type.hosts[0].user_id == 7
    assert event_type.scheduling_type in set(SchedulingType)


async def test_schedule_example_parses(router: respx.MockRouter, client: CalcomClient) -> None:
    router.get("/v2/schedules").mock(return_value=ok([realistic("ScheduleOutput_2024_06_11")]))

    (schedule,) = await client.list_schedules()

    assert isinstance(schedule, Schedule)
    assert (schedule.id, schedule.time_zone, schedule.is_default) == (254, "Europe/Rome", True)
    assert schedule.availability[0].days == [Weekday.MONDAY, Weekday.TUESDAY]
    assert (schedule.availability[0].start_time.hour, schedule.availability[0].end_time.hour) == (17, 19)
    assert schedule.overrides[0].date == date(2024, 5, 20)


async def test_slots_range_example_parses(router: respx.MockRouter, client: CalcomClient) -> None:
    """The document's own example for `GET /v2/slots?format=range`."""
    response = openapi_document()["paths"]["/v2/slots"]["get"]["responses"]["200"]
    schema = response["content"]["application/json"]["schema"]
    (range_example,) = [s["example"] for s in schema["oneOf"] if "range" in s["title"].lower()]
    router.get("/v2/slots").mock(return_value=httpx.Response(200, json=range_example))

    slots = await client.get_slots(
        event_type_id=1, start=AT, end=AT + timedelta(days=2), time_zone="Europe/Rome", duration_min=60
    )

    assert list(slots) == [date(2050, 9, 5), date(2050, 9, 6)]
    first = slots[date(2050, 9, 5)][0]
    assert first.start.isoformat() == "2050-09-05T09:00:00+02:00"
    assert first.end - first.start == timedelta(hours=1)


async def test_webhook_example_parses(router: respx.MockRouter, client: CalcomClient) -> None:
    router.get("/v2/webhooks").mock(return_value=ok([realistic("UserWebhookOutputDto")]))
    (webhook,) = await client.list_webhooks()
    assert isinstance(webhook, Webhook)
    assert webhook.triggers == ["BOOKING_CREATED", "BOOKING_CANCELLED"]
    assert webhook.payload_template is not None
