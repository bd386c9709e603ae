"""Webhooks in the simulator: endpoints managed through the API, signed deliveries, faults.

Endpoints are registered with the same management API the real one documents
(``/v3/webhooks``...). Every status change of a message created afterwards is delivered to each
active endpoint subscribed to the ``message`` family, when the simulated clock reaches it:
signed like Sent (``X-Webhook-ID``, ``X-Webhook-Timestamp``, ``X-Webhook-Signature``) with an
``X-Webhook-Event-ID`` that stays the same on retries. A delivery that fails (non-2xx, no
answer within the endpoint's timeout) is retried ``retry_count`` times; after 10 events in a
row that failed every attempt, the endpoint is disabled. `WebhookFaults` drops, duplicates,
reorders, delays or mis-signs deliveries with given probabilities.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import heapq
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from sentdm_async.simulator._http import Reply, error_body, ok_body
from sentdm_async.simulator._model import format_ts, new_uuid, seeded_rng
from sentdm_async.webhooks import sign

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiohttp import web

    from sentdm_async.simulator._model import Message
    from sentdm_async.simulator._server import Simulator

__all__ = ["AUTO_DISABLE_AFTER", "EVENT_TYPES", "WebhookFaults", "WebhookHub"]

#: Events in a row that failed every attempt before an endpoint is disabled (as Sent does).
AUTO_DISABLE_AFTER: Final = 10
#: The families and events the simulator knows (``GET /v3/webhooks/event-types``).
EVENT_TYPES: Final = {
    "message": [
        "queued",
        "scheduled",
        "routed",
        "sent",
        "delivered",
        "read",
        "failed",
        "filtered",
        "blocked",
        "cancelled",
    ],
    "contact": ["opt_in", "opt_out", "help", "custom_keyword"],
    "templates": ["approved", "rejected"],
}
#: Statuses Sent has no webhook event for (they are only seen by polling).
_NOT_PUSHED: Final = frozenset({"PROCESSED"})
_RETRY_DELAY: Final = 0.2  # real seconds before the first retry; doubles per attempt


@dataclass
class WebhookFaults:
    """Probabilities (0..1) of delivery faults, drawn per event from the simulator's seed.

    Attributes:
        drop: the event is never delivered (lost in transit, no retry).
        duplicate: the event is delivered twice (same event id).
        reorder: the event is held back by up to ``max_delay`` so later ones overtake it.
        delay: the event is late by up to ``max_delay`` seconds.
        bad_signature: the first attempt carries a wrong signature (the retry is signed well).
        max_delay: real seconds of the longest delay or hold-back.
    """

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    delay: float = 0.0
    bad_signature: float = 0.0
    max_delay: float = 2.0

    def __post_init__(self) -> None:
        """Refuse probabilities outside 0..1 and a negative or infinite ``max_delay``."""
        for name in ("drop", "duplicate", "reorder", "delay", "bad_signature"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                msg = f"WebhookFaults.{name} must be within 0..1, got {value}"
                raise ValueError(msg)
        if not 0.0 <= self.max_delay < float("inf"):
            msg = f"WebhookFaults.max_delay must be a finite number >= 0, got {self.max_delay}"
            raise ValueError(msg)


@dataclass
class _Endpoint:
    id: str
    display_name: str
    endpoint_url: str
    event_types: list[str]
    event_filters: dict[str, list[str]]
    signing_secret: str
    retry_count: int = 3
    timeout_seconds: int = 30
    is_active: bool = True
    consecutive_failures: int = 0
    created_at: str = ""
    updated_at: str = ""
    last_delivery_attempt_at: str | None = None
    last_successful_delivery_at: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "events"}
        return data

    def wants(self, family: str, event: str) -> bool:
        if not self.is_active or family not in self.event_types:
            return False
        allowed = self.event_filters.get(family)
        return not allowed or event in allowed


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    endpoint_id: str = field(compare=False)
    event_id: str = field(compare=False)
    body: bytes = field(compare=False)
    attempt: int = field(compare=False, default=0)
    bad_signature: bool = field(compare=False, default=False)


class _BadRequestError(Exception):
    def __init__(self, details: dict[str, list[str]]) -> None:
        super().__init__("invalid webhook request")
        self.details = details


def _now_iso() -> str:
    return format_ts(datetime.now(UTC), 0)


#: ``(method, path pattern)`` of every endpoint `WebhookHub.handle` answers (its routing is
#: written out in ``_route``/``_route_one``; a test asks each of these and gets no 404 route).
ENDPOINTS: Final = (
    ("POST", "/v3/webhooks"),
    ("GET", "/v3/webhooks"),
    ("GET", "/v3/webhooks/event-types"),
    ("GET", "/v3/webhooks/{id}"),
    ("PUT", "/v3/webhooks/{id}"),
    ("PATCH", "/v3/webhooks/{id}"),
    ("DELETE", "/v3/webhooks/{id}"),
    ("POST", "/v3/webhooks/{id}/rotate-secret"),
    ("PATCH", "/v3/webhooks/{id}/toggle-status"),
    ("POST", "/v3/webhooks/{id}/test"),
    ("GET", "/v3/webhooks/{id}/events"),
)


if TYPE_CHECKING:
    _Action = Callable[[web.Request, _Endpoint], Awaitable[bytes]]


class _FieldError(Exception):
    """A body field's value is refused; the message is the API's detail text."""


def _url_field(value: object) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise _FieldError("endpoint_url must be an http(s) URL")
    return value


def _event_types_field(value: object) -> list[str]:
    if not isinstance(value, list) or not all(t in EVENT_TYPES for t in value):
        raise _FieldError(f"event_types must be a list of {sorted(EVENT_TYPES)}")
    return list(value)


def _event_filters_field(value: object) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise _FieldError("event_filters must be an object")
    return {k: list(v) for k, v in value.items()}


def _int_field(name: str, low: int, high: int) -> Callable[[object], int]:
    """Return the check of an integer field that must lie within ``low..high``."""

    def check(value: object) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise _FieldError(f"{name} must be between {low} and {high}")
        return value

    return check


#: Updatable fields in the order their errors are listed: (name, null means "unchanged", check).
_FIELDS: Final[tuple[tuple[str, bool, Callable[[object], object]], ...]] = (
    ("endpoint_url", False, _url_field),
    ("display_name", False, str),
    ("event_types", True, _event_types_field),
    ("event_filters", True, _event_filters_field),
    ("retry_count", True, _int_field("retry_count", 1, 5)),
    ("timeout_seconds", True, _int_field("timeout_seconds", 5, 120)),
)


def _checked_fields(body: dict[str, Any]) -> tuple[dict[str, object], dict[str, list[str]]]:
    """Return (the new value of each field ``body`` sets, the API's details of refused ones)."""
    changes: dict[str, object] = {}
    errors: dict[str, list[str]] = {}
    for name, null_is_unset, check in _FIELDS:
        if name not in body or (null_is_unset and body[name] is None):
            continue
        try:
            changes[name] = check(body[name])
        except _FieldError as exc:
            errors[name] = [str(exc)]
    return changes, errors


def _new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class WebhookHub:
    """The simulator's webhook endpoints and their delivery queue."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self._rng = seeded_rng(f"{sim.seed}:webhooks")
        self.endpoints: dict[str, _Endpoint] = {}
        self.faults = WebhookFaults()
        self._queue: list[_Delivery] = []
        self._seq = itertools.count()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._sending: set[asyncio.Task[None]] = set()
        #: Delivery attempts made, and events that reached a 2xx.
        self.attempts = 0
        self.delivered = 0
        #: ``(action after the endpoint id, method)`` -> handler of ``/v3/webhooks/{id}/...``.
        self._actions: dict[tuple[str, str], _Action] = {
            ("", "GET"): self._show,
            ("", "PUT"): self._replace,
            ("", "PATCH"): self._replace,
            ("", "DELETE"): self._delete,
            ("rotate-secret", "POST"): self._rotate,
            ("toggle-status", "PATCH"): self._toggle,
            ("toggle-status", "POST"): self._toggle,
            ("test", "POST"): self._test,
            ("events", "GET"): self._events,
        }

    # -- management API ---------------------------------------------------------------------------

    async def handle(self, request: web.Request, meta: bytes) -> Reply | None:
        """Answer a ``/v3/webhooks...`` request; ``None`` for any other path."""
        parts = request.path.rstrip("/").split("/")
        if len(parts) < 3 or parts[1] != "v3" or parts[2] != "webhooks":
            return None
        rest, method = parts[3:], request.method
        try:
            data = await self._route(request, method, rest)
        except _BadRequestError as exc:
            return Reply(400, error_body("VALIDATION_001", meta, details=exc.details), {})
        if data is None:
            return Reply(404, error_body("RESOURCE_001", meta), {})
        if data == b"":
            return Reply(204, b"", {})
        return Reply(201 if method == "POST" and not rest else 200, ok_body(data, meta), {})

    async def _route(self, request: web.Request, method: str, rest: list[str]) -> bytes | None:
        if not rest:
            if method == "POST":
                return self._encode(self._create(await self._json(request)).public())
            if method == "GET":
                endpoints = [e.public() for e in self.endpoints.values()]
                return self._encode({"webhooks": endpoints, "pagination": _one_page(endpoints)})
            return None
        if rest == ["event-types"] and method == "GET":
            types = [_event_type(family, events) for family, events in EVENT_TYPES.items()]
            return self._encode({"event_types": types, "pagination": _one_page(types)})
        endpoint = self.endpoints.get(rest[0])
        if endpoint is None:
            return None
        return await self._route_one(request, method, endpoint, rest[1:])

    async def _route_one(
        self, request: web.Request, method: str, endpoint: _Endpoint, rest: list[str]
    ) -> bytes | None:
        action = rest[0] if rest else ""
        handler = self._actions.get((action, method))
        if handler is None:
            return None
        return await handler(request, endpoint)

    async def _show(self, _request: web.Request, endpoint: _Endpoint) -> bytes:
        return self._encode(endpoint.public())

    async def _replace(self, request: web.Request, endpoint: _Endpoint) -> bytes:
        self._update(endpoint, await self._json(request))
        return self._encode(endpoint.public())

    async def _delete(self, _request: web.Request, endpoint: _Endpoint) -> bytes:
        del self.endpoints[endpoint.id]
        return b""

    async def _rotate(self, _request: web.Request, endpoint: _Endpoint) -> bytes:
        endpoint.signing_secret = _new_secret()  # the old one stops working at once
        return self._encode({"signing_secret": endpoint.signing_secret})

    async def _toggle(self, request: web.Request, endpoint: _Endpoint) -> bytes:
        body = await self._json(request) if request.can_read_body else {}
        wanted = body.get("is_active")
        endpoint.is_active = wanted if isinstance(wanted, bool) else not endpoint.is_active
        endpoint.consecutive_failures = 0
        return self._encode(endpoint.public())

    async def _test(self, _request: web.Request, endpoint: _Endpoint) -> bytes:
        self._enqueue(endpoint, "message", "test", {"message_status": "TEST"}, 0.0)
        return self._encode({"success": True, "message": "A test event was queued"})

    async def _events(self, _request: web.Request, endpoint: _Endpoint) -> bytes:
        return self._encode({"events": endpoint.events, "pagination": _one_page(endpoint.events)})

    @staticmethod
    def _encode(data: object) -> bytes:
        return json.dumps(data).encode()

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise _BadRequestError({"body": ["Body must be a JSON object"]}) from None
        if not isinstance(body, dict):
            raise _BadRequestError({"body": ["Body must be a JSON object"]})
        return body

    def _create(self, body: dict[str, Any]) -> _Endpoint:
        url = body.get("endpoint_url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _BadRequestError({"endpoint_url": ["endpoint_url must be an http(s) URL"]})
        now = _now_iso()
        endpoint = _Endpoint(
            id=new_uuid(self._rng),
            display_name=str(body.get("display_name") or "webhook"),
            endpoint_url=url,
            event_types=["message"],
            event_filters={},
            signing_secret=_new_secret(),
            created_at=now,
            updated_at=now,
        )
        self._update(endpoint, body)
        self.endpoints[endpoint.id] = endpoint
        return endpoint

    def _update(self, endpoint: _Endpoint, body: dict[str, Any]) -> None:
        changes, errors = _checked_fields(body)
        if errors:  # a refused update changes nothing
            raise _BadRequestError(errors)
        for name, value in changes.items():
            setattr(endpoint, name, value)
        endpoint.updated_at = _now_iso()

    # -- deliveries -------------------------------------------------------------------------------

    def schedule(self, message: Message) -> None:
        """Queue the status events of a new message for every subscribed endpoint."""
        if not any(e.is_active for e in self.endpoints.values()):
            return
        for step in message.steps:
            if step.status in _NOT_PUSHED:
                continue
            at = message.created_real + step.offset / self._sim.speed
            updated = message.created_wall.timestamp() + step.offset
            payload = {
                "message_id": message.id,
                "message_status": step.status,
                "channel": message.channel,
                "outbound_number": message.to,
                "body": message.body,
                "updated_at": format_ts(datetime.fromtimestamp(updated, UTC), 0),
            }
            for endpoint in list(self.endpoints.values()):
                self._enqueue(endpoint, "message", step.status.lower(), payload, at)

    def _enqueue(
        self, endpoint: _Endpoint, family: str, event: str, payload: dict[str, Any], at: float
    ) -> None:
        if not endpoint.wants(family, event) and event != "test":
            return
        rng, faults = self._rng, self.faults
        if rng.random() < faults.drop:
            return
        if rng.random() < faults.delay or rng.random() < faults.reorder:
            at += rng.random() * faults.max_delay
        event_id = new_uuid(rng)
        envelope = {
            "field": family,
            "event": f"{family}.{event}",
            "timestamp": _now_iso(),
            "request_id": new_uuid(rng),
            "payload": payload,
        }
        body = json.dumps(envelope).encode()
        copies = 2 if rng.random() < faults.duplicate else 1
        bad = rng.random() < faults.bad_signature
        for copy in range(copies):
            due = max(at, time.monotonic()) + copy * 0.01
            heapq.heappush(
                self._queue,
                _Delivery(due, next(self._seq), endpoint.id, event_id, body, 0, bad and not copy),
            )
        self._kick()

    def _kick(self) -> None:
        if self._task is None:
            with contextlib.suppress(RuntimeError):  # no running loop: started by the next call
                self._wake = asyncio.Event()
                self._task = asyncio.get_running_loop().create_task(self._run())
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        assert self._wake is not None  # noqa: S101 - _kick set it
        while True:
            self._wake.clear()
            now = time.monotonic()
            if self._queue and self._queue[0].due <= now:
                delivery = heapq.heappop(self._queue)
                task = asyncio.get_running_loop().create_task(self._attempt(delivery))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
                continue
            timeout = self._queue[0].due - now if self._queue else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _attempt(self, delivery: _Delivery) -> None:
        endpoint = self.endpoints.get(delivery.endpoint_id)
        if endpoint is None or not endpoint.is_active:
            return
        if self._session is None:
            self._session = aiohttp.ClientSession()
        stamp = int(time.time())
        webhook_id = f"msg_{delivery.event_id}"
        signature = sign(
            delivery.body, endpoint.signing_secret, webhook_id=webhook_id, timestamp=stamp
        )
        if delivery.bad_signature:
            signature = "v1," + base64.b64encode(b"\x00" * 32).decode()
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-ID": webhook_id,
            "X-Webhook-Timestamp": str(stamp),
            "X-Webhook-Signature": signature,
            "X-Webhook-Event-ID": delivery.event_id,
        }
        self.attempts += 1
        endpoint.last_delivery_attempt_at = _now_iso()
        status = 0
        try:
            async with self._session.post(
                endpoint.endpoint_url,
                data=delivery.body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=endpoint.timeout_seconds / 10),
            ) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError):
            status = 0
        self._record(endpoint, delivery, status)

    def _record(self, endpoint: _Endpoint, delivery: _Delivery, status: int) -> None:
        if 200 <= status < 300:
            self.delivered += 1
            endpoint.consecutive_failures = 0
            endpoint.last_successful_delivery_at = _now_iso()
            self._log(endpoint, delivery, "DELIVERED", status)
            return
        if delivery.attempt < endpoint.retry_count:
            retry = _Delivery(
                time.monotonic() + _RETRY_DELAY * 2**delivery.attempt,
                next(self._seq),
                delivery.endpoint_id,
                delivery.event_id,
                delivery.body,
                delivery.attempt + 1,
            )
            heapq.heappush(self._queue, retry)
            self._kick()
            return
        self._log(endpoint, delivery, "FAILED", status)
        endpoint.consecutive_failures += 1
        if endpoint.consecutive_failures >= AUTO_DISABLE_AFTER:
            endpoint.is_active = False

    @staticmethod
    def _log(endpoint: _Endpoint, delivery: _Delivery, outcome: str, status: int) -> None:
        event = json.loads(delivery.body)
        endpoint.events.append(
            {
                "id": delivery.event_id,
                "event_type": event.get("event") if isinstance(event, dict) else None,
                "delivery_status": outcome,
                "delivery_attempts": delivery.attempt + 1,
                "http_status_code": status or None,
                "event_data": event,
                "created_at": _now_iso(),
            }
        )
        del endpoint.events[:-1000]  # a bounded log

    async def aclose(self) -> None:
        """Stop delivering and close the delivery session."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sending in list(self._sending):
            sending.cancel()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def _one_page(items: list[Any]) -> dict[str, Any]:
    size = len(items)
    return {
        "page": 1,
        "page_size": max(1, size),
        "total_count": size,
        "total_pages": 1,
        "has_more": False,
    }


def _event_type(family: str, events: list[str]) -> dict[str, Any]:
    """One event family as the API lists it, its events as ``sub_types``."""
    subs = [
        {"name": f"{family}.{event}", "display_name": event.replace("_", " ").title()}
        for event in events
    ]
    return {
        "name": family,
        "display_name": family.title(),
        "event_type": family,
        "is_active": True,
        "sub_types": subs,
    }
