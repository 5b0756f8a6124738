"""Make-before-break reschedules: the whole chain moves, or the old chain stands exactly as it was."""

from __future__ import annotations

from typing import Any

from icalendar import Calendar

from composite_booking.calcom.sandbox import BookingStatus, CallKind
from tests.bookings.conftest import Salon, accepted, assert_no_overlaps, assert_settled, at, local


async def reschedule(salon: Salon, booking: dict[str, Any], starts_at: Any, **extra: Any) -> Any:
    body = {"starts_at": starts_at.isoformat(), **extra}
    return await salon.client.post(f"/v1/bookings/{booking['id']}/reschedule", json=body)


async def set_policy(salon: Salon, **policy: int) -> None:
    response = await salon.client.patch(
        f"/v1/services/{salon.services['cut']}", json={"reschedule_policy": policy}
    )
    assert response.status_code == 200, response.text


def chain_of(booking: dict[str, Any]) -> list[tuple[str, Any, Any, int, str | None]]:
    return [
        (s["key"], local(s["starts_at"]), local(s["ends_at"]), s["staff"]["id"], s["calcom_booking_uid"])
        for s in booking["segments"]
    ]


async def test_move_to_a_free_time_books_the_new_chain_then_cancels_the_old(salon: Salon) -> None:
    booking = await salon.booked("colour", at(9), staff="Emma")
    old_uids = {s["calcom_booking_uid"] for s in booking["segments"]}

    moved = await reschedule(salon, booking, at(14))

    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["id"] == booking["id"]
    assert body["confirmation_code"] == booking["confirmation_code"]
    assert body["reschedule_count"] == 1
    assert {s["staff"]["name"] for s in body["segments"]} == {"Emma"}  # no staff named: the same one
    assert [(k, s, e) for k, s, e, _, _ in chain_of(body)] == [
        ("A", at(14), at(14, 30)),
        ("B", at(15), at(15, 15)),
        ("C", at(15, 15), at(15, 45)),
        ("D", at(16), at(16, 30)),
    ]
    new_uids = {s["calcom_booking_uid"] for s in body["segments"]}
    assert not new_uids & old_uids
    assert {b.uid for b in accepted(salon.sandbox)} == new_uids
    assert {salon.sandbox.booking(uid).status for uid in old_uids} == {BookingStatus.CANCELLED}
    assert (await salon.client.get(f"/v1/bookings/{booking['id']}")).json() == body
    await assert_settled(salon)
    await assert_no_overlaps(salon)
    # The calendar entries keep their UIDs and raise their SEQUENCE.
    calendar = Calendar.from_ical((await salon.client.get(f"/v1/bookings/{booking['id']}/ics")).content)
    assert {int(e["sequence"]) for e in calendar.walk("VEVENT")} == {1}


async def test_move_by_half_an_hour_overlapping_itself(salon: Salon) -> None:
    booking = await salon.booked("colour", at(10), staff="Emma")
    old = {s["key"]: s["calcom_booking_uid"] for s in booking["segments"]}

    moved = await reschedule(salon, booking, at(10, 30))

    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert [(k, s) for k, s, _, _, _ in chain_of(body)] == [
        ("A", at(10, 30)),
        ("B", at(11, 30)),
        ("C", at(11, 45)),
        ("D", at(12, 30)),
    ]
    # B, C and D were moved by Cal.com's reschedule (their new bookings remember where they came from).
    for segment in body["segments"][1:]:
        assert (
            salon.sandbox.booking(segment["calcom_booking_uid"]).rescheduled_from_uid == old[segment["key"]]
        )
    assert salon.sandbox.booking(body["segments"][0]["calcom_booking_uid"]).rescheduled_from_uid is None
    assert len(accepted(salon.sandbox)) == 4
    await assert_settled(salon)
    await assert_no_overlaps(salon)


