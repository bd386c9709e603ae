"""Contact results: a contact, a page of contacts, a contact's message summary."""

from __future__ import annotations

from typing import TypeVar

import msgspec

from sentdm_async.types._decode import AwareDatetime
from sentdm_async.types.shared import Pagination

__all__ = ["ChannelScore", "Contact", "ContactMessageSummary", "ContactPage"]

T = TypeVar("T")


class Contact(msgspec.Struct, frozen=True, kw_only=True):
    """A contact from ``GET /v3/contacts``."""

    id: str
    phone_number: str | None = None
    format_e164: str | None = None
    format_international: str | None = None
    format_national: str | None = None
    format_rfc: str | None = None
    country_code: str | None = None
    region_code: str | None = None
    available_channels: str | None = None
    default_channel: str | None = None
    opt_out: bool | None = None
    is_inherited: bool | None = None
    customer_id: str | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None

    @property
    def channels(self) -> list[str]:
        """`available_channels` split into a list (the wire sends ``"sms,whatsapp"``)."""
        if not self.available_channels:
            return []
        return [c.strip() for c in self.available_channels.split(",") if c.strip()]


class ContactPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of contacts."""

    contacts: list[Contact] | None = None
    pagination: Pagination | None = None

    @property
    def items(self) -> list[Contact]:
        """The page's contacts (``[]`` for ``null``)."""
        return self.contacts or []


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
