"""The customer's e-mail: language, local-time breakdown, and an attachment that parses as ICS."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from icalendar import Calendar

from composite_booking.notifications import (
    Language,
    build_confirmation_email,
    build_ics,
    build_notification,
)
from tests.notifications.appointments import berlin, cancelled, colour_appointment, moved
from tests.notifications.messages import (
    attached_calendar,
    attachment_bytes,
    calendar_attachment,
    reparsed,
)

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def plain_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    content: str = body.get_content()
    return content


def html_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert isinstance(body, EmailMessage)
    content: str = body.get_content()
    return content


def test_german_confirmation() -> None:
    view = colour_appointment(berlin(2026, 12, 1, 10), notes="Bitte ohne Parfum")
    ics = build_ics(view, method="REQUEST", stamp=NOW)

    message = reparsed(build_confirmation_email(view, ics, kind="confirmation", sent_at=NOW))

    assert message["Subject"] == "Terminbestätigung: Ansatzfärbung am Dienstag, 1. Dezember 2026, 10:00 Uhr"
    assert message["To"].addresses[0].addr_spec == "eva@example.org"
    assert message["To"].addresses[0].display_name == "Eva Müller"
    assert message["From"].addresses[0].addr_spec == "termine@salon-mitte.example"
    assert message["Content-Language"] == "de"
    assert message["Date"].datetime == NOW
    lines = plain_text(message).splitlines()
    assert lines[0] == "Hallo Eva Müller,"
    assert "Ihr Termin ist bestätigt." in lines
    assert "Dienstag, 1. Dezember 2026, Salon Mitte" in lines
    assert lines[lines.index("10:00–10:30 Färben bei Anna") :][:6] == [
        "10:00–10:30 Färben bei Anna",
        "10:30–11:00 Einwirkzeit, Sie warten im Salon (Anna bleibt für Sie reserviert)",
        "11:00–11:15 Waschen bei Anna",
        "11:15–11:45 Einwirkzeit, Sie warten im Salon",
        "11:45–12:15 Schneiden bei Anna",
        "12:15–12:45 Föhnen bei Anna",
    ]
    assert "Bestätigungscode: K7Q2-M9" in lines
    assert "Hinweise: Bitte ohne Parfum" in lines
    assert "Den Termin für Ihren Kalender finden Sie im Anhang (termin.ics)." in lines


def test_english_confirmation() -> None:
    view = colour_appointment(berlin(2026, 12, 1, 10), language=Language.EN)

    message = reparsed(build_notification(view, kind="confirmation", now=NOW))

    assert message["Subject"] == "Appointment confirmed: Root colour on Tuesday, 1 December 2026, 10:00"
    assert message["Content-Language"] == "en"
    lines = plain_text(message).splitlines()
    assert lines[0] == "Hello Eva Müller,"
    assert "Tuesday, 1 December 2026, Salon Mitte" in lines
    assert "10:00–10:30 Färben with Anna" in lines
    assert "10:30–11:00 Processing time, you wait in the salon (Anna stays reserved for you)" in lines
    assert "11:15–11:45 Processing time, you wait in the salon" in lines
    assert "Confirmation code: K7Q2-M9" in lines
    assert calendar_attachment(message).get_filename() == "appointment.ics"


def test_breakdown_is_in_local_time_on_the_dst_date() -> None:
    view = colour_appointment(berlin(2026, 10, 25, 10))
    assert view.starts_at.hour == 9  # 09:00 UTC is 10:00 in Berlin once the clocks went back

    message = build_notification(view, kind="confirmation", now=NOW)

    assert message["Subject"].endswith("am Sonntag, 25. Oktober 2026, 10:00 Uhr")
    assert "10:00–10:30 Färben bei Anna" in plain_text(message).splitlines()


def test_attachment_is_the_calendar_with_its_method() -> None:
    view = colour_appointment(berlin(2026, 12, 1, 10))
    ics = build_ics(view, method="REQUEST", stamp=NOW)

    attachment = calendar_attachment(reparsed(build_confirmation_email(view, ics, kind="confirmation")))

    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "REQUEST"
    assert attachment.get_filename() == "termin.ics"
    assert attachment.get_content_disposition() == "attachment"
    payload = attachment_bytes(attachment)
    assert payload == ics
    calendar = Calendar.from_ical(payload)
    assert len(calendar.walk("VEVENT")) == 4


def test_html_alternative_carries_the_chain_escaped() -> None:
    view = colour_appointment(berlin(2026, 12, 1, 10), notes="<b>Allergie</b> & Parfum")

    body = html_text(reparsed(build_notification(view, kind="confirmation", now=NOW)))

    assert '<html lang="de">' in body
    assert "<li>10:00–10:30 Färben bei Anna</li>" in body
    assert "&lt;b&gt;Allergie&lt;/b&gt; &amp; Parfum" in body
    assert "<b>Allergie</b>" not in body


def test_reschedule_mail_names_the_new_times() -> None:
    view = moved(colour_appointment(berlin(2026, 12, 1, 10)), timedelta(days=1, hours=4))

    message = build_notification(view, kind="reschedule", now=NOW)

    assert (
        message["Subject"]
        == "Termin verschoben: Ansatzfärbung jetzt am Mittwoch, 2. Dezember 2026, 14:00 Uhr"
    )
    assert "14:00–14:30 Färben bei Anna" in plain_text(message).splitlines()
    calendar = attached_calendar(message)
    assert {e["sequence"] for e in calendar.walk("VEVENT")} == {1}


def test_cancellation_mail_attaches_a_cancel() -> None:
    view = cancelled(colour_appointment(berlin(2026, 12, 1, 10)))

    message = reparsed(build_notification(view, kind="cancellation", now=NOW))

    assert message["Subject"] == "Termin abgesagt: Ansatzfärbung am Dienstag, 1. Dezember 2026, 10:00 Uhr"
    assert "Ihr Termin wurde abgesagt. Diese Zeiten gelten nicht mehr:" in plain_text(message)
    attachment = calendar_attachment(message)
    assert attachment.get_param("method") == "CANCEL"
    calendar = Calendar.from_ical(attachment_bytes(attachment))
    assert str(calendar["method"]) == "CANCEL"


def test_an_attachment_that_contradicts_the_kind_is_refused() -> None:
    view = cancelled(colour_appointment(berlin(2026, 12, 1, 10)))
    cancel_ics = build_ics(view, method="CANCEL")
    confirmed = colour_appointment(berlin(2026, 12, 1, 10))

    with pytest.raises(ValueError, match="expected REQUEST"):
        build_confirmation_email(confirmed, cancel_ics, kind="confirmation")
    with pytest.raises(ValueError, match="not an iCalendar"):
        build_confirmation_email(confirmed, b"not a calendar", kind="confirmation")


def test_kind_must_match_the_appointment_status() -> None:
    confirmed = colour_appointment(berlin(2026, 12, 1, 10))

    with pytest.raises(ValueError, match="cancelled appointment"):
        build_notification(confirmed, kind="cancellation")
    cancel_ics = build_ics(cancelled(confirmed), method="CANCEL")
    with pytest.raises(ValueError, match="confirmed appointment"):
        build_confirmation_email(cancelled(confirmed), cancel_ics, kind="confirmation")


def test_message_id_is_the_same_when_an_outbox_job_builds_it_again() -> None:
    view = colour_appointment(berlin(2026, 12, 1, 10))

    first = build_notification(view, kind="confirmation", now=NOW)
    retried = build_notification(view, kind="confirmation", now=NOW + timedelta(minutes=5))
    rescheduled = build_notification(moved(view, timedelta(hours=1)), kind="reschedule", now=NOW)

    assert first["Message-ID"] == retried["Message-ID"]
    assert first["Message-ID"].endswith("@salon-mitte.example>")
    assert rescheduled["Message-ID"] != first["Message-ID"]


def test_a_line_break_in_the_service_name_stays_inside_the_subject() -> None:
    view = replace(
        colour_appointment(berlin(2026, 12, 1, 10)), service_name="Ansatzfärbung\r\nBcc: x@evil.example"
    )

    message = reparsed(build_notification(view, kind="confirmation", now=NOW))

    assert message["Subject"].startswith("Terminbestätigung: Ansatzfärbung Bcc: x@evil.example am ")
    assert message["Bcc"] is None
