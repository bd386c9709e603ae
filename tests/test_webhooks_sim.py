"""Webhooks end to end: client.webhooks against the simulator, which delivers signed events."""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING

import anyio
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sentdm_async import AsyncSent, BadRequestError, NotFoundError, PollPolicy, webhooks
from sentdm_async.simulator import Simulator, WebhookFaults
from sentdm_async.simulator._webhooks import AUTO_DISABLE_AFTER

from .conftest import API_KEY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aioresponses import aioresponses

BASE = "https://api.example.test"


async def test_management_round_trip(client: AsyncSent, sim: Simulator) -> None:
    """Create, read, list, update, toggle, rotate, test, log, event types, delete."""
    created = await client.webhooks.create(
        endpoint_url="https://example.test/hooks", display_name="ops", event_types=["message"]
    )
    assert created.signing_secret is not None
    assert created.signing_secret.startswith("whsec_")
    assert created.id is not None
    assert (await client.webhooks.retrieve(created.id)).display_name == "ops"
    assert [w.id async for w in client.webhooks.list()] == [created.id]
    updated = await client.webhooks.update(created.id, retry_count=5, display_name="ops-2")
    assert (updated.retry_count, updated.display_name) == (5, "ops-2")
    assert (await client.webhooks.toggle_status(created.id)).is_active is False
    assert (await client.webhooks.toggle_status(created.id)).is_active is True
    assert (await client.webhooks.toggle_status(created.id, is_active=True)).is_active is True
    rotated = await client.webhooks.rotate_secret(created.id)
    assert rotated.signing_secret not in {None, created.signing_secret}
    assert (await client.webhooks.retrieve(created.id)).signing_secret == rotated.signing_secret
    assert (await client.webhooks.test(created.id, event_type="message.sent")).success is True
    assert (await client.webhooks.list_events(created.id)).events == []
    kinds = (await client.webhooks.list_event_types()).items
    assert {"message", "contact", "templates"} <= {t.name for t in kinds}
    assert all(sub.name is not None for t in kinds for sub in t.sub_types or [])
    await client.webhooks.delete(created.id)
    with pytest.raises(NotFoundError):
        await client.webhooks.retrieve(created.id)


async def test_management_validation(client: AsyncSent) -> None:
    """Bad arguments fail before a request; the simulator answers the API's validation errors."""
    with pytest.raises(ValueError, match="endpoint_url"):
        await client.webhooks.create(endpoint_url="ftp://example.test")
    with pytest.raises(BadRequestError) as info:
        await client.webhooks.create(endpoint_url="https://example.test", retry_count=9)
    assert info.value.details is not None
    assert "retry_count" in info.value.details
    with pytest.raises(ValueError, match="webhook_id"):
        await client.webhooks.retrieve("..")


async def test_refused_update_changes_nothing(client: AsyncSent) -> None:
    """An update the simulator refuses (400) leaves every field as it was, valid ones too."""
    created = await client.webhooks.create(
        endpoint_url="https://example.test/hooks", display_name="ops"
    )
    assert created.id is not None
    with pytest.raises(BadRequestError) as info:
        await client.webhooks.update(created.id, display_name="ops-2", retry_count=9)
    assert info.value.details is not None
    assert list(info.value.details) == ["retry_count"]
    after = await client.webhooks.retrieve(created.id)
    assert (after.display_name, after.retry_count, after.updated_at) == (
        "ops",
        created.retry_count,
        created.updated_at,
    )


async def test_management_request_shape(mock_http: aioresponses) -> None:
    """Mutating calls carry an Idempotency-Key; paths and methods as documented."""
    ok = {"success": True, "data": {"id": "w1", "endpoint_url": "https://x.test"}}
    mock_http.post(f"{BASE}/v3/webhooks", payload=ok)
    mock_http.patch(f"{BASE}/v3/webhooks/w1/toggle-status", payload=ok)
    mock_http.delete(f"{BASE}/v3/webhooks/w1", status=204)
    async with AsyncSent(api_key=API_KEY, base_url=BASE) as client:
        await client.webhooks.create(endpoint_url="https://x.test", event_types="message")
        await client.webhooks.toggle_status("w1")
        await client.webhooks.delete("w1")  # a 204: no body expected, none decoded
    calls = [(m, str(u), c) for (m, u), cs in mock_http.requests.items() for c in cs]
    (create,) = [c for m, _, c in calls if m == "POST"]
    assert json.loads(create.kwargs["data"]) == {
        "endpoint_url": "https://x.test",
        "event_types": ["message"],
    }
    assert re.fullmatch(r"[A-Za-z0-9_-]+", create.kwargs["headers"]["Idempotency-Key"])
    assert [m for m, _, _ in calls] == ["POST", "PATCH", "DELETE"]


