"""Watching messages until they finish: one scheduler, one request budget, many messages.

The account's rate limit is the bottleneck (200 requests/min by default: a watcher polling every
2 s per message saturates it at about 7 messages). So there is no task per message: every watched
message is a small record in one heap ordered by its next poll time. One scheduler takes a token
from the client's budget (its own fair-share lane) first and only then picks the most overdue
message, so when tokens are scarce they go to the messages that have waited longest and none
starves; a bounded number of polls run at once. Each poll reads the message's whole activity log,
so any number of steps that happened in between arrive together, in order, each once.

Cadence (`PollPolicy`): the first poll comes soon after a message is added (jittered, so messages
added together do not poll in lock-step); the interval then grows by ``multiplier`` from a
status-dependent start while nothing changes, and restarts when something does. A QUEUED message
changes within seconds; a SENT one waits for a carrier receipt; a SCHEDULED one waits for its
``scheduled_at``.

Deadlines are wall-clock bounds: a message's timeout fires within `deadline_grace` of its
deadline whatever is going on. Its last poll is due at the deadline and runs in a cancel scope
that ends at deadline + grace; a message still waiting for a token then (the budget paused by a
429, say) is timed out by the scheduler from a second heap of deadlines.

The scheduler, its polls and `watch_many`'s id feeder run in the task group of one engine job
(`sentdm_async._engine`), which also gives the watcher its reading and closing contract.

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
from collections.abc import AsyncIterable, Iterable
from datetime import UTC, datetime
from itertools import chain, count
from typing import TYPE_CHECKING, Final

import anyio
import msgspec
from anyio.lowlevel import checkpoint

from . import errors
from ._bulk import ACTIVITIES
from ._checks import check_number, check_positive_int
from ._engine import Handle, Job
from ._gate import WATCH_WEIGHT
from ._ids import check_id, message_path
from .errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    SentError,
    WatchTimeoutError,
)
from .models import FAILURE_STATUSES, TERMINAL_STATUSES, Activity, ActivityLog, WatchEvent
from .webhooks import MessageEvent

if TYPE_CHECKING:
    from collections.abc import Callable

    from anyio.abc import TaskGroup

    from ._options import BaseRequestOptions
    from ._transport import Transport
    from .webhooks import WebhookEvent

__all__ = ["PollPolicy", "WatchSettings", "Watcher", "new_watcher"]

#: Start interval after a change, as a multiple of ``min_interval``, by the status reached.
STATUS_FACTORS: Final[dict[str, float]] = {
    "QUEUED": 1.0,
    "PROCESSED": 1.0,
    "ROUTED": 1.5,
    "SENT": 3.0,  # waiting for a carrier receipt: seconds to minutes
    "DELIVERED": 10.0,  # only still watched when waiting for READ, which can take minutes
}
#: Lifecycle order (forward-only, as Sent's status-tracking guide recommends for webhooks). Once a
#: watcher receives pushes, a step is yielded only if it ranks above every step already yielded
#: for its message, so duplicated, late and reordered deliveries (and polls that overlap them)
#: never yield a step twice or out of order. Failures rank last: they end a watch.
STATUS_RANK: Final[dict[str, int]] = {
    "QUEUED": 0,
    "SCHEDULED": 1,
    "PROCESSED": 2,
    "ROUTED": 3,
    "SENT": 4,
    "DELIVERED": 5,
    "READ": 6,
    **dict.fromkeys(FAILURE_STATUSES, 7),
}
#: Events held for a reader before the scheduler stops polling (backpressure).
MAX_BUFFERED_EVENTS: Final = 4096
#: Polls in flight of one watcher by default.
DEFAULT_WATCH_CONCURRENCY: Final = 16
#: Most distinct strings and prices kept for sharing between the messages' last activities.
_INTERN_LIMIT: Final = 4096
#: Longest a message's last poll may run past its deadline (seconds; less for fast cadences).
MAX_DEADLINE_GRACE: Final = 1.0

# A message's state.
_WAITING, _POLLING, _DONE = 0, 1, 2


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
        overdue_after: Once the watcher receives pushed webhook events, a message is polled
            only after this long without news (times its status factor, e.g. x3 at SENT):
            the pushes carry the steps and polls only fill the gaps of lost deliveries.
    """

    min_interval: float = 1.0
    max_interval: float = 30.0
    multiplier: float = 1.5
    jitter: float = 0.1
    not_found_grace: float = 30.0
    overdue_after: float = 60.0

    def __post_init__(self) -> None:
        """Validate the numbers."""
        names = (
            "min_interval",
            "max_interval",
            "multiplier",
            "jitter",
            "not_found_grace",
            "overdue_after",
        )
        for name in names:
            check_number(f"PollPolicy.{name}", getattr(self, name))
        if self.min_interval <= 0:
            raise ValueError("PollPolicy.min_interval must be > 0")
        if self.max_interval < self.min_interval:
            raise ValueError("PollPolicy.max_interval must be >= min_interval")
        if self.multiplier < 1:
            raise ValueError("PollPolicy.multiplier must be >= 1")
        if self.jitter >= 1:
            raise ValueError("PollPolicy.jitter must be < 1")

    @property
    def deadline_grace(self) -> float:
        """How long a last poll may run past its message's deadline (seconds)."""
        return min(MAX_DEADLINE_GRACE, self.min_interval)


