"""The sandbox's whole state as one JSON document, so a restarted demo keeps its Cal.com data.

The document holds every record, the next id of each kind and the uid generator's position, so a restored
sandbox answers every request as the original did and carries on exactly as the original would have. Fault
settings, rate-limit windows, per-key rate-limit policies and webhooks not yet delivered are left out: they
belong to the running process, not to the data.

Records go through a generic dataclass <-> dict conversion driven by the records' type hints. A field added
later with a default reads fine from an older format-1 document; anything else that changes the shape of
the document needs a new `SNAPSHOT_FORMAT`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime, time
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from composite_booking.calcom.sandbox.records import (
    Booking,
    EventType,
    Membership,
    Schedule,
    Team,
    User,
    Webhook,
)
from composite_booking.calcom.sandbox.state import SandboxState

SNAPSHOT_FORMAT = 1

_T = TypeVar("_T")


class SnapshotError(ValueError):
    """The document is not a sandbox snapshot this version can read."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Table:
    record: type[Any]
    key: str | None
    """The attribute the state's dict is keyed by; None for a table the state keeps as a list."""


# Keyed by the `SandboxState` attribute each table lives in; the document uses the same names.
_TABLES: dict[str, _Table] = {
    "users": _Table(User, "id"),
    "teams": _Table(Team, "id"),
    "memberships": _Table(Membership, None),
    "schedules": _Table(Schedule, "id"),
    "event_types": _Table(EventType, "id"),
    "bookings": _Table(Booking, "uid"),
    "webhooks": _Table(Webhook, "id"),
}


def snapshot_state(state: SandboxState) -> dict[str, Any]:
    """A JSON-ready copy of `state` that shares nothing mutable with it."""
    document: dict[str, Any] = {"format": SNAPSHOT_FORMAT, "seed": state.seed}
    for name, table in _TABLES.items():
        rows = getattr(state, name)
        records = rows.values() if table.key is not None else rows
        document[name] = [_encode(record) for record in records]
    document["api_key_hashes"] = dict(state.api_keys)
    document["next_ids"] = state.next_ids()
    version, internal, gauss_next = state.generator_position()
    document["generator"] = {"version": version, "internal": list(internal), "gauss_next": gauss_next}
    return document


def restore_state(document: Mapping[str, Any]) -> SandboxState:
    """The state `document` was taken from; `SnapshotError` for another format or a malformed document."""
    if not isinstance(document, Mapping):
        raise SnapshotError(f"a snapshot is a JSON object, not {type(document).__name__}")
    found = document.get("format")
    if type(found) is not int or found != SNAPSHOT_FORMAT:
        raise SnapshotError(
            f"Cal.com sandbox snapshot format {found!r} is not supported (this version reads format "
            f"{SNAPSHOT_FORMAT})"
        )
    state = SandboxState(seed=_decode(int, _field(document, "seed"), "seed"))
    for name, table in _TABLES.items():
        records = [
            _decode_record(table.record, row, f"{name}[{i}]")
            for i, row in enumerate(_expect(list, _field(document, name), name))
        ]
        if table.key is None:
            setattr(state, name, records)
            continue
        keyed = {getattr(record, table.key): record for record in records}
        if len(keyed) != len(records):
            raise SnapshotError(f"{name}: two records share one {table.key}")
        setattr(state, name, keyed)
    state.api_keys = _decode(dict[str, int], _field(document, "api_key_hashes"), "api_key_hashes")
    next_ids = _decode(dict[str, int], _field(document, "next_ids"), "next_ids")
    try:
        state.resume_ids(next_ids)
    except ValueError as exc:
        raise SnapshotError(str(exc)) from exc
    _check_ids_are_not_reissued(state, next_ids)
    position = _generator_position(_field(document, "generator"))
    try:
        state.resume_generator(position)
    except (TypeError, ValueError) as exc:
        raise SnapshotError(f"generator is not a random.Random state: {exc}") from exc
    return state


