"""One watched message's record (`Watched`), and the sharing of its last activity's values.

Kept small (slots, no task per message) for 100k-message watches. The scheduler owns the
records; `sentdm_async._watch.push` reads and updates their rank and silence fields.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import msgspec

from sentdm_async.types.messages import FAILURE_STATUSES, TERMINAL_STATUSES

if TYPE_CHECKING:
    from sentdm_async.types.messages import Activity

__all__ = ["DONE", "POLLING", "WAITING", "ActivityInterner", "Watched"]

# A message's state.
WAITING, POLLING, DONE = 0, 1, 2


class Watched:
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
        "reported",
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
        """Start watching at ``added``, first poll at ``due`` (the scheduler's clock)."""
        self.message_id = message_id
        self.added = added
        self.due = due
        self.interval = interval
        self.deadline = deadline  # when its `timeout` ends its watch (math.inf: never)
        self.stop = stop  # statuses that end this watch (shared between messages)
        self.seen = 0  # activities already yielded: the log only grows at its head
        self.last: Activity | None = None
        self.invalid = 0  # unreadable answers in a row (see scheduler.MAX_INVALID_ANSWERS)
        self.rank = -1  # STATUS_RANK of the latest step yielded
        self.ranked = False  # a push (or a checkpoint) set the rank: polls skip what it covers
        self.reported = False  # a step of it was yielded (`client.stats().messages_watched`)
        self.since = added  # when its latest step became known (by push or poll)
        self.checked = added  # when a poll last found nothing new (or `since`)
        self.unconfirmed = 0  # steps a poll found that no push brought (yet)
        self.state = WAITING

    def __lt__(self, other: Watched) -> bool:
        return self.due < other.due

    @property
    def status(self) -> str:
        """The status of its latest known step ("" before any)."""
        return self.last.status if self.last is not None else ""


class ActivityInterner:
    """Shares equal strings and prices between the messages' last activities.

    Each watched message keeps its latest activity (for `WatchTimeoutError.last_activity`);
    freshly decoded, its description, sender and prices are separate objects per message,
    about 300 bytes that 100,000 watched messages would each pay for the same few values.
    """

    __slots__ = ("_kept", "limit")

    def __init__(self, limit: int = 4096) -> None:
        """Keep at most ``limit`` distinct values; past it, activities are kept as decoded."""
        self.limit = limit
        self._kept: dict[object, object] = {}

    def compact(self, activity: Activity) -> Activity:
        """``activity`` with its values shared with earlier ones (itself past the limit)."""
        kept = self._kept
        if len(kept) >= self.limit:
            return activity
        price, extra = activity.price, activity.active_contact_price
        # Prices are keyed by their text: Decimal("0.045") == Decimal("0.0450") would merge them.
        return msgspec.structs.replace(
            activity,
            status=kept.setdefault(activity.status, activity.status),
            description=kept.setdefault(activity.description, activity.description),
            sender=kept.setdefault(activity.sender, activity.sender),
            price=kept.setdefault(("price", str(price)), price),
            active_contact_price=kept.setdefault(("price", str(extra)), extra),
        )
