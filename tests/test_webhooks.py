"""Webhooks: verification, typed parsing and the receivers (aiohttp on a real socket, ASGI)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from sentdm_async import AsyncSent, PollPolicy, SentError, webhooks
from sentdm_async.webhooks import (
    ContactEvent,
    GenericEvent,
    InboundMessageEvent,
    MessageEvent,
    TemplateEvent,
    WebhookError,
    WebhookPayloadError,
    WebhookVerificationError,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, MutableMapping

    from sentdm_async.simulator import Simulator

SECRET = "whsec_" + base64.b64encode(b"a 24-byte signing secret").decode()
OTHER = "whsec_" + base64.b64encode(b"another secret, rotated!").decode()
#: A well-formed v1 signature that matches nothing.
ZEROS = "v1," + base64.b64encode(bytes(32)).decode()


def envelope(status: str = "DELIVERED", message_id: str = "m-1", **extra: Any) -> bytes:
    body = {
        "field": "message",
        "event": f"message.{status.lower()}",
        "timestamp": "2026-12-03T10:00:00Z",
        "request_id": "req-1",
        "payload": {
            "message_id": message_id,
            "message_status": status,
            "channel": "sms",
            "updated_at": "2026-12-03T09:59:59Z",
            **extra,
        },
    }
    return json.dumps(body).encode()


def signed(
    body: bytes, *, secret: str = SECRET, webhook_id: str = "wh-1", event_id: str = "ev-1"
) -> dict[str, str]:
    stamp = int(time.time())
    return {
        "X-Webhook-ID": webhook_id,
        "X-Webhook-Timestamp": str(stamp),
        "X-Webhook-Signature": webhooks.sign(body, secret, webhook_id=webhook_id, timestamp=stamp),
        "X-Webhook-Event-ID": event_id,
        "Content-Type": "application/json",
    }


# -- verify -------------------------------------------------------------------------------------


def test_verify_accepts_every_header_style_and_rotation() -> None:
    """Sent's, Standard Webhooks' and Svix's names, any case, pairs, several secrets/signatures."""
    body = envelope()
    headers = signed(body)
    webhooks.verify(body, headers, SECRET)
    webhooks.verify(body, {k.lower(): v for k, v in headers.items()}, SECRET)
    standard = {
        "webhook-id": headers["X-Webhook-ID"],
        "webhook-timestamp": headers["X-Webhook-Timestamp"],
        "webhook-signature": headers["X-Webhook-Signature"],
    }
    webhooks.verify(body, standard, SECRET)
    svix = [(k.replace("webhook", "svix").encode(), v.encode()) for k, v in standard.items()]
    webhooks.verify(body, svix, SECRET)
    webhooks.verify(body, headers, [OTHER, SECRET])  # during a rotation either may match
    webhooks.verify(body, headers, SECRET.removeprefix("whsec_"))  # bare base64
    several = {**headers, "X-Webhook-Signature": "v2,xyz v1,AAAA " + headers["X-Webhook-Signature"]}
    webhooks.verify(body, several, SECRET)


