"""Webhook receivers under attack: replays with forged ids, floods, stalls, hang-ups, mounts."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from sentdm_async import webhooks

from .test_webhooks import SECRET, envelope, signed

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, MutableMapping

Served = tuple[str, list[webhooks.WebhookEvent], webhooks.Receiver]


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    """An aiohttp receiver on a real local socket, handing events to a list."""
    got: list[webhooks.WebhookEvent] = []
    handler = webhooks.aiohttp_handler(SECRET, got.append, read_timeout=0.3)
    app = web.Application()
    app.router.add_post("/hooks", handler)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("/hooks")), got, handler.receiver  # type: ignore[attr-defined]


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        return response.status, json.loads(await response.read() or b"null")


def replay_script() -> list[tuple[bytes, dict[str, str]]]:
    """A genuine delivery, its capture replayed with the next event's id, then that event."""
    first, second = envelope("SENT"), envelope("DELIVERED")
    captured = signed(first, webhook_id="msg_1", event_id="ev-1")
    forged = {**captured, "X-Webhook-Event-ID": "ev-2"}  # not signed: the attacker picks it
    return [
        (first, captured),
        (first, forged),
        (second, signed(second, webhook_id="msg_2", event_id="ev-2")),
    ]


async def test_a_replay_with_a_forged_event_id_does_not_suppress_the_genuine_event(
    served: Served,
) -> None:
    """The replay is acknowledged as a duplicate; the later event it named is still handed over."""
    url, got, receiver = served
    answers = [await post(url, body, headers) for body, headers in replay_script()]
    assert [status for status, _ in answers] == [200, 200, 200]
    assert answers[1][1] == {"ok": True, "duplicate": True}
    assert [(e.webhook_id, e.event_id) for e in got] == [("msg_1", "ev-1"), ("msg_2", "ev-2")]
    assert (receiver.handed_over, receiver.duplicates) == (2, 1)


async def test_a_resigned_retry_is_a_duplicate_and_a_reused_id_is_not(served: Served) -> None:
    """A retry (same id and body, new timestamp) is dropped; another body under one id is not."""
    url, got, _ = served
    body = envelope("SENT")
    headers = signed(body, webhook_id="msg_1")
    assert (await post(url, body, headers))[0] == 200
    stamp = int(headers["X-Webhook-Timestamp"]) + 7
    retry = {
        **headers,
        "X-Webhook-Timestamp": str(stamp),
        "X-Webhook-Signature": webhooks.sign(body, SECRET, webhook_id="msg_1", timestamp=stamp),
    }
    assert await post(url, body, retry) == (200, {"ok": True, "duplicate": True})
    other = envelope("READ")
    assert await post(url, other, signed(other, webhook_id="msg_1")) == (200, {"ok": True})
    assert [e.payload.message_status for e in got] == ["SENT", "READ"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        pytest.param(
            "X-Webhook-Event-ID", "e" * 257, "x-webhook-event-id is too long", id="event-id"
        ),
        pytest.param("X-Webhook-ID", "i" * 257, "x-webhook-id is too long", id="webhook-id"),
        pytest.param("X-Webhook-Signature", "v1,A " * 900, "signature is too long", id="signature"),
    ],
)
async def test_over_long_headers_are_refused_with_the_reason(
    served: Served, header: str, value: str, reason: str
) -> None:
    """An id or signature header past its cap is a 400 whose body names the header."""
    url, got, _ = served
    body = envelope()
    headers = {**signed(body), header: value}
    if header == "X-Webhook-ID":  # validly signed: only the length is wrong
        headers = signed(body, webhook_id=value)
    status, answer = await post(url, body, headers)
    assert status == 400
    assert reason in answer["error"]
    assert got == []


async def test_forged_deliveries_write_one_warning_per_interval(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    """300 forged deliveries on a socket give one WARNING (each is still logged at DEBUG)."""
    url, got, receiver = served
    body = envelope()
    forged = {**signed(body), "X-Webhook-Signature": "v1," + base64.b64encode(bytes(32)).decode()}
    caplog.set_level(logging.DEBUG, logger="sentdm_async.webhooks")
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            async with session.post(url, data=body, headers=forged) as response:
                assert response.status == 400
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "webhook refused: WebhookVerificationError: no v1 signature matches the secret (1 tried)"
    ]
    assert sum(r.levelno == logging.DEBUG for r in caplog.records) == 300
    assert (receiver.refused, got) == (300, [])


