"""The rest of the v3 API: the exact request of every endpoint, and a round trip with the simulator.

Layer 3 (aioresponses) pins method, path, query, body and the ``Idempotency-Key`` of each call;
layer 2 runs every endpoint against the simulator on a real socket, happy and unhappy paths.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from sentdm_async import (
    APIResponseValidationError,
    AsyncSent,
    BadRequestError,
    ConflictError,
    InvalidIdError,
    NotFoundError,
    UnprocessableEntityError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aioresponses import aioresponses

    from sentdm_async.simulator import Simulator

KEY = "sk_test_v3"
BASE = "https://api.example.test"
UID = "2b9c7a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
SINCE = "2026-01-01T00:00:00+00:00"
PID = "7d1e2f3a-4b5c-4d6e-9f0a-1b2c3d4e5f6a"
OK: dict[str, Any] = {"success": True, "data": {}, "meta": {}}
PAGE: dict[str, Any] = {"pagination": {"page": 1, "page_size": 2, "has_more": False}}


def shape(
    name: str,
    call: Callable[[AsyncSent], Awaitable[object]],
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
    data: object = None,
    status: int = 200,
) -> Any:
    """One row of the request-shape table."""
    return pytest.param(call, method, path, query or {}, body, data, status, id=name)


CALLS = "/v3/voice/calls"
SHAPES = [
    # contacts
    shape("contacts.create", lambda c: c.contacts.create(phone_number="+15551230000"),
          "POST", "/v3/contacts", body={"phone_number": "+15551230000"}, data={"id": UID},
          status=201),
    shape("contacts.retrieve", lambda c: c.contacts.retrieve(UID), "GET", f"/v3/contacts/{UID}",
          data={"id": UID}),
    shape("contacts.update", lambda c: c.contacts.update(UID, opt_out=True, sandbox=True),
          "PATCH", f"/v3/contacts/{UID}", body={"opt_out": True, "sandbox": True},
          data={"id": UID}),
    shape("contacts.delete", lambda c: c.contacts.delete(UID), "DELETE", f"/v3/contacts/{UID}",
          body={}, status=204),
    shape("contacts.retrieve_message_summary", lambda c: c.contacts.retrieve_message_summary(UID),
          "GET", f"/v3/contacts/{UID}/message-summary"),
    # conversations
    shape("conversations.list_page", lambda c: c.conversations.list_page(page=2, page_size=5),
          "GET", "/v3/conversations", query={"page": "2", "page_size": "5"}, data=PAGE),
    shape("conversations.list_messages_page",
          lambda c: c.conversations.list_messages_page(UID, page_size=3), "GET",
          f"/v3/conversations/{UID}", query={"page": "1", "page_size": "3"}, data=PAGE),
    # messages (documented by Sent, not in the SDK)
    shape("messages.list_page",
          lambda c: c.messages.list_page(status="SCHEDULED", channel="sms", from_=SINCE),
          "GET", "/v3/messages",
          query={"page": "1", "status": "SCHEDULED", "channel": "sms",
                 "from": SINCE}, data=PAGE),
    shape("messages.resend", lambda c: c.messages.resend(UID), "POST", f"/v3/messages/{UID}/resend",
          data={"id": UID}),
    shape("messages.cancel", lambda c: c.messages.cancel(UID), "POST", f"/v3/messages/{UID}/cancel",
          data={"id": UID, "status": "CANCELLED"}),
    # templates
    shape("templates.create",
          lambda c: c.templates.create(definition={"body": {"text": "Hi"}}, category="UTILITY"),
          "POST", "/v3/templates",
          body={"definition": {"body": {"text": "Hi"}}, "category": "UTILITY"},
          status=201),
    shape("templates.retrieve", lambda c: c.templates.retrieve(UID), "GET", f"/v3/templates/{UID}"),
    shape("templates.update",
          lambda c: c.templates.update(UID, definition={"body": {"text": "Hey"}},
                                       submit_for_review=True),
          "PUT", f"/v3/templates/{UID}",
          body={"definition": {"body": {"text": "Hey"}}, "submit_for_review": True}),
    shape("templates.list_page", lambda c: c.templates.list_page(status="APPROVED", search="otp"),
          "GET", "/v3/templates", query={"page": "1", "status": "APPROVED", "search": "otp"},
          data=PAGE),
    shape("templates.delete", lambda c: c.templates.delete(UID), "DELETE", f"/v3/templates/{UID}",
          body={}, status=204),
    # profiles and campaigns
    shape("profiles.create",
          lambda c: c.profiles.create(name="Shop", extra_fields={"short_name": "SHOP"}),
          "POST", "/v3/profiles", body={"name": "Shop", "short_name": "SHOP"}, status=201),
    shape("profiles.retrieve", lambda c: c.profiles.retrieve(PID), "GET", f"/v3/profiles/{PID}"),
    shape("profiles.update", lambda c: c.profiles.update(PID, description="d"), "PATCH",
          f"/v3/profiles/{PID}", body={"description": "d"}),
    shape("profiles.list", lambda c: c.profiles.list(), "GET", "/v3/profiles",
          data={"profiles": []}),
    shape("profiles.delete", lambda c: c.profiles.delete(PID), "DELETE", f"/v3/profiles/{PID}",
          body={}, status=204),
    shape("profiles.complete", lambda c: c.profiles.complete(PID), "POST",
          f"/v3/profiles/{PID}/complete", body={}),
    shape("profiles.campaigns.create",
          lambda c: c.profiles.campaigns.create(PID, campaign={"use_cases": [{}]}), "POST",
          f"/v3/profiles/{PID}/campaigns", body={"campaign": {"useCases": [{}]}}, status=201),
    shape("profiles.campaigns.update",
          lambda c: c.profiles.campaigns.update(PID, UID, campaign={"name": "n"}), "PUT",
          f"/v3/profiles/{PID}/campaigns/{UID}", body={"campaign": {"name": "n"}}),
    shape("profiles.campaigns.list", lambda c: c.profiles.campaigns.list(PID), "GET",
          f"/v3/profiles/{PID}/campaigns", data=[]),
    shape("profiles.campaigns.delete", lambda c: c.profiles.campaigns.delete(PID, UID), "DELETE",
          f"/v3/profiles/{PID}/campaigns/{UID}", body={}, status=204),
    # users, me, numbers
    shape("users.retrieve", lambda c: c.users.retrieve(UID), "GET", f"/v3/users/{UID}"),
    shape("users.list", lambda c: c.users.list(), "GET", "/v3/users", data={"users": []}),
    shape("users.invite", lambda c: c.users.invite(email="a@b.io", name="A", role="developer"),
          "POST", "/v3/users", body={"email": "a@b.io", "name": "A", "role": "developer"},
          status=201),
    shape("users.update_role", lambda c: c.users.update_role(UID, role="billing"), "PATCH",
          f"/v3/users/{UID}", body={"role": "billing"}),
    shape("users.remove", lambda c: c.users.remove(UID), "DELETE", f"/v3/users/{UID}", body={},
          status=204),
    shape("me.retrieve", lambda c: c.me.retrieve(), "GET", "/v3/me"),
    shape("numbers.lookup", lambda c: c.numbers.lookup("+15551234567"), "GET",
          "/v3/numbers/lookup/%2B15551234567"),
    # channels.voice
    shape("channels.voice.create",
          lambda c: c.channels.voice.create(callback_url="https://a.io/cb", area_code="212"),
          "POST", "/v3/channels/voice",
          body={"callback_url": "https://a.io/cb", "area_code": "212"},
          status=201),
    shape("channels.voice.retrieve", lambda c: c.channels.voice.retrieve("+15550100001"), "GET",
          "/v3/channels/voice/%2B15550100001"),
    shape("channels.voice.update",
          lambda c: c.channels.voice.update("+15550100001", status="INACTIVE"),
          "PATCH", "/v3/channels/voice/%2B15550100001", body={"status": "INACTIVE"}),
    shape("channels.voice.list", lambda c: c.channels.voice.list(), "GET", "/v3/channels/voice",
          data=[]),
    shape("voice.tokens.create", lambda c: c.voice.tokens.create(identity="u1", ttl=60),
          "POST", "/v3/voice/tokens", body={"identity": "u1", "ttl": 60}, status=201),
    shape("channels.voice.rotate_secret", lambda c: c.channels.voice.rotate_secret("+15550100001"),
          "POST", "/v3/channels/voice/%2B15550100001/rotate-secret", body={}),
    shape("channels.voice.test", lambda c: c.channels.voice.test("+15550100001", sandbox=True),
          "POST", "/v3/channels/voice/%2B15550100001/test", body={"sandbox": True}),
    # voice.calls
    shape("voice.calls.retrieve", lambda c: c.voice.calls.retrieve(UID), "GET",
          f"{CALLS}/{UID}"),
    shape("voice.calls.list_page",
          lambda c: c.voice.calls.list_page(status="completed", number="+15550100001"),
          "GET", CALLS, query={"page": "1", "status": "completed", "number": "+15550100001"},
          data=PAGE),
    shape("voice.calls.hangup", lambda c: c.voice.calls.hangup(UID), "POST",
          f"{CALLS}/{UID}/hangup", body={}, status=204),
    shape("voice.calls.list_recordings", lambda c: c.voice.calls.list_recordings(UID), "GET",
          f"{CALLS}/{UID}/recordings"),
    shape("voice.calls.record", lambda c: c.voice.calls.record(UID, action="start"), "POST",
          f"{CALLS}/{UID}/recordings", body={"action": "start"}, status=204),
    shape("voice.calls.participants.list", lambda c: c.voice.calls.participants.list(UID), "GET",
          f"{CALLS}/{UID}/participants", data=[]),
    shape("voice.calls.participants.add",
          lambda c: c.voice.calls.participants.add(UID, to={"kind": "number", "value": "+1555"}),
          "POST", f"{CALLS}/{UID}/participants",
          body={"to": {"kind": "number", "value": "+1555"}}, status=201),
    shape("voice.calls.participants.update",
          lambda c: c.voice.calls.participants.update(PID, id=UID, muted=True), "PATCH",
          f"{CALLS}/{UID}/participants/{PID}", body={"muted": True}, status=204),
    shape("voice.calls.participants.remove",
          lambda c: c.voice.calls.participants.remove(PID, id=UID),
          "DELETE", f"{CALLS}/{UID}/participants/{PID}", body={}, status=204),
    shape("voice.calls.participants.remove_all",
          lambda c: c.voice.calls.participants.remove_all(UID),
          "DELETE", f"{CALLS}/{UID}/participants", body={}, status=204),
]  # fmt: skip

_MUTATING = {"POST", "PUT", "PATCH"}


@pytest.mark.parametrize(("call", "method", "path", "query", "body", "data", "status"), SHAPES)
async def test_request_shape(
    mock_http: aioresponses,
    call: Callable[[AsyncSent], Awaitable[object]],
    method: str,
    path: str,
    query: dict[str, str],
    body: dict[str, Any] | None,
    data: object,
    status: int,
) -> None:
    """Each endpoint sends its method, path, query and body; mutations carry an Idempotency-Key."""
    payload = None if status == 204 else {**OK, "data": data if data is not None else {}}
    mock_http.add(re.compile(r"^https://api\.example\.test/.*$"), method, status=status,
                  payload=payload, body="")  # fmt: skip
    async with AsyncSent(api_key=KEY, base_url=BASE, profile_id="p-org") as client:
        await call(client)
    ((sent_method, url), calls), *rest = mock_http.requests.items()
    assert not rest
    assert len(calls) == 1
    assert sent_method == method
    assert url.raw_path == path
    assert dict(url.query) == query
    kwargs = calls[0].kwargs
    headers = kwargs["headers"]
    assert headers["x-api-key"] == KEY
    assert headers["x-profile-id"] == "p-org"
    if method in _MUTATING:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,255}", headers["Idempotency-Key"])
    else:
        assert "Idempotency-Key" not in headers
    if body is None:
        assert kwargs["data"] is None
    else:
        assert json.loads(kwargs["data"]) == body
        assert headers["Content-Type"] == "application/json"


async def test_idempotency_key_given_is_sent(mock_http: aioresponses) -> None:
    """A caller's idempotency_key goes out unchanged."""
    mock_http.post(f"{BASE}/v3/templates", payload=OK, status=201)
    async with AsyncSent(api_key=KEY, base_url=BASE) as client:
        await client.templates.create(definition={"body": {}}, idempotency_key="tpl-1")
    ((_, _), calls), *_ = mock_http.requests.items()
    assert calls[0].kwargs["headers"]["Idempotency-Key"] == "tpl-1"


