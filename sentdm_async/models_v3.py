"""Typed results of the rest of the v3 API, as msgspec Structs.

Contacts CRUD, conversations, templates, profiles, users, me, number lookup and voice.
The same rules as `sentdm_async.models`: frozen, keyword-only, unknown fields ignored, and every
field the official SDK marks optional decodes from absent and from ``null``. Where a response
shape is not published (see docs-api.md), only the fields this library could confirm are typed;
list answers whose wrapper is not confirmed are read both as a bare list and as ``{key: [...]}``.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from sentdm_async._redact import redacted_repr, redacted_rich_repr
from sentdm_async._time import AwareDatetime
from sentdm_async.models import Message, Pagination

__all__ = [
    "Call",
    "CallPage",
    "CallParticipant",
    "CallParty",
    "CallRecording",
    "CallRecordings",
    "CallTimelineEntry",
    "Campaign",
    "ChannelScore",
    "ContactMessageSummary",
    "Me",
    "MessagePage",
    "NumberLookup",
    "Profile",
    "Template",
    "TemplatePage",
    "User",
    "VoiceCallbackTest",
    "VoiceNumber",
    "VoiceNumberCreated",
    "VoiceSecret",
    "VoiceToken",
]


class ChannelScore(msgspec.Struct, frozen=True, kw_only=True):
    """Delivery scores of one channel for a contact (integer percent, 0-100)."""

    channel: str | None = None
    success_score: int | None = None
    fail_score: int | None = None


class ContactMessageSummary(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /v3/contacts/{id}/message-summary``."""

    contact_id: str | None = None
    message_count: int | None = None
    first_message_at: AwareDatetime | None = None
    last_message_at: AwareDatetime | None = None
    channels_used: list[str] | None = None
    channel_scores: list[ChannelScore] | None = None


class MessagePage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of messages, most recent first (conversations and the messages list)."""

    messages: list[Message] | None = None
    pagination: Pagination | None = None

    @property
    def items(self) -> list[Message]:
        """The page's messages (``[]`` for ``null``)."""
        return self.messages or []


class Template(msgspec.Struct, frozen=True, kw_only=True):
    """A message template; ``definition`` is kept as sent (header, body, footer, buttons)."""

    id: str | None = None
    name: str | None = None
    display_name: str | None = None
    category: str | None = None
    language: str | None = None
    status: str | None = None
    definition: dict[str, Any] | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None


class TemplatePage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of templates."""

    templates: list[Template] | None = None
    pagination: Pagination | None = None

    @property
    def items(self) -> list[Template]:
        """The page's templates (``[]`` for ``null``)."""
        return self.templates or []


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    """A profile (a sending identity inside an organization)."""

    id: str | None = None
    name: str | None = None
    description: str | None = None
    status: str | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None


class Campaign(msgspec.Struct, frozen=True, kw_only=True):
    """A 10DLC campaign under a profile's brand; ``use_cases`` kept as sent."""

    id: str | None = None
    name: str | None = None
    description: str | None = None
    status: str | None = None
    use_cases: list[dict[str, Any]] | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None


class User(msgspec.Struct, frozen=True, kw_only=True):
    """A user of the organization or profile (``role``: admin, billing or developer)."""

    id: str | None = None
    email: str | None = None
    name: str | None = None
    role: str | None = None
    status: str | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None


class Me(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /v3/me``: who the API key belongs to."""

    id: str | None = None
    name: str | None = None
    email: str | None = None
    type: str | None = None
    status: str | None = None
    created_at: AwareDatetime | None = None


class NumberLookup(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /v3/numbers/lookup/{phone}``: carrier, line type, porting and VoIP detection."""

    phone_number: str | None = None
    format_e164: str | None = None
    country_code: str | None = None
    region_code: str | None = None
    carrier: str | None = None
    line_type: str | None = None
    is_valid: bool | None = None
    is_voip: bool | None = None
    is_ported: bool | None = None


#: The fields ``repr`` redacts (`sentdm_async._redact`).
_CALLBACK_SECRET: Final = frozenset({"callback_secret"})
_TOKEN: Final = frozenset({"token"})


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


class VoiceToken(msgspec.Struct, frozen=True, kw_only=True):
    """A short-lived token for an app user of the voice client SDK.

    ``repr`` and ``str`` show the token redacted; read ``token`` for the value.
    """

    token: str | None = None
    identity: str | None = None
    number: str | None = None
    ttl: int | None = None
    expires_at: AwareDatetime | None = None

    def __repr__(self) -> str:
        """Show the fields, the secret redacted (the attribute itself stays readable)."""
        return redacted_repr(self, _TOKEN)

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        """Rich's fields, the secret redacted."""
        return redacted_rich_repr(self, _TOKEN)


class VoiceCallbackTest(msgspec.Struct, frozen=True, kw_only=True):
    """The verdict of a test question to a callback URL.

    ``outcome``: ok, timeout, connection_failed, http_error or invalid_answer.
    """

    outcome: str | None = None
    reason: str | None = None
    field: str | None = None


class CallParty(msgspec.Struct, frozen=True, kw_only=True):
    """One end of a call: a phone number or an app user."""

    type: str | None = None
    number: str | None = None
    identity: str | None = None


class CallTimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    """When a call entered a status."""

    status: str | None = None
    timestamp: AwareDatetime | None = None


class Call(msgspec.Struct, frozen=True, kw_only=True, rename={"from_": "from"}):
    """A call record (``status``: initiated, ringing, answered, completed, failed, ...)."""

    id: str | None = None
    direction: str | None = None
    status: str | None = None
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
    url: str | None = None
    url_expires_at: AwareDatetime | None = None
    duration_seconds: int | None = None
    created_at: AwareDatetime | None = None


class CallRecordings(msgspec.Struct, frozen=True, kw_only=True):
    """The recordings of a call, oldest first."""

    call_id: str | None = None
    recordings: list[CallRecording] | None = None


class CallParticipant(msgspec.Struct, frozen=True, kw_only=True):
    """A participant of a conference: its own call id, who it is, whether it is muted."""

    id: str | None = None
    party: CallParty | None = None
    muted: bool | None = None
    connected_seconds: int | None = None
