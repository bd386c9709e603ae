"""``client.contacts``: list (one page, or every page lazily) and create/retrieve/update/delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Unpack

from sentdm_async._core.checks import check_positive_int
from sentdm_async.resources._base import AsyncPager, Resource, decoder
from sentdm_async.types.contacts import Contact, ContactMessageSummary, ContactPage

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from sentdm_async._http.options import RequestOptions

__all__ = ["Contacts"]

_PAGE: Final = decoder(ContactPage)
_CONTACT: Final = decoder(Contact)


_SUMMARY: Final = decoder(ContactMessageSummary)


_CHANNELS: Final = frozenset({"sms", "whatsapp"})


def _filters(
    search: str | None, channel: str | None, phone: str | None, page_size: int | None
) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in (("search", search), ("phone", phone)):
        if value is not None:
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a str, got {type(value).__name__}")
            params[name] = value
    if channel is not None:
        if channel not in _CHANNELS:
            raise ValueError(f"channel must be one of {sorted(_CHANNELS)}, got {channel!r}")
        params["channel"] = channel
    if page_size is not None:
        params["page_size"] = str(check_positive_int("page_size", page_size))
    return params


def _contacts_of(page: ContactPage) -> list[Contact]:
    return page.items


class Contacts(Resource):
    """``client.contacts``: list (lazy), one page, and create/retrieve/update/delete."""

    async def list_page(
        self,
        *,
        page: int = 1,
        page_size: int | None = None,
        search: str | None = None,
        channel: str | None = None,
        phone: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> ContactPage:
        """Fetch one page of contacts (``GET /v3/contacts``).

        Args:
            page: 1-indexed page number.
            page_size: Contacts per page (``None``: the API's default).
            search: Free-text filter.
            channel: ``"sms"`` or ``"whatsapp"``.
            phone: Filter by phone number.
            **options: Per-call `RequestOptions`.

        Raises:
            ValueError: ``page`` or ``page_size`` below 1, or an unknown channel.
            SentError: The API or the connection failed.
        """
        params = _filters(search, channel, phone, page_size)
        params["page"] = str(check_positive_int("page", page))
        return await self._call("GET", "/v3/contacts", _PAGE, options, params=params)

    def list(
        self,
        *,
        page_size: int | None = None,
        search: str | None = None,
        channel: str | None = None,
        phone: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncPager[Contact, ContactPage]:
        """Yield every contact, fetching one page at a time as the caller consumes them.

        Stops when the API says ``has_more: false``, a page comes back empty, the last of
        ``total_pages`` was read, or a page repeats (see `AsyncPager`). Arguments are checked here,
        before any request.

        Args:
            page_size: Contacts per request (``None``: the API's default).
            search: Free-text filter.
            channel: ``"sms"`` or ``"whatsapp"``.
            phone: Filter by phone number.
            **options: Per-call `RequestOptions`.
        """
        _filters(search, channel, phone, page_size)  # refuse bad arguments before a request

        def fetch(page: int) -> Awaitable[ContactPage]:
            return self.list_page(
                page=page,
                page_size=page_size,
                search=search,
                channel=channel,
                phone=phone,
                **options,
            )

        return AsyncPager(fetch, _contacts_of)

    async def create(
        self,
        *,
        phone_number: str,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Contact:
        """Create a contact from a phone number (``POST /v3/contacts``).

        Args:
            phone_number: The number, E.164 preferred (the API normalises it).
            sandbox: Validate only; nothing is written.
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            **options: Per-call `RequestOptions`.

        Raises:
            TypeError: ``phone_number`` is not a str.
            SentError: The API refused (e.g. 400 ``VALIDATION_002`` for a malformed number).
        """
        if not isinstance(phone_number, str):
            raise TypeError(f"phone_number must be a str, got {type(phone_number).__name__}")
        body = {"phone_number": phone_number, "sandbox": sandbox}
        return await self._call(
            "POST", "/v3/contacts", _CONTACT, options, body=body, idempotency_key=idempotency_key
        )

    async def retrieve(self, id: str, **options: Unpack[RequestOptions]) -> Contact:
        """Fetch one contact (``GET /v3/contacts/{id}``).

        Raises:
            NotFoundError: No such contact (``RESOURCE_001``).
            InvalidIdError: ``id`` is empty or malformed (before any request).
        """
        path = self._path("/v3/contacts/{id}", id=id)
        return await self._call("GET", path, _CONTACT, options)

    async def update(
        self,
        id: str,
        *,
        default_channel: str | None = None,
        opt_out: bool | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Contact:
        """Change a contact (``PATCH /v3/contacts/{id}``); omitted fields are left alone.

        Args:
            id: The contact id.
            default_channel: e.g. ``"sms"`` or ``"whatsapp"``.
            opt_out: Opt the contact out of (or back into) every channel.
            sandbox: Validate only; nothing is written.
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            **options: Per-call `RequestOptions`.
        """
        path = self._path("/v3/contacts/{id}", id=id)
        body = {"default_channel": default_channel, "opt_out": opt_out, "sandbox": sandbox}
        return await self._call(
            "PATCH", path, _CONTACT, options, body=body, idempotency_key=idempotency_key
        )

    async def delete(
        self,
        id: str,
        *,
        sandbox: bool | None = None,
        **options: Unpack[RequestOptions],
    ) -> None:
        """Delete a contact (``DELETE /v3/contacts/{id}``, answered with 204)."""
        path = self._path("/v3/contacts/{id}", id=id)
        await self._call("DELETE", path, None, options, body={"sandbox": sandbox})

    async def retrieve_message_summary(
        self,
        id: str,
        **options: Unpack[RequestOptions],
    ) -> ContactMessageSummary:
        """Counts, first/last message and per-channel scores of a contact.

        ``GET /v3/contacts/{id}/message-summary``.
        """
        path = self._path("/v3/contacts/{id}/message-summary", id=id)
        return await self._call("GET", path, _SUMMARY, options)
