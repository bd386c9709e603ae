"""Layer 3: the exact outgoing requests (path, query, headers, body), via aioresponses.

What only the wire shows (the proxy a client goes through, the connection pool a copy shares) is
checked on `LineRecorder`, a loopback HTTP/1.1 endpoint that records each request line.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Self

import pytest

from sentdm_async import APIConnectionError, AsyncSent, SentError

if TYPE_CHECKING:
    from aioresponses import aioresponses
    from yarl import URL

KEY = "sk_test_shape"
BASE = "https://api.example.test"
OK_LOG = {"success": True, "data": {"message_id": "m", "activities": []}, "meta": {}}
OK_SEND = {
    "success": True,
    "data": {"status": "QUEUED", "recipients": [{"message_id": "id1", "to": "+15551234567"}]},
}
OK_PAGE = {
    "success": True,
    "data": {"contacts": [], "pagination": {"page": 1, "page_size": 5, "has_more": False}},
}


class LineRecorder:
    """A loopback HTTP/1.1 origin or forward proxy: records request lines and connections.

    GETs are answered with `OK_LOG` on a kept-alive connection; a ``CONNECT`` (a tunnel for an
    https URL) is refused with 403.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.connections = 0
        self.url = ""
        """``http://127.0.0.1:<port>``, once entered."""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        body = json.dumps(OK_LOG).encode()
        ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line = head.split(b"\r\n", 1)[0].decode()
                self.lines.append(line)
                if line.startswith("CONNECT "):
                    writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                    break
                writer.write(ok % len(body) + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed its kept-alive connection
        finally:
            writer.close()


def _only_call(mock_http: aioresponses) -> tuple[str, URL, dict[str, object]]:
    ((method, url), calls), *rest = mock_http.requests.items()
    assert not rest
    assert len(calls) == 1
    return method, url, calls[0].kwargs


async def test_activities_request(mock_http: aioresponses) -> None:
    """GET with the key, JSON accept and no body; profile from the client."""
    mock_http.get(f"{BASE}/v3/messages/abc/activities", payload=OK_LOG)
    async with AsyncSent(api_key=KEY, base_url=BASE, profile_id="p-client") as client:
        await client.messages.retrieve_activities("abc")
    method, url, kwargs = _only_call(mock_http)
    assert method == "GET"
    assert str(url) == f"{BASE}/v3/messages/abc/activities"
    headers = kwargs["headers"]
    assert isinstance(headers, Mapping)  # aiohttp merges the session's headers in
    assert headers["x-api-key"] == KEY
    assert headers["x-profile-id"] == "p-client"
    assert headers["Accept"] == "application/json"
    assert kwargs["data"] is None
    assert kwargs["allow_redirects"] is False


async def test_profile_per_call_overrides(mock_http: aioresponses) -> None:
    """profile_id= on a call replaces the client's for that call only."""
    ok = {"success": True, "data": {"id": "abc"}}
    mock_http.get(f"{BASE}/v3/messages/abc", payload=ok, repeat=True)
    async with AsyncSent(api_key=KEY, base_url=BASE, profile_id="p-client") as client:
        await client.messages.retrieve_status("abc", profile_id="p-call")
        await client.messages.retrieve_status("abc")  # the next call is back to the client's
    ((_, calls),) = mock_http.requests.items()
    assert [call.kwargs["headers"]["x-profile-id"] for call in calls] == ["p-call", "p-client"]


async def test_hostile_id_stays_in_its_segment(mock_http: aioresponses) -> None:
    """An id with / ? # is percent-encoded, never a new path or query."""
    mock_http.get(re.compile(r".*"), payload=OK_LOG)
    async with AsyncSent(api_key=KEY, base_url=BASE) as client:
        await client.messages.retrieve_activities("../contacts?page=1#x")
    _, url, _ = _only_call(mock_http)
    assert url.raw_path == "/v3/messages/..%2Fcontacts%3Fpage%3D1%23x/activities"
    assert not url.query


async def test_send_body_and_idempotency_key(mock_http: aioresponses) -> None:
    """A send posts the JSON body with a generated Idempotency-Key of the documented form."""
    mock_http.post(f"{BASE}/v3/messages", payload=OK_SEND, status=202)
    when = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    async with AsyncSent(api_key=KEY, base_url=BASE) as client:
        result = await client.messages.send(
            to=["+15551234567"], text="hi", channel="sms", scheduled_at=when, sandbox=True
        )
    assert result.message_ids == ["id1"]
    _, _, kwargs = _only_call(mock_http)
    headers = kwargs["headers"]
    assert isinstance(headers, Mapping)  # aiohttp merges the session's headers in
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,255}", headers["Idempotency-Key"])
    assert headers["Content-Type"] == "application/json"
    body = kwargs["data"]
    assert isinstance(body, bytes)
    assert json.loads(body) == {
        "to": ["+15551234567"],
        "text": "hi",
        "channel": ["sms"],
        "scheduled_at": "2030-01-01T12:00:00+00:00",
        "sandbox": True,
    }


