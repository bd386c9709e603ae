"""Pushed steps merged into the watcher: at once, each step once, in order; polls fill gaps.

The simulator on a real socket answers the polls; the tests push as a webhook sender would.
"""

from __future__ import annotations

import asyncio
import random
import time

import anyio

from sentdm_async import FAILURE_STATUSES, AsyncSent, PollPolicy, Watcher, WatchEvent
from sentdm_async.simulator import Simulator
from sentdm_async.webhooks import MessageEvent, MessageStatusPayload

from .conftest import API_KEY, RecordingSleep

FAST = PollPolicy(min_interval=0.01, max_interval=0.05, not_found_grace=0.3)

#: Sent's lifecycle order (its status-tracking guide), written out here as the test's own oracle.
LIFECYCLE = {
    **{s: n for n, s in enumerate(("QUEUED", "SCHEDULED", "PROCESSED", "ROUTED", "SENT"))},
    "DELIVERED": 5,
    "READ": 6,
    **dict.fromkeys(FAILURE_STATUSES, 7),
}


def push(watcher: Watcher, message_id: str, status: str) -> bool:
    """Hand the watcher a verified message event, as a webhook receiver does."""
    payload = MessageStatusPayload(message_status=status, message_id=message_id)
    event = MessageEvent(field="message", event=f"message.{status.lower()}", payload=payload)
    return watcher.push(event)


def assert_once_in_order(events: list[WatchEvent]) -> None:
    """Per message: no status twice, ranks strictly increasing, exactly one done at the end."""
    by_id: dict[str, list[WatchEvent]] = {}
    for event in events:
        by_id.setdefault(event.message_id, []).append(event)
    for message_events in by_id.values():
        statuses = [e.activity.status for e in message_events if e.activity is not None]
        ranks = [LIFECYCLE[s] for s in statuses]
        assert ranks == sorted(set(ranks)), statuses
        assert [e.done for e in message_events] == [False] * (len(message_events) - 1) + [True]


async def test_pushed_step_is_yielded_at_once(client: AsyncSent, sim: Simulator) -> None:
    """A push is the next event at once, before any poll of that message went out."""
    message_id = sim.create_message(outcome="no_receipt")
    slow = PollPolicy(min_interval=30.0, max_interval=60.0, jitter=0.5)
    async with client.messages.watcher(poll=slow) as watcher:
        watcher.add(message_id)
        assert push(watcher, message_id, "QUEUED")
        event = await asyncio.wait_for(anext(watcher), 1.0)
        assert event.activity is not None
        assert (event.message_id, event.activity.status) == (message_id, "QUEUED")
        assert not push(watcher, message_id, "QUEUED")  # a duplicate delivery
        assert not push(watcher, "someone-else", "SENT")  # not watched here
        assert not push(watcher, message_id, "MYSTERY")  # no place in the lifecycle: polls say
        assert sim.stats.by_route["activities"] == 0


async def test_duplicated_late_and_reordered_pushes(client: AsyncSent, sim: Simulator) -> None:
    """Pushes in any order, duplicated, merged with polls: each step once, in order."""
    message_id = sim.create_message(outcome="delivered", channel="sms")
    await asyncio.sleep(max(0.0, (sim.terminal_at(message_id) or 0) - time.monotonic()))
    policy = PollPolicy(min_interval=0.01, max_interval=0.05, overdue_after=0.2)
    async with client.messages.watcher(poll=policy) as watcher:
        watcher.add(message_id)
        for status in ("SENT", "QUEUED", "SENT", "ROUTED"):
            push(watcher, message_id, status)
        watcher.finish()
        events = [e async for e in watcher]
    assert_once_in_order(events)
    statuses = [e.activity.status for e in events if e.activity is not None]
    assert statuses[0] == "SENT"  # pushed first, yielded first; the earlier steps were overtaken
    assert statuses[-1] == "DELIVERED"  # no push for it: a poll filled the gap


