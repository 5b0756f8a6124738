"""Settings read from environment variables (documented in the README, one line each)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/composite_booking"


def to_asyncpg_url(url: str) -> str:
    """Accept the usual `postgresql://` spellings and point SQLAlchemy at asyncpg."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str = Field(default=DEFAULT_DATABASE_URL)
    database_pool_size: int = Field(default=10, ge=1)
    redis_url: str | None = None
    log_level: str = "INFO"
    environment: str = "production"

    calcom_base_url: str = "https://api.cal.com"
    calcom_api_key: str | None = None
    calcom_timeout_s: float = Field(default=10.0, gt=0)
    # Cal.com allows 120 requests per minute per API key unless support raised it for the key.
    calcom_rate_limit_per_minute: int = Field(default=120, ge=1)
    calcom_webhook_secret: str | None = None
    # What a segment cancelled or moved directly in Cal.com does to its appointment: `flag` marks it as
    # needing attention; `cancel` also cancels the rest of the chain.
    calcom_external_change_policy: Literal["flag", "cancel"] = "flag"
    calcom_drift_interval_s: int = Field(default=3600, ge=60)
    calcom_drift_auto_repair: bool = False

    availability_step_min: int = Field(default=15, ge=5, le=120)
    availability_min_notice_min: int = Field(default=60, ge=0)
    availability_horizon_days: int = Field(default=90, ge=1)
    availability_max_window_days: int = Field(default=31, ge=1)
    availability_cache_ttl_s: float = Field(default=60.0, gt=0)

    workers_enabled: bool = True
    outbox_poll_interval_s: float = Field(default=1.0, gt=0)

    # Bookings: the saga's lease (a driver silent this long is taken over by recovery; keep it well above
    # CALCOM_TIMEOUT_S), the late-booking check after an unknown outcome, and the recovery pass interval.
    saga_lease_s: float = Field(default=60.0, gt=0)
    saga_recheck_after_s: float = Field(default=300.0, gt=0)
    recovery_interval_s: float = Field(default=10.0, gt=0)
    # Locks per staff member and day (Redis when REDIS_URL is set, else in-process).
    lock_ttl_s: float = Field(default=15.0, gt=0)
    lock_wait_s: float = Field(default=2.0, ge=0)
    lock_key_prefix: str = "composite-booking:lock:"
    # Customer e-mails: SMTP when SMTP_HOST is set, else .eml files in NOTIFICATIONS_FOLDER when set.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_use_tls: bool = False
    smtp_start_tls: bool | None = None
    notifications_folder: Path | None = None
    mail_from_address: str = "bookings@composite-booking.invalid"
    mail_from_name: str | None = None

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, value: str) -> str:
        return to_asyncpg_url(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