@pytest.mark.parametrize(
    ("call", "error"),
    [
        pytest.param(lambda c: c.contacts.retrieve(""), InvalidIdError, id="empty-id"),
        pytest.param(lambda c: c.users.retrieve(".."), InvalidIdError, id="dot-dot-id"),
        pytest.param(lambda c: c.voice.calls.retrieve(5), TypeError, id="int-id"),
        pytest.param(lambda c: c.contacts.create(phone_number=5), TypeError, id="int-phone"),
        pytest.param(lambda c: c.templates.create(definition=[1]), TypeError, id="list-definition"),
        pytest.param(lambda c: c.templates.list_page(page=0), ValueError, id="page-0"),
        pytest.param(lambda c: c.voice.calls.list_page(status=3), TypeError, id="int-filter"),
        pytest.param(
            lambda c: c.messages.list_page(from_=datetime(2026, 1, 1)), ValueError, id="naive-from"
        ),
        pytest.param(
            lambda c: c.channels.voice.create(
                callback_url="https://a.io", number="+1", area_code="1"
            ),
            ValueError,
            id="number-and-area-code",
        ),
        pytest.param(
            lambda c: c.channels.voice.update("+15550100001"), ValueError, id="empty-patch"
        ),
        pytest.param(
            lambda c: c.voice.calls.record(UID, action="pause"), ValueError, id="bad-action"
        ),
        pytest.param(
            lambda c: c.users.invite(email="a@b.io", name="A", role="admin", idempotency_key="a b"),
            ValueError,
            id="bad-idempotency-key",
        ),
        pytest.param(
            lambda c: c.profiles.create(name="x", extra_fields={"when": object()}),
            TypeError,
            id="unserialisable-body",
        ),
    ],
)
async def test_bad_arguments_fail_before_any_request(
    mock_http: aioresponses, call: Callable[[AsyncSent], Awaitable[object]], error: type[Exception]
) -> None:
    """Garbage arguments raise a clear error and send nothing."""
    async with AsyncSent(api_key=KEY, base_url=BASE) as client:
        with pytest.raises(error):
            await call(client)
    assert not mock_http.requests


