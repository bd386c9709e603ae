"""One lazy pager for every paged list (``page`` is 1-indexed, like ``contacts.list``).

Every ``list`` method of a paged endpoint is ``async for item in pages(fetch, items)``; its
``*_page`` twin is one ``fetch``. The rule is the official SDK's: ask for the next page until
the API says ``has_more: false`` or a page comes back empty (a missing ``has_more`` keeps going,
so a server that never sends it still ends at the first empty page).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

    from .models import Pagination

__all__ = ["Paged", "pages"]

T = TypeVar("T")
P = TypeVar("P", bound="Paged")


class Paged(Protocol):
    """A page model: its items under some name, and ``pagination``."""

    @property
    def pagination(self) -> Pagination | None:
        """Paging information (``has_more`` decides whether to go on)."""


async def pages(
    fetch: Callable[[int], Awaitable[P]],
    items: Callable[[P], Sequence[T]],
    *,
    first: int = 1,
) -> AsyncIterator[T]:
    """Yield every item of every page, fetching page ``n + 1`` only once page ``n`` is consumed.

    Args:
        fetch: Returns page ``n`` (1-indexed); its arguments were checked by the caller.
        items: Picks a page's items.
        first: The page to start at.
    """
    page = first
    while True:
        result = await fetch(page)
        batch = items(result)
        for item in batch:
            yield item
        pagination = result.pagination
        more = pagination.has_more if pagination is not None else None
        if not batch or more is False:
            return
        page += 1
