"""The Cal.com rate limiter, driven by a fake clock so minutes pass instantly and deterministically."""

from __future__ import annotations

import asyncio

import pytest

from composite_booking.calcom.ratelimit import RateLimiter, RateLimiterRegistry, retry_after_seconds

START = 1_000.0


class FakeClock:
    """A clock whose `sleep` moves time forward instead of waiting."""

    def __init__(self) -> None:
        self.now = START
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class ManualSleep:
    """A sleep the test finishes by hand, to act while a waiter is asleep."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.pending: list[tuple[float, asyncio.Future[None]]] = []

    async def __call__(self, seconds: float) -> None:
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((seconds, woken))
        await woken

    def finish_next(self) -> float:
        self.pending = [(seconds, woken) for seconds, woken in self.pending if not woken.done()]
        seconds, woken = self.pending.pop(0)
        self.clock.now += seconds
        woken.set_result(None)
        return seconds


def max_in_any_window(starts: list[float], window_s: float) -> int:
    """The largest number of starts inside any half-open interval [t, t + window_s)."""
    best, first = 0, 0
    for last, started in enumerate(starts):
        while started - starts[first] >= window_s:
            first += 1
        best = max(best, last - first + 1)
    return best


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_300_concurrent_callers_never_exceed_120_per_60_s(clock: FakeClock) -> None:
    limiter = RateLimiter(120, 60.0, clock=clock, sleep=clock.sleep)
    starts: list[float] = []
    order: list[int] = []

    async def caller(number: int) -> None:
        await limiter.acquire()
        starts.append(clock())
        order.append(number)

    await asyncio.gather(*(caller(number) for number in range(300)))

    assert len(starts) == 300
    assert max_in_any_window(starts, 60.0) == 120
    assert all(later - earlier >= 60.0 for earlier, later in zip(starts, starts[120:], strict=False))
    assert order == list(range(300)), "callers must be served in arrival order"
    assert starts[119] == START, "the first 120 go at once"
    assert starts[-1] < START + 2 * 61.0, "and the rest as soon as the window allows"


async def test_safety_margin_widens_the_window(clock: FakeClock) -> None:
    limiter = RateLimiter(2, 10.0, safety_margin_s=1.5, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await limiter.acquire()
    assert clock() == START + 11.5


async def test_remaining_zero_pauses_everyone_for_a_whole_window(clock: FakeClock) -> None:
    limiter = RateLimiter(120, 60.0, safety_margin_s=0.0, clock=clock, sleep=clock.sleep)
    await limiter.acquire()
    # Other replicas share the key: the server says the budget is spent although we used one request.
    limiter.note_response(200, {"X-RateLimit-Remaining-Default": "0", "X-RateLimit-Reset-Default": "17"})

    await limiter.acquire()

    assert clock() == START + 60.0, "the reset header is opaque, so the pause is a full window"


async def test_positive_or_unreadable_remaining_changes_nothing(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.note_response(200, {"x-ratelimit-remaining-default": "3"})
    limiter.note_response(200, {"x-ratelimit-remaining-default": "soon"})
    await limiter.acquire()
    assert clock.sleeps == []


async def test_429_blocks_for_the_block_period(clock: FakeClock) -> None:
    limiter = RateLimiter(block_s=60.0, clock=clock, sleep=clock.sleep)
    limiter.note_response(429, {})
    assert limiter.blocked_for_s() == 60.0

    await limiter.acquire()

    assert clock() == START + 60.0
    assert limiter.blocked_for_s() == 0.0


@pytest.mark.parametrize(
    ("retry_after", "expected_block_s"), [("120", 120.0), ("5", 60.0), ("garbage", 60.0)]
)
async def test_429_retry_after_may_lengthen_but_never_shorten_the_block(
    clock: FakeClock, retry_after: str, expected_block_s: float
) -> None:
    limiter = RateLimiter(block_s=60.0, clock=clock, sleep=clock.sleep)
    limiter.note_response(429, {"Retry-After": retry_after})
    assert limiter.blocked_for_s() == expected_block_s


async def test_a_block_that_arrives_while_waiting_is_obeyed(clock: FakeClock) -> None:
    sleep = ManualSleep(clock)
    limiter = RateLimiter(1, 10.0, safety_margin_s=0.0, block_s=60.0, clock=clock, sleep=sleep)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    assert [seconds for seconds, _ in sleep.pending] == [10.0]

    limiter.note_response(429, {})  # the first request's answer lands while the waiter sleeps
    sleep.finish_next()
    await asyncio.sleep(0)

    assert not waiter.done()
    assert sleep.finish_next() == 50.0, "after its window wait, the waiter sits out the rest of the block"
    await waiter
    assert clock() == START + 60.0


async def test_a_cancelled_waiter_gives_up_its_turn(clock: FakeClock) -> None:
    sleep = ManualSleep(clock)
    limiter = RateLimiter(1, 10.0, safety_margin_s=0.0, clock=clock, sleep=sleep)
    await limiter.acquire()
    first = asyncio.create_task(limiter.acquire())
    second = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)

    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    await asyncio.sleep(0)
    sleep.finish_next()  # the second waiter now waits out the window itself
    await second

    assert first.cancelled()
    assert clock() == START + 10.0


def test_registry_shares_one_limiter_per_api_key() -> None:
    registry = RateLimiterRegistry()
    assert registry.for_api_key("cal_a") is registry.for_api_key("cal_a")
    assert registry.for_api_key("cal_a") is not registry.for_api_key("cal_b")


def test_retry_after_prefers_the_named_limit() -> None:
    assert retry_after_seconds({"retry-after-default": "30", "retry-after": "90"}) == 30.0
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert retry_after_seconds({}) is None


def test_rejects_nonsense_configuration() -> None:
    with pytest.raises(ValueError, match="limit"):
        RateLimiter(0)
    with pytest.raises(ValueError, match="window_s"):
        RateLimiter(10, 0.0)
