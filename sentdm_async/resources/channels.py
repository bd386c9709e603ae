"""``client.channels.voice``: voice numbers, the callback secret and its test.

A voice number in a path is E.164 with its ``+`` sent as ``%2B``, as the API asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, TypeAlias, Unpack

from sentdm_async.resources._base import Resource, decoder
from sentdm_async.types.channels import (
    VoiceCallbackTest,
    VoiceNumber,
    VoiceNumberCreated,
    VoiceSecret,
)

if TYPE_CHECKING:
    from sentdm_async._http.options import RequestOptions
    from sentdm_async._http.transport import Transport

_TEST: Final = decoder(VoiceCallbackTest)

_SECRET: Final = decoder(VoiceSecret)

_CREATED: Final = decoder(VoiceNumberCreated)

_NUMBERS: Final = decoder(list[VoiceNumber])

_NUMBER: Final = decoder(VoiceNumber)

__all__ = ["Channels", "Voice"]

VoiceNumbers: TypeAlias = list[VoiceNumber]


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
        #: Voice numbers and their callback secrets.
        self.voice = Voice(transport)
