"""What many processes share through Redis: one request budget, and the webhooks, per account.

`RedisRateBudget` is a `RateBudget` for ``AsyncSent(rate_limit=...)`` that every process using
the same API key shares (install the ``redis`` extra: redis-py's asyncio client)::

    from sentdm_async import AsyncSent

    budget = RedisRateBudget("redis://redis:6379/0", api_key)
    async with AsyncSent(api_key=api_key, rate_limit=budget) as client:
        ...

How it works:

- **Reservations** (GCRA). One atomic Lua script books the next slot on the account's shared
  schedule (its theoretical arrival time, TAT) and returns how long the caller must wait; the
  time comes from Redis ``TIME``, so process clocks do not matter. The caller then sleeps
  exactly that long: no retry loop, no thundering herd, and arrival order is service order
  across processes. A cancelled waiter's slot goes unused (the schedule never runs faster).
- **A shared pause.** A 429 in any process moves the schedule past its ``Retry-After`` (and
  empties the burst), so every process waits; a pause is only ever extended.
- **Adaptation** (``adaptive``, the default). The account's first request goes alone: every
  other reservation waits for its answer (at most `PROBE_WAIT` seconds), so no burst is sized
  before the server has said what it allows. ``X-RateLimit-Limit`` seen by any process sets a
  shared server interval (at `SHARED_HEADROOM`, 99%, of the limit; the slower of that and the
  configured rate applies), and the largest ``Remaining`` + 1 seen the server's burst, of which
  `BURST_RESERVE` seconds are never booked: late requests (a new connection, a busy event loop)
  that reach the server right before punctual ones find tokens left. A request never leaves
  before its slot on Redis's clock, so 1% of headroom on the rate is enough. A ``Remaining`` of
  0 pauses until ``reset_after``.
- **Cheap observation.** `observe` runs after every response with the connection still held, so
  it never waits for Redis: it compares the headers with the shared state this process last
  read (every reservation returns it) and queues only news (another limit, a larger burst, a
  pause) for a background write. Steady traffic costs one round trip per request: its
  reservation.
- **Keys** are per account: a hash of the API key (never the key) under one hash tag,
  ``{sentdm:<hash>}:...``, so they live in one slot of a Redis cluster.
- **Redis down.** Any failure of a Redis call switches to a local `TokenBucket` at
  ``fallback_share`` of the rate (a quarter by default, so four processes falling back together
  stay near the limit): a connection error, an error reply (``READONLY`` after a failover,
  ``OOM``, ``MISCONF``, ``NOPERM``, a bad db index: a Redis that cannot book a slot is as good
  as down), or no answer within ``timeout`` (a hung or paused Redis). A WARNING is logged (at
  most one a minute, however often Redis flaps); Redis is tried again every ``retry_interval``
  seconds by a background probe that no caller waits for and, once it answers, used again with
  an INFO log. Never unlimited, never silent, never an error to the caller.
- **Timeouts.** Every call is bounded by ``timeout`` (`DEFAULT_REDIS_TIMEOUT`, 1 s), whatever the
  client's own settings: redis-py 5.x to 7.x give a client from a URL no socket timeout at all,
  so a paused Redis would hang every caller. A client built here from a URL also gets that
  socket and connect timeout (a ``?socket_timeout=`` in the URL wins).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import math
import random
from collections import deque
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeVar, cast

import anyio
import msgspec

from sentdm_async._ratelimit.budget import DEFAULT_RATE_PER_MINUTE, PROBE_WAIT, TokenBucket
from sentdm_async.errors import SentError
from sentdm_async.webhooks import TargetUnavailableError, WebhookError, parse

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from redis.asyncio import Redis

    from sentdm_async._watch.watcher import Watcher
    from sentdm_async.webhooks import WebhookEvent

__all__ = ["RedisRateBudget", "WebhookRelay"]

logger = logging.getLogger("sentdm_async.redis")

#: Seconds between attempts to reach Redis again while on the local fallback.
DEFAULT_RETRY_INTERVAL: Final = 5.0
#: Share of the rate the local fallback allows while Redis is unreachable.
DEFAULT_FALLBACK_SHARE: Final = 0.25
#: Seconds one Redis call may take before Redis counts as down (also the socket timeouts of a
#: client made from a URL).
DEFAULT_REDIS_TIMEOUT: Final = 1.0
#: Webhook events a relay keeps in memory while Redis is down (beyond them: 503).
DEFAULT_SPOOL: Final = 10_000
#: Longest wait (seconds) between two attempts of a relay to reach Redis again.
DEFAULT_RECONNECT_MAX: Final = 5.0
#: ``Retry-After`` (seconds) a receiver answers while the relay's spool is full.
SPOOL_FULL_RETRY_AFTER: Final = 30.0
_RECONNECT_FIRST: Final = 0.05
_FLUSH_BATCH: Final = 256
#: Longest pause accepted (seconds), like `TokenBucket`.
_MAX_PAUSE: Final = 86_400.0
#: Least seconds between two WARNING lines about Redis going away (a flapping Redis).
_WARN_EVERY: Final = 60.0

#: Share of the server's advertised ``X-RateLimit-Limit`` the shared schedule runs at. A request
#: never leaves before its slot on Redis's clock, so only late requests bunch up, and the burst's
#: reserve (`BURST_RESERVE`) absorbs them; 1% is left for clocks that run at different rates.
SHARED_HEADROOM: Final = 0.99
#: Seconds of the server's burst (as learned from ``X-RateLimit-Remaining``) never booked: its
#: bucket keeps that many seconds of tokens for requests that reach it late (a new connection, a
#: busy event loop) right before punctual ones.
BURST_RESERVE: Final = 0.5
#: Seconds between two looks at Redis while the account's first request (the probe) is out.
_PROBE_POLL: Final = 0.025
#: Seconds the server's limits, once learned, stay in Redis after the last change.
_SERVER_TTL_MS: Final = 3_600_000

_T = TypeVar("_T")

# KEYS: tat, server (a hash: interval µs and burst the server allows; probe: when it left).
# ARGV: interval µs, burst, reserve µs, adaptive (0/1), probe wait µs, mode, seconds (a pause),
# then for 'learn': the server's interval µs (0: not learned), its burst (0: not learned).
# Modes: reserve, pause, learn, probe. Returns {µs to wait (< 0: the probe's answer is awaited,
# ask again in that many µs), server interval µs, server burst (0: not known), 1 if this
# reservation is the probe (its answer is then written, headers or not)}. The tat expires
# once the schedule is idle long enough; the server hash an hour after its last change.
_SCRIPT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local mode = ARGV[6]
if mode == 'learn' then
  if tonumber(ARGV[8]) > 0 then redis.call('HSET', KEYS[2], 'interval', ARGV[8]) end
  if tonumber(ARGV[9]) > tonumber(redis.call('HGET', KEYS[2], 'burst') or '0') then
    redis.call('HSET', KEYS[2], 'burst', ARGV[9])
  end
  redis.call('HSET', KEYS[2], 'probe', '1')  -- answered, whatever the headers said
  redis.call('PEXPIRE', KEYS[2], ARGV[10])
end
local server = redis.call('HMGET', KEYS[2], 'interval', 'burst', 'probe')
local server_interval = tonumber(server[1] or '0')
local server_burst = tonumber(server[2] or '0')
local interval = tonumber(ARGV[1])
if server_interval > interval then interval = server_interval end
local tolerance = (tonumber(ARGV[2]) - 1) * interval
if server_burst > 0 then  -- never the server's whole bucket: keep the reserve in it
  local most = (server_burst - 1) * interval - tonumber(ARGV[3])
  if most < tolerance then tolerance = most end
end
if tolerance < 0 then tolerance = 0 end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local probing = 0
local function keep(value)
  local ttl = math.ceil((value - now) / 1000) + 60000
  redis.call('SET', KEYS[1], string.format('%d', value), 'PX', ttl)
end
if mode == 'reserve' then
  if ARGV[4] == '1' and server_interval == 0 and server_burst == 0 then
    -- Nothing learned yet: the first request goes alone, the others wait for its answer.
    local probe = tonumber(server[3] or '0')
    local left = probe + tonumber(ARGV[5]) - now
    if probe == 0 or probe > now then
      redis.call('HSET', KEYS[2], 'probe', string.format('%d', now))
      redis.call('PEXPIRE', KEYS[2], ARGV[10])
      probing = 1
    elseif left > 0 then
      return {-math.min(left, tonumber(ARGV[11])), 0, 0, 0}
    end
  end
  local send_at = tat - tolerance
  if send_at < now then send_at = now end
  keep(tat + interval)
  return {send_at - now, server_interval, server_burst, probing}
end
local seconds = tonumber(ARGV[7])
if seconds > 0 then
  local after = now + seconds * 1000000 + tolerance
  if after > tat then keep(after) end
elseif mode == 'probe' then
  -- A write that changes nothing (a TAT in the past counts as now), to learn whether Redis
  -- takes writes again (OOM and READONLY refuse writes only).
  keep(tat)
end
return {0, server_interval, server_burst, 0}
"""