def check_until(until: object) -> frozenset[str]:
    """Validate ``until=`` and return it as a frozenset."""
    if isinstance(until, str) or not isinstance(until, Iterable):
        raise TypeError("until must be a collection of statuses, e.g. {'DELIVERED', 'READ'}")
    statuses = frozenset(until)
    if not statuses or not all(isinstance(s, str) and s for s in statuses):
        raise ValueError("until must name at least one status")
    return statuses


def check_timeout(timeout: object) -> float | None:
    """Validate a watch ``timeout=`` (seconds, ``None`` = no limit)."""
    return None if timeout is None else check_number("timeout", timeout, positive=True)


class WatchSettings(msgspec.Struct, frozen=True, kw_only=True):
    """A watcher's defaults, validated once (`build`); `Watcher.add` may override per message."""

    until: frozenset[str] = TERMINAL_STATUSES
    timeout: float | None = None
    poll: PollPolicy = msgspec.field(default_factory=PollPolicy)
    concurrency: int = DEFAULT_WATCH_CONCURRENCY

    @classmethod
    def build(
        cls,
        *,
        until: object = TERMINAL_STATUSES,
        timeout: object = None,
        poll: object = None,
        concurrency: object = DEFAULT_WATCH_CONCURRENCY,
    ) -> WatchSettings:
        """Check every option and return the settings.

        Raises:
            TypeError: An option of the wrong type.
            ValueError: An empty ``until``, a timeout <= 0 or a concurrency below 1.
        """
        if poll is None:
            poll = PollPolicy()
        if not isinstance(poll, PollPolicy):
            raise TypeError(f"poll must be a PollPolicy, got {type(poll).__name__}")
        return cls(
            until=check_until(until),
            timeout=check_timeout(timeout),
            poll=poll,
            concurrency=check_positive_int("concurrency", concurrency),
        )


class _Watched:
    """One watched message: kept small (slots, no per-message task) for 100k-message watches."""

    __slots__ = (
        "added",
        "deadline",
        "due",
        "interval",
        "invalid",
        "last",
        "message_id",
        "not_before",
        "rank",
        "seen",
        "state",
        "stop",
    )

    def __init__(
        self,
        message_id: str,
        *,
        added: float,
        due: float,
        interval: float,
        deadline: float = math.inf,
        stop: frozenset[str] = TERMINAL_STATUSES | FAILURE_STATUSES,
    ) -> None:
        self.message_id = message_id
        self.added = added
        self.due = due
        self.interval = interval
        self.deadline = deadline
        self.stop = stop  # statuses that end this watch (shared between messages)
        self.seen = 0  # activities already yielded: the log only grows at its head
        self.last: Activity | None = None
        self.invalid = 0  # unreadable answers in a row (see MAX_INVALID_ANSWERS)
        self.rank = -1  # STATUS_RANK of the latest step yielded (used once pushes arrive)
        self.not_before = 0.0  # a push postponed the next poll to this time
        self.state = _WAITING

    def __lt__(self, other: _Watched) -> bool:
        return self.due < other.due