async def test_send_one_string_is_one_recipient(mock_http: aioresponses) -> None:
    """``to="+1555..."`` is one recipient, not a list of characters; so is ``channel="sms"``."""
    mock_http.post(f"{BASE}/v3/messages", payload=OK_SEND, status=202)
    async with AsyncSent(api_key=KEY, base_url=BASE) as client:
        await client.messages.send(to="+15551234567", text="hi", channel="sms")
    _, _, kwargs = _only_call(mock_http)
    body = kwargs["data"]
    assert isinstance(body, bytes)
    decoded = json.loads(body)
    assert decoded["to"] == ["+15551234567"]
    assert decoded["channel"] == ["sms"]


async def test_send_with_template_and_own_key(mock_http: aioresponses) -> None:
    """A caller's Idempotency-Key is sent unchanged; templates pass through."""
    mock_http.post(f"{BASE}/v3/messages", payload=OK_SEND, status=202)
    async with AsyncSent(api_key=KEY, base_url=BASE) as client:
        await client.messages.send(
            to=["+15551234567"],
            template={"name": "welcome", "parameters": {"name": "Ann"}},
            idempotency_key="order-42_retry",
            scheduled_at="2030-01-01T12:00:00+02:00",
        )
    _, _, kwargs = _only_call(mock_http)
    headers = kwargs["headers"]
    assert isinstance(headers, Mapping)  # aiohttp merges the session's headers in
    assert headers["Idempotency-Key"] == "order-42_retry"
    body = kwargs["data"]
    assert isinstance(body, bytes)
    decoded = json.loads(body)
    assert decoded["template"] == {"name": "welcome", "parameters": {"name": "Ann"}}
    assert decoded["scheduled_at"] == "2030-01-01T12:00:00+02:00"
    assert "text" not in decoded


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"to": [], "text": "x"}, ValueError, id="no-recipients"),
        pytest.param({"to": [""], "text": "x"}, ValueError, id="empty-recipient"),
        pytest.param({"to": ["+1555"]}, ValueError, id="neither-text-nor-template"),
        pytest.param(
            {"to": ["+1555"], "text": "x", "template": {"id": "t"}}, ValueError, id="both"
        ),
        pytest.param({"to": ["+1555"], "text": ""}, ValueError, id="empty-text"),
        pytest.param({"to": ["+1555"], "template": {"parameters": {}}}, ValueError, id="tpl-no-id"),
        pytest.param(
            {"to": ["+1555"], "template": {"id": "a", "name": "b"}},
            ValueError,
            id="tpl-id-and-name",
        ),
        pytest.param({"to": ["+1555"], "text": "x", "channel": []}, ValueError, id="no-channel"),
        pytest.param(
            {"to": ["+1555"], "text": "x", "idempotency_key": "has space"}, ValueError, id="bad-key"
        ),
        pytest.param(
            {"to": ["+1555"], "text": "x", "idempotency_key": "k" * 256}, ValueError, id="long-key"
        ),
        pytest.param(
            {"to": ["+1555"], "text": "x", "scheduled_at": datetime(2030, 1, 1)},
            ValueError,
            id="naive-datetime",
        ),
        pytest.param({"to": ["+1555"], "text": "x", "scheduled_at": 5}, TypeError, id="int-time"),
        pytest.param(
            {"to": ["+1555"], "template": {"id": "t", "parameters": {"x": object()}}},
            TypeError,
            id="unserialisable-template",
        ),
    ],
)
async def test_bad_send_arguments_fail_before_any_request(
    mock_http: aioresponses, kwargs: dict[str, object], error: type[Exception]
) -> None:
    """Invalid send arguments raise before anything is sent."""
    async with AsyncSent(api_key=KEY, base_url=BASE) as client:
        with pytest.raises(error):
            await client.messages.send(**kwargs)  # type: ignore[arg-type]
    assert not mock_http.requests


