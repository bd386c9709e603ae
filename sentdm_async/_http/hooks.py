"""Listeners on what a client does: requests, responses, retries, throttling, watched steps.

``AsyncSent(hooks=[listener, ...])`` takes any objects with some of these methods, each called
with one small frozen Struct:

    on_request(RequestEvent)      an attempt starts: method, URL template, attempt number
    on_response(ResponseEvent)    it ended: status (None without one), request id, elapsed, bytes
    on_retry(RetryEvent)          another attempt follows: the reason, and the wait before it
    on_throttle(ThrottleEvent)    the shared budget held a request back, or a 429 paused it
    on_status(StepEvent)          a watched message's new step, and whether a push or a poll
                                  brought it

Listeners run inline, in the task that makes the request, so they should be quick (record,
count, start a span); a listener that raises is logged and the request goes on as if it had not
been there. Paths appear only as templates (``/v3/messages/{id}``): an event never carries a
message id in a URL, nor the API key. `sentdm_async.otel` is built on these events.
`AsyncSent.stats` is not: its recorder is counted into directly, so that a client with no
listener of its own builds no event (it still shows among `Hooks.listeners`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

from sentdm_async._http.stats import StatsRecorder
from sentdm_async.types.messages import Activity

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = [
    "HOOK_METHODS",
    "Hooks",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "StepEvent",
    "ThrottleEvent",
]

logger = logging.getLogger("sentdm_async")


class RequestEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An HTTP attempt starts.

    Attributes:
        method: HTTP method.
        url_template: The path with its ids as ``{name}`` fields (``/v3/messages/{id}``).
        attempt: 1 for the first attempt of a call, 2 for its first retry, and so on.
    """

    method: str
    url_template: str
    attempt: int


class ResponseEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An HTTP attempt ended, with a response or without one.

    Attributes:
        method: HTTP method.
        url_template: The path's template.
        attempt: As in `RequestEvent`.
        status: The HTTP status; ``None`` when no response came (connection error, timeout,
            cancellation).
        request_id: The API's ``x-request-id``, when it sent one.
        elapsed: Seconds from sending to the whole body read.
        bytes: Body bytes read (after decompression).
        error_type: ``None`` for a 1xx-3xx answer; the status as text for 4xx/5xx
            (``"503"``); the exception's class name when no response came
            (``"APITimeoutError"``, ``"CancelledError"``).
    """

    method: str
    url_template: str
    attempt: int
    status: int | None
    request_id: str | None = None
    elapsed: float = 0.0
    bytes: int = 0
    error_type: str | None = None


class RetryEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A failed attempt will be retried.

    Attributes:
        method: HTTP method.
        url_template: The path's template.
        attempt: The attempt that failed (the next one is ``attempt + 1``).
        reason: Why: the status as text (``"503"``, ``"429"``) or the connection error's class
            name (``"APITimeoutError"``).
        wait: Seconds before the next attempt (backoff, or the server's ``Retry-After``).
        request_id: The failed answer's request id, when it had one.
    """

    method: str
    url_template: str
    attempt: int
    reason: str
    wait: float
    request_id: str | None = None


class ThrottleEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The request budget held a request back.

    Attributes:
        kind: ``"budget"``: a request waited ``wait`` seconds for a token of the shared budget
            (waits under a millisecond are not reported). ``"pause"``: a 429 paused every
            caller of the client for ``wait`` seconds.
        wait: Seconds.
        method: The held request's method (``None`` for a watcher's token, taken before it
            chooses which message to poll).
        url_template: The held request's path template (``None`` as for ``method``).
    """

    kind: Literal["budget", "pause"]
    wait: float
    method: str | None = None
    url_template: str | None = None


class StepEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A watcher yielded a new step of a message.

    Attributes:
        message_id: The message.
        activity: The step (its ``status`` and server ``timestamp``).
        via: ``"push"`` (a webhook event) or ``"poll"`` (the activities endpoint).
        done: The step ends this message's watch (a status in ``until``, or a failure).
        channel: The message's channel, when the step says (webhook events do).
        first: The first step this watch reported of the message.
    """

    message_id: str
    activity: Activity
    via: Literal["push", "poll"]
    done: bool = False
    channel: str | None = None
    first: bool = False