async def test_list_pages_lazily(mock_http: aioresponses) -> None:
    """A lazy list asks for page n+1 only after page n, and stops at has_more false."""
    url = re.compile(r"^https://api\.example\.test/v3/templates\?.*$")
    for page, more in ((1, True), (2, False)):
        data = {"templates": [{"id": f"t{page}"}], "pagination": {"page": page, "page_size": 1,
                                                                   "has_more": more}}  # fmt: skip
        mock_http.get(url, payload={**OK, "data": data})
    async with AsyncSent(api_key=KEY, base_url=BASE) as client:
        ids = [t.id async for t in client.templates.list(page_size=1, category="UTILITY")]
    assert ids == ["t1", "t2"]
    pages = [dict(u.query)["page"] for (_, u), calls in mock_http.requests.items() for _ in calls]
    assert sorted(pages) == ["1", "2"]


# -- the simulator on a real socket ---------------------------------------------------------------


async def test_contacts_crud_round_trip(client: AsyncSent) -> None:
    """Create, read, update, summarise and delete a contact; then it is gone."""
    created = await client.contacts.create(phone_number="+15557654321")
    assert created.format_e164 == "+15557654321"
    assert (await client.contacts.retrieve(created.id)).phone_number == "+15557654321"
    updated = await client.contacts.update(created.id, opt_out=True)
    assert updated.opt_out is True
    summary = await client.contacts.retrieve_message_summary(created.id)
    assert summary.contact_id == created.id
    assert summary.message_count == 0
    listed = [c.id async for c in client.contacts.list(phone="+15557654321")]
    assert listed == [created.id]
    await client.contacts.delete(created.id)
    with pytest.raises(NotFoundError) as info:
        await client.contacts.retrieve(created.id)
    assert info.value.code == "RESOURCE_001"


