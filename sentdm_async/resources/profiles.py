"""``client.profiles`` (with ``.campaigns``), under the official SDK's names.

``profile_id=`` is this library's per-call option (the ``x-profile-id`` header), so the profile
in a path is a positional argument here: ``campaigns.update(profile_id, campaign_id, ...)``
where the official SDK has ``update(campaign_id, profile_id=...)``.

Nested bodies (``brand``, ``campaign``) take the SDK's snake_case keys and go out under the API's
camelCase names (`sentdm_async.resources._wire_names`); ``extra_fields`` carries anything else
unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, TypeAlias, Unpack

from sentdm_async.resources._base import Resource, body_fields, decoder, mapping_arg
from sentdm_async.resources._wire_names import BRAND, CAMPAIGN, to_wire
from sentdm_async.types.profiles import Campaign, Profile, ProfileCompletion, ProfileList

if TYPE_CHECKING:
    from sentdm_async._http.options import RequestOptions

__all__ = ["Campaigns", "Profiles"]


Campaigns_: TypeAlias = list[Campaign]


_PROFILE: Final = decoder(Profile)


_PROFILES: Final = decoder(ProfileList)


_COMPLETE: Final = decoder(ProfileCompletion)


_CAMPAIGN: Final = decoder(Campaign)


_CAMPAIGNS: Final = decoder(list[Campaign])


def _campaign(value: object) -> object:
    if not isinstance(value, Mapping):
        raise TypeError(f"campaign must be a mapping, got {type(value).__name__}")
    return to_wire(value, CAMPAIGN)


def _profile_body(extra: Mapping[str, object] | None, fields: dict[str, Any]) -> dict[str, object]:
    """The body of a profile create/update: ``brand`` renamed, mappings checked, ``None`` out."""
    for name in ("billing_contact", "payment_details", "whatsapp_business_account", "brand"):
        fields[name] = mapping_arg(name, fields.get(name))
    if fields.get("brand") is not None:
        fields["brand"] = to_wire(fields["brand"], BRAND)
    return body_fields(extra, **fields)


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
        body = body_fields(None, campaign=_campaign(campaign), sandbox=sandbox)
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
        body = body_fields(None, campaign=_campaign(campaign), sandbox=sandbox)
        return await self._call(
            "PUT", path, _CAMPAIGN, options, body=body, idempotency_key=idempotency_key
        )

    async def list(self, profile_id: str, /, **options: Unpack[RequestOptions]) -> Campaigns_:
        """Every campaign of the profile's brand (``GET /v3/profiles/{profile_id}/campaigns``)."""
        path = self._path("/v3/profiles/{profile_id}/campaigns", profile_id=profile_id)
        return await self._call("GET", path, _CAMPAIGNS, options)

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
        short_name: str | None = None,
        icon: str | None = None,
        billing_model: str | None = None,
        billing_contact: Mapping[str, Any] | None = None,
        payment_details: Mapping[str, Any] | None = None,
        brand: Mapping[str, Any] | None = None,
        allow_contact_sharing: bool | None = None,
        allow_template_sharing: bool | None = None,
        inherit_contacts: bool | None = None,
        inherit_tcr_brand: bool | None = None,
        inherit_tcr_campaign: bool | None = None,
        inherit_templates: bool | None = None,
        whatsapp_business_account: Mapping[str, Any] | None = None,
        extra_fields: Mapping[str, object] | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Profile:
        """Create a profile (``POST /v3/profiles``); organization keys only.

        The arguments are the SDK's, with its meaning; nested mappings take its snake_case keys.

        Args:
            name: The profile's name.
            description: Free text.
            short_name: The short name senders show (3-11 characters).
            icon: An icon URL.
            billing_model: ``organization``, ``profile`` or ``profile_and_organization``.
            billing_contact: ``email``, ``name``, ``address``, ``phone`` (profile billing).
            payment_details: The card for profile billing, sent as given.
            brand: ``business``, ``compliance``, ``contact``; keys such as ``legal_name`` go
                out as ``legalName``.
            allow_contact_sharing: Share the organization's contacts.
            allow_template_sharing: Share the organization's templates.
            inherit_contacts: Use the organization's contacts.
            inherit_tcr_brand: Use the organization's TCR brand.
            inherit_tcr_campaign: Use the organization's TCR campaign.
            inherit_templates: Use the organization's templates.
            whatsapp_business_account: ``waba_id``, ``access_token``, ``phone_number_id``.
            extra_fields: Further body fields, sent unchanged.
            sandbox: Validate only; nothing is written.
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            **options: Per-call `RequestOptions`.
        """
        body = _profile_body(
            extra_fields,
            {
                "name": name,
                "description": description,
                "short_name": short_name,
                "icon": icon,
                "billing_model": billing_model,
                "billing_contact": billing_contact,
                "payment_details": payment_details,
                "brand": brand,
                "allow_contact_sharing": allow_contact_sharing,
                "allow_template_sharing": allow_template_sharing,
                "inherit_contacts": inherit_contacts,
                "inherit_tcr_brand": inherit_tcr_brand,
                "inherit_tcr_campaign": inherit_tcr_campaign,
                "inherit_templates": inherit_templates,
                "whatsapp_business_account": whatsapp_business_account,
                "sandbox": sandbox,
            },
        )
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
        short_name: str | None = None,
        icon: str | None = None,
        billing_model: str | None = None,
        billing_contact: Mapping[str, Any] | None = None,
        payment_details: Mapping[str, Any] | None = None,
        brand: Mapping[str, Any] | None = None,
        allow_contact_sharing: bool | None = None,
        allow_template_sharing: bool | None = None,
        allow_number_change_during_onboarding: bool | None = None,
        inherit_contacts: bool | None = None,
        inherit_tcr_brand: bool | None = None,
        inherit_tcr_campaign: bool | None = None,
        inherit_templates: bool | None = None,
        sending_phone_number: str | None = None,
        sending_phone_number_profile_id: str | None = None,
        sending_whatsapp_number_profile_id: str | None = None,
        whatsapp_phone_number: str | None = None,
        extra_fields: Mapping[str, object] | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Profile:
        """Change a profile (``PATCH /v3/profiles/{profile_id}``); omitted fields stay.

        The arguments are `create`'s, plus the SDK's sending-number fields (the number, or the
        profile whose SMS or WhatsApp number to use) and
        ``allow_number_change_during_onboarding``.
        """
        path = self._path("/v3/profiles/{profile_id}", profile_id=profile_id)
        body = _profile_body(
            extra_fields,
            {
                "name": name,
                "description": description,
                "short_name": short_name,
                "icon": icon,
                "billing_model": billing_model,
                "billing_contact": billing_contact,
                "payment_details": payment_details,
                "brand": brand,
                "allow_contact_sharing": allow_contact_sharing,
                "allow_template_sharing": allow_template_sharing,
                "allow_number_change_during_onboarding": allow_number_change_during_onboarding,
                "inherit_contacts": inherit_contacts,
                "inherit_tcr_brand": inherit_tcr_brand,
                "inherit_tcr_campaign": inherit_tcr_campaign,
                "inherit_templates": inherit_templates,
                "sending_phone_number": sending_phone_number,
                "sending_phone_number_profile_id": sending_phone_number_profile_id,
                "sending_whatsapp_number_profile_id": sending_whatsapp_number_profile_id,
                "whatsapp_phone_number": whatsapp_phone_number,
                "sandbox": sandbox,
            },
        )
        return await self._call(
            "PATCH", path, _PROFILE, options, body=body, idempotency_key=idempotency_key
        )

    async def list(self, **options: Unpack[RequestOptions]) -> ProfileList:
        """Every profile of the organization (``GET /v3/profiles``), with ``pagination``."""
        return await self._call("GET", "/v3/profiles", _PROFILES, options)

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
        web_hook_url: str | None = None,
        extra_fields: Mapping[str, object] | None = None,
        sandbox: bool | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> ProfileCompletion:
        """Finish a profile's set-up (``POST /v3/profiles/{profile_id}/complete``).

        Args:
            profile_id: The profile.
            web_hook_url: Where Sent reports the outcome (sent as ``webHookUrl``; the SDK
                requires it).
            extra_fields: Further body fields, sent unchanged.
            sandbox: Validate only; nothing is submitted.
            idempotency_key: ``[A-Za-z0-9_-]{1,255}``; generated when omitted.
            **options: Per-call `RequestOptions`.
        """
        path = self._path("/v3/profiles/{profile_id}/complete", profile_id=profile_id)
        body = body_fields(extra_fields, webHookUrl=web_hook_url, sandbox=sandbox)
        return await self._call(
            "POST", path, _COMPLETE, options, body=body, idempotency_key=idempotency_key
        )
