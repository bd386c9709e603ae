"""Receivers: an aiohttp handler and a plain ASGI app around one verified hand-over.

Both answer 2xx only after the event was handed to the target (a crash before that makes Sent
retry: at-least-once), 400 for a bad signature or body (with the reason), 408 when the body
does not arrive within ``read_timeout``, 413 over the size cap, 503 with ``Retry-After`` when
the target raised `TargetUnavailableError` (it cannot take the event for now), 500 when the
target raised anything else (so Sent retries), and acknowledge a repeated delivery without
handing it over twice (the keys remembered are bounded).

The deduplication key is a SHA-256 of the signed webhook id and the body, never the unsigned
``X-Webhook-Event-ID``: a captured delivery replayed with the event id of a later genuine event
must not get that event acknowledged as a duplicate and lost. The timestamp stays out of the
key because Svix-style senders re-sign a retry with a new timestamp but the same id and body;
the body is in it in case a sender reuses an id for another event (Sent's docs name both
headers without saying how they relate).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias

import anyio
import msgspec

from sentdm_async.webhooks._events import WebhookEvent, WebhookPayloadError, parse
from sentdm_async.webhooks._verify import (
    DEFAULT_TOLERANCE,
    EVENT_ID_HEADER,
    MAX_ID,
    WebhookError,
    WebhookVerificationError,
    lower_headers,
    verified_id,
)

if TYPE_CHECKING:
    from aiohttp import web

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_READ_TIMEOUT",
    "ASGIReceiver",
    "Receiver",
    "TargetUnavailableError",
    "aiohttp_handler",
    "asgi_app",
    "construct_event",
]

logger = logging.getLogger("sentdm_async.webhooks")

#: Largest body accepted by the receivers (bytes); Sent's bodies are a few KiB.
DEFAULT_MAX_BODY: Final = 1024 * 1024
#: Seconds a delivery's whole body may take to arrive (slower: 408 and the connection closed).
DEFAULT_READ_TIMEOUT: Final = 10.0
#: Delivery keys remembered for deduplication by default (oldest forgotten first).
DEFAULT_REMEMBER: Final = 100_000
#: Seconds between two "webhook refused" warnings; the ones in between are counted, and logged
#: one by one at DEBUG only (5,000 forged deliveries used to write 5,000 warnings).
WARNING_INTERVAL: Final = 60.0

#: ASGI types, as Starlette declares them (a ``dict`` scope fails mypy and pyright there).
Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]


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
    """Verify ``body`` (see `verify`), then parse it; ids come from the headers.

    ``webhook_id`` is the signed ``X-Webhook-ID``; ``event_id`` is ``X-Webhook-Event-ID`` (the
    same on Sent's retries, but not signed), else the webhook id.

    Raises:
        WebhookVerificationError: The signature check failed, or the event id is over 256
            characters.
        WebhookPayloadError: Verified, but not a webhook envelope.
    """
    webhook_id = verified_id(body, headers, secret, tolerance=tolerance, now=now)
    event_id = lower_headers(headers).get(EVENT_ID_HEADER) or webhook_id
    if len(event_id) > MAX_ID:
        raise WebhookVerificationError(
            f"header {EVENT_ID_HEADER} is too long (over {MAX_ID} characters)"
        )
    return msgspec.structs.replace(parse(body), event_id=event_id, webhook_id=webhook_id)


class _ThrottledWarning:
    """A warning logged at most once per interval, with a count of the ones held back."""

    def __init__(self, interval: float, clock: Callable[[], float]) -> None:
        self._interval = interval
        self._clock = clock
        self._last: float | None = None
        self._held = 0

    def __call__(self, reason: str) -> None:
        logger.debug("webhook refused: %s", reason)
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            self._held += 1
            return
        if self._held:
            logger.warning(
                "webhook refused: %s (and %d more since the last warning)", reason, self._held
            )
        else:
            logger.warning("webhook refused: %s", reason)
        self._held, self._last = 0, now


#: An answer: HTTP status, JSON body and extra headers.
Answer: TypeAlias = tuple[int, bytes, Sequence[tuple[str, str]]]


def _answer(status: int, *, headers: Sequence[tuple[str, str]] = (), **fields: object) -> Answer:
    return status, msgspec.json.encode(fields), headers


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


class Receiver:
    """Verify, deduplicate and hand over one delivery; the receivers' shared core.

    Args:
        secret: The endpoint's signing secret(s), as for `verify`.
        target: An async (or plain) callable taking the event, or an object with ``push``
            (a `Watcher`).
        max_body: Largest body accepted, in bytes (larger: 413).
        remember: How many handed-over deliveries are remembered to drop repeats (keyed on the
            signed webhook id and body; 0 remembers none).
        tolerance: Timestamp tolerance in seconds.
        read_timeout: Seconds the receivers give a delivery's whole body to arrive (slower:
            408, and the connection is closed); ``None`` waits forever, which lets a sender
            that stalls mid-body hold a connection open.
        clock: Monotonic seconds, for the warning throttle (tests pass a fake one).
    """

    def __init__(
        self,
        secret: str | bytes | Sequence[str | bytes],
        target: Target,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        remember: int = DEFAULT_REMEMBER,
        tolerance: float = DEFAULT_TOLERANCE,
        read_timeout: float | None = DEFAULT_READ_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        push = getattr(target, "push", None)
        handler = push if callable(push) else target
        if not callable(handler):
            raise TypeError("target must be a callable or an object with a push method")
        if not isinstance(max_body, int) or max_body < 1:
            raise ValueError("max_body must be an int >= 1")
        if not isinstance(remember, int) or remember < 0:
            raise ValueError("remember must be an int >= 0")
        if read_timeout is not None and not (
            isinstance(read_timeout, int | float) and 0 < read_timeout < float("inf")
        ):
            raise ValueError(f"read_timeout must be a number > 0 or None, got {read_timeout!r}")
        self._secret = secret
        self._handler: Callable[[WebhookEvent], Any] = handler
        self.max_body = max_body
        self.read_timeout = read_timeout
        self._remember = remember
        self._tolerance = tolerance
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._in_progress: set[bytes] = set()
        self._warn = _ThrottledWarning(WARNING_INTERVAL, clock)
        #: Deliveries handed over, repeats acknowledged without a hand-over, and refusals.
        self.handed_over = 0
        self.duplicates = 0
        self.refused = 0

    def refuse(self, status: int, reason: str) -> Answer:
        """Count and log (throttled) a refused delivery; return its answer."""
        self.refused += 1
        self._warn(reason)
        return _answer(status, error=reason)

    async def handle(self, body: bytes, headers: Any) -> Answer:
        """Return the HTTP status, body and extra headers to answer one delivery with."""
        try:
            event = construct_event(body, headers, self._secret, tolerance=self._tolerance)
        except (WebhookVerificationError, WebhookPayloadError) as exc:
            return self.refuse(400, f"{type(exc).__name__}: {exc}")
        # Only signed content: the webhook id and the body (see the module docstring).
        key = hashlib.sha256(f"{event.webhook_id}.".encode("utf-8", "surrogateescape") + body)
        digest = key.digest()
        if digest in self._seen:
            self.duplicates += 1
            return _answer(200, ok=True, duplicate=True)
        if digest in self._in_progress:
            return _answer(409, error="this event is being handled")  # the sender retries later
        self._in_progress.add(digest)
        try:
            result = self._handler(event)
            if inspect.isawaitable(result):
                await result
        except TargetUnavailableError as exc:  # the target logs its own outage
            logger.info("webhook target unavailable for event %s: %s", event.event_id, exc)
            retry_after = str(max(1, math.ceil(exc.retry_after)))
            return _answer(
                503, error="the target is unavailable", headers=[("Retry-After", retry_after)]
            )
        except Exception:
            logger.exception("webhook target failed on event %s", event.event_id)
            return _answer(500, error="the target failed")
        finally:
            self._in_progress.discard(digest)
        self.handed_over += 1
        if self._remember:
            self._seen[digest] = None
            if len(self._seen) > self._remember:
                self._seen.popitem(last=False)
        return _answer(200, ok=True)


def aiohttp_handler(
    secret: str | bytes | Sequence[str | bytes],
    target: Target,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    remember: int = DEFAULT_REMEMBER,
    tolerance: float = DEFAULT_TOLERANCE,
    read_timeout: float | None = DEFAULT_READ_TIMEOUT,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Return an ``aiohttp.web`` handler: ``app.router.add_post("/webhooks/sent", handler)``.

    Arguments as for `Receiver`. A sender that hangs up mid-body is logged at DEBUG (there is
    no one left to answer); a 408 or 413 closes the connection rather than read the rest.
    """
    from aiohttp import ClientPayloadError, web

    receiver = Receiver(
        secret,
        target,
        max_body=max_body,
        remember=remember,
        tolerance=tolerance,
        read_timeout=read_timeout,
    )

    async def handler(request: web.Request) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > receiver.max_body:
            return await _close_with(request, *receiver.refuse(413, "body too large"))
        try:
            body = await _read_aiohttp(request, receiver)
        except (ConnectionError, ClientPayloadError) as exc:
            logger.debug("webhook sender hung up mid-body: %r", exc)
            return web.Response(status=400)  # no one is left to read it
        if isinstance(body, tuple):
            return await _close_with(request, *body)
        status, answer, extra = await receiver.handle(body, request.headers)
        return web.Response(
            status=status, body=answer, content_type="application/json", headers=extra
        )

    handler.receiver = receiver  # type: ignore[attr-defined]
    return handler


