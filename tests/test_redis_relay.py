"""WebhookRelay against a real redis-server: a receiver in one process, watchers in others."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import TYPE_CHECKING

import aiohttp
import anyio
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestServer

from sentdm_async import AsyncSent, PollPolicy, webhooks
from sentdm_async.redis import WebhookRelay

from .conftest import API_KEY
from .test_webhooks import SECRET, envelope, signed

if TYPE_CHECKING:
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
