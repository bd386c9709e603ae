"""Message endpoints: activity log, status, send."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import msgspec

from ._bulk import ActivityStream, activity_stream
from ._checks import check_positive_int
from ._ids import message_path
from ._watch import PollPolicy, Watcher, new_watcher
from .errors import SentError
from .models import TERMINAL_STATUSES, Activity, ActivityLog, Envelope, Message, SendResult

if TYPE_CHECKING:
    from ._transport import Transport

__all__ = ["Messages"]

_ACTIVITIES: Final = msgspec.json.Decoder(Envelope[ActivityLog])
_STATUS: Final = msgspec.json.Decoder(Envelope[Message])
_SEND: Final = msgspec.json.Decoder(Envelope[SendResult])
_ENCODER: Final = msgspec.json.Encoder()

_IDEMPOTENCY_KEY: Final = re.compile(r"[A-Za-z0-9_-]{1,255}")


def _check_idempotency_key(key: object) -> str:
    if not isinstance(key, str) or not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValueError("idempotency_key must match [A-Za-z0-9_-]{1,255}")
    return key


def _send_body(
    *,
    to: Sequence[str],
    text: str | None,
    template: Mapping[str, Any] | None,
    channel: Sequence[str] | str | None,
    scheduled_at: datetime | str | None,
    sandbox: bool | None,
) -> bytes:
    if isinstance(to, str) or not isinstance(to, Sequence):
        raise TypeError("to must be a list of phone numbers (E.164), e.g. ['+15551234567']")
    recipients = list(to)
    if not recipients:
        raise ValueError("to must name at least one recipient")
    for number in recipients:
        if not isinstance(number, str) or not number.strip():
            raise ValueError(f"every recipient must be a non-empty string, got {number!r}")
    if (text is None) == (template is None):
        raise ValueError("pass exactly one of text= and template=")
    body: dict[str, Any] = {"to": recipients}
    if text is not None:
        if not isinstance(text, str) or not text:
            raise ValueError("text must be a non-empty string")
        body["text"] = text
    if template is not None:
        if not isinstance(template, Mapping) or ("id" in template) == ("name" in template):
            raise ValueError("template must be a mapping with exactly one of 'id' and 'name'")
        body["template"] = dict(template)
    if channel is not None:
        channels = [channel] if isinstance(channel, str) else list(channel)
        if not channels or not all(isinstance(c, str) and c for c in channels):
            raise ValueError("channel must be a non-empty list of channel names")
        body["channel"] = channels
    if scheduled_at is not None:
        if isinstance(scheduled_at, datetime):
            if scheduled_at.tzinfo is None:
                raise ValueError("scheduled_at must be timezone-aware (the API requires an offset)")
            body["scheduled_at"] = scheduled_at.isoformat()
        elif isinstance(scheduled_at, str) and scheduled_at:
            body["scheduled_at"] = scheduled_at
        else:
            raise TypeError("scheduled_at must be an aware datetime or an ISO-8601 string")
    if sandbox is not None:
        body["sandbox"] = bool(sandbox)
    try:
        return _ENCODER.encode(body)
    except (TypeError, msgspec.EncodeError) as exc:
        raise TypeError(f"send body is not JSON-serialisable: {exc}") from None


class Messages:
    """``client.messages``: message endpoints, bulk fetching and watchers."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def retrieve_activities(
        self, message_id: str, *, profile_id: str | None = None
    ) -> ActivityLog:
        """Fetch a message's activity log (``GET /v3/messages/{id}/activities``).

        Args:
            message_id: The message id.
            profile_id: ``x-profile-id`` for this call (overrides the client's).

        Returns:
            The log, most recent activity first (`ActivityLog.chronological` reverses it).

        Raises:
            NotFoundError: No such message (``RESOURCE_003``).
            SentError: Any other API or connection failure (see `sentdm_async.errors`).
            ValueError: ``message_id`` is empty or malformed (before any request).
        """
        return await self._transport.request(
            "GET", message_path(message_id, "/activities"), _ACTIVITIES, profile_id=profile_id
        )

    async def retrieve_status(self, message_id: str, *, profile_id: str | None = None) -> Message:
        """Fetch a message's current status and details (``GET /v3/messages/{id}``).

        Raises:
            NotFoundError: No such message (``RESOURCE_003``).
            SentError: Any other API or connection failure.
            ValueError: ``message_id`` is empty or malformed (before any request).
        """
        return await self._transport.request(
            "GET", message_path(message_id), _STATUS, profile_id=profile_id
        )

    async def send(
        self,
        *,
        to: Sequence[str],
        text: str | None = None,
        template: Mapping[str, Any] | None = None,
        channel: Sequence[str] | str | None = None,
        scheduled_at: datetime | str | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        profile_id: str | None = None,
    ) -> SendResult:
        """Send a message to one or more recipients (``POST /v3/messages``).

        Every send carries an ``Idempotency-Key`` (yours, or a generated one) and the same key
        on every retry, so a retried send never creates a second message.

        Args:
            to: Recipients in E.164 form; one message per recipient and channel.
            text: Free-form text (exactly one of ``text`` and ``template``).
            template: ``{"id": ...}`` or ``{"name": ...}`` plus ``"parameters": {...}``.
            channel: e.g. ``["sms"]``, ``["whatsapp"]``; default lets the API choose.
            scheduled_at: Aware datetime (or ISO-8601 string with offset) 1 min to 30 days ahead.
            sandbox: Validate only; nothing is sent.
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            profile_id: ``x-profile-id`` for this call.

        Returns:
            The accepted batch, with one `Recipient` (and message id) per created message.

        Raises:
            ValueError: Invalid arguments (before any request).
            SentError: The API refused the send, or no response after the retries.
        """
        body = _send_body(
            to=to,
            text=text,
            template=template,
            channel=channel,
            scheduled_at=scheduled_at,
            sandbox=sandbox,
        )
        key = (
            uuid.uuid4().hex if idempotency_key is None else _check_idempotency_key(idempotency_key)
        )
        return await self._transport.request(
            "POST",
            "/v3/messages",
            _SEND,
            body=body,
            headers={"Idempotency-Key": key},
            profile_id=profile_id,
        )

    def retrieve_activities_many(
        self,
        ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int = 32,
        ordered: bool = False,
        profile_id: str | None = None,
    ) -> ActivityStream:
        """Fetch the activity logs of many messages, streaming, with bounded concurrency.

        ``ids`` is read lazily (a generator of millions of ids is fine): at most about
        ``2 x concurrency`` ids and answers are held at once. Every input id yields exactly one
        `ActivityResult`, a repeated id once per occurrence. An API or connection failure for
        one id (after the transport's retries), or a malformed id, lands in ``result.error`` and
        the job goes on; an exception from the id source, a programming error or cancellation
        propagates. Every request draws on the client's shared rate budget.

        Args:
            ids: Message ids, an iterable or async iterable.
            concurrency: Most requests in flight at once (default 32).
            ordered: Yield in input order (holding back answers that finish early, within a
                window of ``4 x concurrency`` ids) instead of as they complete.
            profile_id: ``x-profile-id`` for these calls.

        Returns:
            An async iterator of `ActivityResult`; breaking out of the loop or cancelling stops
            every request. Use ``async with`` (or ``await stream.aclose()``) to also wait for them
            to stop.

        Raises:
            TypeError: ``ids`` is not iterable (a single string is refused too).
            ValueError: ``concurrency`` below 1.
        """
        return activity_stream(
            self._transport,
            _ACTIVITIES,
            ids,
            concurrency=check_positive_int("concurrency", concurrency),
            ordered=bool(ordered),
            profile_id=profile_id,
        )

    def watcher(
        self,
        *,
        until: Iterable[str] = TERMINAL_STATUSES,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        concurrency: int = 16,
        profile_id: str | None = None,
    ) -> Watcher:
        """Create a `Watcher` to which ids can be added at any time (web apps, workers).

        Use it as ``async with client.messages.watcher() as w:``, call ``w.add(message_id)``
        whenever you have an id and ``w.finish()`` once you have no more, and read
        `WatchEvent` objects with ``async for event in w``.

        Args:
            until: Statuses that end a message's watch (a failure status always does).
            timeout: Seconds each message may be watched from when it is added; ``None`` means
                no limit. A message that runs out ends with a `WatchTimeoutError` event.
            poll: The polling cadence (default `PollPolicy()`).
            concurrency: Most polls in flight at once (the budget is usually the tighter bound).
            profile_id: ``x-profile-id`` for the polls.
        """
        return new_watcher(
            self._transport,
            until=until,
            timeout=timeout,
            poll=poll,
            concurrency=concurrency,
            profile_id=profile_id,
        )

    def watch_many(
        self,
        ids: Iterable[str] | AsyncIterable[str],
        *,
        until: Iterable[str] = TERMINAL_STATUSES,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        concurrency: int = 16,
        profile_id: str | None = None,
    ) -> Watcher:
        """Watch many messages through one scheduler and the client's one request budget.

        Yields `WatchEvent` objects: one per new activity of each message, in order
        (``done=True`` on the one that ends its watch), or one with ``error`` set and
        ``done=True`` when a message times out or fails permanently. Every input id ends with
        exactly one ``done=True`` event. ``ids`` may be an async iterable that keeps producing
        while the watch runs; ``timeout`` counts for each message from when it is read.

        Args:
            ids: Message ids, an iterable or async iterable.
            until: Statuses that end a message's watch (a failure status always does).
            timeout: Seconds per message; ``None`` means no limit.
            poll: The polling cadence (default `PollPolicy()`).
            concurrency: Most polls in flight at once.
            profile_id: ``x-profile-id`` for the polls.

        Returns:
            A `Watcher`; break out of the loop, or use ``async with``, to stop polling.
        """
        return new_watcher(
            self._transport,
            ids,
            until=until,
            timeout=timeout,
            poll=poll,
            concurrency=concurrency,
            profile_id=profile_id,
        )

    async def watch(
        self,
        message_id: str,
        *,
        until: Iterable[str] = TERMINAL_STATUSES,
        timeout: float | None = None,  # noqa: ASYNC109 - the contract's name; we enforce it
        poll: PollPolicy | None = None,
        profile_id: str | None = None,
    ) -> AsyncIterator[Activity]:
        """Yield each new activity of a message, oldest first, until its watch ends.

        The first poll comes promptly; later ones follow `PollPolicy` and the message's status.
        Ends after the first activity whose status is in ``until`` (or is a failure); if the
        log is already final at the first poll, yields what is there and ends. A 404 within
        ``poll.not_found_grace`` of the start means "not visible yet". Transient failures are
        retried; leaving the loop stops polling.

        Args:
            message_id: The message to watch.
            until: Statuses that end the watch (default `TERMINAL_STATUSES`).
            timeout: Seconds for the whole watch; ``None`` means no limit.
            poll: The polling cadence (default `PollPolicy()`).
            profile_id: ``x-profile-id`` for the polls.

        Raises:
            WatchTimeoutError: ``timeout`` passed first (carries ``last_activity``).
            NotFoundError: Still unknown after the grace period.
            SentError: A permanent failure (e.g. `AuthenticationError`).
            ValueError: ``message_id`` or an option is invalid (before any request).
        """
        async with self.watcher(
            until=until, timeout=timeout, poll=poll, concurrency=1, profile_id=profile_id
        ) as watcher:
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
        profile_id: str | None = None,
    ) -> Activity:
        """Wait for a message to reach a status in ``until`` (or a failure) and return it.

        Takes the same arguments as `watch` and raises the same errors.
        """
        last: Activity | None = None
        async for activity in self.watch(
            message_id, until=until, timeout=timeout, poll=poll, profile_id=profile_id
        ):
            last = activity
        if last is None:  # pragma: no cover - a watch always ends with an activity or raises
            raise SentError(f"watch of {message_id!r} ended without an activity")
        return last
