"""The simulator answers in the official SDK's shapes: the SDK reads every field it sends.

The official SDK (`sent_dm` 0.46.0) drives the simulator on a real socket; every answer it
decodes must hold no field its pydantic models lack (``model_extra``), at any depth. A field the
simulator invents, or names differently from the API, would otherwise only ever be read by
`sentdm_async` and agree with us rather than with the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pydantic
import pytest
import sent_dm

from .conftest import API_KEY

if TYPE_CHECKING:
    from sent_dm.types.profiles import CampaignDataParam

    from sentdm_async.simulator import Simulator


def _unknown(value: Any, where: str) -> list[str]:
    """Every field of ``value`` (an SDK result) its model does not declare, with its path.

    The SDK's page classes (``sent_dm.pagination``) declare only part of the envelope and of
    ``pagination``, so their own extras are the SDK's gap, not the simulator's; and the SDK's
    ``construct`` also lists a declared field's wire alias (``useCases``) among the extras.
    """
    if isinstance(value, pydantic.BaseModel):
        fields = type(value).model_fields
        declared = {field.alias for field in fields.values() if field.alias}
        paged = any(cls.__module__ == "sent_dm.pagination" for cls in type(value).__mro__)
        extra = [] if paged else [key for key in value.model_extra or {} if key not in declared]
        found = [f"{where}.{key}" for key in extra]
        for name in fields:
            found += _unknown(getattr(value, name), f"{where}.{name}")
        return found
    if isinstance(value, list):
        return [
            line for index, item in enumerate(value) for line in _unknown(item, f"{where}[{index}]")
        ]
    return []


async def _answers(sdk: sent_dm.AsyncSent, sim: Simulator) -> dict[str, Any]:
    """One SDK call per endpoint family, against seeded simulator state."""
    message_id = sim.create_message(outcome="delivered")
    call_id = sim.resources.voice.create_call(status="answered", conference=True, recorded=True)
    contacts = await sdk.contacts.list(page_size=2)
    contact = (contacts.data.contacts or [])[0] if contacts.data else None
    assert contact is not None
    assert contact.id is not None
    template = await sdk.templates.create(
        definition={"body": {"multi_channel": {"template": "hi"}}}
    )
    profile = await sdk.profiles.create(name="Shop")
    assert profile.data is not None
    assert profile.data.id is not None
    campaign: CampaignDataParam = {
        "name": "c",
        "description": "d",
        "type": "t",
        "use_cases": [{"messaging_use_case_us": "MARKETING", "sample_messages": ["hi"]}],
    }
    number = await sdk.channels.voice.create(callback_url="https://hooks.example.com/voice")
    assert number.data is not None
    assert number.data.number is not None
    webhook = await sdk.webhooks.create(
        endpoint_url="https://hooks.example.com/sent", event_types=["message"]
    )
    assert webhook.data is not None
    assert webhook.data.id is not None
    return {
        "contacts.list": contacts,
        "contacts.retrieve": await sdk.contacts.retrieve(contact.id),
        "contacts.retrieve_message_summary": await sdk.contacts.retrieve_message_summary(
            contact.id
        ),
        "messages.retrieve_status": await sdk.messages.retrieve_status(message_id),
        "messages.retrieve_activities": await sdk.messages.retrieve_activities(message_id),
        "conversations.list": await sdk.conversations.list(page=1, page_size=5),
        "templates.create": template,
        "templates.list": await sdk.templates.list(),
        "profiles.create": profile,
        "profiles.list": await sdk.profiles.list(),
        "profiles.campaigns.create": await sdk.profiles.campaigns.create(
            profile.data.id, campaign=campaign
        ),
        "profiles.campaigns.list": await sdk.profiles.campaigns.list(profile.data.id),
        "profiles.complete": await sdk.profiles.complete(
            profile.data.id, web_hook_url="https://hooks.example.com/p"
        ),
        "users.list": await sdk.users.list(),
        "me.retrieve": await sdk.me.retrieve(),
        "numbers.lookup": await sdk.numbers.lookup("+15551234567"),
        "channels.voice.create": number,
        "channels.voice.list": await sdk.channels.voice.list(),
        "channels.voice.test": await sdk.channels.voice.test(number.data.number),
        "voice.tokens.create": await sdk.voice.tokens.create(identity="agent-1"),
        "voice.calls.retrieve": await sdk.voice.calls.retrieve(call_id),
        "voice.calls.list": await sdk.voice.calls.list(),
        "voice.calls.list_recordings": await sdk.voice.calls.list_recordings(call_id),
        "voice.calls.participants.list": await sdk.voice.calls.participants.list(call_id),
        "webhooks.create": webhook,
        "webhooks.list": await sdk.webhooks.list(),
        "webhooks.list_event_types": await sdk.webhooks.list_event_types(),
        "webhooks.rotate_secret": await sdk.webhooks.rotate_secret(webhook.data.id),
        "webhooks.test": await sdk.webhooks.test(webhook.data.id, event_type="message.sent"),
    }


# The SDK marks some of these methods deprecated (profiles.create, contacts.delete...).
@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")
async def test_the_simulator_answers_in_the_sdks_shapes(sim: Simulator) -> None:
    """No answer of the simulator holds a field the official SDK's models do not declare."""
    async with sent_dm.AsyncSent(api_key=API_KEY, base_url=sim.base_url, max_retries=0) as sdk:
        answers = await _answers(sdk, sim)
    unknown = [line for name, answer in answers.items() for line in _unknown(answer, name)]
    assert not unknown, "\n".join(unknown)
