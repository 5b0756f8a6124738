"""Client-side rate limiting for the Cal.com API: stay under the per-key limit instead of discovering it.

Cal.com counts requests per API key in a window that starts with the first request (120 per 60 s by
default, reference §1.5) and, once the count is exceeded, blocks the key for 60 s. A token bucket with a
burst of 120 would allow 240 requests inside one of those windows, so the limiter keeps a sliding log:
at most `limit` requests start in any interval of `window_s` (plus a small margin for network jitter).

Waiters are served strictly in arrival order: the one at the head holds an `asyncio.Lock` (FIFO, no
barging) while it sleeps, so a late caller can never overtake an earlier one.

The server's own view wins over the log: `X-RateLimit-Remaining-Default: 0` (other replicas share the key)
pauses everyone for a whole window, and a 429 pauses everyone for the block period. The reset header's
unit is undocumented, so it is never trusted.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

DEFAULT_LIMIT = 120
DEFAULT_WINDOW_S = 60.0
DEFAULT_BLOCK_S = 60.0
REMAINING_HEADER = "x-ratelimit-remaining-default"


class RateLimiter:
    """Fair async limiter for one API key; share one instance between all callers using that key."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window_s: float = DEFAULT_WINDOW_S,
        *,
        safety_margin_s: float = 0.5,
        block_s: float = DEFAULT_BLOCK_S,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window_s <= 0 or safety_margin_s < 0 or block_s < 0:
            raise ValueError("window_s must be positive; safety_margin_s and block_s non-negative")
        self._limit = limit
        self._window_s = window_s + safety_margin_s
        self._block_s = block_s
        self._clock = clock
        self._sleep = sleep
        self._recent_starts: deque[float] = deque(maxlen=limit)
        self._blocked_until = float("-inf")
        self._turn = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for this caller's turn and a free place in the window, then count one request as started."""
        async with self._turn:
            # Re-check after every sleep: a 429 or `remaining: 0` may arrive while we wait.
            while (wait_s := self._wait_needed_s()) > 0:
                await self._sleep(wait_s)
            self._recent_starts.append(self._clock())

    def blocked_for_s(self) -> float:
        """Seconds the server has told us to stay away (0 when not blocked); lets callers fail fast."""
        return max(0.0, self._blocked_until - self._clock())

    def note_response(self, status_code: int, headers: Mapping[str, str]) -> None:
        """Learn from a response: a 429 blocks for the block period, `remaining: 0` pauses for a window."""
        lowered = {name.lower(): value for name, value in headers.items()}
        now = self._clock()
        if status_code == 429:
            retry_after_s = retry_after_seconds(lowered)
            # Never shorter than the documented block: a too-early retry restarts Cal.com's block.
            self._block_until(now + max(self._block_s, retry_after_s or 0.0))
            return
        remaining = _parse_int(lowered.get(REMAINING_HEADER))
        if remaining is not None and remaining <= 0:
            self._block_until(now + self._window_s)

    def _block_until(self, until: float) -> None:
        self._blocked_until = max(self._blocked_until, until)

    def _wait_needed_s(self) -> float:
        now = self._clock()
        ready_at = self._blocked_until
        if len(self._recent_starts) == self._limit:
            ready_at = max(ready_at, self._recent_starts[0] + self._window_s)
        return max(0.0, ready_at - now)


class RateLimiterRegistry:
    """One `RateLimiter` per API key, so every client object using a key shares that key's budget."""

    def __init__(self, factory: Callable[[], RateLimiter] = RateLimiter) -> None:
        self._factory = factory
        self._by_key: dict[str, RateLimiter] = {}

    def for_api_key(self, api_key: str) -> RateLimiter:
        # Keyed by a digest so the registry never holds the secret itself.
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        limiter = self._by_key.get(digest)
        if limiter is None:
            limiter = self._by_key[digest] = self._factory()
        return limiter


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`Retry-After-Default` or `Retry-After` in seconds, None if absent or a date.

    Looked up by lower-case name: pass `httpx.Headers` (case-insensitive) or a lower-cased dict.
    """
    for name in ("retry-after-default", "retry-after"):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            return max(0.0, float(raw))
        except ValueError:
            continue  # an HTTP date: the default block covers it
    return None


def _parse_int(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None
