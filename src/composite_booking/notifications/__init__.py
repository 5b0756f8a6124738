"""Appointment notifications: ICS invitations and customer e-mails, built purely from an AppointmentView,
and the senders that deliver them (SMTP, a folder of .eml files, memory)."""

from composite_booking.notifications.email import (
    METHOD_FOR_KIND,
    EmailKind,
    build_confirmation_email,
    build_notification,
)
from composite_booking.notifications.ics import CalendarMethod, build_ics, segment_uid
from composite_booking.notifications.model import (
    AppointmentView,
    CustomerView,
    Language,
    PauseView,
    SegmentView,
)
from composite_booking.notifications.senders import (
    FolderSender,
    InMemorySender,
    MailDeliveryFailed,
    MailSender,
    SmtpSender,
)

__all__ = [
    "METHOD_FOR_KIND",
    "AppointmentView",
    "CalendarMethod",
    "CustomerView",
    "EmailKind",
    "FolderSender",
    "InMemorySender",
    "Language",
    "MailDeliveryFailed",
    "MailSender",
    "PauseView",
    "SegmentView",
    "SmtpSender",
    "build_confirmation_email",
    "build_ics",
    "build_notification",
    "segment_uid",
]
