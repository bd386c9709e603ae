"""Message endpoints: activity log, status, send."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import msgspec

from ._bulk import ActivityStream
from ._ids import message_path
from .models import ActivityLog, Envelope, Message, SendResult

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
        if isinstance(concurrency, bool) or not isinstance(concurrency, int):
            raise TypeError(f"concurrency must be an int, got {type(concurrency).__name__}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        return ActivityStream(
            self._transport,
            _ACTIVITIES,
            ids,
            concurrency=concurrency,
            ordered=bool(ordered),
            profile_id=profile_id,
        )