#: The listener methods and the event each takes.
HOOK_METHODS: Final = {
    "on_request": RequestEvent,
    "on_response": ResponseEvent,
    "on_retry": RetryEvent,
    "on_throttle": ThrottleEvent,
    "on_status": StepEvent,
}


class Hooks:
    """The listeners of one client, sorted by event: ``hooks.on_response(event)`` calls each.

    One per client, shared by its `AsyncSent.with_options` copies, with the client's own
    `StatsRecorder` (``recorder``): listed first among the ``listeners`` but fed directly by
    the request path, never by events. ``active`` (and ``bool(hooks)``) is whether any other
    listener is set: the request path checks it once per attempt and builds no event when it
    is false. Removing the recorder stops `AsyncSent.stats` from reporting it.
    """

    __slots__ = ("_by_method", "_listeners", "_recorded", "active", "recorder")

    def __init__(self, listeners: Iterable[object] = ()) -> None:
        self._listeners: list[object] = []
        self._by_method: dict[str, tuple[Callable[[Any], object], ...]] = {}
        #: The client's counters (`AsyncSent.stats`), counted into by the request path.
        self.recorder = StatsRecorder()
        self._recorded = True
        #: Whether a listener other than ``recorder`` is set (a plain attribute: the hot path).
        self.active = False
        for listener in listeners:
            self.add(listener)

    def __bool__(self) -> bool:
        return self.active

    def __repr__(self) -> str:
        return f"Hooks({list(self.listeners)!r})"

    @property
    def listeners(self) -> tuple[object, ...]:
        """The listeners, in the order they were added (the client's recorder first)."""
        own = (self.recorder,) if self._recorded else ()
        return (*own, *self._listeners)

    def add(self, listener: object) -> None:
        """Add a listener (an object with one or more of the ``on_*`` methods).

        Raises:
            TypeError: It has none of them, or one that is not callable.
        """
        if listener is self.recorder:
            self._recorded = True
            return
        found = [name for name in HOOK_METHODS if getattr(listener, name, None) is not None]
        if not found:
            names = ", ".join(HOOK_METHODS)
            raise TypeError(f"a hook listener needs at least one of {names}; got {listener!r}")
        for name in found:
            if not callable(getattr(listener, name)):
                raise TypeError(f"{type(listener).__name__}.{name} is not callable")
        self._listeners.append(listener)
        self._rebuild()

    def remove(self, listener: object) -> None:
        """Remove a listener added before (nothing happens if it is not there)."""
        if listener is self.recorder:
            self._recorded = False
        elif listener in self._listeners:
            self._listeners.remove(listener)
            self._rebuild()

    def _rebuild(self) -> None:
        self._by_method = {
            name: tuple(
                getattr(listener, name)
                for listener in self._listeners
                if getattr(listener, name, None) is not None
            )
            for name in HOOK_METHODS
        }
        self.active = bool(self._listeners)

    def _emit(self, name: str, event: msgspec.Struct) -> None:
        for method in self._by_method.get(name, ()):
            try:
                method(event)
            except Exception:
                # A listener's bug must never break a request: log it (the event names only the
                # URL template and request id, never a secret) and go on.
                logger.exception("hook %s failed on %r; the request goes on", name, event)

    def on_request(self, event: RequestEvent) -> None:
        """Call every listener's ``on_request``."""
        self._emit("on_request", event)

    def on_response(self, event: ResponseEvent) -> None:
        """Call every listener's ``on_response``."""
        self._emit("on_response", event)

    def on_retry(self, event: RetryEvent) -> None:
        """Call every listener's ``on_retry``."""
        self._emit("on_retry", event)

    def on_throttle(self, event: ThrottleEvent) -> None:
        """Call every listener's ``on_throttle``."""
        self._emit("on_throttle", event)

    def on_status(self, event: StepEvent) -> None:
        """Call every listener's ``on_status``."""
        self._emit("on_status", event)
