"""Sender profiles (with their brand and settings) and their 10DLC campaigns."""

from __future__ import annotations

import msgspec

from sentdm_async.types._decode import AwareDatetime
from sentdm_async.types.shared import Pagination

__all__ = [
    "BillingContact",
    "Brand",
    "BrandBusiness",
    "BrandCompliance",
    "BrandContact",
    "Campaign",
    "CampaignUseCase",
    "DestinationCountry",
    "Profile",
    "ProfileCompletion",
    "ProfileList",
    "ProfileSettings",
]


class ProfileSettings(msgspec.Struct, frozen=True, kw_only=True):
    """A profile's sharing, inheritance and billing settings."""

    allow_contact_sharing: bool | None = None
    allow_template_sharing: bool | None = None
    billing_model: str | None = None
    inherit_contacts: bool | None = None
    inherit_tcr_brand: bool | None = None
    inherit_tcr_campaign: bool | None = None
    inherit_templates: bool | None = None


class BillingContact(msgspec.Struct, frozen=True, kw_only=True):
    """Who receives a profile's bills."""

    address: str | None = None
    email: str | None = None
    name: str | None = None
    phone: str | None = None


class DestinationCountry(msgspec.Struct, frozen=True, kw_only=True, rename={"is_main": "isMain"}):
    """A country a brand sends to (``is_main``: its main one)."""

    id: str | None = None
    is_main: bool | None = None


class BrandBusiness(msgspec.Struct, frozen=True, kw_only=True):
    """A brand's business details (legal name, tax id, address)."""

    city: str | None = None
    country: str | None = None
    country_of_registration: str | None = None
    entity_type: str | None = None
    legal_name: str | None = None
    postal_code: str | None = None
    state: str | None = None
    street: str | None = None
    tax_id: str | None = None
    tax_id_type: str | None = None
    url: str | None = None


class BrandCompliance(msgspec.Struct, frozen=True, kw_only=True):
    """A brand's compliance details (relationship, vertical, destination countries)."""

    brand_relationship: str | None = None
    destination_countries: list[DestinationCountry] | None = None
    is_tcr_application: bool | None = None
    notes: str | None = None
    phone_number_prefix: str | None = None
    primary_use_case: str | None = None
    vertical: str | None = None


class BrandContact(msgspec.Struct, frozen=True, kw_only=True):
    """A brand's contact person."""

    business_name: str | None = None
    email: str | None = None
    name: str | None = None
    phone: str | None = None
    phone_country_code: str | None = None
    role: str | None = None


class Brand(msgspec.Struct, frozen=True, kw_only=True):
    """A profile's brand, with its TCR registration state."""

    id: str | None = None
    business: BrandBusiness | None = None
    compliance: BrandCompliance | None = None
    contact: BrandContact | None = None
    created_at: AwareDatetime | None = None
    csp_id: str | None = None
    identity_status: str | None = None
    is_inherited: bool | None = None
    status: str | None = None
    submitted_at: AwareDatetime | None = None
    submitted_to_tcr: bool | None = None
    tcr_brand_id: str | None = None
    universal_ein: str | None = None
    updated_at: AwareDatetime | None = None


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    """A profile (a sending identity inside an organization), with its brand and settings."""

    id: str | None = None
    allow_contact_sharing: bool | None = None
    allow_number_change_during_onboarding: bool | None = None
    allow_template_sharing: bool | None = None
    billing_contact: BillingContact | None = None
    billing_model: str | None = None
    brand: Brand | None = None
    created_at: AwareDatetime | None = None
    description: str | None = None
    email: str | None = None
    icon: str | None = None
    inherit_contacts: bool | None = None
    inherit_tcr_brand: bool | None = None
    inherit_tcr_campaign: bool | None = None
    inherit_templates: bool | None = None
    name: str | None = None
    organization_id: str | None = None
    sending_phone_number: str | None = None
    sending_phone_number_profile_id: str | None = None
    sending_whatsapp_number_profile_id: str | None = None
    short_name: str | None = None
    status: str | None = None
    updated_at: AwareDatetime | None = None
    waba_id: str | None = None
    whatsapp_phone_number: str | None = None


class ProfileList(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /v3/profiles``: the organization's profiles, with ``pagination``."""

    profiles: list[Profile] | None = None
    pagination: Pagination | None = None

    @property
    def items(self) -> list[Profile]:
        """The profiles (``[]`` for ``null``)."""
        return self.profiles or []


class ProfileCompletion(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to ``profiles.complete``: the set-up's ``status`` and a ``message``."""

    message: str | None = None
    status: str | None = None


class CampaignUseCase(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    rename={
        "campaign_id": "campaignId",
        "created_at": "createdAt",
        "customer_id": "customerId",
        "messaging_use_case_us": "messagingUseCaseUs",
        "sample_messages": "sampleMessages",
        "updated_at": "updatedAt",
    },
):
    """A campaign's use case with its sample messages."""

    id: str | None = None
    campaign_id: str | None = None
    created_at: AwareDatetime | None = None
    customer_id: str | None = None
    messaging_use_case_us: str | None = None
    sample_messages: list[str] | None = None
    updated_at: AwareDatetime | None = None


class Campaign(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    rename={
        "billed_date": "billedDate",
        "brand_id": "brandId",
        "created_at": "createdAt",
        "customer_id": "customerId",
        "dca_elections_complete": "dcaElectionsComplete",
        "dca_elections_completed_at": "dcaElectionsCompletedAt",
        "has_submission_transaction": "hasSubmissionTransaction",
        "help_keywords": "helpKeywords",
        "help_message": "helpMessage",
        "message_flow": "messageFlow",
        "optin_keywords": "optinKeywords",
        "optin_message": "optinMessage",
        "optout_keywords": "optoutKeywords",
        "optout_message": "optoutMessage",
        "privacy_policy_link": "privacyPolicyLink",
        "submitted_at": "submittedAt",
        "submitted_to_tcr": "submittedToTCR",
        "tcr_campaign_id": "tcrCampaignId",
        "tcr_sync_error": "tcrSyncError",
        "terms_and_conditions_link": "termsAndConditionsLink",
        "updated_at": "updatedAt",
        "use_cases": "useCases",
    },
):
    """A 10DLC campaign under a profile's brand (``status``: SENT_CREATED, ACTIVE, EXPIRED)."""

    id: str | None = None
    billed_date: AwareDatetime | None = None
    brand_id: str | None = None
    cost: float | None = None
    created_at: AwareDatetime | None = None
    customer_id: str | None = None
    dca_elections_complete: bool | None = None
    dca_elections_completed_at: AwareDatetime | None = None
    description: str | None = None
    has_submission_transaction: bool | None = None
    help_keywords: str | None = None
    help_message: str | None = None
    message_flow: str | None = None
    name: str | None = None
    optin_keywords: str | None = None
    optin_message: str | None = None
    optout_keywords: str | None = None
    optout_message: str | None = None
    privacy_policy_link: str | None = None
    status: str | None = None
    submitted_at: AwareDatetime | None = None
    submitted_to_tcr: bool | None = None
    tcr_campaign_id: str | None = None
    tcr_sync_error: str | None = None
    terms_and_conditions_link: str | None = None
    type: str | None = None
    updated_at: AwareDatetime | None = None
    use_cases: list[CampaignUseCase] | None = None
    volume: str | None = None
