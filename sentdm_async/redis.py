"""What many processes share through Redis: one request budget, and the webhooks, per account.

`RedisRateBudget` is a `RateBudget` for ``AsyncSent(rate_limit=...)`` that every process using
the same API key shares (install the ``redis`` extra: redis-py's asyncio client)::

    from sentdm_async import AsyncSent
    from sentdm_async.redis import RedisRateBudget

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
- **Adaptation.** ``X-RateLimit-Limit`` seen by any process sets a shared server interval (at 95%
  of the limit); the script always uses the slower of that and the configured rate. A
  ``Remaining`` of 0 pauses until ``reset_after``.
- **Keys** are per account: a hash of the API key (never the key) under one hash tag,
  ``{sentdm:<hash>}:...``, so they live in one slot of a Redis cluster.
- **Redis down.** A connection error or timeout switches to a local `TokenBucket` at
  ``fallback_share`` of the rate (a quarter by default, so four processes falling back together
  stay near the limit), with a WARNING log; Redis is tried again every ``retry_interval``
  seconds and, once it answers, used again with an INFO log. Never unlimited, never silent.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
from typing import TYPE_CHECKING, Any, Final, cast

import anyio
import msgspec

from ._budget import AUTO_HEADROOM, DEFAULT_RATE_PER_MINUTE, TokenBucket
from .errors import SentError
from .webhooks import WebhookError, parse

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ._watch import Watcher
    from .webhooks import WebhookEvent

__all__ = ["RedisRateBudget", "WebhookRelay"]

logger = logging.getLogger("sentdm_async.redis")

#: Seconds between attempts to reach Redis again while on the local fallback.
DEFAULT_RETRY_INTERVAL: Final = 5.0
#: Share of the rate the local fallback allows while Redis is unreachable.
DEFAULT_FALLBACK_SHARE: Final = 0.25
#: Longest pause accepted (seconds), like `TokenBucket`.
_MAX_PAUSE: Final = 86_400.0

# KEYS: tat, server interval. ARGV: interval µs, tolerance µs, mode, seconds (pause).
# Returns the µs to wait (reserve), or 0. Keys expire once the schedule is idle long enough.
_SCRIPT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local server = tonumber(redis.call('GET', KEYS[2]) or '0')
if server > interval then
  tolerance = tolerance * server / interval
  interval = server
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if ARGV[3] == 'reserve' then
  local send_at = tat - tolerance
  if send_at < now then send_at = now end
  tat = tat + interval
  local ttl = math.ceil((tat - now) / 1000) + 60000
  redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', ttl)
  return send_at - now
end
if ARGV[3] == 'pause' then
  local after = now + tonumber(ARGV[4]) * 1000000 + tolerance
  if after > tat then
    local ttl = math.ceil((after - now) / 1000) + 60000
    redis.call('SET', KEYS[1], string.format('%d', after), 'PX', ttl)
  end
  return 0
end
return 0
"""


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
        adaptive: Follow the server's ``X-RateLimit-*`` headers (never faster than the rate).
        fallback_share: Share of the rate the local fallback allows while Redis is down.
        retry_interval: Seconds between attempts to reach Redis again while falling back.

    Raises:
        SentError: The ``redis`` extra is not installed.
        ValueError: A rate, burst or share out of range.
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
        self._owns_redis = isinstance(redis, str)
        self._redis: Redis = aioredis.from_url(redis) if isinstance(redis, str) else redis
        self._errors: tuple[type[BaseException], ...] = (
            redis_errors.ConnectionError,
            redis_errors.TimeoutError,
            OSError,
        )
        self._script = self._redis.register_script(_SCRIPT)
        tag = account_tag(api_key)
        self._keys = [f"{tag}:tat", f"{tag}:server_interval"]
        self.rate_per_minute = float(rate_per_minute)
        self.burst = local.burst
        self._interval_us = 60e6 / rate_per_minute
        self._tolerance_us = (local.burst - 1) * self._interval_us
        self._adaptive = adaptive
        self._share = fallback_share
        self._fallback = TokenBucket(rate_per_minute * fallback_share, burst=1)
        self._retry_interval = retry_interval
        self._down_until = -math.inf  # while Redis is considered down (anyio clock)
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

    async def _run(self, mode: str, seconds: float = 0.0) -> int | None:
        """Run the script; ``None`` when Redis is unreachable (the fallback applies)."""
        now = anyio.current_time()
        if now < self._down_until:
            return None
        args = [f"{self._interval_us:.0f}", f"{self._tolerance_us:.0f}", mode, f"{seconds:.6f}"]
        try:
            result = await self._script(keys=self._keys, args=args)
        except self._errors as exc:
            self._down_until = anyio.current_time() + self._retry_interval
            if not self.falling_back:
                self.falling_back = True
                logger.warning(
                    "Redis unreachable (%s): using a local budget at %g requests/min until it "
                    "answers again",
                    type(exc).__name__,
                    self._fallback.rate_per_minute,
                )
            return None
        if self.falling_back:
            self.falling_back = False
            logger.info("Redis answers again: back to the shared budget")
        return int(result)

    async def reserve(self) -> float:
        """Book the next slot and return the seconds to wait for it (0 on the fallback).

        `acquire` is ``reserve`` then a sleep; tests and tools can read the schedule here.
        On the fallback the local bucket's own wait has already happened.
        """
        wait_us = await self._run("reserve")
        if wait_us is None:
            await self._fallback.acquire()
            return 0.0
        return wait_us / 1e6

    async def acquire(self) -> None:
        """Wait for this process's next slot on the account's shared schedule."""
        wait = await self.reserve()
        if wait > 0:
            await anyio.sleep(wait)

    async def observe(
        self, *, limit: int | None, remaining: int | None, reset_after: float | None
    ) -> None:
        """Share what the server's headers say with every process (when ``adaptive``)."""
        if not self._adaptive:
            return
        if limit:
            server_us = 60e6 / (limit * AUTO_HEADROOM)
            await self._set_server_interval(server_us)
        if remaining == 0 and reset_after:
            await self.pause(reset_after)

    async def _set_server_interval(self, server_us: float) -> None:
        # If Redis is down, the fallback below still learns the server's rate.
        with contextlib.suppress(*self._errors):
            await self._redis.set(self._keys[1], f"{server_us:.0f}", ex=3600)
        per_minute = 60e6 / max(server_us, self._interval_us) * self._share
        if per_minute != self._fallback.rate_per_minute:
            self._fallback = TokenBucket(per_minute, burst=1)

    async def pause(self, seconds: float) -> None:
        """Hold every process of the account for ``seconds`` (a 429); only ever extends."""
        if not seconds > 0:
            return
        seconds = min(seconds, _MAX_PAUSE)
        if await self._run("pause", seconds) is None:
            await self._fallback.pause(seconds)

    async def aclose(self) -> None:
        """Close the Redis client if this budget created it from a URL (yours stays open)."""
        if self._owns_redis:
            await self._redis.aclose()