async def test_simulator_contacts_are_the_listed_book(client: AsyncSent, sim: Simulator) -> None:
    """sim.contacts() is what GET /v3/contacts lists: API-created last, deleted ones gone."""
    created = await client.contacts.create(phone_number="+15557650000")
    listed = [c.id async for c in client.contacts.list(page_size=100)]
    assert [c["id"] for c in sim.contacts()] == listed
    assert sim.contacts()[-1]["phone_number"] == "+15557650000"
    await client.contacts.delete(created.id)
    assert [c["id"] for c in sim.contacts()] == listed[:-1]


async def test_contacts_validation(client: AsyncSent, sim: Simulator) -> None:
    """Malformed numbers, duplicates, malformed ids and unavailable channels are refused."""
    with pytest.raises(BadRequestError) as info:
        await client.contacts.create(phone_number="555-0100")
    assert info.value.code == "VALIDATION_002"
    assert info.value.details is not None
    assert "phone_number" in info.value.details
    existing = sim.contacts()[0]["phone_number"]
    with pytest.raises(ConflictError) as conflict:
        await client.contacts.create(phone_number=existing)
    assert conflict.value.code == "RESOURCE_007"
    with pytest.raises(BadRequestError) as bad_id:
        await client.contacts.retrieve("not-a-uuid")
    assert bad_id.value.code == "VALIDATION_003"
    sms_only = await client.contacts.create(phone_number="+15557650000")
    with pytest.raises(UnprocessableEntityError) as channel:
        await client.contacts.update(sms_only.id, default_channel="whatsapp")
    assert channel.value.code == "BUSINESS_007"


