"""Receivers: an aiohttp handler and a plain ASGI app around one verified hand-over.

Both answer 2xx only after the event was handed to the target (a crash before that makes Sent
retry: at-least-once), 400 for a bad signature or body, 413 over the size cap, 503 with
``Retry-After`` when the target raised `TargetUnavailableError` (it cannot take the event for
now), 500 when the target raised anything else (so Sent retries), and acknowledge a repeated
``X-Webhook-Event-ID`` without handing it over twice (the ids remembered are bounded).
"""

from __future__ import annotations

import inspect
import logging
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias

import msgspec

from ._events import WebhookEvent, WebhookPayloadError, parse
from ._verify import (
    DEFAULT_TOLERANCE,
    EVENT_ID_HEADER,
    ID_HEADERS,
    WebhookError,
    WebhookVerificationError,
    lower_headers,
    verify,
)

if TYPE_CHECKING:
    from aiohttp import web

__all__ = [
    "DEFAULT_MAX_BODY",
    "Receiver",
    "TargetUnavailableError",
    "aiohttp_handler",
    "asgi_app",
    "construct_event",
]

logger = logging.getLogger("sentdm_async.webhooks")

#: Largest body accepted by the receivers (bytes); Sent's bodies are a few KiB.
DEFAULT_MAX_BODY: Final = 1024 * 1024
#: Event ids remembered for deduplication by default (oldest forgotten first).
DEFAULT_REMEMBER: Final = 100_000


