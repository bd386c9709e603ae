"""``client.messages``: the message endpoints (activity log, status, send, list, resend, cancel)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Unpack

import msgspec

from sentdm_async._core.ids import filled_message_path
from sentdm_async._http.options import RequestOptions
from sentdm_async.resources._base import AsyncPager, Resource, decoder, page_params
from sentdm_async.types.messages import (
    ActivityLog,
    Message,
    MessagePage,
    SendResult,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from sentdm_async._http.options import RequestOptions

_MESSAGES: Final = decoder(MessagePage)
_MESSAGE: Final = decoder(Message)


def messages_of(page: MessagePage) -> list[Message]:
    """The messages of a page (the items an `AsyncPager` of messages yields)."""
    return page.items


__all__ = ["ACTIVITIES", "Messages", "SendBody", "messages_of"]

_STATUS: Final = decoder(Message)

ACTIVITIES: Final = decoder(ActivityLog)


_SEND: Final = decoder(SendResult)


_CHANNELS: Final = frozenset({"sms", "whatsapp", "rcs", "mms"})


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
        _check_content(self.text, self.template)
        if self.channels is not None and set(self.channels) - _CHANNELS:
            unknown = sorted(set(self.channels) - _CHANNELS)
            raise ValueError(f"channels: unknown channel(s) {unknown}")
        for url in self.media_urls or ():
            if not url.startswith("https://"):
                raise ValueError(f"media_urls must be https:// URLs, got {url!r}")


def _check_content(text: object, template: object) -> None:
    """Exactly one of a non-empty text and a template naming one of ``id`` and ``name``."""
    if (text is None) == (template is None):
        raise ValueError("pass exactly one of text= and template=")
    if text is not None and (not isinstance(text, str) or not text):
        raise ValueError("text must be a non-empty string")
    if template is not None and (
        not isinstance(template, Mapping) or ("id" in template) == ("name" in template)
    ):
        raise ValueError("template must be a mapping with exactly one of 'id' and 'name'")


def _send_time(scheduled_at: datetime | str | None) -> str | None:
    """``scheduled_at`` as the API's ISO-8601 string (an aware datetime or a non-empty str)."""
    if isinstance(scheduled_at, datetime):
        if scheduled_at.tzinfo is None:
            raise ValueError("scheduled_at must be timezone-aware (the API requires an offset)")
        return scheduled_at.isoformat()
    if isinstance(scheduled_at, str) and scheduled_at:
        return scheduled_at
    if scheduled_at is not None:
        raise TypeError("scheduled_at must be an aware datetime or an ISO-8601 string")
    return None


def _optional_strings(name: str, values: object) -> list[str] | None:
    return None if values is None else _strings(name, values)


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
) -> SendBody:
    if subject is not None and not isinstance(subject, str):
        raise TypeError("subject must be a str")
    body = SendBody(
        to=_strings("to", to),
        text=text,
        template=dict(template) if isinstance(template, Mapping) else template,
        channel=_optional_strings("channel", channel),
        channels=dict(channels) if channels is not None else None,
        media_urls=_optional_strings("media_urls", media_urls),
        subject=subject,
        scheduled_at=_send_time(scheduled_at),
        sandbox=None if sandbox is None else bool(sandbox),
    )
    return body


class Messages(Resource):
    """``client.messages``: activity log, status, send, list, resend and cancel.

    Bulk fetching and watchers are added on top of this class by `AsyncSent` (the orchestration
    layer sits above the resources).
    """

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
        return await self._call(
            "GET", filled_message_path(message_id, "/activities"), ACTIVITIES, options
        )

    async def retrieve_status(self, message_id: str, **options: Unpack[RequestOptions]) -> Message:
        """Fetch a message's current status and details (``GET /v3/messages/{id}``).

        Raises:
            NotFoundError: No such message (``RESOURCE_003``).
            InvalidIdError: ``message_id`` is empty or malformed (before any request).
            SentError: Any other API or connection failure.
        """
        return await self._call("GET", filled_message_path(message_id), _STATUS, options)

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
        return await self._call(
            "POST", "/v3/messages", _SEND, options, body=body, idempotency_key=idempotency_key
        )

    async def list_page(
        self,
        *,
        page: int = 1,
        page_size: int | None = None,
        status: str | None = None,
        channel: str | None = None,
        direction: str | None = None,
        contact_id: str | None = None,
        template_id: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        **options: Unpack[RequestOptions],
    ) -> MessagePage:
        """One page of the account's messages, most recent first (``GET /v3/messages``).

        Not in the official SDK; Sent's dashboard documents the list with filters, but not
        their names: the ones here are this library's best reading (see docs-api.md). Pass
        others with ``extra_query=``.

        Args:
            page: 1-indexed page number.
            page_size: Messages per page (``None``: the API's default).
            status: e.g. ``"SCHEDULED"``, ``"FAILED"``.
            channel: e.g. ``"sms"``.
            direction: ``"outbound"`` or ``"inbound"``.
            contact_id: Only this contact's messages.
            template_id: Only messages sent with this template.
            from_: Created at or after (aware datetime or ISO 8601), sent as ``from``.
            to: Created at or before, sent as ``to``.
            **options: Per-call `RequestOptions`.
        """
        params = page_params(
            page,
            page_size,
            status=status,
            channel=channel,
            direction=direction,
            contact_id=contact_id,
            template_id=template_id,
            to=to,
            **{"from": from_},
        )
        return await self._call("GET", "/v3/messages", _MESSAGES, options, params=params)

    def list(
        self,
        *,
        page_size: int | None = None,
        status: str | None = None,
        channel: str | None = None,
        direction: str | None = None,
        contact_id: str | None = None,
        template_id: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncPager[Message, MessagePage]:
        """Yield every message matching the filters (see `list_page`), page by page."""
        filters: dict[str, Any] = {
            "status": status,
            "channel": channel,
            "direction": direction,
            "contact_id": contact_id,
            "template_id": template_id,
            "from_": from_,
            "to": to,
        }
        page_params(1, page_size, **filters)

        def fetch(page: int) -> Awaitable[MessagePage]:
            return self.list_page(page=page, page_size=page_size, **filters, **options)

        return AsyncPager(fetch, messages_of)

    async def resend(
        self,
        message_id: str,
        *,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Message:
        """Send a finished message again under the same id (``POST /v3/messages/{id}/resend``).

        The message goes back to QUEUED, policies run again and it is billed again; webhooks
        fire again. A FILTERED or CANCELLED message is never resendable, nor is one still in
        flight (409).

        Raises:
            ConflictError: The message cannot be resent in its current status.
            NotFoundError: No such message (``RESOURCE_003``).
        """
        return await self._call(
            "POST",
            filled_message_path(message_id, "/resend"),
            _MESSAGE,
            options,
            idempotency_key=idempotency_key,
        )

    async def cancel(
        self,
        message_id: str,
        *,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Message:
        """Cancel a SCHEDULED message (``POST /v3/messages/{id}/cancel``); it ends CANCELLED.

        Cancelling is free and final; cancelling again answers the same. Within about a minute
        of ``scheduled_at`` the release can win the race.

        Raises:
            ConflictError: 409 ``BUSINESS_006``: the message is not SCHEDULED (in flight or
                finished).
            NotFoundError: No such message (``RESOURCE_003``).
        """
        return await self._call(
            "POST",
            filled_message_path(message_id, "/cancel"),
            _MESSAGE,
            options,
            idempotency_key=idempotency_key,
        )
