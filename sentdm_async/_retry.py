"""Which failures are retried, how long to wait, and how to read the server's wait hints.

Pure functions, no I/O: the transport asks them and does the sleeping. The numbers here are the
public defaults; keep them in sync with README §Retries and rate limits.
"""

from __future__ import annotations

import email.utils
import random
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

#: Statuses retried whatever the body says (keep in sync with README §Retries and rate limits).
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
