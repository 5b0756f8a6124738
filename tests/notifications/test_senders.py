"""Senders against the real thing: an aiosmtpd server on 127.0.0.1 and a temporary folder."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from icalendar import Calendar

from composite_booking.notifications import (
    FolderSender,
    InMemorySender,
    MailDeliveryFailed,
    MailSender,
    SmtpSender,
    build_notification,
)
from tests.notifications.appointments import berlin, colour_appointment
from tests.notifications.messages import attachment_bytes, calendar_attachment, parse_eml

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def confirmation() -> EmailMessage:
    return build_notification(colour_appointment(berlin(2026, 12, 1, 10)), kind="confirmation", now=NOW)


def assert_is_the_confirmation(received: EmailMessage) -> None:
    assert received["Subject"] == "Terminbestätigung: Ansatzfärbung am Dienstag, 1. Dezember 2026, 10:00 Uhr"
    assert received["To"].addresses[0].addr_spec == "eva@example.org"
    attachment = calendar_attachment(received)
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "REQUEST"
    assert attachment.get_filename() == "termin.ics"
    calendar = Calendar.from_ical(attachment_bytes(attachment))
    assert len(calendar.walk("VEVENT")) == 4


@dataclass
class RecordingHandler:
    """aiosmtpd handler: keeps every envelope; `refuse_recipient_with` answers RCPT TO with that reply."""

    envelopes: list[Envelope] = field(default_factory=list)
    refuse_recipient_with: str | None = None
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse_recipient_with:
            return self.refuse_recipient_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@dataclass
class LocalSmtpServer:
    port: int
    handler: RecordingHandler


StartServer = Callable[..., Awaitable[LocalSmtpServer]]


@pytest.fixture
async def smtp_server() -> AsyncIterator[StartServer]:
    """Starts aiosmtpd servers in this test's event loop on free ports; closes them afterwards."""
    servers: list[asyncio.Server] = []

    async def start(handler: RecordingHandler, **smtp_options: Any) -> LocalSmtpServer:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SMTP(handler, **smtp_options), "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return LocalSmtpServer(port=port, handler=handler)

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_smtp_sender_delivers_to_a_local_server(smtp_server: StartServer) -> None:
    server = await smtp_server(RecordingHandler())
    sender: MailSender = SmtpSender("127.0.0.1", server.port, timeout_s=5)

    await sender.send(confirmation())

    (envelope,) = server.handler.envelopes
    assert envelope.mail_from == "termine@salon-mitte.example"
    assert envelope.rcpt_tos == ["eva@example.org"]
    assert isinstance(envelope.content, bytes)
    assert_is_the_confirmation(parse_eml(envelope.content))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_smtp_sender_logs_in_with_its_credentials(smtp_server: StartServer) -> None:
    handler = RecordingHandler()

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        handler.logins.append((auth_data.login, auth_data.password))
        # handled=False: aiosmtpd then answers a refusal with 535 (with True it would answer nothing).
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)

    # Plain-text AUTH is allowed only because this is a test server on the loopback interface.
    server = await smtp_server(
        handler, authenticator=authenticator, auth_require_tls=False, auth_required=True
    )

    await SmtpSender("127.0.0.1", server.port, username="salon", password="s3cret").send(confirmation())

    assert handler.logins == [(b"salon", b"s3cret")]
    assert len(handler.envelopes) == 1

    with pytest.raises(MailDeliveryFailed) as failed:
        await SmtpSender("127.0.0.1", server.port, username="salon", password="wrong").send(confirmation())
    # A wrong password is fixed in the settings, not in the message: worth retrying later.
    assert failed.value.permanent is False
    assert len(handler.envelopes) == 1


async def test_a_refused_recipient_is_a_permanent_failure(smtp_server: StartServer) -> None:
    server = await smtp_server(RecordingHandler(refuse_recipient_with="550 5.1.1 No such mailbox"))

    with pytest.raises(MailDeliveryFailed) as failed:
        await SmtpSender("127.0.0.1", server.port).send(confirmation())

    assert failed.value.permanent is True
    assert "No such mailbox" in str(failed.value)


async def test_a_busy_mailbox_is_worth_retrying(smtp_server: StartServer) -> None:
    server = await smtp_server(RecordingHandler(refuse_recipient_with="450 4.2.1 Mailbox busy, try later"))

    with pytest.raises(MailDeliveryFailed) as failed:
        await SmtpSender("127.0.0.1", server.port).send(confirmation())

    assert failed.value.permanent is False


async def test_an_unreachable_server_is_worth_retrying() -> None:
    with socket.socket() as probe:  # a port that was just free: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(MailDeliveryFailed) as failed:
        await SmtpSender("127.0.0.1", port, timeout_s=2).send(confirmation())

    assert failed.value.permanent is False


def test_smtp_sender_repr_hides_the_password() -> None:
    assert "s3cret" not in repr(SmtpSender("smtp.example", 587, username="salon", password="s3cret"))


def folder_contents(directory: Path) -> dict[str, bytes]:
    """Every file in the folder, hidden ones included, by name (plain sync I/O: a test helper)."""
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


async def test_folder_sender_writes_parsable_eml_files(tmp_path: Path) -> None:
    outbox = tmp_path / "mail" / "outbox"  # created on first use
    sender = FolderSender(outbox, clock=lambda: NOW)

    await sender.send(confirmation())
    await sender.send(confirmation())

    files = folder_contents(outbox)
    assert len(files) == 2  # same clock, still two files
    for name, data in files.items():
        assert name.startswith("20261120T080000")
        assert name.endswith(".eml")
        assert_is_the_confirmation(parse_eml(data))


async def test_folder_sender_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = await FolderSender(tmp_path).write(confirmation())

    files = folder_contents(tmp_path)
    assert list(files) == [path.name]
    assert b"\r\n" in files[path.name]  # written as it would travel over SMTP


async def test_in_memory_sender_keeps_messages() -> None:
    sender = InMemorySender()
    message = confirmation()

    await sender.send(message)

    assert sender.sent == [message]
