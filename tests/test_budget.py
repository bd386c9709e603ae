"""Layer 1: the token bucket on a fake clock (no real sleeping)."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from sentdm_async import RateBudget, TokenBucket
from sentdm_async._ratelimit import budget as _budget
from sentdm_async._ratelimit.budget import make_budget


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it."""

    def __init__(self, *, advance: bool = True) -> None:
        self.now = 1000.0
        self.advance = advance
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await anyio.lowlevel.checkpoint()  # cancellation lands before time moves
        self.slept.append(seconds)
        if self.advance:
            self.now += seconds


def bucket(clock: FakeClock, rate: float = 60.0, burst: int = 5, **kw: bool) -> TokenBucket:
    return TokenBucket(rate, burst=burst, clock=clock, sleep=clock.sleep, **kw)


async def test_burst_then_rate() -> None:
    """The first `burst` requests go at once, the rest at the sustained rate."""
    clock = FakeClock()
    tb = bucket(clock, rate=60.0, burst=5)
    start = clock.now
    for _ in range(5):
        await tb.acquire()
    assert clock.now == start
    for _ in range(10):
        await tb.acquire()
    assert clock.now - start == pytest.approx(10.0)  # 1 token per second


async def test_refill_is_capped_at_burst() -> None:
    """A long idle period refills at most `burst` tokens."""
    clock = FakeClock()
    tb = bucket(clock, rate=60.0, burst=3)
    clock.now += 3600
    assert tb.available == 3
    for _ in range(4):
        await tb.acquire()
    assert clock.slept == [pytest.approx(1.0)]


async def test_pause_holds_everyone() -> None:
    """A 429 pause empties the bucket and holds callers until it ends."""
    clock = FakeClock()
    tb = bucket(clock, rate=60.0, burst=5)
    await tb.pause(30.0)
    start = clock.now
    await tb.acquire()
    # Held for the pause, then the bucket restarts empty: one more second for a token.
    assert clock.now - start == pytest.approx(31.0)
    assert tb.pauses == 1
    await tb.pause(0)  # a zero pause is ignored
    await tb.pause(-5)
    assert tb.pauses == 1


async def test_shorter_pause_does_not_shorten_a_longer_one() -> None:
    """Overlapping pauses keep the later end."""
    clock = FakeClock()
    tb = bucket(clock)
    await tb.pause(20.0)
    await tb.pause(5.0)
    start = clock.now
    await tb.acquire()
    assert clock.now - start >= 20.0


async def test_cancelled_waiter_returns_its_token() -> None:
    """A waiter cancelled while queued gives its slot back to the next caller."""
    clock = FakeClock()
    tb = bucket(clock, rate=60.0, burst=1)
    await tb.acquire()  # empty now
    with anyio.CancelScope() as scope:
        scope.cancel()
        await tb.acquire()  # reserves a slot, then is cancelled in its sleep
    start = clock.now
    await tb.acquire()
    # Had the cancelled caller kept its slot, this one would wait 2 s, not 1 s.
    assert clock.now - start == pytest.approx(1.0)


async def test_concurrent_waiters_are_spaced_at_the_rate() -> None:
    """Ten concurrent callers on an empty bucket are released one token-interval apart, in order."""
    clock = FakeClock()
    tb = bucket(clock, rate=60.0, burst=1)
    await tb.acquire()
    start = clock.now
    released: list[tuple[int, float]] = []

    async def one(n: int) -> None:
        await tb.acquire()
        released.append((n, clock.now - start))

    async with anyio.create_task_group() as tg:
        for n in range(10):
            tg.start_soon(one, n)
    # First come, first served, one second apart; only the head of the queue sleeps, in slices
    # of at most MAX_SLICE.
    assert [n for n, _ in released] == list(range(10))
    assert [t for _, t in released] == [pytest.approx(float(n)) for n in range(1, 11)]
    assert max(clock.slept) <= _budget.MAX_SLICE


