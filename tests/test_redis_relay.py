"""WebhookRelay against a real redis-server: a receiver in one process, watchers in others."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
from typing import TYPE_CHECKING, cast

import aiohttp
import anyio
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestServer

from sentdm_async import AsyncSent, PollPolicy, webhooks
from sentdm_async.redis import WebhookRelay

from .conftest import API_KEY
from .test_webhooks import SECRET, envelope, signed

if TYPE_CHECKING:
    from collections.abc import Iterator

    from yarl import URL

    from sentdm_async import Watcher
    from sentdm_async.simulator import Simulator

    from .redis_server import RedisServer

SLOW = PollPolicy(min_interval=30.0, jitter=0.5)
_accounts = itertools.count()


def account() -> str:
    return f"sk_test_relay_{next(_accounts)}"


async def next_status(watcher: Watcher) -> tuple[str, str]:
    event = await asyncio.wait_for(anext(watcher), 5)
    assert event.activity is not None
    return event.message_id, event.activity.status


async def test_events_reach_the_watcher_of_any_process(
    redis_server: RedisServer, sim: Simulator
) -> None:
    """A delivery received by process A reaches the watchers of B and C, each its own message."""
    key = account()
    one, two = sim.create_messages(2, outcome="no_receipt")
    relays = [WebhookRelay(redis_server.url, key) for _ in range(3)]
    receiving, feeding_b, feeding_c = relays
    async with (
        AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as b,
        AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as c,
        b.messages.watcher(poll=SLOW) as watcher_b,
        c.messages.watcher(poll=SLOW) as watcher_c,
        anyio.create_task_group() as tg,
    ):
        watcher_b.add(one)
        watcher_c.add(two)
        tg.start_soon(feeding_b.feed, watcher_b)
        tg.start_soon(feeding_c.feed, watcher_c)
        await asyncio.sleep(0.2)  # both consumers are reading from "now"
        app = web.Application()
        app.router.add_post("/hooks", webhooks.aiohttp_handler(SECRET, receiving))
        async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as http:
            for message_id in (one, two):
                body = envelope("QUEUED", message_id=message_id)
                async with http.post(
                    server.make_url("/hooks"), data=body, headers=signed(body, event_id=message_id)
                ) as response:
                    assert response.status == 200
        assert await next_status(watcher_b) == (one, "QUEUED")
        assert await next_status(watcher_c) == (two, "QUEUED")
        tg.cancel_scope.cancel()
    assert sim.stats.by_route["activities"] == 0  # pushed, not polled
    for relay in relays:
        await relay.aclose()


async def test_a_restarted_consumer_gets_what_it_missed(
    redis_server: RedisServer, sim: Simulator
) -> None:
    """Events published while a consumer was down arrive when it resumes from its last id."""
    key = account()
    message_id = sim.create_message(outcome="no_receipt")
    publisher, consumer = WebhookRelay(redis_server.url, key), WebhookRelay(redis_server.url, key)
    async with (
        AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as client,
        client.messages.watcher(poll=SLOW) as watcher,
    ):
        watcher.add(message_id)
        async with anyio.create_task_group() as tg:
            tg.start_soon(consumer.feed, watcher)
            await asyncio.sleep(0.2)
            await publisher.publish(webhooks.parse(envelope("QUEUED", message_id=message_id)))
            assert await next_status(watcher) == (message_id, "QUEUED")
            tg.cancel_scope.cancel()  # the consumer's process stops...
        resume_from = consumer.last_id
        for status in ("ROUTED", "SENT"):  # ... while the receiver keeps publishing
            await publisher.publish(webhooks.parse(envelope(status, message_id=message_id)))
        restarted = WebhookRelay(redis_server.url, key)
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: restarted.feed(watcher, start=resume_from))
            assert await next_status(watcher) == (message_id, "ROUTED")
            assert await next_status(watcher) == (message_id, "SENT")
            tg.cancel_scope.cancel()
    for relay in (publisher, consumer, restarted):
        await relay.aclose()


async def test_stream_is_bounded_and_keeps_event_ids(redis_server: RedisServer) -> None:
    """The stream keeps at most maxlen events; relayed events keep their event id."""
    key = account()
    relay = WebhookRelay(redis_server.url, key, maxlen=5, exact_trim=True)
    body = envelope("SENT")
    event = webhooks.construct_event(body, signed(body, event_id="ev-7"), SECRET)
    for _ in range(20):
        await relay.publish(event)
    client = aioredis.from_url(redis_server.url)
    assert await client.xlen(relay.stream) == 5
    entries = await client.xrange(relay.stream, count=1)
    assert entries
    fields = entries[0][1]
    assert fields is not None
    assert json.loads(fields[b"event"])["event_id"] == "ev-7"
    await client.aclose()
    await relay.aclose()


# -- outages: Redis killed, restarted, paused ---------------------------------------------------


@pytest.fixture
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of this test alone, to kill and restart on the same port."""
    from .redis_server import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis-relay"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def deliver(http: aiohttp.ClientSession, url: URL, status: str, message_id: str) -> int:
    """POST one signed delivery of ``status`` for ``message_id``; return the HTTP status."""
    body = envelope(status, message_id=message_id)
    headers = signed(body, event_id=f"{message_id}-{status}")
    async with http.post(url, data=body, headers=headers) as response:
        return response.status


