"""Watcher checkpoints: a restarted process goes on without re-yielding what was read."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import anyio
import msgspec
import pytest

from sentdm_async import (
    AsyncSent,
    InvalidIdError,
    NotFoundError,
    PollPolicy,
    SentError,
    WatchEvent,
    WatchTimeoutError,
    webhooks,
)

from .conftest import API_KEY

if TYPE_CHECKING:
    from sentdm_async.simulator import Simulator

FAST = PollPolicy(min_interval=0.01, max_interval=0.05, not_found_grace=0.3)

#: A saved message's fields, in the order the checkpoint's msgpack arrays hold them.
SAVED_FIELDS = ("message_id", "seen", "rank", "stop", "deadline", "last")


async def tampered_checkpoint(client: AsyncSent, field: str, value: object) -> bytes:
    """A real one-message checkpoint with one field of its message replaced, re-encoded."""
    slow = PollPolicy(min_interval=60.0, max_interval=60.0)
    async with client.messages.watcher(poll=slow) as watcher:
        watcher.add("m-1")
        data = msgspec.msgpack.decode(watcher.checkpoint())
    [message] = data["messages"]
    message[SAVED_FIELDS.index(field)] = value
    return msgspec.msgpack.encode(data)


def steps(events: list[WatchEvent]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for event in events:
        if event.activity is not None:
            out.setdefault(event.message_id, []).append(event.activity.status)
    return out


async def test_restart_goes_on_without_repeating_a_step(sim: Simulator) -> None:
    """Read part of a watch, checkpoint, stop; a new process restores and finishes it.

    Every message's steps, read by the old process then the new one, are its lifecycle once
    and in order.
    """
    ids = sim.create_messages(30, outcome="delivered")
    read_before: list[WatchEvent] = []
    async with (
        AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as first,
        first.messages.watcher(poll=FAST) as watcher,
    ):
        for message_id in ids:
            watcher.add(message_id)
        watcher.finish()
        async for event in watcher:
            read_before.append(event)
            if len(read_before) == 40:
                break
        await asyncio.sleep(0.05)  # more events pile up unread: they must not be lost
        saved = watcher.checkpoint()
    assert isinstance(saved, bytes)
    async with (
        AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as second,
        second.messages.watcher(poll=FAST) as restored,
    ):
        assert restored.restore(saved) > 0
        with anyio.fail_after(20):
            read_after = [e async for e in restored]
    before, after = steps(read_before), steps(read_after)
    for message_id in ids:
        planned = [status for _, status in sim.lifecycle(message_id)]
        whole = before.get(message_id, []) + after.get(message_id, [])
        assert whole == planned[: len(whole)]
        assert whole[-1] == "DELIVERED"
    done = [e.message_id for e in read_before + read_after if e.done]
    assert sorted(done) == sorted(ids)


async def test_deadlines_are_wall_time_and_errors_survive(sim: Simulator) -> None:
    """A deadline that passed during the restart fires at once; unread errors come back.

    The unread error event is restored as the same class, with its status and code.
    """
    stuck = sim.create_message(outcome="no_receipt")
    missing = "no-such-message"
    async with AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as client:
        async with client.messages.watcher(poll=FAST) as watcher:
            watcher.add(stuck, timeout=0.5)
            watcher.add(missing)
            await asyncio.sleep(0.5)  # the 404 grace (0.3 s) passes: an error event is buffered
            saved = watcher.checkpoint()
        await asyncio.sleep(0.6)  # the "restart" outlasts the stuck message's deadline
        async with client.messages.watcher(poll=FAST) as restored:
            restored.restore(saved)
            restored.finish()
            with anyio.fail_after(10):
                events = [e async for e in restored if e.done]
    by_id = {e.message_id: e.error for e in events}
    assert isinstance(by_id[stuck], WatchTimeoutError)
    not_found = by_id[missing]
    assert isinstance(not_found, NotFoundError)
    assert (not_found.status_code, not_found.code) == (404, "RESOURCE_003")


async def test_bad_checkpoints_are_refused(client: AsyncSent) -> None:
    """Garbage, another format or a malformed id in it: a clear error, nothing watched."""
    async with client.messages.watcher() as watcher:
        for garbage in (b"", b"not msgpack", b"\x93\x01\x02\x03"):
            with pytest.raises(SentError, match="checkpoint"):
                watcher.restore(garbage)
        bad = await tampered_checkpoint(client, "message_id", "..")
        with pytest.raises(InvalidIdError):
            watcher.restore(bad)
        assert watcher.active == 0
        assert watcher.restore(await tampered_checkpoint(client, "seen", 0)) == 1  # the control


async def test_checkpoint_size_per_message(client: AsyncSent, sim: Simulator) -> None:
    """A 10,000-message watch saves to well under 100 bytes a message."""
    del sim
    slow = PollPolicy(min_interval=60.0, max_interval=60.0)
    async with client.messages.watcher(poll=slow, timeout=3600) as watcher:
        for n in range(10_000):
            watcher.add(f"message-{n:05d}")
        saved = watcher.checkpoint()
    assert len(saved) / 10_000 < 100


def message_event(message_id: str, status: str) -> webhooks.MessageEvent:
    """A verified message event, as a receiver hands it to `Watcher.push`."""
    payload = webhooks.MessageStatusPayload(message_status=status, message_id=message_id)
    return webhooks.MessageEvent(field="message", event=f"message.{status}", payload=payload)


async def test_restore_after_pushes_yields_no_step_again(sim: Simulator) -> None:
    """Steps read by push, then a restart: the restored watch goes on after them, in order.

    The restored watcher's first poll reads the whole log (QUEUED ... DELIVERED); steps up to
    the pushed SENT were read already and must not come again, nor anything before them.
    """
    ids = sim.create_messages(8, outcome="delivered", channel="sms")
    slow = PollPolicy(min_interval=30.0, max_interval=60.0)
    async with AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as first:
        async with first.messages.watcher(poll=slow, expect_pushes=True) as watcher:
            for message_id in ids:
                watcher.add(message_id)
                watcher.push(message_event(message_id, "queued"))
                watcher.push(message_event(message_id, "sent"))
            with anyio.fail_after(5):
                before = [await anext(watcher) for _ in range(2 * len(ids))]
            saved = watcher.checkpoint()
        assert sim.stats.by_route["activities"] == 0  # everything so far came by push
        async with first.messages.watcher(poll=FAST) as restored:
            assert restored.restore(saved) == len(ids)
            restored.finish()
            with anyio.fail_after(20):
                after = [e async for e in restored]
    assert steps(before) == {m: ["QUEUED", "SENT"] for m in ids}
    assert steps(after) == {m: ["DELIVERED"] for m in ids}


async def test_restore_applies_this_watchers_timeout_and_until(sim: Simulator) -> None:
    """A message saved without a deadline gets the restoring watcher's ``timeout``."""
    stuck = sim.create_message(outcome="no_receipt")
    async with AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None) as client:
        async with client.messages.watcher(poll=FAST) as watcher:
            watcher.add(stuck)
            saved = watcher.checkpoint()
        async with client.messages.watcher(poll=FAST, timeout=0.3) as restored:
            restored.restore(saved)
            restored.finish()
            with anyio.fail_after(10):
                events = [e async for e in restored if e.done]
    assert [type(e.error) for e in events] == [WatchTimeoutError]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("deadline", float("nan"), id="nan-deadline"),
        pytest.param("deadline", float("inf"), id="infinite-deadline"),
        pytest.param("seen", -1, id="negative-position"),
        pytest.param("rank", 99, id="impossible-rank"),
    ],
)
async def test_impossible_checkpoint_entries_are_refused(
    client: AsyncSent, field: str, value: float
) -> None:
    """A checkpoint no watcher could write is refused whole, with a SentError naming it."""
    bad = await tampered_checkpoint(client, field, value)
    async with client.messages.watcher() as watcher:
        with pytest.raises(SentError, match="checkpoint"):
            watcher.restore(bad)
        assert watcher.active == 0


