"""The one request helper every resource class is a thin layer on.

A resource method checks its arguments, names its path and body, and calls `Resource._call`:
the shared transport then applies the budget, retries, error mapping and decoding. Mutating
calls (POST, PUT, PATCH) always carry an ``Idempotency-Key`` (the caller's, or a generated
one), the same on every retry, so a retried create never creates twice. ``DELETE`` carries
none: the API documents the header for POST/PUT/PATCH only, and a repeated delete is harmless.

Paged lists return one `AsyncPager`; bodies are encoded by one `encode_body`; envelope decoders
are built by one `decoder`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, Self, TypeVar

import msgspec

from sentdm_async._core.checks import check_idempotency_key, check_positive_int
from sentdm_async._core.ids import FilledPath, fill
from sentdm_async._http.wire import Envelope
from sentdm_async.errors import APIResponseValidationError
from sentdm_async.types._decode import json_decoder

if TYPE_CHECKING:
    from sentdm_async._http.options import RequestOptions
    from sentdm_async._http.transport import Transport
    from sentdm_async.types.shared import Pagination

__all__ = [
    "MAX_PAGES",
    "AsyncPager",
    "Resource",
    "body_fields",
    "decoder",
    "encode_body",
    "mapping_arg",
    "page_params",
]

T = TypeVar("T")


_MUTATING: Final = frozenset({"POST", "PUT", "PATCH"})


_ENCODER: Final = msgspec.json.Encoder()


def decoder(model: type[T]) -> msgspec.json.Decoder[Envelope[T]]:
    """Return a decoder of an envelope whose ``data`` is a ``model`` (build one per type, once)."""
    return json_decoder(Envelope[model])  # type: ignore[valid-type]


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes must be timezone-aware (the API requires an offset)")
        return value.isoformat()
    return value


def encode_body(fields: Mapping[str, object] | msgspec.Struct) -> bytes:
    """Encode a JSON body, leaving out ``None`` values (an omitted key is left alone by the API).

    A mapping loses its ``None`` values; a Struct (declared with ``omit_defaults=True``) is
    encoded as it is, its checks having run in ``__post_init__``.

    Raises:
        TypeError: A value that is not JSON-serialisable.
        ValueError: A naive datetime.
    """
    body: object = fields
    if not isinstance(fields, msgspec.Struct):
        body = {key: _jsonable(value) for key, value in fields.items() if value is not None}
    try:
        return _ENCODER.encode(body)
    except (TypeError, msgspec.EncodeError) as exc:
        raise TypeError(f"request body is not JSON-serialisable: {exc}") from None


def page_params(page: int, page_size: int | None, **filters: object) -> dict[str, str]:
    """Return the query of a paged list: ``page`` (1-indexed), ``page_size``, string filters.

    ``None`` filters are left out; a ``datetime`` must be aware and is sent as ISO 8601; a bool
    goes out as ``true``/``false``, as the SDK sends it.

    Raises:
        TypeError: A filter that is not a str, bool or datetime (or ``page``/``page_size`` not
            an int).
        ValueError: ``page``/``page_size`` below 1, or a naive datetime.
    """
    params = {"page": str(check_positive_int("page", page))}
    if page_size is not None:
        params["page_size"] = str(check_positive_int("page_size", page_size))
    for name, value in filters.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            params[name] = str(_jsonable(value))
        elif isinstance(value, bool):
            params[name] = "true" if value else "false"
        elif isinstance(value, str):
            params[name] = value
        else:
            raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    return params


class Resource:
    """Base of the resource classes: one transport, one ``_call``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    @staticmethod
    def _path(template: str, **ids: object) -> str:
        """Fill ``template``'s ``{name}`` fields with checked, quoted ids.

        The result remembers ``template`` (a `FilledPath`): `_call` sends it along, so hooks,
        spans and logs name the endpoint without the ids.

        Raises:
            TypeError: An id is not a str.
            InvalidIdError: An id is empty, too long or malformed.
        """
        return fill(template, **ids)

    async def _call(
        self,
        method: str,
        path: str,
        decoder: msgspec.json.Decoder[Envelope[T]] | None,
        options: RequestOptions,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, object] | msgspec.Struct | None = None,
        idempotency_key: str | None = None,
    ) -> T:
        """Make one call through the shared transport and return the decoded ``data``.

        Args:
            method: HTTP method; POST/PUT/PATCH get an ``Idempotency-Key``.
            path: Path below the base URL, built with `_path` (a path without ids is its own
                template).
            decoder: Decoder of the expected envelope; ``None`` for an answer without a body.
            options: The caller's per-call `RequestOptions`.
            params: Query parameters.
            body: JSON fields (``None`` values left out); ``None`` sends no body.
            idempotency_key: The caller's key (generated when ``None`` on a mutating call).
        """
        key = None
        if method in _MUTATING:
            key = check_idempotency_key(idempotency_key)
        elif idempotency_key is not None:  # pragma: no cover - a programming error in a resource
            raise ValueError(f"{method} takes no idempotency_key")
        encoded = None if body is None else encode_body(body)
        template = path.template if isinstance(path, FilledPath) else None
        return await self._transport.request(
            method,
            path,
            decoder,
            params=params,
            body=encoded,
            idempotency_key=key,
            options=options,
            template=template,
        )