def _mutations() -> list[Any]:
    body = envelope()
    good = signed(body)
    now = int(good["X-Webhook-Timestamp"])
    return [
        pytest.param(
            body,
            {**good, "X-Webhook-Signature": ZEROS},
            SECRET,
            "no v1 signature matches",
            id="wrong-sig",
        ),
        pytest.param(
            body,
            {**good, "X-Webhook-Signature": "v1,AAAA"},
            SECRET,
            "not a SHA-256",
            id="sig-short",
        ),
        pytest.param(body + b" ", good, SECRET, "no v1 signature matches", id="body-changed"),
        pytest.param(body, good, OTHER, "no v1 signature matches", id="other-secret"),
        pytest.param(
            body,
            {k: v for k, v in good.items() if k != "X-Webhook-ID"},
            SECRET,
            "missing header",
            id="no-id",
        ),
        pytest.param(
            body, {**good, "X-Webhook-Timestamp": "soon"}, SECRET, "Unix seconds", id="ts-text"
        ),
        pytest.param(
            body, {**good, "X-Webhook-Timestamp": "9" * 40}, SECRET, "Unix seconds", id="ts-huge"
        ),
        pytest.param(
            body, {**good, "X-Webhook-Timestamp": "-5"}, SECRET, "Unix seconds", id="ts-negative"
        ),
        pytest.param(
            body,
            {**good, "X-Webhook-Timestamp": "١٢٣"},
            SECRET,
            "Unix seconds",
            id="ts-arabic-digits",
        ),
        pytest.param(
            body, {**good, "X-Webhook-Timestamp": str(now - 3600)}, SECRET, "too old", id="ts-old"
        ),
        pytest.param(
            body, {**good, "X-Webhook-Timestamp": str(now + 3600)}, SECRET, "future", id="ts-future"
        ),
        pytest.param(
            body,
            {**good, "X-Webhook-Signature": "v1,!!!not-base64"},
            SECRET,
            "entry 1 is not base64",
            id="sig-bad-b64",
        ),
        pytest.param(
            body, {**good, "X-Webhook-Signature": "v2,abc"}, SECRET, "no v1", id="sig-other-version"
        ),
        pytest.param(body, {**good, "X-Webhook-Signature": ""}, SECRET, "empty", id="sig-empty"),
        pytest.param(
            body,
            {**good, "X-Webhook-Signature": "   "},
            SECRET,
            "no v1 signature in",
            id="sig-blank",
        ),
        pytest.param(
            body,
            {**good, "X-Webhook-Signature": "v1," + "A" * 9000},
            SECRET,
            "too long",
            id="sig-long",
        ),
        pytest.param(body, good, "whsec_%%%", "base64", id="secret-not-b64"),
        pytest.param(body, good, "", "base64|empty", id="secret-empty"),
        pytest.param(body, good, [], "non-empty", id="secret-no-list"),
        pytest.param(body, good, 42, "secret", id="secret-int"),
        pytest.param(body, 42, SECRET, "mapping", id="headers-int"),
        pytest.param(body, [("a",)], SECRET, "pairs", id="headers-bad-pairs"),
        pytest.param(42, good, SECRET, "raw request bytes", id="body-int"),
    ]


@pytest.mark.parametrize(("body", "headers", "secret", "match"), _mutations())
def test_verify_refuses_with_a_clear_error(
    body: Any, headers: Any, secret: Any, match: str
) -> None:
    """Every malformed or forged input is a WebhookVerificationError naming the check."""
    with pytest.raises(WebhookVerificationError, match=match) as info:
        webhooks.verify(body, headers, secret)
    assert isinstance(info.value, SentError)
    assert SECRET.removeprefix("whsec_") not in str(info.value)


_header_value = st.one_of(st.text(max_size=60), st.binary(max_size=60))


@settings(max_examples=300)
@given(
    body=st.one_of(st.binary(max_size=200), st.builds(envelope)),
    headers=st.dictionaries(
        st.sampled_from(
            [
                "X-Webhook-ID",
                "X-Webhook-Timestamp",
                "X-Webhook-Signature",
                "webhook-id",
                "svix-signature",
            ]
        ),
        st.text(max_size=80),
    ),
    secret=st.one_of(st.just(SECRET), st.text(max_size=40), st.binary(max_size=40)),
)
def test_garbage_only_ever_raises_webhook_errors(
    body: bytes, headers: dict[str, str], secret: Any
) -> None:
    """Random bodies, headers and secrets raise WebhookError only, or nothing.

    Never a ValueError, binascii.Error, UnicodeError or msgspec error from verify, parse or
    construct_event (pytest reports any other exception as a failure).
    """
    for call in (
        lambda: webhooks.verify(body, headers, secret),
        lambda: webhooks.parse(body),
        lambda: webhooks.construct_event(body, headers, secret),
    ):
        with contextlib.suppress(WebhookError):
            call()


