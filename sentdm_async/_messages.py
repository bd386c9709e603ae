"""Message endpoints (activity log, status, send), bulk fetching and watchers."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Unpack

import msgspec

from sentdm_async._bulk import ACTIVITIES, DEFAULT_BULK_CONCURRENCY, ActivityStream, activity_stream
from sentdm_async._checks import check_positive_int
from sentdm_async._ids import message_path
from sentdm_async._options import BaseRequestOptions, RequestOptions, check_request_options
from sentdm_async._time import json_decoder
from sentdm_async._watch import DEFAULT_WATCH_CONCURRENCY, PollPolicy, Watcher, WatchSettings, new_watcher
from sentdm_async._wire import Envelope
from sentdm_async.errors import SentError
from sentdm_async.models import TERMINAL_STATUSES, Activity, ActivityLog, Message, SendResult

if TYPE_CHECKING:
    from sentdm_async._transport import Transport

__all__ = ["Messages", "SendBody", "check_idempotency_key"]

_STATUS: Final = json_decoder(Envelope[Message])
_SEND: Final = json_decoder(Envelope[SendResult])
_ENCODER: Final = msgspec.json.Encoder()

_IDEMPOTENCY_KEY: Final = re.compile(r"[A-Za-z0-9_-]{1,255}")
_CHANNELS: Final = frozenset({"sms", "whatsapp", "rcs", "mms"})


def check_idempotency_key(key: object) -> str:
    """Return ``key``, or a new one when ``None``; refuse a key the API would refuse (400).

    Raises:
        ValueError: Not a string matching ``[A-Za-z0-9_-]{1,255}``.
    """
    if key is None:
        return uuid.uuid4().hex
    if not isinstance(key, str) or not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValueError("idempotency_key must match [A-Za-z0-9_-]{1,255}")
    return key


def _strings(name: str, values: object) -> list[str]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, Sequence) or not values:
        raise ValueError(f"{name} must be a non-empty list of strings")
    if not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError(f"every item of {name} must be a non-empty string, got {values!r}")
    return list(values)


class SendBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The body of ``POST /v3/messages``, checked in `__post_init__` before any request."""

    to: list[str]
    text: str | None = None
    template: dict[str, Any] | None = None
    channel: list[str] | None = None
    channels: dict[str, Any] | None = None
    media_urls: list[str] | None = None
    subject: str | None = None
    scheduled_at: str | None = None
    sandbox: bool | None = None

    def __post_init__(self) -> None:
        """Check what the API would refuse, so a mistake is a ValueError and not a 400."""
        if (self.text is None) == (self.template is None):
            raise ValueError("pass exactly one of text= and template=")
        if self.text is not None and (not isinstance(self.text, str) or not self.text):
            raise ValueError("text must be a non-empty string")
        template = self.template
        if template is not None and (
            not isinstance(template, Mapping) or ("id" in template) == ("name" in template)
        ):
            raise ValueError("template must be a mapping with exactly one of 'id' and 'name'")
        if self.channels is not None:
            unknown = set(self.channels) - _CHANNELS
            if unknown:
                raise ValueError(f"channels: unknown channel(s) {sorted(unknown)}")
        if self.media_urls is not None:
            for url in self.media_urls:
                if not url.startswith("https://"):
                    raise ValueError(f"media_urls must be https:// URLs, got {url!r}")


