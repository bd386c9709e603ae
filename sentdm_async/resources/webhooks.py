"""``client.webhooks``: the webhook management endpoints, under the official SDK's names.

Every call goes through the client's one transport (budget, retries, error mapping); mutating
calls carry an ``Idempotency-Key``. Paths follow API_NOTES §4.4; ``toggle-status`` and ``test``
could not be confirmed against Sent's reference and follow the SDK's method names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Unpack

from sentdm_async._core.checks import check_positive_int
from sentdm_async.resources._base import AsyncPager, Resource, decoder, page_params
from sentdm_async.types.webhooks import (
    EventType,
    Webhook,
    WebhookDeliveryPage,
    WebhookPage,
    _EventTypes,
)

if TYPE_CHECKING:
    import builtins
    from collections.abc import Awaitable, Mapping, Sequence

    from sentdm_async._http.options import RequestOptions

__all__ = ["Webhooks"]

_WEBHOOK: Final = decoder(Webhook)


_PAGE: Final = decoder(WebhookPage)


_DELIVERIES: Final = decoder(WebhookDeliveryPage)


_EVENT_TYPES: Final = decoder(_EventTypes)


_ANY: Final = decoder(Any)


_ONE: Final = "/v3/webhooks/{webhook_id}"


def _fields(
    endpoint_url: str | None,
    display_name: str | None,
    event_types: Sequence[str] | None,
    event_filters: Mapping[str, Sequence[str]] | None,
    retry_count: int | None,
    timeout_seconds: int | None,
) -> dict[str, object]:
    if endpoint_url is not None and (
        not isinstance(endpoint_url, str) or not endpoint_url.startswith(("https://", "http://"))
    ):
        raise ValueError("endpoint_url must be an http(s) URL")
    if isinstance(event_types, str):
        event_types = [event_types]
    return {
        "endpoint_url": endpoint_url,
        "display_name": display_name,
        "event_types": None if event_types is None else list(event_types),
        "event_filters": None
        if event_filters is None
        else {k: list(v) for k, v in event_filters.items()},
        "retry_count": None
        if retry_count is None
        else check_positive_int("retry_count", retry_count),
        "timeout_seconds": None
        if timeout_seconds is None
        else check_positive_int("timeout_seconds", timeout_seconds),
    }


class Webhooks(Resource):
    """``client.webhooks``: create and manage the endpoints Sent pushes events to."""

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
        fields = _fields(
            endpoint_url, display_name, event_types, event_filters, retry_count, timeout_seconds
        )
        return await self._call(
            "POST", "/v3/webhooks", _WEBHOOK, options, body=fields, idempotency_key=idempotency_key
        )

    async def retrieve(self, webhook_id: str, **options: Unpack[RequestOptions]) -> Webhook:
        """Fetch one endpoint (``GET /v3/webhooks/{id}``)."""
        return await self._call("GET", self._path(_ONE, webhook_id=webhook_id), _WEBHOOK, options)

    async def list_page(
        self, *, page: int = 1, page_size: int | None = None, **options: Unpack[RequestOptions]
    ) -> WebhookPage:
        """Fetch one page of endpoints (``GET /v3/webhooks``)."""
        params = page_params(page, page_size)
        return await self._call("GET", "/v3/webhooks", _PAGE, options, params=params)

    def list(
        self, *, page_size: int | None = None, **options: Unpack[RequestOptions]
    ) -> AsyncPager[Webhook, WebhookPage]:
        """Yield every endpoint, one page at a time as the caller consumes them."""
        page_params(1, page_size)  # refuse bad arguments before a request

        def fetch(page: int) -> Awaitable[WebhookPage]:
            return self.list_page(page=page, page_size=page_size, **options)

        return AsyncPager(fetch, _webhooks_of)

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
        fields = _fields(
            endpoint_url, display_name, event_types, event_filters, retry_count, timeout_seconds
        )
        path = self._path(_ONE, webhook_id=webhook_id)
        return await self._call(
            "PUT", path, _WEBHOOK, options, body=fields, idempotency_key=idempotency_key
        )

    async def delete(self, webhook_id: str, **options: Unpack[RequestOptions]) -> None:
        """Remove an endpoint (``DELETE /v3/webhooks/{id}``)."""
        await self._call("DELETE", self._path(_ONE, webhook_id=webhook_id), None, options)

    async def _action(
        self,
        method: str,
        webhook_id: str,
        action: str,
        kind: Any,
        idempotency_key: str | None,
        options: RequestOptions,
    ) -> Any:
        path = self._path(_ONE + action, webhook_id=webhook_id)
        return await self._call(method, path, kind, options, idempotency_key=idempotency_key)

    async def rotate_secret(
        self,
        webhook_id: str,
        *,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Webhook:
        """Issue a new signing secret (``POST .../rotate-secret``); the old one stops at once."""
        result: Webhook = await self._action(
            "POST", webhook_id, "/rotate-secret", _WEBHOOK, idempotency_key, options
        )
        return result

    async def test(
        self,
        webhook_id: str,
        *,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Any:
        """Ask Sent to deliver a test event to the endpoint (``POST .../test``)."""
        return await self._action("POST", webhook_id, "/test", _ANY, idempotency_key, options)

    async def toggle_status(
        self,
        webhook_id: str,
        *,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Webhook:
        """Switch an endpoint between active and inactive (``PATCH .../toggle-status``)."""
        result: Webhook = await self._action(
            "PATCH", webhook_id, "/toggle-status", _WEBHOOK, idempotency_key, options
        )
        return result

    async def list_events(
        self,
        webhook_id: str,
        *,
        page: int = 1,
        page_size: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> WebhookDeliveryPage:
        """Fetch one page of the endpoint's delivery log (``GET .../events``)."""
        path = self._path(_ONE + "/events", webhook_id=webhook_id)
        params = page_params(page, page_size)
        return await self._call("GET", path, _DELIVERIES, options, params=params)

    async def list_event_types(self, **options: Unpack[RequestOptions]) -> builtins.list[EventType]:
        """The event families Sent can push (``GET /v3/webhooks/event-types``)."""
        result = await self._call("GET", "/v3/webhooks/event-types", _EVENT_TYPES, options)
        return result.event_types


def _webhooks_of(page: WebhookPage) -> builtins.list[Webhook]:
    return page.webhooks