async def test_the_warning_after_the_interval_counts_what_was_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """5,000 forgeries: one warning; after 60 s the next one says how many were held back."""
    now = [1000.0]
    receiver = webhooks.Receiver(SECRET, print, clock=lambda: now[0])
    body = envelope()
    forged = {**signed(body), "X-Webhook-Timestamp": "12"}
    with caplog.at_level(logging.WARNING, logger="sentdm_async.webhooks"):
        for _ in range(5000):
            assert (await receiver.handle(body, forged))[0] == 400
        now[0] += 59.0
        await receiver.handle(body, forged)
        assert len(caplog.records) == 1
        now[0] += 1.0
        await receiver.handle(body, forged)
    assert len(caplog.records) == 2
    assert "too old" in caplog.records[1].getMessage()
    assert "and 5000 more since the last warning" in caplog.records[1].getMessage()


async def test_a_sender_hanging_up_mid_body_is_logged_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A dropped connection mid-body: one DEBUG line, no aiohttp ERROR with a traceback.

    aiohttp's own server (AppRunner, not TestServer, which cancels the handler instead) hands
    the handler a ConnectionResetError.
    """
    caplog.set_level(logging.DEBUG)
    app = web.Application()
    app.router.add_post("/hooks", webhooks.aiohttp_handler(SECRET, print))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /hooks HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()
        for _ in range(500):  # until the handler saw the hang-up
            if any("hung up" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.01)
    finally:
        await runner.cleanup()
    mine = [r for r in caplog.records if "hung up" in r.getMessage()]
    assert [r.levelno for r in mine] == [logging.DEBUG]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_stalled_body_gets_408_and_the_connection_closed(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    """A body stalled after 1 byte is answered 408 at read_timeout, then the socket is closed."""
    caplog.set_level(logging.DEBUG)
    url, got, receiver = served
    port = int(url.split(":")[2].split("/")[0])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"POST /hooks HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)  # read() returns at EOF: closed
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"within 0.3 s" in answer
    assert (got, receiver.refused) == ([], 1)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_the_asgi_app_answers_408_to_a_stalled_body() -> None:
    """The ASGI app gives up on a body that stops arriving: 408 with Connection: close."""
    app = webhooks.asgi_app(SECRET, print, read_timeout=0.1)
    sent: list[MutableMapping[str, Any]] = []
    first = [{"type": "http.request", "body": b"{", "more_body": True}]

    async def receive() -> MutableMapping[str, Any]:
        if first:
            return first.pop()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    with anyio.fail_after(10):
        await app({"type": "http", "method": "POST", "headers": []}, receive, send)
    assert sent[0]["status"] == 408
    assert (b"connection", b"close") in sent[0]["headers"]


def test_read_timeout_is_checked_and_documented() -> None:
    """A zero or negative read_timeout fails at construction; the README quotes the default."""
    with pytest.raises(ValueError, match="read_timeout"):
        webhooks.asgi_app(SECRET, print, read_timeout=0)
    from .test_docs import README

    assert f"`read_timeout={webhooks.DEFAULT_READ_TIMEOUT:g}`" in README


def fastapi_app(got: list[webhooks.WebhookEvent]) -> FastAPI:
    """The README's FastAPI example, verbatim in shape."""
    api = FastAPI()
    api.router.routes.append(
        Route("/hooks/sent", webhooks.asgi_app(SECRET, got.append), methods=["POST"])
    )
    return api


