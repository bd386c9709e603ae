"""Watching messages until they finish: one scheduler, one request budget, many messages.

The account's rate limit is the bottleneck (200 requests/min by default: a watcher polling every
2 s per message saturates it at about 7 messages). So there is no task per message: every watched
message is a small record in one heap ordered by its next poll time. One scheduler task takes a
token from the client's budget first and only then picks the most overdue message, so when
tokens are scarce they go to the messages that have waited longest and none starves; a bounded
number of polls run at once. Each poll reads the message's whole activity log, so any number of
steps that happened in between arrive together, in order, each once.

Cadence (`PollPolicy`): the first poll comes soon after a message is added (jittered, so messages
added together do not poll in lock-step); the interval then grows by ``multiplier`` from a
status-dependent start while nothing changes, and restarts when something does. A QUEUED message
changes within seconds; a SENT one waits for a carrier receipt; a SCHEDULED one waits for its
``scheduled_at``.

Rejected alternatives: a task per message (about 10 KiB each once it has polled, and no global
view to share the budget fairly); fixed-interval polling (spends the budget on messages that
are not changing).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import math
import random
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Self

import anyio
import msgspec

from ._checks import check_number, check_positive_int
from ._handle import Handle
from ._ids import check_message_id, message_path
from .errors import (
    APIConnectionError,
    APIResponseValidationError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    SentError,
    WatchTimeoutError,
)
from .models import FAILURE_STATUSES, TERMINAL_STATUSES, Activity, ActivityLog, Envelope, WatchEvent

if TYPE_CHECKING:
    from ._transport import Transport

__all__ = ["PollPolicy", "Watcher", "new_watcher"]

_ACTIVITIES: Final = msgspec.json.Decoder(Envelope[ActivityLog])

#: Start interval after a change, as a multiple of ``min_interval``, by the status reached.
#: Keep in sync with README §Watching.
STATUS_FACTORS: Final[dict[str, float]] = {
    "QUEUED": 1.0,
    "PROCESSED": 1.0,
    "ROUTED": 1.5,
    "SENT": 3.0,  # waiting for a carrier receipt: seconds to minutes
    "DELIVERED": 10.0,  # only still watched when waiting for READ, which can take minutes
}
#: Events held for a reader before the scheduler stops polling (backpressure).
MAX_BUFFERED_EVENTS: Final = 4096
#: Most distinct strings and prices kept for sharing between the messages' last activities.
_INTERN_LIMIT: Final = 4096


class PollPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How often a watcher polls one message (all durations in seconds).

    Attributes:
        min_interval: Shortest interval between polls, and the base of the status cadence.
        max_interval: Longest interval while nothing changes (``scheduled_at`` may wait longer).
        multiplier: Growth of the interval after each poll that found nothing new.
        jitter: Relative randomness of every interval (0.1 = up to ±10%), and the spread of
            first polls (up to ``jitter x min_interval``).
        not_found_grace: How long after a message is added a 404 means "not visible yet"
            rather than "no such message".
    """

    min_interval: float = 1.0
    max_interval: float = 30.0
    multiplier: float = 1.5
    jitter: float = 0.1
    not_found_grace: float = 30.0

    def __post_init__(self) -> None:
        """Validate the numbers."""
        for name in ("min_interval", "max_interval", "multiplier", "jitter", "not_found_grace"):
            check_number(f"PollPolicy.{name}", getattr(self, name))
        if self.min_interval <= 0:
            raise ValueError("PollPolicy.min_interval must be > 0")
        if self.max_interval < self.min_interval:
            raise ValueError("PollPolicy.max_interval must be >= min_interval")
        if self.multiplier < 1:
            raise ValueError("PollPolicy.multiplier must be >= 1")
        if self.jitter >= 1:
            raise ValueError("PollPolicy.jitter must be < 1")


def check_until(until: Iterable[str]) -> frozenset[str]:
    """Validate ``until=`` and return it as a frozenset."""
    if isinstance(until, str) or not isinstance(until, Iterable):
        raise TypeError("until must be a collection of statuses, e.g. {'DELIVERED', 'READ'}")
    statuses = frozenset(until)
    if not statuses or not all(isinstance(s, str) and s for s in statuses):
        raise ValueError("until must name at least one status")
    return statuses


def check_timeout(timeout: float | None) -> float | None:
    """Validate ``timeout=`` (seconds, ``None`` = no limit)."""
    return None if timeout is None else check_number("timeout", timeout, positive=True)


