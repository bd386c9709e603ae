"""The scheduler: one heap of watched messages, one request budget, token first, then choose.

The account's rate limit is the bottleneck (200 requests/min by default: a watcher polling every
2 s per message saturates it at about 7 messages). So there is no task per message: every watched
message is a small record (`Watched`) in one heap ordered by its next poll time. The scheduler
takes a token from the client's budget (its own fair-share lane) first and only then picks the
most overdue message, so when tokens are scarce they go to the messages that have waited longest
and none starves; a bounded number of polls run at once. Each poll reads the message's whole
activity log, so any number of steps that happened in between arrive together, in order, each
once. When to poll comes from `sentdm_async._watch.policy` (plain cadence) or, while pushes flow,
from `sentdm_async._watch.push` (gap filling).

Deadlines (a message's ``timeout``) are wall-clock bounds: a message's timeout fires within
`PollPolicy.deadline_grace` of its deadline whatever is going on. Its last poll is due at the
deadline and runs in a cancel scope that ends at deadline + grace; a message still waiting for a
token then (the budget paused by a 429, say) is timed out by the scheduler from a second heap of
deadlines.

The scheduler, its polls and `watch_many`'s id feeder run in the task group of one engine job
(`sentdm_async._bulk.engine`), which also gives the watcher its reading and closing contract.

Rejected alternatives: a task per message (about 10 KiB each once it has polled, and no global
view to share the budget fairly); fixed-interval polling (spends the budget on messages that
are not changing).
"""

from __future__ import annotations

import contextlib
import heapq
import math
import random
import time
from collections.abc import AsyncIterable, Iterable
from datetime import UTC, datetime
from itertools import chain, count
from typing import TYPE_CHECKING, Final, Literal

import anyio
from anyio.lowlevel import checkpoint as cancel_checkpoint

from sentdm_async._bulk.engine import Job
from sentdm_async._core.ids import ACTIVITIES_TEMPLATE, check_id, message_path
from sentdm_async._http.hooks import StepEvent
from sentdm_async._ratelimit.gate import WATCH_WEIGHT
from sentdm_async._watch import checkpoint as saved
from sentdm_async._watch.policy import (
    STATUS_RANK,
    check_timeout,
    check_until,
    first_poll_delay,
    jittered,
    next_interval,
)
from sentdm_async._watch.push import ALWAYS_PUSHED, PushTracker
from sentdm_async._watch.watched import DONE, POLLING, WAITING, ActivityInterner, Watched
from sentdm_async.errors import (
    APIConnectionError,
    APIResponseValidationError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    SentError,
    WatchTimeoutError,
)
from sentdm_async.resources.messages import ACTIVITIES
from sentdm_async.types.messages import FAILURE_STATUSES, WatchEvent

if TYPE_CHECKING:
    from collections.abc import Callable

    from anyio.abc import TaskGroup

    from sentdm_async._http.options import BaseRequestOptions
    from sentdm_async._http.transport import Transport
    from sentdm_async._watch.policy import WatchSettings
    from sentdm_async.types.messages import Activity, ActivityLog

__all__ = ["MAX_BUFFERED_EVENTS", "MAX_INVALID_ANSWERS", "WatchJob"]

#: Events held for a reader before the scheduler stops polling (backpressure).
MAX_BUFFERED_EVENTS: Final = 4096


#: Messages a push+poll watcher looks at to judge the pushes' health or a silence curve.
HEALTH_SAMPLE: Final = 1024


#: Unreadable answers in a row (`APIResponseValidationError`: a body that is not the documented
#: envelope, a refused redirect, an oversized body) after which a message's watch ends with that
#: error: one may be a proxy's hiccup, but a server that keeps sending it would be polled forever.
MAX_INVALID_ANSWERS: Final = 3


#: Failures the transport already retried that may still pass: the watch polls again later.
_TRANSIENT: Final = (
    APIConnectionError,
    InternalServerError,
    RateLimitError,
)