async def test_move_to_another_staff_member(salon: Salon) -> None:
    booking = await salon.booked("men", at(9), staff="Emma")

    moved = await reschedule(salon, booking, at(9), staff_id=salon.staff["Fabian"])

    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert {s["staff"]["name"] for s in body["segments"]} == {"Fabian"}
    assert {p["staff_id"] for p in body["pauses"]} == {salon.staff["Fabian"]}
    assert {tuple(b.busy_user_ids) for b in accepted(salon.sandbox)} == {(salon.calcom.fabian_id,)}
    # Emma is free again at 9:00.
    await salon.booked("cut", at(9), staff="Emma")
    await assert_settled(salon)
    await assert_no_overlaps(salon)


async def test_failed_reschedule_leaves_the_old_chain_exactly_as_it_was(salon: Salon) -> None:
    booking = await salon.booked("colour", at(9), staff="Emma")
    salon.sandbox.faults.fail(CallKind.CREATE_BOOKING, nth=3, status=400)  # host busy on one new segment

    refused = await reschedule(salon, booking, at(14))

    assert refused.status_code == 409, refused.text
    after = (await salon.client.get(f"/v1/bookings/{booking['id']}")).json()
    assert chain_of(after) == chain_of(booking)
    assert after["status"] == "confirmed"
    assert after["reschedule_count"] == 0
    assert {b.uid for b in accepted(salon.sandbox)} == {s["calcom_booking_uid"] for s in booking["segments"]}
    await assert_settled(salon)
    await assert_no_overlaps(salon)


async def test_failed_overlapping_reschedule_moves_back(salon: Salon) -> None:
    booking = await salon.booked("colour", at(10), staff="Emma")
    # D moves first, then C; the move of C fails, so D is moved back.
    salon.sandbox.faults.fail(CallKind.RESCHEDULE_BOOKING, nth=2, status=400)

    refused = await reschedule(salon, booking, at(10, 30))

    assert refused.status_code == 409, refused.text
    after = (await salon.client.get(f"/v1/bookings/{booking['id']}")).json()
    assert [(k, s, e, staff) for k, s, e, staff, _ in chain_of(after)] == [
        (k, s, e, staff) for k, s, e, staff, _ in chain_of(booking)
    ]
    standing = {b.uid: b for b in accepted(salon.sandbox)}
    assert {s["calcom_booking_uid"] for s in after["segments"]} == set(standing)
    for segment in after["segments"]:
        assert standing[segment["calcom_booking_uid"]].start == local(segment["starts_at"])
    await assert_settled(salon)
    await assert_no_overlaps(salon)


async def test_reschedule_policy_is_a_clear_422(salon: Salon) -> None:
    booking = await salon.booked("cut", at(9), staff="Emma")
    await set_policy(salon, cutoff_hours=24, max_changes=1)
    assert (await reschedule(salon, booking, at(10))).status_code == 200
    second = await reschedule(salon, booking, at(11))
    assert second.status_code == 422
    assert second.json()["type"].endswith("/reschedule-not-allowed")
    assert second.json()["max_changes"] == 1

    # The booking is about two weeks ahead: a 20-day cut-off has passed.
    await set_policy(salon, cutoff_hours=24 * 20, max_changes=3)
    late = await reschedule(salon, booking, at(12))
    assert late.status_code == 422
    assert late.json()["cutoff_hours"] == 24 * 20
    await assert_settled(salon)


async def test_reschedule_into_a_taken_slot_is_409_and_changes_nothing(salon: Salon) -> None:
    first = await salon.booked("colour", at(9), staff="Emma")
    await salon.booked("cut", at(14), staff="Emma")

    refused = await reschedule(salon, first, at(14), staff_id=salon.staff["Emma"])

    assert refused.status_code == 409
    assert "alternatives" in refused.json()
    assert chain_of((await salon.client.get(f"/v1/bookings/{first['id']}")).json()) == chain_of(first)
    await assert_settled(salon)


