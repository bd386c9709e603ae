"""The handle pattern shared by the bulk stream and the watcher.

Both run background tasks for the caller's ``async for``. The object the caller holds is only a
handle; the tasks reference the core behind it, never the handle. So when a caller breaks out of
``async for`` and drops the handle, CPython frees it at once and its ``__del__`` cancels the
core's tasks: no request starts after the break. (Tasks are GC roots: had they referenced the
handle, it would live, and poll or fetch, for as long as they run. An async generator holding a
task group instead cannot be closed safely from the garbage collector's task.)
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Generic, Protocol, Self, TypeVar

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from types import TracebackType

__all__ = ["Core", "Handle"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Core(Protocol[T_co]):
    """What a handle needs from the core it fronts."""

    def next(self) -> Awaitable[T_co]:
        """Return the next item; raise StopAsyncIteration at the end."""

    async def aclose(self) -> None:
        """Cancel the tasks and wait until they are gone. Idempotent."""

    def abandon(self) -> None:
        """Cancel the tasks without waiting (synchronous, for ``__del__``)."""


class Handle(Generic[T]):
    """A closable async iterator over a `Core`; ``async with`` closes it on exit."""

    __slots__ = ("_core",)

    def __init__(self, core: Core[T]) -> None:
        self._core = core

    def __aiter__(self) -> Self:
        return self

    def __anext__(self) -> Awaitable[T]:
        # Not a coroutine of its own: hand out the core's, one coroutine per item instead of two.
        return self._core.next()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._core.aclose()

    async def aclose(self) -> None:
        """Stop every request and wait until they have stopped. Idempotent."""
        await self._core.aclose()

    def __del__(self) -> None:
        # Dropped without aclose() (a `break` out of the loop): cancel the tasks right away.
        core = getattr(self, "_core", None)  # absent when a subclass's __init__ raised first
        if core is not None:
            with contextlib.suppress(RuntimeError):  # the event loop may already be closed
                core.abandon()
