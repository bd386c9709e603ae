"""Typed results of the Sent v3 API, as msgspec Structs.

Decoding is strict where the API is documented and lenient where it grows: required wire fields
stay required (so a wrong shape is caught), optional ones default to ``None``, unknown fields are
ignored and unknown status strings decode as plain strings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeAlias, TypeVar

import msgspec

from sentdm_async.errors import SentError
from sentdm_async.types._decode import AwareDatetime
from sentdm_async.types.shared import Pagination, _check_finite

__all__ = [
    "FAILURE_STATUSES",
    "INBOUND_TERMINAL",
    "SUCCESS_STATUSES",
    "TERMINAL_STATUSES",
    "Activity",
    "ActivityFailure",
    "ActivityLog",
    "ActivityOk",
    "ActivityResult",
    "Button",
    "HeaderMedia",
    "Media",
    "Message",
    "MessageBody",
    "MessagePage",
    "Recipient",
    "SendResult",
    "StatusEvent",
    "WatchEvent",
]

#: A message that reached one of these was delivered (READ can still follow DELIVERED).
SUCCESS_STATUSES: frozenset[str] = frozenset({"DELIVERED", "READ"})


#: A message that reached one of these will not be delivered.
FAILURE_STATUSES: frozenset[str] = frozenset({"FAILED", "FILTERED", "BLOCKED", "CANCELLED"})


#: Terminal status of an inbound message.
INBOUND_TERMINAL: frozenset[str] = frozenset({"RECEIVED"})


#: Every status after which a watch stops by default.
TERMINAL_STATUSES: frozenset[str] = SUCCESS_STATUSES | FAILURE_STATUSES | INBOUND_TERMINAL


T = TypeVar("T")


class Activity(msgspec.Struct, frozen=True, kw_only=True, rename={"sender": "from"}):
    """One step of a message's lifecycle, from ``GET /v3/messages/{id}/activities``.

    Attributes:
        status: e.g. ``QUEUED``, ``SENT``, ``DELIVERED``, ``FAILED``; unknown values are kept.
        timestamp: When it happened (timezone-aware; digits past the µs are cut, as the SDK does).
        description: Human text.
        sender: The sending number (wire name ``from``), when the provider reported it.
        price: Channel cost, exact decimal.
        active_contact_price: Active-contact markup, exact decimal.
        reason_code: Stable failure code (FAILED/FILTERED/BLOCKED only), e.g. ``DELIVERY_007``.
        reason: Human sentence for ``reason_code``.
        scheduled_at: Release instant on SCHEDULED entries, called-off instant on CANCELLED.
    """

    status: str
    timestamp: AwareDatetime
    description: str | None = None
    sender: str | None = None
    price: Decimal | None = None
    active_contact_price: Decimal | None = None
    reason_code: str | None = None
    reason: str | None = None
    scheduled_at: AwareDatetime | None = None

    def __post_init__(self) -> None:
        """Refuse non-finite prices (`_check_finite`, inlined: this runs for every activity)."""
        price = self.price
        if price is not None and not price.is_finite():
            raise ValueError(f"price must be a finite decimal, got {price}")
        price = self.active_contact_price
        if price is not None and not price.is_finite():
            raise ValueError(f"price must be a finite decimal, got {price}")

    @property
    def is_terminal(self) -> bool:
        """Whether this status is in `TERMINAL_STATUSES`."""
        return self.status in TERMINAL_STATUSES

    @property
    def is_failure(self) -> bool:
        """Whether this status is in `FAILURE_STATUSES`."""
        return self.status in FAILURE_STATUSES


class ActivityLog(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The activity log of one message, most recent first as the API sends it.

    Not tracked by the garbage collector (``gc=False``, as `ActivityOk`): it holds a list of
    `Activity` (which hold only strings, timestamps and decimals) and a `Pagination`, so it
    cannot be part of a reference cycle; a bulk job makes one per id.
    """

    message_id: str
    activities: list[Activity] | None = None
    pagination: Pagination | None = None

    @property
    def latest(self) -> Activity | None:
        """The most recent activity, or ``None`` when the log is empty."""
        return self.activities[0] if self.activities else None

    @property
    def is_terminal(self) -> bool:
        """Whether the most recent activity is terminal."""
        latest = self.latest
        return latest is not None and latest.is_terminal

    def chronological(self) -> list[Activity]:
        """Return the activities oldest first."""
        return (self.activities or [])[::-1]


class StatusEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of `Message.events`."""

    status: str
    timestamp: AwareDatetime
    description: str | None = None
    reason: str | None = None
    reason_code: str | None = None


class Button(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A button of a message body (wire names are camelCase: ``postbackData``)."""

    type: str | None = None
    text: str | None = None
    value: str | None = None
    postback_data: str | None = None


class HeaderMedia(msgspec.Struct, frozen=True, kw_only=True):
    """The media header of a template message: ``type`` is image, video or document."""

    type: str | None = None
    url: str | None = None


class Media(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """An MMS attachment (inbound links expire on the carrier's schedule)."""

    url: str | None = None
    mime_type: str | None = None
    media_type: str | None = None
    size_bytes: int | None = None
    source_hash_sha256: str | None = None


class MessageBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The content of a message as sent (wire names of this object are camelCase)."""

    content: str | None = None
    header: str | None = None
    footer: str | None = None
    subject: str | None = None
    buttons: list[Button] | None = None
    header_media: HeaderMedia | None = None
    media: list[Media] | None = None


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """A message's current status and details, from ``GET /v3/messages/{id}``."""

    id: str
    status: str | None = None
    channel: str | None = None
    direction: str | None = None
    contact_id: str | None = None
    customer_id: str | None = None
    phone: str | None = None
    phone_international: str | None = None
    region_code: str | None = None
    created_at: AwareDatetime | None = None
    # The wire sends numbers here; Decimal keeps users' arithmetic exact (the value is parsed
    # from the JSON text, not via float, so 0.045 stays Decimal("0.045")).
    price: Decimal | None = None
    active_contact_price: Decimal | None = None
    template_id: str | None = None
    template_name: str | None = None
    template_category: str | None = None
    reason_code: str | None = None
    reason: str | None = None
    scheduled_at: AwareDatetime | None = None
    events: list[StatusEvent] | None = None
    message_body: MessageBody | None = None

    def __post_init__(self) -> None:
        """Refuse non-finite prices."""
        _check_finite(self.price, self.active_contact_price)

    @property
    def is_terminal(self) -> bool:
        """Whether the current status is in `TERMINAL_STATUSES`."""
        return self.status in TERMINAL_STATUSES


class Recipient(msgspec.Struct, frozen=True, kw_only=True):
    """One message created by a send: one per recipient and channel."""

    message_id: str
    to: str
    channel: str | None = None
    body: str | None = None


class SendResult(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to ``POST /v3/messages`` (HTTP 202)."""

    status: str | None = None
    template_id: str | None = None
    template_name: str | None = None
    recipients: list[Recipient] | None = None
    scheduled_at: AwareDatetime | None = None

    @property
    def message_ids(self) -> list[str]:
        """The ids of the created messages, in the API's order."""
        return [r.message_id for r in self.recipients or []]


class ActivityOk(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An id of `retrieve_activities_many` whose log was fetched (untracked by the gc, acyclic)."""

    message_id: str
    log: ActivityLog
    error: None = None

    @property
    def ok(self) -> bool:
        """Whether the log was fetched: ``True``."""
        return True


class ActivityFailure(msgspec.Struct, frozen=True, kw_only=True):
    """An id of `retrieve_activities_many` that failed (``error``) after the retries."""

    message_id: str
    error: SentError
    log: None = None

    @property
    def ok(self) -> bool:
        """Whether the log was fetched: ``False``."""
        return False


#: One answer of `retrieve_activities_many`. A union so that a type checker narrows it: after
#: ``if result.error is None:``, ``result.log`` is an `ActivityLog`, and in the ``else`` branch
#: ``result.error`` is a `SentError`.
ActivityResult: TypeAlias = ActivityOk | ActivityFailure


class WatchEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One event of `watch_many`.

    Either a new ``activity`` of ``message_id`` (``done`` on the terminal one), or an ``error``
    that ended the watch of that message (``done`` is then ``True``).
    """

    message_id: str
    activity: Activity | None = None
    error: SentError | None = None
    done: bool = False


class MessagePage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of messages, most recent first (conversations and the messages list)."""

    messages: list[Message] | None = None
    pagination: Pagination | None = None

    @property
    def items(self) -> list[Message]:
        """The page's messages (``[]`` for ``null``)."""
        return self.messages or []
