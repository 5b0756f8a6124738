"""The ICS read back with icalendar, as a calendar client would read it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar, Event, Timezone

from composite_booking.notifications import Language, build_ics, segment_uid
from tests.notifications.appointments import (
    BERLIN,
    COMPOSITE_UID,
    berlin,
    cancelled,
    colour_appointment,
    moved,
)

STAMP = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def parse(ics: bytes) -> Calendar:
    return Calendar.from_ical(ics)


def events(calendar: Calendar) -> list[Event]:
    return [c for c in calendar.walk("VEVENT") if isinstance(c, Event)]


def local_times(calendar: Calendar) -> list[tuple[str, str]]:
    return [
        (f"{e.decoded('dtstart').astimezone(BERLIN):%H:%M}", f"{e.decoded('dtend').astimezone(BERLIN):%H:%M}")
        for e in events(calendar)
    ]


def test_one_event_per_segment_in_branch_time() -> None:
    view = colour_appointment(berlin(2026, 12, 1, 10))

    calendar = parse(build_ics(view, method="REQUEST", stamp=STAMP))

    assert str(calendar["method"]) == "REQUEST"
    assert str(calendar["version"]) == "2.0"
    assert "composite-booking" in str(calendar["prodid"])
    found = events(calendar)
    assert len(found) == 4
    assert [str(e["summary"]) for e in found] == [
        "Ansatzfärbung – Färben (1/4)",
        "Ansatzfärbung – Waschen (2/4)",
        "Ansatzfärbung – Schneiden (3/4)",
        "Ansatzfärbung – Föhnen (4/4)",
    ]
    assert local_times(calendar) == [
        ("10:00", "10:30"),
        ("11:00", "11:15"),
        ("11:45", "12:15"),
        ("12:15", "12:45"),
    ]
    for event, segment in zip(found, view.segments, strict=True):
        assert event["dtstart"].params["TZID"] == "Europe/Berlin"
        assert event["dtend"].params["TZID"] == "Europe/Berlin"
        assert event.decoded("dtstart") == segment.starts_at  # the same instant
        assert str(event["status"]) == "CONFIRMED"
        assert event["sequence"] == 0
        assert str(event["location"]) == "Salon Mitte"
        assert event.decoded("dtstamp") == STAMP
        assert str(event["organizer"]) == "mailto:termine@salon-mitte.example"
        assert event["organizer"].params["CN"] == "Salon Mitte"
        assert str(event["attendee"]) == "mailto:eva@example.org"
        assert event["attendee"].params["CN"] == "Eva Müller"


def test_uids_are_stable_per_segment() -> None:
    calendar = parse(build_ics(colour_appointment(berlin(2026, 12, 1, 10)), method="REQUEST"))

    uids = [str(e["uid"]) for e in events(calendar)]

    assert uids == [segment_uid(COMPOSITE_UID, key) for key in "ABCD"]
    assert uids[0] == f"{COMPOSITE_UID}-A@composite-booking"


def test_reschedule_keeps_uids_and_raises_sequence() -> None:
    original = colour_appointment(berlin(2026, 12, 1, 10))
    rescheduled = moved(original, timedelta(days=1, hours=4))

    before = parse(build_ics(original, method="REQUEST"))
    after = parse(build_ics(rescheduled, method="REQUEST"))

    assert [str(e["uid"]) for e in events(after)] == [str(e["uid"]) for e in events(before)]
    assert [e["sequence"] for e in events(after)] == [1, 1, 1, 1]
    assert local_times(after)[0] == ("14:00", "14:30")
    assert events(after)[0].decoded("dtstart").date() == date(2026, 12, 2)


def test_cancel_uses_cancel_method_same_uids_and_given_sequence() -> None:
    original = colour_appointment(berlin(2026, 12, 1, 10), sequence=2)

    calendar = parse(build_ics(cancelled(original), method="CANCEL"))

    assert str(calendar["method"]) == "CANCEL"
    found = events(calendar)
    assert [str(e["uid"]) for e in found] == [segment_uid(COMPOSITE_UID, key) for key in "ABCD"]
    assert {str(e["status"]) for e in found} == {"CANCELLED"}
    assert {e["sequence"] for e in found} == {3}
    assert str(found[0]["description"]).startswith("Abgesagt: ")


def test_a_cancelled_appointment_is_never_sent_as_request() -> None:
    view = cancelled(colour_appointment(berlin(2026, 12, 1, 10)))

    with pytest.raises(ValueError, match="CANCEL"):
        build_ics(view, method="REQUEST")


def test_vtimezone_for_the_branch_zone_is_included_once() -> None:
    calendar = parse(build_ics(colour_appointment(berlin(2026, 12, 1, 10)), method="REQUEST"))

    timezones = [c for c in calendar.walk("VTIMEZONE") if isinstance(c, Timezone)]

    assert [str(tz["tzid"]) for tz in timezones] == ["Europe/Berlin"]
    assert calendar.get_missing_tzids() == set()


@pytest.mark.parametrize(
    ("local_start", "utc_hour", "offset_hours"),
    [
        (berlin(2026, 10, 24, 10), 8, 2),  # Saturday, still summer time
        (berlin(2026, 10, 25, 10), 9, 1),  # Sunday, the clocks went back at 03:00
    ],
)
def test_local_times_hold_across_the_dst_change(
    local_start: datetime, utc_hour: int, offset_hours: int
) -> None:
    view = colour_appointment(local_start)
    assert view.starts_at.hour == utc_hour  # handed over in UTC, as from the database

    ics = build_ics(view, method="REQUEST")
    calendar = parse(ics)

    assert f"DTSTART;TZID=Europe/Berlin:{local_start:%Y%m%d}T100000".encode() in ics
    assert local_times(calendar)[0] == ("10:00", "10:30")
    # A client that trusts only the embedded VTIMEZONE (no tz database of its own) gets the same offset.
    (vtimezone,) = [c for c in calendar.walk("VTIMEZONE") if isinstance(c, Timezone)]
    embedded_zone = vtimezone.to_tz()
    naive_start = local_start.replace(tzinfo=None)
    assert naive_start.replace(tzinfo=embedded_zone).utcoffset() == timedelta(hours=offset_hours)
    assert naive_start.replace(tzinfo=embedded_zone) == view.starts_at


def test_description_explains_pauses_and_the_whole_chain_in_german() -> None:
    view = colour_appointment(berlin(2026, 12, 1, 10), notes="Bitte ohne Parfum")

    description = str(events(parse(build_ics(view, method="REQUEST")))[1]["description"])

    lines = description.splitlines()
    assert "Dienstag, 1. Dezember 2026" in lines
    assert "10:00–10:30 Färben bei Anna" in lines
    assert "10:30–11:00 Einwirkzeit, Sie warten im Salon (Anna bleibt für Sie reserviert)" in lines
    assert "11:15–11:45 Einwirkzeit, Sie warten im Salon" in lines
    assert "12:15–12:45 Föhnen bei Anna" in lines
    assert "Dieser Kalendereintrag ist Teil 2 von 4: Waschen." in lines
    assert "Bestätigungscode: K7Q2-M9" in lines
    assert "Hinweise: Bitte ohne Parfum" in lines


def test_description_in_english() -> None:
    view = colour_appointment(berlin(2026, 12, 1, 10), language=Language.EN)

    event = events(parse(build_ics(view, method="REQUEST")))[0]

    assert str(event["summary"]) == "Root colour – Färben (1/4)"
    lines = str(event["description"]).splitlines()
    assert "Tuesday, 1 December 2026" in lines
    assert "10:30–11:00 Processing time, you wait in the salon (Anna stays reserved for you)" in lines
    assert "This calendar entry is part 1 of 4: Färben." in lines
    assert "Confirmation code: K7Q2-M9" in lines


def test_unknown_method_is_refused() -> None:
    view = colour_appointment(berlin(2026, 12, 1, 10))

    with pytest.raises(ValueError, match="PUBLISH"):
        build_ics(view, method="PUBLISH")  # type: ignore[arg-type]


def test_the_branch_zone_decides_tzid_and_wall_clock() -> None:
    view = replace(colour_appointment(berlin(2026, 12, 1, 16)), branch_time_zone="America/New_York")

    ics = build_ics(view, method="REQUEST")
    calendar = parse(ics)

    assert [str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")] == ["America/New_York"]
    # 16:00 in Berlin is 10:00 in New York (both on standard time in December).
    assert b"DTSTART;TZID=America/New_York:20261201T100000" in ics
    assert "10:00–10:30 Färben bei Anna" in str(events(calendar)[0]["description"]).splitlines()


def test_a_single_segment_is_summarised_by_the_service_alone() -> None:
    view = colour_appointment(berlin(2026, 12, 1, 10))
    single = replace(view, segments=view.segments[:1], pauses=())

    (event,) = events(parse(build_ics(single, method="REQUEST")))

    assert str(event["summary"]) == "Ansatzfärbung"
    assert "Teil 1 von 1" not in str(event["description"])
