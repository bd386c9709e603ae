"""``client.with_raw_response``: every single-call method, answering its raw response.

One wrapper over the resource objects, not a mirror class per resource: attribute access walks
the same resources (``with_raw_response.profiles.campaigns``), and a method that makes one API
call (an ``async def`` method) comes back wrapped so that it returns an `AsyncAPIResponse`.
Methods that are not one call (``list`` pagers, ``watch``, bulk streams) are refused by name.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

from sentdm_async._http.raw import RAW_CAPTURE, AsyncAPIResponse, Capture
from sentdm_async.errors import SentError
from sentdm_async.resources._base import Resource

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["RawResponses"]

#: ``async def`` methods that are not one API call (a watch polls until the end).
_NOT_ONE_CALL = frozenset({"wait_until_terminal"})


def _raw(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[AsyncAPIResponse[Any]]]:
    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> AsyncAPIResponse[Any]:
        capture = Capture()
        token = RAW_CAPTURE.set(capture)
        try:
            value = await method(*args, **kwargs)
        finally:
            RAW_CAPTURE.reset(token)
        if capture.request is None:
            raise SentError(f"{method.__qualname__} made no request to answer raw")
        return AsyncAPIResponse(capture, value)

    return call


class RawResponses:
    """The resources of a client (or one resource), their methods answering raw responses.

    ``await client.with_raw_response.messages.retrieve_status(message_id)`` makes the same call
    as ``client.messages.retrieve_status(message_id)`` (same budget, retries and errors) and
    returns an `AsyncAPIResponse`: ``status_code``, ``headers``, ``request_id``,
    ``http_request`` and ``await response.parse()`` for the usual value.
    """

    __slots__ = ("_path", "_target")

    def __init__(self, target: object, path: str = "with_raw_response") -> None:
        self._target = target
        self._path = path

    def __repr__(self) -> str:
        return f"<{self._path}>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        attr = getattr(self._target, name)
        path = f"{self._path}.{name}"
        if isinstance(attr, Resource):
            return RawResponses(attr, path)
        one_call = inspect.iscoroutinefunction(attr) and name not in _NOT_ONE_CALL
        if one_call and isinstance(self._target, Resource):
            return _raw(attr)
        raise AttributeError(
            f"{path} is not available: with_raw_response takes the resources' methods that make "
            "one API call (for a paged list, use its list_page method)"
        )
