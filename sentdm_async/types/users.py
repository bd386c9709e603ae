"""A user of the organization or profile."""

from __future__ import annotations

import msgspec

from sentdm_async.types._decode import AwareDatetime

__all__ = ["User"]


class User(msgspec.Struct, frozen=True, kw_only=True):
    """A user of the organization or profile (``role``: admin, billing or developer)."""

    id: str | None = None
    email: str | None = None
    name: str | None = None
    role: str | None = None
    status: str | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
