"""The ``/v3/me`` result."""

from __future__ import annotations

import msgspec

from sentdm_async.types._decode import AwareDatetime

__all__ = ["Me"]


class Me(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /v3/me``: who the API key belongs to."""

    id: str | None = None
    name: str | None = None
    email: str | None = None
    type: str | None = None
    status: str | None = None
    created_at: AwareDatetime | None = None