def write_snapshot(path: Path, document: Mapping[str, Any]) -> None:
    """Write `document` as JSON so that `path` holds either the old snapshot or the new one, never half.

    The temporary file sits next to `path` because `os.replace` is only atomic within one filesystem.
    """
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_snapshot(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise SnapshotError(f"{path} holds a JSON {type(document).__name__}, not a snapshot object")
    return document


# --- checks


def _field(document: Mapping[str, Any], name: str) -> Any:
    if name not in document:
        raise SnapshotError(f"the snapshot has no {name!r}")
    return document[name]


def _check_ids_are_not_reissued(state: SandboxState, next_ids: Mapping[str, int]) -> None:
    for name, next_id in next_ids.items():
        used = [record.id for record in getattr(state, name).values()]
        if used and max(used) >= next_id:
            raise SnapshotError(f"next_ids.{name} is {next_id} but id {max(used)} is already taken")


def _generator_position(value: Any) -> tuple[Any, ...]:
    if not isinstance(value, Mapping) or set(value) != {"version", "internal", "gauss_next"}:
        raise SnapshotError("generator must be {version, internal, gauss_next}")
    internal = _decode(list[int], value["internal"], "generator.internal")
    gauss_next = value["gauss_next"]
    if gauss_next is not None and not isinstance(gauss_next, float):
        raise SnapshotError("generator.gauss_next must be a number or null")
    return (_decode(int, value["version"], "generator.version"), tuple(internal), gauss_next)


# --- records <-> JSON


def _encode(value: Any) -> Any:
    """A JSON value for a record or anything inside one; copies containers so nothing is shared."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):  # before str: StrEnum members are strings too
        return value.value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"cannot snapshot a mapping with non-string keys: {value!r}")
        return {key: _encode(item) for key, item in value.items()}
    if value is None or isinstance(value, str | int | float):
        return value
    raise TypeError(f"cannot snapshot a {type(value).__name__}: {value!r}")


def _decode(hint: Any, value: Any, where: str) -> Any:
    """`value` read back as the type `hint` names; `where` is its path in the document, for errors."""
    if hint is Any:
        return _encode(value)  # free-form JSON (metadata, settings): copied, not shared with the document
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if origin is types.UnionType or origin is typing.Union:
        if value is None and type(None) in arguments:
            return None
        (inner,) = (argument for argument in arguments if argument is not type(None))
        return _decode(inner, value, where)
    if origin is list or origin is tuple:
        item_hint = arguments[0]  # records only use list[T] and tuple[T, ...]
        items = [
            _decode(item_hint, item, f"{where}[{i}]") for i, item in enumerate(_expect(list, value, where))
        ]
        return items if origin is list else tuple(items)
    if origin is dict:
        return {
            _expect(str, key, where): _decode(arguments[1], item, f"{where}.{key}")
            for key, item in _expect(dict, value, where).items()
        }
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _decode_record(hint, value, where)
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError as exc:
            raise SnapshotError(f"{where}: {exc}") from exc
    if hint in (datetime, date, time):
        try:
            return hint.fromisoformat(_expect(str, value, where))
        except ValueError as exc:
            raise SnapshotError(f"{where}: {exc}") from exc
    if hint in (int, str, bool, float):
        return _expect(hint, value, where)
    raise TypeError(f"{where}: no snapshot reading for {hint!r}")


def _decode_record(record: type[Any], value: Any, where: str) -> Any:
    row = _expect(dict, value, where)
    hints = _type_hints(record)
    fields = {f.name: f for f in dataclasses.fields(record)}
    unknown = sorted(set(row) - set(fields))
    if unknown:
        raise SnapshotError(f"{where}: unknown fields {unknown} for {record.__name__}")
    arguments: dict[str, Any] = {}
    for name, spec in fields.items():
        if name in row:
            arguments[name] = _decode(hints[name], row[name], f"{where}.{name}")
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise SnapshotError(f"{where}: {record.__name__} needs {name!r}")
    return record(**arguments)


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _type_hints(record: type[Any]) -> dict[str, Any]:
    # Resolving the records' string annotations is the slow part of reading a record; do it once per class.
    if record not in _HINTS:
        _HINTS[record] = typing.get_type_hints(record)
    return _HINTS[record]


def _expect(kind: type[_T], value: Any, where: str) -> _T:
    # bool is an int to Python, but a JSON `true` is never an id.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SnapshotError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value
