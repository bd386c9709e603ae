"""Typed webhook events: msgspec Structs that mirror Sent's envelope, one family per type.

The envelope is ``{field, event (older payloads: sub_type), payload, request_id, timestamp}``;
``field`` names the family (``message``, ``contact``, ``templates``, ...). Message status,
inbound message, contact and template payloads are typed; any other family decodes to a
`GenericEvent` (the family list has grown twice, so an unknown one is never an error). Unknown
fields are ignored, so a payload that gains fields keeps decoding.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, TypeAlias, cast

import msgspec

from sentdm_async.types._decode import UtcDatetime, json_decoder
from sentdm_async.types.messages import Activity
from sentdm_async.webhooks._verify import WebhookError

__all__ = [
    "ContactEvent",
    "ContactPayload",
    "GenericEvent",
    "InboundMedia",
    "InboundMessageEvent",
    "InboundMessagePayload",
    "MessageEvent",
    "MessageStatusPayload",
    "TemplateEvent",
    "TemplatePayload",
    "WebhookEvent",
    "WebhookPayloadError",
    "parse",
]


class WebhookPayloadError(WebhookError):
    """The body is not a webhook envelope, or a known family's payload is malformed (400)."""


class MessageStatusPayload(msgspec.Struct, frozen=True, kw_only=True):
    """``payload`` of an outbound message status event (``message.sent``, ``.delivered``...)."""

    message_status: str
    message_id: str | None = None
    account_id: str | None = None
    agent_id: str | None = None
    channel: str | None = None
    outbound_number: str | None = None
    body: str | None = None
    template_id: str | None = None
    template_name: str | None = None
    reason_code: str | None = None
    reason: str | None = None
    schedule_reason: str | None = None
    scheduled_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class InboundMedia(msgspec.Struct, frozen=True, kw_only=True):
    """One attachment of an inbound MMS (carrier URLs expire)."""

    url: str | None = None
    mime_type: str | None = None
    size_bytes: int | None = None
    hash_sha256: str | None = None


class InboundMessagePayload(msgspec.Struct, frozen=True, kw_only=True):
    """``payload`` of ``message.received``: a contact wrote to one of your numbers."""

    inbound_number: str
    received_at: UtcDatetime | None = None
    outbound_number: str | None = None
    text: str | None = None
    channel: str | None = None
    message_id: str | None = None
    account_id: str | None = None
    media: list[InboundMedia] | None = None
    referral: dict[str, Any] | None = None
    updated_at: UtcDatetime | None = None


class ContactPayload(msgspec.Struct, frozen=True, kw_only=True, rename={"sender": "from"}):
    """``payload`` of a contact event (opt-in, opt-out, help, custom keyword)."""

    opt_out: bool | None = None
    source: str | None = None
    contact_id: str | None = None
    sender: str | None = None
    to: str | None = None
    channel: str | None = None
    message_id: str | None = None
    template_id: str | None = None
    text: str | None = None
    agent_id: str | None = None
    account_id: str | None = None


class TemplatePayload(msgspec.Struct, frozen=True, kw_only=True):
    """``payload`` of a template status event (e.g. APPROVED, REJECTED)."""

    template_id: str | None = None
    name: str | None = None
    status: str | None = None
    reason: str | None = None
    category: str | None = None
    language: str | None = None