async def test_contacts_query(mock_http: aioresponses) -> None:
    """list_page sends page, page_size and the filters as query parameters."""
    mock_http.get(re.compile(rf"{re.escape(BASE)}/v3/contacts.*"), payload=OK_PAGE)
    async with AsyncSent(api_key=KEY, base_url=BASE) as client:
        await client.contacts.list_page(
            page=3, page_size=5, search="ann", channel="whatsapp", phone="+1555"
        )
    _, _, kwargs = _only_call(mock_http)
    assert kwargs["params"] == {
        "search": "ann",
        "phone": "+1555",
        "channel": "whatsapp",
        "page_size": "5",
        "page": "3",
    }


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"page": 0}, ValueError, id="page-zero"),
        pytest.param({"page_size": 0}, ValueError, id="page-size-zero"),
        pytest.param({"page_size": "5"}, TypeError, id="page-size-str"),
        pytest.param({"channel": "fax"}, ValueError, id="unknown-channel"),
        pytest.param({"search": 5}, TypeError, id="search-int"),
    ],
)
async def test_bad_contacts_arguments(
    mock_http: aioresponses, kwargs: dict[str, object], error: type[Exception]
) -> None:
    """Invalid paging and filters raise before any request."""
    async with AsyncSent(api_key=KEY, base_url=BASE) as client:
        with pytest.raises(error):
            await client.contacts.list_page(**kwargs)  # type: ignore[arg-type]
        if "page" not in kwargs:  # list() has no page argument; the rest apply to it too
            with pytest.raises(error):
                async for _ in client.contacts.list(**kwargs):  # type: ignore[arg-type]
                    pass  # pragma: no cover
    assert not mock_http.requests


async def test_extra_headers_query_and_default_headers(mock_http: aioresponses) -> None:
    """default_headers go on every call; extra_headers and extra_query on one call only."""
    mock_http.get(re.compile(rf"{re.escape(BASE)}/v3/messages/abc.*"), payload=OK_LOG, repeat=True)
    async with AsyncSent(
        api_key=KEY, base_url=BASE, default_headers={"X-Team": "ops", "X-Trace": "client"}
    ) as client:
        await client.messages.retrieve_activities(
            "abc", extra_headers={"X-Trace": "call"}, extra_query={"debug": "1"}
        )
        await client.messages.retrieve_activities("abc")
    first, second = [call for calls in mock_http.requests.values() for call in calls]
    assert first.kwargs["headers"]["X-Team"] == "ops"
    assert first.kwargs["headers"]["X-Trace"] == "call"
    assert first.kwargs["params"] == {"debug": "1"}
    assert second.kwargs["headers"]["X-Team"] == "ops"
    assert second.kwargs["headers"]["X-Trace"] == "client"
    assert not second.kwargs["params"]


async def test_with_options_shares_session_and_budget(mock_http: aioresponses) -> None:
    """with_options changes what it is told, keeps the rest, and shares session and budget."""
    mock_http.get(f"{BASE}/v3/messages/abc/activities", payload=OK_LOG, repeat=True)
    async with AsyncSent(
        api_key=KEY, base_url=BASE, profile_id="p1", default_headers={"X-A": "1"}
    ) as client:
        other = client.with_options(
            profile_id=None, timeout=3.0, max_retries=0, default_headers={"X-B": "2"}
        )
        assert other.budget is client.budget
        assert (other.timeout, other.max_retries, other.profile_id) == (3.0, 0, None)
        assert (client.timeout, client.max_retries, client.profile_id) != (3.0, 0, None)
        assert other.base_url == client.base_url
        await other.messages.retrieve_activities("abc")
        with pytest.raises(ValueError, match="timeout"):
            client.with_options(timeout=-1)
    assert other.closed  # closing the original closes what the copy shares
    headers = _only_call(mock_http)[2]["headers"]
    assert isinstance(headers, Mapping)  # aiohttp merges the session's headers in
    assert "x-profile-id" not in headers
    assert (headers["X-A"], headers["X-B"]) == ("1", "2")


@pytest.mark.parametrize(
    ("options", "error"),
    [
        pytest.param({"extra_headers": {"X-A": "1\r\nX-Injected: 1"}}, ValueError, id="crlf"),
        pytest.param({"extra_headers": {"bad name": "1"}}, ValueError, id="bad-header-name"),
        pytest.param({"extra_headers": ["X-A"]}, TypeError, id="headers-not-mapping"),
        pytest.param({"extra_query": {"a": 1}}, TypeError, id="query-not-str"),
        pytest.param({"timeout": 0}, ValueError, id="zero-timeout"),
        pytest.param({"timeout": "1"}, TypeError, id="str-timeout"),
        pytest.param({"profile_id": "a\nb"}, ValueError, id="profile-newline"),
        pytest.param({"retries": 3}, TypeError, id="unknown-option"),
    ],
)
async def test_bad_per_call_options_fail_before_any_request(
    mock_http: aioresponses, options: dict[str, object], error: type[Exception]
) -> None:
    """Per-call options are checked before anything is sent, with a clear error."""
    async with AsyncSent(api_key=KEY, base_url=BASE) as client:
        with pytest.raises(error):
            await client.messages.retrieve_activities("abc", **options)  # type: ignore[arg-type]
    assert not mock_http.requests


