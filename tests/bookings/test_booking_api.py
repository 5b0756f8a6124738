"""The booking API end to end against the Cal.com sandbox (the seed system's scenarios among them)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from icalendar import Calendar

from composite_booking.calcom.sandbox import CallKind
from tests.bookings.conftest import DAY, Salon, accepted, assert_no_overlaps, assert_settled, at, local


async def test_composite_booking_books_every_segment_in_calcom(salon: Salon) -> None:
    booking = await salon.booked("colour", at(10), staff="Emma")

    assert booking["status"] == "confirmed"
    assert booking["service"]["name"] == "Ansatzfärbung"
    assert len(booking["confirmation_code"]) == 9
    # Segment time layout: A 10:00-10:30, pause, B 11:00-11:15, C 11:15-11:45, pause, D 12:00-12:30.
    assert [(s["key"], local(s["starts_at"]), local(s["ends_at"])) for s in booking["segments"]] == [
        ("A", at(10), at(10, 30)),
        ("B", at(11), at(11, 15)),
        ("C", at(11, 15), at(11, 45)),
        ("D", at(12), at(12, 30)),
    ]
    assert [
        (p["number"], p["after_key"], local(p["starts_at"]), local(p["ends_at"]), p["held"])
        for p in booking["pauses"]
    ] == [
        (1, "A", at(10, 30), at(11), False),
        (2, "C", at(11, 45), at(12), False),
    ]
    assert (local(booking["starts_at"]), local(booking["ends_at"])) == (at(10), at(12, 30))
    assert {s["staff"]["name"] for s in booking["segments"]} == {"Emma"}

    made = {b.uid: b for b in accepted(salon.sandbox)}
    assert set(made) == {s["calcom_booking_uid"] for s in booking["segments"]}
    for segment in booking["segments"]:
        calcom = made[segment["calcom_booking_uid"]]
        assert calcom.start == local(segment["starts_at"])
        assert calcom.busy_user_ids == [salon.calcom.emma_id]
        assert calcom.metadata == {
            "composite_uid": booking["composite_uid"],
            "segment_key": segment["key"],
            "part": "segment",
            "company_id": str(salon.company_id),
            "chain": "1",
        }
        assert calcom.attendees[0].email == "eva@example.org"
    # Emma's pauses stay bookable: another customer's cut fits into the first one.
    cut = await salon.booked("cut", at(10, 30), staff="Emma")
    assert local(cut["segments"][0]["ends_at"]) == at(11)
    await assert_settled(salon)
    await assert_no_overlaps(salon)


async def test_simple_booking_is_a_chain_of_one(salon: Salon) -> None:
    booking = await salon.booked("cut", at(9), staff="Fabian")
    assert [s["key"] for s in booking["segments"]] == ["A"]
    assert booking["pauses"] == []
    assert len(accepted(salon.sandbox)) == 1
    await assert_settled(salon)


async def test_three_segment_blocked_chain_holds_its_pauses(salon: Salon) -> None:
    booking = await salon.booked("men", at(14), staff="David")
    assert [(s["key"], local(s["starts_at"]), local(s["ends_at"])) for s in booking["segments"]] == [
        ("A", at(14), at(14, 45)),
        ("B", at(14, 55), at(15, 55)),
        ("C", at(16, 10), at(16, 30)),
    ]
    assert [(p["after_key"], p["held"], p["staff_id"]) for p in booking["pauses"]] == [
        ("A", True, salon.staff["David"]),
        ("B", True, salon.staff["David"]),
    ]
    # Three segments and two pauses: each held pause is a Cal.com booking of its own, on David.
    made = {b.uid: b for b in accepted(salon.sandbox)}
    assert len(made) == 5
    for pause in booking["pauses"]:
        hold = made[pause["calcom_booking_uid"]]
        assert (hold.start, hold.end) == (local(pause["starts_at"]), local(pause["ends_at"]))
        assert hold.busy_user_ids == [salon.calcom.david_id]
        assert hold.metadata["part"] == "pause"
        assert hold.metadata["segment_key"] == pause["after_key"]
    # The pause is held: nobody can book David in it, here or in Cal.com.
    refused = await salon.book("cut", at(14, 45), staff="David")
    assert refused.status_code == 409, refused.text
    await assert_settled(salon)
    await assert_no_overlaps(salon)


async def test_double_booking_is_refused_with_alternatives(salon: Salon) -> None:
    await salon.booked("colour", at(10), staff="Emma")
    calls_before = salon.sandbox.faults.calls(CallKind.CREATE_BOOKING)

    refused = await salon.book("colour", at(10), staff="Emma")

    assert refused.status_code == 409
    problem = refused.json()
    assert problem["type"].endswith("/slot-unavailable")
    assert refused.headers["content-type"].startswith("application/problem+json")
    alternatives = problem["alternatives"]
    assert 1 <= len(alternatives) <= 3
    assert alternatives[0]["staff_id"] == salon.staff["Emma"]  # the same staff member first
    assert all(local(a["starts_at"]) >= at(10) for a in alternatives)
    # Refused before Cal.com was asked anything.
    assert salon.sandbox.faults.calls(CallKind.CREATE_BOOKING) == calls_before
    await assert_settled(salon)


async def test_parallel_booking_of_one_slot_exactly_one_succeeds(salon: Salon) -> None:
    responses = await asyncio.gather(*(salon.book("colour", at(13), staff="Fabian") for _ in range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 7, [r.text for r in responses if r.status_code not in (201, 409)]
    assert len(accepted(salon.sandbox)) == 4
    await assert_settled(salon)
    await assert_no_overlaps(salon)


async def test_compensation_when_segment_two_fails(salon: Salon) -> None:
    salon.sandbox.faults.fail(CallKind.CREATE_BOOKING, nth=2, status=400)  # "host busy" for one segment

    refused = await salon.book("colour", at(10), staff="Emma")

    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("/slot-unavailable")
    assert accepted(salon.sandbox) == []  # the three made were cancelled
    await assert_settled(salon)
    # Nothing is left behind: the same time can be booked right away.
    await salon.booked("colour", at(10), staff="Emma")
    await assert_settled(salon)


async def test_upstream_failure_is_a_502_and_leaves_nothing(salon: Salon) -> None:
    salon.sandbox.faults.fail(CallKind.CREATE_BOOKING, nth=3, status=422, message="Invalid event type")

    refused = await salon.book("colour", at(10), staff="Emma")

    assert refused.status_code == 502, refused.text
    assert refused.json()["type"].endswith("/booking-upstream-failed")
    assert accepted(salon.sandbox) == []
    await assert_settled(salon)


async def test_read_by_id_code_and_list(salon: Salon) -> None:
    first = await salon.booked(
        "colour", at(9), staff="Emma", customer={"name": "Ada Lovelace", "email": "ada@example.org"}
    )
    second = await salon.booked(
        "cut", at(15), staff="Fabian", customer={"name": "Kim", "phone": "+49 30 1234"}
    )

    assert (await salon.client.get(f"/v1/bookings/{first['id']}")).json() == first
    code = first["confirmation_code"].lower().replace("-", " ")
    assert (await salon.client.get(f"/v1/bookings/by-code/{code}")).json()["id"] == first["id"]
    assert (await salon.client.get("/v1/bookings/by-code/NOPE-NOPE")).status_code == 404
    assert (await salon.client.get("/v1/bookings/999999")).status_code == 404

    async def listed(**params: object) -> list[int]:
        response = await salon.client.get("/v1/bookings", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await listed() == [first["id"], second["id"]]
    assert await listed(staff_id=salon.staff["Fabian"]) == [second["id"]]
    assert await listed(customer="ada@EXAMPLE.org") == [first["id"]]
    assert await listed(customer="kim") == [second["id"]]
    assert await listed(**{"from": at(12).isoformat()}) == [second["id"]]
    assert await listed(**{"to": at(12).isoformat()}) == [first["id"]]
    assert await listed(status="cancelled") == []


async def test_another_company_sees_nothing(salon: Salon, make_tenant: object) -> None:
    booking = await salon.booked("cut", at(9), staff="Emma")
    other = await make_tenant("Other salon")  # type: ignore[operator]
    assert (await other.client.get(f"/v1/bookings/{booking['id']}")).status_code == 404
    assert (await other.client.post(f"/v1/bookings/{booking['id']}/cancel")).status_code == 404
    assert (await other.client.get("/v1/bookings")).json()["total"] == 0


async def test_ics_has_one_event_per_segment(salon: Salon) -> None:
    booking = await salon.booked("colour", at(10), staff="Emma")

    response = await salon.client.get(f"/v1/bookings/{booking['id']}/ics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["method"]) == "REQUEST"
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 4
    assert [e.decoded("dtstart") for e in events] == [at(10), at(11), at(11, 15), at(12)]
    assert len({str(e["uid"]) for e in events}) == 4
    assert all(str(e["uid"]).startswith(booking["composite_uid"]) for e in events)
    assert [str(c["tzid"]) for c in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert "10:30–11:00" in str(events[0]["description"])  # the pauses are described


async def test_release_a_held_pause(salon: Salon) -> None:
    booking = await salon.booked("men", at(9), staff="Emma")
    first, second = booking["pauses"]
    assert (local(first["starts_at"]), local(first["ends_at"])) == (at(9, 45), at(9, 55))
    # Held: a 10-minute brow tidy for Emma in the first pause is refused, here and so in Cal.com.
    assert (await salon.book("brows", at(9, 45), staff="Emma")).status_code == 409

    released = await salon.client.post(f"/v1/bookings/{booking['id']}/pauses/1/release")

    assert released.status_code == 200, released.text
    pauses = released.json()["pauses"]
    assert [(p["held"], p["calcom_booking_uid"]) for p in pauses] == [
        (False, None),
        (True, second["calcom_booking_uid"]),
    ]
    # The pause's own Cal.com booking is gone; the other pause and every segment still stand.
    standing = {b.uid for b in accepted(salon.sandbox)}
    assert first["calcom_booking_uid"] not in standing
    assert {second["calcom_booking_uid"], *(s["calcom_booking_uid"] for s in booking["segments"])} <= standing
    # Emma is bookable in the released pause again, through us (which reads Cal.com's free time).
    brows = await salon.booked("brows", at(9, 45), staff="Emma")
    assert local(brows["segments"][0]["ends_at"]) == at(9, 55)

    assert (await salon.client.post(f"/v1/bookings/{booking['id']}/pauses/3/release")).status_code == 404
    again = await salon.client.post(f"/v1/bookings/{booking['id']}/pauses/1/release")
    assert again.status_code == 200
    assert again.json()["pauses"] == released.json()["pauses"]
    await assert_settled(salon)
    await assert_no_overlaps(salon)


async def test_a_release_that_cal_com_refuses_keeps_the_pause_held(salon: Salon) -> None:
    booking = await salon.booked("men", at(9), staff="Emma")
    hold = booking["pauses"][0]["calcom_booking_uid"]
    salon.sandbox.faults.fail(CallKind.CANCEL_BOOKING, status=400, message="Booking is locked")
    path = f"/v1/bookings/{booking['id']}/pauses/1/release"

    failed = await salon.client.post(path, headers={"Idempotency-Key": "release-1"})

    assert failed.status_code == 502, failed.text
    assert failed.headers["content-type"].startswith("application/problem+json")
    after = (await salon.client.get(f"/v1/bookings/{booking['id']}")).json()
    assert after["pauses"][0]["held"] is True
    assert hold in {b.uid for b in accepted(salon.sandbox)}
    # The same key may simply be retried: nothing was changed by the failed attempt.
    retried = await salon.client.post(path, headers={"Idempotency-Key": "release-1"})
    assert retried.status_code == 200, retried.text
    assert retried.json()["pauses"][0]["held"] is False
    assert hold not in {b.uid for b in accepted(salon.sandbox)}
    await assert_settled(salon)


async def test_release_is_refused_for_never_and_for_free_services(salon: Salon) -> None:
    never = await salon.booked("never", at(9), staff="Emma")
    colour = await salon.booked("colour", at(13), staff="Emma")
    for booking in (never, colour):
        refused = await salon.client.post(f"/v1/bookings/{booking['id']}/pauses/1/release")
        assert refused.status_code == 422, refused.text
        assert refused.json()["type"].endswith("/pause-not-releasable")
    assert all(p["held"] for p in (await salon.client.get(f"/v1/bookings/{never['id']}")).json()["pauses"])


async def test_validation_errors_name_the_field(salon: Salon) -> None:
    response = await salon.client.post(
        "/v1/bookings",
        json={"service_id": salon.services["colour"], "starts_at": "2030-01-01T10:00:00", "customer": {}},
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"starts_at", "customer.name"} <= fields
    unknown = await salon.book("colour", at(10), staff="Emma")
    assert unknown.status_code == 201
    not_a_service = await salon.client.post(
        "/v1/bookings",
        json={"service_id": 999999, "starts_at": at(10).isoformat(), "customer": {"name": "X"}},
    )
    assert not_a_service.status_code == 422
    assert not_a_service.json()["errors"][0]["field"] == "service_id"


async def test_unsynced_event_types_are_a_clear_503(salon: Salon) -> None:
    created = await salon.client.post(
        "/v1/services",
        json={
            "branch_id": salon.branch_id,
            "name": "Neu",
            "composite": False,
            "duration_min": 30,
            "staff_ids": [salon.staff["Emma"]],
        },
    )
    assert created.status_code == 201
    salon.services["new"] = created.json()["id"]
    salon.synced.add("new")  # pretend: its sync has not run yet

    response = await salon.book("new", at(10) + timedelta(days=1), staff="Emma")

    assert response.status_code == 503, response.text
    assert response.json()["type"].endswith("/calendar-not-ready")
    assert accepted(salon.sandbox) == []
    _ = DAY


async def test_availability_follows_bookings_and_cancellations(salon: Salon) -> None:
    """The seed's "availability shape" scenario, from the booking side: what is booked is no longer offered,
    a free pause still is, and a cancelled chain is offered again."""

    async def offered() -> set[str]:
        response = await salon.client.get(
            "/v1/availability",
            params={
                "service_id": salon.services["cut"],
                "start": DAY.isoformat(),
                "end": DAY.isoformat(),
                "staff_id": salon.staff["Emma"],
            },
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        slot = answer["slots"][0]
        assert {"starts_at", "ends_at", "staff", "segments", "pauses"} <= set(slot)
        return {s["starts_at"] for s in answer["slots"]}

    await salon.ensure_synced("cut")
    before = await offered()
    assert at(10).isoformat() in before
    booking = await salon.booked("colour", at(10), staff="Emma")

    after = await offered()
    assert at(10).isoformat() not in after
    assert at(11, 15).isoformat() not in after  # segment C
    assert at(10, 30).isoformat() in after  # the free pause after A

    await salon.client.post(f"/v1/bookings/{booking['id']}/cancel")
    assert await offered() == before
