"""Layer 1: AsyncSent configuration, validation before any request, and lifecycle."""

from __future__ import annotations

import gc
import logging

import aiohttp
import pytest

from sentdm_async import AsyncSent, SentError, TokenBucket
from sentdm_async._core.ids import check_id, message_path

KEY = "sk_test_secret_value_123"


def test_api_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key and base URL come from SENT_DM_API_KEY and SENT_BASE_URL when not passed."""
    monkeypatch.setenv("SENT_DM_API_KEY", KEY)
    monkeypatch.setenv("SENT_BASE_URL", "https://eu.example.test/")
    client = AsyncSent()
    assert client.base_url == "https://eu.example.test"
    assert client.timeout == 30.0
    assert client.max_retries == 2


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key anywhere is a SentError naming the environment variable."""
    monkeypatch.delenv("SENT_DM_API_KEY", raising=False)
    with pytest.raises(SentError, match="SENT_DM_API_KEY"):
        AsyncSent()
    with pytest.raises(SentError, match="SENT_DM_API_KEY"):
        AsyncSent(api_key="")


def test_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without SENT_BASE_URL the production API is used."""
    monkeypatch.delenv("SENT_BASE_URL", raising=False)
    assert AsyncSent(api_key=KEY).base_url == "https://api.sent.dm"


def test_key_never_in_repr_or_errors() -> None:
    """repr() shows configuration but never the key."""
    client = AsyncSent(api_key=KEY, profile_id="prof-1")
    text = repr(client)
    assert KEY not in text
    assert "prof-1" in text
    assert "api.sent.dm" in text


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://localhost:8080", id="localhost"),
        pytest.param("http://127.0.0.1:9", id="ipv4-loopback"),
        pytest.param("http://127.8.9.10", id="loopback-range"),
        pytest.param("http://[::1]:8080", id="ipv6-loopback"),
        pytest.param("https://api.sent.dm", id="https"),
    ],
)
def test_allowed_base_urls(url: str) -> None:
    """HTTPS anywhere and plain HTTP on loopback are accepted."""
    AsyncSent(api_key=KEY, base_url=url)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://api.sent.dm", id="plain-http-remote"),
        pytest.param("http://10.0.0.1", id="plain-http-private"),
        pytest.param("ftp://api.sent.dm", id="wrong-scheme"),
        pytest.param("api.sent.dm", id="no-scheme"),
        pytest.param("https://api.sent.dm/?x=1", id="query"),
        pytest.param("", id="empty"),
    ],
)
def test_refused_base_urls(url: str) -> None:
    """Clear-text HTTP to a remote host, and non-URLs, are refused at construction."""
    with pytest.raises(SentError) as info:
        AsyncSent(api_key=KEY, base_url=url)
    assert KEY not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"timeout": -1}, ValueError, id="negative-timeout"),
        pytest.param({"timeout": 0}, ValueError, id="zero-timeout"),
        pytest.param({"timeout": float("nan")}, ValueError, id="nan-timeout"),
        pytest.param({"timeout": "5"}, TypeError, id="string-timeout"),
        pytest.param({"max_retries": -1}, ValueError, id="negative-retries"),
        pytest.param({"max_retries": 1.5}, TypeError, id="float-retries"),
        pytest.param({"max_retries": True}, TypeError, id="bool-retries"),
        pytest.param({"max_retry_after": -1}, ValueError, id="negative-retry-after"),
        pytest.param({"max_connections": 0}, ValueError, id="zero-connections"),
        pytest.param({"max_response_bytes": 0}, ValueError, id="zero-cap"),
        pytest.param({"rate_limit": 0}, ValueError, id="zero-rate"),
        pytest.param({"rate_limit": "fast"}, TypeError, id="unknown-rate"),
        pytest.param({"profile_id": ""}, ValueError, id="empty-profile"),
        pytest.param({"profile_id": "p\r\nx: y"}, ValueError, id="profile-with-newline"),
        pytest.param({"profile_id": 7}, TypeError, id="int-profile"),
        pytest.param({"session": object()}, TypeError, id="not-a-session"),
        pytest.param({"api_key": 42}, TypeError, id="int-key"),
        pytest.param({"api_key": "a\nb"}, SentError, id="key-with-newline"),
    ],
)
def test_bad_configuration(kwargs: dict[str, object], error: type[Exception]) -> None:
    """Bad configuration fails at construction with a clear error."""
    kwargs.setdefault("api_key", KEY)
    with pytest.raises(error):
        AsyncSent(**kwargs)  # type: ignore[arg-type]


def test_rate_limit_modes() -> None:
    """rate_limit selects auto, fixed, off or a user budget."""
    assert isinstance(AsyncSent(api_key=KEY).budget, TokenBucket)
    assert AsyncSent(api_key=KEY, rate_limit=None).budget is None
    mine = TokenBucket(30)
    assert AsyncSent(api_key=KEY, rate_limit=mine).budget is mine


@pytest.mark.parametrize(
    ("message_id", "error"),
    [
        pytest.param("", ValueError, id="empty"),
        pytest.param("   ", ValueError, id="blank"),
        pytest.param(".", ValueError, id="dot"),
        pytest.param("..", ValueError, id="dotdot"),
        pytest.param("a\nb", ValueError, id="control-char"),
        pytest.param("x" * 257, ValueError, id="too-long"),
        pytest.param(None, TypeError, id="none"),
        pytest.param(123, TypeError, id="int"),
    ],
)
def test_bad_message_ids(message_id: object, error: type[Exception]) -> None:
    """Ids that are empty, not strings or would escape the path are refused."""
    with pytest.raises(error):
        check_id(message_id)


@pytest.mark.parametrize(
    ("message_id", "path"),
    [
        ("8ba7b830-9dad", "/v3/messages/8ba7b830-9dad/activities"),
        ("../contacts", "/v3/messages/..%2Fcontacts/activities"),
        ("a/b?c#d", "/v3/messages/a%2Fb%3Fc%23d/activities"),
        ("%2e%2e", "/v3/messages/%252e%252e/activities"),
        ("café", "/v3/messages/caf%C3%A9/activities"),
    ],
)
def test_ids_are_quoted_into_one_segment(message_id: str, path: str) -> None:
    """Any id stays inside its own path segment."""
    assert message_path(message_id, "/activities") == path


async def test_lifecycle_and_closed_client() -> None:
    """aclose() is idempotent and a closed client refuses work with a SentError."""
    client = AsyncSent(api_key=KEY, base_url="http://127.0.0.1:9")
    async with client as entered:
        assert entered is client
    assert client.closed
    await client.aclose()
    with pytest.raises(SentError, match="closed"):
        await client.messages.retrieve_status("m")
    with pytest.raises(SentError, match="closed"):
        async with client:
            pass


async def test_unclosed_client_warns() -> None:
    """A client dropped with its session open warns with ResourceWarning."""
    client = AsyncSent(api_key=KEY, base_url="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(SentError):
        await client.messages.retrieve_status("m")  # opens the session; nothing listens on :9
    # A derived copy shares the session and never warns: holding it keeps the session out of the
    # collection, so only our warning fires, not aiohttp's own.
    copy = client.with_options(max_retries=0)
    with pytest.warns(ResourceWarning) as record:  # noqa: PT031 - the drop and the collection
        del client
        gc.collect()
    messages = [str(w.message) for w in record]
    assert any("unclosed AsyncSent" in m for m in messages)
    assert all(KEY not in m for m in messages)
    del record
    await copy.aclose()  # closes the shared session


async def test_caller_owned_session_is_not_closed() -> None:
    """A session passed in stays open after the client closes."""
    async with aiohttp.ClientSession() as session:
        client = AsyncSent(api_key=KEY, session=session)
        await client.aclose()
        assert not session.closed


def test_key_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Constructing a client logs nothing containing the key."""
    with caplog.at_level(logging.DEBUG, logger="sentdm_async"):
        AsyncSent(api_key=KEY)
    assert KEY not in caplog.text
