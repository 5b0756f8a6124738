"""A control API under `/_sandbox/`, for load tests against a standalone sandbox (another process).

In-process tests call `sandbox.faults` directly; a load generator talking to `run_standalone` over HTTP
cannot, so it sets faults here:

    POST /_sandbox/faults        {"latency_s"?: number >= 0, "kind"?: CallKind, "error_rate"?: 0..1,
                                  "status"?: 400..599}
    POST /_sandbox/reset-faults  clears every fault rule and call counter (`Faults.reset`)

`latency_s` sets the delay of `kind` (without `kind`: of every kind without its own); `error_rate` replaces
the error-rate rule, failing `kind` (without `kind`: every kind) with `status` (default 500). Cal.com has no
such paths, so the API exists only when the sandbox is built with `control_api=True`; otherwise they are
unknown routes like any other (404). Control requests bypass the pipeline: they are not counted, delayed,
throttled or failed, so a load test can always switch faults off again.
"""

from __future__ import annotations

import json
import math
from typing import Any

from composite_booking.calcom.sandbox.errors import bad_request, route_not_found
from composite_booking.calcom.sandbox.faults import CallKind, Faults

CONTROL_PREFIX = "/_sandbox/"
_FAULT_FIELDS = ("latency_s", "kind", "error_rate", "status")
_KINDS = frozenset(kind.value for kind in CallKind)


def control_reply(faults: Faults, method: str, path: str, raw_body: bytes) -> dict[str, Any]:
    """The `data` of a control request's success envelope; a `CalcomError` (400, 404) otherwise."""
    route = path.rstrip("/")
    if method == "POST" and route == "/_sandbox/faults":
        return set_faults(faults, _json_object(raw_body))
    if method == "POST" and route == "/_sandbox/reset-faults":
        faults.reset()
        return {"reset": True}
    raise route_not_found(method, path)


def set_faults(faults: Faults, body: dict[str, Any]) -> dict[str, Any]:
    """Apply a `/_sandbox/faults` body; returns what was set, with defaults filled in."""
    unknown = sorted(set(body) - set(_FAULT_FIELDS))
    if unknown:
        raise bad_request(f"Unknown fields: {', '.join(unknown)}. Allowed: {', '.join(_FAULT_FIELDS)}.")
    latency = _number(body, "latency_s", maximum=None)
    error_rate = _number(body, "error_rate", maximum=1.0)
    kind = _kind(body.get("kind"))
    status = _status(body.get("status"))
    if latency is None and error_rate is None:
        raise bad_request("Nothing to set: give latency_s and/or error_rate.")
    if status is not None and error_rate is None:
        raise bad_request("status is the status of injected errors, so it needs error_rate.")
    # Validate everything before changing anything, so a refused body leaves the faults as they were.
    applied: dict[str, Any] = {"kind": kind.value if kind is not None else None}
    if latency is not None:
        faults.set_latency(latency, kind)
        applied["latency_s"] = latency
    if error_rate is not None:
        status = status if status is not None else 500
        faults.set_error_rate(error_rate, status=status, kinds=[kind] if kind is not None else None)
        applied["error_rate"] = error_rate
        applied["status"] = status
    return applied


def _json_object(raw_body: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw_body) if raw_body.strip() else {}
    except ValueError as exc:
        raise bad_request("The body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise bad_request("The body must be a JSON object.")
    return body


def _number(body: dict[str, Any], name: str, *, maximum: float | None) -> float | None:
    """A non-negative number no larger than `maximum`, or None when the field is absent (or null)."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad_request(f"{name} must be a finite number.")
    if value < 0 or (maximum is not None and value > maximum):
        bounds = f"within [0, {maximum:g}]" if maximum is not None else "at least 0"
        raise bad_request(f"{name} must be {bounds}.")
    return float(value)


def _kind(value: Any) -> CallKind | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in _KINDS:
        allowed = ", ".join(kind.value for kind in CallKind)
        raise bad_request(f"kind must be one of: {allowed}.")
    return CallKind(value)


def _status(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 400 <= value <= 599:
        raise bad_request("status must be an integer HTTP error status (400-599).")
    return value