def _send_body(
    to: Sequence[str] | str,
    *,
    text: str | None,
    template: Mapping[str, Any] | None,
    channel: Sequence[str] | str | None,
    channels: Mapping[str, Any] | None,
    media_urls: Sequence[str] | None,
    subject: str | None,
    scheduled_at: datetime | str | None,
    sandbox: bool | None,
) -> bytes:
    when: str | None = None
    if isinstance(scheduled_at, datetime):
        if scheduled_at.tzinfo is None:
            raise ValueError("scheduled_at must be timezone-aware (the API requires an offset)")
        when = scheduled_at.isoformat()
    elif isinstance(scheduled_at, str) and scheduled_at:
        when = scheduled_at
    elif scheduled_at is not None:
        raise TypeError("scheduled_at must be an aware datetime or an ISO-8601 string")
    if subject is not None and not isinstance(subject, str):
        raise TypeError("subject must be a str")
    body = SendBody(
        to=_strings("to", to),
        text=text,
        template=dict(template) if isinstance(template, Mapping) else template,
        channel=None if channel is None else _strings("channel", channel),
        channels=dict(channels) if channels is not None else None,
        media_urls=None if media_urls is None else _strings("media_urls", media_urls),
        subject=subject,
        scheduled_at=when,
        sandbox=None if sandbox is None else bool(sandbox),
    )
    try:
        return _ENCODER.encode(body)
    except (TypeError, msgspec.EncodeError) as exc:
        raise TypeError(f"send body is not JSON-serialisable: {exc}") from None


