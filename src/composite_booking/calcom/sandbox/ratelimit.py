"""Cal.com's throttler (reference §1.5): a fixed window per tracker, then a block once the limit is passed.

Trackers are `api_key_<sha256>` for `cal_` keys and the client address otherwise. The window opens with the
first request; request number `limit + 1` is refused and blocks the tracker for `block_s`, during which
every request is refused; after the block a fresh window starts. Time comes from the sandbox clock.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from composite_booking.calcom.sandbox.clock import Clock

HEADER_LIMIT = "X-RateLimit-Limit-Default"
HEADER_REMAINING = "X-RateLimit-Remaining-Default"
HEADER_RESET = "X-RateLimit-Reset-Default"


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    limit: int = 120
    window_s: float = 60.0
    block_s: float = 60.0


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    headers: dict[str, str]


@dataclass(slots=True)
class _Window:
    hits: int
    ends_at: datetime
    blocked_until: datetime | None = None


class SandboxRateLimiter:
    def __init__(self, clock: Clock, default_policy: RateLimitPolicy) -> None:
        self._clock = clock
        self.default_policy = default_policy
        self._windows: dict[str, _Window] = {}

    def hit(self, tracker: str, policy: RateLimitPolicy | None = None) -> RateDecision:
        policy = policy or self.default_policy
        now = self._clock()
        window = self._windows.get(tracker)
        if window is not None and now >= (window.blocked_until or window.ends_at):
            window = None  # the block, or else the window, is over: start afresh
        if window is None:
            window = _Window(hits=0, ends_at=now + timedelta(seconds=policy.window_s))
            self._windows[tracker] = window

        if window.blocked_until is None:
            window.hits += 1
            if window.hits > policy.limit:
                window.blocked_until = now + timedelta(seconds=policy.block_s)
        if window.blocked_until is not None:
            return RateDecision(False, _headers(policy, remaining=0, reset_at=window.blocked_until, now=now))
        remaining = max(0, policy.limit - window.hits)
        return RateDecision(True, _headers(policy, remaining=remaining, reset_at=window.ends_at, now=now))

    def reset(self) -> None:
        self._windows.clear()


def _headers(policy: RateLimitPolicy, *, remaining: int, reset_at: datetime, now: datetime) -> dict[str, str]:
    seconds_left = max(0, math.ceil((reset_at - now).total_seconds()))
    return {
        HEADER_LIMIT: str(policy.limit),
        HEADER_REMAINING: str(remaining),
        HEADER_RESET: str(seconds_left),
    }


def api_key_tracker(key: str) -> str:
    return "api_key_" + hashlib.sha256(key.encode()).hexdigest()
