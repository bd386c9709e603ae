"""Profiles (with campaigns), users, ``me`` and number lookup, under the official SDK's names.

``profile_id=`` is this library's per-call option (the ``x-profile-id`` header), so the profile
in a path is a positional argument here: ``campaigns.update(profile_id, campaign_id, ...)``
where the official SDK has ``update(campaign_id, profile_id=...)``.

Where the request body is not published field by field (profiles, campaigns), the documented
fields are keyword arguments and ``extra_fields`` carries the rest unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, TypeAlias, Unpack

import msgspec

from sentdm_async._http.wire import Envelope
from sentdm_async.resources._base import Resource, body_fields, decoder
from sentdm_async.types._decode import json_decoder
from sentdm_async.types.profiles import Campaign, Profile

if TYPE_CHECKING:
    from sentdm_async._http.options import RequestOptions

__all__ = ["Campaigns", "Profiles"]


Profiles_: TypeAlias = list[Profile]


Campaigns_: TypeAlias = list[Campaign]


class _ProfileList(msgspec.Struct, frozen=True):
    profiles: list[Profile] | None = None


class _CampaignList(msgspec.Struct, frozen=True):
    campaigns: list[Campaign] | None = None


_PROFILE: Final = decoder(Profile)


_PROFILES: Final = json_decoder(Envelope[list[Profile] | _ProfileList])


_COMPLETE: Final = json_decoder(Envelope[dict[str, Any]])


_CAMPAIGN: Final = decoder(Campaign)


_CAMPAIGNS: Final = json_decoder(Envelope[list[Campaign] | _CampaignList])


class Campaigns(Resource):
    """``client.profiles.campaigns``: 10DLC campaigns under a profile's brand."""

    async def create(
        self,
        profile_id: str,
        /,
        *,
        campaign: Mapping[str, Any],
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Campaign:
        """Create a campaign (``POST /v3/profiles/{profile_id}/campaigns``).

        ``campaign`` needs at least one use case with sample messages.
        """
        path = self._path("/v3/profiles/{profile_id}/campaigns", profile_id=profile_id)
        body = body_fields(None, campaign=dict(_mapping(campaign)), sandbox=sandbox)
        return await self._call(
            "POST", path, _CAMPAIGN, options, body=body, idempotency_key=idempotency_key
        )

    async def update(
        self,
        profile_id: str,
        campaign_id: str,
        /,
        *,
        campaign: Mapping[str, Any],
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Campaign:
        """Update a campaign not yet submitted to TCR (``PUT .../campaigns/{campaign_id}``)."""
        path = self._path(
            "/v3/profiles/{profile_id}/campaigns/{campaign_id}",
            profile_id=profile_id,
            campaign_id=campaign_id,
        )
        body = body_fields(None, campaign=dict(_mapping(campaign)), sandbox=sandbox)
        return await self._call(
            "PUT", path, _CAMPAIGN, options, body=body, idempotency_key=idempotency_key
        )

    async def list(self, profile_id: str, /, **options: Unpack[RequestOptions]) -> Campaigns_:
        """Every campaign of the profile's brand (``GET /v3/profiles/{profile_id}/campaigns``)."""
        path = self._path("/v3/profiles/{profile_id}/campaigns", profile_id=profile_id)
        data = await self._call("GET", path, _CAMPAIGNS, options)
        return data if isinstance(data, list) else data.campaigns or []

    async def delete(
        self,
        profile_id: str,
        campaign_id: str,
        /,
        *,
        sandbox: bool | None = None,
        **options: Unpack[RequestOptions],
    ) -> None:
        """Delete a campaign (``DELETE /v3/profiles/{profile_id}/campaigns/{campaign_id}``)."""
        path = self._path(
            "/v3/profiles/{profile_id}/campaigns/{campaign_id}",
            profile_id=profile_id,
            campaign_id=campaign_id,
        )
        await self._call("DELETE", path, None, options, body={"sandbox": sandbox})


def _mapping(value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"campaign must be a mapping, got {type(value).__name__}")
    return value


class Profiles(Resource):
    """``client.profiles``: the organization's profiles; ``.campaigns`` under them."""

    def __init__(self, transport: Any) -> None:
        super().__init__(transport)
        #: Campaigns of a profile's brand.
        self.campaigns = Campaigns(transport)

    async def create(
        self,
        *,
        name: str,
        description: str | None = None,
        extra_fields: Mapping[str, object] | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Profile:
        """Create a profile (``POST /v3/profiles``); organization keys only.

        Args:
            name: The profile's name.
            description: Free text.
            extra_fields: Further body fields, sent unchanged.
            sandbox: Validate only; nothing is written.
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            **options: Per-call `RequestOptions`.
        """
        body = body_fields(extra_fields, name=name, description=description, sandbox=sandbox)
        return await self._call(
            "POST", "/v3/profiles", _PROFILE, options, body=body, idempotency_key=idempotency_key
        )

    async def retrieve(self, profile_id: str, /, **options: Unpack[RequestOptions]) -> Profile:
        """Fetch one profile (``GET /v3/profiles/{profile_id}``)."""
        path = self._path("/v3/profiles/{profile_id}", profile_id=profile_id)
        return await self._call("GET", path, _PROFILE, options)

    async def update(
        self,
        profile_id: str,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        extra_fields: Mapping[str, object] | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Profile:
        """Change a profile (``PATCH /v3/profiles/{profile_id}``); omitted fields stay."""
        path = self._path("/v3/profiles/{profile_id}", profile_id=profile_id)
        body = body_fields(extra_fields, name=name, description=description, sandbox=sandbox)
        return await self._call(
            "PATCH", path, _PROFILE, options, body=body, idempotency_key=idempotency_key
        )

    async def list(self, **options: Unpack[RequestOptions]) -> Profiles_:
        """Every profile of the organization (``GET /v3/profiles``)."""
        data = await self._call("GET", "/v3/profiles", _PROFILES, options)
        return data if isinstance(data, list) else data.profiles or []

    async def delete(
        self, profile_id: str, /, *, sandbox: bool | None = None, **options: Unpack[RequestOptions]
    ) -> None:
        """Delete a profile (``DELETE /v3/profiles/{profile_id}``).

        Refused with 409 ``CONFLICT_012``/``CONFLICT_013`` while a number is on its WABA.
        """
        path = self._path("/v3/profiles/{profile_id}", profile_id=profile_id)
        await self._call("DELETE", path, None, options, body={"sandbox": sandbox})

    async def complete(
        self,
        profile_id: str,
        /,
        *,
        extra_fields: Mapping[str, object] | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> dict[str, Any]:
        """Finish a profile's set-up (``POST /v3/profiles/{profile_id}/complete``).

        Returns the answer's ``data`` as a dict (its shape is not published).
        """
        path = self._path("/v3/profiles/{profile_id}/complete", profile_id=profile_id)
        body = body_fields(extra_fields, sandbox=sandbox)
        return await self._call(
            "POST", path, _COMPLETE, options, body=body, idempotency_key=idempotency_key
        )
