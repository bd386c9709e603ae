"""The one fan-out engine: background work, a bounded result buffer, and the handle you iterate.

Bulk fetching (`fan_out`, aiometer's ``run_on_each`` shape: a ``fetch`` callable over a lazy
stream of items), the watcher's scheduler and the command line all run on this:

- A `Job`'s work runs in one anyio task group (workers, a scheduler, polls, a feeder), inside
  one cancel scope, in a runner task started by ``async with`` or the first ``__anext__``.
  Closing cancels the scope and waits (shielded) for the work to unwind; a task that fails (the
  caller's id source, or a bug) cancels its siblings and its exception reaches the reader once
  the results already buffered have been read.
- Results go to an `Outbox`: a deque with one reader. Producers wait for the reader when it
  falls behind (backpressure), so memory stays bounded however long the input is.
- The caller holds a `Handle`, not the job: tasks reference the job, never the handle, so a
  handle that is dropped (a ``break`` out of an unbound ``async for``) is freed at once and its
  ``__del__`` cancels the work. Dropped within `SILENT_DROP_WINDOW` of its last read, it is
  cancelled silently, as an abandoned async generator is finalised; a handle that stayed alive
  unread longer (and kept spending the budget meanwhile) warns with `ResourceWarning`.
  ``async with`` is the contract; ``__del__`` is the safety net.

The reading contract, the same for every handle:

- ``async for`` / ``__anext__`` returns the next result, waiting if there is none yet, and
  raises ``StopAsyncIteration`` once the work is done and every result was read (or the job's
  failure, once, after the buffered results).
- Cancelling a waiting ``__anext__`` (``asyncio.timeout``, ``wait_for``) loses nothing and stops
  nothing: the work goes on, results stay buffered, the next ``__anext__`` resumes.
- Two tasks reading one handle at once: the second gets `RuntimeError`.
- ``aclose()`` (or leaving ``async with``) cancels the work and waits until it stopped; a closed
  handle's iteration ends at once, results not yet read are dropped.

Why a runner task rather than a task group of the caller's (the one task the library starts
outside a task group): a handle is an async iterator, and a task group entered by
``__aenter__`` (or the first ``__anext__``) would leave its cancel scope on the caller's stack
between reads. An async generator that yields from inside ``async with stream`` (the library's
own ``messages.watch`` does) is then closed from another task by asyncio's finaliser, and anyio
fails with "exit cancel scope in a different task" (`tests/test_engine.py`). The runner's own
task group holds every task of the work; the runner is the group's host, nothing else.

Why a deque and not an anyio memory object stream for the results (checked against anyio 4.16,
`tests/test_engine.py`): since anyio 4.x ``send_nowait`` skips a receiver whose cancellation is
already pending, but a cancellation that arrives after the item was handed over and before the
receiver resumes (an ``asyncio.timeout`` firing in the same loop iteration, a scope cancelled by
another task) still makes ``receive()`` raise with the item gone from the buffer. The
cancelled-read contract above must not lose one, so the reader waits on an `anyio.Event` and
takes from the deque only once it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import warnings
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final, Generic, Self, TypeVar

import anyio

if TYPE_CHECKING:
    from types import TracebackType

    from anyio.abc import TaskGroup

__all__ = [
    "ORDERED_WINDOW_FACTOR",
    "SILENT_DROP_WINDOW",
    "FanOut",
    "Handle",
    "Job",
    "Outbox",
    "fan_out",
]

T = TypeVar("T")


I = TypeVar("I")  # noqa: E741 - the item type, as in aiometer


R = TypeVar("R")


#: A handle dropped within this many seconds of its last read (``async for ... break``) is
#: cancelled without a warning; one left unread longer warns when it is collected.
SILENT_DROP_WINDOW: Final = 1.0


#: In input order, a worker may run this many multiples of ``concurrency`` ahead of the oldest
#: result not yet read (the reorder window); as they complete, twice ``concurrency``.
ORDERED_WINDOW_FACTOR: Final = 4


UNORDERED_WINDOW_FACTOR: Final = 2


#: What a plain iterator's ``next`` returns once exhausted (the workers' sync fast path).
_END: Final[Any] = object()


class Outbox(Generic[T]):
    """Results waiting for their one reader (see the module docstring)."""

    __slots__ = ("_closed", "_failure", "_items", "_reader", "_room", "popped")

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        #: How many results the reader has taken; producers measure their lead against it.
        self.popped = 0
        self._reader: anyio.Event | None = None  # set when a result (or the end) comes
        self._room: anyio.Event | None = None  # set when the reader takes a result
        self._closed = False
        self._failure: BaseException | None = None

    def __len__(self) -> int:
        return len(self._items)

    def pending(self) -> list[T]:
        """The results not read yet, oldest first (a copy)."""
        return list(self._items)

    def put(self, item: T) -> None:
        """Add a result and wake the reader."""
        self._items.append(item)
        reader = self._reader
        if reader is not None:
            reader.set()

    @property
    def closed(self) -> bool:
        """Whether no more results are wanted (the job ended, or its handle was closed)."""
        return self._closed

    async def wait_popped(self) -> None:
        """Wait until the reader takes a result (or the outbox closes)."""
        if self._closed:
            await anyio.lowlevel.checkpoint()  # let the cancellation that follows a close land
            return
        if self._room is None:
            self._room = anyio.Event()
        await self._room.wait()

    def take(self) -> T:
        """Return the oldest result (there must be one) and wake a producer waiting for room."""
        self.popped += 1
        room = self._room
        if room is not None:
            self._room = None
            room.set()
        return self._items.popleft()

    async def get(self) -> T:
        """Return the next result; raise the failure or ``StopAsyncIteration`` at the end."""
        while True:
            if self._items:
                return self.take()
            if self._closed:
                failure, self._failure = self._failure, None
                if failure is not None:
                    raise failure
                raise StopAsyncIteration
            waiter = self._reader = anyio.Event()
            try:
                await waiter.wait()  # a cancellation here takes nothing from the deque
            finally:
                self._reader = None

    def close(self, failure: BaseException | None = None, *, discard: bool = False) -> None:
        """No more results will come; ``failure`` is raised after the buffered ones."""
        self._closed = True
        if failure is not None and self._failure is None:
            self._failure = failure
        if discard:
            self._items.clear()
            self._failure = None
        self.put_wakeups()

    def put_wakeups(self) -> None:
        """Wake the reader and any producer waiting for room."""
        reader = self._reader
        if reader is not None:
            reader.set()
        room = self._room
        if room is not None:
            self._room = None
            room.set()


def _leaf(exc: BaseException) -> BaseException:
    """The exception a task group raised for its first failed task, unwrapped."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class Job(Generic[T]):
    """Work that runs in one anyio task group inside a runner task, feeding an `Outbox`.

    Subclasses implement `work`, which starts the job's tasks in the task group and returns (or
    runs until done); `after_close` releases what the job holds (an async id source).
    """

    #: What the handle is called in messages ("ActivityStream", "Watcher").
    kind = "stream"

    def __init__(self) -> None:
        self.outbox: Outbox[T] = Outbox()
        self._started = False
        self._runner: asyncio.Task[None] | None = None
        self._scope: anyio.CancelScope | None = None  # the work's scope, once it runs
        self._stopped = anyio.Event()  # set when the work has ended and `after_close` ran
        self._reading = False
        self.closed = False
        #: When the caller last read (or started) it (`time.monotonic`).
        self.last_read = time.monotonic()

    async def work(self, tg: TaskGroup) -> None:
        """Start (or run) the job's tasks in ``tg``."""
        raise NotImplementedError

    async def after_close(self) -> None:
        """Release what the job holds once its tasks are gone (runs where the work ran)."""

    @property
    def running(self) -> bool:
        """Whether the work was started and is not finished."""
        return self._started and not self._stopped.is_set()

    def start(self) -> None:
        """Start the runner task (idempotent; needs a running event loop).

        The runner owns the work's task group; see the module docstring for why the work does
        not run in a task group of the caller's.
        """
        if not self._started and not self.closed:
            self._started = True
            self._runner = asyncio.get_running_loop().create_task(self._run())
            self.last_read = time.monotonic()

    async def _run(self) -> None:
        failure: BaseException | None = None
        try:
            with anyio.CancelScope() as self._scope:
                if self.closed:  # closed (or abandoned) before it began
                    self._scope.cancel()
                async with anyio.create_task_group() as tg:
                    await self.work(tg)
        except anyio.get_cancelled_exc_class():
            raise  # cancelled from outside (the caller's scope): nobody reads the outcome
        except BaseException as exc:  # the id source, or a bug: the reader's to see
            failure = _leaf(exc)
        finally:
            self.outbox.close(failure)
            try:
                with anyio.CancelScope(shield=True):  # close the id source even when cancelled
                    await self.after_close()
            finally:
                self._stopped.set()

    async def next(self) -> T:
        """Return the next result (the reading contract in the module docstring)."""
        if self._reading:
            raise RuntimeError(f"another task is already reading this {self.kind}")
        if self.closed:
            raise StopAsyncIteration
        if self._runner is None:
            self.start()
        outbox = self.outbox
        if outbox._items:  # a result is ready (the usual case in a busy job): no wait, no coroutine
            self.last_read = time.monotonic()
            return outbox.take()
        self._reading = True
        try:
            return await outbox.get()
        finally:
            self._reading = False
            self.last_read = time.monotonic()

    async def aclose(self) -> None:
        """Cancel the work and wait until it has stopped. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self.outbox.close(discard=True)
        if not self._started:
            await self.after_close()
            return
        if self._scope is not None:
            self._scope.cancel()
        # Shielded: a cancelled caller still waits for the work to unwind (a few loop
        # iterations), then its cancellation lands. A native ``task.cancel()`` pierces the
        # shield and is not swallowed: the work was cancelled already and ends on its own.
        with anyio.CancelScope(shield=True):
            await self._stopped.wait()

    def abandon(self) -> None:
        """Cancel the work without waiting (synchronous, for ``__del__``)."""
        self.closed = True
        self.outbox.close(discard=True)
        if self._scope is not None:
            self._scope.cancel()


class Handle(Generic[T]):
    """What the caller iterates: a closable async iterator over a `Job`'s results."""

    __slots__ = ("_job",)

    def __init__(self, job: Job[T]) -> None:
        self._job = job

    def __aiter__(self) -> Self:
        return self

    def __anext__(self) -> Awaitable[T]:
        # Not a coroutine of its own: hand out the job's, one coroutine per item instead of two.
        return self._job.next()

    async def __aenter__(self) -> Self:
        self._job.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._job.aclose()

    async def aclose(self) -> None:
        """Stop the work and wait until it has stopped. Idempotent."""
        await self._job.aclose()

    def __del__(self) -> None:
        job = getattr(self, "_job", None)  # absent when a subclass's __init__ raised first
        if job is None or not job.running:
            return
        with contextlib.suppress(RuntimeError):  # the event loop may already be closed
            job.abandon()
        unread = time.monotonic() - job.last_read
        if unread <= SILENT_DROP_WINDOW:
            return  # dropped right after the loop that read it: silent, like an async generator
        warnings.warn(
            f"{type(self).__name__} was dropped {unread:.1f} s after it was last read, its work "
            f"still running meanwhile; it is cancelled now. Use 'async with' (or 'await "
            f"{type(self).__name__.lower()}.aclose()') so it stops when you stop reading",
            ResourceWarning,
            stacklevel=2,
            source=self,
        )