class _Watched:
    """One watched message: kept small (slots, no per-message task) for 100k-message watches."""

    __slots__ = ("added", "due", "interval", "last", "message_id", "seen")

    def __init__(self, message_id: str, added: float, due: float, interval: float) -> None:
        self.message_id = message_id
        self.added = added
        self.due = due
        self.interval = interval
        self.seen = 0  # activities already yielded: the log only grows at its head
        self.last: Activity | None = None

    def __lt__(self, other: _Watched) -> bool:
        return self.due < other.due


class _Core:
    """The scheduler and its state; the public `Watcher` is a thin handle on it.

    The running tasks reference only this core, so a caller who drops the handle (``break``
    out of ``async for``) stops the polling (see `_handle`).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        until: Iterable[str] = TERMINAL_STATUSES,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        concurrency: int = 16,
        profile_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if poll is None:
            poll = PollPolicy()
        if not isinstance(poll, PollPolicy):
            raise TypeError(f"poll must be a PollPolicy, got {type(poll).__name__}")
        self._transport = transport
        self.until = check_until(until)
        # Nothing follows a failure status (short of a resend), so it ends a watch whatever
        # `until` says: waiting for READ on a FAILED message would only run into the timeout.
        self._stop = self.until | FAILURE_STATUSES
        self.timeout = check_timeout(timeout)
        self.poll = poll
        self._concurrency = check_positive_int("concurrency", concurrency)
        self._profile_id = profile_id
        self._clock = clock
        self._rand = rand
        self._heap: list[_Watched] = []
        self.active = 0  # added and not yet done
        self._in_flight = 0
        self._events: deque[WatchEvent] = deque()
        self._changed = asyncio.Event()  # wakes the scheduler: new id, poll done, room for events
        self._wakeup: asyncio.Future[None] | None = None  # the reader waiting for an event
        self._input_done = False
        self._failure: BaseException | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._scheduler: asyncio.Task[None] | None = None
        self.closed = False
        self._intern: dict[object, object] = {}
        self.polls = 0

    # -- the handle's operations --

    def add(self, message_id: str) -> None:
        if self._input_done:
            raise ValueError("finish() was called: no more ids can be added")
        if self.closed:
            raise SentError("this watcher is closed")
        check_message_id(message_id)
        now = self._clock()
        poll = self.poll
        due = now + self._rand() * poll.jitter * poll.min_interval
        heapq.heappush(self._heap, _Watched(message_id, now, due, poll.min_interval))
        self.active += 1
        self._changed.set()
        self.ensure_started()

    def finish(self) -> None:
        self._input_done = True
        self._changed.set()

    async def next(self) -> WatchEvent:
        self.ensure_started()
        while True:
            if self._events:
                event = self._events.popleft()
                if len(self._events) < MAX_BUFFERED_EVENTS // 2:
                    self._changed.set()
                return event
            if self._failure is not None:
                failure, self._failure = self._failure, None
                await self.aclose()
                raise failure
            if self.closed or self._finished():
                await self.aclose()
                raise StopAsyncIteration
            self._wakeup = asyncio.get_running_loop().create_future()
            try:
                await self._wakeup
            except BaseException:
                self.abandon()  # cancelled while waiting: stop polling now
                raise
            finally:
                self._wakeup = None

    def ensure_started(self) -> None:
        if self._scheduler is None and not self.closed:
            self._scheduler = self._spawn(self._schedule())

    async def aclose(self) -> None:
        self.closed = True
        tasks = list(self._tasks)
        self.abandon()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def abandon(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    # -- machinery --

    def _finished(self) -> bool:
        return self._input_done and self.active == 0

    def _spawn(self, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _wake_reader(self) -> None:
        waiter = self._wakeup
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        self._wake_reader()

    async def _schedule(self) -> None:
        try:
            await self._schedule_loop()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # pragma: no cover - a bug in the scheduler itself
            self._fail(exc)

    async def _schedule_loop(self) -> None:
        budget = self._transport.budget
        have_token = False
        heap = self._heap
        while True:
            self._changed.clear()
            if not heap or len(self._events) >= MAX_BUFFERED_EVENTS:
                await self._changed.wait()
                continue
            delay = heap[0].due - self._clock()
            if delay > 0:
                with anyio.move_on_after(delay):
                    await self._changed.wait()
                continue
            if self._in_flight >= self._concurrency:
                await self._changed.wait()
                continue
            if budget is not None and not have_token:
                # Take the token first, then choose: whoever is most overdue when it is free.
                await budget.acquire()
                have_token = True
                continue
            watched = heapq.heappop(heap)
            self._in_flight += 1
            self._spawn(self._poll(watched, budget_acquired=have_token))
            have_token = False

    async def _poll(self, watched: _Watched, *, budget_acquired: bool) -> None:
        self.polls += 1
        try:
            try:
                log = await self._transport.request(
                    "GET",
                    message_path(watched.message_id, "/activities"),
                    _ACTIVITIES,
                    profile_id=self._profile_id,
                    budget_acquired=budget_acquired,
                )
            except SentError as exc:
                self._after_error(watched, exc)
            else:
                self._after_log(watched, log)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a programming error: the reader's to see
            self._fail(exc)
        finally:
            self._in_flight -= 1
            self._changed.set()

    def _emit(self, event: WatchEvent) -> None:
        self._events.append(event)
        if event.done:
            self.active -= 1
        self._wake_reader()

    def _after_log(self, watched: _Watched, log: ActivityLog) -> None:
        activities = log.activities
        fresh = len(activities) - watched.seen
        poll = self.poll
        if fresh > 0:
            for activity in reversed(activities[:fresh]):
                watched.seen += 1
                if activity.status in self._stop:
                    self._emit(
                        WatchEvent(message_id=watched.message_id, activity=activity, done=True)
                    )
                    return
                self._emit(WatchEvent(message_id=watched.message_id, activity=activity))
            latest = activities[0]
            watched.last = self._compact(latest)
            watched.interval = poll.min_interval * STATUS_FACTORS.get(latest.status, 1.0)
            if latest.status == "SCHEDULED" and latest.scheduled_at is not None:
                wait = (latest.scheduled_at - datetime.now(UTC)).total_seconds()
                watched.interval = max(watched.interval, wait)
        else:
            watched.interval = min(poll.max_interval, watched.interval * poll.multiplier)
        self._reschedule(watched)

    def _after_error(self, watched: _Watched, exc: SentError) -> None:
        now = self._clock()
        poll = self.poll
        if isinstance(exc, NotFoundError):
            if now - watched.added >= poll.not_found_grace:
                self._emit(WatchEvent(message_id=watched.message_id, error=exc, done=True))
                return
        elif not isinstance(exc, _TRANSIENT):
            # Not going to get better by asking again (401, 403, 400...): the watch ends.
            self._emit(WatchEvent(message_id=watched.message_id, error=exc, done=True))
            return
        # Not visible yet, or transient and already retried by the transport: ask again later.
        watched.interval = min(poll.max_interval, watched.interval * poll.multiplier)
        self._reschedule(watched)

    def _reschedule(self, watched: _Watched) -> None:
        now = self._clock()
        if self.timeout is not None:
            deadline = watched.added + self.timeout
            if now >= deadline:
                error = WatchTimeoutError(watched.message_id, watched.last, self.timeout)
                self._emit(WatchEvent(message_id=watched.message_id, error=error, done=True))
                return
        else:
            deadline = math.inf
        spread = 1.0 + self.poll.jitter * (2.0 * self._rand() - 1.0)
        # The last poll lands on the deadline, so a message that finished just in time is seen.
        watched.due = min(now + watched.interval * spread, deadline)
        heapq.heappush(self._heap, watched)

    def _compact(self, activity: Activity) -> Activity:
        """Share equal strings and prices between the messages' last activities.

        Each watched message keeps its latest activity (for `WatchTimeoutError.last_activity`);
        freshly decoded, its description, sender and prices are separate objects per message,
        about 300 bytes that 100,000 watched messages would each pay for the same few values.
        """
        intern = self._intern
        if len(intern) >= _INTERN_LIMIT:
            return activity
        price, extra = activity.price, activity.active_contact_price
        # Prices are keyed by their text: Decimal("0.045") == Decimal("0.0450") would merge them.
        return msgspec.structs.replace(
            activity,
            status=intern.setdefault(activity.status, activity.status),
            description=intern.setdefault(activity.description, activity.description),
            sender=intern.setdefault(activity.sender, activity.sender),
            price=intern.setdefault(("price", str(price)), price),
            active_contact_price=intern.setdefault(("price", str(extra)), extra),
        )


#: Failures the transport already retried that may still pass: the watch polls again later.
_TRANSIENT: Final = (
    APIConnectionError,
    InternalServerError,
    RateLimitError,
    APIResponseValidationError,
)


class _ManyCore(_Core):
    """A core that reads its ids from an iterable with a task of its own (`watch_many`)."""

    def __init__(
        self, transport: Transport, ids: Iterable[str] | AsyncIterable[str], **options: Any
    ) -> None:
        if isinstance(ids, str | bytes) or not isinstance(ids, Iterable | AsyncIterable):
            kind = type(ids).__name__
            raise TypeError(f"ids must be an iterable or async iterable of ids, got {kind}")
        super().__init__(transport, **options)
        self._ids = ids
        self._feeder: asyncio.Task[None] | None = None

    def ensure_started(self) -> None:
        super().ensure_started()
        if self._feeder is None and not self.closed:
            self._feeder = self._spawn(self._feed())

    async def _feed(self) -> None:
        try:
            ids = self._ids
            if isinstance(ids, AsyncIterable):
                async for message_id in ids:
                    self._add_or_report(message_id)
            else:
                for count, message_id in enumerate(ids, 1):
                    self._add_or_report(message_id)
                    if count % 1024 == 0:
                        await asyncio.sleep(0)  # let polling run while a long iterable is read
            self.finish()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the id source failed: the reader's to see
            self._fail(exc)

    def _add_or_report(self, message_id: str) -> None:
        try:
            self.add(message_id)
        except ValueError as exc:  # a malformed id ends at once, like any other failure
            self.active += 1
            self._emit(WatchEvent(message_id=message_id, error=exc, done=True))

    async def aclose(self) -> None:
        await super().aclose()
        source = self._ids
        if isinstance(source, AsyncIterator) and hasattr(source, "aclose"):
            with contextlib.suppress(RuntimeError):  # already closed, or running elsewhere
                await source.aclose()


class Watcher(Handle[WatchEvent]):
    """Watches many messages through one scheduler and the client's one request budget.

    Obtain it from ``client.messages.watcher(...)`` (add ids yourself) or
    ``client.messages.watch_many(ids, ...)`` (ids from an iterable). Iterate it with
    ``async for`` to receive `WatchEvent` objects: one per new activity, in order per message,
    ``done=True`` on the one that ends the watch; or one with ``error`` set and ``done=True``
    when the message timed out (`WatchTimeoutError`) or failed permanently (e.g. `NotFoundError`
    after the grace period). Every added id gets exactly one ``done=True`` event.

    Use ``async with`` (or `aclose`) so polling stops when you leave; dropping the watcher (a
    ``break`` out of ``async for``) stops it too. Iteration ends once `finish` was called and
    every added message is done.
    """

    __slots__ = ()
    _core: _Core

    def __repr__(self) -> str:
        core = self._core
        return f"<Watcher active={core.active} polls={core.polls} closed={core.closed}>"

    @property
    def until(self) -> frozenset[str]:
        """Statuses that end a message's watch (a failure status always does too)."""
        return self._core.until

    @property
    def timeout(self) -> float | None:
        """Seconds each message may be watched, from when it is added; ``None``: no limit."""
        return self._core.timeout

    @property
    def poll(self) -> PollPolicy:
        """The polling cadence."""
        return self._core.poll

    @property
    def active(self) -> int:
        """Messages added and not yet done."""
        return self._core.active

    @property
    def polls(self) -> int:
        """Polls sent so far (each one request, plus any retries the transport made)."""
        return self._core.polls

    def add(self, message_id: str) -> None:
        """Start watching ``message_id``; its first poll comes within ``jitter x min_interval``.

        Adding an id twice watches it twice.

        Raises:
            TypeError: ``message_id`` is not a string.
            ValueError: The id is malformed, or `finish` was already called.
            SentError: The watcher is closed.
        """
        self._core.add(message_id)

    def finish(self) -> None:
        """Say that no more ids will be added: iteration ends when every message is done."""
        self._core.finish()

    async def __aenter__(self) -> Self:
        self._core.ensure_started()  # watch_many starts reading its ids on entry
        return self


def new_watcher(
    transport: Transport, ids: Iterable[str] | AsyncIterable[str] | None = None, **options: Any
) -> Watcher:
    """Build a `Watcher`: fed by the caller (``ids=None``) or from ``ids`` by a task of its own."""
    core = _Core(transport, **options) if ids is None else _ManyCore(transport, ids, **options)
    return Watcher(core)