async def test_sandbox_and_idempotent_replay(client: AsyncSent) -> None:
    """Sandbox writes nothing; the same Idempotency-Key replays the first answer."""
    dry = await client.contacts.create(phone_number="+15557650001", sandbox=True)
    with pytest.raises(NotFoundError):
        await client.contacts.retrieve(dry.id)
    first = await client.users.invite(email="x@y.io", name="X", role="developer",
                                      idempotency_key="invite-x")  # fmt: skip
    again = await client.users.invite(email="x@y.io", name="X", role="developer",
                                      idempotency_key="invite-x")  # fmt: skip
    assert again == first
    assert len((await client.users.list()).items) == 2


async def test_messages_cancel_resend_and_list(client: AsyncSent, sim: Simulator) -> None:
    """Cancel only a SCHEDULED message (again: same answer); resend a finished one; list them."""
    later = datetime.now(UTC) + timedelta(days=1)
    scheduled = sim.create_message(scheduled_at=later)
    held = await client.messages.wait_until_terminal(scheduled, until={"SCHEDULED"}, timeout=20)
    assert held.status == "SCHEDULED"
    cancelled = await client.messages.cancel(scheduled)
    assert cancelled.status == "CANCELLED"
    assert (await client.messages.cancel(scheduled)).status == "CANCELLED"
    assert (await client.messages.retrieve_status(scheduled)).status == "CANCELLED"
    queued = sim.create_message()
    with pytest.raises(ConflictError) as info:
        await client.messages.cancel(queued)
    assert info.value.code == "BUSINESS_006"
    with pytest.raises(ConflictError):
        await client.messages.resend(scheduled)
    done = await client.messages.wait_until_terminal(queued, timeout=20)
    assert done.status in {"DELIVERED", "READ"}
    resent = await client.messages.resend(queued)
    assert resent.id == queued
    assert resent.status == "QUEUED"
    statuses = {m.id: m.status async for m in client.messages.list(page_size=1)}
    assert statuses[scheduled] == "CANCELLED"
    assert [m.id async for m in client.messages.list(status="CANCELLED")] == [scheduled]
    with pytest.raises(NotFoundError) as missing:
        await client.messages.cancel(UID)
    assert missing.value.code == "RESOURCE_003"


async def test_conversations_round_trip(client: AsyncSent, sim: Simulator) -> None:
    """Every message across conversations, and one contact's thread, most recent first."""
    contact = sim.contacts()[0]
    phone, contact_id = contact["phone_number"], contact["id"]
    first = sim.create_message(to=phone)
    second = sim.create_message(to=phone)
    other = sim.create_message(to="+15550109999")
    everything = [m.id async for m in client.conversations.list(page_size=2)]
    assert everything == [other, second, first]
    thread = await client.conversations.list_messages_page(contact_id, page_size=10)
    assert [m.id for m in thread.items] == [second, first]
    assert thread.pagination is not None
    assert thread.pagination.total_count == 2
    with pytest.raises(NotFoundError):
        await client.conversations.list_messages_page(UID)


