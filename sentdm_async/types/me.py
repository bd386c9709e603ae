"""The ``/v3/me`` result: the account or profile the API key belongs to."""

from __future__ import annotations

import msgspec

from sentdm_async.types._decode import AwareDatetime
from sentdm_async.types.profiles import ProfileSettings

__all__ = ["Me", "MeChannel", "MeChannels", "MeProfile", "MeWhatsappChannel"]


class MeChannel(msgspec.Struct, frozen=True, kw_only=True):
    """An SMS or RCS channel: whether it is set up, and its sending number."""

    configured: bool | None = None
    phone_number: str | None = None


class MeWhatsappChannel(msgspec.Struct, frozen=True, kw_only=True):
    """The WhatsApp Business channel: set up or not, its number and business name."""

    business_name: str | None = None
    configured: bool | None = None
    phone_number: str | None = None


class MeChannels(msgspec.Struct, frozen=True, kw_only=True):
    """The messaging channels of the account."""

    rcs: MeChannel | None = None
    sms: MeChannel | None = None
    whatsapp: MeWhatsappChannel | None = None


class MeProfile(msgspec.Struct, frozen=True, kw_only=True):
    """A profile of the organization, as `Me` lists it (``role``: the key's role there)."""

    id: str | None = None
    created_at: AwareDatetime | None = None
    description: str | None = None
    icon: str | None = None
    name: str | None = None
    role: str | None = None
    settings: ProfileSettings | None = None
    short_name: str | None = None
    status: str | None = None


class Me(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /v3/me``: the account or profile the API key belongs to.

    ``type``: organization, user or profile; ``profiles``: an organization's profiles.
    """

    id: str | None = None
    channels: MeChannels | None = None
    created_at: AwareDatetime | None = None
    description: str | None = None
    email: str | None = None
    enable_template_auto_creation_for_sp: bool | None = None
    icon: str | None = None
    name: str | None = None
    organization_id: str | None = None
    profiles: list[MeProfile] | None = None
    sending_phone_number: str | None = None
    sending_phone_number_profile_id: str | None = None
    settings: ProfileSettings | None = None
    short_name: str | None = None
    status: str | None = None
    type: str | None = None