class TargetUnavailableError(WebhookError):
    """The target cannot take the event for now: the receivers answer 503 with ``Retry-After``.

    Raise it from a receiver's target for a passing condition (`sentdm_async.redis.WebhookRelay`
    does when Redis is down and its local spool is full). Sent keeps the event and retries it;
    every failed delivery still counts towards the endpoint's auto-disable (10 events in a row),
    so a target should answer 2xx whenever it can keep the event safely.

    Attributes:
        retry_after: Seconds the sender is asked to wait (the ``Retry-After`` header).
    """

    def __init__(self, message: str, *, retry_after: float = 30.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Pushable(Protocol):
    def push(self, event: WebhookEvent) -> object: ...


#: Where verified events go: an (async) callable, or an object with ``push`` (a `Watcher`).
Target: TypeAlias = Callable[[WebhookEvent], Awaitable[object] | object] | _Pushable


def construct_event(
    body: bytes | str,
    headers: Any,
    secret: str | bytes | Sequence[str | bytes],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> WebhookEvent:
    """Verify ``body`` (see `verify`), then parse it; ``event_id`` comes from the headers.

    ``event_id`` is ``X-Webhook-Event-ID`` (the same on Sent's retries), else the webhook id.

    Raises:
        WebhookVerificationError: The signature check failed.
        WebhookPayloadError: Verified, but not a webhook envelope.
    """
    verify(body, headers, secret, tolerance=tolerance, now=now)
    lowered = lower_headers(headers)
    event_id = lowered.get(EVENT_ID_HEADER) or next(
        (lowered[name] for name in ID_HEADERS if name in lowered), None
    )
    return msgspec.structs.replace(parse(body), event_id=event_id)


class Receiver:
    """Verify, deduplicate and hand over one delivery; the receivers' shared core.

    Args:
        secret: The endpoint's signing secret(s), as for `verify`.
        target: An async (or plain) callable taking the event, or an object with ``push``
            (a `Watcher`).
        max_body: Largest body accepted, in bytes (larger: 413).
        remember: How many handed-over event ids are remembered to drop repeats.
        tolerance: Timestamp tolerance in seconds.
    """

    def __init__(
        self,
        secret: str | bytes | Sequence[str | bytes],
        target: Target,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        remember: int = DEFAULT_REMEMBER,
        tolerance: float = DEFAULT_TOLERANCE,
    ) -> None:
        push = getattr(target, "push", None)
        handler = push if callable(push) else target
        if not callable(handler):
            raise TypeError("target must be a callable or an object with a push method")
        if not isinstance(max_body, int) or max_body < 1:
            raise ValueError("max_body must be an int >= 1")
        if not isinstance(remember, int) or remember < 0:
            raise ValueError("remember must be an int >= 0")
        self._secret = secret
        self._handler: Callable[[WebhookEvent], Any] = handler
        self.max_body = max_body
        self._remember = remember
        self._tolerance = tolerance
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._in_progress: set[str] = set()
        #: Deliveries handed over, and repeats acknowledged without a hand-over.
        self.handed_over = 0
        self.duplicates = 0

    async def handle(self, body: bytes, headers: Any) -> tuple[int, bytes, list[tuple[str, str]]]:
        """Return the HTTP status, body and extra headers to answer one delivery with."""
        try:
            event = construct_event(body, headers, self._secret, tolerance=self._tolerance)
        except (WebhookVerificationError, WebhookPayloadError) as exc:
            logger.warning("webhook refused: %s", exc)
            return 400, f'{{"error":"{type(exc).__name__}"}}'.encode(), []
        event_id = event.event_id or ""
        if event_id in self._seen:
            self.duplicates += 1
            return 200, b'{"ok":true,"duplicate":true}', []
        if event_id in self._in_progress:
            return 409, b'{"error":"this event is being handled"}', []  # the sender retries later
        self._in_progress.add(event_id)
        try:
            result = self._handler(event)
            if inspect.isawaitable(result):
                await result
        except TargetUnavailableError as exc:
            logger.info("webhook target unavailable for event %s: %s", event_id, exc)  # its own log
            retry_after = f"{max(1, math.ceil(exc.retry_after))}"
            return 503, b'{"error":"the target is unavailable"}', [("Retry-After", retry_after)]
        except Exception:
            logger.exception("webhook target failed on event %s", event_id)
            return 500, b'{"error":"the target failed"}', []
        finally:
            self._in_progress.discard(event_id)
        self.handed_over += 1
        if self._remember:
            self._seen[event_id] = None
            if len(self._seen) > self._remember:
                self._seen.popitem(last=False)
        return 200, b'{"ok":true}', []


def aiohttp_handler(
    secret: str | bytes | Sequence[str | bytes],
    target: Target,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    remember: int = DEFAULT_REMEMBER,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Return an ``aiohttp.web`` handler: ``app.router.add_post("/webhooks/sent", handler)``."""
    from aiohttp import web

    receiver = Receiver(secret, target, max_body=max_body, remember=remember, tolerance=tolerance)

    async def handler(request: web.Request) -> web.Response:
        length = request.content_length
        if length is not None and length > receiver.max_body:
            return web.Response(status=413, body=b'{"error":"body too large"}')
        chunks: list[bytes] = []
        size = 0
        while True:  # read(n) returns what has arrived so far: read to the end, or past the cap
            chunk = await request.content.readany()
            if not chunk:
                break
            size += len(chunk)
            if size > receiver.max_body:
                return web.Response(status=413, body=b'{"error":"body too large"}')
            chunks.append(chunk)
        body = b"".join(chunks)
        status, answer, extra = await receiver.handle(body, request.headers)
        return web.Response(
            status=status, body=answer, content_type="application/json", headers=extra
        )

    handler.receiver = receiver  # type: ignore[attr-defined]
    return handler


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _respond(
    send: Any, status: int, body: bytes, extra: list[tuple[str, str]] | None = None
) -> None:
    headers = [(b"content-type", b"application/json")]
    headers += [(name.lower().encode(), value.encode()) for name, value in extra or ()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Any, limit: int) -> bytes | int | None:
    """The request body; 413 once it passes ``limit`` (unread rest); None on a disconnect."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return 413
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def asgi_app(
    secret: str | bytes | Sequence[str | bytes],
    target: Target,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    remember: int = DEFAULT_REMEMBER,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Callable[[dict[str, Any], Any, Any], Awaitable[None]]:
    """Return an ASGI 3 app (no dependency): ``fastapi_app.mount("/webhooks/sent", app)``.

    Any POST to the mount is a delivery; other methods get 405.
    """
    receiver = Receiver(secret, target, max_body=max_body, remember=remember, tolerance=tolerance)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope.get("method") != "POST":
            await _respond(send, 405, b'{"error":"POST only"}')
            return
        body = await _read_body(receive, receiver.max_body)
        if body is None:
            return  # the sender went away: nothing to answer
        if isinstance(body, int):
            await _respond(send, body, b'{"error":"body too large"}')
            return
        status, answer, extra = await receiver.handle(body, scope.get("headers", []))
        await _respond(send, status, answer, extra)

    app.receiver = receiver  # type: ignore[attr-defined]
    return app
