"""Wire helpers of the simulator: routing, envelopes, error codes, the token bucket, stats."""

from __future__ import annotations

import math
import string
import time
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import msgspec

if TYPE_CHECKING:
    import random
    from collections.abc import Callable, Mapping

ROUTES: Final = frozenset({"activities", "status", "send", "contacts", "other"})
DEFAULT_CODES: Final = {
    400: "VALIDATION_001",
    401: "AUTH_001",
    404: "RESOURCE_003",
    408: "TIMEOUT_001",
    409: "CONFLICT_001",
    429: "BUSINESS_002",
    500: "INTERNAL_001",
    502: "INTERNAL_003",
    503: "INTERNAL_005",
    504: "INTERNAL_004",
}
MESSAGES: Final = {
    "AUTH_001": "User is not authenticated",
    "AUTH_002": "Invalid API key",
    "BUSINESS_002": "Rate limit exceeded. Please retry after the indicated delay.",
    "CONFLICT_001": "A request with this Idempotency-Key is already in progress; retry shortly",
    "INTERNAL_001": "An unexpected error occurred",
    "INTERNAL_003": "Upstream messaging provider error",
    "INTERNAL_004": "The request timed out internally",
    "INTERNAL_005": "The service is temporarily unavailable",
    "RESOURCE_000": "The requested endpoint does not exist",
    "RESOURCE_003": "Message not found",
    "TIMEOUT_001": "Request timeout",
    "VALIDATION_001": "The request is invalid",
    "VALIDATION_002": "Invalid phone number format",
    "VALIDATION_005": "A value is out of range",
    "VALIDATION_006": "A value is not one of the allowed options",
    "VALIDATION_007": "Invalid Idempotency-Key format",
}
_ALPHABET: Final = string.ascii_letters + string.digits
_encode = msgspec.json.encode


class Reply:
    """A computed answer, turned into an aiohttp response at the very end."""

    __slots__ = ("body", "content_type", "headers", "pending_key", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str],
        content_type: str = "application/json",
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers
        self.content_type = content_type
        self.pending_key: str | None = None
        """An Idempotency-Key that stays "in progress" until this reply is sent."""


class MetaFactory:
    """Make request ids and ``meta`` objects: seeded ids, wall-clock timestamps."""

    __slots__ = ("_prefix", "_rng", "_second")

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._second = -1
        self._prefix = b""

    def request_id(self) -> str:
        """Return a fresh ``req_`` + 10 alphanumerics id."""
        return "req_" + "".join(self._rng.choices(_ALPHABET, k=10))

    def meta(self, request_id: str) -> bytes:
        """Return the encoded ``meta`` object for ``request_id``, stamped now (7 digits)."""
        now = time.time()
        second = int(now)
        if second != self._second:  # strftime once per second: this runs on every request
            self._second = second
            self._prefix = (
                datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S").encode()
            )
        ticks = min(int((now - second) * 10_000_000), 9_999_999)  # 100 ns ticks, like .NET
        return b'{"request_id":"%s","timestamp":"%s.%07d+00:00","version":"v3"}' % (
            request_id.encode(),
            self._prefix,
            ticks,
        )


def ok_body(data: bytes, meta: bytes) -> bytes:
    """Return a success envelope around already-encoded ``data``."""
    return b'{"success":true,"data":%s,"error":null,"meta":%s}' % (data, meta)


def error_body(
    code: str, meta: bytes, message: str | None = None, details: Mapping[str, Any] | None = None
) -> bytes:
    """Return an error envelope with ``doc_url`` pointing at the code's docs page."""
    error = _encode(
        {
            "code": code,
            "message": message if message is not None else MESSAGES.get(code, code),
            "details": details,
            "doc_url": f"https://docs.sent.dm/errors/{code}",
        }
    )
    return b'{"success":false,"data":null,"error":%s,"meta":%s}' % (error, meta)


class TokenBucket:
    """Token bucket in real time: ``burst`` capacity, refilled at ``rate_limit`` per minute."""

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "limit", "per_second")

    def __init__(
        self, rate_limit: int, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Create a full bucket.

        Args:
            rate_limit: sustained requests per real minute (> 0).
            burst: capacity in requests (> 0).
            clock: monotonic clock in seconds (injectable for tests).
        """
        if rate_limit <= 0 or burst <= 0:
            msg = f"rate_limit and burst must be > 0, got {rate_limit} and {burst}"
            raise ValueError(msg)
        self.limit = rate_limit
        self.burst = burst
        self.per_second = rate_limit / 60.0
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def _refill(self) -> float:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.per_second)
        self._stamp = now
        return self._tokens

    def take(self) -> float:
        """Take one token; return 0.0 on success, else the seconds until one token is back."""
        tokens = self._refill()
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return 0.0
        return (1.0 - tokens) / self.per_second

    def headers(self) -> dict[str, str]:
        """Return the ``X-RateLimit-*`` headers for the bucket's current state."""
        tokens = self._refill()
        full_in = (self.burst - tokens) / self.per_second
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(math.floor(tokens)),
            "X-RateLimit-Reset": str(math.ceil(time.time() + full_in)),
        }


_OTHER: Final = ("other", None)


def match_route(method: str, path: str) -> tuple[str, str | None]:
    """Return (route name, message id or None) for a request line."""
    parts = path.rstrip("/").split("/")
    # "/v3/messages/ID/activities" splits to ["", "v3", "messages", "ID", "activities"]
    if len(parts) < 3 or parts[1] != "v3":
        return _OTHER
    if parts[2] == "messages":
        return _match_messages(method, parts[3:])
    if parts[2] == "contacts" and len(parts) == 3 and method == "GET":
        return "contacts", None
    return _OTHER


def _match_messages(method: str, rest: list[str]) -> tuple[str, str | None]:
    """Route what follows ``/v3/messages``: a send, a status or an activities read."""
    if not rest:
        return ("send", None) if method == "POST" else _OTHER
    if method != "GET" or not rest[0]:
        return _OTHER
    if len(rest) == 1:
        return "status", rest[0]
    if len(rest) == 2 and rest[1] == "activities":
        return "activities", rest[0]
    return _OTHER


class SimStats:
    """Counters of what the simulator served; plain mutable attributes.

    Attributes:
        requests: every request seen, including rejected and faulted ones.
        by_route: requests per route name (``activities``, ``status``, ``send``, ``contacts``,
            ``other``).
        by_status: responses per HTTP status; dropped connections count as status 0.
        by_message: GET requests per message id (known or not).
        rate_limited: 429 responses sent, from the limiter or injected.
        in_flight: requests whose handler is running now (including delays and latency).
        peak_in_flight: the highest ``in_flight`` seen.
        sends: messages created via ``POST /v3/messages``.
        last_request_at: ``time.monotonic()`` of the last request, None before any.
    """

    def __init__(self) -> None:
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Zero every counter except ``in_flight`` (``peak_in_flight`` restarts from it)."""
        self.requests = 0
        self.by_route: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.by_message: Counter[str] = Counter()
        self.rate_limited = 0
        self.peak_in_flight = self.in_flight
        self.sends = 0
        self.last_request_at: float | None = None

    def __repr__(self) -> str:
        return (
            f"SimStats(requests={self.requests}, by_status={dict(self.by_status)}, "
            f"rate_limited={self.rate_limited}, peak_in_flight={self.peak_in_flight}, "
            f"sends={self.sends})"
        )
