"""Snapshots: a restored sandbox answers every request like the original and carries on where it stopped."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from composite_booking.calcom.sandbox import (
    SNAPSHOT_FORMAT,
    CalcomSandbox,
    DemoSalon,
    ManualClock,
    SnapshotError,
)
from composite_booking.calcom.sandbox.snapshot import write_snapshot

if TYPE_CHECKING:
    from conftest import SandboxApi

BOOKINGS_V = {"cal-api-version": "2024-08-13"}
SLOTS_V = {"cal-api-version": "2024-09-04"}
SCHEDULES_V = {"cal-api-version": "2024-06-11"}
SLOT_RANGE = {"start": "2030-01-07", "end": "2030-01-12"}


@dataclass(frozen=True, slots=True)
class RichSalon:
    """The demo salon after a morning's work; the keys are those an HTTP client would hold."""

    salon: DemoSalon
    emma_key: str
    event_type_ids: list[int]


@pytest.fixture
async def rich(api: SandboxApi, sandbox: CalcomSandbox, salon: DemoSalon) -> RichSalon:
    colour = await api.create_event_type(
        "colour",
        hosts=[salon.emma_id],
        length=30,
        beforeEventBuffer=10,
        afterEventBuffer=30,
        slotInterval=15,
        description="Colour, then processing",
        color={"lightThemeHex": "#abcdef"},
    )
    any_stylist = await api.create_event_type(
        "any-cut",
        hosts=[salon.emma_id, salon.fabian_id, salon.david_id],
        length=45,
        schedulingType="roundRobin",
    )
    pair = await api.create_event_type("pair", hosts=[salon.emma_id, salon.fabian_id], length=60)
    # Wednesday Emma works 12:00-14:00 only; Thursday Fabian is off.
    sandbox.add_override(
        salon.schedule_ids["emma-williams"], {"date": "2030-01-09", "startTime": "12:00", "endTime": "14:00"}
    )
    sandbox.add_override(
        salon.schedule_ids["fabian-spitzer"], {"date": "2030-01-10", "startTime": "00:00", "endTime": "00:00"}
    )
    subscribed = await api.client.post(
        "/v2/webhooks",
        json={
            "subscriberUrl": "https://app.example/hooks/calcom",
            "active": True,
            "triggers": ["BOOKING_CREATED", "BOOKING_CANCELLED"],
            "secret": "whsec-1",
            "payloadTemplate": '{"uid": "{{uid}}"}',
        },
        headers=api.auth,
    )
    assert subscribed.status_code == 201, subscribed.text
    sandbox.add_webhook(subscriber_url="https://team.example/hooks", team_id=salon.team_id, secret="team")

    await api.booked(colour["id"], "2030-01-08T09:00:00Z", metadata={"compositeUid": "c-1"})
    await api.booked(any_stylist["id"], "2030-01-08T12:00:00Z", name="Bo Berg", email="bo@example.com")
    await api.booked(pair["id"], "2030-01-09T11:00:00Z", email="pair@example.com")
    dropped = await api.booked(colour["id"], "2030-01-11T10:00:00Z", email="dropped@example.com")
    assert (await api.cancel(dropped["uid"], reason="Customer is ill")).status_code == 200
    moved = await api.booked(any_stylist["id"], "2030-01-10T09:00:00Z", email="moved@example.com")
    rescheduled = await api.reschedule(moved["uid"], "2030-01-10T13:00:00Z", reschedulingReason="Later")
    assert rescheduled.status_code == 201, rescheduled.text
    sandbox.add_booking(
        pair["id"], datetime.fromisoformat("2030-01-11T14:00:00Z"), metadata={"source": "booking page"}
    )
    emma_key = sandbox.issue_api_key(salon.emma_id)
    await sandbox.flush_webhooks()
    return RichSalon(salon, emma_key, [colour["id"], any_stylist["id"], pair["id"]])


@pytest.fixture
def restored_sandbox(clock: ManualClock) -> CalcomSandbox:
    """A second sandbox at the same instant; its seed differs so only the snapshot can make uids agree."""
    return CalcomSandbox(clock=ManualClock(clock()), seed=99)


@pytest.fixture
async def restored_client(restored_sandbox: CalcomSandbox) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=restored_sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://calcom.sandbox") as http:
        yield http


def _through_json(document: dict[str, Any]) -> dict[str, Any]:
    """What a file on disk gives back: proves the document is plain JSON, not Python objects."""
    loaded: dict[str, Any] = json.loads(json.dumps(document))
    return loaded


