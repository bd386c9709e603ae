"""Pure lifecycle model of the simulator: outcomes, planned activities and their wire form.

Nothing here does I/O or reads a clock: callers pass the random generator and the times in, so the
same seed always plans the same lifecycles. A message's whole lifecycle is planned when it is
created; what a GET shows is just the prefix of planned steps whose offset has passed, so answering
costs a ``bisect`` plus (cached) byte joins, never a re-plan.
"""

from __future__ import annotations

import math
import random
import uuid
from bisect import bisect_right
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

import msgspec

OUTCOMES: Final = ("delivered", "read", "failed", "blocked", "filtered", "no_receipt")
"""Outcomes a simulated message can be planned with, in `OutcomeMix` field order."""

TERMINAL_STATUSES: Final = frozenset({"DELIVERED", "READ", "FAILED", "BLOCKED", "FILTERED"})

# Lognormal delay from SENT to DELIVERED (simulated seconds). With SENT at ~1-7 s this gives a
# median of ~6 s after creation, ~90 % delivered within 60 s and a tail capped at 420 s (~2 % of
# deliveries land on the cap); measured over 20,000 plans.
_DELIVERY_MU: Final = math.log(2.0)
_DELIVERY_SIGMA: Final = 2.6
_DELIVERY_CAP: Final = 420.0
_ROUTED_SKIP: Final = 0.3

_DESCRIPTIONS: Final = {
    "QUEUED": "Message accepted and queued for processing",
    "SCHEDULED": "Message scheduled for later delivery",
    "PROCESSED": "Message processed and queued for sending",
    "ROUTED": "Message routed to carrier",
    "DELIVERED": "Message delivered to recipient",
    "READ": "Message read by recipient",
    "FAILED": "Message delivery failed",
    "BLOCKED": "Message blocked before sending",
    "FILTERED": "Message filtered by platform policy",
    "CANCELLED": "Scheduled message cancelled",
}
_SENT_DESCRIPTIONS: Final = {"sms": "Message sent via SMS", "whatsapp": "Message sent via WhatsApp"}
_REASONS: Final = {
    "FAILED": (
        ("DELIVERY_007", "The recipient is not registered on this channel"),
        ("DELIVERY_003", "The carrier rejected the message"),
    ),
    "BLOCKED": (
        ("BUSINESS_003", "Insufficient account balance"),
        ("BUSINESS_029", "The sender number is not an active sender"),
    ),
    # The public sources name no FILTERED reason code; BUSINESS_004 (opted out) is the closest.
    "FILTERED": (("BUSINESS_004", "The recipient has opted out of messages"),),
}
# (price, active_contact_price) per channel: activities show the strings, status the numbers.
_PRICES: Final = {"sms": ("0.0450", "0.0050"), "whatsapp": ("0.0120", "0.0050")}
# Statuses that carry no sender number / no price.
_NO_SENDER: Final = frozenset({"QUEUED", "PROCESSED", "SCHEDULED", "CANCELLED"})
_NO_PRICE: Final = frozenset({"QUEUED", "SCHEDULED", "BLOCKED", "CANCELLED"})

_encode = msgspec.json.encode


