"""Layer 1: the fan-out engine's own guarantees (outbox, task group, close), no HTTP."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import anyio
import pytest

from sentdm_async._bulk.engine import Handle, Outbox, fan_out

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable


async def settle() -> None:
    """Let every woken task run until it blocks again."""
    for _ in range(10):
        await anyio.lowlevel.checkpoint()


async def handed_then_cancelled(
    receive: Callable[[], Awaitable[int]], put: Callable[[], None]
) -> list[int]:
    """A reader waits; an item is handed to it, then its task is cancelled before it resumes.

    The cancellation is a native ``task.cancel()``, as ``asyncio.timeout`` and ``wait_for``
    deliver it (an anyio scope cancelled at that moment lands at the reader's next checkpoint
    instead, after the item was returned).
    """
    got: list[int] = []

    async def reader() -> None:
        got.append(await receive())

    task = asyncio.ensure_future(reader())
    await settle()  # the reader waits, no cancellation pending
    put()
    task.cancel()  # arrives after the hand-over, before the reader runs
    with pytest.raises(asyncio.CancelledError):
        await task
    return got


async def test_anyio_memory_stream_still_loses_an_item_handed_to_a_cancelled_receive() -> None:
    """Why the Outbox is not a memory object stream: anyio loses this item (if it stops, switch)."""
    send, receive = anyio.create_memory_object_stream[int](10)
    with send, receive:
        got = await handed_then_cancelled(receive.receive, lambda: send.send_nowait(1))
        assert got == []
        with pytest.raises(anyio.WouldBlock):
            receive.receive_nowait()  # neither read nor buffered: the item is gone


async def test_outbox_keeps_an_item_handed_to_a_cancelled_read() -> None:
    """The same cancellation of an Outbox read leaves the item for the next read."""
    outbox: Outbox[int] = Outbox()
    got = await handed_then_cancelled(outbox.get, lambda: outbox.put(1))
    assert got == []
    assert outbox.pending() == [1]
    assert await outbox.get() == 1


async def ids(n: int, started: list[int]) -> AsyncIterator[str]:
    """An async id source that records how far it was pulled."""
    for i in range(n):
        started.append(i)
        yield f"id{i}"


async def test_a_generator_yielding_inside_async_with_closes_from_another_task() -> None:
    """Yielding from ``async with`` a handle is safe: asyncio's finaliser closes it elsewhere."""

    async def fetch(item: str) -> str:
        return item

    async def results() -> AsyncGenerator[str, None]:
        async with Handle(fan_out(fetch, ids(5, []), concurrency=2)) as handle:
            async for result in handle:
                yield result

    before = asyncio.all_tasks()
    agen = results()
    assert (await anext(agen)).startswith("id")
    # asyncio finalises an abandoned async generator with aclose() in a task of its own: a task
    # group held by the handle would raise "exit cancel scope in a different task" here.
    await asyncio.create_task(agen.aclose())
    await settle()
    assert asyncio.all_tasks() == before  # and the work is gone


async def test_aclose_waits_for_the_work_even_when_its_caller_is_cancelled() -> None:
    """A cancelled caller's aclose() still waits (shielded) until the work has unwound."""
    unwound: list[str] = []

    async def fetch(item: str) -> str:
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.01)  # slow to unwind
            unwound.append(item)
        return item

    handle = Handle(fan_out(fetch, ["a", "b"], concurrency=2))
    with anyio.CancelScope() as scope:
        async with handle:
            await settle()
            scope.cancel()  # the body is cancelled: __aexit__ closes under a cancelled scope
            await anyio.sleep_forever()
    assert sorted(unwound) == ["a", "b"]


async def test_native_cancel_of_aclose_is_not_swallowed() -> None:
    """A second task.cancel() during aclose() is raised, not absorbed by a retry loop."""
    gate = anyio.Event()

    async def fetch(item: str) -> str:
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await gate.wait()  # the work cannot unwind until the test allows it
        return item

    job = fan_out(fetch, ["a"], concurrency=1)
    job.start()  # a runner task of its own, as a plain ``async for`` starts it
    await settle()

    task = asyncio.ensure_future(job.aclose())
    await settle()  # aclose() cancelled the work and waits for it, which cannot unwind yet
    assert not task.done()
    task.cancel()
    await settle()
    assert task.cancelled()  # the cancellation was raised, not swallowed while the work hangs
    gate.set()
    await settle()
    assert not job.running
