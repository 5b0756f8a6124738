"""Cal.com webhook deliveries: signature check and the facts we read from a payload."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

SIGNATURE_HEADER = "X-Cal-Signature-256"


def signature_matches(secret: str, raw_body: bytes, signature: str | None) -> bool:
    """`X-Cal-Signature-256` is the hex HMAC-SHA256 of the exact raw body, keyed with the webhook secret."""
    if not signature:
        return False
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


@dataclass(frozen=True, slots=True)
class BookingChange:
    trigger: str
    booking_uid: str | None  # the booking the change is about (for a reschedule: the old one)
    new_booking_uid: str | None  # reschedules only
    new_start: str | None
    reason: str | None


def booking_change(document: dict[str, Any]) -> BookingChange:
    """Read the trigger and the booking uids from the default payload (reference §6.2)."""
    trigger = str(document.get("triggerEvent", ""))
    payload = document.get("payload")
    payload = payload if isinstance(payload, dict) else {}
    uid = payload.get("uid")
    if trigger == "BOOKING_RESCHEDULED":
        old_uid = payload.get("rescheduleUid") or payload.get("fromReschedule")
        return BookingChange(
            trigger,
            booking_uid=str(old_uid) if old_uid else None,
            new_booking_uid=str(uid) if uid else None,
            new_start=payload.get("startTime"),
            reason=payload.get("reschedulingReason") or payload.get("rescheduleReason"),
        )
    return BookingChange(
        trigger,
        booking_uid=str(uid) if uid else None,
        new_booking_uid=None,
        new_start=None,
        reason=payload.get("cancellationReason"),
    )