async def _read_aiohttp(request: web.Request, receiver: Receiver) -> bytes | Answer:
    """The body, or the answer when it is too large or too slow."""
    chunks: list[bytes] = []
    size = 0
    with anyio.move_on_after(receiver.read_timeout):
        # read(n) returns what has arrived so far: read to the end, or past the cap.
        while chunk := await request.content.readany():
            size += len(chunk)
            if size > receiver.max_body:
                return receiver.refuse(413, "body too large")
            chunks.append(chunk)
        return b"".join(chunks)
    return receiver.refuse(408, f"the body did not arrive within {receiver.read_timeout} s")


async def _close_with(
    request: web.Request, status: int, answer: bytes, extra: Sequence[tuple[str, str]]
) -> web.StreamResponse:
    """Answer, then close the connection: aiohttp would otherwise linger reading the rest."""
    from aiohttp import web

    response = web.Response(
        status=status, body=answer, content_type="application/json", headers=extra
    )
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
    return response


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    extra: Sequence[tuple[str, str]] = (),
    *,
    close: bool = False,
) -> None:
    headers = [(b"content-type", b"application/json")]
    headers += [(name.lower().encode(), value.encode()) for name, value in extra]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_asgi(receive: Receive, receiver: Receiver) -> bytes | Answer | None:
    """The request body, the answer when too large or too slow, or None on a disconnect."""
    chunks: list[bytes] = []
    size = 0
    with anyio.move_on_after(receiver.read_timeout):
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                logger.debug("webhook sender hung up mid-body")
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > receiver.max_body:
                return receiver.refuse(413, "body too large")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
    return receiver.refuse(408, f"the body did not arrive within {receiver.read_timeout} s")


