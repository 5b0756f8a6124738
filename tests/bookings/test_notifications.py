"""The customer's e-mails go out through the outbox: over SMTP (received here by aiosmtpd), in the customer's
language, with the segment breakdown and the ICS attached; or into a folder when no SMTP server is set."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from icalendar import Calendar

from composite_booking.config import Settings
from composite_booking.domain.booking.wiring import mail_sender
from composite_booking.jobs.notifications import notification_handlers
from composite_booking.jobs.outbox import OutboxWorker
from composite_booking.notifications import FolderSender, MailSender, SmtpSender
from tests.bookings.conftest import Salon, at


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted"


@pytest.fixture
async def inbox() -> AsyncIterator[tuple[Inbox, int]]:
    handler = Inbox()
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(handler), "127.0.0.1", 0)
    yield handler, int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


async def deliver(salon: Salon, sender: MailSender | None) -> int:
    handlers = notification_handlers(
        salon.session_factory,
        sender,
        organizer_email="termine@salon-mitte.example",
        organizer_name="Salon Mitte",
        clock=lambda: datetime.now(UTC),
    )
    return await OutboxWorker(salon.session_factory, handlers).run_once()


def read_folder(folder: Path) -> list[EmailMessage]:
    messages = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


def calendar_of(message: EmailMessage) -> Any:
    [attachment] = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
    return Calendar.from_ical(attachment.get_content())


async def test_the_confirmation_arrives_over_smtp_with_the_chain_and_its_calendar(
    salon: Salon, inbox: tuple[Inbox, int]
) -> None:
    handler, port = inbox
    booking = await salon.booked("colour", at(10), staff="Emma")

    assert await deliver(salon, SmtpSender("127.0.0.1", port)) == 1

    [message] = handler.messages
    assert message["To"].addresses[0].addr_spec == "eva@example.org"
    assert message["From"].addresses[0].display_name == "Salon Mitte"
    assert message["Content-Language"] == "de"
    text = message.get_body(("plain",)).get_content()
    assert "10:00–10:30 Färben" in text
    assert "Einwirkzeit" in text or "Pause" in text
    assert booking["confirmation_code"] in text
    calendar = calendar_of(message)
    assert str(calendar["method"]) == "REQUEST"
    assert len(list(calendar.walk("VEVENT"))) == 4
    # Sent once: the worker has nothing left to do.
    assert await deliver(salon, SmtpSender("127.0.0.1", port)) == 0


async def test_english_for_an_english_customer_and_a_cancel_for_a_cancellation(
    salon: Salon, inbox: tuple[Inbox, int]
) -> None:
    handler, port = inbox
    customer = {"name": "Jane Doe", "email": "jane@example.org", "language": "en"}
    booking = await salon.booked("men", at(9), staff="David", customer=customer)
    await deliver(salon, SmtpSender("127.0.0.1", port))
    await salon.client.post(f"/v1/bookings/{booking['id']}/cancel")
    await deliver(salon, SmtpSender("127.0.0.1", port))

    confirmation, cancellation = handler.messages
    assert confirmation["Content-Language"] == "en"
    assert str(calendar_of(confirmation)["method"]) == "REQUEST"
    assert str(calendar_of(cancellation)["method"]) == "CANCEL"
    sequences = {int(e["sequence"]) for e in calendar_of(cancellation).walk("VEVENT")}
    assert sequences == {1}


async def test_without_smtp_the_messages_go_to_a_folder(
    salon: Salon, settings: Settings, tmp_path: Path
) -> None:
    sender = mail_sender(settings.model_copy(update={"smtp_host": None, "notifications_folder": tmp_path}))
    assert isinstance(sender, FolderSender)
    await salon.booked("cut", at(9), staff="Emma")

    await deliver(salon, sender)

    [message] = read_folder(tmp_path)
    assert "Haarschnitt" in str(message["Subject"])


async def test_no_address_no_mail(salon: Salon, inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox
    await salon.booked("cut", at(9), staff="Emma", customer={"name": "Phone Only", "phone": "+49 30 5555"})
    assert await deliver(salon, SmtpSender("127.0.0.1", port)) == 1  # handled: nothing to send
    assert handler.messages == []
