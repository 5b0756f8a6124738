"""`Idempotency-Key` semantics (IETF draft): one key names one request, and gets one response.

- same key, same request → the stored response again (status and body), also after a restart;
- same key, another request → 422; the first request still running → 409;
- keys are kept 24 hours. A request without a key is simply not deduplicated.
What counts as "the same request" is its fingerprint: the operation (with its path parameters) and the
parsed body, canonicalised, so spacing or key order in the JSON make no difference.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from composite_booking.domain.errors import ServiceError

KEY_LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class IdempotencyRef:
    key: str
    operation: str
    fingerprint: str


def request_fingerprint(operation: str, payload: Any) -> str:
    canonical = json.dumps([operation, payload], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_ref(key: str | None, operation: str, payload: Any) -> IdempotencyRef | None:
    if key is None:
        return None
    return IdempotencyRef(key, operation, request_fingerprint(operation, payload))


def stored_problem(error: ServiceError) -> dict[str, Any]:
    """An error as stored with its key: enough to render the same problem+json again."""
    return {
        "status": error.status,
        "title": error.title,
        "type_slug": error.type_slug,
        "detail": error.detail,
        "extra": error.extra,
    }


def replayed_problem(stored: dict[str, Any]) -> ServiceError:
    """The stored error as a `ServiceError` again, so the one problem handler renders it identically."""
    error_class = type(
        "ReplayedProblem",
        (ServiceError,),
        {
            "status": int(stored["status"]),
            "title": str(stored["title"]),
            "type_slug": str(stored["type_slug"]),
        },
    )
    error: ServiceError = error_class(str(stored["detail"]), extra=dict(stored.get("extra") or {}))
    return error