class OutcomeMix(msgspec.Struct, frozen=True, kw_only=True):
    """Relative weights of message outcomes (normalised internally) and the WhatsApp share.

    Attributes:
        delivered: QUEUED -> PROCESSED -> ROUTED? -> SENT -> DELIVERED.
        read: ... -> DELIVERED -> READ (WhatsApp only; on SMS it becomes ``delivered``).
        failed: ... -> SENT -> FAILED with reason_code DELIVERY_007 or DELIVERY_003.
        blocked: QUEUED -> BLOCKED (reason_code BUSINESS_003 or BUSINESS_029), never SENT.
        filtered: QUEUED -> PROCESSED -> FILTERED.
        no_receipt: ... -> SENT and never anything after.
        whatsapp_share: probability (0..1) that an auto-channel ("sent") message goes on WhatsApp.
        delivery_median: median of the lognormal delay from SENT to DELIVERED (simulated s).
        delivery_sigma: its shape (the log's standard deviation): 1.0 puts p90 at 3.6 x median.
    """

    delivered: float = 0.62
    read: float = 0.14
    failed: float = 0.08
    blocked: float = 0.05
    filtered: float = 0.03
    no_receipt: float = 0.08
    whatsapp_share: float = 0.4
    delivery_median: float = math.exp(_DELIVERY_MU)
    delivery_sigma: float = _DELIVERY_SIGMA

    def __post_init__(self) -> None:
        weights = self.weights()
        if not all(math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
            msg = f"outcome weights must be finite, >= 0 and not all zero, got {weights}"
            raise ValueError(msg)
        if not (self.delivery_median > 0 and self.delivery_sigma >= 0) or not math.isfinite(
            self.delivery_median * self.delivery_sigma
        ):
            msg = "delivery_median must be > 0 and delivery_sigma >= 0, both finite"
            raise ValueError(msg)
        if not 0.0 <= self.whatsapp_share <= 1.0:
            msg = f"whatsapp_share must be within 0..1, got {self.whatsapp_share}"
            raise ValueError(msg)

    def weights(self) -> tuple[float, float, float, float, float, float]:
        """Return the outcome weights in `OUTCOMES` order (not normalised)."""
        return (
            self.delivered,
            self.read,
            self.failed,
            self.blocked,
            self.filtered,
            self.no_receipt,
        )

    @property
    def delivery(self) -> tuple[float, float]:
        """``(mu, sigma)`` of the SENT -> DELIVERED delay, for `plan_lifecycle`."""
        return (math.log(self.delivery_median), self.delivery_sigma)

    def draw(self, rng: random.Random) -> str:
        """Draw one outcome name with probability proportional to its weight."""
        weights = self.weights()
        x = rng.random() * sum(weights)
        for name, weight in zip(OUTCOMES, weights, strict=True):
            x -= weight
            if x < 0:
                return name
        # Only reachable through float rounding when x lands exactly on the total.
        return next(n for n, w in zip(OUTCOMES, weights, strict=True) if w > 0)  # pragma: no cover


class Step(NamedTuple):
    """One planned activity of a message."""

    offset: float
    """Simulated seconds after creation."""
    status: str
    digit: int
    """The 7th fractional digit of the wire timestamp (the API has 100 ns ticks)."""
    reason_code: str | None = None
    reason: str | None = None
    scheduled_at: datetime | None = None


def seeded_rng(seed: str | int) -> random.Random:
    """Return a private generator for ``seed`` (str seeds hash stably across runs)."""
    # Simulation, not cryptography: reproducibility per seed is the point.
    return random.Random(seed)  # noqa: S311


def new_uuid(rng: random.Random) -> str:
    """Return a uuid4-style string drawn from ``rng`` (so ids are reproducible per seed)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def format_ts(dt: datetime, digit: int) -> str:
    """Format a UTC datetime like the API: 7 fractional digits and ``+00:00``.

    Args:
        dt: an aware or naive-UTC datetime.
        digit: the 7th fractional digit (0-9), below the microsecond.
    """
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond:06d}{digit}+00:00"


def plan_lifecycle(
    rng: random.Random,
    outcome: str,
    channel: str,
    *,
    release: float | None = None,
    delivery: tuple[float, float] = (_DELIVERY_MU, _DELIVERY_SIGMA),
) -> list[Step]:
    """Plan a message's activities, oldest first.

    Args:
        rng: the seeded generator; the number of draws depends only on the arguments.
        outcome: one of `OUTCOMES` (``read`` on SMS is planned as ``delivered``).
        channel: ``"sms"`` or ``"whatsapp"`` (checked by the caller).
        release: for scheduled messages, simulated seconds after creation at which the message
            is released; the lifecycle continues from that instant. None: send immediately.
        delivery: ``(mu, sigma)`` of the lognormal SENT -> DELIVERED delay.

    Returns:
        The steps; a terminal outcome ends with its terminal status, ``no_receipt`` with SENT.
    """
    if outcome not in OUTCOMES:
        msg = f"unknown outcome {outcome!r}; expected one of {OUTCOMES}"
        raise ValueError(msg)
    digit = rng.randrange
    steps = [Step(0.0, "QUEUED", digit(10))]
    t = 0.0
    if release is not None:
        t = rng.uniform(0.2, 1.0)
        steps.append(Step(t, "SCHEDULED", digit(10)))
        t = max(t, release)
    base = t

    def end(status: str, at: float) -> list[Step]:
        code, reason = rng.choice(_REASONS[status])
        steps.append(Step(at, status, digit(10), code, reason))
        return steps

    if outcome == "blocked":
        return end("BLOCKED", t + rng.uniform(0.5, 2.0))
    t += rng.uniform(0.3, 2.0)
    steps.append(Step(t, "PROCESSED", digit(10)))
    if outcome == "filtered":
        return end("FILTERED", t + rng.uniform(1.0, 3.0))
    if rng.random() >= _ROUTED_SKIP:
        t += rng.uniform(0.2, 1.0)
        steps.append(Step(t, "ROUTED", digit(10)))
    t += rng.uniform(0.5, 4.0)
    steps.append(Step(t, "SENT", digit(10)))
    if outcome == "no_receipt":
        return steps
    if outcome == "failed":
        return end("FAILED", t + rng.uniform(2.0, 90.0))
    delay = rng.lognormvariate(*delivery)
    t = min(t + max(delay, 0.1), base + _DELIVERY_CAP)
    steps.append(Step(t, "DELIVERED", digit(10)))
    if outcome == "read" and channel == "whatsapp":
        steps.append(Step(t + rng.uniform(5.0, 300.0), "READ", digit(10)))
    return steps


def format_international(e164: str) -> str:
    """Return ``+1 202-555-0123`` for a NANP number, else the E.164 string unchanged."""
    if e164.startswith("+1") and len(e164) == 12:  # "+1" and 10 digits
        return f"+1 {e164[2:5]}-{e164[5:8]}-{e164[8:]}"
    return e164


class Message:
    """A simulated outbound message: its plan, identity and cached wire encodings."""

    __slots__ = (
        "_act_cache",
        "_encoded",
        "_status_cache",
        "body",
        "channel",
        "contact_id",
        "created_real",
        "created_ts",
        "created_wall",
        "customer_id",
        "id",
        "offsets",
        "scheduled_at",
        "sender",
        "steps",
        "template",
        "to",
        "visible_after",
    )

    def __init__(
        self,
        *,
        message_id: str,
        channel: str,
        to: str,
        steps: list[Step],
        created_real: float,
        created_wall: datetime,
        sender: str,
        contact_id: str,
        customer_id: str,
        body: str,
        template: tuple[str, str | None, str] | None = None,
        scheduled_at: datetime | None = None,
        visible_after: float = 0.0,
    ) -> None:
        self.id = message_id
        self.channel = channel
        self.to = to
        self.steps = steps
        self.offsets = [s.offset for s in steps]
        self.created_real = created_real
        self.created_wall = created_wall
        self.created_ts = format_ts(created_wall, steps[0].digit)  # = the QUEUED timestamp
        self.sender = sender
        self.contact_id = contact_id
        self.customer_id = customer_id
        self.body = body
        self.template = template  # (template_id, template_name, template_category)
        self.scheduled_at = scheduled_at
        self.visible_after = visible_after
        self._encoded: list[bytes] | None = None
        self._act_cache: tuple[int, bytes] = (-1, b"")
        self._status_cache: tuple[int, bytes] = (-1, b"")

    def replace_steps(self, steps: list[Step]) -> None:
        """Re-plan the message (cancel, resend): new steps, caches dropped."""
        self.steps = steps
        self.offsets = [s.offset for s in steps]
        self._encoded = None
        self._act_cache = (-1, b"")
        self._status_cache = (-1, b"")

    def visible_count(self, sim_age: float) -> int:
        """Return how many planned steps have happened ``sim_age`` simulated seconds in."""
        return bisect_right(self.offsets, sim_age)

    def terminal_offset(self) -> float | None:
        """Return the simulated offset of the terminal status, or None if it never comes."""
        last = self.steps[-1]
        return last.offset if last.status in TERMINAL_STATUSES else None

    def _timestamp(self, step: Step) -> str:
        return format_ts(self.created_wall + timedelta(seconds=step.offset), step.digit)

    def _activity(self, step: Step) -> dict[str, Any]:
        status = step.status
        priced = status not in _NO_PRICE
        price, contact_price = _PRICES[self.channel]
        description = (
            _SENT_DESCRIPTIONS[self.channel] if status == "SENT" else _DESCRIPTIONS[status]
        )
        out: dict[str, Any] = {
            "status": status,
            "description": description,
            "from": None if status in _NO_SENDER else self.sender,
            "timestamp": self._timestamp(step),
            "price": price if priced else None,
            "active_contact_price": contact_price if priced else None,
        }
        if step.reason_code is not None:
            out["reason_code"] = step.reason_code
            out["reason"] = step.reason
        if status == "SCHEDULED" and self.scheduled_at is not None:
            out["scheduled_at"] = format_ts(self.scheduled_at, 0)
        return out

    def activities_data(self, count: int) -> bytes:
        """Return the encoded ``data`` of GET .../activities with ``count`` steps visible."""
        cached_count, cached = self._act_cache
        if cached_count == count:
            return cached
        if self._encoded is None:
            self._encoded = [_encode(self._activity(s)) for s in self.steps]
        items = b",".join(reversed(self._encoded[:count]))
        data = b'{"message_id":"%s","activities":[%s],"pagination":null}' % (
            self.id.encode(),
            items,
        )
        self._act_cache = (count, data)
        return data

    def status_data(self, count: int) -> bytes:
        """Return the encoded ``data`` of GET /v3/messages/{id} with ``count`` steps visible."""
        cached_count, cached = self._status_cache
        if cached_count == count:
            return cached
        visible = self.steps[:count]
        current = visible[-1]
        priced = any(s.status not in _NO_PRICE for s in visible)
        price, contact_price = _PRICES[self.channel]
        template_id, template_name, category = self.template or (None, None, None)
        events = []
        for step in visible:
            event: dict[str, Any] = {
                "status": step.status,
                "timestamp": self._timestamp(step),
                "description": self._activity(step)["description"],
            }
            if step.reason_code is not None:
                event["reason"] = step.reason
                event["reason_code"] = step.reason_code
            events.append(event)
        out: dict[str, Any] = {
            "id": self.id,
            "status": current.status,
            "channel": self.channel,
            "direction": "outbound",
            "contact_id": self.contact_id,
            "customer_id": self.customer_id,
            "phone": self.to,
            "phone_international": format_international(self.to),
            "region_code": "US",
            "created_at": self.created_ts,
            "price": float(price) if priced else None,
            "active_contact_price": float(contact_price) if priced else None,
            "template_id": template_id,
            "template_name": template_name,
            "template_category": category,
        }
        if current.reason_code is not None:
            out["reason_code"] = current.reason_code
            out["reason"] = current.reason
        if self.scheduled_at is not None:
            out["scheduled_at"] = format_ts(self.scheduled_at, 0)
        out["events"] = events
        out["message_body"] = {"content": self.body, "header": None, "footer": None, "buttons": []}
        data = _encode(out)
        self._status_cache = (count, data)
        return data