class _Base(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    event: str | None = None
    timestamp: UtcDatetime | None = None
    request_id: str | None = None
    #: The delivery's ``X-Webhook-Event-ID`` (the same on Sent's retries), set by
    #: `construct_event`; ``None`` from `parse`. Not signed: a replay can carry any value, so
    #: deduplicate on `webhook_id`, never on this.
    event_id: str | None = None
    #: The signed ``X-Webhook-ID`` (Svix's message id: the same on retries), set by
    #: `construct_event`; ``None`` from `parse`.
    webhook_id: str | None = None

    @property
    def name(self) -> str:
        """``family.event``, e.g. ``message.delivered`` (whichever form the sender used)."""
        event = self.event or ""
        return event if "." in event or not event else f"{self.field}.{event}"


class MessageEvent(_Base, frozen=True, kw_only=True):
    """A status change of an outbound message: what `Watcher.push` takes."""

    payload: MessageStatusPayload

    def activity(self) -> Activity:
        """The step as an `Activity` (fields the event does not carry, e.g. prices, are None).

        The time is the payload's ``updated_at`` (when the status was reached), else the
        envelope's; a time without an offset is read as UTC, as Sent sends them.
        """
        payload = self.payload
        return Activity(
            status=payload.message_status.upper(),
            timestamp=_aware(payload.updated_at or self.timestamp or datetime.now(UTC)),
            reason_code=payload.reason_code,
            reason=payload.reason,
            scheduled_at=_aware(payload.scheduled_at) if payload.scheduled_at else None,
        )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class InboundMessageEvent(_Base, frozen=True, kw_only=True):
    """An inbound message (``message.received``)."""

    payload: InboundMessagePayload


class ContactEvent(_Base, frozen=True, kw_only=True):
    """A contact event (``contact.opt_out`` and the like)."""

    payload: ContactPayload


class TemplateEvent(_Base, frozen=True, kw_only=True):
    """A template status event (family ``templates``)."""

    payload: TemplatePayload


class GenericEvent(_Base, frozen=True, kw_only=True):
    """An event of a family this library does not type (channel, link, call...)."""

    payload: Any = None


#: Any event `parse` returns.
WebhookEvent: TypeAlias = (
    MessageEvent | InboundMessageEvent | ContactEvent | TemplateEvent | GenericEvent
)


class _Envelope(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    event: str | None = None
    sub_type: str | None = None
    payload: msgspec.Raw = msgspec.Raw(b"null")
    request_id: str | None = None
    timestamp: UtcDatetime | None = None


_ENVELOPE: Final = json_decoder(_Envelope)
_TYPED: Final[dict[str, type[_Base]]] = {
    "message": MessageEvent,
    "contact": ContactEvent,
    "contacts": ContactEvent,
    "templates": TemplateEvent,
    "template": TemplateEvent,
}
_PAYLOADS: Final[dict[type[_Base], msgspec.json.Decoder[Any]]] = {
    MessageEvent: json_decoder(MessageStatusPayload),
    InboundMessageEvent: json_decoder(InboundMessagePayload),
    ContactEvent: json_decoder(ContactPayload),
    TemplateEvent: json_decoder(TemplatePayload),
    GenericEvent: msgspec.json.Decoder(),
}


def _kind(envelope: _Envelope, event: str | None) -> type[_Base]:
    kind = _TYPED.get(envelope.field, GenericEvent)
    if kind is MessageEvent and event is not None and event.rsplit(".", 1)[-1] == "received":
        return InboundMessageEvent
    return kind


def parse(body: bytes | str) -> WebhookEvent:
    """Decode a webhook body into its typed event (no verification: see `construct_event`).

    Raises:
        WebhookPayloadError: Not JSON, not an envelope, nested too deep, or a typed family's
            payload is malformed (e.g. a message event without ``message_status``).
    """
    if isinstance(body, str):
        try:
            body = body.encode()
        except UnicodeError:
            raise WebhookPayloadError("body holds characters that are not UTF-8") from None
    if not isinstance(body, bytes | bytearray | memoryview):
        raise WebhookPayloadError("body must be the raw request bytes")
    try:
        envelope = _ENVELOPE.decode(body)
        event = envelope.event if envelope.event is not None else envelope.sub_type
        kind = _kind(envelope, event)
        payload = _PAYLOADS[kind].decode(envelope.payload)
    except (msgspec.DecodeError, RecursionError) as exc:
        what = "nested too deep" if isinstance(exc, RecursionError) else str(exc)
        raise WebhookPayloadError(f"not a Sent webhook envelope: {what}") from None
    timestamp = _aware(envelope.timestamp) if envelope.timestamp is not None else None
    fields: dict[str, Any] = {
        "field": envelope.field,
        "event": event,
        "timestamp": timestamp,
        "request_id": envelope.request_id,
        "payload": payload,
    }
    return cast("WebhookEvent", kind(**fields))
