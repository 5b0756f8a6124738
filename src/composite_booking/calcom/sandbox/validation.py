"""Request-body checks in the style of Cal.com's global ValidationPipe (class-validator, whitelist on).

Unknown keys are dropped silently; each broken field becomes one `{property, value, constraints}` entry
(nested objects report under `children`), and all of them travel in one 400 (`validation_failed`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from composite_booking.calcom.sandbox.clock import parse_instant, zone_or_none
from composite_booking.calcom.sandbox.errors import CalcomError, validation_failed

_MISSING = object()


class BodyChecker:
    """Collects violations for one object; `finish()` raises them all at once."""

    def __init__(self, body: Any, *, allowed: Iterable[str]) -> None:
        raw: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
        allowed_keys = set(allowed)
        self.values: dict[str, Any] = {k: v for k, v in raw.items() if k in allowed_keys}
        self.errors: list[dict[str, Any]] = []

    def _fail(self, name: str, value: Any, constraint: str, message: str) -> None:
        for error in self.errors:
            if error["property"] == name:
                error["constraints"][constraint] = message
                return
        shown = None if value is _MISSING else value
        self.errors.append({"property": name, "value": shown, "constraints": {constraint: message}})

    def present(self, name: str) -> bool:
        return name in self.values and self.values[name] is not None

    def string(self, name: str, *, required: bool = False, non_empty: bool = False) -> str | None:
        value = self.values.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self._fail(name, value, "isString", f"{name} must be a string")
            return None
        if not isinstance(value, str):
            self._fail(name, value, "isString", f"{name} must be a string")
            return None
        if non_empty and not value:
            self._fail(name, value, "isNotEmpty", f"{name} should not be empty")
            return None
        return value

    def integer(
        self, name: str, *, required: bool = False, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        value = self.values.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self._fail(name, value, "isInt", f"{name} must be an integer number")
            return None
        number = _as_integer(value)
        if number is None:
            self._fail(name, value, "isInt", f"{name} must be an integer number")
            return None
        if minimum is not None and number < minimum:
            self._fail(name, value, "min", f"{name} must not be less than {minimum}")
            return None
        if maximum is not None and number > maximum:
            self._fail(name, value, "max", f"{name} must not be greater than {maximum}")
            return None
        return number

    def boolean(self, name: str) -> bool | None:
        value = self.values.get(name, _MISSING)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, bool):
            self._fail(name, value, "isBoolean", f"{name} must be a boolean value")
            return None
        return value

    def enum(self, name: str, options: Iterable[str], *, required: bool = False) -> str | None:
        allowed = list(options)
        value = self.values.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self._fail(
                    name, value, "isEnum", f"{name} must be one of the following values: {', '.join(allowed)}"
                )
            return None
        if value not in allowed:
            self._fail(
                name, value, "isEnum", f"{name} must be one of the following values: {', '.join(allowed)}"
            )
            return None
        return str(value)

    def iso_instant(self, name: str, *, required: bool = False) -> Any:
        value = self.string(name, required=required)
        if value is None:
            return None
        parsed = parse_instant(value)
        if parsed is None:
            self._fail(name, value, "isISO8601", f"{name} must be a valid ISO 8601 date string")
        return parsed

    def time_zone(self, name: str, *, required: bool = False) -> str | None:
        value = self.string(name, required=required)
        if value is not None and zone_or_none(value) is None:
            self._fail(name, value, "isTimeZone", f"{name} must be a valid IANA time zone")
            return None
        return value

    def email(self, name: str, *, required: bool = False) -> str | None:
        value = self.string(name, required=required)
        if value is not None and not _looks_like_email(value):
            self._fail(name, value, "isEmail", f"{name} must be an email")
            return None
        return value

    def array(self, name: str, *, required: bool = False) -> list[Any] | None:
        value = self.values.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self._fail(name, value, "isArray", f"{name} must be an array")
            return None
        if not isinstance(value, list):
            self._fail(name, value, "isArray", f"{name} must be an array")
            return None
        return value

    def obj(self, name: str, *, required: bool = False) -> dict[str, Any] | None:
        value = self.values.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self._fail(name, value, "isObject", f"{name} must be an object")
            return None
        if not isinstance(value, dict):
            self._fail(name, value, "isObject", f"{name} must be an object")
            return None
        return value

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def reject(self, name: str, constraint: str, message: str) -> None:
        self._fail(name, self.values.get(name, _MISSING), constraint, message)

    def nest(self, name: str, child: BodyChecker) -> None:
        """Report a nested object's violations under `name`, as class-validator's `children`."""
        if child.errors:
            self.errors.append(
                {
                    "property": name,
                    "value": self.values.get(name),
                    "constraints": {},
                    "children": child.errors,
                }
            )

    def finish(self) -> None:
        if self.errors:
            raise validation_failed(self.errors)

    def error(self) -> CalcomError | None:
        return validation_failed(self.errors) if self.errors else None


def _as_integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        # Query strings arrive as text; the pipe's `transform: true` turns "10" into 10.
        return int(value.strip())
    return None


def _looks_like_email(value: str) -> bool:
    local, _, domain = value.partition("@")
    return bool(local) and "." in domain and " " not in value and not domain.startswith(".")


def booking_metadata_problem(metadata: Any) -> bool:
    """True when `metadata` breaks Cal.com's limits: ≤50 keys, keys ≤40 chars, strings ≤500 chars."""
    if not isinstance(metadata, dict):
        return True
    if len(metadata) > 50:
        return True
    for key, value in metadata.items():
        if len(key) > 40:
            return True
        if isinstance(value, str):
            if len(value) > 500:
                return True
        elif not isinstance(value, int | float | bool):
            return True
    return False
