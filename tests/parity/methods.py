"""The SDK's async methods, found by walking `sent_dm.AsyncSent`, and what each one needs.

For each method: its dotted name, the arguments a caller passes (every parameter filled from
the SDK's annotations, headers-only ones left out), and the shape of its answer (an envelope
whose ``data`` is a model, a page of items, or no body).
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass
from typing import Any

import sent_dm

from .fill import argument

__all__ = ["SdkMethod", "sdk_methods"]

# Header-only or transport options: they never reach the compared parts of a request.
_NOT_COMPARED = frozenset(
    {
        "self",
        "extra_headers",
        "extra_query",
        "extra_body",
        "timeout",
        "idempotency_key",
        "x_profile_id",
    }
)


@dataclass(frozen=True)
class SdkMethod:
    """One SDK method and the call made on it."""

    name: str
    positional: tuple[tuple[str, Any], ...]
    keywords: dict[str, Any]
    returns: Any
    page_items: str | None
    """The item list's key in ``data`` for a paged list (``None`` otherwise)."""
    item_type: Any


def _resources(obj: object, path: tuple[str, ...]) -> typing.Iterator[tuple[str, Any]]:
    for name in sorted(dir(type(obj))):
        if name.startswith("_") or name in {"with_raw_response", "with_streaming_response"}:
            continue
        attr = inspect.getattr_static(type(obj), name)
        if inspect.isfunction(attr):
            if path:
                yield ".".join((*path, name)), getattr(obj, name)
            continue
        value = getattr(obj, name, None)
        if type(value).__module__.startswith("sent_dm.resources."):
            yield from _resources(value, (*path, name))


def _page(returns: Any) -> tuple[str | None, Any]:
    """Return ``(items key, item type)`` for an ``AsyncPaginator[Item, Page[Item]]``."""
    if getattr(typing.get_origin(returns), "__name__", "") != "AsyncPaginator":
        return None, None
    item, page = typing.get_args(returns)
    page_class = typing.get_origin(page) or page
    data = page_class.model_fields["data"].annotation
    data_class = typing.get_args(data)[0]
    data_class = typing.get_origin(data_class) or data_class
    (items,) = (key for key in data_class.model_fields if key != "pagination")
    return items, item


def sdk_methods(
    omit: dict[str, frozenset[str]], given: dict[str, dict[str, Any]]
) -> list[SdkMethod]:
    """Return every async method of the SDK with a filled call.

    Args:
        omit: Parameters left out per method (mutually exclusive ones the API refuses together).
        given: Values set per method instead of the filled ones.
    """
    client = sent_dm.AsyncSent(api_key="parity", base_url="http://127.0.0.1:9")
    found = []
    for name, bound in _resources(client, ()):
        hints = typing.get_type_hints(bound, include_extras=True)
        positional, keywords = [], {}
        for param in inspect.signature(bound).parameters.values():
            if param.name in _NOT_COMPARED or param.name in omit.get(name, frozenset()):
                continue
            value = given.get(name, {}).get(param.name, argument(param.name, hints[param.name]))
            if param.kind is param.POSITIONAL_OR_KEYWORD:
                positional.append((param.name, value))
            else:
                keywords[param.name] = value
        items, item = _page(hints["return"])
        found.append(SdkMethod(name, tuple(positional), keywords, hints["return"], items, item))
    return found
