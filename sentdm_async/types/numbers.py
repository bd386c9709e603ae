"""The number look-up result."""

from __future__ import annotations

import msgspec

__all__ = ["NumberLookup"]


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
