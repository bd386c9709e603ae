"""Voice channel results: numbers, the callback secret and its test."""

from __future__ import annotations

from typing import Any, Final

import msgspec

from sentdm_async._core.redact import redacted_repr, redacted_rich_repr
from sentdm_async.types._decode import AwareDatetime

__all__ = [
    "VoiceCallbackTest",
    "VoiceCallbackTestError",
    "VoiceCallbackTestRequest",
    "VoiceCallbackTestResponse",
    "VoiceNumber",
    "VoiceNumberCreated",
    "VoiceSecret",
]

#: The fields ``repr`` redacts (`sentdm_async._core.redact`).
_CALLBACK_SECRET: Final = frozenset({"callback_secret"})


class VoiceNumber(msgspec.Struct, frozen=True, kw_only=True):
    """A number that carries phone calls (``status``: ACTIVE or INACTIVE)."""

    number: str | None = None
    status: str | None = None
    callback_url: str | None = None
    default_for_app_calls: bool | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None


class VoiceNumberCreated(VoiceNumber, frozen=True, kw_only=True):
    """A number voice was turned on for, with the ``callback_secret`` shown this once.

    ``repr`` and ``str`` show the secret redacted; read ``callback_secret`` for the value.
    """

    callback_secret: str | None = None

    def __repr__(self) -> str:
        """Show the fields, the secret redacted (the attribute itself stays readable)."""
        return redacted_repr(self, _CALLBACK_SECRET)

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        """Rich's fields, the secret redacted."""
        return redacted_rich_repr(self, _CALLBACK_SECRET)


class VoiceSecret(msgspec.Struct, frozen=True, kw_only=True):
    """A new callback signing secret (``repr`` and ``str`` show it redacted)."""

    callback_secret: str | None = None

    def __repr__(self) -> str:
        """Show the fields, the secret redacted (the attribute itself stays readable)."""
        return redacted_repr(self, _CALLBACK_SECRET)

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        """Rich's fields, the secret redacted."""
        return redacted_rich_repr(self, _CALLBACK_SECRET)


class VoiceCallbackTestError(msgspec.Struct, frozen=True, kw_only=True):
    """Why a callback test did not end ``ok``.

    ``reason``: e.g. timeout, http_error, malformed_json, missing_action, unknown_action;
    ``path``: the answer field at fault (``action.action``), when one is to blame.
    """

    message: str | None = None
    path: str | None = None
    reason: str | None = None


class VoiceCallbackTestRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The test question exactly as sent: ``body`` byte for byte, the headers Sent added."""

    body: str | None = None
    headers: dict[str, str] | None = None
    url: str | None = None


class VoiceCallbackTestResponse(msgspec.Struct, frozen=True, kw_only=True):
    """What the callback answered: its status and the start of its body (2048 characters)."""

    body: str | None = None
    status_code: int | None = None


class VoiceCallbackTest(msgspec.Struct, frozen=True, kw_only=True):
    """The verdict of a test question to a callback URL.

    ``outcome``: ok, timeout, connection_failed, http_error or invalid_answer; ``answer``: the
    callback's answer as Sent read it (only when ``ok``); ``call_id``: the made-up call id the
    question carried.
    """

    answer: Any = None
    call_id: str | None = None
    error: VoiceCallbackTestError | None = None
    outcome: str | None = None
    request: VoiceCallbackTestRequest | None = None
    response: VoiceCallbackTestResponse | None = None
