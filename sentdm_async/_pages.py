"""One lazy pager for every paged list (``page`` is 1-indexed, like ``contacts.list``).

Every ``list`` method of a paged endpoint is ``async for item in pages(fetch, items)``; its
``*_page`` twin is one ``fetch``. The official SDK's rule is to ask for the next page until the
API says ``has_more: false`` or a page comes back empty. That rule alone never ends against an
API that clamps an out-of-range ``page`` to the last one without sending ``has_more``, so the
pager also stops when:

- ``pagination.total_pages`` says the page just read was the last one;
- the server answers a page number it already answered (``pagination.page``), or the same items
  as the page before (a server that ignores or clamps ``page`` and sends no pagination); the
  repeated page's items are not yielded again;
- `MAX_PAGES` pages were read: then it raises `APIResponseValidationError` rather than go on
  forever or end as if the list were complete.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Protocol, TypeVar

from sentdm_async.errors import APIResponseValidationError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

    from sentdm_async.models import Pagination

__all__ = ["MAX_PAGES", "Paged", "pages"]

#: Pages one ``list()`` reads at most (100 per page is 10 million items): a bound against a
#: server that sends distinct pages forever, far above any real account.
MAX_PAGES: Final = 100_000

T = TypeVar("T")
P = TypeVar("P", bound="Paged")


class Paged(Protocol):
    """A page model: its items under some name, and ``pagination``."""

    @property
    def pagination(self) -> Pagination | None:
        """Paging information (``has_more`` decides whether to go on)."""


def _is_last(pagination: Pagination | None) -> bool:
    """Whether ``pagination`` says no page follows this one."""
    if pagination is None:
        return False
    total = pagination.total_pages
    return pagination.has_more is False or (total is not None and pagination.page >= total)


async def pages(
    fetch: Callable[[int], Awaitable[P]],
    items: Callable[[P], Sequence[T]],
    *,
    first: int = 1,
    max_pages: int = MAX_PAGES,
) -> AsyncIterator[T]:
    """Yield every item of every page, fetching page ``n + 1`` only once page ``n`` is consumed.

    Args:
        fetch: Returns page ``n`` (1-indexed); its arguments were checked by the caller.
        items: Picks a page's items.
        first: The page to start at.
        max_pages: Pages read at most before `APIResponseValidationError` is raised.

    Raises:
        APIResponseValidationError: More than ``max_pages`` pages, each new.
    """
    seen: set[int] = set()
    previous: Sequence[T] | None = None
    for page in range(first, first + max_pages):
        result = await fetch(page)
        batch = items(result)
        pagination = result.pagination
        if pagination is not None:
            if pagination.page in seen:
                return  # the server answered a page it already gave: past the end
            seen.add(pagination.page)
        if not batch or (previous is not None and list(batch) == list(previous)):
            return
        for item in batch:
            yield item
        if _is_last(pagination):
            return
        previous = batch
    raise APIResponseValidationError(
        f"a paged list still had more after {max_pages} pages; stopped rather than loop forever",
        status_code=200,
    )
