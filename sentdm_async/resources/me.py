"""``client.me``: who the API key belongs to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Unpack

from sentdm_async.resources._base import Resource, decoder
from sentdm_async.types.me import Me

if TYPE_CHECKING:
    from sentdm_async._http.options import RequestOptions

_ME: Final = decoder(Me)

__all__ = ["MeResource"]


class MeResource(Resource):
    """``client.me``: who the API key belongs to."""

    async def retrieve(self, **options: Unpack[RequestOptions]) -> Me:
        """Fetch the key's account or profile (``GET /v3/me``)."""
        return await self._call("GET", "/v3/me", _ME, options)
