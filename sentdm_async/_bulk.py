"""Bounded, streaming fan-out of activity-log fetches over a lazy stream of ids.

Design: a fixed pool of ``concurrency`` worker tasks pulls ids straight from the caller's iterable
(no task per id, no queue of ids), fetches, and appends the answer to a small buffer that the
caller's ``async for`` drains. A worker whose answer would overfill the buffer waits, so memory
stays at about ``2 x concurrency`` ids and answers however long the input is.

The object the caller iterates (`ActivityStream`) is a handle on the job behind it (`_Job`), as
`_handle` explains: a ``break`` frees it and cancels the in-flight requests, so no request starts
after the break and no worker is left waiting on a buffer nobody reads.

Rejected alternatives: a task per id (``asyncio.gather`` over a semaphore) creates millions of
tasks up front; ``asyncio.wait`` over the in-flight set re-registers callbacks on every task for
every answer (O(concurrency) per id); an async generator holding a task group cannot be closed
safely from another task when the caller breaks out of its loop.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Final

from ._handle import Handle
from ._ids import message_path
from .errors import SentError
from .models import ActivityLog, ActivityResult, Envelope

if TYPE_CHECKING:
    import msgspec

    from ._transport import Transport

__all__ = ["ActivityStream", "activity_stream"]

#: In ordered mode a worker may run at most this many multiples of ``concurrency`` ahead of the
#: oldest unanswered id (the reorder window), so one slow id cannot make the buffer grow unbounded.
ORDERED_WINDOW_FACTOR: Final = 4

#: Ids that `message_path` would accept and leave unquoted (uuids, the API's ids): their path is
#: built without the general check and ``quote`` (a few microseconds an id); others go through
#: `message_path`, so the result and the errors are the same either way.
_PLAIN_ID: Final = re.compile(r"[A-Za-z0-9_~-]{1,256}")


class ActivityStream(Handle[ActivityResult]):
    """Async iterator of `ActivityResult`, one per input id (`retrieve_activities_many`).

    Use ``async for``; breaking out or cancelling stops all requests (use ``async with`` or
    `aclose` to also wait until they have stopped and the id source is closed). Iterating a
    closed stream ends at once.
    """

    __slots__ = ()


def activity_stream(
    transport: Transport,
    decoder: msgspec.json.Decoder[Envelope[ActivityLog]],
    ids: Iterable[str] | AsyncIterable[str],
    *,
    concurrency: int,
    ordered: bool,
    profile_id: str | None,
) -> ActivityStream:
    """Build the stream; its workers start at the first ``__anext__``, not here."""
    job = _Job(
        transport, decoder, ids, concurrency=concurrency, ordered=ordered, profile_id=profile_id
    )
    return ActivityStream(job)


class _Job:
    """The workers and buffers behind one `ActivityStream` (see the module docstring)."""

    def __init__(
        self,
        transport: Transport,
        decoder: msgspec.json.Decoder[Envelope[ActivityLog]],
        ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int,
        ordered: bool,
        profile_id: str | None,
    ) -> None:
        self._transport = transport
        self._decoder = decoder
        self._sync_ids: Iterator[str] | None = None
        self._async_ids: AsyncIterator[str] | None = None
        if isinstance(ids, AsyncIterable):
            self._async_ids = aiter(ids)
        elif isinstance(ids, Iterable) and not isinstance(ids, str | bytes):
            self._sync_ids = iter(ids)
        else:
            kind = type(ids).__name__
            raise TypeError(f"ids must be an iterable or async iterable of message ids, got {kind}")
        self._concurrency = concurrency
        self._ordered = ordered
        self._profile_id = profile_id
        self._window = concurrency * ORDERED_WINDOW_FACTOR
        # Answers ready for the caller: a deque (unordered) or keyed by input position (ordered).
        self._ready: deque[ActivityResult] = deque()
        self._ready_by_seq: dict[int, ActivityResult] = {}
        self._next_seq = 0  # position of the next id pulled from the source
        self._next_out = 0  # position of the next answer owed to the caller (ordered)
        self._source_done = False
        self._source_lock = asyncio.Lock()  # async sources cannot be advanced concurrently
        self._failure: BaseException | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._live_workers = 0
        self._wakeup: asyncio.Future[None] | None = None  # the caller waiting for an answer
        self._space = asyncio.Event()  # set while workers may add answers
        self._space.set()
        self._started = False
        self._closed = False

    # -- caller side --

    async def next(self) -> ActivityResult:
        if not self._started:
            self._start()
        elif self._closed:
            # Like a closed async generator: answers still buffered are dropped, not yielded.
            raise StopAsyncIteration
        while True:
            result = self._pop_ready()
            if result is not None:
                return result
            if self._failure is not None:
                failure, self._failure = self._failure, None
                await self.aclose()
                raise failure
            if self._live_workers == 0:
                await self.aclose()
                raise StopAsyncIteration
            if self._wakeup is not None:
                raise RuntimeError("another task is already iterating this ActivityStream")
            waiter = self._wakeup = asyncio.get_running_loop().create_future()
            try:
                await waiter
            except BaseException:
                # Cancelled while waiting: nobody will read the answers, so stop the requests
                # and wait for them, so the cancelled caller leaves nothing running behind.
                self._wakeup = None
                await self.aclose()
                raise
            self._wakeup = None

    async def aclose(self) -> None:
        """Cancel the workers, wait until they are gone, close an async source. Idempotent."""
        if self._closed:
            return
        self._closed = True
        workers = self._workers
        for task in workers:
            task.cancel()
        # Wait even if we are cancelled meanwhile (an anyio scope cancels every await again):
        # cancelled workers unwind within a loop iteration or two; then re-raise.
        interrupted: BaseException | None = None
        pending = [task for task in workers if not task.done()]
        while pending:
            try:
                await asyncio.wait(pending)
            except asyncio.CancelledError as exc:
                interrupted = exc
            pending = [task for task in pending if not task.done()]
        source = self._async_ids
        if source is not None and hasattr(source, "aclose"):
            await source.aclose()
        if interrupted is not None:
            raise interrupted

    def abandon(self) -> None:
        """Cancel the workers without waiting (the handle was dropped)."""
        self._closed = True
        for task in self._workers:
            task.cancel()

    def _pop_ready(self) -> ActivityResult | None:
        if self._ordered:
            result = self._ready_by_seq.pop(self._next_out, None)
            if result is None:
                return None
            self._next_out += 1
        else:
            if not self._ready:
                return None
            result = self._ready.popleft()
        self._space.set()
        return result

    def _start(self) -> None:
        self._started = True
        if self._closed:
            raise StopAsyncIteration
        loop = asyncio.get_running_loop()
        self._workers = [loop.create_task(self._worker()) for _ in range(self._concurrency)]
        self._live_workers = len(self._workers)

    def _wake(self) -> None:
        waiter = self._wakeup
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- worker side --

    async def _next_async_id(self) -> str | None:
        async with self._source_lock:
            if self._source_done:
                return None
            try:
                return await anext(self._async_ids)  # type: ignore[arg-type]
            except StopAsyncIteration:
                self._source_done = True
                return None

    def _buffer_full(self) -> bool:
        if self._ordered:
            return self._next_seq - self._next_out >= self._window
        return len(self._ready) >= self._concurrency

    async def _worker(self) -> None:
        # The hot loop of a bulk job: one pass per id, so helpers are inlined where a call
        # (or a coroutine) per id would show up in the CPU profile.
        sync_ids = self._sync_ids
        request = self._transport.request
        decoder = self._decoder
        profile_id = self._profile_id
        ordered = self._ordered
        plain_id = _PLAIN_ID.fullmatch
        try:
            while True:
                # Wait for room before taking an id, so ids are pulled only as answers are read.
                while self._buffer_full():
                    self._space.clear()
                    await self._space.wait()
                if self._source_done:
                    return
                if sync_ids is not None:
                    try:
                        message_id = next(sync_ids)
                    except StopIteration:
                        self._source_done = True
                        return
                else:
                    async_id = await self._next_async_id()
                    if async_id is None:
                        return
                    message_id = async_id
                seq = self._next_seq
                self._next_seq = seq + 1
                try:
                    if type(message_id) is str and plain_id(message_id):
                        path = f"/v3/messages/{message_id}/activities"
                    else:
                        path = message_path(message_id, "/activities")
                except ValueError as exc:  # malformed id: its own answer; TypeError propagates
                    result = ActivityResult(message_id=message_id, error=exc)
                else:
                    try:
                        log = await request("GET", path, decoder, profile_id=profile_id)
                    except SentError as exc:
                        result = ActivityResult(message_id=message_id, error=exc)
                    else:
                        result = ActivityResult(message_id=message_id, log=log)
                if ordered:
                    self._ready_by_seq[seq] = result
                else:
                    self._ready.append(result)
                self._wake()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the id source or a programming error: the caller's to see
            if self._failure is None:
                self._failure = exc
            current = asyncio.current_task()
            for task in self._workers:
                if task is not current:
                    task.cancel()
        finally:
            self._live_workers -= 1
            self._wake()
