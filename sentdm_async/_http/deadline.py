"""Per-attempt deadlines kept by one loop timer per client, instead of one timer per request.

aiohttp's own ``timeout`` arms a timer, a timeout handle and a timer context for every request:
about 27k of the 385k instructions a bare aiohttp + msgspec fetch costs (callgrind, the floor of
``benchmarks/bench_bulk.py`` with and without it). The client sends with aiohttp's timeouts off
and keeps each attempt's deadline here: an attempt is a dict entry (its task and deadline), and
one timer, armed for the earliest deadline, cancels an attempt that outlives its own the way
``asyncio.timeout`` does (``task.cancel()``; the attempt catches the cancellation, `expired`
says it was ours, and ``uncancel()`` turns it into a timeout). A cancellation of the caller's
that lands at the same time is not swallowed: it is still pending after ``uncancel()``.

One task runs at most one attempt at a time (an attempt is awaited), so tasks are the keys.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

__all__ = ["Deadlines"]


class Deadlines:
    """The deadlines of the attempts in flight on one client (one event loop)."""

    __slots__ = ("_entries", "_expired", "_handle", "_when")

    def __init__(self) -> None:
        #: task -> (deadline in loop time, the task's cancellation count when it started).
        self._entries: dict[asyncio.Task[Any], tuple[float, int]] = {}
        #: Tasks cancelled by a deadline that have not seen it yet -> their count at start.
        self._expired: dict[asyncio.Task[Any], int] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._when = math.inf  # when the timer fires (inf: not armed)

    def start(self, seconds: float) -> asyncio.Task[Any]:
        """Give the current task's attempt ``seconds``; return the task (for `stop`)."""
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - an attempt always runs in a task
            raise RuntimeError("an API call must run in an asyncio task")
        loop = task.get_loop()
        deadline = loop.time() + seconds
        self._entries[task] = (deadline, task.cancelling())
        if deadline < self._when:  # the common case (one timeout per client) arms once
            self._arm(loop, deadline)
        return task

    def stop(self, task: asyncio.Task[Any]) -> None:
        """The attempt of ``task`` ended (answered, failed, or cancelled by anyone)."""
        self._entries.pop(task, None)
        if self._expired.pop(task, None) is not None:
            # Cancelled by its deadline after its last await (the same loop iteration as its
            # answer): take the cancellation back, as asyncio.timeout does.
            task.uncancel()

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """Whether the cancellation ``task`` is seeing was its deadline's, and only that.

        Call it where the attempt catches `asyncio.CancelledError`: it takes the deadline's
        cancellation back (``uncancel``), and says ``False`` when another cancellation is
        pending as well, which must then propagate.
        """
        baseline = self._expired.pop(task, None)
        if baseline is None:
            return False
        return task.uncancel() <= baseline

    def close(self) -> None:
        """Disarm the timer (the client is closing)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._when = math.inf

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._when = when
        self._handle = loop.call_at(when, self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel every attempt past its deadline; arm for the next one."""
        self._handle = None
        self._when = math.inf
        now = loop.time()
        entries = self._entries
        for task, (deadline, baseline) in list(entries.items()):
            if deadline <= now:
                del entries[task]
                self._expired[task] = baseline
                task.cancel()
        if entries:
            self._arm(loop, min(deadline for deadline, _ in entries.values()))
