"""Webhook endpoints, their delivery attempts and the event types they can carry."""

from __future__ import annotations

from typing import Any, Final

import msgspec

from sentdm_async._core.redact import redacted_repr, redacted_rich_repr
from sentdm_async.types._decode import AwareDatetime
from sentdm_async.types.shared import Pagination

__all__ = [
    "EventType",
    "EventTypeList",
    "Webhook",
    "WebhookDelivery",
    "WebhookDeliveryPage",
    "WebhookPage",
    "WebhookSecret",
    "WebhookTestResult",
]

#: The fields ``Webhook``'s repr redacts (`sentdm_async._core.redact`).
_SIGNING_SECRET: Final = frozenset({"signing_secret"})


class Webhook(msgspec.Struct, frozen=True, kw_only=True):
    """A webhook endpoint: where Sent pushes events, and with which secret it signs them.

    ``repr`` and ``str`` show ``signing_secret`` redacted; read the attribute for the value.
    """

    id: str | None = None
    customer_id: str | None = None
    endpoint_url: str | None = None
    display_name: str | None = None
    event_types: list[str] | None = None
    event_filters: dict[str, list[str]] | None = None
    is_active: bool | None = None
    signing_secret: str | None = None
    retry_count: int | None = None
    timeout_seconds: int | None = None
    consecutive_failures: int | None = None
    last_delivery_attempt_at: AwareDatetime | None = None
    last_successful_delivery_at: AwareDatetime | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None

    def __repr__(self) -> str:
        """Show the fields, the secret redacted (the attribute itself stays readable)."""
        return redacted_repr(self, _SIGNING_SECRET)

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        """Rich's fields, the secret redacted."""
        return redacted_rich_repr(self, _SIGNING_SECRET)


class WebhookPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of `Webhooks.list_page`."""

    webhooks: list[Webhook] | None = None
    pagination: Pagination | None = None

    @property
    def items(self) -> list[Webhook]:
        """The page's webhooks (``[]`` for ``null``)."""
        return self.webhooks or []


class WebhookDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of an endpoint's delivery log (`Webhooks.list_events`).

    ``event_data`` is the event as delivered (``event``, ``field``, ``payload``...), kept as
    the API sends it.
    """

    id: str | None = None
    event_type: str | None = None
    delivery_status: str | None = None
    delivery_attempts: int | None = None
    http_status_code: int | None = None
    response_body: str | None = None
    error_message: str | None = None
    event_data: Any = None
    created_at: AwareDatetime | None = None
    processing_started_at: AwareDatetime | None = None
    processing_completed_at: AwareDatetime | None = None


class WebhookDeliveryPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of an endpoint's delivery log."""

    events: list[WebhookDelivery] | None = None
    pagination: Pagination | None = None

    @property
    def items(self) -> list[WebhookDelivery]:
        """The page's deliveries (``[]`` for ``null``)."""
        return self.events or []


class EventType(msgspec.Struct, frozen=True, kw_only=True):
    """An event family Sent can push, with its events (``sub_types``, event types themselves)."""

    name: str | None = None
    display_name: str | None = None
    event_type: str | None = None
    description: str | None = None
    is_active: bool | None = None
    sub_types: list[EventType] | None = None


class EventTypeList(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /v3/webhooks/event-types``: the event types, with ``pagination``."""

    event_types: list[EventType] | None = None
    pagination: Pagination | None = None

    @property
    def items(self) -> list[EventType]:
        """The event types (``[]`` for ``null``)."""
        return self.event_types or []


class WebhookSecret(msgspec.Struct, frozen=True, kw_only=True):
    """A webhook's new signing secret (`Webhooks.rotate_secret`); ``repr`` shows it redacted."""

    signing_secret: str | None = None

    def __repr__(self) -> str:
        """Show the fields, the secret redacted (the attribute itself stays readable)."""
        return redacted_repr(self, _SIGNING_SECRET)

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        """Rich's fields, the secret redacted."""
        return redacted_rich_repr(self, _SIGNING_SECRET)


class WebhookTestResult(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to `Webhooks.test`: whether the test event was delivered, and a message."""

    message: str | None = None
    success: bool | None = None