async def test_pause_while_waiting_requeues() -> None:
    """A caller already waiting for a token also waits for a pause that starts meanwhile."""
    clock = FakeClock()
    paused = False

    async def sleep_and_pause(seconds: float) -> None:
        nonlocal paused
        if not paused:
            paused = True
            await tb.pause(10.0)  # a 429 arrives while we sleep for our token
        await clock.sleep(seconds)

    tb = TokenBucket(60.0, burst=1, clock=clock, sleep=sleep_and_pause)
    await tb.acquire()
    start = clock.now
    await tb.acquire()
    assert clock.now - start >= 10.0


async def test_adaptive_follows_headers() -> None:
    """Auto mode takes 95% of the server's limit as its rate and learns its bucket size."""
    clock = FakeClock()
    tb = bucket(clock, rate=200, burst=50, adaptive=True)
    await tb.observe(limit=120, remaining=None, reset_after=None)
    assert tb.rate_per_minute == pytest.approx(120 * 0.95)
    assert tb.burst == 50
    await tb.observe(limit=None, remaining=2, reset_after=10.0)
    assert tb.available == 2
    assert tb.burst == 3  # the largest Remaining seen + 1: the server's bucket as far as we know
    await tb.observe(limit=None, remaining=29, reset_after=None)
    assert tb.burst == 30
    await tb.observe(limit=10, remaining=None, reset_after=None)
    assert tb.burst == 10  # never a burst above the server's whole limit
    await tb.observe(limit=None, remaining=None, reset_after=None)  # no headers: nothing changes
    assert tb.burst == 10
    assert tb.rate_per_minute == pytest.approx(9.5)


async def test_adaptive_probe_goes_alone() -> None:
    """In auto mode the first request goes alone; the next waits for its answer."""
    tb = TokenBucket(200, burst=50, adaptive=True)
    await tb.acquire()  # the probe
    second = asyncio.ensure_future(tb.acquire())
    await asyncio.sleep(0.01)
    assert not second.done()
    await tb.observe(limit=None, remaining=None, reset_after=None)  # any answer ends the probe
    await asyncio.wait_for(second, 1.0)


async def test_adaptive_probe_without_answer_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the probe never comes back, waiters go ahead after PROBE_WAIT."""
    monkeypatch.setattr(_budget, "PROBE_WAIT", 0.05)
    tb = TokenBucket(200, burst=50, adaptive=True)
    await tb.acquire()
    await asyncio.wait_for(tb.acquire(), 1.0)
    await asyncio.wait_for(tb.acquire(), 0.01)  # no more waiting after that


async def test_adaptive_pause_ends_the_probe() -> None:
    """A 429 answers the probe: waiters follow the pause, not the probe."""
    tb = TokenBucket(6000, burst=50, adaptive=True)
    await tb.acquire()
    await tb.pause(0.01)
    await asyncio.wait_for(tb.acquire(), 1.0)


async def test_fixed_ignores_headers() -> None:
    """A fixed budget does not change with the server's headers."""
    clock = FakeClock()
    tb = bucket(clock, rate=100, burst=5)
    await tb.observe(limit=1000, remaining=0, reset_after=1.0)
    assert tb.rate_per_minute == 100
    assert tb.available == 5


def test_make_budget() -> None:
    """rate_limit= maps to auto, fixed, none or a user budget."""
    auto = make_budget("auto")
    assert isinstance(auto, TokenBucket)
    assert auto.adaptive
    assert (auto.rate_per_minute, auto.burst) == (200, 50)
    fixed = make_budget(600)
    assert isinstance(fixed, TokenBucket)
    assert not fixed.adaptive
    assert (fixed.rate_per_minute, fixed.burst) == (600, 50)
    assert make_budget(None) is None
    assert make_budget(fixed) is fixed
    assert isinstance(fixed, RateBudget)
    assert "auto" in repr(auto)
    with pytest.raises(TypeError):
        make_budget(True)
    with pytest.raises(TypeError):
        make_budget("fast")


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan"), "10"])
def test_bad_rate(bad: object) -> None:
    """Rates must be positive finite numbers."""
    with pytest.raises(ValueError, match="rate_per_minute"):
        TokenBucket(bad)  # type: ignore[arg-type]


def test_bad_burst() -> None:
    """Burst must be a positive int."""
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(60, burst=0)
