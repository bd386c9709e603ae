"""``client.webhooks``: the webhook management endpoints, under the official SDK's names.

Every call goes through the client's one transport (budget, retries, error mapping); mutating
calls carry an ``Idempotency-Key``. Paths follow API_NOTES §4.4; ``toggle-status`` and ``test``
could not be confirmed against Sent's reference and follow the SDK's method names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Unpack

import msgspec

from ._checks import check_positive_int
from ._ids import segment
from ._messages import check_idempotency_key
from ._wire import Envelope
from .models import Pagination

if TYPE_CHECKING:
    import builtins
    from collections.abc import AsyncIterator, Mapping, Sequence

    from ._options import RequestOptions
    from ._transport import Transport

__all__ = [
    "EventType",
    "Webhook",
    "WebhookDelivery",
    "WebhookDeliveryPage",
    "WebhookPage",
    "Webhooks",
]


class Webhook(msgspec.Struct, frozen=True, kw_only=True):
    """A webhook endpoint: where Sent pushes events, and with which secret it signs them."""

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


_WEBHOOK: Final = msgspec.json.Decoder(Envelope[Webhook])
_PAGE: Final = msgspec.json.Decoder(Envelope[WebhookPage])
_DELIVERIES: Final = msgspec.json.Decoder(Envelope[WebhookDeliveryPage])
_EVENT_TYPES: Final = msgspec.json.Decoder(Envelope[_EventTypes])
_ANY: Final = msgspec.json.Decoder(Envelope[Any])
_ENCODER: Final = msgspec.json.Encoder()


def _path(webhook_id: str, action: str = "") -> str:
    return f"/v3/webhooks/{segment(webhook_id, 'webhook_id')}{action}"


def _body(
    endpoint_url: str | None,
    display_name: str | None,
    event_types: Sequence[str] | None,
    event_filters: Mapping[str, Sequence[str]] | None,
    retry_count: int | None,
    timeout_seconds: int | None,
) -> bytes:
    fields: dict[str, object] = {}
    if endpoint_url is not None:
        if not isinstance(endpoint_url, str) or not endpoint_url.startswith(
            ("https://", "http://")
        ):
            raise ValueError("endpoint_url must be an http(s) URL")
        fields["endpoint_url"] = endpoint_url
    if display_name is not None:
        fields["display_name"] = str(display_name)
    if event_types is not None:
        if isinstance(event_types, str):
            event_types = [event_types]
        fields["event_types"] = list(event_types)
    if event_filters is not None:
        fields["event_filters"] = {k: list(v) for k, v in event_filters.items()}
    if retry_count is not None:
        fields["retry_count"] = check_positive_int("retry_count", retry_count)
    if timeout_seconds is not None:
        fields["timeout_seconds"] = check_positive_int("timeout_seconds", timeout_seconds)
    return _ENCODER.encode(fields)


class Webhooks:
    """``client.webhooks``: create and manage the endpoints Sent pushes events to."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def create(
        self,
        *,
        endpoint_url: str,
        display_name: str | None = None,
        event_types: Sequence[str] | None = None,
        event_filters: Mapping[str, Sequence[str]] | None = None,
        retry_count: int | None = None,
        timeout_seconds: int | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Webhook:
        """Register an endpoint (``POST /v3/webhooks``); the answer carries its ``signing_secret``.

        Raises:
            ValueError: An endpoint_url that is not http(s), or a bad number or key.
            SentError: The API refused it (e.g. `BadRequestError` with field ``details``).
        """
        body = _body(
            endpoint_url, display_name, event_types, event_filters, retry_count, timeout_seconds
        )
        key = check_idempotency_key(idempotency_key)
        return await self._transport.request(
            "POST", "/v3/webhooks", _WEBHOOK, body=body, idempotency_key=key, options=options
        )

    async def retrieve(self, webhook_id: str, **options: Unpack[RequestOptions]) -> Webhook:
        """Fetch one endpoint (``GET /v3/webhooks/{id}``)."""
        return await self._transport.request("GET", _path(webhook_id), _WEBHOOK, options=options)

    async def list_page(
        self, *, page: int = 1, page_size: int | None = None, **options: Unpack[RequestOptions]
    ) -> WebhookPage:
        """Fetch one page of endpoints (``GET /v3/webhooks``)."""
        params = {"page": str(check_positive_int("page", page))}
        if page_size is not None:
            params["page_size"] = str(check_positive_int("page_size", page_size))
        return await self._transport.request(
            "GET", "/v3/webhooks", _PAGE, params=params, options=options
        )

    async def list(
        self, *, page_size: int | None = None, **options: Unpack[RequestOptions]
    ) -> AsyncIterator[Webhook]:
        """Yield every endpoint, one page at a time as the caller consumes them."""
        page = 1
        while True:
            result = await self.list_page(page=page, page_size=page_size, **options)
            for webhook in result.webhooks:
                yield webhook
            more = result.pagination.has_more if result.pagination is not None else None
            if not result.webhooks or not more:
                return
            page += 1

    async def update(
        self,
        webhook_id: str,
        *,
        endpoint_url: str | None = None,
        display_name: str | None = None,
        event_types: Sequence[str] | None = None,
        event_filters: Mapping[str, Sequence[str]] | None = None,
        retry_count: int | None = None,
        timeout_seconds: int | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Webhook:
        """Change an endpoint (``PUT /v3/webhooks/{id}``); omitted fields stay as they are."""
        body = _body(
            endpoint_url, display_name, event_types, event_filters, retry_count, timeout_seconds
        )
        return await self._transport.request(
            "PUT",
            _path(webhook_id),
            _WEBHOOK,
            body=body,
            idempotency_key=check_idempotency_key(idempotency_key),
            options=options,
        )

    async def delete(self, webhook_id: str, **options: Unpack[RequestOptions]) -> None:
        """Remove an endpoint (``DELETE /v3/webhooks/{id}``)."""
        await self._transport.request("DELETE", _path(webhook_id), None, options=options)

    async def rotate_secret(
        self,
        webhook_id: str,
        *,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Webhook:
        """Issue a new signing secret (``POST .../rotate-secret``); the old one stops at once."""
        return await self._transport.request(
            "POST",
            _path(webhook_id, "/rotate-secret"),
            _WEBHOOK,
            idempotency_key=check_idempotency_key(idempotency_key),
            options=options,
        )

    async def test(
        self,
        webhook_id: str,
        *,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Any:
        """Ask Sent to deliver a test event to the endpoint (``POST .../test``)."""
        return await self._transport.request(
            "POST",
            _path(webhook_id, "/test"),
            _ANY,
            idempotency_key=check_idempotency_key(idempotency_key),
            options=options,
        )

    async def toggle_status(
        self,
        webhook_id: str,
        *,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Webhook:
        """Switch an endpoint between active and inactive (``PATCH .../toggle-status``)."""
        return await self._transport.request(
            "PATCH",
            _path(webhook_id, "/toggle-status"),
            _WEBHOOK,
            idempotency_key=check_idempotency_key(idempotency_key),
            options=options,
        )

    async def list_events(
        self,
        webhook_id: str,
        *,
        page: int = 1,
        page_size: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> WebhookDeliveryPage:
        """Fetch one page of the endpoint's delivery log (``GET .../events``)."""
        params = {"page": str(check_positive_int("page", page))}
        if page_size is not None:
            params["page_size"] = str(check_positive_int("page_size", page_size))
        return await self._transport.request(
            "GET", _path(webhook_id, "/events"), _DELIVERIES, params=params, options=options
        )

    async def list_event_types(self, **options: Unpack[RequestOptions]) -> builtins.list[EventType]:
        """The event families Sent can push (``GET /v3/webhooks/event-types``)."""
        result = await self._transport.request(
            "GET", "/v3/webhooks/event-types", _EVENT_TYPES, options=options
        )
        return result.event_types