async def test_the_relay_survives_a_redis_restart(
    own_redis: RedisServer, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis killed and restarted empty: deliveries meanwhile get 200 and reach the watcher after.

    No persistence, so the restart loses the stream: what carries the outage's events is the
    receiver's spool, written to the new stream when Redis is back; the feed reconnects on its
    own, logs the outage once, and goes on reading.
    """
    key = account()
    message_id = sim.create_message(outcome="no_receipt")
    receiving = WebhookRelay(own_redis.url, key, timeout=0.5, reconnect_max=0.2)
    feeding = WebhookRelay(own_redis.url, key, timeout=0.5, reconnect_max=0.2)
    app = web.Application()
    app.router.add_post("/hooks", webhooks.aiohttp_handler(SECRET, receiving))
    async with (
        AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as client,
        client.messages.watcher(poll=SLOW) as watcher,
        TestServer(app, host="127.0.0.1") as server,
        aiohttp.ClientSession() as http,
    ):
        watcher.add(message_id)
        url = server.make_url("/hooks")
        with caplog.at_level(logging.INFO, logger="sentdm_async.redis"):
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: feeding.feed(watcher, block=0.2))
                await asyncio.sleep(0.2)
                assert await deliver(http, url, "QUEUED", message_id) == 200
                assert await next_status(watcher) == (message_id, "QUEUED")
                own_redis.stop()  # a crash: SIGKILL, nothing saved
                for status in ("PROCESSED", "ROUTED", "SENT"):
                    assert await deliver(http, url, status, message_id) == 200  # spooled
                assert receiving.spooled == 3
                await asyncio.sleep(0.5)  # the feed retries meanwhile
                own_redis.start()  # the same port, an empty Redis
                for status in ("PROCESSED", "ROUTED", "SENT"):
                    assert await next_status(watcher) == (message_id, status)
                # The feed can read the spool's write before the writer has its reply: the
                # spool empties once the transaction's answer is in.
                with anyio.fail_after(5):
                    while receiving.spooled:  # noqa: ASYNC110 - the flusher task empties it
                        await asyncio.sleep(0.01)
                assert await deliver(http, url, "DELIVERED", message_id) == 200  # feed goes on
                assert await next_status(watcher) == (message_id, "DELIVERED")
                tg.cancel_scope.cancel()
    feed_warnings = [r for r in caplog.records if "relay feed: Redis unusable" in r.message]
    assert len(feed_warnings) == 1  # once per outage, not per attempt
    assert "relay feed: Redis answers again" in caplog.text
    assert "3 spooled webhook events written" in caplog.text
    assert sim.stats.by_route["activities"] == 0  # every step came by push
    for relay in (receiving, feeding):
        await relay.aclose()


class Recorder:
    """Stands in for a watcher: records every pushed status, in order."""

    def __init__(self) -> None:
        self.statuses: list[str] = []
        self._pushed = asyncio.Event()

    def push(self, event: webhooks.WebhookEvent) -> None:
        assert isinstance(event, webhooks.MessageEvent)
        self.statuses.append(event.payload.message_status)
        self._pushed.set()

    async def wait_for(self, count: int) -> list[str]:
        """Wait until ``count`` distinct statuses came; return all that came."""
        with anyio.fail_after(10):  # a guard against a hang
            while len(set(self.statuses)) < count:
                self._pushed.clear()
                await self._pushed.wait()
        return self.statuses


@pytest.mark.parametrize("outage", ["killed-with-aof", "paused"])
async def test_events_cross_an_outage_in_order(
    tmp_path_factory: pytest.TempPathFactory, outage: str
) -> None:
    """Published before, during and after an outage: every event read, in order, none lost.

    With an append-only file the stream survives the restart and the feed resumes after its last
    id (nothing read twice). A paused Redis (SIGSTOP) runs the write that timed out when it
    resumes, so that event may be read twice: at least once, in order.
    """
    from .redis_server import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis-outage"), appendonly=True)
    server.start()
    key = account()
    publisher = WebhookRelay(server.url, key, timeout=0.3, reconnect_max=0.2)
    consumer = WebhookRelay(server.url, key, timeout=0.3, reconnect_max=0.2)
    recorder = Recorder()
    statuses = ["QUEUED", "PROCESSED", "ROUTED", "SENT", "DELIVERED"]
    events = [webhooks.parse(envelope(status)) for status in statuses]
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: consumer.feed(cast("Watcher", recorder), block=0.2))
            await asyncio.sleep(0.2)
            assert await publisher.publish(events[0]) is not None
            await publisher.publish(events[1])  # in the stream, perhaps not read yet
            with contextlib.ExitStack() as outage_scope:
                if outage == "paused":
                    outage_scope.enter_context(server.paused())
                else:
                    server.stop()
                assert await publisher.publish(events[2]) is None  # spooled
                assert await publisher.publish(events[3]) is None
                await asyncio.sleep(0.5)
                if outage != "paused":
                    server.start()
            await publisher.publish(events[4])  # behind the spooled ones
            seen = await recorder.wait_for(len(statuses))
            tg.cancel_scope.cancel()
    finally:
        await publisher.aclose()
        await consumer.aclose()
        server.stop()
    assert list(dict.fromkeys(seen)) == statuses
    if outage != "paused":
        assert seen == statuses


async def test_a_full_spool_answers_503_with_retry_after(own_redis: RedisServer) -> None:
    """Beyond the spool's bound a delivery gets 503 and Retry-After; its retry goes through."""
    relay = WebhookRelay(own_redis.url, account(), spool=2, timeout=0.3, reconnect_max=0.1)
    app = web.Application()
    app.router.add_post("/hooks", webhooks.aiohttp_handler(SECRET, relay))
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as http:
        url = server.make_url("/hooks")
        own_redis.stop()
        assert await deliver(http, url, "QUEUED", "m-1") == 200
        assert await deliver(http, url, "QUEUED", "m-2") == 200
        body = envelope("QUEUED", message_id="m-3")
        headers = signed(body, event_id="m-3-QUEUED")
        async with http.post(url, data=body, headers=headers) as response:
            assert response.status == 503
            assert response.headers["Retry-After"] == "30"
        own_redis.start()
        with anyio.fail_after(10):
            while relay.spooled:  # noqa: ASYNC110 - the relay's own task writes the spool
                await asyncio.sleep(0.02)
        async with http.post(url, data=body, headers=headers) as response:
            assert response.status == 200  # the sender's retry: handed over, not a duplicate
    client = aioredis.from_url(own_redis.url)
    assert await client.xlen(relay.stream) == 3
    await client.aclose()
    await relay.aclose()


async def test_closing_with_redis_down_says_what_is_lost(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A relay closed while events are still spooled logs how many are lost; none kept silently."""
    relay = WebhookRelay(own_redis.url, account(), timeout=0.3)
    own_redis.stop()
    with caplog.at_level(logging.INFO, logger="sentdm_async.redis"):
        assert await relay.publish(webhooks.parse(envelope("SENT"))) is None
        await relay.aclose()
    assert "1 webhook events not written" in caplog.text
    assert relay.spooled == 0


def test_bad_relay_arguments(redis_server: RedisServer) -> None:
    """Bad spool sizes, timeouts or reconnect caps fail at construction."""
    with pytest.raises(ValueError, match="spool"):
        WebhookRelay(redis_server.url, "k", spool=-1)
    with pytest.raises(ValueError, match="timeout"):
        WebhookRelay(redis_server.url, "k", timeout=0)
    with pytest.raises(ValueError, match="reconnect_max"):
        WebhookRelay(redis_server.url, "k", reconnect_max=math.inf)
