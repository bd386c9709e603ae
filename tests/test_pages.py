"""Paged lists end against servers that clamp, repeat or ignore ``page`` (a real local socket)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sentdm_async import APIResponseValidationError, AsyncPager, AsyncSent, Pagination

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

PAGES = 3
PAGE_SIZE = 2
MAX_ASKS = 20


class PagedServer:
    """A contacts and webhooks API of ``PAGES`` pages that answers an out-of-range page badly.

    ``mode`` says how: ``clamp`` sends the last page again, with its real page number and no
    ``has_more``; ``bare`` clamps too but sends no pagination at all; ``total`` sends only
    ``total_pages``; ``ignore`` always answers page 1 (as page 1).
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.asked: list[int] = []

    def page_of(self, asked: int) -> tuple[int, dict[str, Any] | None]:
        """The page number served for ``asked`` and its pagination object (None: none sent)."""
        served = 1 if self.mode == "ignore" else min(asked, PAGES)
        pagination: dict[str, Any] = {"page": served, "page_size": PAGE_SIZE}
        if self.mode == "total":
            pagination["total_pages"] = PAGES
        return served, None if self.mode == "bare" else pagination

    async def handle(self, request: web.Request) -> web.Response:
        """Answer ``GET /v3/contacts`` or ``GET /v3/webhooks``."""
        asked = int(request.query["page"])
        self.asked.append(asked)
        if len(self.asked) > MAX_ASKS:  # a pager that never stops fails here instead of hanging
            return web.json_response({"success": False, "data": None}, status=400)
        served, pagination = self.page_of(asked)
        numbers = range((served - 1) * PAGE_SIZE, served * PAGE_SIZE)
        if request.path == "/v3/contacts":
            data: dict[str, Any] = {"contacts": [{"id": f"c{n}"} for n in numbers]}
        else:
            data = {
                "webhooks": [{"id": f"c{n}", "endpoint_url": "https://x.test/h"} for n in numbers]
            }
        if pagination is not None:
            data["pagination"] = pagination
        body = {"success": True, "data": data, "error": None, "meta": None}
        return web.json_response(body, dumps=json.dumps)


@pytest.fixture(params=["clamp", "bare", "total", "ignore"])
async def paged(request: pytest.FixtureRequest) -> AsyncIterator[tuple[PagedServer, AsyncSent]]:
    """A `PagedServer` in each mode on 127.0.0.1, and a client of it."""
    server = PagedServer(request.param)
    app = web.Application()
    app.router.add_get("/v3/contacts", server.handle)
    app.router.add_get("/v3/webhooks", server.handle)
    async with (
        TestServer(app, host="127.0.0.1") as test_server,
        AsyncSent(
            api_key="sk_test_pages", base_url=str(test_server.make_url("")), rate_limit=None
        ) as client,
    ):
        yield server, client


def _contacts(client: AsyncSent) -> AsyncPager[Any, Any]:
    return client.contacts.list(page_size=PAGE_SIZE)


def _webhooks(client: AsyncSent) -> AsyncPager[Any, Any]:
    return client.webhooks.list(page_size=PAGE_SIZE)


@pytest.mark.parametrize("listing", [_contacts, _webhooks], ids=["contacts", "webhooks"])
async def test_list_ends_on_a_repeated_page(
    paged: tuple[PagedServer, AsyncSent],
    listing: Callable[[AsyncSent], AsyncPager[Any, Any]],
) -> None:
    """Every item once, then the list ends: at total_pages, or at the first repeated page."""
    server, client = paged
    ids = [item.id async for item in listing(client)]
    if server.mode == "ignore":
        assert ids == ["c0", "c1"]
        assert server.asked == [1, 2]
    else:
        assert ids == [f"c{n}" for n in range(PAGES * PAGE_SIZE)]
        # total_pages ends at the last page; without it, one more request sees the repeat.
        assert server.asked == list(range(1, PAGES + (1 if server.mode == "total" else 2)))


class _Page:
    def __init__(self, number: int) -> None:
        self.items = [number]
        self.pagination = Pagination(page=number, page_size=1)


async def test_distinct_pages_forever_hit_the_bound() -> None:
    """A server that never repeats and never ends is cut at max_pages with a clear error."""
    asked: list[int] = []

    async def fetch(page: int) -> _Page:
        asked.append(page)
        return _Page(page)

    items = aiter(AsyncPager(fetch, lambda p: p.items, max_pages=5))
    assert [await anext(items) for _ in range(5)] == [1, 2, 3, 4, 5]
    with pytest.raises(APIResponseValidationError, match="after 5 pages"):
        await anext(items)
    assert asked == [1, 2, 3, 4, 5]


async def test_pager_pages_yields_page_models(paged: tuple[PagedServer, AsyncSent]) -> None:
    """``pages()`` yields the page models, whose items are exactly what the pager yields."""
    server, client = paged
    pages = [page async for page in client.contacts.list(page_size=PAGE_SIZE).pages()]
    ids = [contact.id for page in pages for contact in page.items]
    if server.mode == "ignore":
        assert ids == ["c0", "c1"]
    else:
        assert ids == [f"c{n}" for n in range(PAGES * PAGE_SIZE)]
        assert len(pages) == PAGES


async def test_pager_aclose_stops_fetching(paged: tuple[PagedServer, AsyncSent]) -> None:
    """Closing a pager after its first item fetches no further page."""
    server, client = paged
    pager = client.contacts.list(page_size=PAGE_SIZE)
    async with pager:
        async for _ in pager:
            break
    await pager.aclose()
    assert server.asked == [1]