# -- parse --------------------------------------------------------------------------------------


def test_parse_types_each_family() -> None:
    """Message, inbound, contact and template families are typed; others are generic."""
    event = webhooks.parse(envelope("FAILED", reason_code="30003", reason="unreachable"))
    assert isinstance(event, MessageEvent)
    assert event.name == "message.failed"
    activity = event.activity()
    assert (activity.status, activity.reason_code) == ("FAILED", "30003")
    assert activity.timestamp.tzinfo is not None
    old_style = json.dumps(
        {
            "field": "message",
            "sub_type": "sent",
            "payload": {"message_id": "m", "message_status": "SENT"},
        }
    )
    legacy = webhooks.parse(old_style)
    assert isinstance(legacy, MessageEvent)
    assert legacy.name == "message.sent"
    inbound = webhooks.parse(
        b'{"field":"message","event":"message.received","payload":{"inbound_number":"+1555",'
        b'"text":"hi","media":null,"received_at":"2026-12-03T10:00:00"}}'
    )
    assert isinstance(inbound, InboundMessageEvent)
    assert inbound.payload.text == "hi"
    contact = webhooks.parse(
        b'{"field":"contact","event":"opt_out","payload":{"opt_out":true,"from":"+1"}}'
    )
    assert isinstance(contact, ContactEvent)
    assert (contact.payload.opt_out, contact.payload.sender, contact.name) == (
        True,
        "+1",
        "contact.opt_out",
    )
    template = webhooks.parse(
        b'{"field":"templates","event":"approved","payload":{"status":"APPROVED"}}'
    )
    assert isinstance(template, TemplateEvent)
    link = webhooks.parse(b'{"field":"link","event":"link.clicked","payload":{"url":"u"},"new":1}')
    assert isinstance(link, GenericEvent)
    assert link.payload == {"url": "u"}


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"event":"message.sent"}',
        b'{"field":"message","payload":{"message_id":"m"}}',  # no message_status
        b'{"field":"message","payload":{"message_status":"SENT","updated_at":"yesterday"}}',
        b'{"field":"link","payload":' + b"[" * 5000 + b"]" * 5000 + b"}",
        "\udcff".encode("utf-8", "surrogatepass"),
    ],
)
def test_parse_refuses_what_is_not_an_envelope(body: bytes) -> None:
    """Anything that is not a webhook envelope (or a malformed typed payload) is a SentError."""
    with pytest.raises(WebhookPayloadError):
        webhooks.parse(body)


def test_construct_event_sets_the_event_id() -> None:
    """event_id comes from X-Webhook-Event-ID, else from the webhook id."""
    body = envelope()
    headers = signed(body, event_id="ev-42")
    assert webhooks.construct_event(body, headers, SECRET).event_id == "ev-42"
    del headers["X-Webhook-Event-ID"]
    assert webhooks.construct_event(body, headers, SECRET).event_id == "wh-1"


# -- receivers ----------------------------------------------------------------------------------


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, list[webhooks.WebhookEvent], dict[str, int]]]:
    """An aiohttp receiver on a real local socket, handing events to a list."""
    got: list[webhooks.WebhookEvent] = []
    failures = {"left": 0}

    async def target(event: webhooks.WebhookEvent) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("the database is down")
        got.append(event)

    app = web.Application()
    app.router.add_post("/hooks", webhooks.aiohttp_handler(SECRET, target, max_body=4096))
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("/hooks")), got, failures


async def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as r,
    ):
        await r.read()
        return r.status


