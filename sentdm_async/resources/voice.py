"""``client.voice``: calls (records, recordings, hang-up, conference participants) and tokens.

The official SDK's ``voice.calls`` and ``voice.tokens``, at its paths ``/v3/voice/calls...`` and
``/v3/voice/tokens``. Voice numbers are ``client.channels.voice``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, TypeAlias, Unpack

from sentdm_async.resources._base import AsyncPager, Resource, decoder, page_params
from sentdm_async.types.voice import Call, CallPage, CallParticipant, CallRecordings, VoiceToken

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from datetime import datetime

    from sentdm_async._http.options import RequestOptions
    from sentdm_async._http.transport import Transport

__all__ = ["Calls", "Participants", "Tokens", "Voice"]


CallParticipants: TypeAlias = list[CallParticipant]


_CALL: Final = decoder(Call)


_CALLS: Final = decoder(CallPage)


_RECORDINGS: Final = decoder(CallRecordings)


_PARTICIPANTS: Final = decoder(list[CallParticipant])


_RECORD_ACTIONS: Final = frozenset({"start", "stop"})


_TOKEN: Final = decoder(VoiceToken)


def _calls_of(page: CallPage) -> list[Call]:
    return page.items


class Participants(Resource):
    """``client.voice.calls.participants``: the conference room a live call is in."""

    async def list(self, id: str, **options: Unpack[RequestOptions]) -> CallParticipants:
        """Who is in the call's room (``GET /v3/voice/calls/{id}/participants``); 409 once ended."""
        path = self._path("/v3/voice/calls/{id}/participants", id=id)
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
        path = self._path("/v3/voice/calls/{id}/participants", id=id)
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
        """Mute or unmute a participant.

        ``PATCH /v3/voice/calls/{id}/participants/{participant_id}``.
        """
        path = self._path(
            "/v3/voice/calls/{id}/participants/{participant_id}",
            id=id,
            participant_id=participant_id,
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

        ``DELETE /v3/voice/calls/{id}/participants/{participant_id}``.
        """
        path = self._path(
            "/v3/voice/calls/{id}/participants/{participant_id}",
            id=id,
            participant_id=participant_id,
        )
        await self._call("DELETE", path, None, options, body={"sandbox": sandbox})

    async def remove_all(
        self, id: str, *, sandbox: bool | None = None, **options: Unpack[RequestOptions]
    ) -> None:
        """Remove every participant, the call included.

        ``DELETE /v3/voice/calls/{id}/participants``.
        """
        path = self._path("/v3/voice/calls/{id}/participants", id=id)
        await self._call("DELETE", path, None, options, body={"sandbox": sandbox})


class Calls(Resource):
    """``client.voice``: calls (records, recordings, hang-up, conference participants) and tokens.

    The official SDK's ``voice.calls`` and ``voice.tokens``, at its paths ``/v3/voice/calls...`` and
    ``/v3/voice/tokens``. Voice numbers are ``client.channels.voice``.
    """

    def __init__(self, transport: Transport) -> None:
        super().__init__(transport)
        #: The conference room of a live call.
        self.participants = Participants(transport)

    async def retrieve(self, id: str, **options: Unpack[RequestOptions]) -> Call:
        """Fetch one call with its timeline (``GET /v3/voice/calls/{id}``)."""
        path = self._path("/v3/voice/calls/{id}", id=id)
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
        """One page of calls, most recent first (``GET /v3/voice/calls``).

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
        return await self._call("GET", "/v3/voice/calls", _CALLS, options, params=params)

    def list(
        self,
        *,
        page_size: int | None = None,
        direction: str | None = None,
        status: str | None = None,
        number: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncPager[Call, CallPage]:
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

        return AsyncPager(fetch, _calls_of)

    async def hangup(
        self,
        id: str,
        *,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> None:
        """End a live call (``POST /v3/voice/calls/{id}/hangup``); an ended call answers 409."""
        path = self._path("/v3/voice/calls/{id}/hangup", id=id)
        await self._call(
            "POST", path, None, options, body={"sandbox": sandbox}, idempotency_key=idempotency_key
        )

    async def list_recordings(self, id: str, **options: Unpack[RequestOptions]) -> CallRecordings:
        """Pre-signed links to the call's recordings (``GET /v3/voice/calls/{id}/recordings``)."""
        path = self._path("/v3/voice/calls/{id}/recordings", id=id)
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
        """Start or stop recording a live call (``POST /v3/voice/calls/{id}/recordings``).

        Raises:
            ValueError: ``action`` is not ``"start"`` or ``"stop"``.
        """
        if action not in _RECORD_ACTIONS:
            raise ValueError(f"action must be 'start' or 'stop', got {action!r}")
        path = self._path("/v3/voice/calls/{id}/recordings", id=id)
        body = {"action": action, "sandbox": sandbox}
        await self._call("POST", path, None, options, body=body, idempotency_key=idempotency_key)


class Tokens(Resource):
    """``client.voice.tokens``: access tokens for the app users of the voice client SDK."""

    async def create(
        self,
        *,
        identity: str | None = None,
        number: str | None = None,
        ttl: int | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> VoiceToken:
        """Mint a short-lived token for an app user (``POST /v3/voice/tokens``).

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
            "POST", "/v3/voice/tokens", _TOKEN, options, body=body, idempotency_key=idempotency_key
        )


class Voice:
    """``client.voice``: ``calls`` and ``tokens``, as in the official SDK."""

    def __init__(self, transport: Transport) -> None:
        #: Call records, recordings, hang-up and conference participants.
        self.calls = Calls(transport)
        #: Access tokens for app users.
        self.tokens = Tokens(transport)