async def _http_answers(client: httpx.AsyncClient, sandbox: CalcomSandbox, rich: RichSalon) -> dict[str, Any]:
    """Every read a client of this salon can make, by request; each must succeed."""
    team_id = rich.salon.team_id
    callers = {
        "admin": {"Authorization": f"Bearer {rich.salon.api_key}"},
        "emma": {"Authorization": f"Bearer {rich.emma_key}"},
        "anonymous": {},
    }
    requests: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
        ("admin", "/v2/me", {}, {}),
        ("emma", "/v2/me", {}, {}),
        ("admin", f"/v2/teams/{team_id}/event-types", {}, {}),
        ("admin", "/v2/bookings", {}, BOOKINGS_V),
        ("admin", "/v2/bookings", {"status": "cancelled"}, BOOKINGS_V),
        ("admin", "/v2/bookings", {"status": "upcoming", "sortStart": "desc"}, BOOKINGS_V),
        ("emma", "/v2/schedules", {}, SCHEDULES_V),
        ("admin", f"/v2/teams/{team_id}/schedules", {}, SCHEDULES_V),
        ("admin", "/v2/webhooks", {}, {}),
    ]
    for event_type_id in rich.event_type_ids:
        requests.append(("admin", f"/v2/teams/{team_id}/event-types/{event_type_id}", {}, {}))
        requests.append(("admin", "/v2/slots", {"eventTypeId": event_type_id, **SLOT_RANGE}, SLOTS_V))
    for booking in sandbox.bookings:
        requests.append(("anonymous", f"/v2/bookings/{booking.uid}", {}, BOOKINGS_V))

    answers: dict[str, Any] = {}
    for caller, path, params, version in requests:
        response = await client.get(path, params=params, headers={**callers[caller], **version})
        assert response.status_code == 200, (path, response.text)
        answers[f"{caller} GET {response.url.path}?{response.url.query.decode()}"] = response.json()
    return answers


async def test_a_restored_sandbox_answers_every_read_like_the_original(
    rich: RichSalon,
    sandbox: CalcomSandbox,
    client: httpx.AsyncClient,
    restored_sandbox: CalcomSandbox,
    restored_client: httpx.AsyncClient,
) -> None:
    restored_sandbox.restore(_through_json(sandbox.snapshot()))

    original = await _http_answers(client, sandbox, rich)
    restored = await _http_answers(restored_client, restored_sandbox, rich)

    assert restored == original
    # The comparison covers what the fixture built, not two empty answers.
    bookings = original["admin GET /v2/bookings?"]["data"]
    assert {b["status"] for b in bookings} == {"accepted", "cancelled"}
    assert any(b.get("rescheduledToUid") for b in bookings)
    colour_slots = original[
        f"admin GET /v2/slots?eventTypeId={rich.event_type_ids[0]}&start=2030-01-07&end=2030-01-12"
    ]
    assert "2030-01-08" in colour_slots["data"]
    assert "2030-01-09" in colour_slots["data"]  # Emma's override: 12:00-14:00 only


async def test_new_objects_after_a_restore_get_fresh_ids_exactly_as_the_original_would(
    rich: RichSalon,
    api: SandboxApi,
    sandbox: CalcomSandbox,
    restored_sandbox: CalcomSandbox,
    restored_client: httpx.AsyncClient,
) -> None:
    highest_event_type_id = max(et.id for et in sandbox.event_types)
    highest_booking_id = max(b.id for b in sandbox.bookings)
    highest_webhook_id = max(w.id for w in sandbox.webhooks)
    known_uids = {b.uid for b in sandbox.bookings}
    restored_sandbox.restore(_through_json(sandbox.snapshot()))
    restored_api = type(api)(restored_client, rich.salon)

    async def make_more(target: SandboxApi) -> tuple[dict[str, Any], dict[str, Any], int]:
        event_type = await target.create_event_type("blow-dry", hosts=[rich.salon.david_id], length=30)
        booking = await target.booked(event_type["id"], "2030-01-08T15:00:00Z", email="new@example.com")
        webhook = await target.client.post(
            "/v2/webhooks",
            json={"subscriberUrl": "https://other.example/", "active": True, "triggers": ["BOOKING_CREATED"]},
            headers=target.auth,
        )
        return event_type, booking, webhook.json()["data"]["id"]

    after_restore = await make_more(restored_api)
    had_it_kept_running = await make_more(api)

    event_type, booking, webhook_id = after_restore
    assert event_type["id"] > highest_event_type_id
    assert booking["id"] > highest_booking_id
    assert booking["uid"] not in known_uids
    assert webhook_id > highest_webhook_id
    assert after_restore == had_it_kept_running


async def test_snapshot_of_a_restore_is_the_snapshot(rich: RichSalon, sandbox: CalcomSandbox) -> None:
    document = sandbox.snapshot()
    copy = CalcomSandbox(seed=3)

    copy.restore(_through_json(document))

    assert copy.snapshot() == document
    assert json.dumps(copy.snapshot()) == json.dumps(document)
    assert document["format"] == SNAPSHOT_FORMAT == 1
    assert len(document["bookings"]) == len(sandbox.bookings) == 7


