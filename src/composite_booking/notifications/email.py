"""The customer's e-mail for a booked, moved or cancelled appointment, with the calendar attached."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal, get_args

from icalendar import Calendar

from composite_booking.domain.statuses import AppointmentStatus
from composite_booking.notifications.ics import CalendarMethod, build_ics
from composite_booking.notifications.model import AppointmentView
from composite_booking.notifications.texts import Texts, chain_lines, texts_for

EmailKind = Literal["confirmation", "reschedule", "cancellation"]

METHOD_FOR_KIND: dict[EmailKind, CalendarMethod] = {
    "confirmation": "REQUEST",
    "reschedule": "REQUEST",
    "cancellation": "CANCEL",
}


def build_notification(
    view: AppointmentView, *, kind: EmailKind, now: datetime | None = None
) -> EmailMessage:
    """The calendar and the e-mail around it, in one call: what an outbox job sends."""
    now = now or datetime.now(UTC)
    ics = build_ics(view, method=METHOD_FOR_KIND[kind], stamp=now)
    return build_confirmation_email(view, ics, kind=kind, sent_at=now)


def build_confirmation_email(
    view: AppointmentView, ics: bytes, *, kind: EmailKind, sent_at: datetime | None = None
) -> EmailMessage:
    """Plain text and HTML in the customer's language, the ICS attached as `text/calendar; method=...`.

    The Message-ID is derived from the appointment, the kind and the sequence, so a message sent again by
    a retried outbox job is recognisably the same message.
    """
    if kind not in get_args(EmailKind):
        raise ValueError(f"unknown e-mail kind {kind!r}")
    expected_status = AppointmentStatus.CANCELLED if kind == "cancellation" else AppointmentStatus.CONFIRMED
    if view.status is not expected_status:
        raise ValueError(
            f"a {kind} e-mail needs a {expected_status.value} appointment, not {view.status.value}"
        )
    method = METHOD_FOR_KIND[kind]
    _require_calendar_method(ics, method)
    texts = texts_for(view.customer.language)
    sent_at = sent_at or datetime.now(UTC)

    message = EmailMessage()
    message["Subject"] = _subject(view, kind, texts)
    message["From"] = Address(display_name=view.organizer_name, addr_spec=view.organizer_email)
    message["To"] = Address(display_name=view.customer.name, addr_spec=view.customer.email)
    message["Date"] = format_datetime(sent_at.astimezone(UTC))
    message["Message-ID"] = _message_id(view, kind)
    # RFC 3834: tells autoresponders (out-of-office) not to answer a machine.
    message["Auto-Submitted"] = "auto-generated"

    message.set_content(_plain_body(view, kind, texts))
    message.add_alternative(_html_body(view, kind, texts), subtype="html")
    message.add_attachment(
        ics,
        maintype="text",
        subtype="calendar",
        filename=texts.attachment_filename,
        params={"method": method, "charset": "utf-8"},
    )
    # After the body: set_content() and add_alternative() move or clear every Content-* header.
    message["Content-Language"] = view.customer.language.value
    return message


def _require_calendar_method(ics: bytes, method: CalendarMethod) -> None:
    """A REQUEST attached to a cancellation would put the appointment back into the customer's calendar."""
    try:
        calendar = Calendar.from_ical(ics)
    except ValueError as exc:
        raise ValueError("the attachment is not an iCalendar object") from exc
    found = str(calendar.get("method", ""))
    if found != method:
        raise ValueError(f"the calendar's METHOD is {found or 'missing'}, expected {method}")


def _subject(view: AppointmentView, kind: EmailKind, texts: Texts) -> str:
    local_start = view.starts_at.astimezone(view.zone)
    subject = texts.subjects[kind].format(
        service=view.service_name,
        date=texts.long_date(local_start.date()),
        time=texts.clock_time(view.starts_at, view.zone),
    )
    # A line break typed into a service name must not end the header (the e-mail library would refuse it).
    return " ".join(subject.split())


def _message_id(view: AppointmentView, kind: EmailKind) -> str:
    domain = view.organizer_email.rpartition("@")[2] or "composite-booking.invalid"
    return f"<{view.composite_uid}.{kind}.{view.sequence}@{domain}>"


def _when_and_where(view: AppointmentView, texts: Texts) -> str:
    return f"{texts.long_date(view.starts_at.astimezone(view.zone).date())}, {view.branch_name}"


def _plain_body(view: AppointmentView, kind: EmailKind, texts: Texts) -> str:
    lines = [
        texts.greeting.format(name=view.customer.name),
        "",
        texts.intros[kind],
        "",
        view.service_name,
        _when_and_where(view, texts),
        "",
        *chain_lines(view),
        texts.local_time_note.format(zone=view.branch_time_zone),
        "",
        f"{texts.confirmation_code}: {view.confirmation_code}",
    ]
    if view.notes:
        lines.append(f"{texts.notes}: {view.notes}")
    lines += [
        "",
        texts.calendar_hints[kind].format(filename=texts.attachment_filename),
        "",
        texts.closing,
        view.branch_name,
    ]
    return "\n".join(lines) + "\n"


def _html_body(view: AppointmentView, kind: EmailKind, texts: Texts) -> str:
    def esc(text: str) -> str:
        return html.escape(text, quote=True)

    chain = "\n".join(f"<li>{esc(line)}</li>" for line in chain_lines(view))
    notes = f"<p>{esc(texts.notes)}: {esc(view.notes)}</p>\n" if view.notes else ""
    hint = texts.calendar_hints[kind].format(filename=texts.attachment_filename)
    return (
        f'<!DOCTYPE html>\n<html lang="{view.customer.language.value}">\n<body>\n'
        f"<p>{esc(texts.greeting.format(name=view.customer.name))}</p>\n"
        f"<p>{esc(texts.intros[kind])}</p>\n"
        f"<h2>{esc(view.service_name)}</h2>\n"
        f"<p>{esc(_when_and_where(view, texts))}</p>\n"
        f"<ul>\n{chain}\n</ul>\n"
        f"<p><small>{esc(texts.local_time_note.format(zone=view.branch_time_zone))}</small></p>\n"
        f"<p>{esc(texts.confirmation_code)}: <strong>{esc(view.confirmation_code)}</strong></p>\n"
        f"{notes}"
        f"<p>{esc(hint)}</p>\n"
        f"<p>{esc(texts.closing)}<br>{esc(view.branch_name)}</p>\n"
        "</body>\n</html>\n"
    )