async def test_aiohttp_receiver_contract(
    served: tuple[str, list[webhooks.WebhookEvent], dict[str, int]],
) -> None:
    """2xx after the hand-over, repeats acknowledged once, 400 forged, 413 big, 500 on failure."""
    url, got, failures = served
    body = envelope()
    headers = signed(body, event_id="ev-1")
    assert await post(url, body, headers) == 200
    assert await post(url, body, headers) == 200  # Sent's retry of the same event
    assert len(got) == 1
    assert await post(url, body, {**headers, "X-Webhook-Signature": "v1,AAAA"}) == 400
    assert await post(url, b"x" * 5000, signed(b"x" * 5000, event_id="ev-big")) == 413
    failures["left"] = 1
    second = envelope("READ")
    second_headers = signed(second, event_id="ev-2")
    assert await post(url, second, second_headers) == 500  # not acknowledged: Sent retries
    assert await post(url, second, second_headers) == 200  # ... and the retry is handed over
    assert [e.event_id for e in got] == ["ev-1", "ev-2"]


async def _asgi(app: Any, method: str, chunks: list[bytes], headers: dict[str, str]) -> int:
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    await app(scope, receive, send)
    return int(sent[0]["status"])


async def test_asgi_app_contract() -> None:
    """The ASGI app: 200 once per event id, 405 for GET, 413 over the cap, 400 forged."""
    got: list[webhooks.WebhookEvent] = []

    async def target(event: webhooks.WebhookEvent) -> None:
        got.append(event)

    app = webhooks.asgi_app(SECRET, target, max_body=2048)
    body = envelope()
    headers = signed(body)
    half = len(body) // 2
    assert await _asgi(app, "POST", [body[:half], body[half:]], headers) == 200
    assert await _asgi(app, "POST", [body], headers) == 200
    assert len(got) == 1
    assert await _asgi(app, "GET", [b""], headers) == 405
    assert await _asgi(app, "POST", [b"x" * 1500, b"x" * 1500], headers) == 413
    assert await _asgi(app, "POST", [body], {**headers, "X-Webhook-Timestamp": "1"}) == 400
    lifespan = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    answers: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return lifespan.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        answers.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [a["type"] for a in answers] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