async def test_with_options_shares_the_connection_pool() -> None:
    """A with_options copy sends on its parent's kept-alive connection: one pool, one session."""
    async with LineRecorder() as origin:
        async with AsyncSent(api_key=KEY, base_url=origin.url) as client:
            other = client.with_options(timeout=3.0)
            await client.messages.retrieve_activities("abc")
            await other.messages.retrieve_activities("abc")
            assert len(origin.lines) == 2
            assert origin.connections == 1
        assert other.closed


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variable from the machine running the tests."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


async def test_proxy_from_the_environment(no_proxy_env: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY is used by default, read once; NO_PROXY and trust_env=False turn it off."""
    async with LineRecorder() as proxy, LineRecorder() as origin:
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        proxied = AsyncSent(api_key=KEY, base_url=origin.url)
        direct = AsyncSent(api_key=KEY, base_url=origin.url, trust_env=False)
        no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
        bypassed = AsyncSent(api_key=KEY, base_url=origin.url)
        no_proxy_env.delenv("HTTP_PROXY")  # read once: `proxied` keeps the proxy it was made with
        for client in (proxied, direct, bypassed):
            async with client:
                await client.messages.retrieve_activities("abc")
    path = "/v3/messages/abc/activities"
    assert proxy.lines == [f"GET {origin.url}{path} HTTP/1.1"]  # absolute form: a proxy request
    assert origin.lines == [f"GET {path} HTTP/1.1"] * 2


async def test_https_proxy_from_the_environment(no_proxy_env: pytest.MonkeyPatch) -> None:
    """An https API goes through HTTPS_PROXY by CONNECT; an unusable proxy URL is a SentError."""
    async with LineRecorder() as proxy:
        no_proxy_env.setenv("HTTPS_PROXY", proxy.url)
        async with AsyncSent(api_key=KEY, base_url=BASE, max_retries=0) as client:
            with pytest.raises(APIConnectionError):  # the recorder refuses the tunnel
                await client.messages.retrieve_activities("abc")
    assert proxy.lines == ["CONNECT api.example.test:443 HTTP/1.1"]
    no_proxy_env.setenv("HTTPS_PROXY", "not a url at all")
    with pytest.raises(SentError, match="proxy"):
        AsyncSent(api_key=KEY, base_url=BASE)


async def test_send_mms_fields_and_per_channel_options(mock_http: aioresponses) -> None:
    """media_urls, subject and per-channel sender options go out as the API names them."""
    mock_http.post(f"{BASE}/v3/messages", payload=OK_SEND, status=202)
    async with AsyncSent(api_key=KEY, base_url=BASE) as client:
        await client.messages.send(
            to="+15551234567",
            text="see attached",
            media_urls="https://cdn.example.test/a.png",
            subject="Your receipt",
            channels={"sms": [{"from": ["+15550000000"]}]},
        )
    body = _only_call(mock_http)[2]["data"]
    assert isinstance(body, bytes)
    assert json.loads(body) == {
        "to": ["+15551234567"],
        "text": "see attached",
        "media_urls": ["https://cdn.example.test/a.png"],
        "subject": "Your receipt",
        "channels": {"sms": [{"from": ["+15550000000"]}]},
    }


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"media_urls": [""]}, ValueError, id="empty-media-url"),
        pytest.param({"subject": 5}, TypeError, id="subject-not-str"),
        pytest.param({"channels": {"sms": object()}}, TypeError, id="channels-not-json"),
    ],
)
async def test_bad_mms_arguments_fail_before_any_request(
    mock_http: aioresponses, kwargs: dict[str, object], error: type[Exception]
) -> None:
    """Bad MMS arguments raise before anything is sent."""
    async with AsyncSent(api_key=KEY, base_url=BASE) as client:
        with pytest.raises(error):
            await client.messages.send(to="+15551234567", text="x", **kwargs)  # type: ignore[arg-type]
    assert not mock_http.requests
