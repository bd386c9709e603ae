"""Bounded, streaming fan-out of activity-log fetches over a lazy stream of ids.

Design: a fixed pool of ``concurrency`` worker tasks pulls ids straight from the caller's iterable
(no task per id, no queue of ids), fetches, and appends the answer to a small buffer that the
caller's ``async for`` drains. A worker whose answer would overfill the buffer waits, so memory
stays at about ``2 x concurrency`` ids and answers however long the input is.

Rejected alternatives: a task per id (``asyncio.gather`` over a semaphore) creates millions of
tasks up front; ``asyncio.wait`` over the in-flight set re-registers callbacks on every task for
every answer (O(concurrency) per id); an async generator holding a task group cannot be closed
safely from another task when the caller breaks out of its loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Final

from ._ids import message_path
from .errors import SentError
from .models import ActivityLog, ActivityResult, Envelope

if TYPE_CHECKING:
    from types import TracebackType

    import msgspec

    from ._transport import Transport

__all__ = ["ActivityStream"]

#: In ordered mode a worker may run at most this many multiples of ``concurrency`` ahead of the
#: oldest unanswered id (the reorder window), so one slow id cannot make the buffer grow unbounded.
ORDERED_WINDOW_FACTOR: Final = 4


class ActivityStream:
    """Async iterator of `ActivityResult`, one per input id (`retrieve_activities_many`).

    Use ``async for``; breaking out or cancelling stops all requests (use ``async with`` or
    `aclose` to also wait until they have stopped).
    """

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

    def __aiter__(self) -> ActivityStream:
        return self

    async def __aenter__(self) -> ActivityStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def __anext__(self) -> ActivityResult:
        if not self._started:
            self._start()
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
            self._wakeup = asyncio.get_running_loop().create_future()
            try:
                await self._wakeup
            except BaseException:
                # Cancelled while waiting: nobody will read the answers, so stop the requests.
                self._cancel_workers()
                raise
            finally:
                self._wakeup = None

    async def aclose(self) -> None:
        """Stop every request and wait until the workers are gone. Idempotent."""
        if self._closed:
            return
        self._closed = True
        workers = self._cancel_workers()
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)
        source = self._async_ids
        if source is not None and hasattr(source, "aclose"):
            await source.aclose()

    def __del__(self) -> None:
        # The caller broke out of `async for` without aclose(): cancel the in-flight requests now
        # (cancelling is synchronous), so nothing keeps running or holding a connection.
        with contextlib.suppress(RuntimeError):  # the event loop may already be closed
            self._cancel_workers()

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
        if self._closed:
            raise StopAsyncIteration
        self._started = True
        loop = asyncio.get_running_loop()
        self._workers = [loop.create_task(self._worker()) for _ in range(self._concurrency)]
        self._live_workers = len(self._workers)

    def _cancel_workers(self) -> list[asyncio.Task[None]]:
        workers, self._workers = self._workers, []
        for task in workers:
            task.cancel()
        return workers

    def _wake(self) -> None:
        waiter = self._wakeup
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- worker side --

    async def _next_id(self) -> tuple[int, str] | None:
        if self._source_done:
            return None
        if self._sync_ids is not None:
            try:
                message_id = next(self._sync_ids)
            except StopIteration:
                self._source_done = True
                return None
        else:
            async with self._source_lock:
                if self._source_done:
                    return None
                try:
                    message_id = await anext(self._async_ids)  # type: ignore[arg-type]
                except StopAsyncIteration:
                    self._source_done = True
                    return None
        seq = self._next_seq
        self._next_seq += 1
        return seq, message_id

    def _buffer_full(self, seq: int) -> bool:
        if self._ordered:
            return seq - self._next_out >= self._window
        return len(self._ready) >= self._concurrency

    async def _worker(self) -> None:
        try:
            while True:
                # Wait for room before taking an id, so ids are pulled only as answers are read.
                while self._buffer_full(self._next_seq):
                    self._space.clear()
                    await self._space.wait()
                item = await self._next_id()
                if item is None:
                    return
                seq, message_id = item
                result = await self._fetch(message_id)
                if self._ordered:
                    self._ready_by_seq[seq] = result
                else:
                    self._ready.append(result)
                self._wake()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the id source or a programming error: the caller's to see
            if self._failure is None:
                self._failure = exc
            self._cancel_workers_except_current()
        finally:
            self._live_workers -= 1
            self._wake()

    def _cancel_workers_except_current(self) -> None:
        current = asyncio.current_task()
        for task in self._workers:
            if task is not current:
                task.cancel()

    async def _fetch(self, message_id: str) -> ActivityResult:
        try:
            path = message_path(message_id, "/activities")
        except (
            ValueError
        ) as exc:  # malformed id: its own answer; a non-str id (TypeError) propagates
            return ActivityResult(message_id=message_id, error=exc)
        try:
            log = await self._transport.request(
                "GET", path, self._decoder, profile_id=self._profile_id
            )
        except SentError as exc:
            return ActivityResult(message_id=message_id, error=exc)
        return ActivityResult(message_id=message_id, log=log)
