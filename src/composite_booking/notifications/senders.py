"""Where finished e-mails go: an SMTP server, a folder of .eml files (embedded demo), or a list (tests)."""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib


class MailSender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class MailDeliveryFailed(Exception):
    """The message was not delivered.

    `permanent` is true only when this message can never be delivered as it is (the server rejected its
    recipient or its content with a 5xx reply): retrying it is pointless. Everything else (connection
    refused, timeouts, 4xx replies, a failed login) may succeed later, once the server or the settings
    are fixed, so an outbox job should retry it.
    """

    def __init__(self, detail: str, *, permanent: bool) -> None:
        super().__init__(detail)
        self.permanent = permanent


def _is_permanent_reply(code: int) -> bool:
    return 500 <= code < 600


class SmtpSender:
    """One SMTP connection per message: notifications are few, and a pooled connection would go stale."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        start_tls: bool | None = None,
        timeout_s: float = 10,
    ) -> None:
        """`use_tls`: implicit TLS (port 465). `start_tls`: None upgrades when the server offers it,
        True requires it, False never tries."""
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._use_tls = use_tls
        self._start_tls = start_tls
        self._timeout_s = timeout_s

    def __repr__(self) -> str:  # never the password
        return f"SmtpSender({self._host!r}, {self._port}, username={self._username!r})"

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._use_tls,
                start_tls=self._start_tls,
                timeout=self._timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refused.code for refused in exc.recipients]
            raise MailDeliveryFailed(
                f"recipients refused: {exc}", permanent=all(_is_permanent_reply(c) for c in codes)
            ) from exc
        except aiosmtplib.SMTPDataError as exc:
            raise MailDeliveryFailed(
                f"message refused: {exc}", permanent=_is_permanent_reply(exc.code)
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailDeliveryFailed(
                f"SMTP {self._host}:{self._port} failed: {exc!r}", permanent=False
            ) from exc


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FolderSender:
    """Writes each message as `<UTC time>-<random>.eml`; names sort by the time they were sent.

    The file appears complete or not at all (written under a hidden temporary name, then renamed), so
    anything watching the folder never reads half a message.
    """

    def __init__(self, directory: Path | str, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.directory = Path(directory)
        self._clock = clock

    async def send(self, message: EmailMessage) -> None:
        await self.write(message)

    async def write(self, message: EmailMessage) -> Path:
        """Like `send`, and says where the message went."""
        name = f"{self._clock().astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:12]}.eml"
        # SMTP policy: CRLF line ends, as the message would travel on the wire.
        data = message.as_bytes(policy=email.policy.SMTP)
        return await asyncio.to_thread(self._write_atomically, name, data)

    def _write_atomically(self, name: str, data: bytes) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / name
        temporary = self.directory / f".{name}.tmp"
        try:
            with temporary.open("xb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise
        return target


class InMemorySender:
    """Keeps what it was given: for tests of the code that sends notifications."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)