def _same(item: object, value: Any) -> Any:
    return value


def _unreachable(item: object, error: BaseException) -> Any:  # pragma: no cover - no errors
    raise error


class FanOut(Job[R], Generic[I, R]):
    """``fetch`` over a lazy stream of items, at most ``concurrency`` at once (see `fan_out`).

    ``done(item, value)`` turns what ``fetch`` answered into the result, and an exception of
    ``errors`` (raised by ``fetch``, or while awaiting it) becomes ``failed(item, exc)``. Bulk
    fetches use them so ``fetch`` need not be a coroutine of its own: it returns the request's
    awaitable, one coroutine fewer per item.
    """

    def __init__(
        self,
        fetch: Callable[[I], Awaitable[Any]],
        items: Iterable[I] | AsyncIterable[I],
        *,
        concurrency: int,
        ordered: bool,
        done: Callable[[I, Any], R] = _same,
        failed: Callable[[I, BaseException], R] = _unreachable,
        errors: tuple[type[BaseException], ...] = (),
    ) -> None:
        super().__init__()
        self._done = done
        self._failed = failed
        self._errors = errors
        self._sync_items: Iterator[I] | None = None
        self._async_items: AsyncIterator[I] | None = None
        if isinstance(items, AsyncIterable):
            self._async_items = aiter(items)
        elif isinstance(items, Iterable) and not isinstance(items, str | bytes):
            self._sync_items = iter(items)
        else:
            kind = type(items).__name__
            raise TypeError(f"ids must be an iterable or async iterable of ids, got {kind}")
        self._fetch = fetch
        self._concurrency = concurrency
        self._ordered = ordered
        self._window = concurrency * (ORDERED_WINDOW_FACTOR if ordered else UNORDERED_WINDOW_FACTOR)
        self._tg: TaskGroup | None = None
        self._workers = 0
        self._busy = 0
        self._taken = 0  # items pulled from the source so far
        self._source_done = False
        self._source_lock = anyio.Lock()  # an async source cannot be advanced concurrently
        self._pending: dict[int, R] = {}  # ordered mode: results waiting for earlier ones
        self._next_out = 0

    async def work(self, tg: TaskGroup) -> None:
        """Start the first worker; each starts another while all are busy (lazily)."""
        self._tg = tg
        self._add_worker()

    def _add_worker(self) -> None:
        assert self._tg is not None  # noqa: S101 - work() set it
        self._workers += 1
        self._tg.start_soon(self._worker)

    async def _next_item(self) -> tuple[bool, I | None]:
        """The next item of an async source (one reader at a time)."""
        if self._source_done:
            return False, None
        async with self._source_lock:
            if self._source_done:
                return False, None
            try:
                return True, await anext(self._async_items)  # type: ignore[arg-type]
            except StopAsyncIteration:
                self._source_done = True
                return False, None

    def _next_sync(self, items: Iterator[I]) -> tuple[bool, I | None]:
        """The next item of a plain iterable (no coroutine per item on the hot path)."""
        item = _END if self._source_done else next(items, _END)
        if item is _END:
            self._source_done = True
            return False, None
        return True, item

    async def _worker(self) -> None:
        # The hot loop of a bulk job: one pass per item.
        outbox = self.outbox
        fetch, done, errors = self._fetch, self._done, self._errors
        sync_items = self._sync_items
        while True:
            # Wait for room before taking an item, so items are pulled only as results are read.
            while self._taken - outbox.popped >= self._window:
                if outbox.closed:
                    return
                await outbox.wait_popped()
            if sync_items is not None:
                more, item = self._next_sync(sync_items)
            else:
                more, item = await self._next_item()
            if not more:
                return
            seq = self._taken
            self._taken = seq + 1
            self._busy += 1
            if self._busy == self._workers and self._workers < self._concurrency:
                self._add_worker()  # no worker is free to take the next item: add one
            try:
                result = done(item, await fetch(item))  # type: ignore[arg-type]  # `more`: an item
            except errors as exc:
                result = self._failed(item, exc)  # type: ignore[arg-type]
            self._busy -= 1
            if self._ordered:
                self._put_in_order(seq, result)
            else:
                outbox.put(result)

    def _put_in_order(self, seq: int, result: R) -> None:
        """Hold ``result`` until every earlier one is out, then release what is in order."""
        pending = self._pending
        pending[seq] = result
        while self._next_out in pending:
            self.outbox.put(pending.pop(self._next_out))
            self._next_out += 1

    async def after_close(self) -> None:
        """Close an async id source (an async generator left suspended mid-iteration)."""
        source = self._async_items
        if source is not None and hasattr(source, "aclose"):
            with contextlib.suppress(RuntimeError):  # already closed, or running elsewhere
                await source.aclose()


def fan_out(
    fetch: Callable[[I], Awaitable[R]],
    items: Iterable[I] | AsyncIterable[I],
    *,
    concurrency: int,
    ordered: bool = False,
) -> FanOut[I, R]:
    """Return a job running ``fetch`` on each item, at most ``concurrency`` at once.

    ``items`` is read lazily; workers start one at a time, only while every worker is busy, up
    to ``concurrency``, so ten items never start more than about ten workers. ``fetch`` should
    turn per-item failures into results; an exception it raises (a bug), like one raised by the
    item source, ends the job and reaches the reader after the results already buffered.
    With ``ordered``, results come in input order within a window of
    ``ORDERED_WINDOW_FACTOR x concurrency`` items; otherwise as they complete.
    """
    return FanOut(fetch, items, concurrency=concurrency, ordered=ordered)
