"""The simulator's aiohttp.web application: routing, auth, rate limit, faults, stats, lifecycle."""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import msgspec
from aiohttp import web

from sentdm_async.simulator._contacts import CHANNELS, ContactBook
from sentdm_async.simulator._faults import (
    Fault,
    FaultQueue,
    FaultRates,
    fault_reply,
    stream_oversize,
)
from sentdm_async.simulator._http import (
    MetaFactory,
    Reply,
    SimStats,
    TokenBucket,
    error_body,
    match_route,
    ok_body,
)
from sentdm_async.simulator._model import (
    Message,
    OutcomeMix,
    format_ts,
    new_uuid,
    plan_lifecycle,
    seeded_rng,
)
from sentdm_async.simulator._resources import ResourceRoutes
from sentdm_async.simulator._validate import (
    IDEMPOTENCY_KEY,
    InvalidRequestError,
    SendRequest,
    Template,
    parse_int,
    parse_send,
)
from sentdm_async.simulator._webhooks import ENDPOINTS as WEBHOOK_ENDPOINTS
from sentdm_async.simulator._webhooks import WebhookHub

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

_DEFAULT_MIX: Final = OutcomeMix()
#: The message and contact-list endpoints `Simulator._answer` routes itself.
_CORE_ENDPOINTS: Final = (
    ("POST", "/v3/messages"),
    ("GET", "/v3/messages/{id}"),
    ("GET", "/v3/messages/{id}/activities"),
    ("GET", "/v3/contacts"),
)
_IDEMPOTENCY_CACHE: Final = 100_000  # entries kept before the oldest is evicted
_SHUTDOWN_TIMEOUT: Final = 0.5  # seconds close() waits for running handlers before cancelling


