"""`client.stats()`: counters of one client, bumped where the request path and watchers are.

Every client has one `StatsRecorder`. The transport, the gate and the watchers count into it
directly (an integer per attempt on the hot path, the rest only on the slow paths: a budget wait,
a non-2xx answer, a retry, a pause, a watched step), so a client with no listener builds no event
at all. It keeps integers (a watched message is counted on its first step, which the watcher
marks on the message's own record) and a fixed histogram of budget waits, so a client that runs
for weeks holds the same few kilobytes. It is also a listener (``on_response`` ...), for a
recorder of one's own.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

import msgspec

if TYPE_CHECKING:
    from sentdm_async._http.hooks import ResponseEvent, RetryEvent, StepEvent, ThrottleEvent

__all__ = ["ERROR", "ClientStats", "StatsRecorder"]


class ClientStats(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of what a client did since it was created.

    Attributes:
        requests: HTTP attempts by status class: ``"2xx"``, ``"3xx"``, ``"4xx"``, ``"5xx"``,
            and ``"error"`` for attempts without a response (connection error, timeout).
        rate_limited: 429 answers.
        retries: Attempts that were retried.
        budget_wait_p50: Median seconds an attempt waited for the shared budget.
        budget_wait_p95: 95th percentile of that wait (both within about 5%).
        pauses: 429 pauses of the whole client.
        messages_watched: Messages a watcher reported a step of.
        messages_finished: Messages whose watch ended with a step (terminal, or in ``until``).
        steps_by_push: Steps that came by webhook push.
        steps_by_poll: Steps that came by polling.
    """

    requests: dict[str, int]
    rate_limited: int = 0
    retries: int = 0
    budget_wait_p50: float = 0.0
    budget_wait_p95: float = 0.0
    pauses: int = 0
    messages_watched: int = 0
    messages_finished: int = 0
    steps_by_push: int = 0
    steps_by_poll: int = 0

    @property
    def total_requests(self) -> int:
        """Every HTTP attempt."""
        return sum(self.requests.values())

    @property
    def requests_per_finished_message(self) -> float | None:
        """HTTP attempts (of every kind) per finished watch; ``None`` before the first."""
        if not self.messages_finished:
            return None
        return self.total_requests / self.messages_finished

    def summary(self) -> str:
        """One line for a terminal: requests, 429s, retries, budget wait, watch counts."""
        classes = ", ".join(f"{k} {v}" for k, v in self.requests.items() if v)
        parts = [
            f"{self.total_requests} requests ({classes or 'none'})",
            f"{self.rate_limited} x 429",
            f"{self.retries} retries",
            f"budget wait p50 {self.budget_wait_p50:.3f}s p95 {self.budget_wait_p95:.3f}s",
        ]
        if self.messages_watched:
            per = self.requests_per_finished_message
            parts.append(
                f"{self.messages_finished}/{self.messages_watched} watched messages finished, "
                f"steps {self.steps_by_push} by push / {self.steps_by_poll} by poll"
                + (f", {per:.1f} requests per finished message" if per is not None else "")
            )
        return "; ".join(parts)


#: Budget waits are counted in buckets growing by 2 ** (1/8) (~9%) from 1 ms: a percentile is
#: a bucket's middle, within ~5% of the true value, in a fixed 200 counters.
_BASE: Final = 0.001
_STEPS_PER_DOUBLING: Final = 8
_BUCKETS: Final = 200


class _WaitHistogram:
    """Waits of at least `_BASE` seconds in log buckets; the other attempts count as 0."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * _BUCKETS
        self.total = 0

    def add(self, seconds: float) -> None:
        index = int(math.log2(max(seconds, _BASE) / _BASE) * _STEPS_PER_DOUBLING)
        self.counts[min(index, _BUCKETS - 1)] += 1
        self.total += 1

    def quantile(self, q: float, population: int) -> float:
        """The ``q`` quantile over ``population`` attempts, those not recorded waiting 0 s."""
        population = max(population, self.total)
        rank = math.ceil(q * population)
        zeros = population - self.total
        if rank <= zeros:
            return 0.0
        seen = zeros
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return float(_BASE * 2.0 ** ((index + 0.5) / _STEPS_PER_DOUBLING))
        return 0.0  # pragma: no cover - rank <= population = seen at the end


#: `StatsRecorder.counts` index of the attempts that got no answer; indexes 0-9 are answers by
#: ``status // 100`` (only 2-5 are reported: a class outside them counts nowhere).
ERROR: Final = 10


class StatsRecorder:
    """The counters behind `AsyncSent.stats`: attempts, 429s, retries, waits and steps.

    Attributes:
        counts: Attempts by ``status // 100`` (indexes 0-9) and without an answer (`ERROR`).
        rate_limited: 429 answers.
        retries: Attempts that were retried.
        pauses: 429 pauses of the whole client.
    """

    __slots__ = (
        "_by_poll",
        "_by_push",
        "_finished",
        "_waits",
        "_watched",
        "counts",
        "pauses",
        "rate_limited",
        "retries",
    )

    def __init__(self) -> None:
        self.counts = [0] * (ERROR + 1)
        self.rate_limited = 0
        self.retries = 0
        self.pauses = 0
        self._waits = _WaitHistogram()
        self._watched = 0
        self._finished = 0
        self._by_push = 0
        self._by_poll = 0

    # -- fed directly by the transport and the watchers --

    def answered(self, status: int) -> None:
        """Count one attempt answered with ``status``."""
        self.counts[min(status // 100, ERROR - 1)] += 1
        if status == 429:
            self.rate_limited += 1

    def waited(self, seconds: float) -> None:
        """Record one wait of at least a millisecond for the budget."""
        self._waits.add(seconds)

    def step(self, via: str, done: bool, *, first: bool) -> None:
        """Count one watched step by origin, its message on its first step, its end if done."""
        if via == "push":
            self._by_push += 1
        else:
            self._by_poll += 1
        self._watched += first
        self._finished += done

    # -- the same counts as a listener (`Hooks`) --

    def on_response(self, event: ResponseEvent) -> None:
        """Count one attempt by its status class."""
        if event.status is None:
            self.counts[ERROR] += 1
        else:
            self.answered(event.status)

    def on_retry(self, event: RetryEvent) -> None:
        """Count one retry."""
        self.retries += 1

    def on_throttle(self, event: ThrottleEvent) -> None:
        """Record one budget wait, or count one 429 pause."""
        if event.kind == "budget":
            self.waited(event.wait)
        else:
            self.pauses += 1

    def on_status(self, event: StepEvent) -> None:
        """Count one watched step by origin, and the message's watch when it ends."""
        self.step(event.via, event.done, first=event.first)

    def snapshot(self) -> ClientStats:
        """Return the counts so far."""
        counts = self.counts
        classes = {"2xx": counts[2], "3xx": counts[3], "4xx": counts[4], "5xx": counts[5]}
        classes["error"] = counts[ERROR]
        attempts = sum(classes.values())
        return ClientStats(
            requests=classes,
            rate_limited=self.rate_limited,
            retries=self.retries,
            budget_wait_p50=self._waits.quantile(0.5, attempts),
            budget_wait_p95=self._waits.quantile(0.95, attempts),
            pauses=self.pauses,
            messages_watched=self._watched,
            messages_finished=self._finished,
            steps_by_push=self._by_push,
            steps_by_poll=self._by_poll,
        )
