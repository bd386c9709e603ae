"""Contact endpoints: one page, or every page lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Unpack

from sentdm_async._checks import check_positive_int
from sentdm_async._pages import pages
from sentdm_async._time import json_decoder
from sentdm_async._wire import Envelope
from sentdm_async.models import Contact, ContactPage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable

    from sentdm_async._options import RequestOptions
    from sentdm_async._transport import Transport

__all__ = ["Contacts"]

_PAGE: Final = json_decoder(Envelope[ContactPage])
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
    return page.contacts


class Contacts:
    """``client.contacts``: the account's contacts."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

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
        return await self._transport.request(
            "GET", "/v3/contacts", _PAGE, params=params, options=options
        )

    async def list(
        self,
        *,
        page_size: int | None = None,
        search: str | None = None,
        channel: str | None = None,
        phone: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncIterator[Contact]:
        """Yield every contact, fetching one page at a time as the caller consumes them.

        Stops when the API says ``has_more: false``, a page comes back empty, the last of
        ``total_pages`` was read, or a page repeats (see `sentdm_async._pages`). Arguments are
        validated at the first iteration, before any request.

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

        async for contact in pages(fetch, _contacts_of):
            yield contact
