"""Which failures are retried, how long to wait, and how to read the server's wait hints.

`decide` is the one policy the transport's retry loop asks after every failed attempt: whether
to try again, how long to sleep first, and how long to pause the whole client's budget (a 429).
Everything here is a pure function except `sleep`, the one place a retry waits, which tests (and
users' tests) switch off with `sentdm_async.testing.no_retry_waits`, as stamina's
``set_testing`` does. The numbers are the public defaults; a test compares them with the README.
"""

from __future__ import annotations

import contextlib
import email.utils
import random
import time
from typing import TYPE_CHECKING, NamedTuple

import anyio
from anyio.lowlevel import checkpoint

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

#: Statuses retried whatever the body says.
RETRY_STATUSES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})


#: A 409 is retried only for this code: the same Idempotency-Key is still in flight.
RETRY_CONFLICT_CODE = "CONFLICT_001"


#: First backoff ceiling and the cap, in seconds (full jitter draws uniformly below the ceiling).
BACKOFF_INITIAL = 0.5


BACKOFF_MAX = 8.0


def should_retry(status: int, code: str | None, should_retry_header: str | None) -> bool:
    """Decide whether a response with this status is worth another attempt.

    Args:
        status: HTTP status of the response.
        code: The API's error code from the body, if it could be read.
        should_retry_header: Value of ``x-should-retry``, if present; ``true`` forces a retry and
            ``false`` forbids one, whatever the status.

    Returns:
        Whether to retry (the attempt budget is the caller's business).
    """
    if should_retry_header is not None:
        flag = should_retry_header.strip().lower()
        if flag == "true":
            return True
        if flag == "false":
            return False
    if status in RETRY_STATUSES:
        return True
    return status == 409 and code == RETRY_CONFLICT_CODE


class Decision(NamedTuple):
    """What the retry loop does after a failed attempt."""

    retry: bool
    #: Seconds to sleep before the next attempt (0 when a budget pause already holds us).
    delay: float
    #: Seconds every caller of the client must wait (a 429 with a budget); 0 for none.
    pause: float


def decide(
    *,
    status: int | None,
    code: str | None = None,
    retry_after: float | None = None,
    should_retry_header: str | None = None,
    retries_taken: int,
    max_retries: int,
    max_retry_after: float,
    has_budget: bool,
    rand: Callable[[], float] = random.random,
) -> Decision:
    """Decide what follows a failed attempt; the single owner of every retry rule.

    Args:
        status: The HTTP status, or ``None`` when no response arrived (connection error or
            attempt timeout).
        code: The API's error code from the body, if read.
        retry_after: Seconds the server asked us to wait (`parse_retry_after`), if it said.
        should_retry_header: Value of ``x-should-retry``, if present.
        retries_taken: Retries already made for this call.
        max_retries: The most retries allowed.
        max_retry_after: A longer ``Retry-After`` is not slept through: no retry.
        has_budget: The client has a rate budget, which a 429 pauses for every caller.
        rand: Source of uniform floats in [0, 1) for the backoff jitter.
    """
    if status is None:
        return Decision(retries_taken < max_retries, backoff_delay(retries_taken, rand), 0.0)
    wait = retry_after if retry_after is not None else backoff_delay(retries_taken, rand)
    # Hold every caller, not just this one; capped so one absurd Retry-After cannot freeze the
    # client for longer than we would ever sleep.
    pause = min(wait, max_retry_after) if status == 429 and has_budget else 0.0
    retry = (
        retries_taken < max_retries
        and (retry_after is None or retry_after <= max_retry_after)
        and should_retry(status, code, should_retry_header)
    )
    # While the budget is paused every caller, this one included, waits for the pause;
    # sleeping as well would wait twice.
    return Decision(retry, 0.0 if pause else wait, pause)


_recorders: list[list[float]] = []


async def sleep(seconds: float) -> None:
    """Wait before a retry, unless `no_retry_waits` is active (then only record the wait)."""
    if _recorders:
        _recorders[-1].append(seconds)
        await checkpoint()
    else:
        await anyio.sleep(seconds)


@contextlib.contextmanager
def no_retry_waits() -> Iterator[list[float]]:
    """Skip the waits between retries (process-wide) and record them in the yielded list.

    Budget waits and server-requested pauses are not affected: they are what the rate limit
    is made of. Public as `sentdm_async.testing.no_retry_waits`.
    """
    waits: list[float] = []
    _recorders.append(waits)
    try:
        yield waits
    finally:
        _recorders.remove(waits)


def backoff_delay(retries_taken: int, rand: Callable[[], float] = random.random) -> float:
    """Return the wait before the next attempt: full jitter below ``min(8, 0.5 * 2**n)`` seconds.

    Full jitter (rather than the official SDK's 0.75-1.0 factor) spreads a crowd of clients that
    failed together across the whole interval, which is what matters when they share one budget.

    Args:
        retries_taken: How many retries were already made (0 before the first retry).
        rand: Source of uniform floats in [0, 1); injectable for tests.
    """
    ceiling = min(BACKOFF_MAX, BACKOFF_INITIAL * 2.0 ** min(max(0, retries_taken), 16))
    return rand() * ceiling


def parse_retry_after(
    headers: Mapping[str, str], now: Callable[[], float] = time.time
) -> float | None:
    """Read how long the server asked us to wait, in seconds.

    ``retry-after-ms`` (milliseconds) wins over ``Retry-After``, which may be seconds or an HTTP
    date. Negative or unparsable values are ignored (``None``); a date in the past gives ``0``.

    Args:
        headers: Response headers (case-insensitive mapping).
        now: Current Unix time, for HTTP dates; injectable for tests.
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            ms = float(raw_ms)
        except ValueError:
            ms = -1.0
        if 0 <= ms < float("inf"):
            return ms / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive parse means "GMT" was implied
            return None
        return max(0.0, when.timestamp() - now())
    if 0 <= seconds < float("inf"):
        return seconds
    return None


def parse_rate_limit(
    headers: Mapping[str, str], now: Callable[[], float] = time.time
) -> tuple[int | None, int | None, float | None]:
    """Read ``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset`` (Unix seconds).

    Returns:
        ``(limit, remaining, reset_after)`` where ``reset_after`` is seconds from now (never
        negative); each is ``None`` when absent or unparsable.
    """
    return (
        _int_header(headers.get("x-ratelimit-limit")),
        _int_header(headers.get("x-ratelimit-remaining")),
        _reset_after(headers.get("x-ratelimit-reset"), now),
    )


def _int_header(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


def _reset_after(raw: str | None, now: Callable[[], float]) -> float | None:
    if raw is None:
        return None
    try:
        reset = float(raw)
    except ValueError:
        return None
    if not reset < float("inf"):
        return None
    return max(0.0, reset - now())
