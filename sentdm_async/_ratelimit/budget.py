"""The client's shared request budget: one token bucket for every request of one `AsyncSent`.

The account's rate limit (200 requests/min, burst 50 by default) is the real bottleneck of this
library, so every request, whether from a web handler, a bulk job or a watcher, takes one token
from the same budget before it goes out (through the client's fair gate, `_gate`).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import anyio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["DEFAULT_BURST", "DEFAULT_RATE_PER_MINUTE", "RateBudget", "TokenBucket"]

#: The documented limit of standard v3 endpoints.
DEFAULT_RATE_PER_MINUTE = 200


#: The documented burst of standard v3 endpoints.
DEFAULT_BURST = 50


#: In auto mode, callers that arrive while the first request is out wait at most this long
#: (seconds) for its answer to say what the server allows.
PROBE_WAIT = 2.0


#: Share of the server's advertised limit that auto mode uses: requests that leave on time can
#: still reach the server early (connection set-up, scheduling), and one 429 costs a request and
#: a pause for every caller, far more than 5% of throughput.
AUTO_HEADROOM = 0.95


#: Longest single sleep of a waiter (seconds) before it looks at the rate and pauses again.
MAX_SLICE = 1.0


@runtime_checkable
class RateBudget(Protocol):
    """What the transport needs from a request budget.

    Implement it to share one budget between processes (`sentdm_async.redis.RedisRateBudget`
    does, through Redis) and pass the instance as ``AsyncSent(rate_limit=...)``. The methods are
    async so that an implementation may do I/O. Fairness between the consumers of one client
    (single calls, each watcher, each bulk job) is handled above the budget, by the client, so
    an implementation only has to hand out slots at the right rate.
    """

    @property
    def adaptive(self) -> bool:
        """Whether `observe` uses the headers (the transport skips parsing them if not)."""

    async def acquire(self) -> None:
        """Wait until one more request may be sent, and count it.

        Must be cancel-safe: a cancelled call must not leave a slot counted that it did not
        hand out, or must accept that the slot goes unused.
        """

    async def observe(
        self, *, limit: int | None, remaining: int | None, reset_after: float | None
    ) -> None:
        """Learn from a response's ``X-RateLimit-*`` headers (``None`` where a header was absent).

        Called after every response when `adaptive` is true.

        Args:
            limit: Requests per minute the server allows.
            remaining: Requests left in the server's current allowance.
            reset_after: Seconds until the server's allowance is full again.
        """

    async def pause(self, seconds: float) -> None:
        """Stop every caller from sending for ``seconds`` (the server answered 429)."""


class TokenBucket:
    """In-process token bucket: ``rate_per_minute`` sustained, ``burst`` at once.

    Waiters queue first come, first served (one lock), and the one at the head sleeps until its
    token is due, in slices of at most `MAX_SLICE` seconds: a rate learned meanwhile (a higher
    ``X-RateLimit-Limit``) or a `pause` takes effect within a slice instead of after a sleep
    computed from the old rate. A cancelled waiter has taken nothing. A `pause` holds every
    caller, including those already waiting, until it ends; the bucket restarts empty.

    In adaptive ("auto") mode the first request goes out alone: the others wait (at most
    `PROBE_WAIT` seconds) for its answer, whose ``X-RateLimit-*`` headers say what the account
    really allows, so a burst sized for the documented 200/min burst 50 never hits an account
    with a smaller limit. After that the burst is capped at the largest ``Remaining`` + 1 seen
    (the server's bucket size, as far as we can tell) and the rate at 95% of ``Limit``.

    Args:
        rate_per_minute: Sustained requests per minute (> 0).
        burst: Most requests that may go out at once (>= 1); defaults to a quarter of the rate,
            at most 50, like the API's own 200/min burst 50.
        adaptive: Follow the server's ``X-RateLimit-Limit`` and ``-Remaining`` (the "auto" mode).
        clock: Monotonic seconds; injectable so tests never sleep for real.
        sleep: Async sleep matching ``clock``.
    """

    def __init__(
        self,
        rate_per_minute: float = DEFAULT_RATE_PER_MINUTE,
        *,
        burst: int | None = None,
        adaptive: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if not (isinstance(rate_per_minute, int | float) and 0 < rate_per_minute < math.inf):
            raise ValueError(f"rate_per_minute must be a positive number, got {rate_per_minute!r}")
        if burst is None:
            burst = max(1, min(DEFAULT_BURST, int(rate_per_minute // 4)))
        if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
            raise ValueError(f"burst must be an int >= 1, got {burst!r}")
        self._rate = rate_per_minute / 60.0
        self._burst = burst
        self._max_burst = burst
        self._adaptive = adaptive
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._paused_until = -math.inf
        self._queue = anyio.Lock()  # FIFO: the head of the queue is the only one sleeping
        self._queued = 0  # callers in `acquire` (`try_acquire` never jumps the queue)
        #: How many times a 429 paused this budget (for stats and tests).
        self.pauses = 0
        # Adaptive mode: learned from the first answer (None until then) and the server's bucket
        # size as estimated from the largest Remaining seen.
        self._learned = anyio.Event()
        self._probing = adaptive  # auto mode until the probe is answered: no burst yet
        self._probe_out = False
        self._server_burst = 0

    def __repr__(self) -> str:
        mode = "auto" if self._adaptive else "fixed"
        return f"TokenBucket({self.rate_per_minute:g}/min, burst={self._burst}, {mode})"

    @property
    def adaptive(self) -> bool:
        """Whether the bucket follows the server's headers ("auto" mode)."""
        return self._adaptive

    @property
    def rate_per_minute(self) -> float:
        """The sustained rate currently applied."""
        return self._rate * 60.0

    @property
    def burst(self) -> int:
        """The bucket's capacity currently applied."""
        return self._burst

    @property
    def available(self) -> float:
        """Tokens available now."""
        self._refill(self._clock())
        return self._tokens

    def _refill(self, now: float) -> None:
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(float(self._burst), self._tokens + elapsed * self._rate)
            self._updated = now

    def try_acquire(self) -> bool:
        """Take a token if one is free right now, without waiting; return whether it did."""
        if self._queued or self._probing:
            return False  # anyone queued, and the probe, go first
        now = self._clock()
        if self._paused_until > now:
            return False
        tokens = self._tokens
        elapsed = now - self._updated  # `_refill`, inlined: this runs once per request
        if elapsed > 0:
            tokens += elapsed * self._rate
            if tokens > self._burst:
                tokens = float(self._burst)
            self._updated = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return True
        self._tokens = tokens
        return False

    async def acquire(self) -> None:
        """Wait for a token (first come, first served)."""
        self._queued += 1
        try:
            if self._probing:
                await self._probe()
            async with self._queue:
                await self._take()
        finally:
            self._queued -= 1

    async def _probe(self) -> None:
        """Auto mode, before the first answer: send the probe, or wait for its answer."""
        if not self._probe_out:
            self._probe_out = True  # this caller's request is the probe
            return
        with anyio.move_on_after(PROBE_WAIT):
            await self._learned.wait()
        self._answered()  # answered, or no answer in time: stop waiting either way

    def _answered(self) -> None:
        """The probe was answered (or waited for long enough)."""
        self._probing = False
        self._learned.set()

    async def _take(self) -> None:
        """Sleep until a token is due and take it (the caller is the head of the queue)."""
        while True:
            now = self._clock()
            if self._paused_until > now:
                await self._sleep(min(self._paused_until - now, MAX_SLICE))
                continue
            self._refill(now)
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return
            await self._sleep(min((1.0 - self._tokens) / self._rate, MAX_SLICE))

    async def observe(
        self, *, limit: int | None, remaining: int | None, reset_after: float | None
    ) -> None:
        """Follow the server's headers (only when ``adaptive``).

        ``limit`` sets the rate (95% of it, see `AUTO_HEADROOM`) and caps the burst;
        ``remaining`` lowers the tokens when the server has seen more traffic than we sent (other
        clients of the same account). ``reset_after`` is not needed by a token bucket: the refill
        rate already says when the next token comes.
        """
        del reset_after
        if not self._adaptive:
            return
        self._answered()
        if limit is None and remaining is None:
            return
        self._refill(self._clock())
        if limit:
            self._rate = limit * AUTO_HEADROOM / 60.0
        if remaining is not None:
            self._server_burst = max(self._server_burst, remaining + 1)
            self._tokens = min(self._tokens, float(remaining))
        caps = [self._max_burst]
        if limit:
            caps.append(limit)
        if self._server_burst:
            caps.append(self._server_burst)
        self._burst = max(1, min(caps))
        self._tokens = min(self._tokens, float(self._burst))

    async def pause(self, seconds: float) -> None:
        """Hold every caller for ``seconds``; the bucket restarts empty when the pause ends."""
        if not seconds > 0:
            return
        self._answered()  # a 429 answers the probe too: the pause now governs
        now = self._clock()
        until = now + min(seconds, 86_400.0)
        self._refill(now)
        self._tokens = min(self._tokens, 0.0)
        if until > self._paused_until:
            self._paused_until = until
            self.pauses += 1
        self._updated = max(self._updated, self._paused_until)


def make_budget(rate_limit: object) -> RateBudget | None:
    """Build the budget for ``AsyncSent(rate_limit=...)``.

    ``"auto"`` follows the server from 200/min burst 50; a number fixes requests per minute;
    ``None`` means no client-side limit; a `RateBudget` instance is used as given.
    """
    if rate_limit is None:
        return None
    if rate_limit == "auto":
        return TokenBucket(DEFAULT_RATE_PER_MINUTE, burst=DEFAULT_BURST, adaptive=True)
    if isinstance(rate_limit, bool):
        raise TypeError(
            "rate_limit must be 'auto', a number of requests per minute, a RateBudget or None"
        )
    if isinstance(rate_limit, int | float):
        return TokenBucket(rate_limit)
    if isinstance(rate_limit, RateBudget):
        return rate_limit
    raise TypeError(
        "rate_limit must be 'auto', a number of requests per minute, a RateBudget or None, "
        f"got {type(rate_limit).__name__}"
    )
