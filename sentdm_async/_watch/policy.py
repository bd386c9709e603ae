"""The watcher's options and cadence: `PollPolicy`, `WatchSettings` and pure timing rules.

Nothing here has a clock, a task or state of its own: every rule is a function of its
arguments, so tests call them directly.

- `first_poll_delay`: the first poll of a message comes soon after it is added, spread over
  ``jitter x min_interval`` so messages added together do not poll in lock-step.
- `next_interval`: the interval grows by ``multiplier`` from a status-dependent start while
  nothing changes, and restarts when something does. A QUEUED message changes within seconds;
  a SENT one waits for a carrier receipt; a SCHEDULED one waits for its ``scheduled_at``.
- `jittered`: every interval is spread by ``jitter`` before it becomes a due time.
- `gap_fill_due`: once pushes flow, when a message is polled to find a lost push (the rule of
  `sentdm_async._watch.gapfill`, capped by ``overdue_after`` x the status factor).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final, Literal

import msgspec

from sentdm_async._core.checks import check_number, check_positive_int
from sentdm_async._watch.gapfill import next_poll
from sentdm_async.types.messages import FAILURE_STATUSES, TERMINAL_STATUSES

if TYPE_CHECKING:
    from sentdm_async._watch.gapfill import SilenceCurve

__all__ = [
    "DEFAULT_WATCH_CONCURRENCY",
    "MAX_DEADLINE_GRACE",
    "STATUS_FACTORS",
    "STATUS_RANK",
    "PollPolicy",
    "WatchSettings",
    "check_timeout",
    "check_until",
    "first_poll_delay",
    "gap_fill_due",
    "jittered",
    "next_interval",
]

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


#: Polls in flight of one watcher by default.
DEFAULT_WATCH_CONCURRENCY: Final = 16


#: Longest a message's last poll may run past its deadline (seconds; less for fast cadences).
MAX_DEADLINE_GRACE: Final = 1.0


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
    """Validate a watch ``timeout=``: seconds one message may be watched (``None``: no limit)."""
    return None if timeout is None else check_number("timeout", timeout, positive=True)


class WatchSettings(msgspec.Struct, frozen=True, kw_only=True):
    """A watcher's defaults, validated once (`build`); `Watcher.add` may override per message.

    Attributes:
        until: Statuses that end a message's watch (a failure status always does too).
        timeout: Seconds each message may be watched, counted from when it is added (not the
            watcher as a whole, and not one request); ``None`` means no limit.
        poll: The cadence.
        concurrency: Polls in flight at once.
        expect_pushes: Pushes are expected from the start: polls only fill gaps at once.
    """

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


def first_poll_delay(policy: PollPolicy, draw: float) -> float:
    """Seconds from adding a message to its first poll (before pushes move it).

    Args:
        policy: The cadence.
        draw: A uniform random number in [0, 1): the jitter source.

    Returns:
        Up to ``jitter x min_interval``, so messages added together are polled spread out.
    """
    return draw * policy.jitter * policy.min_interval


def next_interval(
    policy: PollPolicy,
    previous: float,
    *,
    found: str | None = None,
    scheduled_in: float | None = None,
) -> float:
    """The interval before a message's next poll, before jitter (seconds).

    Args:
        policy: The cadence.
        previous: The interval before the poll that just answered (``min_interval`` at first).
        found: The latest status the poll found new; ``None`` if it found nothing new (or
            failed in a way worth asking again).
        scheduled_in: Seconds until the message's ``scheduled_at``, when ``found`` is
            SCHEDULED (``None``: not scheduled).

    Returns:
        ``previous x multiplier`` up to ``max_interval`` while nothing changes; after a
        change, ``min_interval`` times the status factor of ``found`` (`STATUS_FACTORS`), or
        the time to ``scheduled_at`` if that is longer.
    """
    if found is None:
        return min(policy.max_interval, previous * policy.multiplier)
    interval = policy.min_interval * STATUS_FACTORS.get(found, 1.0)
    if found == "SCHEDULED" and scheduled_in is not None:
        interval = max(interval, scheduled_in)
    return interval


def jittered(policy: PollPolicy, interval: float, draw: float) -> float:
    """``interval`` spread by up to ±``jitter`` of itself.

    Args:
        policy: The cadence.
        interval: Seconds, from `next_interval`.
        draw: A uniform random number in [0, 1): the jitter source (0.5: no change).
    """
    return interval * (1.0 + policy.jitter * (2.0 * draw - 1.0))


def gap_fill_due(
    policy: PollPolicy,
    *,
    status: str,
    since: float,
    checked: float,
    interval: float,
    deadline: float,
    now: float,
    curve: SilenceCurve | None,
    loss: float,
) -> float:
    """When to poll a message whose steps pushes bring (a time on the watcher's clock).

    Args:
        policy: The cadence; ``gap_fill`` picks the rule.
        status: The message's latest known status ("" before any).
        since: When that step became known.
        checked: When a poll last found nothing new (``since`` if none has).
        interval: Its plain polling interval now (gap filling never polls more often).
        deadline: When its watch times out (`math.inf`: never).
        now: The time now.
        curve: ``"adaptive"`` only: silences before the ending step at ``status``
            (``None``: not learned yet).
        loss: The share of steps whose push does not arrive.

    Returns:
        ``"fixed"``: ``checked + overdue_after x`` the status factor. ``"adaptive"``:
        `sentdm_async._watch.gapfill.next_poll`, looked at again (no request) before the
        silence grows by half. Never after ``deadline``.
    """
    ceiling = policy.overdue_after * STATUS_FACTORS.get(status, 1.0)
    if policy.gap_fill == "fixed":
        return min(checked + ceiling, deadline)
    due = next_poll(
        since=since,
        checked=checked,
        curve=curve,
        loss=loss,
        ceiling=ceiling,
        # Never more often than plain polling would ask (its interval grows while nothing
        # changes): gap filling must not cost more than having no pushes at all.
        floor=interval,
    )
    # What was learned moves the due time: look again (no request) before the silence grows
    # by half, so a due time set while little was known never holds a message back long.
    due = min(due, now + max(policy.min_interval, (now - since) / 2))
    return min(due, deadline)