def test_receiver_arguments_are_checked() -> None:
    """A target that cannot take events, or a bad cap, fails at construction."""
    with pytest.raises(TypeError):
        webhooks.aiohttp_handler(SECRET, 42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_body"):
        webhooks.asgi_app(SECRET, print, max_body=0)


async def test_receiver_pushes_into_a_watcher(client: AsyncSent, sim: Simulator) -> None:
    """A watcher as the target: a verified delivery becomes the watcher's next event at once."""
    message_id = sim.create_message(outcome="no_receipt")
    slow = PollPolicy(min_interval=30.0, jitter=0.5)
    async with client.messages.watcher(poll=slow) as watcher:
        watcher.add(message_id)
        app = web.Application()
        app.router.add_post("/hooks", webhooks.aiohttp_handler(SECRET, watcher))
        async with TestServer(app, host="127.0.0.1") as server:
            body = envelope("QUEUED", message_id=message_id)
            assert await post(str(server.make_url("/hooks")), body, signed(body)) == 200
        event = await anext(watcher)
    assert event.activity is not None
    assert (event.message_id, event.activity.status) == (message_id, "QUEUED")
    assert sim.stats.by_route["activities"] == 0  # yielded before any poll


async def test_cli_webhooks_listen_prints_verified_events(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``webhooks listen`` prints each verified event once as JSON; forged ones are refused."""
    from sentdm_async.cli import amain

    from .redis_server import free_port

    monkeypatch.setenv("SENT_WEBHOOK_SECRET", SECRET)
    port = free_port()
    task = asyncio.ensure_future(
        amain(["webhooks", "listen", "--port", str(port), "--path", "/h", "--max-events", "2"])
    )
    url = f"http://127.0.0.1:{port}/h"
    for _ in range(100):  # until it listens
        try:
            first = envelope("SENT")
            assert await post(url, first, signed(first, event_id="e1")) == 200
            break
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.02)
    assert await post(url, first, signed(first, event_id="e1")) == 200  # a repeat: not printed
    assert await post(url, first, {**signed(first), "X-Webhook-Signature": "v1,AAAA"}) == 400
    second = envelope("DELIVERED")
    assert await post(url, second, signed(second, event_id="e2")) == 200
    assert await asyncio.wait_for(task, 5) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["payload"]["message_status"] for line in lines] == ["SENT", "DELIVERED"]
    assert [line["event_id"] for line in lines] == ["e1", "e2"]
    assert "listening on" in err
    monkeypatch.delenv("SENT_WEBHOOK_SECRET")
    assert await amain(["webhooks", "listen"]) == 2
    assert "SENT_WEBHOOK_SECRET" in capsys.readouterr().err


async def test_aiohttp_receiver_reads_a_body_that_arrives_in_pieces(
    served: tuple[str, list[webhooks.WebhookEvent], dict[str, int]],
) -> None:
    """A signed body sent chunked, in several writes, is read whole and verified (was a 400)."""
    url, got, _ = served
    body = envelope("SENT", body="x" * 2500)[:-2] + b" " * 900 + b"}}"
    assert len(body) < 4096  # the fixture's cap

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 500):
            yield body[start : start + 500]
            await asyncio.sleep(0.01)

    headers = signed(body, event_id="ev-pieces")
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=pieces(), headers=headers) as response,
    ):
        assert response.status == 200
    assert [e.event_id for e in got] == ["ev-pieces"]


async def test_aiohttp_receiver_refuses_undecodable_header_bytes(
    served: tuple[str, list[webhooks.WebhookEvent], dict[str, int]],
) -> None:
    """An id header with bytes that are not UTF-8 is a 400 (it was a 500 from UnicodeError)."""
    url, got, _ = served
    body = envelope()
    headers = {**signed(body), "X-Webhook-ID": "id-\xff\xfe"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        assert response.status == 400
    assert got == []


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda b, h: webhooks.verify("\ud800", h, SECRET), id="surrogate-body"),
        pytest.param(
            lambda b, h: webhooks.verify(b, {**h, "X-Webhook-ID": "\ud800"}, SECRET),
            id="surrogate-id",
        ),
        pytest.param(lambda b, h: webhooks.parse("\ud800"), id="surrogate-parse"),
        pytest.param(lambda b, h: webhooks.verify(b, h, SECRET, now=float("nan")), id="nan-now"),
        pytest.param(
            lambda b, h: webhooks.verify(b, h, SECRET, tolerance=float("nan")), id="nan-tolerance"
        ),
        pytest.param(lambda b, h: webhooks.verify(b, h, SECRET, tolerance=-1), id="neg-tolerance"),
    ],
)
def test_unencodable_text_and_nan_clocks_are_refused(call: Any) -> None:
    """Lone surrogates in str input and NaN clocks raise WebhookError, never skip a check."""
    body = envelope()
    with pytest.raises(WebhookError):
        call(body, signed(body))


async def test_an_unavailable_target_gets_503_with_retry_after() -> None:
    """A target raising TargetUnavailableError: 503 and Retry-After from both receivers."""
    calls: list[str | None] = []

    async def target(event: webhooks.WebhookEvent) -> None:
        calls.append(event.event_id)
        if len(calls) == 1:
            raise webhooks.TargetUnavailableError("spool full", retry_after=2.5)

    app = webhooks.asgi_app(SECRET, target)
    body = envelope()
    headers = signed(body, event_id="ev-busy")
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 503
    assert (b"retry-after", b"3") in sent[0]["headers"]
    handler = webhooks.aiohttp_handler(SECRET, target)
    aiohttp_app = web.Application()
    aiohttp_app.router.add_post("/hooks", handler)
    async with TestServer(aiohttp_app, host="127.0.0.1") as server, aiohttp.ClientSession() as http:
        calls.clear()
        async with http.post(server.make_url("/hooks"), data=body, headers=headers) as r:
            assert r.status == 503
            assert r.headers["Retry-After"] == "3"
        async with http.post(server.make_url("/hooks"), data=body, headers=headers) as r:
            assert r.status == 200  # the retry is handed over, not taken for a duplicate
    assert calls == ["ev-busy", "ev-busy"]
