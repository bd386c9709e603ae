"""Layer 1: the fair-share gate on a hand-fed budget (no task of its own, anyio throughout)."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from sentdm_async._ratelimit.gate import FairGate
from sentdm_async.errors import SentError


class HandFed:
    """A budget that hands out a token only when the test says so."""

    adaptive = False

    def __init__(self) -> None:
        self.fed = 0
        self.taken = 0
        self.broken: Exception | None = None
        self._more = anyio.Event()

    def feed(self, tokens: int = 1) -> None:
        self.fed += tokens
        self._more.set()

    async def acquire(self) -> None:
        while self.taken >= self.fed:
            if self.broken is not None:
                raise self.broken
            self._more = anyio.Event()
            await self._more.wait()
        self.taken += 1

    async def observe(
        self, *, limit: int | None, remaining: int | None, reset_after: float | None
    ) -> None:
        del limit, remaining, reset_after

    async def pause(self, seconds: float) -> None:
        del seconds


async def settle() -> None:
    """Let every woken task run until it blocks again."""
    for _ in range(20):
        await anyio.lowlevel.checkpoint()


async def test_lanes_are_served_in_weighted_round_robin() -> None:
    """A weight-2 lane gets two tokens per round, a weight-1 lane one, whoever queued first."""
    budget = HandFed()
    gate = FairGate(budget)
    heavy, light = gate.lane("heavy", 2), gate.lane("light", 1)
    served: list[str] = []

    async def take(lane_name: str) -> None:
        await gate.acquire(heavy if lane_name == "heavy" else light)
        served.append(lane_name)

    async with anyio.create_task_group() as tg:
        for _ in range(6):
            tg.start_soon(take, "light")
        await settle()
        for _ in range(6):
            tg.start_soon(take, "heavy")
        await settle()
        for _ in range(9):
            budget.feed()
            await settle()
        tg.cancel_scope.cancel()
    assert served == [
        "light",
        "heavy",
        "heavy",
        "light",
        "heavy",
        "heavy",
        "light",
        "heavy",
        "heavy",
    ]


async def test_waiting_starts_no_task() -> None:
    """Callers queued at the gate pump it themselves: no task exists beyond the callers'."""
    budget = HandFed()
    gate = FairGate(budget)
    done: list[int] = []

    async def take(n: int) -> None:
        await gate.acquire()
        done.append(n)

    async with anyio.create_task_group() as tg:
        before = len(asyncio.all_tasks())
        for n in range(5):
            tg.start_soon(take, n)
        await settle()
        assert len(asyncio.all_tasks()) == before + 5
        budget.feed(5)
        await settle()
    assert sorted(done) == [0, 1, 2, 3, 4]


async def test_cancelled_pump_hands_over_and_loses_no_token() -> None:
    """Cancelling the waiter that pumps lets the next one pump; a token it held is passed on."""
    budget = HandFed()
    gate = FairGate(budget)
    done: list[str] = []

    async def take(name: str) -> None:
        await gate.acquire()
        done.append(name)

    pump_scope = anyio.CancelScope()

    async def pumping() -> None:
        with pump_scope:
            await take("pump")

    async with anyio.create_task_group() as tg:
        tg.start_soon(pumping)  # the first waiter finds no pump: it pumps
        await settle()
        tg.start_soon(take, "second")
        tg.start_soon(take, "third")
        await settle()
        pump_scope.cancel()  # the waiter that pumps leaves
        await settle()
        budget.feed(2)
        with anyio.fail_after(5):
            await settle()
    assert sorted(done) == ["second", "third"]
    assert budget.taken == 2


async def test_token_handed_to_a_cancelled_waiter_goes_to_the_next() -> None:
    """A waiter cancelled after it was handed its token gives it back: the next caller uses it."""
    budget = HandFed()
    gate = FairGate(budget)
    done: list[str] = []
    scopes = {"first": anyio.CancelScope(), "second": anyio.CancelScope()}

    async def take(name: str, lane_name: str) -> None:
        with scopes.get(name, anyio.CancelScope()):
            await gate.acquire(gate.lane(lane_name, 1) if lane_name != "calls" else None)
            done.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(take, "first", "calls")  # finds no pump: pumps
        await settle()
        tg.start_soon(take, "second", "bulk")
        await settle()
        scopes["first"].cancel()  # the pump leaves and wakes "second" to take over...
        tg.start_soon(take, "third", "calls")  # ...but "third" arrives first and pumps
        await settle()
        budget.feed(1)  # the pump will hand this token to "second" (its lane's turn)...
        scopes["second"].cancel()  # ...whose cancellation is already on its way
        with anyio.move_on_after(5):
            await settle()
        tg.cancel_scope.cancel()
    assert done == ["third"]  # the token given back went to the pump's own turn
    assert budget.taken == 1


async def test_a_failing_budget_reaches_every_waiter() -> None:
    """A budget that raises fails every queued caller with its exception, not a hang."""
    budget = HandFed()
    gate = FairGate(budget)
    errors: list[BaseException] = []

    async def take() -> None:
        try:
            await gate.acquire()
        except RuntimeError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(take)
        await settle()
        budget.broken = RuntimeError("budget bug")
        budget.feed(0)
        with anyio.fail_after(5):
            await settle()
    assert [str(e) for e in errors] == ["budget bug"] * 4


async def test_close_fails_waiters_and_stops_the_pump() -> None:
    """aclose() fails every waiter (the pumping one too) with SentError, at once."""
    budget = HandFed()
    gate = FairGate(budget)
    errors: list[BaseException] = []

    async def take() -> None:
        try:
            await gate.acquire()
        except SentError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(take)
        await settle()
        with anyio.fail_after(5):
            await gate.aclose()
            await settle()
    assert len(errors) == 3
    with pytest.raises(SentError, match="closed"):
        await gate.acquire()
