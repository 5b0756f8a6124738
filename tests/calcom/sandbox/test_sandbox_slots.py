"""GET /v2/slots: working hours, overrides, buffers, busy time across event types, notice, DST, teams."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from composite_booking.calcom.sandbox import CalcomSandbox, DemoSalon, ManualClock, MembershipRole

if TYPE_CHECKING:
    from conftest import SandboxApi

BERLIN = "Europe/Berlin"
TUESDAY = "2030-01-08"
EVERY_DAY = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _hours(start: int, end: int, *, offset: str = "+01:00", day: str = "2030-01-08") -> list[str]:
    return [f"{day}T{h:02d}:00:00.000{offset}" for h in range(start, end)]


async def test_slots_follow_working_hours_in_the_requested_zone(api: SandboxApi, salon: DemoSalon) -> None:
    cut = await api.create_event_type("cut", hosts=[salon.emma_id])

    slots = await api.slot_starts(cut["id"], "2030-01-07", "2030-01-08", timeZone=BERLIN)

    # Monday is closed in the salon; Tuesday 09:00-18:00 gives nine one-hour slots, the last at 17:00.
    assert slots == {"2030-01-08": _hours(9, 18)}


async def test_without_time_zone_slots_are_utc_with_z(api: SandboxApi, salon: DemoSalon) -> None:
    cut = await api.create_event_type("cut", hosts=[salon.emma_id])

    slots = await api.slot_starts(cut["id"], "2030-01-08", "2030-01-08")

    assert slots["2030-01-08"][0] == "2030-01-08T08:00:00.000Z"
    assert slots["2030-01-08"][-1] == "2030-01-08T16:00:00.000Z"


async def test_range_format_has_end_and_time_format_has_start_only(api: SandboxApi, salon: DemoSalon) -> None:
    cut = await api.create_event_type("cut", hosts=[salon.emma_id], length=45)

    ranged = (await api.slots(cut["id"], "2030-01-08", "2030-01-08", timeZone=BERLIN, format="range")).json()
    timed = (await api.slots(cut["id"], "2030-01-08", "2030-01-08", timeZone=BERLIN)).json()

    assert ranged["data"]["2030-01-08"][0] == {
        "start": "2030-01-08T09:00:00.000+01:00",
        "end": "2030-01-08T09:45:00.000+01:00",
    }
    assert timed["data"]["2030-01-08"][0] == {"start": "2030-01-08T09:00:00.000+01:00"}


async def test_nothing_free_is_an_empty_object(api: SandboxApi, salon: DemoSalon) -> None:
    cut = await api.create_event_type("cut", hosts=[salon.emma_id])

    response = await api.slots(cut["id"], "2030-01-06", "2030-01-07", timeZone=BERLIN)  # Sunday and Monday

    assert response.status_code == 200
    assert response.json() == {"status": "success", "data": {}}


async def test_slot_interval_sets_the_step(api: SandboxApi, salon: DemoSalon) -> None:
    cut = await api.create_event_type("cut", hosts=[salon.emma_id], slotInterval=15)

    slots = (await api.slot_starts(cut["id"], TUESDAY, TUESDAY, timeZone=BERLIN))["2030-01-08"]

    assert slots[:3] == [f"2030-01-08T09:{m:02d}:00.000+01:00" for m in (0, 15, 30)]
    assert slots[-1] == "2030-01-08T17:00:00.000+01:00"
    assert len(slots) == 33


async def test_date_override_replaces_the_day(
    api: SandboxApi, sandbox: CalcomSandbox, salon: DemoSalon
) -> None:
    cut = await api.create_event_type("cut", hosts=[salon.emma_id])
    schedule_id = salon.schedule_ids["emma-williams"]
    sandbox.add_override(schedule_id, {"date": "2030-01-08", "startTime": "12:00", "endTime": "14:00"})
    sandbox.add_override(schedule_id, {"date": "2030-01-09", "startTime": "00:00", "endTime": "00:00"})
    sandbox.add_override(schedule_id, {"date": "2030-01-07", "startTime": "10:00", "endTime": "12:00"})

    slots = await api.slot_starts(cut["id"], "2030-01-07", "2030-01-09", timeZone=BERLIN)

    assert slots == {
        "2030-01-07": _hours(10, 12, day="2030-01-07"),  # Monday is normally closed; the override opens it
        "2030-01-08": _hours(12, 14),  # the override replaces Tuesday's 09:00-18:00
    }  # Wednesday's 00:00-00:00 override closes the day


async def test_buffers_of_the_busy_booking_widen_it(api: SandboxApi, salon: DemoSalon) -> None:
    colour = await api.create_event_type("colour", hosts=[salon.emma_id], afterEventBuffer=30)
    cut = await api.create_event_type("cut", hosts=[salon.emma_id], slotInterval=30)
    await api.booked(colour["id"], "2030-01-08T09:00:00Z")  # 10:00-11:00 Berlin, busy until 11:30

    slots = (await api.slot_starts(cut["id"], TUESDAY, TUESDAY, timeZone=BERLIN))["2030-01-08"]

    assert "2030-01-08T09:00:00.000+01:00" in slots  # 09:00-10:00 ends where the booking starts
    for blocked in ("09:30", "10:00", "10:30", "11:00"):
        assert f"2030-01-08T{blocked}:00.000+01:00" not in slots
    assert "2030-01-08T11:30:00.000+01:00" in slots


async def test_the_candidates_own_buffers_must_fit_too(api: SandboxApi, salon: DemoSalon) -> None:
    colour = await api.create_event_type("colour", hosts=[salon.emma_id], afterEventBuffer=30)
    wash = await api.create_event_type("wash", hosts=[salon.emma_id], slotInterval=30, beforeEventBuffer=30)
    await api.booked(colour["id"], "2030-01-08T09:00:00Z")  # busy 10:00-11:30 Berlin

    slots = (await api.slot_starts(wash["id"], TUESDAY, TUESDAY, timeZone=BERLIN))["2030-01-08"]

    # 11:30 would need 11:00-11:30 free for its own before-buffer; 12:00 is the first fit after the booking.
    assert "2030-01-08T11:30:00.000+01:00" not in slots
    assert "2030-01-08T12:00:00.000+01:00" in slots
    # Buffers need not lie inside working hours: 09:00 is offered although its before-buffer starts at 08:30.
    assert slots[0] == "2030-01-08T09:00:00.000+01:00"


async def test_a_booking_on_another_event_type_blocks_the_host_only(
    api: SandboxApi, salon: DemoSalon
) -> None:
    emma_cut = await api.create_event_type("emma-cut", hosts=[salon.emma_id])
    emma_wash = await api.create_event_type("emma-wash", hosts=[salon.emma_id])
    fabian_wash = await api.create_event_type("fabian-wash", hosts=[salon.fabian_id])
    await api.booked(emma_cut["id"], "2030-01-08T09:00:00Z")  # Emma 10:00-11:00 Berlin

    emma = (await api.slot_starts(emma_wash["id"], TUESDAY, TUESDAY, timeZone=BERLIN))["2030-01-08"]
    fabian = (await api.slot_starts(fabian_wash["id"], TUESDAY, TUESDAY, timeZone=BERLIN))["2030-01-08"]

    assert "2030-01-08T10:00:00.000+01:00" not in emma
    assert "2030-01-08T10:00:00.000+01:00" in fabian


async def test_cancelled_bookings_do_not_block(api: SandboxApi, salon: DemoSalon) -> None:
    cut = await api.create_event_type("cut", hosts=[salon.emma_id])
    booking = await api.booked(cut["id"], "2030-01-08T09:00:00Z")
    assert (await api.cancel(booking["uid"])).status_code == 200

    slots = (await api.slot_starts(cut["id"], TUESDAY, TUESDAY, timeZone=BERLIN))["2030-01-08"]

    assert "2030-01-08T10:00:00.000+01:00" in slots


async def test_minimum_notice_hides_early_slots(
    api: SandboxApi, salon: DemoSalon, clock: ManualClock
) -> None:
    clock.set(datetime(2030, 1, 8, 7, 0, tzinfo=UTC))  # Tuesday 08:00 Berlin
    default_notice = await api.create_event_type("cut", hosts=[salon.emma_id], minimumBookingNotice=None)
    assert default_notice["minimumBookingNotice"] == 120  # Cal.com's column default

    slots = (await api.slot_starts(default_notice["id"], TUESDAY, TUESDAY, timeZone=BERLIN))["2030-01-08"]

    assert slots[0] == "2030-01-08T10:00:00.000+01:00"  # exactly now + 2 h is still allowed


async def test_past_slots_are_never_offered(api: SandboxApi, salon: DemoSalon, clock: ManualClock) -> None:
    clock.set(datetime(2030, 1, 8, 11, 30, tzinfo=UTC))  # Tuesday 12:30 Berlin
    cut = await api.create_event_type("cut", hosts=[salon.emma_id])

    slots = (await api.slot_starts(cut["id"], TUESDAY, TUESDAY, timeZone=BERLIN))["2030-01-08"]

    assert slots[0] == "2030-01-08T13:00:00.000+01:00"


async def test_spring_forward_day_in_berlin(
    sandbox: CalcomSandbox, api: SandboxApi, salon: DemoSalon
) -> None:
    night = sandbox.add_user(name="Night Owl", email="owl@salon-demo.example", time_zone=BERLIN)
    sandbox.add_membership(salon.team_id, night.id, MembershipRole.MEMBER)
    sandbox.add_schedule(
        night.id,
        time_zone=BERLIN,
        availability=[{"days": EVERY_DAY, "startTime": "00:00", "endTime": "06:00"}],
    )
    shift = await api.create_event_type("night-shift", hosts=[night.id])

    slots = await api.slot_starts(
        shift["id"], "2030-03-30T23:00:00Z", "2030-03-31T12:00:00Z", timeZone=BERLIN
    )

    # 2030-03-31 02:00 does not exist in Berlin: the night is five hours long and changes offset at 03:00.
    assert slots == {
        "2030-03-31": [
            "2030-03-31T00:00:00.000+01:00",
            "2030-03-31T01:00:00.000+01:00",
            "2030-03-31T03:00:00.000+02:00",
            "2030-03-31T04:00:00.000+02:00",
            "2030-03-31T05:00:00.000+02:00",
        ]
    }


async def test_fall_back_day_in_berlin(sandbox: CalcomSandbox, api: SandboxApi, salon: DemoSalon) -> None:
    night = sandbox.add_user(name="Night Owl", email="owl@salon-demo.example", time_zone=BERLIN)
    sandbox.add_membership(salon.team_id, night.id, MembershipRole.MEMBER)
    sandbox.add_schedule(
        night.id,
        time_zone=BERLIN,
        availability=[{"days": ["Sunday"], "startTime": "00:00", "endTime": "06:00"}],
    )
    shift = await api.create_event_type("night-shift", hosts=[night.id])

    local = await api.slot_starts(
        shift["id"], "2030-10-26T12:00:00Z", "2030-10-27T12:00:00Z", timeZone=BERLIN
    )
    utc = await api.slot_starts(shift["id"], "2030-10-26T12:00:00Z", "2030-10-27T12:00:00Z")

    # 02:00 happens twice on 2030-10-27: seven one-hour slots between midnight and 06:00.
    assert local == {
        "2030-10-27": [
            "2030-10-27T00:00:00.000+02:00",
            "2030-10-27T01:00:00.000+02:00",
            "2030-10-27T02:00:00.000+02:00",
            "2030-10-27T02:00:00.000+01:00",
            "2030-10-27T03:00:00.000+01:00",
            "2030-10-27T04:00:00.000+01:00",
            "2030-10-27T05:00:00.000+01:00",
        ]
    }
    # Without a time zone the keys are UTC dates: Berlin's midnight is still the 26th in UTC.
    assert utc["2030-10-26"] == ["2030-10-26T22:00:00.000Z", "2030-10-26T23:00:00.000Z"]
    assert utc["2030-10-27"][0] == "2030-10-27T00:00:00.000Z"


async def test_offsets_either_side_of_the_march_change(
    sandbox: CalcomSandbox, api: SandboxApi, salon: DemoSalon
) -> None:
    sandbox.add_override(
        salon.schedule_ids["emma-williams"], {"date": "2030-04-01", "startTime": "09:00", "endTime": "10:00"}
    )
    cut = await api.create_event_type("cut", hosts=[salon.emma_id])

    slots = await api.slot_starts(cut["id"], "2030-03-29", "2030-04-01", timeZone=BERLIN)
    utc = await api.slot_starts(cut["id"], "2030-03-29", "2030-04-01")

    assert slots["2030-03-29"][0] == "2030-03-29T09:00:00.000+01:00"
    assert slots["2030-04-01"] == ["2030-04-01T09:00:00.000+02:00"]
    assert utc["2030-03-29"][0] == "2030-03-29T08:00:00.000Z"
    assert utc["2030-04-01"] == ["2030-04-01T07:00:00.000Z"]


async def test_collective_event_needs_every_host(api: SandboxApi, salon: DemoSalon) -> None:
    duo = await api.create_event_type("duo", hosts=[salon.emma_id, salon.fabian_id])
    fabian_only = await api.create_event_type("fabian", hosts=[salon.fabian_id])
    await api.booked(fabian_only["id"], "2030-01-08T10:00:00Z")  # Fabian 11:00-12:00 Berlin

    slots = (await api.slot_starts(duo["id"], TUESDAY, TUESDAY, timeZone=BERLIN))["2030-01-08"]

    assert "2030-01-08T11:00:00.000+01:00" not in slots
    assert "2030-01-08T12:00:00.000+01:00" in slots


async def test_round_robin_needs_any_host(api: SandboxApi, salon: DemoSalon) -> None:
    either = await api.create_event_type(
        "either", hosts=[salon.emma_id, salon.fabian_id], schedulingType="roundRobin"
    )
    emma_only = await api.create_event_type("emma", hosts=[salon.emma_id])
    fabian_only = await api.create_event_type("fabian", hosts=[salon.fabian_id])
    await api.booked(emma_only["id"], "2030-01-08T10:00:00Z")
    await api.booked(fabian_only["id"], "2030-01-08T11:00:00Z")

    slots = (await api.slot_starts(either["id"], TUESDAY, TUESDAY, timeZone=BERLIN))["2030-01-08"]

    assert "2030-01-08T11:00:00.000+01:00" in slots  # Fabian is free while Emma is busy
    assert "2030-01-08T12:00:00.000+01:00" in slots  # and the other way round


async def test_booking_to_reschedule_does_not_block_itself(api: SandboxApi, salon: DemoSalon) -> None:
    cut = await api.create_event_type("cut", hosts=[salon.emma_id])
    booking = await api.booked(cut["id"], "2030-01-08T09:00:00Z")

    plain = (await api.slot_starts(cut["id"], TUESDAY, TUESDAY, timeZone=BERLIN))["2030-01-08"]
    rescheduling = (
        await api.slot_starts(
            cut["id"], TUESDAY, TUESDAY, timeZone=BERLIN, bookingUidToReschedule=booking["uid"]
        )
    )["2030-01-08"]

    assert "2030-01-08T10:00:00.000+01:00" not in plain
    assert "2030-01-08T10:00:00.000+01:00" in rescheduling


async def test_duration_changes_length_and_range_end(api: SandboxApi, salon: DemoSalon) -> None:
    probe = await api.create_event_type("probe", hosts=[salon.emma_id], length=15)

    response = await api.slots(probe["id"], TUESDAY, TUESDAY, timeZone=BERLIN, duration=120, format="range")

    # Without a slotInterval the step is the requested duration, as in Cal.com.
    day = response.json()["data"]["2030-01-08"]
    assert [slot["start"][11:16] for slot in day] == ["09:00", "11:00", "13:00", "15:00"]
    assert day[-1] == {"start": "2030-01-08T15:00:00.000+01:00", "end": "2030-01-08T17:00:00.000+01:00"}


async def test_unknown_event_type_and_bad_time_zone(api: SandboxApi, salon: DemoSalon) -> None:
    cut = await api.create_event_type("cut", hosts=[salon.emma_id])

    missing = await api.slots(999_999, TUESDAY, TUESDAY)
    bad_zone = await api.slots(cut["id"], TUESDAY, TUESDAY, timeZone="Mars/Olympus")
    no_start = await api.client.get(
        "/v2/slots",
        params={"eventTypeId": cut["id"], "end": TUESDAY},
        headers={"cal-api-version": "2024-09-04"},
    )

    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Event Type not found"
    assert bad_zone.status_code == 400
    assert bad_zone.json()["error"]["details"]["errors"][0]["property"] == "timeZone"
    assert no_start.status_code == 400
    assert no_start.json()["error"]["message"] == "Bad Request Exception"


async def test_slots_work_without_credentials(api: SandboxApi, salon: DemoSalon) -> None:
    cut = await api.create_event_type("cut", hosts=[salon.emma_id])

    anonymous = await api.client.get(
        "/v2/slots",
        params={"eventTypeId": cut["id"], "start": TUESDAY, "end": TUESDAY},
        headers={"cal-api-version": "2024-09-04"},
    )
    by_slug = await api.client.get(
        "/v2/slots",
        params={"eventTypeSlug": "cut", "teamSlug": "salon-demo", "start": TUESDAY, "end": TUESDAY},
        headers={"cal-api-version": "2024-09-04"},
    )

    assert anonymous.status_code == 200
    assert by_slug.json() == anonymous.json()
    assert len(anonymous.json()["data"]["2030-01-08"]) == 9


async def test_slot_list_matches_what_booking_accepts(api: SandboxApi, salon: DemoSalon) -> None:
    """Slots and the booking re-check share one predicate: every offered start books, the others fail."""
    colour = await api.create_event_type("colour", hosts=[salon.emma_id], afterEventBuffer=15)
    cut = await api.create_event_type("cut", hosts=[salon.emma_id], length=30, beforeEventBuffer=15)
    await api.booked(colour["id"], "2030-01-08T10:00:00Z")  # 11:00-12:00 Berlin + 15 min buffer

    offered = set((await api.slot_starts(cut["id"], TUESDAY, TUESDAY))["2030-01-08"])
    start = datetime(2030, 1, 8, 9, 0, tzinfo=UTC)
    outcomes = {}
    for step in range(0, 8):  # 10:00 .. 13:30 Berlin, every 30 min; each booking is cancelled right after
        candidate = (start + timedelta(minutes=30 * step)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        response = await api.book(cut["id"], candidate)
        outcomes[candidate] = response.status_code
        if response.status_code == 201:
            await api.cancel(response.json()["data"]["uid"])

    assert {c for c, status in outcomes.items() if status == 201} == {c for c in outcomes if c in offered}
    assert 400 in outcomes.values()
