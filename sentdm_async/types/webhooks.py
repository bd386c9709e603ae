"""Webhook endpoints, their delivery attempts and the event types they can carry."""

from __future__ import annotations

from typing import Any, Final

import msgspec

from sentdm_async._core.redact import redacted_repr, redacted_rich_repr
from sentdm_async.types.shared import Pagination

__all__ = ["EventType", "Webhook", "WebhookDelivery", "WebhookDeliveryPage", "WebhookPage"]

#: The fields ``Webhook``'s repr redacts (`sentdm_async._core.redact`).
_SIGNING_SECRET: Final = frozenset({"signing_secret"})


class Webhook(msgspec.Struct, frozen=True, kw_only=True):
    """A webhook endpoint: where Sent pushes events, and with which secret it signs them.

    ``repr`` and ``str`` show ``signing_secret`` redacted; read the attribute for the value.
    """

    id: str
    endpoint_url: str
    display_name: str | None = None
    event_types: list[str] | None = None
    event_filters: dict[str, list[str]] | None = None
    is_active: bool = True
    signing_secret: str | None = None
    retry_count: int | None = None
    timeout_seconds: int | None = None
    consecutive_failures: int | None = None
    last_delivery_attempt_at: str | None = None
    last_successful_delivery_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    def __repr__(self) -> str:
        """Show the fields, the secret redacted (the attribute itself stays readable)."""
        return redacted_repr(self, _SIGNING_SECRET)

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        """Rich's fields, the secret redacted."""
        return redacted_rich_repr(self, _SIGNING_SECRET)


class WebhookPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of `Webhooks.list_page`."""

    webhooks: list[Webhook]
    pagination: Pagination | None = None


class WebhookDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of an endpoint's delivery log (`Webhooks.list_events`)."""

    id: str
    delivery_status: str | None = None
    delivery_attempts: int | None = None
    http_status_code: int | None = None
    response_body: str | None = None
    error_message: str | None = None
    event_data: Any = None
    created_at: str | None = None


class WebhookDeliveryPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of an endpoint's delivery log."""

    events: list[WebhookDelivery]
    pagination: Pagination | None = None


class EventType(msgspec.Struct, frozen=True, kw_only=True):
    """An event family Sent can push, with its events (``sub_types``)."""

    name: str
    display_name: str | None = None
    description: str | None = None
    is_active: bool | None = None
    sub_types: list[Any] | None = None


class _EventTypes(msgspec.Struct, frozen=True, kw_only=True):
    event_types: list[EventType]
