"""Small pieces shared by the simulator's resource handlers (`._resources`, `._voice`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import msgspec

from sentdm_async.simulator._model import format_ts
from sentdm_async.simulator._validate import InvalidRequestError

if TYPE_CHECKING:
    from aiohttp import web

__all__ = [
    "RefusedError",
    "Request",
    "enum_param",
    "json_body",
    "now",
    "pagination",
    "require",
    "uuid_param",
]

_UUID: Final = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class RefusedError(Exception):
    """A non-validation error answer (404, 409, 422...)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


class Request:
    """What a handler sees: path parameters, query, decoded JSON body, sandbox flag."""

    __slots__ = ("body", "params", "query", "sandbox")

    def __init__(self, params: dict[str, str], query: Any, body: dict[str, Any]) -> None:
        self.params, self.query, self.body = params, query, body
        self.sandbox = body.get("sandbox") is True


def require(body: dict[str, Any], *names: str) -> None:
    """Refuse a body missing any of ``names`` (400 ``VALIDATION_004``)."""
    missing = {n: [f"The {n} field is required."] for n in names if body.get(n) in (None, "")}
    if missing:
        raise InvalidRequestError("VALIDATION_004", missing)


def uuid_param(value: str, name: str = "id") -> str:
    """Refuse a malformed uuid in a path (400 ``VALIDATION_003``)."""
    if not _UUID.match(value):
        raise InvalidRequestError("VALIDATION_003", {name: [f"'{value}' is not a valid UUID"]})
    return value


def enum_param(body: dict[str, Any], name: str, allowed: frozenset[str]) -> None:
    value = body.get(name)
    if value is not None and value not in allowed:
        details = {name: [f"must be one of {', '.join(sorted(allowed))}"]}
        raise InvalidRequestError("VALIDATION_006", details)


def now() -> str:
    return format_ts(datetime.now(UTC), 0)


def pagination(page: int, page_size: int, total: int) -> dict[str, Any]:
    pages = -(-total // page_size)
    return {
        "page": page,
        "page_size": page_size,
        "total_count": total,
        "total_pages": pages,
        "has_more": page < pages,
        "cursors": None,
    }


async def json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise InvalidRequestError("VALIDATION_001", {"body": ["Body must be valid JSON"]}) from None
    if not isinstance(body, dict):
        raise InvalidRequestError("VALIDATION_001", {"body": ["Body must be a JSON object"]})
    return body
