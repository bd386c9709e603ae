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
(`sentdm_async._bulk.engine`), which also gives the watcher its reading and closing contract.

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
from functools import partial
from itertools import chain, count
from typing import TYPE_CHECKING, Final, Literal

import anyio
import msgspec
from anyio.lowlevel import checkpoint

from sentdm_async import errors
from sentdm_async._bulk.engine import Handle, Job
from sentdm_async._core.checks import check_number, check_positive_int
from sentdm_async._core.ids import ACTIVITIES_TEMPLATE, check_id, message_path
from sentdm_async._http.hooks import StepEvent
from sentdm_async._ratelimit.gate import WATCH_WEIGHT
from sentdm_async._watch.gapfill import (
    DEAD_EXPECTED,
    LOSS_MEMORY,
    PushHealth,
    SilenceModel,
    expected_endings,
    next_poll,
)
from sentdm_async.errors import (
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
from sentdm_async.resources.messages import ACTIVITIES
from sentdm_async.types._decode import dec_hook
from sentdm_async.types.messages import (
    FAILURE_STATUSES,
    TERMINAL_STATUSES,
    Activity,
    ActivityLog,
    WatchEvent,
)
from sentdm_async.webhooks import MessageEvent

if TYPE_CHECKING:
    from collections.abc import Callable

    from anyio.abc import TaskGroup

    from sentdm_async._http.options import BaseRequestOptions
    from sentdm_async._http.transport import Transport
    from sentdm_async.webhooks import WebhookEvent

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


#: Pushes are suspected to have stopped only after a silence of at least this many
#: ``min_interval`` (pushes normally follow a send within a second).
QUIET_FLOOR: Final = 5.0


#: Pushes that must arrive after they were found stopped before polls only fill gaps again.
RESUME_AFTER_PUSHES: Final = 2


#: Messages a push+poll watcher looks at to judge the pushes' health or a silence curve.
_HEALTH_SAMPLE: Final = 1024


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
        overdue_after: Once the watcher receives pushed webhook events, the longest a message
            waits without news before a poll (times its status factor, e.g. x3 at SENT).
        gap_fill: How a push+poll watcher picks the messages to poll. ``"adaptive"``: once
            the chance that a message's ending step happened and its push was lost passes
            20%, judged from the silences this watcher has seen and the share of pushes that
            went missing (see `sentdm_async._watch.gapfill`), never later than ``overdue_after``.
            ``"fixed"``: after exactly ``overdue_after`` (times the status factor) of silence.
            Either way the watcher polls at its plain cadence while the pushes seem to have
            stopped.
    """

    min_interval: float = 1.0
    max_interval: float = 30.0
    multiplier: float = 1.5
    jitter: float = 0.1
    not_found_grace: float = 30.0
    overdue_after: float = 60.0
    gap_fill: Literal["adaptive", "fixed"] = "adaptive"

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
        if self.gap_fill not in ("adaptive", "fixed"):
            raise ValueError("PollPolicy.gap_fill must be 'adaptive' or 'fixed'")

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


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return value


def check_timeout(timeout: object) -> float | None:
    """Validate a watch ``timeout=`` (seconds, ``None`` = no limit)."""
    return None if timeout is None else check_number("timeout", timeout, positive=True)


class WatchSettings(msgspec.Struct, frozen=True, kw_only=True):
    """A watcher's defaults, validated once (`build`); `Watcher.add` may override per message."""

    until: frozenset[str] = TERMINAL_STATUSES
    timeout: float | None = None
    poll: PollPolicy = msgspec.field(default_factory=PollPolicy)
    concurrency: int = DEFAULT_WATCH_CONCURRENCY
    expect_pushes: bool = False

    @classmethod
    def build(
        cls,
        *,
        until: object = TERMINAL_STATUSES,
        timeout: object = None,
        poll: object = None,
        concurrency: object = DEFAULT_WATCH_CONCURRENCY,
        expect_pushes: object = False,
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
            expect_pushes=_check_bool("expect_pushes", expect_pushes),
        )


#: Steps every message that reaches a later one went through, each pushed by Sent: a push that
#: jumps over one of them is evidence that its delivery was lost.
_QUEUED_RANK: Final = STATUS_RANK["QUEUED"]


_SENT_RANK: Final = STATUS_RANK["SENT"]


_AFTER_SENT: Final = frozenset({"DELIVERED", "READ", "FAILED"})


_ALWAYS_PUSHED: Final = frozenset({"QUEUED", "SENT"})


def _skipped_pushes(known_rank: int, status: str) -> int:
    """How many always-pushed steps a push of ``status`` jumps over from ``known_rank``."""
    skipped = int(known_rank < _QUEUED_RANK and status != "QUEUED")
    if status in _AFTER_SENT and known_rank < _SENT_RANK:
        skipped += 1
    return skipped


class _Watched:
    """One watched message: kept small (slots, no per-message task) for 100k-message watches."""

    __slots__ = (
        "added",
        "checked",
        "deadline",
        "due",
        "interval",
        "invalid",
        "last",
        "message_id",
        "rank",
        "ranked",
        "seen",
        "since",
        "state",
        "stop",
        "unconfirmed",
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
        self.rank = -1  # STATUS_RANK of the latest step yielded
        self.ranked = False  # a push (or a checkpoint) set the rank: polls skip what it covers
        self.since = added  # when its latest step became known (by push or poll)
        self.checked = added  # when a poll last found nothing new (or `since`)
        self.unconfirmed = 0  # steps a poll found that no push brought (yet)
        self.state = _WAITING

    def __lt__(self, other: _Watched) -> bool:
        return self.due < other.due

    @property
    def status(self) -> str:
        """The status of its latest known step ("" before any)."""
        return self.last.status if self.last is not None else ""


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


def _check_saved(message: _SavedMessage) -> None:
    """Refuse a checkpoint entry no `checkpoint` could have written."""
    check_id(message.message_id, "message_id")
    deadline = message.deadline
    if deadline is not None and not math.isfinite(deadline):
        raise SentError(f"checkpoint: message {message.message_id!r} has a deadline of {deadline}")
    if message.seen < 0 or not -1 <= message.rank <= max(STATUS_RANK.values()):
        raise SentError(f"checkpoint: message {message.message_id!r} has an impossible position")


_CHECKPOINT_ENCODER: Final = msgspec.msgpack.Encoder()


_CHECKPOINT_DECODER: Final = msgspec.msgpack.Decoder(_Checkpoint, dec_hook=dec_hook)


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
        #: Every message being watched, by id (one watch per id).
        self._by_id: dict[str, _Watched] = {}
        self._polling: set[_Watched] = set()  # being polled: out of the heap (for checkpoints)
        #: Pushes expected (or seen): polls fill gaps (`sentdm_async._watch.gapfill`) while healthy.
        self._expect_pushes = settings.expect_pushes
        self._health: PushHealth | None = None
        #: Silences before a message's ending step, and before any next step, by status.
        self._endings = SilenceModel(period=settings.poll.min_interval)
        self._moves = SilenceModel(period=settings.poll.min_interval)
        self._fallback = True  # polling at the plain cadence (no pushes, or they stopped)
        self._next_health_check = -math.inf

    # -- the handle's operations --

    def add(self, message_id: str, *, until: object = None, timeout: object = None) -> None:
        if self._input_done:
            raise ValueError("finish() was called: no more ids can be added")
        if self.closed:
            raise SentError("this watcher is closed")
        check_id(message_id, "message_id")
        stop = None if until is None else check_until(until) | FAILURE_STATUSES
        timeout = None if timeout is None else check_timeout(timeout)
        watched = self._by_id.get(message_id)
        if watched is not None:  # already watched: only new options change anything
            if stop is not None:
                watched.stop = stop
            if timeout is not None:
                self._set_deadline(watched, anyio.current_time() + timeout)
            self._changed.set()
            return
        self._watch(message_id, stop or self._stop, timeout or self.settings.timeout)
        self.start()

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._by_id

    def _watch(self, message_id: str, stop: frozenset[str], timeout: float | None) -> _Watched:
        now = anyio.current_time()
        poll = self.settings.poll
        watched = _Watched(
            message_id,
            added=now,
            due=now + self._rand() * poll.jitter * poll.min_interval,
            interval=poll.min_interval,
            stop=stop,
        )
        if self._expect_pushes and self._health is None:
            self._health = self._new_health(now)
            self._fallback = False
        if not self._fallback:  # pushes flow: the first poll waits for a silence
            watched.due = self._gap_due(watched, now)
        self._by_id[message_id] = watched
        heapq.heappush(self._heap, watched)
        if timeout is not None:
            watched.deadline = now + max(timeout, 0.0)
            watched.due = min(watched.due, watched.deadline)
            heapq.heappush(self._deadlines, (watched.deadline, next(self._order), watched))
        self.active += 1
        self._changed.set()
        return watched

    def _set_deadline(self, watched: _Watched, deadline: float) -> None:
        """Give a message already watched a new deadline (its old one no longer applies)."""
        watched.deadline = deadline
        if watched.state == _WAITING and deadline < watched.due:
            watched.due = deadline
            heapq.heapify(self._heap)
        heapq.heappush(self._deadlines, (deadline, next(self._order), watched))

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
            _check_saved(message)
        wall = time.time()
        for event in state.pending:
            self.outbox.put(event.load())
        restored = 0
        for message in state.messages:
            if message.message_id in self._by_id:
                continue  # watched already (added again after a crash): the live watch wins
            stop = (
                self._stop if message.stop is None else frozenset(message.stop) | FAILURE_STATUSES
            )
            # Saved without a deadline: this watcher's default timeout applies, as to `add`.
            remaining = (
                self.settings.timeout if message.deadline is None else message.deadline - wall
            )
            watched = self._watch(message.message_id, stop, remaining)
            watched.seen, watched.rank, watched.last = message.seen, message.rank, message.last
            # Steps up to the saved rank were yielded, by push or poll: the first poll after the
            # restart must not yield them again (its log position alone misses pushed steps).
            watched.ranked = message.rank >= 0
            restored += 1
        if state.finished:
            self.finish()
        self.start()
        return restored

    def finish(self) -> None:
        self._input_done = True
        self._changed.set()

    def push(self, message_id: str, activity: Activity, channel: str | None = None) -> bool:
        """Take a pushed step (see `Watcher.push`); return whether it was yielded."""
        if self.closed:
            return False
        now = anyio.current_time()
        health = self._health
        if health is None:  # the first push: from now on polls only fill gaps
            health = self._health = self._new_health(now)
        rank = STATUS_RANK.get(activity.status)
        watched = self._by_id.get(message_id)
        if rank is None or watched is None or watched.state == _DONE:
            health.pushed(now, counted=False)  # the stream flows; nothing to learn the loss from
            return False  # a status without a place in the lifecycle: the polls report it
        self._changed.set()
        # The loss share counts each always-pushed step once: a new one, or the late push of
        # one a poll found first (a duplicate delivery counts for nothing).
        counted = activity.status in _ALWAYS_PUSHED
        if rank <= watched.rank:
            confirms = counted and watched.unconfirmed > 0
            health.pushed(now, counted=confirms, confirms_poll=confirms)
            watched.unconfirmed -= confirms
            return False  # a duplicate, or late: a later step was yielded already
        health.pushed(now, counted=counted)
        skipped = _skipped_pushes(watched.rank, activity.status)
        if skipped:  # the pushes of steps this one implies never came: lost (or late)
            health.missed_steps(now, skipped)
            watched.unconfirmed += skipped
        watched.ranked = True
        self._learn(watched, activity.status, now, polled=False)
        if not self._yield_step(watched, activity, rank, "push", channel):
            watched.last = self._compact(activity)
        return True

    def _new_health(self, now: float) -> PushHealth:
        poll = self.settings.poll
        return PushHealth(
            now, expected_gap=poll.min_interval, half_life=LOSS_MEMORY * poll.overdue_after
        )

    def _learn(self, watched: _Watched, status: str, now: float, *, polled: bool) -> None:
        """A new step of ``watched`` became known: record how long its last status lasted.

        A step a poll found happened after the poll before it: it counts at the middle of
        that span, not at its discovery (which would teach the watcher ever later polls).
        """
        previous = watched.status
        known = (watched.checked + now) / 2.0 if polled else now
        silence = known - watched.since
        self._endings.observe(previous, silence, ended=status in watched.stop)
        self._moves.observe(previous, silence, ended=True)
        watched.since = watched.checked = now

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
            wake = self._check_pushes(now)
            self._settle_top(now)
            if self._deadlines:
                wake = min(wake, self._deadlines[0][0] + self.settings.poll.deadline_grace)
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

    def _settle_top(self, now: float) -> None:
        """Drop finished messages from the top of the heap; put back those not due after all.

        A due time is an early guess: a push, or a silence curve learned since, may move it.
        """
        heap = self._heap
        while heap:
            top = heap[0]
            if top.state == _DONE:
                heapq.heappop(heap)
            elif top.due <= now and not self._fallback and (due := self._gap_due(top, now)) > now:
                top.due = due
                heapq.heapreplace(heap, top)
            else:
                return

    def _check_pushes(self, now: float) -> float:
        """Switch between gap filling and plain polling by the pushes' health.

        Returns:
            When to look again (`math.inf`: not before something changes).
        """
        health = self._health
        if health is None:
            return math.inf
        poll = self.settings.poll
        suspicious = health.quiet_since(QUIET_FLOOR * poll.min_interval)
        if self._fallback:  # until pushes are back (push() wakes the scheduler)
            if health.resumed < RESUME_AFTER_PUSHES or now >= suspicious:
                return math.inf
            self._fallback = False
        if now < suspicious:
            return suspicious
        if now < self._next_health_check:
            return self._next_health_check
        self._next_health_check = now + poll.min_interval / 2
        if self._deliveries_stopped(now, health):
            self._fallback = True
            health.resumed = 0
            self._replan_polling(now)
            return math.inf
        return self._next_health_check

    def _deliveries_stopped(self, now: float, health: PushHealth) -> bool:
        """Whether enough messages should have moved since the last push to call it stopped.

        Expected from the start and none ever came: stopped (the endpoint never worked).
        Otherwise each waiting message counts by its silence curve, and one of which nothing
        is known yet counts once its silence is suspicious: its QUEUED push comes at once.
        """
        if not health.arrived:
            return True
        step, sample = self._waiting_sample()
        quiet = health.quiet_since(QUIET_FLOOR * self.settings.poll.min_interval) - health.last_push
        expected, loss = 0.0, health.loss
        for watched in sample:
            status = watched.status
            if not status:
                expected += step if now - watched.since > quiet else 0.0
                continue
            curve = self._moves.curve(status, now, partial(self._waiting_silences, status, now))
            if curve is not None:
                at_push = max(0.0, health.last_push - watched.since)
                expected += expected_endings(curve, at_push, now - watched.since, loss) * step
        return expected >= DEAD_EXPECTED

    def _replan_polling(self, now: float) -> None:
        """Pushes stopped: every message is due at its plain polling cadence again."""
        poll = self.settings.poll
        for watched in self._heap:
            if watched.state == _WAITING:
                interval = min(watched.interval, poll.max_interval)
                watched.due = min(watched.due, max(now, watched.checked + interval))
        heapq.heapify(self._heap)

    def _gap_due(self, watched: _Watched, now: float) -> float:
        """When to poll a message the pushes cover (see `sentdm_async._watch.gapfill`)."""
        poll = self.settings.poll
        status = watched.status
        ceiling = poll.overdue_after * STATUS_FACTORS.get(status, 1.0)
        if poll.gap_fill == "fixed":
            return min(watched.checked + ceiling, watched.deadline)
        curve = self._endings.curve(status, now, partial(self._waiting_silences, status, now))
        assert self._health is not None  # noqa: S101 - gap filling starts with the first push
        due = next_poll(
            since=watched.since,
            checked=watched.checked,
            curve=curve,
            loss=self._health.loss,
            ceiling=ceiling,
            # Never more often than plain polling would ask (its interval grows while nothing
            # changes): gap filling must not cost more than having no pushes at all.
            floor=watched.interval,
        )
        # What was learned moves the due time: look again (no request) before the silence grows
        # by half, so a due time set while little was known never holds a message back long.
        due = min(due, now + max(poll.min_interval, (now - watched.since) / 2))
        return min(due, watched.deadline)

    def _waiting_silences(self, status: str, now: float) -> list[tuple[float, float]]:
        """Silences of (a sample of) the messages waiting at ``status``, weighted."""
        step, sample = self._waiting_sample()
        return [(now - w.since, step) for w in sample if w.status == status]

    def _waiting_sample(self) -> tuple[float, list[_Watched]]:
        """An even sample of at most `_HEALTH_SAMPLE` waiting messages, and each one's weight."""
        heap = self._heap
        step = max(1, len(heap) // _HEALTH_SAMPLE)
        return float(step), [w for w in heap[::step] if w.state == _WAITING]

    def _expire(self, now: float) -> None:
        """Time out the messages whose deadline (plus grace) passed while they waited."""
        deadlines = self._deadlines
        grace = self.settings.poll.deadline_grace
        while deadlines and deadlines[0][0] + grace <= now:
            deadline, _, watched = heapq.heappop(deadlines)
            if watched.state == _WAITING and deadline == watched.deadline:  # not replaced by add
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
                        template=ACTIVITIES_TEMPLATE,
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
        if self._by_id.get(watched.message_id) is watched:
            del self._by_id[watched.message_id]

    def _yield_step(
        self,
        watched: _Watched,
        activity: Activity,
        rank: int | None,
        via: Literal["push", "poll"] = "poll",
        channel: str | None = None,
    ) -> bool:
        """Yield one new step of ``watched``; return whether it ended the watch."""
        if rank is not None:
            watched.rank = max(watched.rank, rank)
        hooks = self._transport.hooks
        if hooks:  # listeners (`AsyncSent(hooks=...)`, stats, OpenTelemetry) see each step
            done = activity.status in watched.stop
            hooks.on_status(
                StepEvent(
                    message_id=watched.message_id,
                    activity=activity,
                    via=via,
                    done=done,
                    channel=channel,
                )
            )
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
        activities = log.chronological()[::-1]  # newest first, as sent; [] for a null list
        fresh = len(activities) - watched.seen
        poll = self.settings.poll
        now = anyio.current_time()
        if fresh > 0:
            missed = 0
            for activity in reversed(activities[:fresh]):
                watched.seen += 1
                rank = STATUS_RANK.get(activity.status)
                if watched.ranked and rank is not None and rank <= watched.rank:
                    continue  # a push yielded it, or a later step, already
                if activity.status in _ALWAYS_PUSHED:  # counted like the pushes (see push())
                    missed += 1
                if rank is not None:
                    self._learn(watched, activity.status, now, polled=True)
                if self._yield_step(watched, activity, rank):
                    break
            if self._health is not None and missed:
                self._health.missed_steps(now, missed)
                watched.unconfirmed += missed
            if watched.state == _DONE:
                return
            latest = activities[0]
            watched.last = self._compact(latest)
            watched.interval = poll.min_interval * STATUS_FACTORS.get(latest.status, 1.0)
            if latest.status == "SCHEDULED" and latest.scheduled_at is not None:
                wait = (latest.scheduled_at - datetime.now(UTC)).total_seconds()
                watched.interval = max(watched.interval, wait)
        else:
            watched.interval = min(poll.max_interval, watched.interval * poll.multiplier)
        watched.checked = now
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
        spread = 1.0 + poll.jitter * (2.0 * self._rand() - 1.0)
        # The last poll lands on the deadline, so a message that finished just in time is seen.
        watched.due = min(now + watched.interval * spread, watched.deadline)
        watched.state = _WAITING
        if not self._fallback:  # pushes flow: poll only once a lost push is likely
            watched.due = self._gap_due(watched, now)
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
    reads at a time (see `sentdm_async._bulk.engine`).
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

    @property
    def pushes(self) -> Literal["none", "flowing", "stopped"]:
        """What the watcher makes of the pushes it gets.

        ``"none"``: none came (nor were they expected): it polls at its cadence.
        ``"flowing"``: polls only fill the gaps of lost deliveries (`PollPolicy.gap_fill`).
        ``"stopped"``: deliveries stopped while messages should have moved: it polls at its
        cadence until a push arrives again.
        """
        job = self._job
        if job._health is None:
            return "none"
        return "stopped" if job._fallback else "flowing"

    @property
    def push_loss(self) -> float | None:
        """The estimated share of steps whose push does not arrive (``None``: no pushes)."""
        health = self._job._health
        return None if health is None else health.loss

    def add(
        self,
        message_id: str,
        *,
        until: Iterable[str] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Start watching ``message_id``; its first poll comes within ``jitter x min_interval``.

        Idempotent: adding an id that is being watched changes nothing, except the ``until``
        and ``timeout`` given here (a new timeout counts from now), so an app can re-add its
        unfinished rows after a crash. An id whose watch ended is watched anew. Needs a
        running event loop (it starts polling).

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

    def __contains__(self, message_id: object) -> bool:
        """Whether ``message_id`` is being watched (added, not done yet)."""
        return message_id in self._job

    def finish(self) -> None:
        """Say that no more ids will be added: iteration ends when every message is done."""
        self._job.finish()

    def checkpoint(self) -> bytes:
        """Save the watch: every message still watched, and the events not read yet.

        Take it after you have handled the events you read (e.g. with your own commit); a
        watcher given it by `restore`, in this process or another, goes on without yielding
        again a step you already read, however it came (push or poll), nor one before it in
        the lifecycle, and yields the unread ones. Deadlines are kept as wall time, so the
        time a restart takes counts against them. msgpack, about 60 bytes a message.

        A crash without a checkpoint costs this: steps read since the last checkpoint come
        again after `restore`, and ids added since it are not in it (add them again: `add`
        is idempotent). What the silence curves and push health learned is not kept.
        """
        return self._job.checkpoint()

    def restore(self, data: bytes) -> int:
        """Watch every message of a `checkpoint` (this watcher's defaults for the rest).

        A message saved without its own ``until`` or deadline gets this watcher's ``until``
        and ``timeout`` (counted from now). A message this watcher already watches keeps
        its live watch.

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
        dropped (Sent's own guide ranks statuses the same way). From the first push on, polls
        only fill gaps: a message is polled once its silence makes a lost delivery likely
        (`PollPolicy.gap_fill`), so a lost delivery, even the terminal one, is still found;
        if deliveries stop, the watcher polls at its plain cadence until they return.

        Returns:
            Whether the event yielded a step: ``False`` for other families, unwatched
            messages, duplicates and late steps.
        """
        if not isinstance(event, MessageEvent) or not event.payload.message_id:
            return False
        return self._job.push(event.payload.message_id, event.activity(), event.payload.channel)


def new_watcher(
    transport: Transport,
    settings: WatchSettings,
    options: BaseRequestOptions | None = None,
    ids: Iterable[str] | AsyncIterable[str] | None = None,
) -> Watcher:
    """Build a `Watcher`: fed by the caller (``ids=None``) or from ``ids`` by a task of its own."""
    return Watcher(_WatchJob(transport, settings, options, ids))
