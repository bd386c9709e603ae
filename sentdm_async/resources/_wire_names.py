"""The API's camelCase names for nested request fields, as data, and the one function applying them.

The official SDK takes nested bodies (a template's ``definition``, a profile's ``brand``, a
campaign) as TypedDicts with snake_case keys and renames some of them on the way out (its
``_utils/_transform.py`` reads ``PropertyInfo(alias=...)`` off each ``types/*_param.py``). The
tables below are those aliases, level by level; `to_wire` applies one to a caller's mapping.
Keys a table does not name go out as given, so a caller who already writes the API's
camelCase names is not broken, and a key the API adds later passes through.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

__all__ = ["BRAND", "CAMPAIGN", "TEMPLATE_DEFINITION", "WireNames", "to_wire"]


class WireNames:
    """The renames at one level of a nested body, and the tables of the levels below."""

    __slots__ = ("nested", "renamed")

    def __init__(self, renamed: Mapping[str, str] | None = None, **nested: WireNames) -> None:
        self.renamed: Mapping[str, str] = renamed or {}
        self.nested: Mapping[str, WireNames] = nested


def to_wire(value: object, names: WireNames) -> object:
    """Return ``value`` with its keys renamed by ``names``, recursively (lists item by item).

    An aware ``datetime`` becomes ISO 8601, as the SDK's ``iso8601`` format does.
    """
    if isinstance(value, Mapping):
        return {
            names.renamed.get(key, key): to_wire(item, names.nested.get(key, _LEAF))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [to_wire(item, names) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


_LEAF: Final = WireNames()

_VARIABLE_PROPS = WireNames(
    {"media_type": "mediaType", "variable_type": "variableType", "short_url": "shortUrl"}
)
_VARIABLES = WireNames(props=_VARIABLE_PROPS)
_CONTENT = WireNames(variables=_VARIABLES)
_BUTTON_PROPS = WireNames(
    {
        "active_for": "activeFor",
        "autofill_text": "autofillText",
        "country_code": "countryCode",
        "offer_code": "offerCode",
        "otp_type": "otpType",
        "package_name": "packageName",
        "phone_number": "phoneNumber",
        "quick_reply_type": "quickReplyType",
        "signature_hash": "signatureHash",
        "url_type": "urlType",
    },
    variables=_VARIABLES,
)

# sent_dm/types/template_definition_param.py and the params it names.
TEMPLATE_DEFINITION: Final = WireNames(
    {"authentication_config": "authenticationConfig", "definition_version": "definitionVersion"},
    authentication_config=WireNames(
        {
            "add_security_recommendation": "addSecurityRecommendation",
            "code_expiration_minutes": "codeExpirationMinutes",
        }
    ),
    body=WireNames(
        {"multi_channel": "multiChannel"},
        mms=WireNames(variables=_VARIABLES, media=WireNames({"media_type": "mediaType"})),
        multi_channel=_CONTENT,
        rcs=_CONTENT,
        sms=_CONTENT,
        whatsapp=_CONTENT,
    ),
    buttons=WireNames(props=_BUTTON_PROPS),
    footer=_CONTENT,
    header=_CONTENT,
)

# sent_dm/types/brands_brand_data_param.py and brand_*_info_param.py.
BRAND: Final = WireNames(
    compliance=WireNames(
        {
            "brand_relationship": "brandRelationship",
            "destination_countries": "destinationCountries",
            "is_tcr_application": "isTcrApplication",
            "phone_number_prefix": "phoneNumberPrefix",
        },
        destination_countries=WireNames({"is_main": "isMain"}),
    ),
    contact=WireNames({"business_name": "businessName", "phone_country_code": "phoneCountryCode"}),
    business=WireNames(
        {
            "country_of_registration": "countryOfRegistration",
            "entity_type": "entityType",
            "legal_name": "legalName",
            "postal_code": "postalCode",
            "tax_id": "taxId",
            "tax_id_type": "taxIdType",
        }
    ),
)

# sent_dm/types/profiles/campaign_data_param.py.
CAMPAIGN: Final = WireNames(
    {
        "use_cases": "useCases",
        "help_keywords": "helpKeywords",
        "help_message": "helpMessage",
        "message_flow": "messageFlow",
        "optin_keywords": "optinKeywords",
        "optin_message": "optinMessage",
        "optout_keywords": "optoutKeywords",
        "optout_message": "optoutMessage",
        "privacy_policy_link": "privacyPolicyLink",
        "terms_and_conditions_link": "termsAndConditionsLink",
    },
    use_cases=WireNames(
        {"messaging_use_case_us": "messagingUseCaseUs", "sample_messages": "sampleMessages"}
    ),
)
