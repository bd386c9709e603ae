"""Gap filling for a push+poll watcher: when to poll a message whose pushes may have been lost.

Pushes carry a message's steps; a poll is only worth its request when a push was probably
lost. Two pieces of evidence decide it, both learned by the watcher as it runs:

- `SilenceModel`: how long messages usually stay silent at each status before their watch-ending
  step arrives. A Kaplan-Meier estimate over the recent messages of that status, so messages
  still waiting (and those that moved on without ending) count as "at least this long" rather
  than being ignored, which would make every silence look overdue early in a batch.
- `PushHealth`: the share of steps that pushes miss and whether deliveries stopped altogether
  (no push for many times the usual gap between pushes, while the curves say messages should
  have ended). The share is counted on the steps every message goes through and Sent always
  pushes (QUEUED, and SENT before DELIVERED, READ or FAILED): a push that jumps over one of
  them shows that one was lost, so the estimate needs no poll. Steps polls find that no push
  brought count as lost too, unless the push turns up late.

The rule (`next_poll`): a message is polled once the chance that its ending step happened and
its push was lost exceeds `MISS_THRESHOLD`; after a poll that found nothing, the same rule runs
again on what is left of the distribution. The longer silence without news, the likelier the
loss; the lower the measured loss share, the longer the watcher waits. ``overdue_after`` (times
the status factor) caps every wait, and rules alone until a status has `MIN_EVENTS` endings. When
the push stream looks dead, the watcher polls at its plain polling cadence until pushes return.

Everything here is pure bookkeeping: no I/O, no clock of its own (callers pass ``now``).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "DEAD_EXPECTED",
    "MISS_THRESHOLD",
    "PushHealth",
    "SilenceCurve",
    "SilenceModel",
    "expected_endings",
    "next_poll",
]

#: Poll once P(ending step happened and its push was lost | silence so far) exceeds this.
MISS_THRESHOLD: Final = 0.2


#: Endings (or lost-push discoveries) a status needs before its curve is trusted.
MIN_EVENTS: Final = 12


#: Recent observations kept per status (a sliding window, so the model follows changes).
WINDOW: Final = 512


#: Prior of the loss estimate: as if this many pushes had arrived and this many were missed.
PRIOR_RECEIVED: Final = 19.0


PRIOR_MISSED: Final = 1.0


#: How long the loss estimate remembers, in multiples of the policy's ``overdue_after``: an
#: observation counts half after this long. By time, not by count: in a batch sent at once
#: the pushes come early and the misses polls find come late, and a count-based window would
#: forget the pushes and overrate the loss.
LOSS_MEMORY: Final = 10.0


#: A silence of this many mean gaps between pushes makes the watcher check whether deliveries
#: stopped: they did if, by the silence curves, this many messages should have ended meanwhile.
DEAD_AFTER_GAPS: Final = 10.0


DEAD_EXPECTED: Final = 3.0


#: Weight of the newest gap in the running mean gap between pushes.
GAP_WEIGHT: Final = 0.05


class SilenceCurve:
    """A Kaplan-Meier distribution of silences before the ending step: ``F(t)`` by time.

    Past the longest silence seen to end, the curve goes on with the hazard of its second half
    (an exponential tail). In a batch sent at once, the messages still waiting are always
    beyond every silence seen to end, so the tail is where the question is asked. Real tails
    (lognormal) thin out, so this extrapolation errs towards polling early.
    """

    __slots__ = ("_cdf", "_hazard", "_times")

    def __init__(self, observations: list[tuple[float, float, bool]]) -> None:
        """Build it from ``(silence, weight, ended)`` observations (ended=False: censored)."""
        observations.sort()
        at_risk = sum(weight for _, weight, _ in observations)
        survival = 1.0
        times: list[float] = []
        cdf: list[float] = []
        index, count = 0, len(observations)
        while index < count:
            moment = observations[index][0]
            ended = leaving = 0.0
            while index < count and observations[index][0] == moment:
                _, weight, is_end = observations[index]
                leaving += weight
                if is_end:
                    ended += weight
                index += 1
            if ended and at_risk > 0:
                survival *= 1.0 - ended / at_risk
                times.append(moment)
                cdf.append(1.0 - survival)
            at_risk -= leaving
        self._times = times
        self._cdf = cdf
        self._hazard = self._tail_hazard()

    def _tail_hazard(self) -> float:
        """Endings per second of silence over the curve's second half (0: none to go on)."""
        if not self._times or self._cdf[-1] >= 1.0:
            return 0.0
        last, end = self._times[-1], self._cdf[-1]
        index = bisect.bisect_left(self._cdf, end / 2.0)
        middle, mid_cdf = self._times[index], self._cdf[index]
        if last <= middle:
            return 0.0
        return math.log((1.0 - mid_cdf) / (1.0 - end)) / (last - middle)

    def cdf(self, silence: float) -> float:
        """The share of silences that ended by ``silence``."""
        index = bisect.bisect_right(self._times, silence)
        if index < len(self._times) or not self._hazard:
            return self._cdf[index - 1] if index else 0.0
        survival = 1.0 - self._cdf[-1]
        return 1.0 - survival * math.exp(-self._hazard * (silence - self._times[-1]))

    @property
    def longest(self) -> float:
        """The longest silence seen to end."""
        return self._times[-1] if self._times else 0.0

    def quantile(self, share: float) -> float | None:
        """The silence by which ``share`` of them ended; ``None`` if the curve cannot say."""
        index = bisect.bisect_left(self._cdf, share)
        if index < len(self._times):
            return self._times[index]
        if not self._hazard or share >= 1.0:
            return None
        survival = 1.0 - self._cdf[-1]
        return self._times[-1] + math.log(survival / (1.0 - share)) / self._hazard


