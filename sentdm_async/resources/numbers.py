"""``client.numbers``: phone number look-up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Unpack

from sentdm_async.resources._base import Resource, decoder
from sentdm_async.types.numbers import NumberLookup

if TYPE_CHECKING:
    from sentdm_async._http.options import RequestOptions

_LOOKUP: Final = decoder(NumberLookup)

__all__ = ["Numbers"]


class Numbers(Resource):
    """``client.numbers``: phone number look-up."""

    async def lookup(self, phone_number: str, **options: Unpack[RequestOptions]) -> NumberLookup:
        """Carrier, line type, porting and VoIP detection for a number.

        ``GET /v3/numbers/lookup/{phone_number}`` (the ``+`` is sent as ``%2B``).
        """
        path = self._path("/v3/numbers/lookup/{phone_number}", phone_number=phone_number)
        return await self._call("GET", path, _LOOKUP, options)