class Simulator:
    """A fake Sent v3 server on a real socket, deterministic for a given seed.

    Args:
        api_key: the only accepted ``x-api-key``.
        seed: seeds every random choice (ids, outcomes, timings, faults, contacts).
        speed: simulated seconds per real second (90 runs a 90 s lifecycle in 1 s).
        rate_limit: real requests per real minute; None or 0 = no limit. Not scaled by ``speed``.
        burst: bucket capacity; None = ``min(50, rate_limit)``.
        mix: outcome weights and WhatsApp share for drawn outcomes.
        contacts: how many contacts to seed.
        latency: extra real seconds before every response (mutable attribute).

    Attributes:
        app: the ``aiohttp.web.Application``; also runs under ``aiohttp.test_utils.TestServer``.
        stats: what was served so far (`SimStats`).
        latency: extra real seconds before every response; change it at any time.
        mix: the `OutcomeMix` used for drawn outcomes; may be replaced at any time.
        customer_id: the customer id shown on messages and contacts.

    Example:
        >>> async with Simulator(speed=90) as sim:  # doctest: +SKIP
        ...     ids = sim.create_messages(10)
        ...     # point a client at sim.base_url with x-api-key sim.api_key
    """

    def __init__(
        self,
        *,
        api_key: str = "sk_test_simulator",
        seed: int = 0,
        speed: float = 1.0,
        rate_limit: int | None = None,
        burst: int | None = None,
        mix: OutcomeMix = _DEFAULT_MIX,
        contacts: int = 250,
        latency: float = 0.0,
    ) -> None:
        if not speed > 0:
            msg = f"speed must be > 0, got {speed}"
            raise ValueError(msg)
        if rate_limit is not None and rate_limit < 0:
            msg = f"rate_limit must be >= 0 (0 or None = off), got {rate_limit}"
            raise ValueError(msg)
        self.api_key = api_key
        self.seed = seed
        self.speed = float(speed)
        self.mix = mix
        self.latency = latency
        self.stats = SimStats()
        self._rng = seeded_rng(seed)
        self._meta = MetaFactory(seeded_rng(f"{seed}:requests"))
        book_rng = seeded_rng(f"{seed}:contacts")
        self.customer_id = new_uuid(book_rng)
        self._senders = [f"+1555{book_rng.randrange(10**7):07d}" for _ in range(3)]
        self._book = ContactBook(book_rng, contacts, self.customer_id)
        self._bucket = (
            TokenBucket(rate_limit, burst if burst is not None else min(50, rate_limit))
            if rate_limit
            else None
        )
        self._messages: dict[str, Message] = {}
        self._adhoc_contacts: dict[str, str] = {}
        self._idempotency: dict[str, tuple[Reply, str]] = {}
        self._idempotency_pending: set[str] = set()
        self._faults = FaultQueue(seeded_rng(f"{seed}:faults"))
        self._created_real = time.monotonic()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        #: Webhook endpoints registered through the API, their deliveries and `faults`.
        self.webhooks = WebhookHub(self)
        #: The v3 endpoints beyond messages (contacts CRUD, templates, profiles, voice...).
        self.resources = ResourceRoutes(self)
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Return ``http://HOST:PORT`` of the running server.

        Raises:
            RuntimeError: the simulator was not started with `start`.
        """
        if self._base_url is None:
            msg = "Simulator is not started; call await sim.start() or use 'async with'"
            raise RuntimeError(msg)
        return self._base_url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 = a free port) and return the base URL."""
        if self._runner is not None:
            msg = "Simulator already started"
            raise RuntimeError(msg)
        runner = web.AppRunner(
            self.app, handle_signals=False, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self._base_url = f"http://{shown}:{bound_port}"
        return self._base_url

    async def close(self) -> None:
        """Stop serving; idempotent. Running handlers get a short grace period, then cancel."""
        runner, self._runner = self._runner, None
        self._base_url = None
        await self.webhooks.aclose()
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- seeding and inspection ------------------------------------------------------------------

    def endpoints(self) -> list[tuple[str, str]]:
        """Return ``(method, path pattern)`` of every endpoint served (``/v3/voice/calls/{id}``)."""
        return [*_CORE_ENDPOINTS, *WEBHOOK_ENDPOINTS, *self.resources.endpoints]

    def contacts(self) -> list[dict[str, Any]]:
        """Return the contact records as ``GET /v3/contacts`` shows them (copies).

        The seeded ones come first, in seeding order (a pure function of ``seed``), then those
        created through the API; a deleted contact is gone, an updated one shows its update.
        """
        return self._book.records()

    def clock(self) -> float:
        """Return simulated seconds since the simulator was created."""
        return (time.monotonic() - self._created_real) * self.speed

    def _create(
        self,
        *,
        outcome: str,
        channel: str,
        to: str,
        message_id: str | None = None,
        scheduled_at: datetime | None = None,
        visible_after: float = 0.0,
        body: str = "Hello from the Sent simulator",
        template: tuple[str, str | None, str] | None = None,
    ) -> Message:
        rng = self._rng
        if channel == "sent":
            channel = "whatsapp" if rng.random() < self.mix.whatsapp_share else "sms"
        now_real, now_wall = time.monotonic(), datetime.now(UTC)
        release = None
        if scheduled_at is not None:
            release = (scheduled_at - now_wall).total_seconds()
        steps = plan_lifecycle(rng, outcome, channel, release=release, delivery=self.mix.delivery)
        if message_id is None:
            message_id = new_uuid(rng)
        elif message_id in self._messages:
            msg = f"message id {message_id!r} already exists"
            raise ValueError(msg)
        contact_id = self._book.by_phone.get(to) or self._adhoc_contacts.get(to)
        if contact_id is None:
            contact_id = self._adhoc_contacts[to] = new_uuid(rng)
        message = Message(
            message_id=message_id,
            channel=channel,
            to=to,
            steps=steps,
            created_real=now_real,
            created_wall=now_wall,
            sender=rng.choice(self._senders),
            contact_id=contact_id,
            customer_id=self.customer_id,
            body=body,
            template=template,
            scheduled_at=scheduled_at.astimezone(UTC) if scheduled_at is not None else None,
            visible_after=visible_after,
        )
        self._messages[message_id] = message
        self.webhooks.schedule(message)
        return message

    def create_message(
        self,
        *,
        outcome: str = "delivered",
        channel: str = "sms",
        to: str = "+15550100000",
        message_id: str | None = None,
        scheduled_at: datetime | None = None,
        visible_after: float = 0.0,
    ) -> str:
        """Seed one message directly (no HTTP, no rate limit, not counted in stats).

        Args:
            outcome: one of ``delivered``, ``read``, ``failed``, ``blocked``, ``filtered``,
                ``no_receipt`` (``read`` on SMS becomes ``delivered``).
            channel: ``sms``, ``whatsapp`` or ``sent`` (drawn by ``mix.whatsapp_share``).
            to: recipient phone number (E.164).
            message_id: the id to use; None = a uuid4-style id from the seeded RNG.
            scheduled_at: an aware datetime to hold the message until (SCHEDULED first).
            visible_after: simulated seconds during which GETs answer 404 ``RESOURCE_003``.

        Returns:
            The message id.

        Raises:
            ValueError: unknown outcome or channel, naive ``scheduled_at`` or a duplicate id.
        """
        if channel not in {"sms", "whatsapp", "sent"}:
            msg = f"unknown channel {channel!r}; expected 'sms', 'whatsapp' or 'sent'"
            raise ValueError(msg)
        if scheduled_at is not None and scheduled_at.tzinfo is None:
            msg = "scheduled_at must be timezone-aware"
            raise ValueError(msg)
        return self._create(
            outcome=outcome,
            channel=channel,
            to=to,
            message_id=message_id,
            scheduled_at=scheduled_at,
            visible_after=visible_after,
        ).id

    def create_messages(
        self,
        n: int,
        *,
        outcome: str | None = None,
        channel: str = "sent",
        to: str | None = None,
        scheduled_at: datetime | None = None,
        visible_after: float = 0.0,
    ) -> list[str]:
        """Seed ``n`` messages, outcomes drawn from the mix unless ``outcome`` is given.

        Args:
            n: how many messages.
            outcome: a fixed outcome for all; None = draw each from ``mix``.
            channel: as in `create_message`; the default ``sent`` draws per message.
            to: one recipient for all; None = cycle through the seeded contacts.
            scheduled_at: as in `create_message`.
            visible_after: as in `create_message`.

        Returns:
            The message ids in creation order.
        """
        phones = self._book.phones() or ["+15550100000"]
        return [
            self.create_message(
                outcome=outcome if outcome is not None else self.mix.draw(self._rng),
                channel=channel,
                to=to if to is not None else phones[i % len(phones)],
                scheduled_at=scheduled_at,
                visible_after=visible_after,
            )
            for i in range(n)
        ]

    def terminal_at(self, message_id: str) -> float | None:
        """Return the ``time.monotonic()`` at which the message turns terminal, None if never.

        Raises:
            KeyError: unknown message id.
        """
        message = self._messages[message_id]
        offset = message.terminal_offset()
        return None if offset is None else message.created_real + offset / self.speed

    def lifecycle(self, message_id: str) -> list[tuple[float, str]]:
        """Return the planned (real seconds after creation, status) pairs, oldest first."""
        return [(s.offset / self.speed, s.status) for s in self._messages[message_id].steps]

    def now_status(self, message_id: str) -> str:
        """Return the message's current status (even while it is not yet visible)."""
        message = self._messages[message_id]
        return message.steps[message.visible_count(self._age(message)) - 1].status

    def _age(self, message: Message) -> float:
        return (time.monotonic() - message.created_real) * self.speed

    # -- faults ----------------------------------------------------------------------------------

    @property
    def fault_rates(self) -> dict[str, float]:
        """Per-request probabilities of spontaneous faults, keys ``500 502 503 504 drop``.

        Assigning a dict or setting items validates keys and values; draws use the seeded RNG.
        """
        return self._faults.rates

    @fault_rates.setter
    def fault_rates(self, rates: Mapping[str, float]) -> None:
        self._faults.rates = FaultRates(rates)

    def inject(
        self,
        kind: str,
        *,
        times: int = 1,
        route: str | None = None,
        status: int = 500,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        size: int = 11 * 1024 * 1024,
        body: bytes = b"",
    ) -> None:
        """Queue a fault for the next ``times`` requests matching ``route`` (FIFO).

        Args:
            kind: one of `FAULT_KINDS`.
            times: how many requests it hits.
            route: ``activities``, ``status``, ``send``, ``contacts``, ``other``; None = any.
            status: HTTP status for ``status`` (and ``html`` when not 500).
            code: error code for ``status``; None = the usual code for ``status``.
            headers: extra response headers (e.g. ``{"Retry-After": "2"}``); every kind but
                ``drop`` and ``delay`` sends them.
            delay: real seconds to wait for ``delay``.
            size: body bytes for ``oversize``.
            body: the exact body of ``raw``, sent with ``status`` and ``headers`` as they are
                (e.g. a gzip bomb with ``Content-Encoding: gzip``, or a 302 with a hostile
                ``Location``); a ``Content-Type`` header is sent only if given.

        Raises:
            ValueError: unknown kind or route, or an out-of-range number.
        """
        fault = Fault(kind, route, status, code, dict(headers or {}), delay, size, bytes(body))
        self._faults.add(fault, times)

    def clear_faults(self) -> None:
        """Forget every queued fault (spontaneous ``fault_rates`` are left alone)."""
        self._faults.clear()

    # -- request handling ------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        stats = self.stats
        stats.requests += 1
        stats.last_request_at = time.monotonic()
        stats.in_flight += 1
        stats.peak_in_flight = max(stats.in_flight, stats.peak_in_flight)
        try:
            return await self._serve(request)
        finally:
            stats.in_flight -= 1

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        route_name, message_id = match_route(request.method, request.path)
        self.stats.by_route[route_name] += 1
        if message_id is not None:
            self.stats.by_message[message_id] += 1
        fault = self._faults.take(route_name)
        request_id = self._meta.request_id()
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.delay)
            fault = None
        if fault is not None and fault.kind in ("drop", "oversize"):
            return await self._unanswerable(request, fault, message_id, request_id)
        reply = await self._reply(request, fault, route_name, message_id, request_id)
        return await self._respond(request, reply, fault, request_id)

    async def _reply(
        self,
        request: web.Request,
        fault: Fault | None,
        route: str,
        message_id: str | None,
        request_id: str,
    ) -> Reply:
        """Return the answer, or the injected ``fault``'s (a truncation cuts the real answer)."""
        if fault is not None and fault.kind != "truncated":
            return fault_reply(fault, self._meta.meta(request_id))
        reply = await self._answer(request, route, message_id, request_id)
        if fault is not None:  # truncated: same headers, half the body, status 200
            reply.status, reply.body = 200, reply.body[: len(reply.body) // 2]
        return reply

    async def _respond(
        self, request: web.Request, reply: Reply, fault: Fault | None, request_id: str
    ) -> web.Response:
        """Add the common headers, wait out ``latency``, count the status and send ``reply``."""
        headers = reply.headers
        if fault is not None and fault.headers:
            headers.update(fault.headers)
        headers["X-Request-Id"] = request_id
        headers["X-API-Version"] = "v3"
        self._common_headers(request, headers)
        try:
            if self.latency > 0:
                await asyncio.sleep(self.latency)
        finally:
            if reply.pending_key is not None:
                self._idempotency_pending.discard(reply.pending_key)
        self.stats.by_status[reply.status] += 1
        if reply.status == 429:
            self.stats.rate_limited += 1
        return web.Response(
            status=reply.status,
            body=reply.body,
            headers=headers,
            content_type=reply.content_type or None,
        )

    async def _unanswerable(
        self, request: web.Request, fault: Fault, message_id: str | None, request_id: str
    ) -> web.StreamResponse:
        """Answer a ``drop`` (close the connection) or an ``oversize`` (stream a huge body)."""
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if fault.kind == "drop":
            self.stats.by_status[0] += 1
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)  # written to a closed transport: aiohttp drops it
        headers = {**(fault.headers or {}), "X-Request-Id": request_id, "X-API-Version": "v3"}
        self._common_headers(request, headers)
        self.stats.by_status[200] += 1
        meta = self._meta.meta(request_id)
        return await stream_oversize(request, fault.size, meta, message_id, headers)

    def _common_headers(self, request: web.Request, headers: dict[str, str]) -> None:
        if self._bucket is not None and "X-RateLimit-Limit" not in headers:
            headers.update(self._bucket.headers())
        profile = request.headers.get("x-profile-id")
        if profile is not None:
            headers["X-Profile-Id"] = profile

    def _ok(self, status: int, data: bytes, request_id: str) -> Reply:
        return Reply(status, ok_body(data, self._meta.meta(request_id)), {})

    def _error(
        self,
        status: int,
        code: str,
        request_id: str,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        body = error_body(code, self._meta.meta(request_id), details=details)
        return Reply(status, body, dict(headers or {}))

    async def _answer(
        self, request: web.Request, route: str, message_id: str | None, request_id: str
    ) -> Reply:
        """Run auth, the rate limit and the route handler."""
        refusal = self._refusal(request, request_id)
        if refusal is not None:
            return refusal
        try:
            reply = await self._route(request, route, message_id, request_id)
        except InvalidRequestError as exc:
            return self._error(400, exc.code, request_id, details=exc.details)
        return reply if reply is not None else self._error(404, "RESOURCE_000", request_id)

    def _refusal(self, request: web.Request, request_id: str) -> Reply | None:
        """Return the 401 of a missing or wrong key or the 429 of an empty bucket, else None."""
        key = request.headers.get("x-api-key")
        if not key:
            return self._error(401, "AUTH_001", request_id)
        if not secrets.compare_digest(key.encode(), self.api_key.encode()):
            return self._error(401, "AUTH_002", request_id)
        wait = self._bucket.take() if self._bucket is not None else 0.0
        if wait > 0:
            headers = {
                "Retry-After": str(max(1, math.ceil(wait))),
                "retry-after-ms": str(math.ceil(wait * 1000)),
            }
            return self._error(429, "BUSINESS_002", request_id, headers=headers)
        return None

    async def _route(
        self, request: web.Request, route: str, message_id: str | None, request_id: str
    ) -> Reply | None:
        """Return the answer of the route's handler, None for an unknown endpoint."""
        if message_id is not None:  # the activities and status routes
            return self._get_message(route, message_id, request_id)
        if route == "contacts":
            return self._contacts(request, request_id)
        if route == "send":
            return await self._send(request, request_id)
        reply = await self.webhooks.handle(request, self._meta.meta(request_id))
        if reply is None:
            reply = await self.resources.answer(request, request_id)
        return reply

    def _get_message(self, route: str, message_id: str, request_id: str) -> Reply:
        message = self._messages.get(message_id)
        if message is not None:
            age = self._age(message)
            if age >= message.visible_after:
                count = message.visible_count(age)
                if route == "activities":
                    return self._ok(200, message.activities_data(count), request_id)
                return self._ok(200, message.status_data(count), request_id)
        return self._error(404, "RESOURCE_003", request_id)

    def _contacts(self, request: web.Request, request_id: str) -> Reply:
        query = request.query
        page = parse_int(query.get("page"), 1, 1, None, "page")
        page_size = parse_int(query.get("page_size"), 20, 1, 100, "page_size")
        channel = query.get("channel", "")
        if channel and channel not in CHANNELS:
            details = {"channel": ["channel must be one of sms, whatsapp"]}
            raise InvalidRequestError("VALIDATION_006", details)
        data = self._book.page(
            page=page,
            page_size=page_size,
            search=query.get("search", ""),
            channel=channel,
            phone=query.get("phone", ""),
        )
        return self._ok(200, data, request_id)

    async def _send(self, request: web.Request, request_id: str) -> Reply:
        key = request.headers.get("Idempotency-Key")
        replay = self._checked_replay(key, request_id)
        if replay is not None:
            return replay
        send = parse_send(_decode_json(await request.read()), datetime.now(UTC))
        # A duplicate may have finished while this body was being read.
        replay = self._replay(key, request_id) if key is not None else None
        if replay is not None:
            return replay
        reply = self._ok(202, self._create_from(send), request_id)
        if send.sandbox:
            reply.headers["X-Sandbox"] = "true"
        if key is not None:
            self._remember(key, reply, request_id)
        return reply

    def _checked_replay(self, key: str | None, request_id: str) -> Reply | None:
        """Return the answer to a repeated ``Idempotency-Key``; None for none or a new one.

        Raises:
            InvalidRequestError: the key does not have the documented format.
        """
        if key is None:
            return None
        if not IDEMPOTENCY_KEY.match(key):
            details = {"Idempotency-Key": ["must match ^[A-Za-z0-9_-]{1,255}$"]}
            raise InvalidRequestError("VALIDATION_007", details)
        return self._replay(key, request_id)

    def _remember(self, key: str, reply: Reply, request_id: str) -> None:
        """Keep a send's answer for replays; with latency, mark it in progress until sent."""
        self._idempotency[key] = (Reply(202, reply.body, dict(reply.headers)), request_id)
        if len(self._idempotency) > _IDEMPOTENCY_CACHE:
            del self._idempotency[next(iter(self._idempotency))]
        if self.latency > 0:
            # Until the first response is out, a duplicate gets 409 like the real API.
            self._idempotency_pending.add(key)
            reply.pending_key = key

    def _replay(self, key: str, request_id: str) -> Reply | None:
        if key in self._idempotency_pending:
            return self._error(409, "CONFLICT_001", request_id)
        cached = self._idempotency.get(key)
        if cached is None:
            return None
        first, original_id = cached
        replay = {"Idempotent-Replayed": "true", "X-Original-Request-Id": original_id}
        return Reply(first.status, first.body, first.headers | replay)

    def _create_from(self, send: SendRequest) -> bytes:
        """Create the messages of a validated send; return the encoded ``data``."""
        template = send.template
        text = send.text if send.text is not None else template.render() if template else ""
        record_template = _template_record(template)
        template_id, template_name = record_template[:2] if record_template else (None, None)
        recipients = [
            self._recipient(send, to, channel, text, record_template)
            for to in send.to
            for channel in send.channels
        ]
        data: dict[str, Any] = {
            "status": "QUEUED",
            "template_id": template_id,
            "template_name": template_name,
            "recipients": recipients,
        }
        if send.scheduled_at is not None:
            data["scheduled_at"] = format_ts(send.scheduled_at.astimezone(UTC), 0)
        return msgspec.json.encode(data)

    def _recipient(
        self,
        send: SendRequest,
        to: str,
        channel: str,
        text: str,
        template: tuple[str, str | None, str] | None,
    ) -> dict[str, str]:
        """Create one message of a send (none in a sandbox); return its ``recipients`` item."""
        if send.sandbox:
            chosen = self._sandbox_channel(channel)
            message_id = new_uuid(self._rng)
        else:
            message = self._create(
                outcome=self.mix.draw(self._rng),
                channel=channel,
                to=to,
                scheduled_at=send.scheduled_at,
                body=text,
                template=template,
            )
            self.stats.sends += 1
            chosen, message_id = message.channel, message.id
        return {"message_id": message_id, "to": to, "channel": chosen, "body": text}

    def _sandbox_channel(self, channel: str) -> str:
        """Return the channel a sandbox send reports: ``sent`` picks one like the mix would."""
        if channel != "sent":
            return channel
        return "whatsapp" if self._rng.random() < self.mix.whatsapp_share else "sms"


def _decode_json(raw: bytes) -> object:
    """Return the decoded request body; refuse one that is not JSON (``VALIDATION_001``)."""
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        details = {"body": ["Body must be valid JSON"]}
        raise InvalidRequestError("VALIDATION_001", details) from None


def _template_record(template: Template | None) -> tuple[str, str | None, str] | None:
    """Return the (id, name, category) a message records for ``template``; by name, a seeded id."""
    if template is None:
        return None
    template_id = template.id or new_uuid(seeded_rng(f"template:{template.name}"))
    return template_id, template.name, "UTILITY"
