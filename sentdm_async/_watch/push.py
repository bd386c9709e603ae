"""Pushed webhook steps: their intake and ranking, and the pushes' mode (`PushTracker`).

Ranking: a pushed step is yielded only if it ranks above every step already yielded for its
message (`STATUS_RANK`), so duplicated, late and reordered deliveries never yield a step twice
or out of order. A push that jumps over a step Sent always pushes (QUEUED, and SENT before
DELIVERED, READ or FAILED) shows that step's push was lost; so does a step a poll finds that
no push brought. Both feed the loss share of `PushHealth`.

The mode is an explicit state, `PushTracker.mode` (what `Watcher.pushes` reports):

- ``"none"``: no push came and none is expected. Polls run at the plain cadence.
- ``"flowing"``: polls only fill gaps (`sentdm_async._watch.policy.gap_fill_due`). A watcher
  built with ``expect_pushes`` starts here when its first message is added.
- ``"stopped"``: polls run at the plain cadence until pushes return. Entered when deliveries
  stop while, by the silence curves, messages should have moved (`DEAD_EXPECTED` of them), and
  also by the first push of a watcher that did not expect pushes: either way, `RESUME_AFTER_PUSHES`
  pushes (and no suspicious silence) move it to ``"flowing"``.

The silence curves (`SilenceModel`) live here too: every step that becomes known, by push or
poll, records how long its message was silent before it.
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING, Final, Literal

from sentdm_async._watch.gapfill import (
    DEAD_EXPECTED,
    LOSS_MEMORY,
    PushHealth,
    SilenceModel,
    expected_endings,
)
from sentdm_async._watch.policy import STATUS_RANK, PollPolicy, gap_fill_due

if TYPE_CHECKING:
    from collections.abc import Callable

    from sentdm_async._watch.watched import Watched

__all__ = [
    "ALWAYS_PUSHED",
    "QUIET_FLOOR",
    "RESUME_AFTER_PUSHES",
    "PushMode",
    "PushTracker",
    "skipped_pushes",
]

#: Pushes are suspected to have stopped only after a silence of at least this many
#: ``min_interval`` (pushes normally follow a send within a second).
QUIET_FLOOR: Final = 5.0


#: Pushes that must arrive after they were found stopped before polls only fill gaps again.
RESUME_AFTER_PUSHES: Final = 2


#: Steps every message that reaches a later one went through, each pushed by Sent: a push that
#: jumps over one of them is evidence that its delivery was lost.
ALWAYS_PUSHED: Final = frozenset({"QUEUED", "SENT"})


_QUEUED_RANK: Final = STATUS_RANK["QUEUED"]


_SENT_RANK: Final = STATUS_RANK["SENT"]


_AFTER_SENT: Final = frozenset({"DELIVERED", "READ", "FAILED"})


PushMode = Literal["none", "flowing", "stopped"]


def skipped_pushes(known_rank: int, status: str) -> int:
    """How many always-pushed steps a push of ``status`` jumps over from ``known_rank``."""
    skipped = int(known_rank < _QUEUED_RANK and status != "QUEUED")
    if status in _AFTER_SENT and known_rank < _SENT_RANK:
        skipped += 1
    return skipped


#: A sample of the waiting messages and the weight of each (see `Scheduler.waiting_sample`).
WaitingSample = tuple[float, list["Watched"]]


class PushTracker:
    """The pushes' mode and health, and the silence curves gap filling reads."""

    __slots__ = (
        "_expected",
        "_next_check",
        "_policy",
        "_waiting",
        "endings",
        "health",
        "mode",
        "moves",
    )

    def __init__(
        self, policy: PollPolicy, *, expected: bool, waiting: Callable[[], WaitingSample]
    ) -> None:
        """Start in mode ``"none"``.

        Args:
            policy: The watcher's cadence.
            expected: Pushes are expected: ``"flowing"`` from the first message added.
            waiting: A sample of the messages waiting for a poll.
        """
        self._policy = policy
        self._expected = expected
        self._waiting = waiting
        self._next_check = -math.inf
        self.mode: PushMode = "none"
        self.health: PushHealth | None = None
        #: Silences before a message's ending step, and before any next step, by status.
        self.endings = SilenceModel(period=policy.min_interval)
        self.moves = SilenceModel(period=policy.min_interval)

    @property
    def fills_gaps(self) -> bool:
        """Whether polls only fill the gaps of pushes (mode ``"flowing"``)."""
        return self.mode == "flowing"

    def _new_health(self, now: float) -> PushHealth:
        policy = self._policy
        return PushHealth(
            now, expected_gap=policy.min_interval, half_life=LOSS_MEMORY * policy.overdue_after
        )

    def message_added(self, now: float) -> None:
        """A message is added: a watcher that expects pushes starts filling gaps."""
        if self._expected and self.health is None:
            self.health = self._new_health(now)
            self.mode = "flowing"

    def take(self, watched: Watched | None, status: str, now: float) -> int | None:
        """Rank a pushed step of ``watched`` (``None``: not watched, or its watch ended).

        Returns:
            The step's rank if it is new and is to be yielded; ``None`` for a status without
            a place in the lifecycle (the polls report it), a duplicate or a late step.
        """
        health = self.health
        if health is None:  # the first push, unexpected: plain polling until pushes flow
            health = self.health = self._new_health(now)
            self.mode = "stopped"
        rank = STATUS_RANK.get(status)
        if rank is None or watched is None:
            health.pushed(now, counted=False)  # the stream flows; nothing to learn the loss from
            return None
        # The loss share counts each always-pushed step once: a new one, or the late push of
        # one a poll found first (a duplicate delivery counts for nothing).
        counted = status in ALWAYS_PUSHED
        if rank <= watched.rank:
            confirms = counted and watched.unconfirmed > 0
            health.pushed(now, counted=confirms, confirms_poll=confirms)
            watched.unconfirmed -= confirms
            return None  # a duplicate, or late: a later step was yielded already
        health.pushed(now, counted=counted)
        skipped = skipped_pushes(watched.rank, status)
        if skipped:  # the pushes of steps this one implies never came: lost (or late)
            health.missed_steps(now, skipped)
            watched.unconfirmed += skipped
        watched.ranked = True
        self.learn(watched, status, now, polled=False)
        return rank

    def polled_missing(self, watched: Watched, missed: int, now: float) -> None:
        """A poll found ``missed`` always-pushed steps of ``watched`` that no push brought."""
        if self.health is not None and missed:
            self.health.missed_steps(now, missed)
            watched.unconfirmed += missed

    def learn(self, watched: Watched, status: str, now: float, *, polled: bool) -> None:
        """A new step of ``watched`` became known: record how long its last status lasted.

        A step a poll found happened after the poll before it: it counts at the middle of
        that span, not at its discovery (which would teach the watcher ever later polls).
        """
        previous = watched.status
        known = (watched.checked + now) / 2.0 if polled else now
        silence = known - watched.since
        self.endings.observe(previous, silence, ended=status in watched.stop)
        self.moves.observe(previous, silence, ended=True)
        watched.since = watched.checked = now

    def check(self, now: float) -> tuple[float, bool]:
        """Move between ``"flowing"`` and ``"stopped"`` by the pushes' health.

        Returns:
            When to look again (`math.inf`: not before something changes), and whether the
            pushes were found stopped just now (every message is due at its plain cadence).
        """
        health = self.health
        if health is None:
            return math.inf, False
        policy = self._policy
        suspicious = health.quiet_since(QUIET_FLOOR * policy.min_interval)
        if self.mode == "stopped":  # until pushes are back (a push wakes the scheduler)
            if health.resumed < RESUME_AFTER_PUSHES or now >= suspicious:
                return math.inf, False
            self.mode = "flowing"
        if now < suspicious:
            return suspicious, False
        if now < self._next_check:
            return self._next_check, False
        self._next_check = now + policy.min_interval / 2
        if self._deliveries_stopped(now, health):
            self.mode = "stopped"
            health.resumed = 0
            return math.inf, True
        return self._next_check, False

    def _deliveries_stopped(self, now: float, health: PushHealth) -> bool:
        """Whether enough messages should have moved since the last push to call it stopped.

        Expected from the start and none ever came: stopped (the endpoint never worked).
        Otherwise each waiting message counts by its silence curve, and one of which nothing
        is known yet counts once its silence is suspicious: its QUEUED push comes at once.
        """
        if not health.arrived:
            return True
        step, sample = self._waiting()
        quiet = health.quiet_since(QUIET_FLOOR * self._policy.min_interval) - health.last_push
        expected, loss = 0.0, health.loss
        for watched in sample:
            status = watched.status
            if not status:
                expected += step if now - watched.since > quiet else 0.0
                continue
            curve = self.moves.curve(status, now, partial(self._waiting_silences, status, now))
            if curve is not None:
                at_push = max(0.0, health.last_push - watched.since)
                expected += expected_endings(curve, at_push, now - watched.since, loss) * step
        return expected >= DEAD_EXPECTED

    def gap_due(self, watched: Watched, now: float) -> float:
        """When to poll ``watched`` while pushes flow (see `gap_fill_due`)."""
        policy = self._policy
        status = watched.status
        curve = None
        if policy.gap_fill == "adaptive":
            curve = self.endings.curve(status, now, partial(self._waiting_silences, status, now))
        assert self.health is not None  # noqa: S101 - gap filling starts with the first push
        return gap_fill_due(
            policy,
            status=status,
            since=watched.since,
            checked=watched.checked,
            interval=watched.interval,
            deadline=watched.deadline,
            now=now,
            curve=curve,
            loss=self.health.loss,
        )

    def _waiting_silences(self, status: str, now: float) -> list[tuple[float, float]]:
        """Silences of (a sample of) the messages waiting at ``status``, weighted."""
        step, sample = self._waiting()
        return [(now - w.since, step) for w in sample if w.status == status]
