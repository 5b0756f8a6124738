"""The sandbox's responses against Cal.com's OpenAPI document (reference §9).

Each response is validated against the named component (`components.schemas[NAME]` with the document's
components beside it) using `OAS30Validator`. Where the document and the real server disagree, the server
wins: `SERVER_WINS` lists every such place with the reason, and `test_every_server_wins_entry_is_needed`
proves each one is still a real difference (validating without it fails exactly there), so the list can
neither hide a sandbox bug nor outlive a fixed document.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS30Validator

from composite_booking.calcom.sandbox import CalcomSandbox, ManualClock, seed_demo_salon
from tests.calcom.openapi_document import calcom_openapi

openapi_document = calcom_openapi


def _schema_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


@dataclass(frozen=True)
class ServerWins:
    """One place where the real server answers differently from the document."""

    schema: str
    pointer: tuple[str, ...]
    """Where inside `components.schemas[schema]` the replacement goes."""
    replacement: dict[str, Any]
    reason: str
    sample: str
    """Which recorded response shows the difference ..."""
    at: tuple[str | int, ...]
    """... and where inside it the unpatched document reports an error."""


_NULLABLE_STRING = {"type": "string", "nullable": True}
_TEAM_COLUMNS = ("bannerUrl", "logoUrl", "brandColor", "darkBrandColor", "theme")
_HH_MM = {"type": "string", "pattern": r"^\d{2}:\d{2}$"}
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

SERVER_WINS: tuple[ServerWins, ...] = (
    ServerWins(
        "TeamEventTypeOutput_2024_06_14",
        ("properties", "hosts", "items"),
        {
            "type": "object",
            "required": ["userId", "name", "username"],
            "properties": {
                "userId": {"type": "number"},
                "name": {"type": "string"},
                "username": {"type": "string"},
                "avatarUrl": _NULLABLE_STRING,
                "mandatory": {"type": "boolean"},
                "priority": {"type": "string", "enum": ["lowest", "low", "medium", "high", "highest"]},
            },
        },
        "the document types hosts as strings; the server returns host objects (reference §2.2)",
        "team_event_type",
        ("hosts", 0),
    ),
    ServerWins(
        "TeamEventTypeOutput_2024_06_14",
        ("properties", "recurrence"),
        {"type": "object", "nullable": True},
        "recurrence is `null` for non-recurring types; the document marks it nullable but wraps the $ref in"
        " an allOf, which an OAS 3.0 validator reads as not nullable",
        "team_event_type",
        ("recurrence",),
    ),
    ServerWins(
        "TeamEventTypeOutput_2024_06_14",
        ("properties", "forwardParamsSuccessRedirect"),
        {"type": "boolean", "nullable": True},
        "the column is a boolean; the document says object",
        "team_event_type",
        ("forwardParamsSuccessRedirect",),
    ),
    ServerWins(
        "TeamEventTypeOutput_2024_06_14",
        ("properties", "locations", "items"),
        {
            "anyOf": [
                _schema_ref(f"Output{kind}Location_2024_06_14")
                for kind in ("Address", "Link", "Integration", "Phone", "OrganizersDefaultApp", "Unknown")
            ]
        },
        "the location oneOf overlaps: organizersDefaultApp only requires an unconstrained `type`, so an"
        " integration location matches two branches",
        "team_event_type",
        ("locations", 0),
    ),
    ServerWins(
        "TeamEventTypeOutput_2024_06_14",
        ("properties", "bookingFields", "items"),
        {
            "type": "object",
            "required": ["isDefault", "slug", "type"],
            "properties": {
                "isDefault": {"type": "boolean"},
                "slug": {"type": "string"},
                "type": {"type": "string"},
                "required": {"type": "boolean"},
                "hidden": {"type": "boolean"},
                "label": {"type": "string"},
                "placeholder": {"type": "string"},
                "disableOnPrefill": {"type": "boolean"},
            },
        },
        "the 19-way booking-field oneOf types isDefault as an object, leaves type/slug unconstrained (so"
        " title/notes/guests match several branches) and requires labels the server omits for default fields"
        " (Cal.com's e2e tests expect {isDefault, required, slug, type})",
        "team_event_type",
        ("bookingFields", 0),
    ),
    *(
        ServerWins(
            "EventTypeTeam",
            ("properties", column),
            _NULLABLE_STRING,
            f"team.{column} is a nullable column and is null for a team without branding",
            "team_event_type",
            ("team", column),
        )
        for column in _TEAM_COLUMNS
    ),
    ServerWins(
        "BookingOutput_2024_08_13",
        ("properties", "rating"),
        {"type": "number", "nullable": True},
        "an unrated booking has rating null (reference §9)",
        "booking",
        ("rating",),
    ),
    ServerWins(
        "UserWebhookOutputDto",
        ("properties", "triggers", "items"),
        {"type": "string"},
        "triggers are strings such as BOOKING_CREATED; the document says objects",
        "webhook",
        ("triggers", 0),
    ),
    ServerWins(
        "UserWebhookOutputDto",
        ("properties", "payloadTemplate"),
        _NULLABLE_STRING,
        "a webhook without a template has payloadTemplate null",
        "webhook",
        ("payloadTemplate",),
    ),
    ServerWins(
        "ScheduleAvailabilityInput_2024_06_11",
        ("properties", "days"),
        {"type": "array", "items": {"type": "string", "enum": list(_WEEKDAYS)}},
        "the document puts the weekday enum on the array itself, which no array can satisfy",
        "schedule",
        ("availability", 0, "days"),
    ),
    ServerWins(
        "ScheduleAvailabilityInput_2024_06_11",
        ("properties", "startTime"),
        _HH_MM,
        "the pattern is the literal constant name TIME_FORMAT_HH_MM instead of a regular expression",
        "schedule",
        ("availability", 0, "startTime"),
    ),
    ServerWins(
        "ScheduleAvailabilityInput_2024_06_11",
        ("properties", "endTime"),
        _HH_MM,
        "same literal TIME_FORMAT_HH_MM pattern",
        "schedule",
        ("availability", 0, "endTime"),
    ),
)


def _components(*, with_server_wins: bool) -> dict[str, Any]:
    components: dict[str, Any] = copy.deepcopy(openapi_document()["components"])
    if with_server_wins:
        for difference in SERVER_WINS:
            node = components["schemas"][difference.schema]
            for key in difference.pointer[:-1]:
                node = node[key]
            node[difference.pointer[-1]] = copy.deepcopy(difference.replacement)
    return components


@cache
def _validator(name: str, with_server_wins: bool = True) -> OAS30Validator:
    components = _components(with_server_wins=with_server_wins)
    return OAS30Validator({**components["schemas"][name], "components": components})


def _errors(name: str, instance: Any, *, with_server_wins: bool = True) -> list[str]:
    return [
        f"{list(error.absolute_path)}: {error.message[:160]}"
        for error in _validator(name, with_server_wins).iter_errors(instance)
    ]


# --- the responses under test, recorded once per test from a seeded sandbox


@pytest.fixture
async def samples() -> dict[str, Any]:
    sandbox = CalcomSandbox(clock=ManualClock(datetime(2030, 1, 7, 8, tzinfo=UTC)), seed=3)
    salon = seed_demo_salon(sandbox)
    auth = {"Authorization": f"Bearer {salon.api_key}"}
    bookings = {**auth, "cal-api-version": "2024-08-13"}
    recorded: dict[str, Any] = {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app), base_url="http://c"
    ) as client:
        created = await client.post(
            f"/v2/teams/{salon.team_id}/event-types",
            json={
                "title": "Cut",
                "slug": "cut",
                "lengthInMinutes": 60,
                "schedulingType": "roundRobin",
                "hosts": [{"userId": salon.emma_id}, {"userId": salon.fabian_id, "priority": "high"}],
                "minimumBookingNotice": 0,
                "afterEventBuffer": 15,
            },
            headers=auth,
        )
        recorded["team_event_type_create"] = created.json()
        event_type_id = created.json()["data"]["id"]
        got = await client.get(f"/v2/teams/{salon.team_id}/event-types/{event_type_id}", headers=auth)
        recorded["team_event_type_get"] = got.json()
        recorded["team_event_type"] = got.json()["data"]

        attendee = {"name": "Anna Schmidt", "email": "anna@example.com", "timeZone": "Europe/Berlin"}
        body = {"eventTypeId": event_type_id, "start": "2030-01-08T09:00:00Z", "attendee": attendee}
        booking = (
            await client.post("/v2/bookings", json={**body, "metadata": {"k": "v"}}, headers=bookings)
        ).json()
        recorded["booking_create"] = booking
        recorded["booking"] = booking["data"]
        uid = booking["data"]["uid"]
        recorded["booking_get"] = (await client.get(f"/v2/bookings/{uid}", headers=bookings)).json()
        moved = await client.post(
            f"/v2/bookings/{uid}/reschedule", json={"start": "2030-01-08T12:00:00Z"}, headers=bookings
        )
        recorded["booking_reschedule"] = moved.json()
        recorded["booking_rescheduled_old"] = (
            await client.get(f"/v2/bookings/{uid}", headers=bookings)
        ).json()
        new_uid = moved.json()["data"]["uid"]
        cancelled = await client.post(
            f"/v2/bookings/{new_uid}/cancel", json={"cancellationReason": "Ill"}, headers=bookings
        )
        recorded["booking_cancel"] = cancelled.json()
        recorded["booking_list"] = (await client.get("/v2/bookings", headers=bookings)).json()
        recorded["busy_error"] = (
            await client.post(
                "/v2/bookings", json={**body, "start": "2030-01-06T09:00:00Z"}, headers=bookings
            )
        ).json()
        recorded["validation_error"] = (await client.post("/v2/bookings", json={}, headers=bookings)).json()
        recorded["auth_error"] = (
            await client.get("/v2/bookings", headers={"cal-api-version": "2024-08-13"})
        ).json()

        query = {"eventTypeId": event_type_id, "start": "2030-01-08", "end": "2030-01-09", "format": "range"}
        slots = await client.get(
            "/v2/slots",
            params={**query, "timeZone": "Europe/Berlin"},
            headers={"cal-api-version": "2024-09-04"},
        )
        recorded["slots_range"] = slots.json()

        webhook = await client.post(
            "/v2/webhooks",
            json={
                "subscriberUrl": "https://app.example/hook",
                "active": True,
                "triggers": ["BOOKING_CREATED"],
            },
            headers=auth,
        )
        recorded["webhook_create"] = webhook.json()
        recorded["webhook"] = webhook.json()["data"]
        emma_key = sandbox.issue_api_key(salon.emma_id)
        schedules = await client.get(
            "/v2/schedules", headers={"Authorization": f"Bearer {emma_key}", "cal-api-version": "2024-06-11"}
        )
        recorded["schedules"] = schedules.json()
        recorded["schedule"] = schedules.json()["data"][0]
    return recorded


# --- the contract


def test_server_wins_entries_point_at_real_schema_nodes() -> None:
    schemas = openapi_document()["components"]["schemas"]
    for difference in SERVER_WINS:
        node = schemas[difference.schema]
        for key in difference.pointer:
            assert key in node, f"{difference.schema} has no {difference.pointer}: the document changed"
            node = node[key]


async def test_every_server_wins_entry_is_needed(samples: dict[str, Any]) -> None:
    """Without an entry, the unpatched document must report an error exactly where the entry says."""
    component_of_sample = {
        "team_event_type": "TeamEventTypeOutput_2024_06_14",
        "booking": "BookingOutput_2024_08_13",
        "webhook": "UserWebhookOutputDto",
        "schedule": "ScheduleOutput_2024_06_11",
    }
    for difference in SERVER_WINS:
        component = component_of_sample[difference.sample]
        failing = [
            list(e.absolute_path)
            for e in _validator(component, False).iter_errors(samples[difference.sample])
        ]
        assert any(path[: len(difference.at)] == list(difference.at) for path in failing), (
            f"{difference.schema}{difference.pointer} matches the server now; drop it ({difference.reason})"
        )


async def test_team_event_type_create_and_get(samples: dict[str, Any]) -> None:
    assert _errors("CreateTeamEventTypeOutput", samples["team_event_type_create"]) == []
    assert _errors("GetTeamEventTypeOutput", samples["team_event_type_get"]) == []
    assert _errors("TeamEventTypeOutput_2024_06_14", samples["team_event_type"]) == []


@pytest.mark.parametrize(
    "sample",
    ["booking_create", "booking_get", "booking_reschedule", "booking_rescheduled_old", "booking_cancel"],
)
async def test_booking_outputs(samples: dict[str, Any], sample: str) -> None:
    """Validated against the named component: the documented `data` unions overlap (a plain booking also
    matches the seated output), so validating the union would fail valid bodies (reference §9)."""
    response = samples[sample]

    assert response["status"] == "success"
    assert _errors("BookingOutput_2024_08_13", response["data"]) == []


async def test_the_states_a_booking_goes_through(samples: dict[str, Any]) -> None:
    old = samples["booking_rescheduled_old"]["data"]
    new = samples["booking_reschedule"]["data"]
    cancelled = samples["booking_cancel"]["data"]

    assert old["status"] == "cancelled"
    assert old["rescheduledToUid"] == new["uid"]
    assert new["rescheduledFromUid"] == old["uid"]
    assert cancelled["cancellationReason"] == "Ill"


async def test_booking_list_and_pagination(samples: dict[str, Any]) -> None:
    listed = samples["booking_list"]

    for booking in listed["data"]:
        assert _errors("BookingOutput_2024_08_13", booking) == []
    assert _errors("PaginationMetaDto", listed["pagination"]) == []


SLOTS_AS_SERVED = {
    "type": "object",
    "additionalProperties": False,
    "patternProperties": {
        r"^\d{4}-\d{2}-\d{2}$": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["start", "end"],
                "additionalProperties": False,
                "properties": {"start": {"type": "string"}, "end": {"type": "string"}},
            },
        }
    },
}


async def test_slots_range_output(samples: dict[str, Any]) -> None:
    """`RangeSlotsOutput_2024_09_04` has no properties, so it accepts the served map of dates; the documented
    envelope `ResponseSlotsOutputData` ({eventTypeId, slots}) is not what the 2024-09-04 controller returns
    (reference §3.1: the date keys sit directly under `data`), so the served shape is pinned separately."""
    data = samples["slots_range"]["data"]

    assert _errors("RangeSlotsOutput_2024_09_04", data) == []
    assert OAS30Validator(SLOTS_AS_SERVED).is_valid(data)
    assert (
        _errors("ResponseSlotsOutputData", data) != []
    )  # the document's wrapper, which the server does not use
    assert data["2030-01-08"][0] == {
        "start": "2030-01-08T09:00:00.000+01:00",
        "end": "2030-01-08T10:00:00.000+01:00",
    }


ERROR_ENVELOPE = {
    "type": "object",
    "required": ["status", "timestamp", "path", "error"],
    "additionalProperties": False,
    "properties": {
        "status": {"type": "string", "enum": ["error"]},
        "timestamp": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"},
        "path": {"type": "string", "pattern": "^/v2/"},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        },
    },
}


def test_the_document_has_no_error_envelope_schema() -> None:
    """Reference §1.4 is the only description of the error envelope; should the document gain one, use it."""
    schemas = openapi_document()["components"]["schemas"]
    envelopes = [
        name
        for name, schema in schemas.items()
        if {"timestamp", "path", "error"} <= set(schema.get("properties", {}))
        or re.search(r"(^|_)Error(Output|Response|Dto)?$", name)
    ]

    assert envelopes == []


@pytest.mark.parametrize("sample", ["busy_error", "validation_error", "auth_error"])
async def test_error_envelopes_follow_reference_1_4(samples: dict[str, Any], sample: str) -> None:
    assert OAS30Validator(ERROR_ENVELOPE).is_valid(samples[sample]), samples[sample]


async def test_webhook_and_schedule_outputs(samples: dict[str, Any]) -> None:
    assert _errors("UserWebhookOutputResponseDto", samples["webhook_create"]) == []
    assert _errors("GetSchedulesOutput_2024_06_11", samples["schedules"]) == []
