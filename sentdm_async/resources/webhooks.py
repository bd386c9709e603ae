"""``client.webhooks``: the webhook management endpoints, under the official SDK's names.

Every call goes through the client's one transport (budget, retries, error mapping); mutating
calls carry an ``Idempotency-Key``. Paths follow API_NOTES §4.4; ``toggle-status`` and ``test``
could not be confirmed against Sent's reference and follow the SDK's method names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Unpack

from sentdm_async._core.checks import check_positive_int
from sentdm_async.resources._base import (
    AsyncPager,
    Resource,
    decoder,
    mapping_arg,
    page_params,
)
from sentdm_async.types.webhooks import (
    EventTypeList,
    Webhook,
    WebhookDeliveryPage,
    WebhookPage,
    WebhookSecret,
    WebhookTestResult,
)

if TYPE_CHECKING:
    import builtins
    from collections.abc import Awaitable, Mapping, Sequence

    from sentdm_async._http.options import RequestOptions

__all__ = ["Webhooks"]

_WEBHOOK: Final = decoder(Webhook)


_PAGE: Final = decoder(WebhookPage)


_DELIVERIES: Final = decoder(WebhookDeliveryPage)


_EVENT_TYPES: Final = decoder(EventTypeList)


_SECRET: Final = decoder(WebhookSecret)


_TEST: Final = decoder(WebhookTestResult)


_ONE: Final = "/v3/webhooks/{webhook_id}"


def _url(endpoint_url: str | None) -> str | None:
    if endpoint_url is not None and (
        not isinstance(endpoint_url, str) or not endpoint_url.startswith(("https://", "http://"))
    ):
        raise ValueError("endpoint_url must be an http(s) URL")
    return endpoint_url


def _count(name: str, value: int | None) -> int | None:
    return None if value is None else check_positive_int(name, value)


def _filters(event_filters: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]] | None:
    return None if event_filters is None else {k: list(v) for k, v in event_filters.items()}


def _fields(
    endpoint_url: str | None,
    display_name: str | None,
    event_types: Sequence[str] | None,
    event_filters: Mapping[str, Sequence[str]] | None,
    retry_count: int | None,
    timeout_seconds: int | None,
    sandbox: bool | None,
    sender_profile: Mapping[str, Any] | None,
) -> dict[str, object]:
    if isinstance(event_types, str):
        event_types = [event_types]
    return {
        "display_name": display_name,
        "endpoint_url": _url(endpoint_url),
        "event_filters": _filters(event_filters),
        "event_types": None if event_types is None else list(event_types),
        "retry_count": _count("retry_count", retry_count),
        "sandbox": sandbox,
        "sender_profile": mapping_arg("sender_profile", sender_profile),
        "timeout_seconds": _count("timeout_seconds", timeout_seconds),
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
        sandbox: bool | None = None,
        sender_profile: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Webhook:
        """Register an endpoint (``POST /v3/webhooks``); the answer carries its ``signing_secret``.

        Args:
            endpoint_url: Where Sent POSTs the events (http(s)).
            display_name: A name for the endpoint.
            event_types: Event families to receive (``message``, ``template``...).
            event_filters: Per family, the events to keep (``{"message": ["delivered"]}``).
            retry_count: Delivery attempts (1-5).
            timeout_seconds: Per delivery attempt (5-120).
            sandbox: Validate only; nothing is written.
            sender_profile: The events of the profiles under an organization
                (``{"event_types": [...], "event_filters": {...}}``), sent as given.
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            **options: Per-call `RequestOptions`.

        Raises:
            ValueError: An endpoint_url that is not http(s), or a bad number or key.
            SentError: The API refused it (e.g. `BadRequestError` with field ``details``).
        """
        fields = _fields(
            endpoint_url,
            display_name,
            event_types,
            event_filters,
            retry_count,
            timeout_seconds,
            sandbox,
            sender_profile,
        )
        return await self._call(
            "POST", "/v3/webhooks", _WEBHOOK, options, body=fields, idempotency_key=idempotency_key
        )

    async def retrieve(self, webhook_id: str, **options: Unpack[RequestOptions]) -> Webhook:
        """Fetch one endpoint (``GET /v3/webhooks/{id}``)."""
        return await self._call("GET", self._path(_ONE, webhook_id=webhook_id), _WEBHOOK, options)

    async def list_page(
        self,
        *,
        page: int = 1,
        page_size: int | None = None,
        is_active: bool | None = None,
        search: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> WebhookPage:
        """Fetch one page of endpoints (``GET /v3/webhooks``), optionally filtered.

        Args:
            page: 1-indexed page number.
            page_size: Endpoints per page (``None``: the API's default).
            is_active: Only active (``True``) or inactive (``False``) endpoints.
            search: Text the endpoint's name or URL contains.
            **options: Per-call `RequestOptions`.
        """
        params = page_params(page, page_size, is_active=is_active, search=search)
        return await self._call("GET", "/v3/webhooks", _PAGE, options, params=params)

    def list(
        self,
        *,
        page_size: int | None = None,
        is_active: bool | None = None,
        search: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncPager[Webhook, WebhookPage]:
        """Yield every endpoint matching the filters, one page at a time as consumed."""
        page_params(1, page_size, is_active=is_active, search=search)  # refuse bad arguments

        def fetch(page: int) -> Awaitable[WebhookPage]:
            return self.list_page(
                page=page, page_size=page_size, is_active=is_active, search=search, **options
            )

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
        sandbox: bool | None = None,
        sender_profile: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Webhook:
        """Change an endpoint (``PUT /v3/webhooks/{id}``); omitted fields stay as they are.

        The arguments are `create`'s.
        """
        fields = _fields(
            endpoint_url,
            display_name,
            event_types,
            event_filters,
            retry_count,
            timeout_seconds,
            sandbox,
            sender_profile,
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
        decoder: Any,
        body: Mapping[str, object],
        idempotency_key: str | None,
        options: RequestOptions,
    ) -> Any:
        path = self._path(_ONE + action, webhook_id=webhook_id)
        return await self._call(
            method, path, decoder, options, body=body, idempotency_key=idempotency_key
        )

    async def rotate_secret(
        self,
        webhook_id: str,
        *,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> WebhookSecret:
        """Issue a new signing secret (``POST .../rotate-secret``); the old one stops at once."""
        result: WebhookSecret = await self._action(
            "POST",
            webhook_id,
            "/rotate-secret",
            _SECRET,
            {"sandbox": sandbox},
            idempotency_key,
            options,
        )
        return result

    async def test(
        self,
        webhook_id: str,
        *,
        event_type: str | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> WebhookTestResult:
        """Ask Sent to deliver a test event to the endpoint (``POST .../test``).

        Args:
            webhook_id: The endpoint.
            event_type: The event to send, e.g. ``"message.delivered"`` (the API's default when
                omitted).
            sandbox: Validate only; nothing is delivered.
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            **options: Per-call `RequestOptions`.
        """
        body = {"event_type": event_type, "sandbox": sandbox}
        result: WebhookTestResult = await self._action(
            "POST", webhook_id, "/test", _TEST, body, idempotency_key, options
        )
        return result

    async def toggle_status(
        self,
        webhook_id: str,
        *,
        is_active: bool | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Webhook:
        """Turn an endpoint on or off (``PATCH .../toggle-status``).

        Args:
            webhook_id: The endpoint.
            is_active: ``True`` to turn it on, ``False`` off (the API flips it when omitted).
            sandbox: Validate only; nothing changes.
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            **options: Per-call `RequestOptions`.
        """
        body = {"is_active": is_active, "sandbox": sandbox}
        result: Webhook = await self._action(
            "PATCH", webhook_id, "/toggle-status", _WEBHOOK, body, idempotency_key, options
        )
        return result

    async def list_events(
        self,
        webhook_id: str,
        *,
        page: int = 1,
        page_size: int | None = None,
        search: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> WebhookDeliveryPage:
        """Fetch one page of the endpoint's delivery log (``GET .../events``).

        ``search``: text the delivered events contain.
        """
        path = self._path(_ONE + "/events", webhook_id=webhook_id)
        params = page_params(page, page_size, search=search)
        return await self._call("GET", path, _DELIVERIES, options, params=params)

    async def list_event_types(self, **options: Unpack[RequestOptions]) -> EventTypeList:
        """The event types Sent can push (``GET /v3/webhooks/event-types``)."""
        return await self._call("GET", "/v3/webhooks/event-types", _EVENT_TYPES, options)


def _webhooks_of(page: WebhookPage) -> builtins.list[Webhook]:
    return page.items