class _News(NamedTuple):
    """What a response's headers say that the shared schedule does not know yet (0: nothing)."""

    interval_us: int
    burst: int
    pause: float


def account_tag(api_key: str) -> str:
    """The account's key prefix: a hash of the API key under one cluster hash tag."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()[:24]
    return f"{{sentdm:{digest}}}"


class RedisRateBudget:
    """A `RateBudget` shared through Redis by every process using one API key.

    Args:
        redis: A ``redis.asyncio.Redis`` client, or a URL for one (``redis://host:6379/0``).
        api_key: The account's key; only its hash is used, for the Redis keys.
        rate_per_minute: Sustained requests per minute for the whole account.
        burst: Requests that may go out at once (default: a quarter of the rate, at most 50).
        adaptive: Follow the server's ``X-RateLimit-*`` headers (never faster than the rate),
            and send the account's first request alone, the others waiting for its answer.
        fallback_share: Share of the rate the local fallback allows while Redis is down.
        retry_interval: Seconds between attempts to reach Redis again while falling back.
        timeout: Seconds one Redis call may take before Redis counts as down; also the socket
            and connect timeout of a client made here from a URL.

    Raises:
        SentError: The ``redis`` extra is not installed.
        ValueError: A rate, burst, share, interval or timeout out of range.
    """

    def __init__(
        self,
        redis: Redis | str,
        api_key: str,
        *,
        rate_per_minute: float = DEFAULT_RATE_PER_MINUTE,
        burst: int | None = None,
        adaptive: bool = True,
        fallback_share: float = DEFAULT_FALLBACK_SHARE,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        timeout: float = DEFAULT_REDIS_TIMEOUT,
    ) -> None:
        try:
            import redis.asyncio as aioredis
            from redis import exceptions as redis_errors
        except ImportError:  # pragma: no cover - the test environment has the extra
            raise SentError(
                "RedisRateBudget needs the redis extra: pip install 'sentdm-async[redis]'"
            ) from None
        if not isinstance(api_key, str) or not api_key:
            raise TypeError("api_key must be a non-empty str")
        local = TokenBucket(rate_per_minute, burst=burst)  # validates rate and burst
        if not (isinstance(fallback_share, int | float) and 0 < fallback_share <= 1):
            raise ValueError(f"fallback_share must be within (0, 1], got {fallback_share!r}")
        if not (isinstance(retry_interval, int | float) and retry_interval > 0):
            raise ValueError(f"retry_interval must be > 0, got {retry_interval!r}")
        _check_timeout(timeout)
        self._owns_redis = isinstance(redis, str)
        self._redis: Redis = (
            aioredis.from_url(redis, socket_timeout=timeout, socket_connect_timeout=timeout)
            if isinstance(redis, str)
            else redis
        )
        self._timeout = float(timeout)
        # Every RedisError: error replies (ResponseError) included, see the module docstring.
        self._errors: tuple[type[BaseException], ...] = (
            redis_errors.RedisError,
            OSError,
            TimeoutError,
        )
        self._script = self._redis.register_script(_SCRIPT)
        tag = account_tag(api_key)
        self._keys = [f"{tag}:tat", f"{tag}:server"]
        self.rate_per_minute = float(rate_per_minute)
        self.burst = local.burst
        self._interval_us = 60e6 / rate_per_minute
        self._args = [
            f"{self._interval_us:.0f}",
            str(local.burst),
            f"{BURST_RESERVE * 1e6:.0f}",
            "1" if adaptive else "0",
            f"{PROBE_WAIT * 1e6:.0f}",
        ]
        self._adaptive = adaptive
        # The server's interval (µs) and burst as the shared schedule last said (0: not known):
        # `observe` writes to Redis only what differs from them.
        self._server = (0, 0)
        self._probing = False  # this process sent the account's first request: say it came back
        self._pending: _News | None = None  # news for Redis not written yet
        self._writer: asyncio.Task[None] | None = None  # writes it, off the responses' path
        self._paused_until = -math.inf  # the longest pause this process asked for (anyio clock)
        self._share = fallback_share
        self._fallback = TokenBucket(rate_per_minute * fallback_share, burst=1)
        self._retry_interval = retry_interval
        self._down_until = -math.inf  # while Redis is considered down (anyio clock)
        self._probe: asyncio.Task[None] | None = None  # trying Redis again, off the callers' path
        self._warned_at = -math.inf  # when the last WARNING was logged
        self._loud = False  # whether this outage was logged at WARNING (then its end at INFO)
        #: Whether the last operation used the local fallback (Redis unreachable).
        self.falling_back = False

    def __repr__(self) -> str:
        mode = "fallback" if self.falling_back else "redis"
        return f"RedisRateBudget({self.rate_per_minute:g}/min, burst={self.burst}, {mode})"

    @property
    def adaptive(self) -> bool:
        """Whether `observe` uses the server's headers."""
        return self._adaptive

    @property
    def keys(self) -> list[str]:
        """The Redis keys this budget uses (all under the account's hash tag)."""
        return list(self._keys)

    async def _run(self, mode: str, seconds: float = 0.0, news: _News | None = None) -> int | None:
        """Run the script; the µs it returns, or ``None`` when Redis is down (the fallback)."""
        learned = [str(news.interval_us), str(news.burst)] if news is not None else ["0", "0"]
        args = [*self._args, mode, f"{seconds:.6f}", *learned]
        args += [str(_SERVER_TTL_MS), f"{_PROBE_POLL * 1e6:.0f}"]
        result = await self._call(lambda: self._script(keys=self._keys, args=args))
        if result is None:
            return None
        wait, interval, burst, probing = (int(value) for value in result)
        self._server = (interval, burst)
        self._probing = self._probing or probing == 1
        return wait

    async def _call(self, command: Callable[[], Awaitable[_T]]) -> _T | None:
        """Run one Redis command within ``timeout``; ``None`` when Redis is down or failed.

        While falling back, no caller waits for Redis: once ``retry_interval`` has passed, a
        background probe (one write, within ``timeout``) tries it, and the callers keep to the
        local budget until it answers. A probe in the callers' path would stall them for
        ``timeout`` every ``retry_interval`` while Redis hangs: slower than the fallback share.
        """
        if self.falling_back:
            if anyio.current_time() >= self._down_until and (
                self._probe is None or self._probe.done()
            ):
                self._probe = asyncio.get_running_loop().create_task(self._try_again())
            return None
        try:
            with anyio.fail_after(self._timeout):
                return await command()
        except self._errors as exc:
            self._went_down(exc)
            return None

    async def _try_again(self) -> None:
        args = [*self._args, "probe", "0", "0", "0", str(_SERVER_TTL_MS), "0"]
        try:
            with anyio.fail_after(self._timeout):
                await self._script(keys=self._keys, args=args)
        except self._errors:
            self._down_until = anyio.current_time() + self._retry_interval
            return
        self.falling_back = False
        level = logging.INFO if self._loud else logging.DEBUG
        logger.log(level, "Redis answers again: back to the shared budget")

    def _went_down(self, exc: BaseException) -> None:
        now = anyio.current_time()
        self._down_until = now + self._retry_interval
        if self.falling_back:
            return
        self.falling_back = True
        # One WARNING a minute at most: a Redis flapping every retry_interval stays readable.
        self._loud = now - self._warned_at >= _WARN_EVERY
        if self._loud:
            self._warned_at = now
        reason = str(exc)[:200] or f"no answer within {self._timeout:g} s"
        logger.log(
            logging.WARNING if self._loud else logging.DEBUG,
            "Redis unusable (%s: %s): using a local budget at %g requests/min, trying Redis "
            "again every %g s",
            type(exc).__name__,
            reason,
            self._fallback.rate_per_minute,
            self._retry_interval,
        )

    async def reserve(self) -> float:
        """Book the next slot and return the seconds to wait for it (0 on the fallback).

        `acquire` is ``reserve`` then a sleep; tests and tools can read the schedule here.
        On the fallback the local bucket's own wait has already happened. While the account's
        first request is out (adaptive budgets, nothing learned yet), it waits for its answer
        (at most `PROBE_WAIT` seconds) before booking.
        """
        while True:
            wait_us = await self._run("reserve")
            if wait_us is None:
                await self._fallback.acquire()
                return 0.0
            if wait_us >= 0:
                return wait_us / 1e6
            await anyio.sleep(-wait_us / 1e6)

    async def acquire(self) -> None:
        """Wait for this process's next slot on the account's shared schedule."""
        wait = await self.reserve()
        if wait > 0:
            await anyio.sleep(wait)

    async def observe(
        self, *, limit: int | None, remaining: int | None, reset_after: float | None
    ) -> None:
        """Share what the server's headers say with every process (when ``adaptive``).

        Never waits for Redis, so a response is never held open for it: news is written by a
        background task (`sync` waits for it). Only news costs a Redis call: a ``Limit`` other
        than the shared one, a ``Remaining`` above the largest seen (the server's burst), or a
        ``Remaining`` of 0 (a pause until ``reset_after``).
        """
        if not self._adaptive:
            return
        interval_us = round(60e6 / (limit * SHARED_HEADROOM)) if limit else 0
        if interval_us:
            self._follow(interval_us)
        news = self._news(interval_us, remaining, reset_after)
        if news is None and self._probing:
            news = _News(0, 0, 0.0)  # no headers at all: the others need not wait any longer
        self._probing = False
        if news is not None:
            self._send(news)

    def _follow(self, server_us: int) -> None:
        """Give the local fallback the server's rate (it applies while Redis is down)."""
        per_minute = 60e6 / max(server_us, self._interval_us) * self._share
        if per_minute != self._fallback.rate_per_minute:
            self._fallback = TokenBucket(per_minute, burst=1)

    def _news(
        self, interval_us: int, remaining: int | None, reset_after: float | None
    ) -> _News | None:
        known_interval, known_burst = self._server
        interval_us = interval_us if interval_us != known_interval else 0
        burst = remaining + 1 if remaining is not None and remaining >= known_burst else 0
        pause = 0.0
        if remaining == 0 and reset_after:
            pause = min(reset_after, _MAX_PAUSE)
            until = anyio.current_time() + pause
            if until > self._paused_until:
                self._paused_until = until
            else:
                pause = 0.0  # within a pause already asked for
        if interval_us or burst or pause:
            return _News(interval_us, burst, pause)
        return None

    def _send(self, news: _News) -> None:
        """Queue ``news`` for the writer (merged with what is queued), start it if idle."""
        pending = self._pending
        if pending is not None:
            news = _News(
                news.interval_us or pending.interval_us,
                max(news.burst, pending.burst),
                max(news.pause, pending.pause),
            )
        self._pending = news
        # Counted as known now, so the responses that follow do not queue it again.
        self._server = (news.interval_us or self._server[0], max(news.burst, self._server[1]))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        while self._pending is not None:
            news, self._pending = self._pending, None
            if await self._run("learn", news.pause, news) is None and news.pause:
                await self._fallback.pause(news.pause)

    async def sync(self) -> None:
        """Wait until what `observe` learned is in Redis (or Redis was found down)."""
        writer = self._writer
        if writer is not None:
            await asyncio.shield(writer)

    async def pause(self, seconds: float) -> None:
        """Hold every process of the account for ``seconds`` (a 429); only ever extends."""
        if not seconds > 0:
            return
        seconds = min(seconds, _MAX_PAUSE)
        if await self._run("pause", seconds) is None:
            await self._fallback.pause(seconds)

    async def aclose(self) -> None:
        """Write what `observe` learned, stop a probe of Redis; close a client made here."""
        writer, self._writer = self._writer, None
        if writer is not None:
            await writer  # bounded: each Redis call by ``timeout``
        probe, self._probe = self._probe, None
        if probe is not None:
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
        if self._owns_redis:
            await self._redis.aclose()


class WebhookRelay:
    """Verified webhook events shared by every process through one Redis stream.

    A receiver in any process publishes (give the relay as the receiver's target, or call
    `publish`); every process that watches messages runs `feed` for its watcher, which reads
    the stream and pushes each event (the watcher ignores messages it does not watch, and steps
    it already yielded). The stream is trimmed to about ``maxlen`` events; a consumer restarted
    with the `last_id` it had reached gets what it missed within that window.

    **Redis down.** Answering a delivery with an error while Redis is away would have the sender
    retry it a few times, then count it as failed, and 10 failed events in a row disable the
    endpoint: no push at all afterwards, even once Redis is back. So `publish` keeps the event
    in a bounded local spool instead (in memory, in arrival order) and the receiver answers
    2xx; a background flush writes the spool to the stream as soon as Redis answers, before any
    newer event (later events join the spool while it is not empty). Only beyond ``spool``
    events does `publish` raise `TargetUnavailableError`, which the receivers answer with 503
    and ``Retry-After``: the sender keeps the event and retries. What this costs: spooled events
    live in this process's memory, so a crash of the receiving process during an outage loses
    them; a flush cut off by a connection loss may write a batch twice (the watcher drops a
    step it already yielded). One WARNING when spooling starts, one INFO when the spool is
    written out. "Down" is any Redis failure, an error reply (``OOM``, ``READONLY``) included,
    or no answer within ``timeout``.

    `feed` survives outages too: on any Redis failure it logs one WARNING, retries with capped,
    jittered backoff (up to ``reconnect_max`` seconds between attempts) and resumes from the
    last id it handed over, so nothing that stays in the stream is lost; one INFO line when it
    reads again. A Redis restarted without persistence comes back with an empty stream: events
    that were in the stream but not yet read are gone with it (events still spooled by a
    receiver are not: they are written to the new stream and read from there).

    Args:
        redis: A ``redis.asyncio.Redis`` client, or a URL for one.
        api_key: The account's key (only its hash names the stream).
        maxlen: Events kept in the stream (approximately, unless ``exact_trim``).
        exact_trim: Trim to exactly ``maxlen`` (slower; approximate trimming is Redis's cheap
            default, keeping up to one macro node more).
        spool: Most events kept in memory while Redis is down (0: none, every delivery is
            answered 503 while Redis is down).
        timeout: Seconds a write may take before Redis counts as down; a read may take ``block``
            more. A client made here from a URL gets it as its connect timeout; its socket
            timeout is left unset, since the relay bounds every call itself (a blocking read
            would trip a socket timeout shorter than ``block``).
        reconnect_max: Longest wait, in seconds, between two attempts to reach Redis again.
    """

    def __init__(
        self,
        redis: Redis | str,
        api_key: str,
        *,
        maxlen: int = 100_000,
        exact_trim: bool = False,
        spool: int = DEFAULT_SPOOL,
        timeout: float = DEFAULT_REDIS_TIMEOUT,
        reconnect_max: float = DEFAULT_RECONNECT_MAX,
    ) -> None:
        import redis.asyncio as aioredis
        from redis import exceptions as redis_errors

        if not isinstance(maxlen, int) or maxlen < 1:
            raise ValueError(f"maxlen must be an int >= 1, got {maxlen!r}")
        if not isinstance(spool, int) or spool < 0:
            raise ValueError(f"spool must be an int >= 0, got {spool!r}")
        _check_timeout(timeout)
        if not (isinstance(reconnect_max, int | float) and 0 < reconnect_max < math.inf):
            raise ValueError(
                f"reconnect_max must be a number of seconds > 0, got {reconnect_max!r}"
            )
        self._owns_redis = isinstance(redis, str)
        self._redis: Redis = (
            aioredis.from_url(redis, socket_connect_timeout=timeout, socket_timeout=None)
            if isinstance(redis, str)
            else redis
        )
        self._errors: tuple[type[BaseException], ...] = (
            redis_errors.RedisError,
            OSError,
            TimeoutError,
        )
        self.stream = f"{account_tag(api_key)}:webhooks"
        self._maxlen = maxlen
        self._approximate = not exact_trim
        self._timeout = float(timeout)
        self._reconnect_max = float(reconnect_max)
        self._spool: deque[bytes] = deque()
        self._spool_max = spool
        self._flusher: asyncio.Task[None] | None = None
        self._full_warned_at = -math.inf
        #: The id of the last stream entry `feed` handed over ("$" before the first).
        self.last_id = "$"

    @property
    def spooled(self) -> int:
        """Events kept in memory, waiting for Redis to answer again."""
        return len(self._spool)

    async def publish(self, event: WebhookEvent) -> str | None:
        """Append a verified event to the stream; return its stream id, ``None`` if spooled.

        Raises:
            TargetUnavailableError: Redis is down and the spool is full (receivers answer 503).
        """
        data = msgspec.json.encode(event)
        if not self._spool:  # else behind the spooled events, to keep their order
            try:
                with anyio.fail_after(self._timeout):
                    return _text(await self._xadd(self._redis, data))
            except self._errors as exc:
                if self._spool_max:
                    logger.warning(
                        "Redis unusable (%s: %s): keeping webhook events in memory (up to %d) "
                        "until it answers",
                        type(exc).__name__,
                        str(exc)[:200] or f"no answer within {self._timeout:g} s",
                        self._spool_max,
                    )
        self._keep(data)
        return None

    async def push(self, event: WebhookEvent) -> None:
        """The receivers' hand-over: `publish` (2xx once in Redis or in the spool)."""
        await self.publish(event)

    def _xadd(self, client: Any, data: bytes) -> Awaitable[Any]:
        return cast(
            "Awaitable[Any]",
            client.xadd(
                self.stream, {"event": data}, maxlen=self._maxlen, approximate=self._approximate
            ),
        )

    def _keep(self, data: bytes) -> None:
        if len(self._spool) >= self._spool_max:
            now = anyio.current_time()
            if now - self._full_warned_at >= _WARN_EVERY:
                self._full_warned_at = now
                logger.warning(
                    "Redis unusable and %d webhook events kept in memory: answering 503 "
                    "(Retry-After %g s) until it answers",
                    len(self._spool),
                    SPOOL_FULL_RETRY_AFTER,
                )
            raise TargetUnavailableError(
                f"Redis is unusable and the relay's spool is full ({len(self._spool)} events)",
                retry_after=SPOOL_FULL_RETRY_AFTER,
            )
        self._spool.append(data)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_until_empty())

    async def _flush_until_empty(self) -> None:
        backoff = _Backoff(self._reconnect_max)
        written = 0
        while self._spool:
            try:
                written += await self._write_batch()
            except self._errors:
                await backoff.sleep()
        logger.info("Redis answers again: %d spooled webhook events written to the stream", written)

    async def _write_batch(self) -> int:
        """Write the oldest spooled events in one transaction; drop them once written."""
        batch = list(itertools.islice(self._spool, _FLUSH_BATCH))
        with anyio.fail_after(self._timeout):
            async with self._redis.pipeline(transaction=True) as pipe:
                for data in batch:
                    self._xadd(pipe, data)
                await pipe.execute()
        for _ in batch:
            self._spool.popleft()
        return len(batch)

    async def feed(
        self,
        watcher: Watcher,
        *,
        start: str | None = None,
        block: float = 1.0,
        count: int = 256,
    ) -> None:
        """Push every event of the stream into ``watcher`` until cancelled, through outages.

        Args:
            watcher: The watcher to push into (`Watcher.push`).
            start: Stream id to read after: ``"$"`` (only new events, the default on a first
                start), a saved `last_id` (resume after a restart), or ``"0"`` (all kept).
            block: Seconds one read waits for new events.
            count: Most events per read.
        """
        last = start if start is not None else self.last_id
        backoff = _Backoff(self._reconnect_max)
        outage = False
        while True:
            try:
                with anyio.fail_after(block + self._timeout):
                    if last == "$":  # "now", pinned to an id: nothing published between reads
                        last = self.last_id = await self._newest()  # is missed
                    answer = await self._read(last, block, count)
            except self._errors as exc:
                if not outage:
                    outage = True
                    logger.warning(
                        "relay feed: Redis unusable (%s: %s); reconnecting, to resume after %s",
                        type(exc).__name__,
                        str(exc)[:200] or "no answer",
                        last,
                    )
                await backoff.sleep()
                continue
            if outage:
                outage = False
                backoff = _Backoff(self._reconnect_max)
                logger.info("relay feed: Redis answers again, resuming after %s", last)
            last = self._hand_over(answer, watcher, last)

    async def _newest(self) -> str:
        newest = await self._redis.xrevrange(self.stream, count=1)
        return _text(newest[0][0]) if newest else "0-0"

    async def _read(
        self, last: str, block: float, count: int
    ) -> list[tuple[Any, list[tuple[Any, dict[Any, Any]]]]]:
        answer = await self._redis.xread(
            {self.stream: last}, count=count, block=max(1, int(block * 1000))
        )
        return cast("list[tuple[Any, list[tuple[Any, dict[Any, Any]]]]]", answer or [])

    def _hand_over(
        self,
        answer: list[tuple[Any, list[tuple[Any, dict[Any, Any]]]]],
        watcher: Watcher,
        last: str,
    ) -> str:
        for _, entries in answer:
            for entry_id, fields in entries:
                last = self.last_id = _text(entry_id)
                raw = fields.get(b"event", fields.get("event"))
                if raw is None:
                    continue
                try:
                    event = _relayed(raw)
                except WebhookError:
                    logger.warning("skipped an unreadable relayed event %s", last)
                    continue
                watcher.push(event)
        return last

    async def aclose(self) -> None:
        """Write out the spool if Redis answers (else log what is lost); close an own client."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        with contextlib.suppress(*self._errors):
            while self._spool:
                await self._write_batch()
        if self._spool:
            logger.warning(
                "relay closed with %d webhook events not written (Redis unusable): they are lost",
                len(self._spool),
            )
            self._spool.clear()
        if self._owns_redis:
            await self._redis.aclose()


class _Backoff:
    """Capped, jittered waits between attempts to reach Redis again: 50 ms, doubling, to a cap."""

    def __init__(self, cap: float) -> None:
        self._cap = cap
        self._ceiling = min(_RECONNECT_FIRST, cap)

    async def sleep(self) -> None:
        # Jitter (half to all of the ceiling) spreads many processes reconnecting at once.
        await anyio.sleep(random.uniform(self._ceiling / 2, self._ceiling))  # noqa: S311
        self._ceiling = min(self._ceiling * 2, self._cap)


def _check_timeout(timeout: object) -> None:
    if not (isinstance(timeout, int | float) and 0 < timeout < math.inf):
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _relayed(raw: bytes | str) -> WebhookEvent:
    """Decode an event `WebhookRelay.publish` wrote (its ``event_id`` and ``webhook_id`` kept)."""
    data = raw.encode() if isinstance(raw, str) else raw
    event = parse(data)
    try:
        ids = msgspec.json.decode(data, type=_EventIds)
    except msgspec.DecodeError:
        ids = _EventIds()
    return msgspec.structs.replace(event, event_id=ids.event_id, webhook_id=ids.webhook_id)


class _EventIds(msgspec.Struct):
    event_id: str | None = None
    webhook_id: str | None = None
