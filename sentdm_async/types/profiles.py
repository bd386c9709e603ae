"""Sender profiles and their 10DLC campaigns."""

from __future__ import annotations

from typing import Any

import msgspec

from sentdm_async.types._decode import AwareDatetime

__all__ = ["Campaign", "Profile"]


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