class WebhookRelay:
    """Verified webhook events shared by every process through one Redis stream.

    A receiver in any process publishes (give the relay as the receiver's target, or call
    `publish`); every process that watches messages runs `feed` for its watcher, which reads
    the stream and pushes each event (the watcher ignores messages it does not watch, and steps
    it already yielded). The stream is trimmed to about ``maxlen`` events; a consumer restarted
    with the `last_id` it had reached gets what it missed within that window.

    Args:
        redis: A ``redis.asyncio.Redis`` client, or a URL for one.
        api_key: The account's key (only its hash names the stream).
        maxlen: Events kept in the stream (approximately, unless ``exact_trim``).
        exact_trim: Trim to exactly ``maxlen`` (slower; approximate trimming is Redis's cheap
            default, keeping up to one macro node more).
    """

    def __init__(
        self,
        redis: Redis | str,
        api_key: str,
        *,
        maxlen: int = 100_000,
        exact_trim: bool = False,
    ) -> None:
        import redis.asyncio as aioredis

        if not isinstance(maxlen, int) or maxlen < 1:
            raise ValueError(f"maxlen must be an int >= 1, got {maxlen!r}")
        self._owns_redis = isinstance(redis, str)
        self._redis: Redis = aioredis.from_url(redis) if isinstance(redis, str) else redis
        self.stream = f"{account_tag(api_key)}:webhooks"
        self._maxlen = maxlen
        self._approximate = not exact_trim
        #: The id of the last stream entry `feed` handed over ("$" before the first).
        self.last_id = "$"

    async def publish(self, event: WebhookEvent) -> str:
        """Append a verified event to the stream; return its stream id."""
        entry_id = await self._redis.xadd(
            self.stream,
            {"event": msgspec.json.encode(event)},
            maxlen=self._maxlen,
            approximate=self._approximate,
        )
        return _text(entry_id)

    async def push(self, event: WebhookEvent) -> None:
        """The receivers' hand-over: `publish` (the delivery is acknowledged once in Redis)."""
        await self.publish(event)

    async def feed(
        self,
        watcher: Watcher,
        *,
        start: str | None = None,
        block: float = 1.0,
        count: int = 256,
    ) -> None:
        """Push every event of the stream into ``watcher`` until cancelled.

        Args:
            watcher: The watcher to push into (`Watcher.push`).
            start: Stream id to read after: ``"$"`` (only new events, the default on a first
                start), a saved `last_id` (resume after a restart), or ``"0"`` (all kept).
            block: Seconds one read waits for new events.
            count: Most events per read.
        """
        last = start if start is not None else self.last_id
        if last == "$":  # "now", pinned to an id so nothing published between reads is missed
            newest = await self._redis.xrevrange(self.stream, count=1)
            last = _text(newest[0][0]) if newest else "0-0"
        while True:
            answer = cast(
                "list[tuple[Any, list[tuple[Any, dict[Any, Any]]]]]",
                await self._redis.xread(
                    {self.stream: last}, count=count, block=max(1, int(block * 1000))
                ),
            )
            for _, entries in answer or ():
                for entry_id, fields in entries:
                    last = _text(entry_id)
                    self.last_id = last
                    raw = fields.get(b"event", fields.get("event"))
                    if raw is None:
                        continue
                    try:
                        event = _relayed(raw)
                    except WebhookError:
                        logger.warning("skipped an unreadable relayed event %s", last)
                        continue
                    watcher.push(event)

    async def aclose(self) -> None:
        """Close the Redis client if this relay created it from a URL."""
        if self._owns_redis:
            await self._redis.aclose()


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