def test_the_readme_fastapi_route_answers_on_the_exact_path() -> None:
    """POST /hooks/sent is handed over with 200 (no redirect), a replay is a duplicate."""
    from .test_docs import README

    assert (
        'Route("/hooks/sent", webhooks.asgi_app(secret, handle_event), methods=["POST"])' in README
    )
    got: list[webhooks.WebhookEvent] = []
    with TestClient(fastapi_app(got), follow_redirects=False) as client:
        answers = [
            client.post("/hooks/sent", content=body, headers=headers)
            for body, headers in replay_script()
        ]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert answers[1].json() == {"ok": True, "duplicate": True}
        assert client.get("/hooks/sent").status_code == 405
        forged = client.post("/hooks/sent", content=b"{}", headers=signed(b"[]"))
        assert forged.status_code == 400
        assert "no v1 signature matches" in forged.json()["error"]
    assert [(e.webhook_id, e.event_id) for e in got] == [("msg_1", "ev-1"), ("msg_2", "ev-2")]


def test_a_mount_redirects_which_is_why_the_readme_uses_a_route() -> None:
    """``api.mount`` answers the exact path with 307 (senders do not follow it); typed for mypy."""
    got: list[webhooks.WebhookEvent] = []
    api = FastAPI()
    api.mount("/hooks/sent", webhooks.asgi_app(SECRET, got.append))  # mypy: a Starlette ASGIApp
    body = envelope()
    with TestClient(api, follow_redirects=False) as client:
        response = client.post("/hooks/sent", content=body, headers=signed(body))
    assert response.status_code == 307
    assert got == []


def test_the_asgi_app_is_typed_for_starlette() -> None:
    """Mypy --strict checks this module: the app fits Mount, Route and Starlette's routes."""
    got: list[webhooks.WebhookEvent] = []
    app: webhooks.ASGIReceiver = webhooks.asgi_app(SECRET, got.append)
    routes: list[BaseRoute] = [
        Route("/hooks/sent", app, methods=["POST"]),
        Mount("/mounted", app=app),
    ]
    body = envelope()
    with TestClient(Starlette(routes=routes), follow_redirects=False) as client:
        assert client.post("/hooks/sent", content=body, headers=signed(body)).status_code == 200
        again = signed(body, webhook_id="wh-2")
        assert client.post("/mounted/", content=body, headers=again).status_code == 200
    assert app.receiver.handed_over == 2


async def test_a_chunked_body_past_the_cap_gets_413_and_the_connection_closed() -> None:
    """A body without Content-Length that grows past max_body: 413, not read further."""
    got: list[webhooks.WebhookEvent] = []
    app = web.Application()
    app.router.add_post("/hooks", webhooks.aiohttp_handler(SECRET, got.append, max_body=1000))
    async with TestServer(app, host="127.0.0.1") as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            chunk = b"x" * 800
            writer.write(b"POST /hooks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) * 2)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10)  # EOF: the server closed it
        finally:
            writer.close()
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert got == []


async def test_remembered_deliveries_are_bounded_and_concurrent_repeats_wait() -> None:
    """remember=1 forgets the oldest delivery; a repeat arriving mid-hand-over gets 409."""
    release = anyio.Event()
    got: list[str | None] = []

    async def target(event: webhooks.WebhookEvent) -> None:
        got.append(event.webhook_id)
        if event.webhook_id == "slow":
            await release.wait()

    receiver = webhooks.Receiver(SECRET, target, remember=1)
    body = envelope()
    first, second = signed(body, webhook_id="a"), signed(body, webhook_id="b")
    for headers in (first, second, first):  # "a" was forgotten when "b" came
        assert (await receiver.handle(body, headers))[0] == 200
    slow = signed(body, webhook_id="slow")
    statuses: list[int] = []
    async with anyio.create_task_group() as tg:

        async def deliver() -> None:
            statuses.append((await receiver.handle(body, slow))[0])

        tg.start_soon(deliver)
        await anyio.wait_all_tasks_blocked()
        statuses.append((await receiver.handle(body, slow))[0])  # the sender's early retry
        release.set()
    assert statuses == [409, 200]
    assert got == ["a", "b", "a", "slow"]


async def test_the_asgi_app_answers_nothing_to_a_sender_that_hung_up() -> None:
    """An http.disconnect mid-body ends the request without an answer or a warning."""
    app = webhooks.asgi_app(SECRET, print)
    messages: list[MutableMapping[str, Any]] = [
        {"type": "http.request", "body": b"{", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)  # pragma: no cover - nothing is sent

    await app({"type": "http", "method": "POST", "headers": []}, receive, send)
    assert (sent, app.receiver.refused) == ([], 0)