#: Failures the transport already retried that may still pass: the watch polls again later.
_TRANSIENT: Final = (
    APIConnectionError,
    InternalServerError,
    RateLimitError,
)
#: Unreadable answers in a row (`APIResponseValidationError`: a body that is not the documented
#: envelope, a refused redirect, an oversized body) after which a message's watch ends with that
#: error: one may be a proxy's hiccup, but a server that keeps sending it would be polled forever.
MAX_INVALID_ANSWERS: Final = 3


class _SavedError(msgspec.Struct, array_like=True):
    """An error event in a checkpoint: its class, message, and status and code if any."""

    kind: str
    message: str
    status: int | None = None
    code: str | None = None

    @classmethod
    def save(cls, error: SentError) -> _SavedError:
        status = error.status_code if isinstance(error, APIStatusError) else None
        code = error.code if isinstance(error, APIError) else None
        return cls(type(error).__name__, getattr(error, "message", str(error)), status, code)

    def load(self, message_id: str, last: Activity | None) -> SentError:
        if self.kind == "WatchTimeoutError":
            return WatchTimeoutError(message_id, last)
        kind = getattr(errors, self.kind, None)
        if isinstance(kind, type) and issubclass(kind, APIStatusError) and self.status:
            return kind(self.message, status_code=self.status, code=self.code)
        if isinstance(kind, type) and issubclass(kind, SentError):
            with contextlib.suppress(TypeError):  # a constructor that needs more
                return kind(self.message)
        return SentError(f"{self.kind}: {self.message}")


class _SavedEvent(msgspec.Struct, array_like=True):
    """A `WatchEvent` not read yet when the checkpoint was taken."""

    message_id: str
    activity: Activity | None
    error: _SavedError | None
    done: bool

    @classmethod
    def save(cls, event: WatchEvent) -> _SavedEvent:
        error = event.error
        saved = None if error is None else _SavedError.save(error)
        return cls(event.message_id, event.activity, saved, event.done)

    def load(self) -> WatchEvent:
        error = None if self.error is None else self.error.load(self.message_id, self.activity)
        return WatchEvent(
            message_id=self.message_id, activity=self.activity, error=error, done=self.done
        )


class _SavedMessage(msgspec.Struct, array_like=True, kw_only=True):
    """One watched message in a checkpoint."""

    message_id: str
    seen: int
    rank: int
    stop: list[str] | None  # None: the watcher's default
    deadline: float | None  # Unix time, so the time a restart takes counts
    last: Activity | None


class _Checkpoint(msgspec.Struct, tag="sentdm-watcher-1", kw_only=True):
    messages: list[_SavedMessage]
    pending: list[_SavedEvent]
    finished: bool


_CHECKPOINT_ENCODER: Final = msgspec.msgpack.Encoder()
_CHECKPOINT_DECODER: Final = msgspec.msgpack.Decoder(_Checkpoint)