def _scheduled_in(activity: Activity) -> float | None:
    """Seconds until a SCHEDULED message is released (``None``: not scheduled)."""
    if activity.status != "SCHEDULED" or activity.scheduled_at is None:
        return None
    return (activity.scheduled_at - datetime.now(UTC)).total_seconds()


class WatchJob(Job[WatchEvent]):
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
        """Build the job; ``ids`` (if any) are fed by a task of its own once it runs."""
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
        self._heap: list[Watched] = []
        self._deadlines: list[tuple[float, int, Watched]] = []
        self._order = count()
        self.active = 0  # added and not yet done
        self._in_flight = 0
        #: Wakes the scheduler (new id, poll done, room, finish); a fresh one per round, made
        #: by the scheduler itself (anyio events cannot be cleared, nor made without a loop).
        self._changed: anyio.Event | None = None
        self._input_done = False
        self._tg: TaskGroup | None = None
        self._interner = ActivityInterner()
        self.polls = 0
        #: Every message being watched, by id (one watch per id).
        self._by_id: dict[str, Watched] = {}
        self._polling: set[Watched] = set()  # being polled: out of the heap (for checkpoints)
        self.pushes = PushTracker(
            settings.poll, expected=settings.expect_pushes, waiting=self.waiting_sample
        )

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()

    # -- the handle's operations --

    def add(self, message_id: str, *, until: object = None, timeout: object = None) -> None:
        """Watch ``message_id`` (see `Watcher.add`)."""
        if self._input_done:
            raise ValueError("finish() was called: no more ids can be added")
        if self.closed:
            raise SentError("this watcher is closed")
        check_id(message_id, "message_id")
        stop = None if until is None else check_until(until) | FAILURE_STATUSES
        timeout = None if timeout is None else check_timeout(timeout)
        watched = self._by_id.get(message_id)
        if watched is None:
            self._watch(message_id, stop or self._stop, timeout or self.settings.timeout)
            self.start()
            return
        # Already watched: only new options change anything.
        if stop is not None:
            watched.stop = stop
        if timeout is not None:
            self._set_deadline(watched, anyio.current_time() + timeout)
        self._wake()

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._by_id

    def _watch(self, message_id: str, stop: frozenset[str], timeout: float | None) -> Watched:
        """Start watching; ``timeout``: seconds this message may be watched from now."""
        now = anyio.current_time()
        poll = self.settings.poll
        watched = Watched(
            message_id,
            added=now,
            due=now + first_poll_delay(poll, self._rand()),
            interval=poll.min_interval,
            stop=stop,
        )
        pushes = self.pushes
        pushes.message_added(now)
        if pushes.fills_gaps:  # pushes flow: the first poll waits for a silence
            watched.due = pushes.gap_due(watched, now)
        self._by_id[message_id] = watched
        heapq.heappush(self._heap, watched)
        if timeout is not None:
            watched.deadline = now + max(timeout, 0.0)
            watched.due = min(watched.due, watched.deadline)
            heapq.heappush(self._deadlines, (watched.deadline, next(self._order), watched))
        self.active += 1
        self._wake()
        return watched

    def _set_deadline(self, watched: Watched, deadline: float) -> None:
        """Give a message already watched a new deadline (its old one no longer applies)."""
        watched.deadline = deadline
        if watched.state == WAITING and deadline < watched.due:
            watched.due = deadline
            heapq.heapify(self._heap)
        heapq.heappush(self._deadlines, (deadline, next(self._order), watched))

    def checkpoint(self) -> bytes:
        """The watch as bytes (see `Watcher.checkpoint`); a consistent snapshot (no await)."""
        now, wall = anyio.current_time(), time.time()
        messages = [
            saved.SavedMessage(
                message_id=w.message_id,
                seen=w.seen,
                rank=w.rank,
                stop=None if w.stop is self._stop else sorted(w.stop),
                deadline=None if w.deadline == math.inf else wall + (w.deadline - now),
                last=w.last,
            )
            for w in chain(self._heap, self._polling)
            if w.state != DONE
        ]
        pending = [saved.SavedEvent.save(event) for event in self.outbox.pending()]
        state = saved.Checkpoint(messages=messages, pending=pending, finished=self._input_done)
        return saved.dump(state)

    def restore(self, data: bytes) -> int:
        """Watch what a checkpoint holds (see `Watcher.restore`); return the messages."""
        if self.closed:
            raise SentError("this watcher is closed")
        state = saved.load(data)
        wall = time.time()
        for event in state.pending:
            self.outbox.put(event.load())
        restored = 0
        for message in state.messages:
            if message.message_id not in self._by_id:  # else the live watch (added again) wins
                self._restore_one(message, wall)
                restored += 1
        if state.finished:
            self.finish()
        self.start()
        return restored

    def _restore_one(self, message: saved.SavedMessage, wall: float) -> None:
        stop = self._stop if message.stop is None else frozenset(message.stop) | FAILURE_STATUSES
        # Saved without a deadline: this watcher's default timeout applies, as to `add`.
        remaining = self.settings.timeout if message.deadline is None else message.deadline - wall
        watched = self._watch(message.message_id, stop, remaining)
        watched.seen, watched.rank, watched.last = message.seen, message.rank, message.last
        # Steps up to the saved rank were yielded, by push or poll: the first poll after the
        # restart must not yield them again (its log position alone misses pushed steps).
        watched.ranked = message.rank >= 0

    def finish(self) -> None:
        """No more ids will be added (see `Watcher.finish`)."""
        self._input_done = True
        self._wake()

    def push(self, message_id: str, activity: Activity, channel: str | None = None) -> bool:
        """Take a pushed step (see `Watcher.push`); return whether it was yielded."""
        if self.closed:
            return False
        watched = self._by_id.get(message_id)
        if watched is not None and watched.state == DONE:
            watched = None
        rank = self.pushes.take(watched, activity.status, anyio.current_time())
        if watched is None or activity.status not in STATUS_RANK:
            return False
        self._wake()
        if rank is None:
            return False
        if not self._yield_step(watched, activity, rank, via="push", channel=channel):
            watched.last = self._interner.compact(activity)
        return True

    # -- the work --

    async def work(self, tg: TaskGroup) -> None:
        """Feed the ids (if any) and schedule polls until every message is done."""
        self._tg = tg
        if self._ids is not None:
            tg.start_soon(self._feed)
        await self._schedule()

    async def after_close(self) -> None:
        """Close an async id source the watch did not exhaust."""
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
                    await cancel_checkpoint()  # let polling run while a long list is read
        self.finish()

    def _add_or_report(self, message_id: str) -> None:
        try:
            self.add(message_id)
        except SentError as exc:  # a malformed id ends at once, like any other failure
            self.active += 1
            self._emit(WatchEvent(message_id=message_id, error=exc, done=True))

    async def _wait(self, changed: anyio.Event, until: float) -> None:
        with anyio.move_on_at(until):
            await changed.wait()

    async def _schedule(self) -> None:
        have_token = False
        while True:
            changed = self._changed = anyio.Event()
            now = anyio.current_time()
            self._expire(now)
            if self._input_done and not self.active:
                return
            wake = self._next_look(now)
            if not await self._ready(changed, now, wake):
                continue
            if not have_token:
                # Take the token first, then choose: whoever is most overdue when it is free.
                with anyio.move_on_at(wake):
                    await self._transport.acquire(self._lane)
                    have_token = True
                continue
            self._start_poll()
            have_token = False

    def _next_look(self, now: float) -> float:
        """Settle the pushes' mode and the heap's top; return when to look again at the latest."""
        wake, stopped = self.pushes.check(now)
        if stopped:
            self._replan_polling(now)
        self._settle_top(now)
        if self._deadlines:
            wake = min(wake, self._deadlines[0][0] + self.settings.poll.deadline_grace)
        return wake

    async def _ready(self, changed: anyio.Event, now: float, wake: float) -> bool:
        """Whether a poll may start now; if not, wait for a change (or ``wake``) first."""
        outbox = self.outbox
        if len(outbox) >= MAX_BUFFERED_EVENTS:
            with anyio.move_on_at(wake):
                await outbox.wait_popped()
            return False
        heap = self._heap
        if not heap or self._in_flight >= self.settings.concurrency:
            await self._wait(changed, wake)
            return False
        if heap[0].due > now:
            await self._wait(changed, min(heap[0].due, wake))
            return False
        return True

    def _start_poll(self) -> None:
        watched = heapq.heappop(self._heap)
        watched.state = POLLING
        self._in_flight += 1
        self._polling.add(watched)
        assert self._tg is not None  # noqa: S101 - work() set it
        self._tg.start_soon(self._poll, watched)

    def _settle_top(self, now: float) -> None:
        """Drop finished messages from the top of the heap; put back those not due after all.

        A due time is an early guess: a push, or a silence curve learned since, may move it.
        """
        heap = self._heap
        pushes = self.pushes
        while heap:
            top = heap[0]
            if top.state == DONE:
                heapq.heappop(heap)
            elif top.due <= now and pushes.fills_gaps and (due := pushes.gap_due(top, now)) > now:
                top.due = due
                heapq.heapreplace(heap, top)
            else:
                return

    def _replan_polling(self, now: float) -> None:
        """Pushes stopped: every message is due at its plain polling cadence again."""
        poll = self.settings.poll
        for watched in self._heap:
            if watched.state == WAITING:
                interval = min(watched.interval, poll.max_interval)
                watched.due = min(watched.due, max(now, watched.checked + interval))
        heapq.heapify(self._heap)

    def waiting_sample(self) -> tuple[float, list[Watched]]:
        """An even sample of at most `HEALTH_SAMPLE` waiting messages, and each one's weight."""
        heap = self._heap
        step = max(1, len(heap) // HEALTH_SAMPLE)
        return float(step), [w for w in heap[::step] if w.state == WAITING]

    def _expire(self, now: float) -> None:
        """Time out the messages whose deadline (plus grace) passed while they waited."""
        deadlines = self._deadlines
        grace = self.settings.poll.deadline_grace
        while deadlines and deadlines[0][0] + grace <= now:
            deadline, _, watched = heapq.heappop(deadlines)
            if watched.state == WAITING and deadline == watched.deadline:  # not replaced by add
                self._time_out(watched)
            # POLLING: its own cancel scope ends at the same instant; DONE: nothing to do

    async def _poll(self, watched: Watched) -> None:
        self.polls += 1
        try:
            with anyio.move_on_at(watched.deadline + self.settings.poll.deadline_grace) as scope:
                await self._poll_once(watched)
            if scope.cancelled_caught and watched.state != DONE:
                self._time_out(watched)
        finally:
            self._in_flight -= 1
            self._polling.discard(watched)
            self._wake()

    async def _poll_once(self, watched: Watched) -> None:
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
            if watched.state != DONE:  # a push may have ended it meanwhile
                self._after_error(watched, exc)
        else:
            if watched.state != DONE:
                self._after_log(watched, log)

    def _emit(self, event: WatchEvent) -> None:
        self.outbox.put(event)
        if event.done:
            self.active -= 1
            self._wake()

    def _end(self, watched: Watched, event: WatchEvent) -> None:
        watched.state = DONE
        self._emit(event)
        if self._by_id.get(watched.message_id) is watched:
            del self._by_id[watched.message_id]

    def _end_with(self, watched: Watched, error: SentError) -> None:
        self._end(watched, WatchEvent(message_id=watched.message_id, error=error, done=True))

    def _yield_step(
        self,
        watched: Watched,
        activity: Activity,
        rank: int | None,
        via: Literal["push", "poll"] = "poll",
        channel: str | None = None,
    ) -> bool:
        """Yield one new step of ``watched``; return whether it ended the watch."""
        if rank is not None:
            watched.rank = max(watched.rank, rank)
        done = activity.status in watched.stop
        first, watched.reported = not watched.reported, True
        self._transport.stats.step(via, done, first=first)
        hooks = self._transport.hooks
        if hooks.active:  # listeners (`AsyncSent(hooks=...)`, OpenTelemetry) see each step
            hooks.on_status(
                StepEvent(
                    message_id=watched.message_id,
                    activity=activity,
                    via=via,
                    done=done,
                    channel=channel,
                    first=first,
                )
            )
        if done:
            self._end(
                watched, WatchEvent(message_id=watched.message_id, activity=activity, done=True)
            )
            return True
        self._emit(WatchEvent(message_id=watched.message_id, activity=activity))
        return False

    def _time_out(self, watched: Watched) -> None:
        timeout = watched.deadline - watched.added
        self._end_with(watched, WatchTimeoutError(watched.message_id, watched.last, timeout))

    def _after_log(self, watched: Watched, log: ActivityLog) -> None:
        watched.invalid = 0
        activities = log.activities or []
        fresh = len(activities) - watched.seen
        poll = self.settings.poll
        now = anyio.current_time()
        if fresh > 0:
            self._take_polled(watched, activities[:fresh], now)
            if watched.state == DONE:
                return
            latest = activities[0]
            watched.last = self._interner.compact(latest)
            watched.interval = next_interval(
                poll, watched.interval, found=latest.status, scheduled_in=_scheduled_in(latest)
            )
        else:
            watched.interval = next_interval(poll, watched.interval)
        watched.checked = now
        self._reschedule(watched)

    def _take_polled(self, watched: Watched, fresh: list[Activity], now: float) -> None:
        """Yield the steps a poll found new (oldest first) that no push yielded already."""
        missed = 0
        for activity in reversed(fresh):
            watched.seen += 1
            rank = STATUS_RANK.get(activity.status)
            if watched.ranked and rank is not None and rank <= watched.rank:
                continue  # a push yielded it, or a later step, already
            if activity.status in ALWAYS_PUSHED:  # counted like the pushes (see PushTracker)
                missed += 1
            if rank is not None:
                self.pushes.learn(watched, activity.status, now, polled=True)
            if self._yield_step(watched, activity, rank):
                break
        self.pushes.polled_missing(watched, missed, now)

    def _after_error(self, watched: Watched, exc: SentError) -> None:
        if self._error_ends(watched, exc):
            self._end_with(watched, exc)
            return
        # Not visible yet, or transient and already retried by the transport: ask again later.
        watched.interval = next_interval(self.settings.poll, watched.interval)
        self._reschedule(watched)

    def _error_ends(self, watched: Watched, exc: SentError) -> bool:
        """Whether a failed poll ends the watch (else it is asked again later)."""
        if isinstance(exc, NotFoundError):
            grace = self.settings.poll.not_found_grace
            return anyio.current_time() - watched.added >= grace
        if isinstance(exc, APIResponseValidationError):
            watched.invalid += 1
            return watched.invalid >= MAX_INVALID_ANSWERS
        # Not going to get better by asking again (401, 403, 400...): the watch ends.
        return not isinstance(exc, _TRANSIENT)

    def _reschedule(self, watched: Watched) -> None:
        now = anyio.current_time()
        if now >= watched.deadline:
            self._time_out(watched)
            return
        poll = self.settings.poll
        # The last poll lands on the deadline, so a message that finished just in time is seen.
        watched.due = min(now + jittered(poll, watched.interval, self._rand()), watched.deadline)
        watched.state = WAITING
        if self.pushes.fills_gaps:  # pushes flow: poll only once a lost push is likely
            watched.due = self.pushes.gap_due(watched, now)
        heapq.heappush(self._heap, watched)