class SilenceModel:
    """Per status, recent silences before an event (the ending step, or any next step).

    A curve for each status is cached, rebuilt at most once per ``period`` (seconds) as data
    comes in.
    """

    __slots__ = ("_curves", "_dirty", "_period", "_rebuilt", "_seen")

    def __init__(self, period: float = 0.0) -> None:
        self._seen: dict[str, deque[tuple[float, bool]]] = {}
        self._curves: dict[str, SilenceCurve | None] = {}
        self._dirty: set[str] = set()
        self._period = period
        self._rebuilt: dict[str, float] = {}

    def observe(self, status: str, silence: float, *, ended: bool) -> None:
        """Record that a message left ``status`` after ``silence`` (``ended``: by its end)."""
        window = self._seen.get(status)
        if window is None:
            window = self._seen[status] = deque(maxlen=WINDOW)
        window.append((silence, ended))
        self._dirty.add(status)

    def stale(self, status: str) -> bool:
        """Whether ``status`` has observations its cached curve does not include."""
        return status in self._dirty

    def rebuild(self, status: str, waiting: list[tuple[float, float]]) -> SilenceCurve | None:
        """Recompute the curve of ``status`` (``None`` until it has `MIN_EVENTS` endings).

        ``waiting`` holds the silences ``(silence, weight)`` of the messages still at it.
        """
        self._dirty.discard(status)
        window = self._seen.get(status, ())
        if sum(1 for _, ended in window if ended) < MIN_EVENTS:
            self._curves[status] = None
            return None
        observations = [(silence, 1.0, ended) for silence, ended in window]
        observations.extend((silence, weight, False) for silence, weight in waiting)
        curve = self._curves[status] = SilenceCurve(observations)
        return curve

    def curve(
        self,
        status: str,
        now: float | None = None,
        waiting: Callable[[], list[tuple[float, float]]] | None = None,
    ) -> SilenceCurve | None:
        """The curve of ``status``, rebuilt first if stale and ``period`` has passed since.

        ``waiting`` gives the silences of the messages still waiting at it (see `rebuild`).
        """
        if (
            now is not None
            and waiting is not None
            and self.stale(status)
            and now - self._rebuilt.get(status, -math.inf) >= self._period
        ):
            self._rebuilt[status] = now
            return self.rebuild(status, waiting())
        return self._curves.get(status)


