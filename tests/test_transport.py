"""Layer 2: requests end to end against the simulator on a real local socket."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import anyio
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sentdm_async import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AsyncSent,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    SentError,
    TokenBucket,
)
from sentdm_async.simulator import Simulator

from .conftest import API_KEY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from types import SimpleNamespace

    from .conftest import RecordingSleep


async def test_activities_roundtrip(client: AsyncSent, sim: Simulator) -> None:
    """A seeded message's log comes back most recent first, decoded."""
    message_id = sim.create_message(outcome="delivered")
    log = await client.messages.retrieve_activities(message_id)
    assert log.message_id == message_id
    assert log.activities
    assert log.activities[-1].status == "QUEUED"
    statuses = [a.status for a in log.chronological()]
    assert statuses[0] == "QUEUED"
    timestamps = [a.timestamp for a in log.chronological()]
    assert timestamps == sorted(timestamps)
    assert sim.stats.by_route["activities"] == 1


async def test_status_roundtrip(client: AsyncSent, sim: Simulator) -> None:
    """The status endpoint decodes into a Message with Decimal prices."""
    message_id = sim.create_message(outcome="failed", channel="whatsapp")
    message = await client.messages.retrieve_status(message_id)
    assert message.id == message_id
    assert message.channel == "whatsapp"
    assert message.events


async def test_not_found_is_mapped_with_code_and_request_id(client: AsyncSent) -> None:
    """A 404 becomes NotFoundError carrying the API's code and request id; not retried."""
    with pytest.raises(NotFoundError) as info:
        await client.messages.retrieve_activities("no-such-message")
    error = info.value
    assert error.status_code == 404
    assert error.code == "RESOURCE_003"
    assert error.request_id
    assert error.request_id.startswith("req_")
    assert error.doc_url
    assert "RESOURCE_003" in str(error)
    assert "/v3/messages/no-such-message/activities" in str(error)


async def test_bad_key_is_authentication_error(sim: Simulator) -> None:
    """A wrong key is a 401 AuthenticationError, and the key is not in the message."""
    async with AsyncSent(api_key="sk_wrong_key", base_url=sim.base_url, rate_limit=None) as c:
        with pytest.raises(AuthenticationError) as info:
            await c.messages.retrieve_status("m")
    assert info.value.code == "AUTH_002"
    assert "sk_wrong_key" not in str(info.value)
    assert sim.stats.requests == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
async def test_transient_status_is_retried(
    client: AsyncSent, sim: Simulator, sleeps: RecordingSleep, status: int
) -> None:
    """Transient statuses are retried with backoff and then succeed."""
    message_id = sim.create_message()
    sim.inject("status", status=status, times=2, route="activities")
    log = await client.messages.retrieve_activities(message_id)
    assert log.message_id == message_id
    assert sim.stats.by_route["activities"] == 3
    assert len(sleeps.delays) == 2
    assert 0 <= sleeps.delays[0] <= 0.5
    assert 0 <= sleeps.delays[1] <= 1.0


async def test_retries_exhausted_raise_the_last_error(client: AsyncSent, sim: Simulator) -> None:
    """After max_retries the mapped error is raised (3 attempts by default)."""
    sim.inject("status", status=503, times=5)
    with pytest.raises(InternalServerError) as info:
        await client.messages.retrieve_status(sim.create_message())
    assert info.value.status_code == 503
    assert sim.stats.requests == 3


async def test_html_error_page_is_retried_then_mapped(client: AsyncSent, sim: Simulator) -> None:
    """An HTML 502 from a proxy is an InternalServerError with an excerpt, not a crash."""
    sim.inject("html", status=502, times=3)
    with pytest.raises(InternalServerError) as info:
        await client.messages.retrieve_status(sim.create_message())
    assert "Bad Gateway" in str(info.value)