async def test_templates_round_trip(client: AsyncSent) -> None:
    """Create, list with filters, update, freeze in review, delete."""
    template = await client.templates.create(definition={"body": {"text": "Code {{1}}"}},
                                             category="AUTHENTICATION")  # fmt: skip
    assert template.id is not None
    assert template.status == "DRAFT"
    assert (await client.templates.retrieve(template.id)).category == "AUTHENTICATION"
    drafts = [t.id async for t in client.templates.list(status="DRAFT")]
    assert drafts == [template.id]
    updated = await client.templates.update(template.id, definition={"body": {"text": "Hi"}},
                                            submit_for_review=True)  # fmt: skip
    assert updated.status == "PENDING"
    with pytest.raises(ConflictError) as frozen:
        await client.templates.update(template.id, definition={"body": {"text": "x"}})
    assert frozen.value.code == "CONFLICT_006"
    with pytest.raises(BadRequestError) as invalid:
        await client.templates.create(definition={"header": "no body"})
    assert invalid.value.code == "VALIDATION_004"
    with pytest.raises(BadRequestError) as category:
        await client.templates.create(definition={"body": {}}, category="PROMO")
    assert category.value.code in {"VALIDATION_004", "VALIDATION_006"}
    await client.templates.delete(template.id)
    with pytest.raises(NotFoundError) as gone:
        await client.templates.retrieve(template.id)
    assert gone.value.code == "RESOURCE_002"


async def test_profiles_and_campaigns_round_trip(client: AsyncSent) -> None:
    """Profiles CRUD and complete; campaigns need a use case."""
    profile = await client.profiles.create(name="Shop", description="retail")
    assert profile.id is not None
    assert (await client.profiles.retrieve(profile.id)).name == "Shop"
    assert (await client.profiles.update(profile.id, name="Shop 2")).name == "Shop 2"
    assert [p.id for p in (await client.profiles.list()).items] == [profile.id]
    assert (await client.profiles.complete(profile.id)).status == "SUBMITTED"
    with pytest.raises(ConflictError):
        await client.profiles.complete(profile.id)
    with pytest.raises(BadRequestError) as no_use_case:
        await client.profiles.campaigns.create(profile.id, campaign={"name": "c"})
    assert no_use_case.value.code == "VALIDATION_004"
    campaign = await client.profiles.campaigns.create(
        profile.id, campaign={"name": "c", "use_cases": [{"use_case": "2FA"}]}
    )
    assert campaign.id is not None
    renamed = await client.profiles.campaigns.update(
        profile.id, campaign.id, campaign={"name": "d", "use_cases": [{"use_case": "2FA"}]}
    )
    assert renamed.name == "d"
    assert [c.id for c in await client.profiles.campaigns.list(profile.id)] == [campaign.id]
    await client.profiles.campaigns.delete(profile.id, campaign.id)
    assert await client.profiles.campaigns.list(profile.id) == []
    await client.profiles.delete(profile.id)
    with pytest.raises(NotFoundError):
        await client.profiles.retrieve(profile.id)


async def test_users_me_and_lookup_round_trip(client: AsyncSent, sim: Simulator) -> None:
    """Invite, change role, remove; the last admin stays; me and number lookup."""
    (owner,) = (await client.users.list()).items
    assert owner.role == "admin"
    assert owner.id is not None
    user = await client.users.invite(email="dev@acme.io", name="Dev", role="developer")
    assert user.id is not None
    assert (await client.users.retrieve(user.id)).email == "dev@acme.io"
    assert (await client.users.update_role(user.id, role="billing")).role == "billing"
    with pytest.raises(BadRequestError) as role:
        await client.users.update_role(user.id, role="root")
    assert role.value.code == "VALIDATION_006"
    with pytest.raises(UnprocessableEntityError):
        await client.users.remove(owner.id)
    await client.users.remove(user.id)
    assert [u.id for u in (await client.users.list()).items] == [owner.id]
    me = await client.me.retrieve()
    assert me.id == sim.customer_id
    lookup = await client.numbers.lookup("+15551234560")
    assert lookup.phone_number == "+15551234560"
    assert lookup.carrier_name is not None
    assert lookup.is_valid is True
    with pytest.raises(BadRequestError) as bad:
        await client.numbers.lookup("12345")
    assert bad.value.code == "VALIDATION_002"


