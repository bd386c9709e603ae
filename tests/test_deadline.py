"""Per-attempt deadlines: one loop timer per client instead of aiohttp's timer per request."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import pytest

from sentdm_async import APITimeoutError, AsyncSent
from sentdm_async._http.deadline import Deadlines

from .conftest import API_KEY

if TYPE_CHECKING:
    from sentdm_async.simulator import Simulator


async def _attempt(deadlines: Deadlines, seconds: float, wait: asyncio.Future[None]) -> str:
    """What the transport does around an attempt, with ``wait`` as the request."""
    task = deadlines.start(seconds)
    try:
        await wait
    except asyncio.CancelledError:
        if deadlines.expired(task):
            return "timed out"
        raise
    finally:
        deadlines.stop(task)
    return "answered"


async def test_an_attempt_past_its_deadline_times_out_and_the_task_goes_on() -> None:
    """The deadline's cancellation becomes a timeout, and the task is not left cancelling."""
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    assert await _attempt(deadlines, 0.05, loop.create_future()) == "timed out"
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    await asyncio.sleep(0)  # no cancellation is still pending on this task


async def test_a_cancellation_landing_with_the_deadline_is_not_swallowed() -> None:
    """The caller's cancellation in the same loop iteration as the deadline propagates."""
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(_attempt(deadlines, 0.05, loop.create_future()))
    await asyncio.sleep(0)  # the attempt has started: the timer is armed
    loop.call_at(deadlines._when, task.cancel)  # fires right after the deadline's own timer
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_caller_cancellation_before_the_deadline_propagates() -> None:
    """A plain cancellation is the caller's: it propagates and leaves no deadline behind."""
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(_attempt(deadlines, 30.0, loop.create_future()))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not deadlines._entries
    assert not deadlines._expired


async def test_an_answer_in_the_deadline_s_iteration_is_not_a_stray_cancellation() -> None:
    """Answered and cancelled by the deadline at once: a timeout, and nothing pending after."""
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[None] = loop.create_future()
    task = asyncio.create_task(_attempt(deadlines, 0.05, answer))
    await asyncio.sleep(0)
    loop.call_at(deadlines._when - 1e-9, answer.set_result, None)  # just before the timer
    assert await task in ("answered", "timed out")
    assert task.cancelling() == 0


async def test_a_shorter_deadline_rearms_the_timer() -> None:
    """A second attempt with an earlier deadline is not held to the first one's timer."""
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    slow = asyncio.create_task(_attempt(deadlines, 30.0, loop.create_future()))
    await asyncio.sleep(0)
    start = time.monotonic()
    assert await _attempt(deadlines, 0.05, loop.create_future()) == "timed out"
    assert time.monotonic() - start < 5.0
    assert not slow.done()  # its own deadline is still ahead
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    deadlines.close()


async def test_every_attempt_is_held_to_its_own_timeout(sim: Simulator) -> None:
    """Slow answers time out per attempt, the rest of a burst is answered.

    A copy with a shorter timeout is held to its own while a longer call is in flight.
    """
    message_id = sim.create_message()
    sim.inject("delay", delay=3.0, times=3)
    async with AsyncSent(
        api_key=API_KEY, base_url=sim.base_url, rate_limit=None, timeout=30.0, max_retries=0
    ) as client:
        slow = client.with_options(timeout=0.3)
        outcomes: list[str] = []

        async def call(target: AsyncSent) -> None:
            try:
                await target.messages.retrieve_activities(message_id)
            except APITimeoutError as exc:
                outcomes.append("timeout" if "timeout=0.3s" in str(exc) else str(exc))
            else:
                outcomes.append("ok")

        async with anyio.create_task_group() as tg:
            tg.start_soon(call, client)  # delayed 3 s, within its 30 s: answered
            await anyio.sleep(0.05)
            start = time.monotonic()
            tg.start_soon(call, slow)  # delayed too: its 0.3 s runs out first
            tg.start_soon(call, slow)
            for _ in range(5):
                tg.start_soon(call, slow)  # not delayed: answered
            await anyio.lowlevel.checkpoint()
        assert sorted(outcomes) == ["ok"] * 6 + ["timeout"] * 2
        assert time.monotonic() - start >= 2.5  # the 30 s call waited for its answer
