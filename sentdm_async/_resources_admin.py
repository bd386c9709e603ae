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

from sentdm_async._resource import Resource, decoder
from sentdm_async._time import json_decoder
from sentdm_async._wire import Envelope
from sentdm_async.models_v3 import Campaign, Me, NumberLookup, Profile, User

if TYPE_CHECKING:
    from sentdm_async._options import RequestOptions

__all__ = ["Campaigns", "MeResource", "Numbers", "Profiles", "Users"]

Users_: TypeAlias = list[User]
Profiles_: TypeAlias = list[Profile]
Campaigns_: TypeAlias = list[Campaign]


# The list answers' wrappers are not published: read a bare list and {"<name>": [...]} alike.
class _UserList(msgspec.Struct, frozen=True):
    users: list[User] | None = None


class _ProfileList(msgspec.Struct, frozen=True):
    profiles: list[Profile] | None = None


class _CampaignList(msgspec.Struct, frozen=True):
    campaigns: list[Campaign] | None = None


_USER: Final = decoder(User)
_USERS: Final = json_decoder(Envelope[list[User] | _UserList])
_PROFILE: Final = decoder(Profile)
_PROFILES: Final = json_decoder(Envelope[list[Profile] | _ProfileList])
_COMPLETE: Final = json_decoder(Envelope[dict[str, Any]])
_CAMPAIGN: Final = decoder(Campaign)
_CAMPAIGNS: Final = json_decoder(Envelope[list[Campaign] | _CampaignList])
_ME: Final = decoder(Me)
_LOOKUP: Final = decoder(NumberLookup)


def _fields(extra: Mapping[str, object] | None, **fields: object) -> dict[str, object]:
    if extra is not None and not isinstance(extra, Mapping):
        raise TypeError(f"extra_fields must be a mapping, got {type(extra).__name__}")
    return {**(extra or {}), **{k: v for k, v in fields.items() if v is not None}}


class Users(Resource):
    """``client.users``: the organization's (or profile's) users and their roles."""

    async def retrieve(self, user_id: str, **options: Unpack[RequestOptions]) -> User:
        """Fetch one user (``GET /v3/users/{user_id}``)."""
        path = self._path("/v3/users/{user_id}", user_id=user_id)
        return await self._call("GET", path, _USER, options)

    async def list(self, **options: Unpack[RequestOptions]) -> Users_:
        """Every user with access, invited (pending) and active (``GET /v3/users``)."""
        data = await self._call("GET", "/v3/users", _USERS, options)
        return data if isinstance(data, list) else data.users or []

    async def invite(
        self,
        *,
        email: str,
        name: str,
        role: str,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> User:
        """Invite a user with a role: admin, billing or developer (``POST /v3/users``).

        The invitation e-mail's token expires after 7 days. The API limits this endpoint to
        10 requests a minute.
        """
        body = {"email": email, "name": name, "role": role, "sandbox": sandbox}
        return await self._call(
            "POST", "/v3/users", _USER, options, body=body, idempotency_key=idempotency_key
        )

    async def update_role(
        self,
        user_id: str,
        *,
        role: str,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> User:
        """Change a user's role (``PATCH /v3/users/{user_id}``).

        Not your own role, and not the last admin's.
        """
        path = self._path("/v3/users/{user_id}", user_id=user_id)
        body = {"role": role, "sandbox": sandbox}
        return await self._call(
            "PATCH", path, _USER, options, body=body, idempotency_key=idempotency_key
        )

    async def remove(
        self, user_id: str, *, sandbox: bool | None = None, **options: Unpack[RequestOptions]
    ) -> None:
        """Remove a user's access (``DELETE /v3/users/{user_id}``).

        Not yourself, and not the last admin.
        """
        path = self._path("/v3/users/{user_id}", user_id=user_id)
        await self._call("DELETE", path, None, options, body={"sandbox": sandbox})


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
        body = _fields(None, campaign=dict(_mapping(campaign)), sandbox=sandbox)
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
        body = _fields(None, campaign=dict(_mapping(campaign)), sandbox=sandbox)
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
        body = _fields(extra_fields, name=name, description=description, sandbox=sandbox)
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
        body = _fields(extra_fields, name=name, description=description, sandbox=sandbox)
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
        body = _fields(extra_fields, sandbox=sandbox)
        return await self._call(
            "POST", path, _COMPLETE, options, body=body, idempotency_key=idempotency_key
        )


class MeResource(Resource):
    """``client.me``: who the API key belongs to."""

    async def retrieve(self, **options: Unpack[RequestOptions]) -> Me:
        """Fetch the key's account or profile (``GET /v3/me``)."""
        return await self._call("GET", "/v3/me", _ME, options)


class Numbers(Resource):
    """``client.numbers``: phone number look-up."""

    async def lookup(self, phone_number: str, **options: Unpack[RequestOptions]) -> NumberLookup:
        """Carrier, line type, porting and VoIP detection for a number.

        ``GET /v3/numbers/lookup/{phone_number}`` (the ``+`` is sent as ``%2B``).
        """
        path = self._path("/v3/numbers/lookup/{phone_number}", phone_number=phone_number)
        return await self._call("GET", path, _LOOKUP, options)