class PushHealth:
    """Whether pushes arrive, and which share of steps they miss."""

    __slots__ = (
        "_half_life",
        "_mean_gap",
        "_updated",
        "arrived",
        "last_push",
        "missed",
        "received",
        "resumed",
    )

    def __init__(self, now: float, expected_gap: float, half_life: float = math.inf) -> None:
        """Start expecting pushes at ``now``.

        Args:
            now: When (the caller's clock).
            expected_gap: Seconds expected between pushes before any arrived.
            half_life: Seconds after which an observation counts half in the loss share.
        """
        self.received = PRIOR_RECEIVED
        self.missed = PRIOR_MISSED
        self._half_life = half_life
        self._updated = now
        #: When the last push arrived (or when pushes were first expected).
        self.last_push = now
        #: Whether any push arrived at all.
        self.arrived = False
        #: Pushes since the watcher last found them stopped (the caller resets it).
        self.resumed = 0
        self._mean_gap = expected_gap

    @property
    def loss(self) -> float:
        """The estimated share of steps whose push does not arrive (0..1)."""
        return self.missed / (self.missed + self.received)

    def pushed(self, now: float, *, counted: bool, confirms_poll: bool = False) -> None:
        """A push arrived.

        Args:
            now: When.
            counted: It is one of the steps whose loss can be seen (`missed_steps` counts
                those), so it counts as received; others only show that pushes flow.
            confirms_poll: It brings a step a poll had already found: late, not lost.
        """
        gap = now - self.last_push
        self._mean_gap += GAP_WEIGHT * (gap - self._mean_gap)
        self.last_push = now
        self.arrived = True
        self.resumed += 1
        if counted:
            self._forget(now)
            self.received += 1.0
        if confirms_poll:
            self.missed = max(0.0, self.missed - 1.0)

    def missed_steps(self, now: float, count: int) -> None:
        """``count`` steps were found lost (by a poll, or jumped over by a push)."""
        self._forget(now)
        self.missed += count

    def _forget(self, now: float) -> None:
        if now > self._updated and self._half_life < math.inf:
            keep = 0.5 ** ((now - self._updated) / self._half_life)
            self.received *= keep
            self.missed *= keep
        self._updated = max(self._updated, now)

    def quiet_since(self, floor: float) -> float:
        """When the silence since the last push becomes suspicious: many usual gaps, >= floor."""
        return self.last_push + max(DEAD_AFTER_GAPS * self._mean_gap, floor)


def expected_endings(
    curve: SilenceCurve, silent_at_last_push: float, silent_now: float, loss: float = 0.0
) -> float:
    """The chance that a message's push arrived between the last push and now, by the curve.

    A message still silent may already have moved with its push lost, the likelier the longer
    its silence: given silence until the last push, P(moved then and pushed) is
    ``(1 - loss) (F(now) - F(last)) / (1 - F(last) + loss F(last))``.

    Args:
        curve: Silences before the event at the message's status.
        silent_at_last_push: The message's silence when the last push arrived (0 if it was
            not yet at this status then).
        silent_now: Its silence now.
        loss: The share of pushes lost.
    """
    before = curve.cdf(silent_at_last_push)
    silent = 1.0 - before + loss * before
    if silent <= 0.0:
        return 0.0
    return (1.0 - loss) * (curve.cdf(silent_now) - before) / silent


def next_poll(
    *,
    since: float,
    checked: float,
    curve: SilenceCurve | None,
    loss: float,
    ceiling: float,
    floor: float,
) -> float:
    """When to poll a message that pushes cover (a time on the caller's clock).

    Args:
        since: When its latest step became known.
        checked: When a poll last found nothing new for it (``since`` if none has).
        curve: Silences before the ending step at its status; ``None``: not learned yet.
        loss: The share of steps whose push does not arrive.
        ceiling: Longest wait after ``checked`` whatever the curve says (seconds).
        floor: Shortest wait after ``checked`` (seconds).

    Returns:
        The poll time: once P(ended and its push lost | silent until then) exceeds
        `MISS_THRESHOLD`, counting only what could have happened after ``checked``. Past the
        silences seen to end: the longest of them, then each time the silence doubles.
    """
    latest = checked + ceiling
    if curve is None:
        return latest
    # P(lost | silent t, nothing before checked) >= theta  <=>  F(t) >= F(c) + (1 - F(c)) * share
    theta = MISS_THRESHOLD
    share = theta / (loss * (1.0 - theta) + theta)
    done = curve.cdf(checked - since)
    silence = curve.quantile(done + (1.0 - done) * share)
    if silence is None:  # beyond the silences seen: back off geometrically from the longest
        silence = max(curve.longest, 2.0 * (checked - since))
    return min(max(since + silence, checked + floor), latest)
