"""The number look-up result."""

from __future__ import annotations

import msgspec

__all__ = ["NumberLookup"]


class NumberLookup(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /v3/numbers/lookup/{phone}``: carrier, line type, porting and VoIP detection.

    ``mobile_country_code``/``mobile_network_code``: the carrier's MCC and MNC.
    """

    carrier_name: str | None = None
    country_code: str | None = None
    is_ported: bool | None = None
    is_valid: bool | None = None
    is_voip: bool | None = None
    line_type: str | None = None
    mobile_country_code: str | None = None
    mobile_network_code: str | None = None
    phone_number: str | None = None
