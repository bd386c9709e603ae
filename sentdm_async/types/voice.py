"""Calls: records, pages, recordings, participants, and the voice access token."""

from __future__ import annotations

from typing import Any, Final

import msgspec

from sentdm_async._core.redact import redacted_repr, redacted_rich_repr
from sentdm_async.types._decode import AwareDatetime
from sentdm_async.types.shared import Pagination

__all__ = [
    "Call",
    "CallPage",
    "CallParticipant",
    "CallParty",
    "CallRecording",
    "CallRecordings",
    "CallTimelineEntry",
    "VoiceToken",
]

_TOKEN: Final = frozenset({"token"})


class VoiceToken(msgspec.Struct, frozen=True, kw_only=True):
    """A short-lived token for an app user of the voice client SDK.

    ``repr`` and ``str`` show the token redacted; read ``token`` for the value.
    """

    token: str | None = None
    expires_at: AwareDatetime | None = None
    identity: str | None = None
    number: str | None = None

    def __repr__(self) -> str:
        """Show the fields, the secret redacted (the attribute itself stays readable)."""
        return redacted_repr(self, _TOKEN)

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        """Rich's fields, the secret redacted."""
        return redacted_rich_repr(self, _TOKEN)


class CallParty(msgspec.Struct, frozen=True, kw_only=True):
    """One end of a call.

    ``kind``: ``user`` (an app user), ``number`` (a phone number), ``conference`` (a room) or
    ``anonymous``; ``value``: the identity, the E.164 number or the room name (``None`` when
    anonymous).
    """

    kind: str | None = None
    value: str | None = None


class CallTimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    """When a call entered a status."""

    status: str | None = None
    timestamp: AwareDatetime | None = None


class Call(msgspec.Struct, frozen=True, kw_only=True, rename={"from_": "from"}):
    """A call record (``status``: initiated, ringing, answered, completed, failed, ...).

    ``mode``: ``inapp`` for a call between your app's users and phone numbers, routed by the
    number's callback URL.
    """

    id: str | None = None
    direction: str | None = None
    status: str | None = None
    mode: str | None = None
    number: str | None = None
    from_: CallParty | None = None
    to: CallParty | None = None
    started_at: AwareDatetime | None = None
    answered_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    duration_seconds: int | None = None
    failure_reason: str | None = None
    price: float | None = None
    recording_available: bool | None = None
    timeline: list[CallTimelineEntry] | None = None


class CallPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of calls, most recent first."""

    calls: list[Call] | None = None
    pagination: Pagination | None = None

    @property
    def items(self) -> list[Call]:
        """The page's calls (``[]`` for ``null``)."""
        return self.calls or []


class CallRecording(msgspec.Struct, frozen=True, kw_only=True):
    """A pre-signed link to one recording, valid until ``url_expires_at``."""

    recording_id: str | None = None
    download_url: str | None = None
    url_expires_at: AwareDatetime | None = None


class CallRecordings(msgspec.Struct, frozen=True, kw_only=True):
    """The recordings of a call, oldest first."""

    recordings: list[CallRecording] | None = None


class CallParticipant(msgspec.Struct, frozen=True, kw_only=True):
    """A participant of a conference: its own call id, who it is, whether it is muted.

    ``kind``/``value`` as on `CallParty`; ``duration_seconds``: connected to the room so far.
    """

    id: str | None = None
    kind: str | None = None
    value: str | None = None
    muted: bool | None = None
    duration_seconds: int | None = None
