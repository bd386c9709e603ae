"""Layer 1: retry decisions, backoff bounds and header parsing (pure functions)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from sentdm_async._http import retry as _retry


@pytest.mark.parametrize(
    ("status", "code", "header", "expected"),
    [
        pytest.param(408, None, None, True, id="408"),
        pytest.param(429, "BUSINESS_002", None, True, id="429"),
        pytest.param(500, "INTERNAL_001", None, True, id="500"),
        pytest.param(502, None, None, True, id="502-html"),
        pytest.param(503, None, None, True, id="503"),
        pytest.param(504, None, None, True, id="504"),
        pytest.param(501, None, None, False, id="501-not-implemented"),
        pytest.param(400, "VALIDATION_001", None, False, id="400"),
        pytest.param(401, "AUTH_002", None, False, id="401"),
        pytest.param(404, "RESOURCE_003", None, False, id="404"),
        pytest.param(409, "CONFLICT_001", None, True, id="409-idempotency-in-flight"),
        pytest.param(409, "BUSINESS_006", None, False, id="409-other-code"),
        pytest.param(400, None, "true", True, id="x-should-retry-true-forces"),
        pytest.param(503, None, "false", False, id="x-should-retry-false-forbids"),
        pytest.param(503, None, " TRUE ", True, id="x-should-retry-case"),
        pytest.param(400, None, "maybe", False, id="x-should-retry-garbage-ignored"),
    ],
)
def test_should_retry(status: int, code: str | None, header: str | None, expected: bool) -> None:
    """Status, error code and x-should-retry decide retries as documented."""
    assert _retry.should_retry(status, code, header) is expected


@pytest.mark.parametrize(
    ("retries", "ceiling"),
    [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (50, 8.0)],
)
def test_backoff_ceiling(retries: int, ceiling: float) -> None:
    """The jitter ceiling doubles from 0.5 s and stops at 8 s."""
    assert _retry.backoff_delay(retries, lambda: 0.999999) == pytest.approx(ceiling, rel=1e-5)
    assert _retry.backoff_delay(retries, lambda: 0.0) == 0.0


@given(st.integers(min_value=-5, max_value=10_000), st.floats(min_value=0.0, max_value=0.9999))
def test_backoff_within_bounds(retries: int, draw: float) -> None:
    """Full jitter stays within [0, 8] for any retry count."""
    delay = _retry.backoff_delay(retries, lambda: draw)
    assert 0.0 <= delay <= 8.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"Retry-After": "2"}, 2.0, id="seconds"),
        pytest.param({"Retry-After": "1.5"}, 1.5, id="fractional-seconds"),
        pytest.param({"retry-after-ms": "250"}, 0.25, id="milliseconds"),
        pytest.param({"retry-after-ms": "250", "Retry-After": "9"}, 0.25, id="ms-wins"),
        pytest.param({"retry-after-ms": "junk", "Retry-After": "3"}, 3.0, id="bad-ms-falls-back"),
        pytest.param({"Retry-After": "Thu, 01 Jan 1970 00:01:40 GMT"}, 10.0, id="http-date"),
        pytest.param({"Retry-After": "Thu, 01 Jan 1970 00:00:10 GMT"}, 0.0, id="date-in-past"),
        pytest.param({"Retry-After": "-1"}, None, id="negative"),
        pytest.param({"Retry-After": "soon"}, None, id="garbage"),
        pytest.param({"Retry-After": "inf"}, None, id="infinite"),
        pytest.param({}, None, id="absent"),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    """Retry-After is read in seconds, HTTP dates and retry-after-ms."""
    assert _retry.parse_retry_after(CIMultiDict(headers), now=lambda: 90.0) == expected


@given(st.text(max_size=40))
def test_parse_retry_after_never_raises(value: str) -> None:
    """Any header value gives a non-negative number or None, never an exception."""
    result = _retry.parse_retry_after(CIMultiDict({"Retry-After": value}))
    assert result is None or result >= 0


def test_parse_rate_limit() -> None:
    """X-RateLimit-* headers become (limit, remaining, seconds until reset)."""
    headers = CIMultiDict(
        {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "17", "X-RateLimit-Reset": "130"}
    )
    assert _retry.parse_rate_limit(headers, now=lambda: 100.0) == (200, 17, 30.0)
    assert _retry.parse_rate_limit(CIMultiDict(), now=lambda: 100.0) == (None, None, None)
    bad = CIMultiDict(
        {"X-RateLimit-Limit": "x", "X-RateLimit-Remaining": "-3", "X-RateLimit-Reset": "nan"}
    )
    assert _retry.parse_rate_limit(bad) == (None, None, None)
    past = CIMultiDict({"X-RateLimit-Reset": "50"})
    assert _retry.parse_rate_limit(past, now=lambda: 100.0) == (None, None, 0.0)