async def test_dropped_terminal_push_is_found_by_polling(client: AsyncSent, sim: Simulator) -> None:
    """Pushes up to SENT, the DELIVERED delivery lost: the watch still ends, by a poll."""
    message_id = sim.create_message(outcome="delivered")
    policy = PollPolicy(min_interval=0.01, max_interval=0.05, overdue_after=0.1)
    async with client.messages.watcher(poll=policy) as watcher:
        watcher.add(message_id)
        push(watcher, message_id, "QUEUED")
        push(watcher, message_id, "SENT")
        watcher.finish()
        with anyio.fail_after(10):
            events = [e async for e in watcher]
    assert events[-1].done
    assert events[-1].activity is not None
    assert events[-1].activity.status == "DELIVERED"
    assert_once_in_order(events)


async def feed_pushes(
    sim: Simulator, watcher: Watcher, ids: list[str], drop: float, rng: random.Random
) -> None:
    """Act as a webhook sender: push each step when the simulator reaches it, some dropped."""
    created = time.monotonic()
    plan = sorted(
        (offset, message_id, status)
        for message_id in ids
        for offset, status in sim.lifecycle(message_id)
        if status != "PROCESSED"  # Sent has no webhook event for it
    )
    for offset, message_id, status in plan:
        await asyncio.sleep(max(0.0, created + offset - time.monotonic()))
        if rng.random() >= drop:
            push(watcher, message_id, status)


async def run_watch(
    sim: Simulator, client: AsyncSent, ids: list[str], *, pushes: bool, drop: float = 0.0
) -> tuple[list[WatchEvent], int]:
    policy = PollPolicy(min_interval=0.2, max_interval=1.0, overdue_after=1.0)
    before = sim.stats.by_route["activities"]
    async with (
        client.messages.watch_many(ids, poll=policy, timeout=30.0) as watcher,
        anyio.create_task_group() as tg,
    ):
        if pushes:
            tg.start_soon(feed_pushes, sim, watcher, ids, drop, random.Random(5))
        events = [e async for e in watcher]
        tg.cancel_scope.cancel()
    return events, sim.stats.by_route["activities"] - before


async def test_pushes_cut_requests_and_lose_nothing(sleeps: RecordingSleep) -> None:
    """Polling alone vs pushes with 20% dropped: same outcomes, steps once, fewer requests.

    The same kind of messages are watched twice; with pushes every message still ends at
    DELIVERED (a dropped terminal push is found by a poll), and the requests fall.
    """
    del sleeps
    n = 30
    async with (
        Simulator(api_key=API_KEY, seed=3, speed=240.0) as sim,
        AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as client,
    ):
        polled_ids = sim.create_messages(n, outcome="delivered")
        polled, polled_requests = await run_watch(sim, client, polled_ids, pushes=False)
        pushed_ids = sim.create_messages(n, outcome="delivered")
        pushed, pushed_requests = await run_watch(sim, client, pushed_ids, pushes=True, drop=0.2)
    for events, ids in ((polled, polled_ids), (pushed, pushed_ids)):
        assert_once_in_order(events)
        finals = {e.message_id: e for e in events if e.done}
        assert set(finals) == set(ids)
        assert all(
            e.activity is not None and e.activity.status == "DELIVERED" for e in finals.values()
        )
    assert pushed_requests < polled_requests


async def test_terminal_push_during_a_poll_ends_the_watch_once(
    client: AsyncSent, sim: Simulator
) -> None:
    """A terminal push while the message's poll is in flight ends the watch exactly once.

    A second end used to drive the active count below zero, and the watcher never finished.
    """
    message_id = sim.create_message(outcome="delivered")
    await asyncio.sleep(max(0.0, (sim.terminal_at(message_id) or 0) - time.monotonic()))
    sim.latency = 0.3  # the poll is still out when the push arrives
    async with client.messages.watcher(poll=FAST, timeout=0.2) as watcher:
        watcher.add(message_id)
        await asyncio.sleep(0.05)
        assert (watcher.polls, sim.stats.in_flight) == (1, 1)
        assert push(watcher, message_id, "DELIVERED")
        watcher.finish()
        with anyio.fail_after(5):
            events = [e async for e in watcher]
        assert watcher.active == 0
    assert [(e.activity.status if e.activity else None, e.done) for e in events] == [
        ("DELIVERED", True)
    ]