async def test_cancelled_bookings_cannot_be_moved(salon: Salon) -> None:
    booking = await salon.booked("cut", at(9), staff="Emma")
    await salon.client.post(f"/v1/bookings/{booking['id']}/cancel")
    refused = await reschedule(salon, booking, at(10))
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/booking-state-conflict")


async def test_an_old_booking_that_will_not_cancel_is_cleaned_up_later(salon: Salon) -> None:
    booking = await salon.booked("cut", at(9), staff="Emma")
    old_uid = booking["segments"][0]["calcom_booking_uid"]
    salon.sandbox.faults.fail(CallKind.CANCEL_BOOKING, nth=1, status=400, message="Booking is locked")

    moved = await reschedule(salon, booking, at(15))

    # The new chain stands: that is the answer. The old booking is still being cancelled.
    assert moved.status_code == 200, moved.text
    assert local(moved.json()["segments"][0]["starts_at"]) == at(15)
    assert old_uid in {b.uid for b in accepted(salon.sandbox)}
    # Its time stays held until Cal.com has really let it go.
    assert (await salon.book("cut", at(9), staff="Emma")).status_code == 409

    report = await salon.recovery().run_once()

    assert report.confirmed == 1
    assert {b.uid for b in accepted(salon.sandbox)} == {moved.json()["segments"][0]["calcom_booking_uid"]}
    await assert_settled(salon)
    await salon.booked("cut", at(9), staff="Emma")


def pause_holds(booking: dict[str, Any]) -> list[tuple[str, Any, Any, bool]]:
    return [
        (p["after_key"], local(p["starts_at"]), local(p["ends_at"]), p["held"]) for p in booking["pauses"]
    ]


async def test_a_blocked_chain_moves_with_its_held_pauses_overlapping_itself(salon: Salon) -> None:
    """Held pauses are Cal.com bookings too: they move (or are made anew) with the segments."""
    booking = await salon.booked("men", at(9), staff="Emma")
    old_uids = {s["calcom_booking_uid"] for s in booking["segments"]}
    old_uids |= {p["calcom_booking_uid"] for p in booking["pauses"]}

    moved = await reschedule(salon, booking, at(9, 15))

    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert [(k, s, e) for k, s, e, _, _ in chain_of(body)] == [
        ("A", at(9, 15), at(10)),
        ("B", at(10, 10), at(11, 10)),
        ("C", at(11, 25), at(11, 45)),
    ]
    assert pause_holds(body) == [("A", at(10), at(10, 10), True), ("B", at(11, 10), at(11, 25), True)]
    new_uids = {s["calcom_booking_uid"] for s in body["segments"]}
    new_uids |= {p["calcom_booking_uid"] for p in body["pauses"]}
    assert len(new_uids) == 5
    assert not new_uids & old_uids
    # Cal.com holds exactly the new chain: three segments and two held pauses, at their new times.
    assert {b.uid for b in accepted(salon.sandbox)} == new_uids
    holds = {p["calcom_booking_uid"]: p for p in body["pauses"]}
    for uid, pause in holds.items():
        made = salon.sandbox.booking(uid)
        assert (made.start, made.end) == (local(pause["starts_at"]), local(pause["ends_at"]))
    await assert_settled(salon)
    await assert_no_overlaps(salon)


async def test_a_moved_chain_holds_every_pause_again_even_one_released_before(salon: Salon) -> None:
    booking = await salon.booked("men", at(9), staff="Emma")
    released = await salon.client.post(f"/v1/bookings/{booking['id']}/pauses/1/release")
    assert released.status_code == 200, released.text

    moved = await reschedule(salon, booking, at(14))

    assert moved.status_code == 200, moved.text
    body = moved.json()
    # A move books the service as it is: both pauses held again at the new time.
    assert pause_holds(body) == [("A", at(14, 45), at(14, 55), True), ("B", at(15, 55), at(16, 10), True)]
    assert len(accepted(salon.sandbox)) == 5
    await assert_settled(salon)
    await assert_no_overlaps(salon)
