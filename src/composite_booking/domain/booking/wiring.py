"""Building the booking collaborators from `Settings` (used by the app's lifespan and the CLI)."""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio import Redis

from composite_booking.config import Settings
from composite_booking.domain.booking.service import BookingSettings
from composite_booking.locks import InProcessLockService, LockService, RedisLockService
from composite_booking.notifications import FolderSender, MailSender, SmtpSender


def booking_settings(settings: Settings) -> BookingSettings:
    return BookingSettings(
        saga_lease=timedelta(seconds=settings.saga_lease_s),
        recheck_after=timedelta(seconds=settings.saga_recheck_after_s),
        organizer_email=settings.mail_from_address,
        organizer_name=settings.mail_from_name,
    )


def lock_service(settings: Settings, redis: Redis | None) -> LockService:
    """Redis when configured (shared by every replica), else in-process (the embedded run: one process)."""
    if redis is not None:
        return RedisLockService(
            redis, prefix=settings.lock_key_prefix, ttl_s=settings.lock_ttl_s, wait_s=settings.lock_wait_s
        )
    return InProcessLockService(ttl_s=settings.lock_ttl_s, wait_s=settings.lock_wait_s)


def mail_sender(settings: Settings) -> MailSender | None:
    """SMTP when a host is set; else a folder of .eml files when one is set; else nothing is sent."""
    if settings.smtp_host:
        return SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            use_tls=settings.smtp_use_tls,
            start_tls=settings.smtp_start_tls,
        )
    if settings.notifications_folder is not None:
        return FolderSender(settings.notifications_folder)
    return None