class Messages:
    """``client.messages``: message endpoints, bulk fetching and watchers."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def retrieve_activities(
        self, message_id: str, **options: Unpack[RequestOptions]
    ) -> ActivityLog:
        """Fetch a message's activity log (``GET /v3/messages/{id}/activities``).

        Args:
            message_id: The message id.
            **options: Per-call `RequestOptions` (``profile_id``, ``timeout`` for the whole
                call, ``extra_headers``, ``extra_query``).

        Returns:
            The log, most recent activity first (`ActivityLog.chronological` reverses it).

        Raises:
            NotFoundError: No such message (``RESOURCE_003``).
            InvalidIdError: ``message_id`` is empty or malformed (before any request).
            SentError: Any other API or connection failure (see `sentdm_async.errors`).
        """
        return await self._transport.request(
            "GET", message_path(message_id, "/activities"), ACTIVITIES, options=options
        )

    async def retrieve_status(self, message_id: str, **options: Unpack[RequestOptions]) -> Message:
        """Fetch a message's current status and details (``GET /v3/messages/{id}``).

        Raises:
            NotFoundError: No such message (``RESOURCE_003``).
            InvalidIdError: ``message_id`` is empty or malformed (before any request).
            SentError: Any other API or connection failure.
        """
        return await self._transport.request(
            "GET", message_path(message_id), _STATUS, options=options
        )

    async def send(
        self,
        *,
        to: Sequence[str] | str,
        text: str | None = None,
        template: Mapping[str, Any] | None = None,
        channel: Sequence[str] | str | None = None,
        channels: Mapping[str, Any] | None = None,
        media_urls: Sequence[str] | None = None,
        subject: str | None = None,
        scheduled_at: datetime | str | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> SendResult:
        """Send a message to one or more recipients (``POST /v3/messages``).

        Every send carries an ``Idempotency-Key`` (yours, or a generated one) and the same key
        on every retry, so a retried send never creates a second message. A send cancelled
        while in flight (a ``timeout``, a cancelled task) may or may not have reached the API:
        call it again with the same ``idempotency_key`` to find out without sending twice (the
        API replays the first answer for 24 h).

        Args:
            to: Recipients in E.164 form (one string is one recipient); one message per
                recipient and channel.
            text: Free-form text (exactly one of ``text`` and ``template``).
            template: ``{"id": ...}`` or ``{"name": ...}`` plus ``"parameters": {...}``.
            channel: e.g. ``["sms"]``, ``["whatsapp"]``; default lets the API choose.
            channels: Per-channel sender options, e.g. ``{"sms": [{"from": ["+1555..."]}]}``.
            media_urls: https URLs of MMS media.
            subject: MMS subject.
            scheduled_at: Aware datetime (or ISO-8601 string with offset) 1 min to 30 days ahead.
            sandbox: Validate only; nothing is sent.
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            **options: Per-call `RequestOptions`.

        Returns:
            The accepted batch, with one `Recipient` (and message id) per created message.

        Raises:
            ValueError: Invalid arguments (before any request).
            SentError: The API refused the send, or no response after the retries.
        """
        body = _send_body(
            to,
            text=text,
            template=template,
            channel=channel,
            channels=channels,
            media_urls=media_urls,
            subject=subject,
            scheduled_at=scheduled_at,
            sandbox=sandbox,
        )
        return await self._transport.request(
            "POST",
            "/v3/messages",
            _SEND,
            body=body,
            idempotency_key=check_idempotency_key(idempotency_key),
            options=options,
        )

    def retrieve_activities_many(
        self,
        ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int = DEFAULT_BULK_CONCURRENCY,
        ordered: bool = False,
        **options: Unpack[RequestOptions],
    ) -> ActivityStream:
        """Fetch the activity logs of many messages, streaming, with bounded concurrency.

        ``ids`` is read lazily (a generator of millions of ids is fine): at most about
        ``2 x concurrency`` ids and answers are held at once. Every input id yields exactly one
        `ActivityResult`, a repeated id once per occurrence. Anything that goes wrong with one
        id or its response (an API or connection failure after the retries, a malformed id, a
        body that cannot be read) lands in ``result.error`` and the job goes on; an exception
        from the id source, a bug or cancellation propagates. Every request draws on the
        client's budget, through the job's own fair share.

        Args:
            ids: Message ids, an iterable or async iterable.
            concurrency: Most requests in flight at once (default 32); workers start only as
                ids arrive.
            ordered: Yield in input order (holding back answers that finish early, within a
                window of ``4 x concurrency`` ids) instead of as they complete.
            **options: Per-call `RequestOptions` for every request (``timeout`` bounds each).

        Returns:
            An `ActivityStream`; use ``async with`` so leaving stops every request.

        Raises:
            TypeError: ``ids`` is not iterable (a single string is refused too).
            ValueError: ``concurrency`` below 1.
        """
        check_request_options(options)
        return activity_stream(
            self._transport,
            ids,
            concurrency=check_positive_int("concurrency", concurrency),
            ordered=bool(ordered),
            options=options or None,
        )

    def watcher(
        self,
        *,
        until: Iterable[str] = TERMINAL_STATUSES,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        concurrency: int = DEFAULT_WATCH_CONCURRENCY,
        expect_pushes: bool = False,
        **options: Unpack[BaseRequestOptions],
    ) -> Watcher:
        """Create a `Watcher` to which ids can be added at any time (web apps, workers).

        Use it as ``async with client.messages.watcher() as w:``, call ``w.add(message_id)``
        whenever you have an id (with ``until=``/``timeout=`` of its own if it needs them) and
        ``w.finish()`` once you have no more, and read `WatchEvent` objects with
        ``async for event in w``.

        Args:
            until: Statuses that end a message's watch (a failure status always does).
            timeout: Seconds each message may be watched from when it is added; ``None`` means
                no limit. A message that runs out ends with a `WatchTimeoutError` event.
            poll: The polling cadence (default `PollPolicy()`).
            concurrency: Most polls in flight at once (the budget is usually the tighter bound).
            expect_pushes: A webhook receiver will push into this watcher (`Watcher.push`):
                messages wait for pushes from the start instead of being polled until the first
                one arrives. If none comes, the watcher polls as usual.
            **options: Per-call `RequestOptions` for the polls (``timeout`` is per message
                here; the polls are bounded by it).
        """
        settings = WatchSettings.build(
            until=until,
            timeout=timeout,
            poll=poll,
            concurrency=concurrency,
            expect_pushes=expect_pushes,
        )
        check_request_options(options)
        return new_watcher(self._transport, settings, options or None)

    def watch_many(
        self,
        ids: Iterable[str] | AsyncIterable[str],
        *,
        until: Iterable[str] = TERMINAL_STATUSES,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        concurrency: int = DEFAULT_WATCH_CONCURRENCY,
        expect_pushes: bool = False,
        **options: Unpack[BaseRequestOptions],
    ) -> Watcher:
        """Watch many messages through one scheduler and the client's one request budget.

        Yields `WatchEvent` objects: one per new activity of each message, in order
        (``done=True`` on the one that ends its watch), or one with ``error`` set and
        ``done=True`` when a message times out, fails permanently or is malformed. Every input
        id ends with exactly one ``done=True`` event. ``ids`` may be an async iterable that
        keeps producing while the watch runs; ``timeout`` counts for each message from when it
        is read.

        Args:
            ids: Message ids, an iterable or async iterable.
            until: Statuses that end a message's watch (a failure status always does).
            timeout: Seconds per message; ``None`` means no limit.
            poll: The polling cadence (default `PollPolicy()`).
            concurrency: Most polls in flight at once.
            expect_pushes: A webhook receiver will push into this watcher (see `watcher`).
            **options: Per-call `RequestOptions` for the polls.

        Returns:
            A `Watcher`; use ``async with`` so leaving stops the polling.
        """
        settings = WatchSettings.build(
            until=until,
            timeout=timeout,
            poll=poll,
            concurrency=concurrency,
            expect_pushes=expect_pushes,
        )
        check_request_options(options)
        return new_watcher(self._transport, settings, options or None, ids)

    async def watch(
        self,
        message_id: str,
        *,
        until: Iterable[str] = TERMINAL_STATUSES,
        timeout: float | None = None,  # noqa: ASYNC109 - the contract's name; we enforce it
        poll: PollPolicy | None = None,
        **options: Unpack[BaseRequestOptions],
    ) -> AsyncIterator[Activity]:
        """Yield each new activity of a message, oldest first, until its watch ends.

        The first poll comes promptly; later ones follow `PollPolicy` and the message's status.
        Ends after the first activity whose status is in ``until`` (or is a failure); if the
        log is already final at the first poll, yields what is there and ends. A 404 within
        ``poll.not_found_grace`` of the start means "not visible yet". Transient failures are
        retried; leaving the loop stops polling (use ``contextlib.aclosing`` to stop at once).

        Args:
            message_id: The message to watch.
            until: Statuses that end the watch (default `TERMINAL_STATUSES`).
            timeout: Seconds for the whole watch, a wall-clock bound; ``None`` means no limit.
            poll: The polling cadence (default `PollPolicy()`).
            **options: Per-call `RequestOptions` for the polls.

        Raises:
            WatchTimeoutError: ``timeout`` passed first (carries ``last_activity``).
            NotFoundError: Still unknown after the grace period.
            InvalidIdError: ``message_id`` is malformed (before any request).
            SentError: A permanent failure (e.g. `AuthenticationError`).
        """
        settings = WatchSettings.build(until=until, timeout=timeout, poll=poll, concurrency=1)
        check_request_options(options)
        async with new_watcher(self._transport, settings, options or None) as watcher:
            watcher.add(message_id)
            watcher.finish()
            async for event in watcher:
                if event.error is not None:
                    raise event.error
                if event.activity is not None:
                    yield event.activity

    async def wait_until_terminal(
        self,
        message_id: str,
        *,
        until: Iterable[str] = TERMINAL_STATUSES,
        timeout: float | None = None,  # noqa: ASYNC109 - as in watch()
        poll: PollPolicy | None = None,
        **options: Unpack[BaseRequestOptions],
    ) -> Activity:
        """Wait for a message to reach a status in ``until`` (or a failure) and return it.

        Takes the same arguments as `watch` and raises the same errors.
        """
        last: Activity | None = None
        async for activity in self.watch(
            message_id, until=until, timeout=timeout, poll=poll, **options
        ):
            last = activity
        if last is None:  # pragma: no cover - a watch always ends with an activity or raises
            raise SentError(f"watch of {message_id!r} ended without an activity")
        return last