class _WatchJob(Job[WatchEvent]):
    """The scheduler and its state; the public `Watcher` is a thin handle on it."""

    kind = "Watcher"

    def __init__(
        self,
        transport: Transport,
        settings: WatchSettings,
        options: BaseRequestOptions | None,
        ids: Iterable[str] | AsyncIterable[str] | None = None,
        *,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if ids is not None and (
            isinstance(ids, str | bytes) or not isinstance(ids, Iterable | AsyncIterable)
        ):
            kind = type(ids).__name__
            raise TypeError(f"ids must be an iterable or async iterable of ids, got {kind}")
        super().__init__()
        self._transport = transport
        self.settings = settings
        # Nothing follows a failure status (short of a resend), so it ends a watch whatever
        # `until` says: waiting for READ on a FAILED message would only run into the timeout.
        self._stop = settings.until | FAILURE_STATUSES
        self._options = options
        self._ids = ids
        self._lane = transport.lane("watch", WATCH_WEIGHT)
        self._rand = rand
        self._heap: list[_Watched] = []
        self._deadlines: list[tuple[float, int, _Watched]] = []
        self._order = count()
        self.active = 0  # added and not yet done
        self._in_flight = 0
        self._changed = asyncio.Event()  # wakes the scheduler: new id, poll done, room, finish
        self._input_done = False
        self._tg: TaskGroup | None = None
        self._intern: dict[object, object] = {}
        self.polls = 0
        #: Set by the first push: from then on steps are ranked and silence decides the polls.
        self._index: dict[str, list[_Watched]] | None = None
        self._polling: set[_Watched] = set()  # being polled: out of the heap (for checkpoints)

    # -- the handle's operations --

    def add(self, message_id: str, *, until: object = None, timeout: object = None) -> None:
        if self._input_done:
            raise ValueError("finish() was called: no more ids can be added")
        if self.closed:
            raise SentError("this watcher is closed")
        check_id(message_id, "message_id")
        stop = self._stop if until is None else check_until(until) | FAILURE_STATUSES
        timeout = self.settings.timeout if timeout is None else check_timeout(timeout)
        self._watch(message_id, stop, timeout)
        self.start()

    def _watch(self, message_id: str, stop: frozenset[str], timeout: float | None) -> _Watched:
        now = anyio.current_time()
        poll = self.settings.poll
        deadline = math.inf if timeout is None else now + max(timeout, 0.0)
        watched = _Watched(
            message_id,
            added=now,
            due=now + self._rand() * poll.jitter * poll.min_interval,
            interval=poll.min_interval,
            deadline=deadline,
            stop=stop,
        )
        if self._index is not None:  # pushes flow: the first poll waits for a silence
            watched.due = min(now + poll.overdue_after, deadline)
            self._index.setdefault(message_id, []).append(watched)
        heapq.heappush(self._heap, watched)
        if timeout is not None:
            heapq.heappush(self._deadlines, (deadline, next(self._order), watched))
        self.active += 1
        self._changed.set()
        return watched

    def checkpoint(self) -> bytes:
        """The watch as bytes (see `Watcher.checkpoint`); a consistent snapshot (no await)."""
        now, wall = anyio.current_time(), time.time()
        saved = [
            _SavedMessage(
                message_id=w.message_id,
                seen=w.seen,
                rank=w.rank,
                stop=None if w.stop is self._stop else sorted(w.stop),
                deadline=None if w.deadline == math.inf else wall + (w.deadline - now),
                last=w.last,
            )
            for w in chain(self._heap, self._polling)
            if w.state != _DONE
        ]
        pending = [_SavedEvent.save(event) for event in self.outbox.pending()]
        state = _Checkpoint(messages=saved, pending=pending, finished=self._input_done)
        return _CHECKPOINT_ENCODER.encode(state)

    def restore(self, data: bytes) -> int:
        """Watch what a checkpoint holds (see `Watcher.restore`); return the messages."""
        if self.closed:
            raise SentError("this watcher is closed")
        try:
            state = _CHECKPOINT_DECODER.decode(data)
        except (msgspec.DecodeError, RecursionError, TypeError):
            raise SentError("not a watcher checkpoint (or from an incompatible version)") from None
        for message in state.messages:
            check_id(message.message_id, "message_id")
        wall = time.time()
        for event in state.pending:
            self.outbox.put(event.load())
        for message in state.messages:
            stop = (
                self._stop if message.stop is None else frozenset(message.stop) | FAILURE_STATUSES
            )
            remaining = None if message.deadline is None else message.deadline - wall
            watched = self._watch(message.message_id, stop, remaining)
            watched.seen, watched.rank, watched.last = message.seen, message.rank, message.last
        if state.finished:
            self.finish()
        self.start()
        return len(state.messages)

    def finish(self) -> None:
        self._input_done = True
        self._changed.set()

    def push(self, message_id: str, activity: Activity) -> bool:
        """Take a pushed step (see `Watcher.push`); return whether it was yielded."""
        if self.closed:
            return False
        index = self._index
        if index is None:
            index = self._index = {}
            for watched in chain(self._heap, self._polling):
                if watched.state != _DONE:
                    index.setdefault(watched.message_id, []).append(watched)
        rank = STATUS_RANK.get(activity.status)
        targets = index.get(message_id)
        if rank is None or not targets:
            return False  # a status without a place in the lifecycle: the polls report it
        yielded = False
        for watched in list(targets):
            if watched.state == _DONE or rank <= watched.rank:
                continue  # a duplicate, or late: a later step was yielded already
            yielded = True
            if self._yield_step(watched, activity, rank):
                continue
            watched.last = self._compact(activity)
            factor = STATUS_FACTORS.get(activity.status, 1.0)
            now = anyio.current_time()
            watched.not_before = min(
                now + self.settings.poll.overdue_after * factor, watched.deadline
            )
        self._changed.set()
        return yielded

    # -- the work --

    async def work(self, tg: TaskGroup) -> None:
        self._tg = tg
        if self._ids is not None:
            tg.start_soon(self._feed)
        await self._schedule()

    async def after_close(self) -> None:
        source = self._ids
        if isinstance(source, AsyncIterable) and hasattr(source, "aclose"):
            with contextlib.suppress(RuntimeError):  # already closed, or running elsewhere
                await source.aclose()

    async def _feed(self) -> None:
        ids = self._ids
        if isinstance(ids, AsyncIterable):
            async for message_id in ids:
                self._add_or_report(message_id)
        elif ids is not None:
            for number, message_id in enumerate(ids, 1):
                self._add_or_report(message_id)
                if number % 1024 == 0:
                    await checkpoint()  # let polling run while a long list is read
        self.finish()

    def _add_or_report(self, message_id: str) -> None:
        try:
            self.add(message_id)
        except SentError as exc:  # a malformed id ends at once, like any other failure
            self.active += 1
            self._emit(WatchEvent(message_id=message_id, error=exc, done=True))

    async def _wait(self, until: float) -> None:
        with anyio.move_on_at(until):
            await self._changed.wait()

    async def _schedule(self) -> None:
        heap = self._heap
        outbox = self.outbox
        have_token = False
        while True:
            self._changed.clear()
            now = anyio.current_time()
            self._expire(now)
            if self._input_done and not self.active:
                return
            while heap and (heap[0].state == _DONE or heap[0].not_before > heap[0].due):
                watched = heapq.heappop(heap)  # timed out while it waited, or a push came
                if watched.state != _DONE:
                    watched.due = watched.not_before
                    heapq.heappush(heap, watched)
            wake = math.inf
            if self._deadlines:
                wake = self._deadlines[0][0] + self.settings.poll.deadline_grace
            if len(outbox) >= MAX_BUFFERED_EVENTS:
                with anyio.move_on_at(wake):
                    await outbox.wait_popped()
                continue
            if not heap or self._in_flight >= self.settings.concurrency:
                await self._wait(wake)
                continue
            if heap[0].due > now:
                await self._wait(min(heap[0].due, wake))
                continue
            if not have_token:
                # Take the token first, then choose: whoever is most overdue when it is free.
                with anyio.move_on_at(wake):
                    await self._transport.acquire(self._lane)
                    have_token = True
                continue
            watched = heapq.heappop(heap)
            watched.state = _POLLING
            self._in_flight += 1
            self._polling.add(watched)
            assert self._tg is not None  # noqa: S101 - work() set it
            self._tg.start_soon(self._poll, watched)
            have_token = False

    def _expire(self, now: float) -> None:
        """Time out the messages whose deadline (plus grace) passed while they waited."""
        deadlines = self._deadlines
        grace = self.settings.poll.deadline_grace
        while deadlines and deadlines[0][0] + grace <= now:
            _, _, watched = heapq.heappop(deadlines)
            if watched.state == _WAITING:
                self._time_out(watched)
            # _POLLING: its own cancel scope ends at the same instant; _DONE: nothing to do

    async def _poll(self, watched: _Watched) -> None:
        self.polls += 1
        try:
            with anyio.move_on_at(watched.deadline + self.settings.poll.deadline_grace) as scope:
                try:
                    log = await self._transport.request(
                        "GET",
                        message_path(watched.message_id, "/activities"),
                        ACTIVITIES,
                        options=self._options,
                        lane=self._lane,
                        budget_acquired=True,
                    )
                except SentError as exc:
                    if watched.state != _DONE:  # a push may have ended it meanwhile
                        self._after_error(watched, exc)
                else:
                    if watched.state != _DONE:
                        self._after_log(watched, log)
            if scope.cancelled_caught and watched.state != _DONE:
                self._time_out(watched)
        finally:
            self._in_flight -= 1
            self._polling.discard(watched)
            self._changed.set()

    def _emit(self, event: WatchEvent) -> None:
        self.outbox.put(event)
        if event.done:
            self.active -= 1
            self._changed.set()

    def _end(self, watched: _Watched, event: WatchEvent) -> None:
        watched.state = _DONE
        self._emit(event)
        index = self._index
        if index is not None:
            targets = index.get(watched.message_id)
            if targets is not None and watched in targets:
                targets.remove(watched)
                if not targets:
                    del index[watched.message_id]

    def _yield_step(self, watched: _Watched, activity: Activity, rank: int | None) -> bool:
        """Yield one new step of ``watched``; return whether it ended the watch."""
        if rank is not None:
            watched.rank = max(watched.rank, rank)
        if activity.status in watched.stop:
            self._end(
                watched, WatchEvent(message_id=watched.message_id, activity=activity, done=True)
            )
            return True
        self._emit(WatchEvent(message_id=watched.message_id, activity=activity))
        return False

    def _time_out(self, watched: _Watched) -> None:
        timeout = watched.deadline - watched.added
        error = WatchTimeoutError(watched.message_id, watched.last, timeout)
        self._end(watched, WatchEvent(message_id=watched.message_id, error=error, done=True))

    def _after_log(self, watched: _Watched, log: ActivityLog) -> None:
        watched.invalid = 0
        activities = log.activities
        fresh = len(activities) - watched.seen
        poll = self.settings.poll
        if fresh > 0:
            pushing = self._index is not None
            for activity in reversed(activities[:fresh]):
                watched.seen += 1
                rank = STATUS_RANK.get(activity.status)
                if pushing and rank is not None and rank <= watched.rank:
                    continue  # a push yielded it, or a later step, already
                if self._yield_step(watched, activity, rank):
                    return
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
        poll = self.settings.poll
        if isinstance(exc, NotFoundError):
            if anyio.current_time() - watched.added >= poll.not_found_grace:
                self._end(watched, WatchEvent(message_id=watched.message_id, error=exc, done=True))
                return
        elif isinstance(exc, APIResponseValidationError):
            watched.invalid += 1
            if watched.invalid >= MAX_INVALID_ANSWERS:
                self._end(watched, WatchEvent(message_id=watched.message_id, error=exc, done=True))
                return
        elif not isinstance(exc, _TRANSIENT):
            # Not going to get better by asking again (401, 403, 400...): the watch ends.
            self._end(watched, WatchEvent(message_id=watched.message_id, error=exc, done=True))
            return
        # Not visible yet, or transient and already retried by the transport: ask again later.
        watched.interval = min(poll.max_interval, watched.interval * poll.multiplier)
        self._reschedule(watched)

    def _reschedule(self, watched: _Watched) -> None:
        now = anyio.current_time()
        if now >= watched.deadline:
            self._time_out(watched)
            return
        poll = self.settings.poll
        interval = watched.interval
        if self._index is not None:  # pushes flow: poll only after a silence longer than likely
            last = watched.last.status if watched.last is not None else ""
            interval = max(interval, poll.overdue_after * STATUS_FACTORS.get(last, 1.0))
        spread = 1.0 + poll.jitter * (2.0 * self._rand() - 1.0)
        # The last poll lands on the deadline, so a message that finished just in time is seen.
        watched.due = min(now + interval * spread, watched.deadline)
        watched.state = _WAITING
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


class Watcher(Handle[WatchEvent]):
    """Watches many messages through one scheduler and the client's one request budget.

    Obtain it from ``client.messages.watcher(...)`` (add ids yourself) or
    ``client.messages.watch_many(ids, ...)`` (ids from an iterable). Iterate it with
    ``async for`` to receive `WatchEvent` objects: one per new activity, in order per message,
    ``done=True`` on the one that ends the watch; or one with ``error`` set and ``done=True``
    when the message timed out (`WatchTimeoutError`) or failed permanently (e.g. `NotFoundError`
    after the grace period). Every added id gets exactly one ``done=True`` event.

    Use ``async with`` (or `aclose`) so polling stops when you leave: a watcher dropped while
    it still runs is cancelled and warns with `ResourceWarning`. Iteration ends once `finish`
    was called and every added message is done. Cancelling a read loses nothing; one task
    reads at a time (see `sentdm_async._engine`).
    """

    __slots__ = ()
    _job: _WatchJob

    def __repr__(self) -> str:
        job = self._job
        return f"<Watcher active={job.active} polls={job.polls} closed={job.closed}>"

    @property
    def until(self) -> frozenset[str]:
        """Default statuses that end a message's watch (a failure status always does too)."""
        return self._job.settings.until

    @property
    def timeout(self) -> float | None:
        """Default seconds a message may be watched, from when it is added; ``None``: no limit."""
        return self._job.settings.timeout

    @property
    def poll(self) -> PollPolicy:
        """The polling cadence."""
        return self._job.settings.poll

    @property
    def active(self) -> int:
        """Messages added and not yet done."""
        return self._job.active

    @property
    def polls(self) -> int:
        """Polls sent so far (each one request, plus any retries the transport made)."""
        return self._job.polls

    def add(
        self,
        message_id: str,
        *,
        until: Iterable[str] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Start watching ``message_id``; its first poll comes within ``jitter x min_interval``.

        Adding an id twice watches it twice. Needs a running event loop (it starts polling).

        Args:
            message_id: The message to watch.
            until: Statuses that end this message's watch, instead of the watcher's default
                (a failure status always ends it): wait for READ on WhatsApp and DELIVERED on
                SMS with one watcher.
            timeout: Seconds this message may be watched, instead of the watcher's default.

        Raises:
            TypeError: ``message_id`` is not a string, or an option of the wrong type.
            InvalidIdError: The id is malformed (a `SentError` and a `ValueError`).
            ValueError: `finish` was already called, or a bad ``until``/``timeout``.
            SentError: The watcher is closed.
        """
        self._job.add(message_id, until=until, timeout=timeout)

    def finish(self) -> None:
        """Say that no more ids will be added: iteration ends when every message is done."""
        self._job.finish()

    def checkpoint(self) -> bytes:
        """Save the watch: every message still watched, and the events not read yet.

        Take it after you have handled the events you read (e.g. with your own commit); a
        watcher given it by `restore`, in this process or another, goes on without yielding
        again a step you already read, and yields the unread ones. Deadlines are kept as wall
        time, so the time a restart takes counts against them. msgpack, about 60 bytes a
        message.
        """
        return self._job.checkpoint()

    def restore(self, data: bytes) -> int:
        """Watch every message of a `checkpoint` (this watcher's defaults for the rest).

        Returns:
            How many messages were restored.

        Raises:
            SentError: Not a checkpoint, or this watcher is closed.
            InvalidIdError: A message id in it is malformed.
        """
        return self._job.restore(data)

    def push(self, event: WebhookEvent) -> bool:
        """Take a webhook event: a watched message's new step is yielded at once.

        A plain method that never blocks; call it from the watcher's event loop (the receivers
        `webhooks.aiohttp_handler` and `webhooks.asgi_app` do, given the watcher as target).
        Each step is yielded once per message whether it came by push, poll or both, and never
        after a later step: a duplicated or late delivery, or a step a later push overtook, is
        dropped (Sent's own guide ranks statuses the same way). From the first push on, a
        message is polled only after `PollPolicy.overdue_after` (times its status factor)
        without news, so a lost delivery, even the terminal one, is still found by a poll.

        Returns:
            Whether the event yielded a step: ``False`` for other families, unwatched
            messages, duplicates and late steps.
        """
        if not isinstance(event, MessageEvent) or not event.payload.message_id:
            return False
        return self._job.push(event.payload.message_id, event.activity())


def new_watcher(
    transport: Transport,
    settings: WatchSettings,
    options: BaseRequestOptions | None = None,
    ids: Iterable[str] | AsyncIterable[str] | None = None,
) -> Watcher:
    """Build a `Watcher`: fed by the caller (``ids=None``) or from ``ids`` by a task of its own."""
    return Watcher(_WatchJob(transport, settings, options, ids))
