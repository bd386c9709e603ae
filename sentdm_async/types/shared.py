"""What several families share: pagination and the field checks of decoded results."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import msgspec

if TYPE_CHECKING:
    from decimal import Decimal

__all__ = ["Pagination", "PaginationCursors"]

T = TypeVar("T")


def _check_finite(*prices: Decimal | None) -> None:
    """Refuse ``NaN``/``sNaN``/``Infinity`` prices: they would break the caller's ``sum()``.

    msgspec has no range constraint for Decimal, so this runs in ``__post_init__`` (a
    `ValueError` there becomes a `msgspec.ValidationError` of the whole body).
    """
    for price in prices:
        if price is not None and not price.is_finite():
            raise ValueError(f"price must be a finite decimal, got {price}")


class PaginationCursors(msgspec.Struct, frozen=True, kw_only=True):
    """Cursors of a list response (the API documents them as never filled yet)."""

    after: str | None = None
    before: str | None = None


class Pagination(msgspec.Struct, frozen=True, kw_only=True):
    """Paging information of a list response (``page`` is 1-indexed)."""

    page: int
    page_size: int
    total_count: int | None = None
    total_pages: int | None = None
    has_more: bool | None = None
    cursors: PaginationCursors | None = None
