"""The one request helper every resource class is a thin layer on.

A resource method checks its arguments, names its path and body, and calls `Resource._call`:
the shared transport then applies the budget, retries, error mapping and decoding. Mutating
calls (POST, PUT, PATCH) always carry an ``Idempotency-Key`` (the caller's, or a generated
one), the same on every retry, so a retried create never creates twice. ``DELETE`` carries
none: the API documents the header for POST/PUT/PATCH only, and a repeated delete is harmless.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Final, TypeVar

import msgspec

from sentdm_async._checks import check_positive_int
from sentdm_async._ids import segment
from sentdm_async._messages import check_idempotency_key
from sentdm_async._time import json_decoder
from sentdm_async._wire import Envelope

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sentdm_async._options import RequestOptions
    from sentdm_async._transport import Transport

__all__ = ["Resource", "decoder", "page_params"]

T = TypeVar("T")

_MUTATING: Final = frozenset({"POST", "PUT", "PATCH"})
_ENCODER: Final = msgspec.json.Encoder()


def decoder(kind: type[T]) -> msgspec.json.Decoder[Envelope[T]]:
    """Return a decoder of an envelope whose ``data`` is a ``kind`` (build one per type, once)."""
    return json_decoder(Envelope[kind])  # type: ignore[valid-type]


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes must be timezone-aware (the API requires an offset)")
        return value.isoformat()
    return value


def encode_body(fields: Mapping[str, object]) -> bytes:
    """Encode a JSON body, leaving out ``None`` values (an omitted key is left alone by the API).

    Raises:
        TypeError: A value that is not JSON-serialisable.
        ValueError: A naive datetime.
    """
    body = {key: _jsonable(value) for key, value in fields.items() if value is not None}
    try:
        return _ENCODER.encode(body)
    except (TypeError, msgspec.EncodeError) as exc:
        raise TypeError(f"request body is not JSON-serialisable: {exc}") from None


def page_params(page: int, page_size: int | None, **filters: object) -> dict[str, str]:
    """Return the query of a paged list: ``page`` (1-indexed), ``page_size``, string filters.

    ``None`` filters are left out; a ``datetime`` must be aware and is sent as ISO 8601.

    Raises:
        TypeError: A filter that is not a str, int or datetime (or ``page``/``page_size`` not
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

        Raises:
            TypeError: An id is not a str.
            InvalidIdError: An id is empty, too long or malformed.
        """
        return template.format(**{name: segment(value, name) for name, value in ids.items()})

    async def _call(
        self,
        method: str,
        path: str,
        kind: msgspec.json.Decoder[Envelope[T]] | None,
        options: RequestOptions,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, object] | None = None,
        idempotency_key: str | None = None,
    ) -> T:
        """Make one call through the shared transport and return the decoded ``data``.

        Args:
            method: HTTP method; POST/PUT/PATCH get an ``Idempotency-Key``.
            path: Path below the base URL, built with `_path`.
            kind: Decoder of the expected envelope; ``None`` for an answer without a body.
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
        return await self._transport.request(
            method, path, kind, params=params, body=encoded, idempotency_key=key, options=options
        )
