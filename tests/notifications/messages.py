"""Reading e-mails back the way a mail client would."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from icalendar import Calendar


def parse_eml(data: bytes) -> EmailMessage:
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def reparsed(message: EmailMessage) -> EmailMessage:
    """The message serialized and parsed again, as a recipient gets it."""
    return parse_eml(message.as_bytes())


def calendar_attachment(message: EmailMessage) -> EmailMessage:
    (attachment,) = list(message.iter_attachments())
    assert isinstance(attachment, EmailMessage)
    return attachment


def attachment_bytes(attachment: EmailMessage) -> bytes:
    payload = attachment.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


def attached_calendar(message: EmailMessage) -> Calendar:
    return Calendar.from_ical(attachment_bytes(calendar_attachment(message)))
