"""``client.conversations``: the messages of a conversation (one page, or every page lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Unpack

from sentdm_async.resources._base import AsyncPager, Resource, decoder, page_params
from sentdm_async.resources.messages import messages_of
from sentdm_async.types.messages import Message, MessagePage

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from sentdm_async._http.options import RequestOptions

__all__ = ["Conversations"]

_MESSAGES: Final = decoder(MessagePage)


class Conversations(Resource):
    """``client.conversations``: messages across conversations, or of one conversation."""

    async def list_page(
        self, *, page: int = 1, page_size: int | None = None, **options: Unpack[RequestOptions]
    ) -> MessagePage:
        """One page of the account's messages across conversations, most recent first.

        ``GET /v3/conversations`` (the official SDK's ``conversations.list``).
        """
        params = page_params(page, page_size)
        return await self._call("GET", "/v3/conversations", _MESSAGES, options, params=params)

    def list(
        self, *, page_size: int | None = None, **options: Unpack[RequestOptions]
    ) -> AsyncPager[Message, MessagePage]:
        """Yield every message across conversations, one page fetched at a time."""
        page_params(1, page_size)  # check before the first request

        def fetch(page: int) -> Awaitable[MessagePage]:
            return self.list_page(page=page, page_size=page_size, **options)

        return AsyncPager(fetch, messages_of)

    async def list_messages_page(
        self,
        id: str,
        *,
        page: int = 1,
        page_size: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> MessagePage:
        """One page of one conversation's messages (``GET /v3/conversations/{id}``)."""
        path = self._path("/v3/conversations/{id}", id=id)
        params = page_params(page, page_size)
        return await self._call("GET", path, _MESSAGES, options, params=params)

    def list_messages(
        self,
        id: str,
        *,
        page_size: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncPager[Message, MessagePage]:
        """Yield every message of one conversation, most recent first, page by page."""
        self._path("{id}", id=id)  # refuse a bad id or page size before the first request
        page_params(1, page_size)

        def fetch(page: int) -> Awaitable[MessagePage]:
            return self.list_messages_page(id, page=page, page_size=page_size, **options)

        return AsyncPager(fetch, messages_of)