#: Pages one ``list()`` reads at most (100 per page is 10 million items): a bound against a
#: server that sends distinct pages forever, far above any real account.
MAX_PAGES: Final = 100_000


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


class AsyncPager(Generic[T, P]):
    """The lazy list of a paged endpoint: every item of every page, one request per page.

    ``async for item in pager`` yields the items; ``pager.pages()`` yields the page models
    (with ``pagination``). Page ``n + 1`` is fetched only once page ``n`` is consumed. Leaving a
    loop early leaves the rest unfetched; ``await pager.aclose()`` (or ``async with pager``)
    closes a loop at once. Reading stops at the last page by ``pagination``, at an empty page,
    at a page number the server already gave or a batch equal to the previous one, and raises
    `APIResponseValidationError` after ``max_pages`` pages.
    """

    def __init__(
        self,
        fetch: Callable[[int], Awaitable[P]],
        items: Callable[[P], Sequence[T]],
        *,
        first: int = 1,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self._fetch = fetch
        self._items = items
        self._first = first
        self._max_pages = max_pages
        self._walk: AsyncGenerator[T, None] | None = None

    async def pages(self) -> AsyncGenerator[P, None]:
        """Yield each page model in turn (see the class docstring for where it stops)."""
        seen: set[int] = set()
        previous: Sequence[T] | None = None
        for number in range(self._first, self._first + self._max_pages):
            page = await self._fetch(number)
            batch = self._items(page)
            pagination = page.pagination
            if pagination is not None:
                if pagination.page in seen:
                    return  # the server answered a page it already gave: past the end
                seen.add(pagination.page)
            if not batch or (previous is not None and list(batch) == list(previous)):
                return
            yield page
            if _is_last(pagination):
                return
            previous = batch
        raise APIResponseValidationError(
            f"a paged list still had more after {self._max_pages} pages; stopped rather than "
            "loop forever",
            status_code=200,
        )

    async def _items_of_pages(self) -> AsyncGenerator[T, None]:
        async with aclosing(self.pages()) as pages:
            async for page in pages:
                for item in self._items(page):
                    yield item

    def __aiter__(self) -> AsyncGenerator[T, None]:
        if self._walk is None:
            self._walk = self._items_of_pages()
        return self._walk

    async def aclose(self) -> None:
        """Stop the item loop (if one started): no further page is fetched."""
        if self._walk is not None:
            await self._walk.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def mapping_arg(name: str, value: object) -> dict[str, Any] | None:
    """Return ``value`` as a dict (``None`` stays ``None``).

    Raises:
        TypeError: Not a mapping.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping, got {type(value).__name__}")
    return dict(value)


def body_fields(extra: Mapping[str, object] | None, **fields: object) -> dict[str, object]:
    """Return ``extra`` (unchanged) with ``fields`` set over it, ``None`` values left out.

    Raises:
        TypeError: ``extra`` is not a mapping.
    """
    if extra is not None and not isinstance(extra, Mapping):
        raise TypeError(f"extra_fields must be a mapping, got {type(extra).__name__}")
    return {**(extra or {}), **{k: v for k, v in fields.items() if v is not None}}