async def test_add_twice_watches_once(client: AsyncSent, sim: Simulator) -> None:
    """Adding an id already watched changes nothing but the options given; ``in`` tells."""
    message_id = sim.create_message(outcome="no_receipt")
    async with client.messages.watcher(poll=FAST) as watcher:
        assert message_id not in watcher
        watcher.add(message_id)
        watcher.add(message_id)
        assert message_id in watcher
        assert watcher.active == 1
        watcher.add(message_id, timeout=0.2)  # a new timeout applies, counted from now
        watcher.finish()
        with anyio.fail_after(10):
            events = [e async for e in watcher]
        assert message_id not in watcher
    statuses = [e.activity.status for e in events if e.activity is not None]
    assert len(statuses) == len(set(statuses))  # each step once
    assert [type(e.error) for e in events if e.done] == [WatchTimeoutError]


async def test_restore_keeps_a_live_watch_of_the_same_id(client: AsyncSent, sim: Simulator) -> None:
    """Re-adding rows after a crash, then restoring: each message is watched once."""
    message_id = sim.create_message(outcome="delivered")
    async with client.messages.watcher(poll=FAST) as old:
        old.add(message_id)
        saved = old.checkpoint()
    async with client.messages.watcher(poll=FAST) as watcher:
        watcher.add(message_id)
        assert watcher.restore(saved) == 0
        assert watcher.active == 1
        watcher.finish()
        with anyio.fail_after(20):
            events = [e async for e in watcher]
    assert sum(e.done for e in events) == 1