async def test_the_snapshot_shares_nothing_with_the_live_state(
    rich: RichSalon, sandbox: CalcomSandbox
) -> None:
    document = sandbox.snapshot()
    frozen = json.dumps(document)

    sandbox.bookings[0].metadata["changed"] = "later"
    sandbox.event_types[0].hosts.clear()
    restored = CalcomSandbox()
    restored.restore(document)
    restored.bookings[0].metadata["changed"] = "in the copy"

    assert json.dumps(document) == frozen


def test_save_and_load_round_trip_through_a_file(
    sandbox: CalcomSandbox, salon: DemoSalon, tmp_path: Path
) -> None:
    cut = sandbox.add_event_type(
        salon.team_id,
        title="Cut",
        slug="cut",
        lengthInMinutes=30,
        schedulingType="collective",
        hosts=[{"userId": salon.emma_id}],
    )
    kept = sandbox.add_booking(cut.id, datetime.fromisoformat("2030-01-08T12:00:00Z"))
    path = tmp_path / "calcom-sandbox.json"
    sandbox.save(path)
    first = path.read_text()
    sandbox.cancel_booking(kept.uid, reason="Changed after the first save")
    sandbox.save(path)
    loaded = CalcomSandbox()

    loaded.load(path)

    assert loaded.snapshot() == sandbox.snapshot()
    assert loaded.booking(kept.uid).cancellation_reason == "Changed after the first save"
    assert path.read_text() != first
    assert json.loads(path.read_text())["format"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["calcom-sandbox.json"]


def test_a_failed_save_leaves_no_temporary_file(tmp_path: Path) -> None:
    in_the_way = tmp_path / "snapshot.json"
    in_the_way.mkdir()  # os.replace cannot put a file where a directory is

    with pytest.raises(IsADirectoryError):
        write_snapshot(in_the_way, CalcomSandbox().snapshot())

    assert [p.name for p in tmp_path.iterdir()] == ["snapshot.json"]
    assert in_the_way.is_dir()


def _with(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        document[key] = value

    return change


def _without(key: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        del document[key]

    return change


def _lower_next_booking_id(document: dict[str, Any]) -> None:
    document["next_ids"]["bookings"] = document["bookings"][-1]["id"]


def _unknown_user_field(document: dict[str, Any]) -> None:
    document["users"][0]["password"] = "hunter2"


def _booking_start_not_a_time(document: dict[str, Any]) -> None:
    document["bookings"][0]["start"] = "next Tuesday"


def _user_id_as_text(document: dict[str, Any]) -> None:
    document["users"][0]["id"] = "101"


def _unknown_status(document: dict[str, Any]) -> None:
    document["bookings"][0]["status"] = "pending"


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (_with("format", 2), "snapshot format 2 is not supported (this version reads format 1)"),
        (_without("format"), "snapshot format None is not supported"),
        (_without("bookings"), "the snapshot has no 'bookings'"),
        (_lower_next_booking_id, "next_ids.bookings is"),
        (_unknown_user_field, "users[0]: unknown fields ['password'] for User"),
        (_booking_start_not_a_time, "bookings[0].start"),
        (_user_id_as_text, "users[0].id: expected int, got '101'"),
        (_unknown_status, "bookings[0].status"),
        (_with("generator", {"version": 3, "internal": [1, 2], "gauss_next": None}), "generator"),
    ],
    ids=[
        "format-2",
        "no-format",
        "no-bookings",
        "next-id-already-taken",
        "unknown-field",
        "bad-datetime",
        "id-as-text",
        "unknown-enum-value",
        "bad-generator",
    ],
)
async def test_a_document_this_version_cannot_read_is_refused_and_the_state_kept(
    rich: RichSalon,
    sandbox: CalcomSandbox,
    corrupt: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    document = sandbox.snapshot()
    before = json.dumps(document)
    corrupt(document)

    with pytest.raises(SnapshotError) as refused:
        sandbox.restore(document)

    assert message in str(refused.value)
    assert json.dumps(sandbox.snapshot()) == before


def test_load_refuses_a_file_that_is_not_a_snapshot(tmp_path: Path) -> None:
    not_json = tmp_path / "broken.json"
    not_json.write_text('{"format": 1, ')
    a_list = tmp_path / "list.json"
    a_list.write_text("[]")

    with pytest.raises(SnapshotError, match="is not JSON"):
        CalcomSandbox().load(not_json)
    with pytest.raises(SnapshotError, match="JSON list"):
        CalcomSandbox().load(a_list)
