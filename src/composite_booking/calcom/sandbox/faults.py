"""Fault injection for tests and benchmarks, changeable while the sandbox serves.

Every HTTP request is counted under a `CallKind`. On top of that, per kind or for all kinds:
- `set_latency(seconds)`: an async sleep before the request is handled;
- `set_error_rate(p)`: each request fails with probability p (seeded RNG, so runs repeat);
- `fail(kind, nth=..., status=..., after_effect=...)`: the nth call of that kind from now fails; with
  `after_effect=True` the call is performed first and only its response is lost (a booking made whose
  confirmation never arrives);
- `hang(kind)`: sleep far past any client timeout, before or (with `after_effect`) after performing it.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

Sleep = Callable[[float], Awaitable[None]]

DEFAULT_HANG_S = 3600.0


class CallKind(StrEnum):
    CREATE_EVENT_TYPE = "create_event_type"
    LIST_EVENT_TYPES = "list_event_types"
    GET_EVENT_TYPE = "get_event_type"
    UPDATE_EVENT_TYPE = "update_event_type"
    DELETE_EVENT_TYPE = "delete_event_type"
    LIST_SCHEDULES = "list_schedules"
    GET_SCHEDULE = "get_schedule"
    GET_SLOTS = "get_slots"
    CREATE_BOOKING = "create_booking"
    GET_BOOKING = "get_booking"
    LIST_BOOKINGS = "list_bookings"
    CANCEL_BOOKING = "cancel_booking"
    RESCHEDULE_BOOKING = "reschedule_booking"
    CREATE_WEBHOOK = "create_webhook"
    LIST_WEBHOOKS = "list_webhooks"
    GET_WEBHOOK = "get_webhook"
    UPDATE_WEBHOOK = "update_webhook"
    DELETE_WEBHOOK = "delete_webhook"
    GET_ME = "get_me"
    OTHER = "other"


KindLike = CallKind | str


@dataclass(frozen=True, slots=True)
class InjectedFailure:
    status: int
    message: str | None
    after_effect: bool


@dataclass(slots=True)
class _FailRule:
    kind: CallKind
    calls_left: int
    failure: InjectedFailure


@dataclass(slots=True)
class _HangRule:
    kind: CallKind
    seconds: float
    after_effect: bool
    times_left: int | None


@dataclass(frozen=True, slots=True)
class _ErrorRate:
    probability: float
    status: int
    kinds: frozenset[CallKind] | None


class Faults:
    def __init__(self, *, seed: int = 0, sleep: Sleep = asyncio.sleep) -> None:
        self._seed = seed
        self._sleep = sleep
        self.reset()

    # --- configuration

    def reset(self) -> None:
        """Clear every rule and every counter."""
        self._rng = random.Random(self._seed)
        self._calls: Counter[CallKind] = Counter()
        self._latency: dict[CallKind | None, float] = {}
        self._error_rate: _ErrorRate | None = None
        self._fail_rules: list[_FailRule] = []
        self._hang_rules: list[_HangRule] = []

    def set_latency(self, seconds: float, kind: KindLike | None = None) -> None:
        """Added delay for one kind, or (kind=None) for every kind without its own setting."""
        if seconds < 0:
            raise ValueError("latency cannot be negative")
        self._latency[CallKind(kind) if kind is not None else None] = seconds

    def set_error_rate(
        self,
        probability: float,
        *,
        status: int = 500,
        kinds: Iterable[KindLike] | None = None,
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be within [0, 1]")
        if seed is not None:
            self._rng = random.Random(seed)
        self._error_rate = _ErrorRate(
            probability, status, frozenset(CallKind(k) for k in kinds) if kinds is not None else None
        )

    def fail(
        self,
        kind: KindLike,
        *,
        nth: int = 1,
        status: int = 500,
        message: str | None = None,
        after_effect: bool = False,
    ) -> None:
        """Make the nth call of `kind` from now fail with `status` (and `message`, else a default for it)."""
        if nth < 1:
            raise ValueError("nth counts from 1 (the next call)")
        self._fail_rules.append(
            _FailRule(CallKind(kind), nth, InjectedFailure(status, message, after_effect))
        )

    def hang(
        self,
        kind: KindLike,
        *,
        seconds: float = DEFAULT_HANG_S,
        after_effect: bool = False,
        times: int | None = 1,
    ) -> None:
        """Make the next `times` calls of `kind` (None: every call) sleep `seconds`."""
        self._hang_rules.append(_HangRule(CallKind(kind), seconds, after_effect, times))

    # --- observation

    def calls(self, kind: KindLike) -> int:
        return self._calls[CallKind(kind)]

    @property
    def call_counts(self) -> Mapping[str, int]:
        return {kind.value: count for kind, count in self._calls.items()}

    # --- used by the request pipeline

    def record_call(self, kind: CallKind) -> None:
        self._calls[kind] += 1

    async def apply_latency(self, kind: CallKind) -> None:
        seconds = self._latency.get(kind, self._latency.get(None, 0.0))
        if seconds > 0:
            await self._sleep(seconds)

    def take_failure(self, kind: CallKind) -> InjectedFailure | None:
        """The failure this call gets, if any; counts this call against every armed rule of its kind."""
        chosen: InjectedFailure | None = None
        for rule in list(self._fail_rules):
            if rule.kind is not kind:
                continue
            rule.calls_left -= 1
            if rule.calls_left == 0:
                self._fail_rules.remove(rule)
                chosen = chosen or rule.failure
        if chosen is not None:
            return chosen
        rate = self._error_rate
        if (
            rate is not None
            and (rate.kinds is None or kind in rate.kinds)
            and self._rng.random() < rate.probability
        ):
            return InjectedFailure(rate.status, None, after_effect=False)
        return None

    def take_hang(self, kind: CallKind) -> tuple[float, bool] | None:
        """(seconds, after_effect) when this call should hang."""
        for rule in self._hang_rules:
            if rule.kind is not kind:
                continue
            if rule.times_left is not None:
                rule.times_left -= 1
                if rule.times_left <= 0:
                    self._hang_rules.remove(rule)
            return rule.seconds, rule.after_effect
        return None

    async def sleep(self, seconds: float) -> None:
        await self._sleep(seconds)
