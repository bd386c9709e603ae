"""The raw answer of a call: ``await client.with_raw_response.messages.retrieve_status(id)``.

As in the official SDK, the raw response has ``status_code``, ``headers``, ``request_id``,
``http_request``, ``retries_taken`` and ``await response.parse()`` (the value the plain call
returns). The call goes through the same budget, retries and error mapping as the plain call (an
error status still raises); only what the transport read on the final, successful attempt is
kept besides.

The transport hands that answer over through a context variable set around the one call
(`capture`): the resource methods stay as they are, and nothing changes for plain calls but one
``ContextVar.get`` per successful request.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

import msgspec

from sentdm_async.errors import APIResponseValidationError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from multidict import CIMultiDictProxy

__all__ = ["RAW_CAPTURE", "AsyncAPIResponse", "Capture", "RawRequest"]

T = TypeVar("T")


class RawRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The request that got the response (the API key shown as ``[redacted]``).

    Attributes:
        method: HTTP method.
        url: The full URL, query included.
        headers: The request headers.
    """

    method: str
    url: str
    headers: dict[str, str]


class _Meta(msgspec.Struct):
    request_id: str | None = None


class _MetaOnly(msgspec.Struct):
    meta: _Meta | None = None


_META_DECODER: Final = msgspec.json.Decoder(_MetaOnly)


class Capture:
    """What the transport read on a call's successful attempt (filled by the transport)."""

    __slots__ = ("body", "headers", "request", "retries", "status")

    def __init__(self) -> None:
        self.status = 0
        self.headers: CIMultiDictProxy[str] | None = None
        self.body = b""
        self.request: RawRequest | None = None
        self.retries = 0

    def record(
        self,
        status: int,
        headers: CIMultiDictProxy[str],
        body: bytes,
        request: RawRequest,
        retries: int,
    ) -> None:
        """Keep one successful answer (a later one of the same call replaces it)."""
        self.status = status
        self.headers = headers
        self.body = body
        self.request = request
        self.retries = retries


#: The capture of the raw call running in this task, if any.
RAW_CAPTURE: Final[contextvars.ContextVar[Capture | None]] = contextvars.ContextVar(
    "sentdm_async_raw_capture", default=None
)


class AsyncAPIResponse(Generic[T]):
    """The raw response of one call, and its parsed value.

    Attributes:
        status_code: The HTTP status.
        headers: The response headers (case-insensitive).
        http_request: The request that got it (`RawRequest`, key redacted).
        retries_taken: Retries before this answer (0 when the first attempt succeeded).
    """

    def __init__(self, capture: Capture, value: T) -> None:
        if capture.headers is None or capture.request is None:  # pragma: no cover - a bug
            raise RuntimeError("no response was captured")
        self.status_code: int = capture.status
        self.headers: Mapping[str, str] = capture.headers
        self.http_request: RawRequest = capture.request
        self.retries_taken: int = capture.retries
        self._body = capture.body
        self._value = value

    def __repr__(self) -> str:
        return f"<AsyncAPIResponse [{self.status_code}] {self.method} {self.url}>"

    @property
    def method(self) -> str:
        """The request's HTTP method."""
        return self.http_request.method

    @property
    def url(self) -> str:
        """The request's URL."""
        return self.http_request.url

    @property
    def request_id(self) -> str | None:
        """The API's request id (``x-request-id``, else the body's ``meta.request_id``)."""
        found = self.headers.get("x-request-id")
        if found:
            return found
        try:
            meta = _META_DECODER.decode(self._body).meta
        except msgspec.DecodeError:
            return None
        return meta.request_id if meta is not None else None

    async def parse(self) -> T:
        """Return what the plain call returns (the decoded ``data``)."""
        return self._value

    async def read(self) -> bytes:
        """Return the body's bytes."""
        return self._body

    async def text(self) -> str:
        """Return the body as text."""
        return self._body.decode("utf-8", errors="replace")

    async def json(self) -> Any:
        """Return the body as JSON values (the whole envelope).

        Raises:
            APIResponseValidationError: The body is not JSON (e.g. empty, for a delete).
        """
        try:
            return msgspec.json.decode(self._body)
        except msgspec.DecodeError as exc:
            raise APIResponseValidationError(
                f"the response body is not JSON ({exc})",
                status_code=self.status_code,
                request_id=self.request_id,
                method=self.method,
            ) from None