async def test_x_should_retry(client: AsyncSent, sim: Simulator) -> None:
    """x-should-retry: true retries a 400; false stops a 503 at once."""
    message_id = sim.create_message()
    sim.inject("status", status=400, headers={"x-should-retry": "true"})
    await client.messages.retrieve_status(message_id)
    assert sim.stats.requests == 2
    sim.stats.reset()
    sim.inject("status", status=503, headers={"x-should-retry": "false"})
    with pytest.raises(InternalServerError):
        await client.messages.retrieve_status(message_id)
    assert sim.stats.requests == 1


async def test_non_retryable_4xx(client: AsyncSent, sim: Simulator) -> None:
    """400 and a 409 other than CONFLICT_001 are raised at once."""
    sim.inject("status", status=400, code="VALIDATION_001")
    with pytest.raises(BadRequestError):
        await client.messages.retrieve_status("m")
    sim.inject("status", status=409, code="BUSINESS_006")
    with pytest.raises(ConflictError):
        await client.messages.retrieve_status("m")
    assert sim.stats.requests == 2


async def test_conflict_001_is_retried(client: AsyncSent, sim: Simulator) -> None:
    """409 CONFLICT_001 (same key in flight) is retried."""
    sim.inject("status", status=409, code="CONFLICT_001")
    await client.messages.retrieve_status(sim.create_message())
    assert sim.stats.requests == 2


async def test_retry_after_is_obeyed(
    client: AsyncSent, sim: Simulator, sleeps: RecordingSleep
) -> None:
    """A 503 with Retry-After waits exactly that long instead of the backoff."""
    sim.inject("status", status=503, headers={"Retry-After": "3"})
    await client.messages.retrieve_status(sim.create_message())
    assert sleeps.delays == [3.0]


async def test_long_retry_after_raises_at_once(client: AsyncSent, sim: Simulator) -> None:
    """A Retry-After beyond max_retry_after is not slept: RateLimitError with retry_after."""
    sim.inject("status", status=429, headers={"Retry-After": "3600"})
    with pytest.raises(RateLimitError) as info:
        await client.messages.retrieve_status(sim.create_message())
    assert info.value.retry_after == 3600.0
    assert info.value.code == "BUSINESS_002"
    assert sim.stats.requests == 1


async def test_429_pauses_the_shared_budget(sim: Simulator, sleeps: RecordingSleep) -> None:
    """A 429 pauses the client's budget for Retry-After; the retry then succeeds."""
    budget = TokenBucket(6000, burst=10)
    async with AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=budget) as client:
        sim.inject("status", status=429, headers={"retry-after-ms": "50"})
        await client.messages.retrieve_status(sim.create_message())
    assert budget.pauses == 1
    assert sim.stats.rate_limited == 1
    assert sim.stats.requests == 2
    assert sleeps.delays == []  # the budget did the waiting, not a second sleep


async def test_auto_budget_follows_server_headers(sim_limited: Simulator) -> None:
    """In auto mode the budget adopts the server's X-RateLimit-Limit."""
    async with AsyncSent(api_key=API_KEY, base_url=sim_limited.base_url) as client:
        await client.messages.retrieve_status(sim_limited.create_message())
        assert isinstance(client.budget, TokenBucket)
        assert client.budget.rate_per_minute == pytest.approx(6000 * 0.95)  # 5% headroom
        assert client.budget.available < 20  # the server said 19 remain


@pytest.fixture
async def sim_limited() -> AsyncIterator[Simulator]:
    """A simulator with a rate limit of 6000/min, burst 20."""
    async with Simulator(api_key=API_KEY, rate_limit=6000, burst=20) as simulator:
        yield simulator


async def test_budget_keeps_a_burst_under_the_server_limit(sim_limited: Simulator) -> None:
    """60 concurrent calls through one budget below a 20-burst server's limit see no 429."""
    ids = sim_limited.create_messages(60)
    budget = TokenBucket(3000, burst=10)  # half the server's rate and burst: jitter-proof
    async with (
        AsyncSent(api_key=API_KEY, base_url=sim_limited.base_url, rate_limit=budget) as c,
        anyio.create_task_group() as tg,
    ):
        for message_id in ids:
            tg.start_soon(c.messages.retrieve_status, message_id)
    assert sim_limited.stats.requests == 60
    assert sim_limited.stats.rate_limited == 0