async def test_voice_numbers_round_trip(client: AsyncSent) -> None:
    """Enable voice on numbers, move the default line, rotate the secret, mint a token, test."""
    with pytest.raises(BadRequestError):
        await client.voice.tokens.create(identity="agent-1", number="oops")
    first = await client.channels.voice.create(callback_url="https://voice.acme.io/cb",
                                               number="+15550100001")  # fmt: skip
    assert first.callback_secret is not None
    assert first.callback_secret.startswith("whsec_")
    assert first.default_for_app_calls is True
    second = await client.channels.voice.create(callback_url="https://voice.acme.io/cb",
                                                area_code="415")  # fmt: skip
    assert second.number is not None
    assert second.number.startswith("+1415")
    assert second.default_for_app_calls is False
    moved = await client.channels.voice.update(second.number, default_for_app_calls=True)
    assert moved.default_for_app_calls is True
    assert (await client.channels.voice.retrieve("+15550100001")).default_for_app_calls is False
    with pytest.raises(BadRequestError):
        await client.channels.voice.update(second.number, default_for_app_calls=False)
    with pytest.raises(ConflictError):
        await client.channels.voice.update(second.number, status="INACTIVE")
    assert [n.number for n in await client.channels.voice.list()] == ["+15550100001", second.number]
    rotated = await client.channels.voice.rotate_secret("+15550100001")
    assert rotated.callback_secret not in {None, first.callback_secret}
    token = await client.voice.tokens.create(identity="agent-1", ttl=120)
    assert token.number == second.number
    assert token.expires_at is not None
    with pytest.raises(BadRequestError) as ttl:
        await client.voice.tokens.create(identity="agent-1", ttl=7200)
    assert ttl.value.code == "VALIDATION_005"
    assert (await client.channels.voice.test("+15550100001")).outcome == "ok"
    with pytest.raises(NotFoundError):
        await client.channels.voice.retrieve("+15550100999")
    with pytest.raises(BadRequestError) as url:
        await client.channels.voice.create(callback_url="ftp://nope")
    assert url.value.code == "VALIDATION_001"


async def test_calls_round_trip(client: AsyncSent, sim: Simulator) -> None:
    """Read, list, record, conference and hang up a call; an ended call answers 409."""
    voice = sim.resources.voice
    ended = voice.create_call(status="completed", recorded=True)
    live = voice.create_call(status="answered", conference=True)
    call = await client.voice.calls.retrieve(live)
    assert call.status == "answered"
    assert call.from_ is not None
    assert call.from_.value == "+15550100001"
    assert [c.id async for c in client.voice.calls.list(page_size=1)] == [live, ended]
    assert [c.id async for c in client.voice.calls.list(status="completed")] == [ended]
    recordings = await client.voice.calls.list_recordings(ended)
    assert recordings.recordings is not None
    assert len(recordings.recordings) == 1
    await client.voice.calls.record(live, action="start")
    with pytest.raises(ConflictError):
        await client.voice.calls.record(ended, action="stop")
    added = await client.voice.calls.participants.add(
        live, to={"kind": "number", "value": "+15550100042"}
    )
    assert added.id is not None
    members = await client.voice.calls.participants.list(live)
    assert [p.id for p in members] == [live, added.id]
    await client.voice.calls.participants.update(added.id, id=live, muted=True)
    assert [p.muted for p in await client.voice.calls.participants.list(live)] == [False, True]
    await client.voice.calls.participants.remove(added.id, id=live)
    with pytest.raises(NotFoundError):
        await client.voice.calls.participants.remove(added.id, id=live)
    with pytest.raises(ConflictError):
        await client.voice.calls.participants.list(ended)
    await client.voice.calls.participants.remove_all(live)
    assert (await client.voice.calls.retrieve(live)).status == "completed"
    ringing = voice.create_call(status="ringing")
    await client.voice.calls.hangup(ringing)
    assert (await client.voice.calls.retrieve(ringing)).status == "no_answer"
    with pytest.raises(ConflictError) as ended_again:
        await client.voice.calls.hangup(ringing)
    assert ended_again.value.code == "BUSINESS_006"


async def test_unexpected_answer_is_a_validation_error(mock_http: aioresponses) -> None:
    """A 2xx whose data is not the documented shape raises APIResponseValidationError."""
    mock_http.get(f"{BASE}/v3/users", payload={**OK, "data": "not a list"})
    async with AsyncSent(api_key=KEY, base_url=BASE) as client:
        with pytest.raises(APIResponseValidationError):
            await client.users.list()


async def test_pager_stops_at_an_empty_page_without_has_more(mock_http: aioresponses) -> None:
    """With no has_more at all, the pager keeps going until a page comes back empty."""
    url = re.compile(r"^https://api\.example\.test/v3/voice/calls\?.*$")
    mock_http.get(url, payload={**OK, "data": {"calls": [{"id": "c1"}]}})
    mock_http.get(url, payload={**OK, "data": {"calls": []}})
    async with AsyncSent(api_key=KEY, base_url=BASE) as client:
        ids = [c.id async for c in client.voice.calls.list()]
    assert ids == ["c1"]