@pytest.fixture
async def fast_sim() -> AsyncIterator[Simulator]:
    async with Simulator(api_key=API_KEY, seed=11, speed=600.0) as simulator:
        yield simulator


class LateSecretReceiver:
    """An aiohttp app whose receiver is built once the endpoint's secret is known.

    The endpoint URL is needed to register the webhook, and the registration returns the
    secret: so the handler is made at the first delivery.
    """

    def __init__(self, target: object) -> None:
        self.target = target
        self.secret = ""
        self.handler: object = None
        self.app = web.Application()
        self.app.router.add_post("/hooks", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.handler is None:
            self.handler = webhooks.aiohttp_handler(self.secret, self.target)  # type: ignore[arg-type]
        response: web.StreamResponse = await self.handler(request)  # type: ignore[operator]
        return response


async def test_signed_deliveries_feed_a_watcher(fast_sim: Simulator) -> None:
    """Endpoint, signed deliveries, receiver, watcher: each step once despite faults.

    Duplicated, badly signed and dropped deliveries are injected; every message still ends at
    DELIVERED, no step is yielded twice, and polls stay well under two per message.
    """
    fast_sim.webhooks.faults = WebhookFaults(duplicate=0.3, bad_signature=0.3, drop=0.2)
    async with AsyncSent(api_key=API_KEY, base_url=fast_sim.base_url, rate_limit=None) as client:
        policy = PollPolicy(min_interval=0.5, max_interval=2.0, overdue_after=1.0)
        async with client.messages.watcher(poll=policy, timeout=30) as watcher:
            receiver = LateSecretReceiver(watcher)
            async with TestServer(receiver.app, host="127.0.0.1") as server:
                endpoint = await client.webhooks.create(endpoint_url=str(server.make_url("/hooks")))
                assert endpoint.signing_secret is not None
                receiver.secret = endpoint.signing_secret
                ids = fast_sim.create_messages(20, outcome="delivered")
                for message_id in ids:
                    watcher.add(message_id)
                watcher.finish()
                with anyio.fail_after(30):
                    events = [e async for e in watcher]
                polls = watcher.polls
    finals = {e.message_id: e for e in events if e.done}
    assert set(finals) == set(ids)
    assert all(e.activity is not None and e.activity.status == "DELIVERED" for e in finals.values())
    for message_id in ids:
        statuses = [e.activity.status for e in events if e.message_id == message_id and e.activity]
        assert len(statuses) == len(set(statuses))
    core = receiver.handler.receiver  # type: ignore[attr-defined]
    assert core.handed_over > 0
    assert core.duplicates > 0  # duplicated deliveries were acknowledged, not handed over
    assert fast_sim.webhooks.attempts > fast_sim.webhooks.delivered  # bad signatures retried
    assert polls < 2 * len(ids)


async def test_failing_endpoint_is_retried_then_disabled(fast_sim: Simulator) -> None:
    """An endpoint that always fails gets retry_count retries per event, then is disabled."""
    hits = 0

    async def broken(request: web.Request) -> web.Response:
        nonlocal hits
        hits += 1
        return web.Response(status=503)

    app = web.Application()
    app.router.add_post("/hooks", broken)
    async with (
        TestServer(app, host="127.0.0.1") as server,
        AsyncSent(api_key=API_KEY, base_url=fast_sim.base_url, rate_limit=None) as client,
    ):
        endpoint = await client.webhooks.create(
            endpoint_url=str(server.make_url("/hooks")), retry_count=1
        )
        assert endpoint.id is not None
        fast_sim.create_messages(4, outcome="delivered")  # about 5 events each
        with anyio.fail_after(30):
            while (await client.webhooks.retrieve(endpoint.id)).is_active:  # noqa: ASYNC110 - polls the API
                await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # attempts already in flight finish; no new one starts
        settled = hits
        await asyncio.sleep(0.5)
        log = await client.webhooks.list_events(endpoint.id)
    assert hits == settled
    assert len(log.items) >= AUTO_DISABLE_AFTER  # plus those in flight when it was disabled
    assert all(e.delivery_status == "FAILED" and e.delivery_attempts == 2 for e in log.items)
    assert hits >= 2 * AUTO_DISABLE_AFTER  # one retry each (retry_count=1)