async def test_timeout_is_retried_then_raised(sim: Simulator, sleeps: RecordingSleep) -> None:
    """A server slower than `timeout` raises APITimeoutError (a TimeoutError) after retries."""
    sim.inject("delay", delay=2.0, times=2)
    async with AsyncSent(
        api_key=API_KEY, base_url=sim.base_url, rate_limit=None, timeout=0.2, max_retries=1
    ) as client:
        with pytest.raises(APITimeoutError) as info:
            await client.messages.retrieve_status("m")
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, APIConnectionError)
    assert "timeout=0.2s" in str(info.value)
    assert sim.stats.requests == 2


async def test_dropped_connection_is_retried(client: AsyncSent, sim: Simulator) -> None:
    """A connection closed without a response is retried, then succeeds."""
    sim.inject("drop", times=2)
    message_id = sim.create_message()
    log = await client.messages.retrieve_activities(message_id)
    assert log.message_id == message_id


async def test_dropped_connections_exhaust_to_connection_error(
    client: AsyncSent, sim: Simulator
) -> None:
    """Connections dropped on every attempt end in APIConnectionError, not an aiohttp error."""
    sim.inject("drop", times=10)  # aiohttp itself may retry a dropped keep-alive connection once
    with pytest.raises(APIConnectionError) as info:
        await client.messages.retrieve_status("m")
    assert not isinstance(info.value, APITimeoutError)
    assert "ServerDisconnectedError" in str(info.value)
    # Never chained: an aiohttp exception's repr can carry the request headers (the API key).
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


async def test_refused_connection(sleeps: RecordingSleep) -> None:
    """Nothing listening is an APIConnectionError after the retries."""
    async with AsyncSent(api_key=API_KEY, base_url="http://127.0.0.1:9", rate_limit=None) as c:
        with pytest.raises(APIConnectionError):
            await c.messages.retrieve_status("m")
    assert len(sleeps.delays) == 2


@pytest.mark.parametrize(
    ("kind", "needle"),
    [
        pytest.param("html200", "not the documented envelope", id="html"),
        pytest.param("truncated", "not the documented envelope", id="truncated"),
        pytest.param("empty", "empty body", id="empty"),
        pytest.param("null_data", "without data", id="success-with-null-data"),
        pytest.param("wrong_shape", "not the documented envelope", id="wrong-shape"),
    ],
)
async def test_bad_bodies_are_validation_errors(
    client: AsyncSent, sim: Simulator, kind: str, needle: str
) -> None:
    """Bodies that are not the envelope become APIResponseValidationError with an excerpt."""
    sim.inject(kind, route="activities")
    with pytest.raises(APIResponseValidationError) as info:
        await client.messages.retrieve_activities(sim.create_message())
    error = info.value
    assert needle in str(error)
    assert error.status_code == 200
    assert error.request_id
    assert sim.stats.requests == 1  # a bad body is not retried


async def test_oversize_body_is_refused(sim: Simulator) -> None:
    """A body over max_response_bytes is refused without reading it all."""
    sim.inject("oversize", size=200_000)
    async with AsyncSent(
        api_key=API_KEY, base_url=sim.base_url, rate_limit=None, max_response_bytes=100_000
    ) as client:
        with pytest.raises(APIResponseValidationError, match="max_response_bytes"):
            await client.messages.retrieve_activities(sim.create_message())


