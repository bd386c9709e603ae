"""Voice, under the official SDK's names: ``client.channels.voice`` and ``client.calls``.

``channels.voice``: numbers, tokens, the callback secret and its test; ``calls``: records,
recordings, hang-up and conference participants.

A voice number in a path is E.164 with its ``+`` sent as ``%2B``, as the API asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, TypeAlias, Unpack

from sentdm_async._pages import pages
from sentdm_async._resource import Resource, decoder, page_params
from sentdm_async._time import json_decoder
from sentdm_async._wire import Envelope
from sentdm_async.models_v3 import Call, CallPage, CallParticipant, CallRecordings, VoiceCallbackTest, VoiceNumber, VoiceNumberCreated, VoiceSecret, VoiceToken

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable
    from datetime import datetime

    from sentdm_async._options import RequestOptions
    from sentdm_async._transport import Transport

__all__ = ["Calls", "Channels", "Participants", "Voice"]

VoiceNumbers: TypeAlias = list[VoiceNumber]
CallParticipants: TypeAlias = list[CallParticipant]

_NUMBER: Final = decoder(VoiceNumber)
_NUMBERS: Final = json_decoder(Envelope[list[VoiceNumber]])
_CREATED: Final = decoder(VoiceNumberCreated)
_SECRET: Final = decoder(VoiceSecret)
_TOKEN: Final = decoder(VoiceToken)
_TEST: Final = decoder(VoiceCallbackTest)
_CALL: Final = decoder(Call)
_CALLS: Final = decoder(CallPage)
_RECORDINGS: Final = decoder(CallRecordings)
_PARTICIPANTS: Final = json_decoder(Envelope[list[CallParticipant]])
_RECORD_ACTIONS: Final = frozenset({"start", "stop"})


def _calls_of(page: CallPage) -> list[Call]:
    return page.items


class Voice(Resource):
    """``client.channels.voice``: the numbers that carry phone calls."""

    async def create(
        self,
        *,
        callback_url: str,
        number: str | None = None,
        area_code: str | None = None,
        default_for_app_calls: bool | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> VoiceNumberCreated:
        """Turn voice on for a number you hold, or get a new US one (``POST /v3/channels/voice``).

        Args:
            callback_url: Absolute http(s) URL Sent asks what to do with each call.
            number: One of your numbers (E.164); omit for a new number.
            area_code: For a new number only (e.g. ``"212"``); not with ``number``.
            default_for_app_calls: Make this the line app calls are placed from.
            sandbox: Validate only; nothing is bought or written (answered with 202).
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            **options: Per-call `RequestOptions`.

        Returns:
            The number, with ``callback_secret`` (shown this once).

        Raises:
            ValueError: Both ``number`` and ``area_code`` (the API refuses it too).
        """
        if number is not None and area_code is not None:
            raise ValueError("pass number= or area_code=, not both")
        body = {
            "callback_url": callback_url,
            "number": number,
            "area_code": area_code,
            "default_for_app_calls": default_for_app_calls,
            "sandbox": sandbox,
        }
        return await self._call(
            "POST",
            "/v3/channels/voice",
            _CREATED,
            options,
            body=body,
            idempotency_key=idempotency_key,
        )

    async def retrieve(self, number: str, **options: Unpack[RequestOptions]) -> VoiceNumber:
        """Fetch one voice number (``GET /v3/channels/voice/{number}``); no secret."""
        path = self._path("/v3/channels/voice/{number}", number=number)
        return await self._call("GET", path, _NUMBER, options)

    async def update(
        self,
        number: str,
        *,
        callback_url: str | None = None,
        default_for_app_calls: bool | None = None,
        status: str | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> VoiceNumber:
        """Change a voice number (``PATCH /v3/channels/voice/{number}``).

        Args:
            number: The number (E.164).
            callback_url: A new callback URL; the secret is kept.
            default_for_app_calls: Only ``True`` (the API refuses ``False``: move the default
                by giving it to another number).
            status: ``"ACTIVE"`` or ``"INACTIVE"``.
            sandbox: Validate only.
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            **options: Per-call `RequestOptions`.

        Raises:
            ValueError: None of ``callback_url``, ``default_for_app_calls``, ``status``.
        """
        if callback_url is None and default_for_app_calls is None and status is None:
            raise ValueError("pass at least one of callback_url, default_for_app_calls, status")
        path = self._path("/v3/channels/voice/{number}", number=number)
        body = {
            "callback_url": callback_url,
            "default_for_app_calls": default_for_app_calls,
            "status": status,
            "sandbox": sandbox,
        }
        return await self._call(
            "PATCH", path, _NUMBER, options, body=body, idempotency_key=idempotency_key
        )

    async def list(self, **options: Unpack[RequestOptions]) -> VoiceNumbers:
        """Every voice number, active or inactive, oldest first (``GET /v3/channels/voice``)."""
        return await self._call("GET", "/v3/channels/voice", _NUMBERS, options)

    async def create_token(
        self,
        *,
        identity: str | None = None,
        number: str | None = None,
        ttl: int | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> VoiceToken:
        """Mint a short-lived token for an app user (``POST /v3/channels/voice/tokens``).

        Args:
            identity: Your id for the user: letters, digits, ``-`` and ``_``, up to 200.
            number: The voice number the user's calls go through (default: the default line).
            ttl: Seconds, default 600, at most 3600.
            sandbox: Validate only.
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            **options: Per-call `RequestOptions`.
        """
        body = {"identity": identity, "number": number, "ttl": ttl, "sandbox": sandbox}
        return await self._call(
            "POST",
            "/v3/channels/voice/tokens",
            _TOKEN,
            options,
            body=body,
            idempotency_key=idempotency_key,
        )

    async def rotate_secret(
        self,
        number: str,
        *,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> VoiceSecret:
        """Replace the callback signing secret; the old one stops at once.

        ``POST /v3/channels/voice/{number}/rotate-secret``.
        """
        path = self._path("/v3/channels/voice/{number}/rotate-secret", number=number)
        return await self._call(
            "POST",
            path,
            _SECRET,
            options,
            body={"sandbox": sandbox},
            idempotency_key=idempotency_key,
        )

    async def test(
        self,
        number: str,
        *,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> VoiceCallbackTest:
        """Send a signed test question to the number's callback URL and report the verdict.

        ``POST /v3/channels/voice/{number}/test``; no call is placed, nothing is billed.
        """
        path = self._path("/v3/channels/voice/{number}/test", number=number)
        return await self._call(
            "POST", path, _TEST, options, body={"sandbox": sandbox}, idempotency_key=idempotency_key
        )


class Channels:
    """``client.channels``: the senders you send from (only ``voice`` here)."""

    def __init__(self, transport: Transport) -> None:
        #: Voice numbers, tokens and callback secrets.
        self.voice = Voice(transport)


class Participants(Resource):
    """``client.calls.participants``: the conference room a live call is in."""

    async def list(self, id: str, **options: Unpack[RequestOptions]) -> CallParticipants:
        """Who is in the call's room (``GET /v3/calls/{id}/participants``); 409 if not live."""
        path = self._path("/v3/calls/{id}/participants", id=id)
        return await self._call("GET", path, _PARTICIPANTS, options)

    async def add(
        self,
        id: str,
        *,
        to: Mapping[str, Any],
        caller_id: str | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Call:
        """Dial an app user or a number into the call's room (``POST .../participants``).

        Args:
            id: The call id.
            to: The participant, e.g. ``{"type": "phone", "number": "+1..."}``.
            caller_id: One of your numbers shown to a phone participant.
            sandbox: Validate only.
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            **options: Per-call `RequestOptions`.

        Returns:
            The participant's own call record.
        """
        if not isinstance(to, Mapping):
            raise TypeError(f"to must be a mapping, got {type(to).__name__}")
        path = self._path("/v3/calls/{id}/participants", id=id)
        body = {"to": dict(to), "caller_id": caller_id, "sandbox": sandbox}
        return await self._call(
            "POST", path, _CALL, options, body=body, idempotency_key=idempotency_key
        )

    async def update(
        self,
        participant_id: str,
        *,
        id: str,
        muted: bool,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> None:
        """Mute or unmute a participant (``PATCH /v3/calls/{id}/participants/{participant_id}``)."""
        path = self._path(
            "/v3/calls/{id}/participants/{participant_id}", id=id, participant_id=participant_id
        )
        body = {"muted": bool(muted), "sandbox": sandbox}
        await self._call("PATCH", path, None, options, body=body, idempotency_key=idempotency_key)

    async def remove(
        self,
        participant_id: str,
        *,
        id: str,
        sandbox: bool | None = None,
        **options: Unpack[RequestOptions],
    ) -> None:
        """Remove one participant; the others stay.

        ``DELETE /v3/calls/{id}/participants/{participant_id}``.
        """
        path = self._path(
            "/v3/calls/{id}/participants/{participant_id}", id=id, participant_id=participant_id
        )
        await self._call("DELETE", path, None, options, body={"sandbox": sandbox})

    async def remove_all(
        self, id: str, *, sandbox: bool | None = None, **options: Unpack[RequestOptions]
    ) -> None:
        """Remove every participant, the call included (``DELETE /v3/calls/{id}/participants``)."""
        path = self._path("/v3/calls/{id}/participants", id=id)
        await self._call("DELETE", path, None, options, body={"sandbox": sandbox})


class Calls(Resource):
    """``client.calls``: call records, recordings, hang-up and conference participants."""

    def __init__(self, transport: Transport) -> None:
        super().__init__(transport)
        #: The conference room of a live call.
        self.participants = Participants(transport)

    async def retrieve(self, id: str, **options: Unpack[RequestOptions]) -> Call:
        """Fetch one call with its timeline (``GET /v3/calls/{id}``)."""
        path = self._path("/v3/calls/{id}", id=id)
        return await self._call("GET", path, _CALL, options)

    async def list_page(
        self,
        *,
        page: int = 1,
        page_size: int | None = None,
        direction: str | None = None,
        status: str | None = None,
        number: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        **options: Unpack[RequestOptions],
    ) -> CallPage:
        """One page of calls, most recent first (``GET /v3/calls``).

        Args:
            page: 1-indexed page number.
            page_size: Calls per page (``None``: the API's default).
            direction: ``"outbound"`` or ``"inbound"``.
            status: initiated, ringing, answered, completed, failed, no_answer or rejected.
            number: The voice number that owns the call (E.164).
            from_: Started at or after (aware datetime or ISO 8601), sent as ``from``.
            to: Started at or before (inclusive).
            **options: Per-call `RequestOptions`.
        """
        params = page_params(
            page, page_size, direction=direction, status=status, number=number, to=to,
            **{"from": from_},
        )  # fmt: skip
        return await self._call("GET", "/v3/calls", _CALLS, options, params=params)

    async def list(
        self,
        *,
        page_size: int | None = None,
        direction: str | None = None,
        status: str | None = None,
        number: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncIterator[Call]:
        """Yield every call matching the filters (see `list_page`), page by page."""
        filters: dict[str, Any] = {
            "direction": direction,
            "status": status,
            "number": number,
            "from_": from_,
            "to": to,
        }
        page_params(1, page_size, **filters)

        def fetch(page: int) -> Awaitable[CallPage]:
            return self.list_page(page=page, page_size=page_size, **filters, **options)

        async for call in pages(fetch, _calls_of):
            yield call

    async def hangup(
        self,
        id: str,
        *,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> None:
        """End a live call (``POST /v3/calls/{id}/hangup``); an ended call answers 409."""
        path = self._path("/v3/calls/{id}/hangup", id=id)
        await self._call(
            "POST", path, None, options, body={"sandbox": sandbox}, idempotency_key=idempotency_key
        )

    async def list_recordings(self, id: str, **options: Unpack[RequestOptions]) -> CallRecordings:
        """Pre-signed links to the call's recordings (``GET /v3/calls/{id}/recordings``)."""
        path = self._path("/v3/calls/{id}/recordings", id=id)
        return await self._call("GET", path, _RECORDINGS, options)

    async def record(
        self,
        id: str,
        *,
        action: str,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> None:
        """Start or stop recording a live call (``POST /v3/calls/{id}/recordings``).

        Raises:
            ValueError: ``action`` is not ``"start"`` or ``"stop"``.
        """
        if action not in _RECORD_ACTIONS:
            raise ValueError(f"action must be 'start' or 'stop', got {action!r}")
        path = self._path("/v3/calls/{id}/recordings", id=id)
        body = {"action": action, "sandbox": sandbox}
        await self._call("POST", path, None, options, body=body, idempotency_key=idempotency_key)
