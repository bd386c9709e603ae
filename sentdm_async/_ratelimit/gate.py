"""Fair shares of one client's budget: single calls, each watcher and each bulk job.

A plain budget serves waiters first come, first served. One client is shared by many consumers,
and FIFO starves the one with the fewest waiters: a watcher queues one poll at a time, so with 30
request handlers queued it got 1 token in 31 (measured: 1 poll in 30 s; 1 of 20 messages done).
So every consumer has a `Lane` and the gate serves the lanes with waiters in weighted round robin:
a lane of weight ``w`` gets ``w`` tokens per round. Single calls share the `calls` lane, weight
`CALLS_WEIGHT` (2): interactive calls never wait behind a bulk job's queue, and each watcher and
bulk job keeps a floor of ``1 / (sum of the weights of the busy lanes)`` of the budget.

One waiter at a time is the pump: it takes tokens from the budget, one at a time, and hands
each to the next lane in turn, until its own turn comes; then it wakes the next waiter in line to
take over. No task of its own runs the pump (so none lives outside the caller's task groups),
and a cancelled pump hands over the same way. When nobody waits and the budget has a token now,
a caller takes it directly and synchronously (`FairGate.try_acquire`): an idle or unthrottled
client pays no hand-off and no coroutine.

Rejected: priority queues (a steady stream of calls would starve watchers outright), and one
budget per consumer (the account limit is one number; split budgets waste what idle consumers
leave).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Final

import anyio

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


#: A waiter's outcome once it was handed a token.
_TOKEN: Final = "token"  # noqa: S105 - not a secret


class _Waiter:
    """One caller queued at the gate: woken with a token, a failure, or to take over the pump."""

    __slots__ = ("event", "outcome")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.outcome: str | BaseException | None = None


class Lane:
    """One consumer's queue at the gate."""

    __slots__ = ("name", "waiters", "weight")

    def __init__(self, name: str, weight: int) -> None:
        self.name = name
        self.weight = weight
        self.waiters: deque[_Waiter] = deque()

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
        self._spare = 0  # tokens taken from the budget for waiters who left meanwhile
        self._pump: anyio.CancelScope | None = None  # the pumping waiter's wait on the budget
        self._pumping = False
        self._closed = False

    def lane(self, name: str, weight: int) -> Lane:
        """Return a new lane (one per watcher or bulk job)."""
        return Lane(name, weight)

    def try_acquire(self) -> bool:
        """Take a token now if nobody waits and one is free; never waits (the hot path).

        Raises:
            SentError: The client was closed.
        """
        if self._closed:
            raise SentError("this AsyncSent client is closed; create a new one")
        if self._waiting:
            return False
        if self._spare:
            self._spare -= 1
            return True
        return self._try is not None and self._try()

    async def acquire(self, lane: Lane | None = None) -> None:
        """Wait for this lane's turn and a token.

        Raises:
            SentError: The client was closed before a token came.
        """
        if self.try_acquire():
            return
        lane = lane or self.calls
        waiter = _Waiter()
        if not lane.waiters:
            self._ring.append(lane)
        lane.waiters.append(waiter)
        self._waiting += 1
        try:
            await self._wait(waiter)
        except BaseException:
            self._leave(lane, waiter)
            raise
        finally:
            self._elect()

    async def _wait(self, waiter: _Waiter) -> None:
        """Pump, or wait to be woken, until ``waiter`` has its token (or the gate failed)."""
        while True:
            if self._pumping:
                await waiter.event.wait()
            else:
                await self._run_pump(waiter)
            outcome = waiter.outcome
            if outcome is _TOKEN:
                return
            if isinstance(outcome, BaseException):
                raise outcome  # the budget's failure, or the close
            waiter.event = anyio.Event()  # woken to take over the pump: go round again

    async def _run_pump(self, me: _Waiter) -> None:
        """Hand tokens out to the lanes in turn until ``me`` is served."""
        self._pumping = True
        try:
            while me.outcome is None:
                if not self._spare:
                    with anyio.CancelScope() as self._pump:  # aclose() cancels this wait only
                        await self.budget.acquire()
                        self._spare += 1
                    if self._closed:
                        return
                self._hand_out()
        except Exception as exc:  # the budget failed (a bug in a user budget): tell everyone
            self._fail(exc)
            raise
        finally:
            self._pump = None
            self._pumping = False

    def _hand_out(self) -> None:
        """Give the spare token to the next waiter in weighted round robin."""
        lane = self._next_lane()
        waiter = lane.waiters.popleft()
        self._waiting -= 1
        if not lane.waiters:
            self._drop(lane)
        self._spare -= 1
        waiter.outcome = _TOKEN
        waiter.event.set()

    def _leave(self, lane: Lane, waiter: _Waiter) -> None:
        """A waiter left (cancelled): give back a token it was handed, or leave the queue."""
        if waiter.outcome is _TOKEN:
            # Handed a token but cancelled before using it: the pump hands it on now, rather
            # than after the next token it is waiting for (a budget's wait is cancel-safe).
            self._spare += 1
            if self._pump is not None:
                self._pump.cancel()
            return
        if waiter in lane.waiters:
            lane.waiters.remove(waiter)
            self._waiting -= 1
            if not lane.waiters:
                self._drop(lane)

    def _elect(self) -> None:
        """With waiters left and no pump, wake the next one in line to take the pump over."""
        if self._waiting and not self._pumping:
            self._ring[0].waiters[0].event.set()

    def _drop(self, lane: Lane) -> None:
        if self._ring and self._ring[0] is lane:
            self._credit = 0
        self._ring.remove(lane)

    def _next_lane(self) -> Lane:
        lane = self._ring[0]
        if self._credit <= 0:
            self._credit = lane.weight
        self._credit -= 1
        if self._credit == 0:
            self._ring.rotate(-1)
        return lane

    def _fail(self, exc: BaseException) -> None:
        for lane in self._ring:
            for waiter in lane.waiters:
                waiter.outcome = exc
                waiter.event.set()
            lane.waiters.clear()
        self._ring.clear()
        self._waiting = 0
        self._credit = 0

    async def aclose(self) -> None:
        """Fail every queued caller with `SentError` at once and stop the pump. Idempotent."""
        self._closed = True
        self._fail(SentError("this AsyncSent client was closed while the call waited its turn"))
        if self._pump is not None:
            self._pump.cancel()
        await anyio.lowlevel.checkpoint()