async def test_send_and_idempotency_key_reused_on_retry(
    sim: Simulator, sleeps: RecordingSleep
) -> None:
    """A retried send carries the same Idempotency-Key on every attempt."""
    seen: list[str] = []

    async def on_request_start(
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        seen.append(params.headers["Idempotency-Key"])

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    sim.inject("status", status=503, route="send", times=2)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        client = AsyncSent(api_key=API_KEY, base_url=sim.base_url, rate_limit=None, session=session)
        result = await client.messages.send(to=["+15551234567", "+15557654321"], text="hello")
        await client.aclose()
    assert len(seen) == 3
    assert len(set(seen)) == 1
    assert len(result.message_ids) == 2
    assert sim.stats.sends == 2


async def test_send_replay_creates_nothing(client: AsyncSent, sim: Simulator) -> None:
    """Sending twice with one key returns the first result and creates one message."""
    first = await client.messages.send(to=["+15551234567"], text="a", idempotency_key="k1")
    again = await client.messages.send(to=["+15551234567"], text="a", idempotency_key="k1")
    assert first.message_ids == again.message_ids
    assert sim.stats.sends == 1


async def test_contacts_paginate_lazily(client: AsyncSent, sim: Simulator) -> None:
    """list() walks every page once; list_page() returns one page with pagination."""
    contacts = [c async for c in client.contacts.list(page_size=40)]
    assert len(contacts) == 250
    assert len({c.id for c in contacts}) == 250
    assert sim.stats.by_route["contacts"] == 7  # ceil(250 / 40)
    page = await client.contacts.list_page(page=2, page_size=100)
    assert page.pagination is not None
    assert page.pagination.page == 2
    assert page.pagination.has_more is True
    assert len(page.items) == 100
    sim.stats.reset()
    stream = client.contacts.list(page_size=10)
    async for _ in stream:
        break
    assert sim.stats.by_route["contacts"] == 1  # nothing fetched ahead of the caller


async def test_contacts_filter(client: AsyncSent) -> None:
    """A search that matches nothing ends after one empty page."""
    assert [c async for c in client.contacts.list(search="no-such-contact-xyz")] == []


async def test_caller_session_is_used(sim: Simulator) -> None:
    """A caller-owned session carries the requests and stays open."""
    async with (
        aiohttp.ClientSession() as session,
        AsyncSent(api_key=API_KEY, base_url=sim.base_url, session=session) as c,
    ):
        await c.messages.retrieve_status(sim.create_message())
        await c.aclose()
        assert not session.closed
    assert sim.stats.requests == 1


@pytest.fixture
async def redirector(sim: Simulator) -> AsyncIterator[tuple[str, list[str]]]:
    """A server that redirects to itself (same origin) or to the simulator (other origin)."""
    hits: list[str] = []

    async def same(request: web.Request) -> web.StreamResponse:
        hits.append(request.headers.get("x-api-key", ""))
        raise web.HTTPFound("/final")

    async def final(request: web.Request) -> web.StreamResponse:
        hits.append(request.headers.get("x-api-key", ""))
        return web.json_response({"success": True, "data": {"id": "m"}})

    async def other(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{sim.base_url}/v3/messages/m")

    app = web.Application()
    app.router.add_get("/v3/messages/same", same)
    app.router.add_get("/final", final)
    app.router.add_get("/v3/messages/other", other)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), hits
    finally:
        await server.close()


async def test_redirects_never_carry_the_key_elsewhere(
    redirector: tuple[str, list[str]], sim: Simulator
) -> None:
    """Same-origin redirects are followed; one to another origin is refused, key not sent."""
    base, hits = redirector
    async with AsyncSent(api_key=API_KEY, base_url=base, rate_limit=None) as client:
        message = await client.messages.retrieve_status("same")
        assert message.id == "m"
        assert hits == [API_KEY, API_KEY]
        with pytest.raises(SentError, match="another origin"):
            await client.messages.retrieve_status("other")
    assert sim.stats.requests == 0


async def test_requests_go_through_the_environment_proxy(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With HTTP_PROXY set, requests reach the API through it.

    Here the simulator is the proxy, and the base URL points at a port where nothing listens.
    """
    monkeypatch.setenv("HTTP_PROXY", sim.base_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    message_id = sim.create_message()
    async with AsyncSent(api_key=API_KEY, base_url="http://127.0.0.2:9", rate_limit=None) as c:
        log = await c.messages.retrieve_activities(message_id)
    assert log.message_id == message_id
    assert sim.stats.requests == 1