class ASGIReceiver:
    """An ASGI 3 app (no dependency) handing verified deliveries to a `Receiver`.

    Any POST is a delivery; other methods get 405. It is a class, not a function, so that
    Starlette's ``Route(path, endpoint=app)`` runs it as a raw ASGI app on that exact path (a
    ``Mount`` answers the path without its trailing slash with a 307 redirect, which senders
    do not follow).
    """

    def __init__(self, receiver: Receiver) -> None:
        #: The shared core (its ``handed_over``, ``duplicates`` and ``refused`` counters).
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection (``http`` or ``lifespan``; others are ignored)."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope.get("method") != "POST":
            await _respond(send, 405, b'{"error":"POST only"}')
            return
        body = await _read_asgi(receive, self.receiver)
        if body is None:
            return  # the sender went away: nothing to answer
        if isinstance(body, tuple):
            await _respond(send, *body, close=True)
            return
        await _respond(send, *await self.receiver.handle(body, scope.get("headers", [])))


def asgi_app(
    secret: str | bytes | Sequence[str | bytes],
    target: Target,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    remember: int = DEFAULT_REMEMBER,
    tolerance: float = DEFAULT_TOLERANCE,
    read_timeout: float | None = DEFAULT_READ_TIMEOUT,
) -> ASGIReceiver:
    """Return an ASGI 3 app; arguments as for `Receiver`.

    Route it on the exact path (FastAPI or Starlette)::

        from starlette.routing import Route

        api.router.routes.append(Route("/hooks/sent", app, methods=["POST"]))
    """
    return ASGIReceiver(
        Receiver(
            secret,
            target,
            max_body=max_body,
            remember=remember,
            tolerance=tolerance,
            read_timeout=read_timeout,
        )
    )
