"""The v3 response envelope, as read off the wire (private: callers get ``data`` or an error)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Envelope", "ErrorDetail", "ErrorEnvelope", "Meta", "error_details"]

T = TypeVar("T")


class ErrorDetail(msgspec.Struct, frozen=True, kw_only=True):
    """The ``error`` object of an envelope.

    ``details`` is documented as ``{field: [message, ...]}`` but is read as any JSON value: a
    server that sends a string or a list there must not cost the error its code, message and
    request id (and with them the retry of a ``CONFLICT_001``). `error_details` normalises it.
    """

    code: str | None = None
    message: str | None = None
    details: Any = None
    doc_url: str | None = None


class Meta(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The ``meta`` object of an envelope (only what the client uses)."""

    request_id: str | None = None


class Envelope(msgspec.Struct, Generic[T], frozen=True, kw_only=True, gc=False):
    """``{success, data, error, meta}``, every v3 response.

    Not tracked by the garbage collector (``gc=False``; nor is `Meta`): an envelope lives only
    until its ``data`` is taken and cannot be part of a cycle, and untracked structs save every
    response the collector's bookkeeping.
    """

    success: bool | None = None
    data: T | None = None
    error: ErrorDetail | None = None
    meta: Meta | None = None


class ErrorEnvelope(msgspec.Struct, frozen=True, kw_only=True):
    """An envelope read only for its error part (error responses carry ``data: null``)."""

    error: ErrorDetail | None = None
    meta: Meta | None = None


def error_details(
    details: object, redact: Callable[[str], str] = str
) -> dict[str, list[str]] | None:
    """Return ``details`` as ``{field: [message, ...]}``, whatever shape the server sent.

    A mapping keeps its keys, each value becoming a list of strings; any other value is kept
    under the key ``""``. Every string passes through ``redact``; long values are cut.
    """
    if details is None:
        return None

    def texts(value: object) -> list[str]:
        items = value if isinstance(value, list) else [value]
        return [redact(item if isinstance(item, str) else repr(item))[:500] for item in items]

    if isinstance(details, Mapping):
        return {redact(str(key))[:200]: texts(value) for key, value in details.items()}
    return {"": texts(details)}
