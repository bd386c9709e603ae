"""Fair shares of one client's budget: single calls, each watcher and each bulk job.

A plain budget serves waiters first come, first served. One client is shared by many consumers,
and FIFO starves the one with the fewest waiters: a watcher queues one poll at a time, so with 30
request handlers queued it got 1 token in 31 (measured: 1 poll in 30 s; 1 of 20 messages done).
So every consumer has a `Lane` and the gate serves the lanes with waiters in weighted round robin:
a lane of weight ``w`` gets ``w`` tokens per round. Single calls share the `calls` lane, weight
`CALLS_WEIGHT` (2): interactive calls never wait behind a bulk job's queue, and each watcher and
bulk job keeps a floor of ``1 / (sum of the weights of the busy lanes)`` of the budget.

One pump task takes tokens from the budget, one at a time and only while someone waits, and hands
each to the next lane in turn. When nobody waits and the budget has a token now, a caller takes
it directly (`TokenBucket.try_acquire`): an idle or unthrottled client pays no hand-off.

Rejected: priority queues (a steady stream of calls would starve watchers outright), and one
budget per consumer (the account limit is one number; split budgets waste what idle consumers
leave).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import TYPE_CHECKING, Final

from sentdm_async._ratelimit.budget import TokenBucket
from sentdm_async.errors import SentError

if TYPE_CHECKING:
    from sentdm_async._ratelimit.budget import RateBudget

__all__ = ["BULK_WEIGHT", "CALLS_WEIGHT", "WATCH_WEIGHT", "FairGate", "Lane"]

#: Tokens per round for single calls (all of a client's single calls share one lane).
CALLS_WEIGHT: Final = 2


#: Tokens per round for each watcher.
WATCH_WEIGHT: Final = 1


#: Tokens per round for each bulk job.
BULK_WEIGHT: Final = 1


class Lane:
    """One consumer's queue at the gate."""

    __slots__ = ("name", "waiters", "weight")

    def __init__(self, name: str, weight: int) -> None:
        self.name = name
        self.weight = weight
        self.waiters: deque[asyncio.Future[None]] = deque()

    def __repr__(self) -> str:
        return f"<Lane {self.name} weight={self.weight} waiting={len(self.waiters)}>"


class FairGate:
    """Hands out a budget's tokens to lanes in weighted round robin (see the module docstring)."""

    def __init__(self, budget: RateBudget) -> None:
        self.budget = budget
        self._try = budget.try_acquire if isinstance(budget, TokenBucket) else None
        self.calls = Lane("calls", CALLS_WEIGHT)
        self._ring: deque[Lane] = deque()  # lanes with waiters, in service order
        self._credit = 0  # tokens the lane at the head of the ring may still take this round
        self._waiting = 0
        self._spare = False  # a token taken from the budget for a waiter who left meanwhile
        self._pump: asyncio.Task[None] | None = None
        self._closed = False

    def lane(self, name: str, weight: int) -> Lane:
        """Return a new lane (one per watcher or bulk job)."""
        return Lane(name, weight)

    async def acquire(self, lane: Lane | None = None) -> None:
        """Wait for this lane's turn and a token.

        Raises:
            SentError: The client was closed before a token came.
        """
        if self._closed:
            raise SentError("this AsyncSent client is closed; create a new one")
        if not self._waiting:
            if self._spare:
                self._spare = False
                return
            if self._try is not None and self._try():
                return
        lane = lane or self.calls
        future = asyncio.get_running_loop().create_future()
        if not lane.waiters:
            self._ring.append(lane)
        lane.waiters.append(future)
        self._waiting += 1
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._run())
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._give_back()  # handed a token, but cancelled before using it
            else:
                self._leave(lane, future)
            raise

    def _leave(self, lane: Lane, future: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            lane.waiters.remove(future)
            self._waiting -= 1
            if not lane.waiters:
                self._drop(lane)

    def _drop(self, lane: Lane) -> None:
        if self._ring and self._ring[0] is lane:
            self._credit = 0
        self._ring.remove(lane)

    def _give_back(self) -> None:
        self._spare = True
        if self._waiting and self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._run())

    def _next_lane(self) -> Lane:
        lane = self._ring[0]
        if self._credit <= 0:
            self._credit = lane.weight
        self._credit -= 1
        if self._credit == 0:
            self._ring.rotate(-1)
        return lane

    async def _run(self) -> None:
        try:
            while self._waiting:
                if not self._spare:
                    await self.budget.acquire()
                    self._spare = True
                if not self._waiting:
                    break  # every waiter left while we waited: keep the token for the next
                lane = self._next_lane()
                future = lane.waiters.popleft()
                self._waiting -= 1
                if not lane.waiters:
                    self._drop(lane)
                self._spare = False
                future.set_result(None)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the budget failed (a bug in a user budget): tell everyone
            self._fail(exc)
        finally:
            self._pump = None

    def _fail(self, exc: BaseException) -> None:
        for lane in self._ring:
            for future in lane.waiters:
                if not future.done():
                    future.set_exception(exc)
            lane.waiters.clear()
        self._ring.clear()
        self._waiting = 0
        self._credit = 0

    async def aclose(self) -> None:
        """Fail every queued caller with `SentError` at once and stop the pump. Idempotent."""
        self._closed = True
        self._fail(SentError("this AsyncSent client was closed while the call waited its turn"))
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
