"""Tests of the fake Sent v3 server, over a real local socket with a plain aiohttp client."""

from __future__ import annotations

import asyncio
import math
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
import pytest
from aiohttp.test_utils import TestServer

import sentdm_async.simulator as simulator
from sentdm_async.simulator import (
    FAULT_KINDS,
    OutcomeMix,
    Simulator,
    WebhookFaults,
    run_main,
    serve,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

KEY = "sk_test_simulator"
TS_7 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+00:00$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ACTIVITY_KEYS = {"status", "description", "from", "timestamp", "price", "active_contact_price"}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(speed=1000, seed=7, contacts=45) as started:
        yield started


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"x-api-key": KEY}) as client:
        yield client


async def call(
    session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any, aiohttp.ClientResponse]:
    """Send one request and return (status, decoded JSON body or None, response)."""
    async with session.request(method, url, **kwargs) as response:
        raw = await response.read()
        body = msgspec.json.decode(raw) if raw and response.content_type.endswith("json") else None
        return response.status, body, response


async def wait_terminal(sim: Simulator, message_id: str) -> None:
    """Sleep until the message's planned terminal instant has passed."""
    at = sim.terminal_at(message_id)
    assert at is not None
    await asyncio.sleep(max(0.0, at - time.monotonic()) + 0.005)


def test_exports_are_sorted_and_complete() -> None:
    """__all__ is sorted and names every public object of the package."""
    assert simulator.__all__ == sorted(simulator.__all__)
    for name in (
        "FAULT_KINDS",
        "OutcomeMix",
        "SimStats",
        "Simulator",
        "WebhookFaults",
        "run_main",
        "serve",
    ):
        assert name in simulator.__all__


async def test_activities_match_the_seed_page_shape(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """Activities come most recent first with 7-digit timestamps and 4-dp string prices."""
    mid = sim.create_message(outcome="delivered", channel="sms")
    await wait_terminal(sim, mid)
    status, body, response = await call(
        session, "GET", f"{sim.base_url}/v3/messages/{mid}/activities"
    )
    assert status == 200
    assert set(body) == {"success", "data", "error", "meta"}
    assert body["success"] is True
    assert body["error"] is None
    meta = body["meta"]
    assert re.match(r"^req_[A-Za-z0-9]{10}$", meta["request_id"])
    assert response.headers["X-Request-Id"] == meta["request_id"]
    assert response.headers["X-API-Version"] == "v3"
    assert TS_7.match(meta["timestamp"])
    assert meta["version"] == "v3"
    data = body["data"]
    assert data["message_id"] == mid
    assert data["pagination"] is None
    activities = data["activities"]
    planned = [s for _, s in sim.lifecycle(mid)]
    assert [a["status"] for a in activities] == planned[::-1]
    assert activities[0]["status"] == "DELIVERED"
    assert activities[-1]["status"] == "QUEUED"
    stamps = [a["timestamp"] for a in activities]
    assert all(TS_7.match(s) for s in stamps)
    assert stamps == sorted(stamps, reverse=True)
    for activity in activities:
        assert set(activity) == ACTIVITY_KEYS
        if activity["status"] == "QUEUED":
            assert activity["price"] is None
            assert activity["active_contact_price"] is None
        else:
            assert activity["price"] == "0.0450"
            assert activity["active_contact_price"] == "0.0050"
        if activity["status"] in {"QUEUED", "PROCESSED"}:
            assert activity["from"] is None
        else:
            assert re.match(r"^\+1555\d{7}$", activity["from"])
    assert activities[-1]["description"] == "Message accepted and queued for processing"
    assert any(a["description"] == "Message sent via SMS" for a in activities)


async def test_status_object_of_a_failed_whatsapp_message(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """GET /v3/messages/{id} has number prices, the failure reason and events oldest first."""
    mid = sim.create_message(outcome="failed", channel="whatsapp", to="+12025550199")
    await wait_terminal(sim, mid)
    status, body, _ = await call(session, "GET", f"{sim.base_url}/v3/messages/{mid}")
    assert status == 200
    data = body["data"]
    assert data["id"] == mid
    assert data["status"] == "FAILED"
    assert data["channel"] == "whatsapp"
    assert data["direction"] == "outbound"
    assert data["phone"] == "+12025550199"
    assert data["phone_international"] == "+1 202-555-0199"
    assert data["price"] == 0.012
    assert data["active_contact_price"] == 0.005
    assert data["reason_code"] in {"DELIVERY_007", "DELIVERY_003"}
    assert data["reason"]
    assert data["template_id"] is None
    assert data["region_code"] == "US"
    assert UUID4.match(data["contact_id"])
    assert UUID4.match(data["customer_id"])
    assert TS_7.match(data["created_at"])
    events = data["events"]
    assert [e["status"] for e in events] == [s for _, s in sim.lifecycle(mid)]
    assert "reason_code" not in events[0]
    assert events[-1]["reason_code"] == data["reason_code"]
    assert any(e["description"] == "Message sent via WhatsApp" for e in events)
    assert data["message_body"] == {
        "content": "Hello from the Sent simulator",
        "header": None,
        "footer": None,
        "buttons": [],
    }


@pytest.mark.parametrize(
    ("outcome", "channel", "last", "has_sent"),
    [
        pytest.param("read", "whatsapp", "READ", True, id="read-whatsapp"),
        pytest.param("read", "sms", "DELIVERED", True, id="read-on-sms-is-delivered"),
        pytest.param("blocked", "sms", "BLOCKED", False, id="blocked"),
        pytest.param("filtered", "sms", "FILTERED", False, id="filtered"),
        pytest.param("no_receipt", "sms", "SENT", True, id="no-receipt"),
    ],
)
def test_planned_lifecycles(outcome: str, channel: str, last: str, has_sent: bool) -> None:
    """Each outcome plans its documented status sequence."""
    sim = Simulator(seed=3)
    for _ in range(20):
        mid = sim.create_message(outcome=outcome, channel=channel)
        plan = sim.lifecycle(mid)
        statuses = [s for _, s in plan]
        assert statuses[0] == "QUEUED"
        assert statuses[-1] == last
        assert ("SENT" in statuses) is has_sent
        assert [t for t, _ in plan] == sorted(t for t, _ in plan)
        assert (sim.terminal_at(mid) is None) is (outcome == "no_receipt")
        if outcome == "blocked":
            assert statuses == ["QUEUED", "BLOCKED"]
            assert 0.5 <= plan[1][0] <= 2.0
        if outcome == "read":
            assert plan[-1][0] <= 7.0 + 420.0 + 300.0


def test_delivery_latency_has_a_long_tail() -> None:
    """Delivered messages: median of a few seconds, ~90% within 60 s, capped at 420 s."""
    sim = Simulator(seed=11)
    ids = sim.create_messages(2000, outcome="delivered", channel="sms")
    done = sorted(sim.lifecycle(mid)[-1][0] for mid in ids)
    assert 3.0 < done[len(done) // 2] < 10.0
    assert 0.85 < sum(t <= 60.0 for t in done) / len(done) < 0.95
    assert done[-1] <= 420.0
    assert done[-1] > 120.0


async def test_lifecycle_progresses_with_speed(session: aiohttp.ClientSession) -> None:
    """Polled statuses follow the plan in order and end at the terminal status."""
    async with Simulator(speed=2000, seed=1) as sim:
        mid = sim.create_message(outcome="read", channel="whatsapp")
        assert sim.now_status(mid) == "QUEUED"
        planned = [s for _, s in sim.lifecycle(mid)]
        seen: list[str] = []
        terminal_at = sim.terminal_at(mid)
        assert terminal_at is not None
        while True:
            _, body, _ = await call(session, "GET", f"{sim.base_url}/v3/messages/{mid}")
            current = body["data"]["status"]
            if not seen or seen[-1] != current:
                seen.append(current)
            if current == "READ":
                break
            await asyncio.sleep(0.01)
        assert time.monotonic() >= terminal_at
        assert [s for s in planned if s in seen] == seen
        assert sim.now_status(mid) == "READ"
        assert sim.clock() > sim.lifecycle(mid)[-1][0]


async def test_auth_errors(sim: Simulator) -> None:
    """A missing key gives 401 AUTH_001 and a wrong key 401 AUTH_002."""
    url = f"{sim.base_url}/v3/contacts"
    async with aiohttp.ClientSession() as anonymous:
        status, body, response = await call(anonymous, "GET", url)
        assert status == 401
        assert body["success"] is False
        assert body["data"] is None
        assert body["error"] == {
            "code": "AUTH_001",
            "message": "User is not authenticated",
            "details": None,
            "doc_url": "https://docs.sent.dm/errors/AUTH_001",
        }
        assert response.headers["X-Request-Id"] == body["meta"]["request_id"]
        status, body, _ = await call(anonymous, "GET", url, headers={"x-api-key": "sk_wrong"})
        assert status == 401
        assert body["error"]["code"] == "AUTH_002"
    assert sim.stats.by_status[401] == 2


async def test_rate_limit_429_and_headers(session: aiohttp.ClientSession) -> None:
    """The token bucket answers 429 BUSINESS_002 with Retry-After once the burst is spent."""
    async with Simulator(rate_limit=60, burst=2, contacts=3) as sim:
        url = f"{sim.base_url}/v3/contacts"
        remaining = []
        for _ in range(2):
            status, _, response = await call(session, "GET", url)
            assert status == 200
            assert response.headers["X-RateLimit-Limit"] == "60"
            remaining.append(response.headers["X-RateLimit-Remaining"])
            assert int(response.headers["X-RateLimit-Reset"]) >= math.floor(time.time())
        assert remaining == ["1", "0"]
        status, body, response = await call(session, "GET", url)
        assert status == 429
        assert body["error"]["code"] == "BUSINESS_002"
        assert response.headers["Retry-After"] == "1"
        assert 0 < int(response.headers["retry-after-ms"]) <= 1000
        assert response.headers["X-RateLimit-Remaining"] == "0"
        async with aiohttp.ClientSession() as anonymous:  # unauthenticated: no token spent
            status, _, response = await call(anonymous, "GET", url)
            assert status == 401
            assert "X-RateLimit-Limit" in response.headers
        assert sim.stats.rate_limited == 1
        assert sim.stats.by_status == {200: 2, 429: 1, 401: 1}


async def test_no_rate_limit_headers_when_off(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """Without a rate limit no X-RateLimit headers are sent."""
    _, _, response = await call(session, "GET", f"{sim.base_url}/v3/contacts")
    assert "X-RateLimit-Limit" not in response.headers


@pytest.mark.parametrize(
    ("status", "code"),
    [
        pytest.param(500, "INTERNAL_001", id="500"),
        pytest.param(502, "INTERNAL_003", id="502"),
        pytest.param(503, "INTERNAL_005", id="503"),
        pytest.param(504, "INTERNAL_004", id="504"),
        pytest.param(429, "BUSINESS_002", id="429"),
        pytest.param(404, "RESOURCE_003", id="404"),
        pytest.param(400, "VALIDATION_001", id="400"),
        pytest.param(409, "CONFLICT_001", id="409"),
        pytest.param(408, "TIMEOUT_001", id="408"),
    ],
)
async def test_status_fault_default_codes(
    sim: Simulator, session: aiohttp.ClientSession, status: int, code: str
) -> None:
    """An injected status fault answers the error envelope with the status's usual code."""
    sim.inject("status", status=status, headers={"Retry-After": "2", "x-should-retry": "true"})
    got, body, response = await call(session, "GET", f"{sim.base_url}/v3/contacts")
    assert got == status
    assert body["error"]["code"] == code
    assert body["error"]["doc_url"] == f"https://docs.sent.dm/errors/{code}"
    assert response.headers["Retry-After"] == "2"
    assert response.headers["x-should-retry"] == "true"
    assert sim.stats.rate_limited == (1 if status == 429 else 0)
    got, _, _ = await call(session, "GET", f"{sim.base_url}/v3/contacts")
    assert got == 200


async def test_faults_are_fifo_and_route_filtered(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """Faults hit only their route, in the order they were queued, once per request."""
    mid = sim.create_message()
    sim.inject("status", status=503, route="activities", code="SERVICE_001")
    sim.inject("status", status=502, times=2)
    base = sim.base_url
    statuses = [
        (await call(session, "GET", f"{base}/v3/contacts"))[0],  # skips the activities fault
        (await call(session, "GET", f"{base}/v3/messages/{mid}/activities"))[0],
        (await call(session, "GET", f"{base}/v3/messages/{mid}/activities"))[0],
        (await call(session, "GET", f"{base}/v3/messages/{mid}/activities"))[0],
    ]
    assert statuses == [502, 503, 502, 200]
    sim.inject("status", times=5)
    sim.clear_faults()
    assert (await call(session, "GET", f"{base}/v3/contacts"))[0] == 200
    with pytest.raises(ValueError, match="unknown fault kind"):
        sim.inject("explode")
    with pytest.raises(ValueError, match="unknown route"):
        sim.inject("status", route="webhooks")


async def test_raw_fault_sends_exact_bytes_and_headers(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """A raw fault answers its status, body and headers as given, and no Content-Type unasked."""
    sim.inject("raw", status=418, body=b"\x00not json", headers={"X-Odd": "1"}, route="contacts")
    sim.inject("raw", status=200, body=b"{}", headers={"Content-Type": "text/x-odd"})
    async with session.get(f"{sim.base_url}/v3/contacts") as response:
        assert response.status == 418
        assert await response.read() == b"\x00not json"
        assert response.headers["X-Odd"] == "1"
        assert "Content-Type" not in response.headers or response.content_type != "application/json"
    async with session.get(f"{sim.base_url}/v3/contacts") as response:
        assert response.content_type == "text/x-odd"
        assert await response.read() == b"{}"


@pytest.mark.parametrize("kind", ["html", "html200", "empty", "null_data", "wrong_shape"])
async def test_malformed_body_faults(
    sim: Simulator, session: aiohttp.ClientSession, kind: str
) -> None:
    """Body faults answer HTML, empty or wrongly shaped envelopes."""
    sim.inject(kind)
    async with session.get(f"{sim.base_url}/v3/contacts") as response:
        raw = await response.read()
        expected_status = 502 if kind == "html" else 200
        assert response.status == expected_status
        assert response.headers["X-API-Version"] == "v3"
    if kind.startswith("html"):
        assert response.content_type == "text/html"
        assert raw.startswith((b"<html>", b"<!DOC"))
        if kind == "html":
            assert b"Bad Gateway" in raw
    elif kind == "empty":
        assert raw == b""
    else:
        body = msgspec.json.decode(raw)
        assert body["success"] is True
        assert body["data"] == (None if kind == "null_data" else [1, 2, 3])


async def test_html_fault_with_custom_status(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """An html fault uses the given status when it is not the default 500."""
    sim.inject("html", status=504, headers={"Retry-After": "3"})
    status, _, response = await call(session, "GET", f"{sim.base_url}/v3/contacts")
    assert status == 504
    assert response.headers["Retry-After"] == "3"


async def test_truncated_fault_cuts_the_real_body(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """A truncated body is half the real one with a matching Content-Length."""
    mid = sim.create_message()
    await wait_terminal(sim, mid)  # so both GETs below see the same activities
    url = f"{sim.base_url}/v3/messages/{mid}/activities"
    sim.inject("truncated")
    async with session.get(url) as response:
        raw = await response.read()
        assert response.status == 200
        assert int(response.headers["Content-Length"]) == len(raw)
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(raw)
    async with session.get(url) as response:
        full = await response.read()
    assert len(full) // 2 - 5 <= len(raw) <= len(full) // 2 + 5


async def test_oversize_fault_streams_valid_json(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """An oversize body is valid JSON of exactly the requested size."""
    mid = sim.create_message()
    sim.inject("oversize", size=300_000)
    async with session.get(f"{sim.base_url}/v3/messages/{mid}/activities") as response:
        raw = await response.read()
        assert response.status == 200
        assert response.content_type == "application/json"
    assert len(raw) == 300_000
    body = msgspec.json.decode(raw)
    assert body["data"]["message_id"] == mid
    assert len(body["data"]["activities"][0]["description"]) > 299_000
    assert sim.stats.by_status[200] == 1


async def test_drop_fault_closes_the_connection(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """A drop closes the socket without a response (aiohttp retries an idempotent GET once)."""
    sim.inject("drop", times=2)
    with pytest.raises(aiohttp.ClientConnectionError):
        await call(session, "GET", f"{sim.base_url}/v3/contacts")
    sim.inject("drop", route="send")
    with pytest.raises(aiohttp.ClientConnectionError):
        await call(session, "POST", f"{sim.base_url}/v3/messages", json={})
    assert sim.stats.by_status[0] == 3
    assert (await call(session, "GET", f"{sim.base_url}/v3/contacts"))[0] == 200
    assert sim.stats.in_flight == 0


async def test_delay_fault_and_latency_count_in_flight(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """Delays and latency keep requests in flight; peak_in_flight records the concurrency."""
    sim.inject("delay", delay=0.2)
    sim.latency = 0.05
    url = f"{sim.base_url}/v3/contacts"
    results = await asyncio.gather(*(call(session, "GET", url) for _ in range(5)))
    assert [r[0] for r in results] == [200] * 5
    assert sim.stats.peak_in_flight == 5
    assert sim.stats.in_flight == 0


async def test_spontaneous_fault_rates(sim: Simulator, session: aiohttp.ClientSession) -> None:
    """fault_rates draws 5xx faults per request from the seeded RNG and validates its keys."""
    sim.fault_rates = {"503": 1.0}
    assert (await call(session, "GET", f"{sim.base_url}/v3/contacts"))[0] == 503
    sim.fault_rates["503"] = 0.0
    assert (await call(session, "GET", f"{sim.base_url}/v3/contacts"))[0] == 200
    with pytest.raises(KeyError):
        sim.fault_rates["418"] = 0.5
    with pytest.raises(ValueError, match="must be within"):
        sim.fault_rates = {"drop": 2.0}


async def test_fault_rates_are_deterministic(session: aiohttp.ClientSession) -> None:
    """The same seed and rates give the same sequence of spontaneous faults."""
    runs = []
    for _ in range(2):
        async with Simulator(seed=5, contacts=1) as sim:
            sim.fault_rates = {"500": 0.3, "502": 0.2}
            url = f"{sim.base_url}/v3/contacts"
            runs.append([(await call(session, "GET", url))[0] for _ in range(30)])
    assert runs[0] == runs[1]
    assert {200, 500, 502} <= set(runs[0])


def test_every_fault_kind_is_tested() -> None:
    """FAULT_KINDS lists exactly the kinds exercised in this file."""
    assert {
        "status",
        "drop",
        "html",
        "html200",
        "truncated",
        "empty",
        "null_data",
        "wrong_shape",
        "oversize",
        "delay",
        "raw",
    } == FAULT_KINDS


async def test_send_fans_out_and_creates_messages(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """POST /v3/messages answers 202 with one message per recipient and channel."""
    body = {"to": ["+12025550100", "+14155550101"], "text": "hi", "channel": ["sms", "whatsapp"]}
    status, reply, _ = await call(session, "POST", f"{sim.base_url}/v3/messages", json=body)
    assert status == 202
    data = reply["data"]
    assert data["status"] == "QUEUED"
    assert data["template_id"] is None
    recipients = data["recipients"]
    assert [(r["to"], r["channel"]) for r in recipients] == [
        ("+12025550100", "sms"),
        ("+12025550100", "whatsapp"),
        ("+14155550101", "sms"),
        ("+14155550101", "whatsapp"),
    ]
    assert all(UUID4.match(r["message_id"]) and r["body"] == "hi" for r in recipients)
    assert sim.stats.sends == 4
    status, got, _ = await call(
        session, "GET", f"{sim.base_url}/v3/messages/{recipients[1]['message_id']}"
    )
    assert status == 200
    assert got["data"]["channel"] == "whatsapp"
    assert got["data"]["message_body"]["content"] == "hi"


async def test_send_with_template_auto_channel_and_sandbox(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """Templates fill template_id/name; sandbox sends create nothing and say X-Sandbox."""
    body = {"to": ["+12025550100"], "template": {"name": "otp", "parameters": {"code": "1"}}}
    url = f"{sim.base_url}/v3/messages"
    status, reply, _ = await call(session, "POST", url, json=body)
    assert status == 202
    assert reply["data"]["template_name"] == "otp"
    assert UUID4.match(reply["data"]["template_id"])
    assert reply["data"]["recipients"][0]["channel"] in {"sms", "whatsapp"}
    status, reply, response = await call(session, "POST", url, json=body | {"sandbox": True})
    assert status == 202
    assert response.headers["X-Sandbox"] == "true"
    sandbox_id = reply["data"]["recipients"][0]["message_id"]
    assert (await call(session, "GET", f"{url}/{sandbox_id}"))[0] == 404
    assert sim.stats.sends == 1


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        pytest.param({"to": ["+1202"], "text": "x"}, "VALIDATION_002", "to", id="bad-phone"),
        pytest.param({"to": [], "text": "x"}, "VALIDATION_001", "to", id="empty-to"),
        pytest.param({"to": ["+12025550100"]}, "VALIDATION_001", "text", id="no-content"),
        pytest.param(
            {"to": ["+12025550100"], "text": "x", "template": {"id": "t"}},
            "VALIDATION_001",
            "text",
            id="text-and-template",
        ),
        pytest.param(
            {"to": ["+12025550100"], "template": {"id": "a", "name": "b"}},
            "VALIDATION_001",
            "template",
            id="template-id-and-name",
        ),
        pytest.param(
            {"to": ["+12025550100"], "text": "x", "channel": ["fax"]},
            "VALIDATION_001",
            "channel",
            id="bad-channel",
        ),
        pytest.param(
            {"to": ["+12025550100"], "text": "x", "scheduled_at": "2030-01-01T00:00:00"},
            "VALIDATION_001",
            "scheduled_at",
            id="schedule-without-offset",
        ),
        pytest.param([1, 2], "VALIDATION_001", "body", id="not-an-object"),
        pytest.param({"to": "+12025550100", "text": "x"}, "VALIDATION_001", "to", id="to-str"),
        pytest.param(
            {"to": ["+12025550100"] * 1001, "text": "x"}, "VALIDATION_001", "to", id="1001"
        ),
        pytest.param({"to": ["+12025550100"], "text": 5}, "VALIDATION_001", "text", id="text-int"),
        pytest.param({"to": ["+1"], "template": "t"}, "VALIDATION_001", "template", id="tpl-str"),
        pytest.param(
            {"to": ["+12025550100"], "template": {"name": ""}},
            "VALIDATION_001",
            "template",
            id="template-empty-name",
        ),
        pytest.param(
            {"to": ["+12025550100"], "template": {"id": "t", "parameters": {"a": 1}}},
            "VALIDATION_001",
            "template.parameters",
            id="template-parameter-not-str",
        ),
        pytest.param(
            {"to": ["+12025550100"], "text": "x", "channel": "sms"},
            "VALIDATION_001",
            "channel",
            id="channel-not-list",
        ),
        pytest.param(
            {"to": ["+12025550100"], "text": "x", "sandbox": "yes"},
            "VALIDATION_001",
            "sandbox",
            id="sandbox-not-bool",
        ),
        pytest.param(
            {"to": ["+12025550100"], "text": "x", "scheduled_at": "2001-01-01T00:00:00+00:00"},
            "VALIDATION_001",
            "scheduled_at",
            id="schedule-in-the-past",
        ),
        pytest.param(
            {"to": ["+12025550100"], "text": "x", "scheduled_at": "2999-01-01T00:00:00+00:00"},
            "VALIDATION_001",
            "scheduled_at",
            id="schedule-too-far",
        ),
        pytest.param(
            {"to": ["+12025550100"], "text": "x", "scheduled_at": "next tuesday"},
            "VALIDATION_001",
            "scheduled_at",
            id="schedule-not-iso",
        ),
    ],
)
async def test_send_validation(
    sim: Simulator, session: aiohttp.ClientSession, body: Any, code: str, field: str
) -> None:
    """Invalid send bodies answer 400 with field details and create nothing."""
    status, reply, _ = await call(session, "POST", f"{sim.base_url}/v3/messages", json=body)
    assert status == 400
    assert reply["error"]["code"] == code
    assert field in reply["error"]["details"]
    assert sim.stats.sends == 0


async def test_send_rejects_invalid_json(sim: Simulator, session: aiohttp.ClientSession) -> None:
    """A body that is not JSON answers 400 VALIDATION_001."""
    status, reply, _ = await call(session, "POST", f"{sim.base_url}/v3/messages", data=b"{oops")
    assert status == 400
    assert reply["error"]["details"] == {"body": ["Body must be valid JSON"]}


async def test_idempotent_replay(sim: Simulator, session: aiohttp.ClientSession) -> None:
    """A repeated Idempotency-Key replays the first response and creates nothing."""
    url = f"{sim.base_url}/v3/messages"
    headers = {"Idempotency-Key": "order-42_a"}
    body = {"to": ["+12025550100"], "text": "hi"}
    status, first, first_response = await call(session, "POST", url, json=body, headers=headers)
    assert status == 202
    assert "Idempotent-Replayed" not in first_response.headers
    other = {"to": ["+14155550101"], "text": "different body, same key"}
    status, second, response = await call(session, "POST", url, json=other, headers=headers)
    assert status == 202
    assert second == first
    assert response.headers["Idempotent-Replayed"] == "true"
    assert response.headers["X-Original-Request-Id"] == first_response.headers["X-Request-Id"]
    assert response.headers["X-Request-Id"] != first_response.headers["X-Request-Id"]
    assert sim.stats.sends == 1
    status, reply, _ = await call(
        session, "POST", url, json=body, headers={"Idempotency-Key": "bad key!"}
    )
    assert status == 400
    assert reply["error"]["code"] == "VALIDATION_007"


async def test_concurrent_duplicate_key_conflicts(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """A duplicate arriving while the first response is still in flight gets 409 CONFLICT_001."""
    sim.latency = 0.2
    url = f"{sim.base_url}/v3/messages"
    kwargs: dict[str, Any] = {
        "json": {"to": ["+12025550100"], "text": "hi"},
        "headers": {"Idempotency-Key": "dup"},
    }
    first = asyncio.create_task(call(session, "POST", url, **kwargs))
    await asyncio.sleep(0.05)
    second = await call(session, "POST", url, **kwargs)
    assert second[0] == 409
    assert second[1]["error"]["code"] == "CONFLICT_001"
    assert (await first)[0] == 202
    sim.latency = 0.0
    status, _, response = await call(session, "POST", url, **kwargs)
    assert status == 202
    assert response.headers["Idempotent-Replayed"] == "true"


async def test_scheduled_send(session: aiohttp.ClientSession) -> None:
    """A scheduled send goes QUEUED -> SCHEDULED and continues from the release instant."""
    async with Simulator(speed=1000, seed=2) as sim:
        when = datetime.now(UTC) + timedelta(seconds=120)
        body = {"to": ["+12025550100"], "text": "later", "scheduled_at": when.isoformat()}
        status, reply, _ = await call(session, "POST", f"{sim.base_url}/v3/messages", json=body)
        assert status == 202
        assert TS_7.match(reply["data"]["scheduled_at"])
        mid = reply["data"]["recipients"][0]["message_id"]
        plan = sim.lifecycle(mid)
        assert [s for _, s in plan[:2]] == ["QUEUED", "SCHEDULED"]
        assert plan[2][0] >= 0.119  # PROCESSED only after the release, 120 sim s = 0.12 real s
        status, got, _ = await call(session, "GET", f"{sim.base_url}/v3/messages/{mid}")
        assert got["data"]["scheduled_at"] == reply["data"]["scheduled_at"]
        await asyncio.sleep(plan[1][0] + 0.005)
        _, got, _ = await call(session, "GET", f"{sim.base_url}/v3/messages/{mid}/activities")
        latest = got["data"]["activities"][0]
        assert latest["status"] == "SCHEDULED"
        assert latest["scheduled_at"] == reply["data"]["scheduled_at"]
        assert latest["price"] is None


async def test_contacts_pagination(sim: Simulator, session: aiohttp.ClientSession) -> None:
    """Contacts page 1-indexed with has_more, total_pages and an empty page past the end."""
    seen: list[str] = []
    for page, size, more in [(1, 20, True), (2, 20, True), (3, 5, False), (4, 0, False)]:
        status, body, _ = await call(
            session, "GET", f"{sim.base_url}/v3/contacts", params={"page": page, "page_size": 20}
        )
        assert status == 200
        data = body["data"]
        assert len(data["contacts"]) == size
        assert data["pagination"] == {
            "page": page,
            "page_size": 20,
            "total_count": 45,
            "total_pages": 3,
            "has_more": more,
            "cursors": None,
        }
        seen += [c["id"] for c in data["contacts"]]
    assert len(set(seen)) == 45
    _, body, _ = await call(session, "GET", f"{sim.base_url}/v3/contacts")
    contact = body["data"]["contacts"][0]
    assert body["data"]["pagination"]["page_size"] == 20
    assert contact["format_rfc"].startswith("tel:+1")
    assert contact["country_code"] == "1"
    assert contact["available_channels"] in {"sms", "sms,whatsapp"}
    assert contact["is_inherited"] is False
    assert TS_7.match(contact["created_at"])


async def test_contacts_filters(sim: Simulator, session: aiohttp.ClientSession) -> None:
    """search, channel and phone narrow the contact list."""
    url = f"{sim.base_url}/v3/contacts"
    _, body, _ = await call(session, "GET", url, params={"page_size": 100})
    everyone = body["data"]["contacts"]
    target = everyone[3]
    for phone in (target["format_national"], target["format_e164"]):
        _, body, _ = await call(session, "GET", url, params={"phone": phone})
        assert [c["id"] for c in body["data"]["contacts"]] == [target["id"]]
    _, body, _ = await call(session, "GET", url, params={"search": target["id"][:8]})
    assert target["id"] in [c["id"] for c in body["data"]["contacts"]]
    _, body, _ = await call(session, "GET", url, params={"channel": "whatsapp", "page_size": 100})
    on_whatsapp = body["data"]["contacts"]
    assert on_whatsapp
    assert all("whatsapp" in c["available_channels"] for c in on_whatsapp)
    assert len(on_whatsapp) < len(everyone)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        pytest.param({"page": "0"}, "VALIDATION_005", id="page-0"),
        pytest.param({"page_size": "101"}, "VALIDATION_005", id="page-size-101"),
        pytest.param({"page_size": "0"}, "VALIDATION_005", id="page-size-0"),
        pytest.param({"page": "two"}, "VALIDATION_005", id="non-integer"),
        pytest.param({"channel": "fax"}, "VALIDATION_006", id="bad-channel"),
    ],
)
async def test_contacts_bad_query(
    sim: Simulator, session: aiohttp.ClientSession, params: dict[str, str], code: str
) -> None:
    """Out-of-range or non-integer paging answers 400."""
    status, body, _ = await call(session, "GET", f"{sim.base_url}/v3/contacts", params=params)
    assert status == 400
    assert body["error"]["code"] == code


async def test_visible_after_404_then_200(session: aiohttp.ClientSession) -> None:
    """A fresh message answers 404 RESOURCE_003 until visible_after simulated seconds pass."""
    async with Simulator(speed=100) as sim:
        mid = sim.create_message(visible_after=30.0)  # 0.3 real seconds
        url = f"{sim.base_url}/v3/messages/{mid}/activities"
        status, body, _ = await call(session, "GET", url)
        assert status == 404
        assert body["error"]["code"] == "RESOURCE_003"
        assert body["error"]["message"] == "Message not found"
        await asyncio.sleep(0.32)
        assert (await call(session, "GET", url))[0] == 200
        assert sim.stats.by_message[mid] == 2


async def test_unknown_paths_and_ids(sim: Simulator, session: aiohttp.ClientSession) -> None:
    """Unknown message ids answer 404 RESOURCE_003 and unknown paths 404 as route 'other'."""
    status, body, _ = await call(session, "GET", f"{sim.base_url}/v3/messages/nope")
    assert status == 404
    assert body["error"]["code"] == "RESOURCE_003"
    status, body, _ = await call(session, "GET", f"{sim.base_url}/v3/no-such-resource")
    assert status == 404
    assert body["error"]["code"] == "RESOURCE_000"
    status, _, _ = await call(session, "DELETE", f"{sim.base_url}/v3/contacts")
    assert status == 404
    for path in ("/v3/messages/abc/events", "/health", "/v3/nothing"):
        assert (await call(session, "GET", f"{sim.base_url}{path}"))[0] == 404
    assert sim.stats.by_route == {"status": 1, "other": 5}
    assert sim.stats.by_message == {"nope": 1}


async def test_stats_counters_and_reset(sim: Simulator, session: aiohttp.ClientSession) -> None:
    """Stats count requests by route, status and message, and reset() zeroes them."""
    mid = sim.create_message()
    headers = {"x-profile-id": "prof_1"}
    await call(session, "GET", f"{sim.base_url}/v3/messages/{mid}", headers=headers)
    _, _, response = await call(session, "GET", f"{sim.base_url}/v3/messages/{mid}/activities")
    await call(session, "GET", f"{sim.base_url}/v3/contacts", headers=headers)
    sim.inject("status", status=503)
    await call(session, "GET", f"{sim.base_url}/v3/contacts")
    stats = sim.stats
    assert stats.requests == 4
    assert stats.by_route == {"status": 1, "activities": 1, "contacts": 2}
    assert stats.by_status == {200: 3, 503: 1}
    assert stats.by_message == {mid: 2}
    assert stats.peak_in_flight == 1
    assert stats.in_flight == 0
    assert stats.last_request_at is not None
    assert stats.last_request_at <= time.monotonic()
    assert "X-Profile-Id" not in response.headers
    stats.reset()
    assert stats.requests == 0
    assert not stats.by_route
    assert not stats.by_status
    assert stats.last_request_at is None
    assert stats.peak_in_flight == 0
    assert stats.sends == 0


async def test_profile_id_is_echoed(sim: Simulator, session: aiohttp.ClientSession) -> None:
    """An x-profile-id request header comes back as X-Profile-Id."""
    headers = {"x-profile-id": "3f1c-profile"}
    _, _, response = await call(session, "GET", f"{sim.base_url}/v3/contacts", headers=headers)
    assert response.headers["X-Profile-Id"] == "3f1c-profile"


def test_determinism_for_a_seed() -> None:
    """The same seed gives the same ids, plans and contacts; another seed does not."""
    one, two, other = Simulator(seed=9), Simulator(seed=9), Simulator(seed=10)
    ids = one.create_messages(50)
    assert ids == two.create_messages(50)
    assert ids != other.create_messages(50)
    assert [one.lifecycle(i) for i in ids] == [two.lifecycle(i) for i in ids]
    assert all(UUID4.match(i) for i in ids)
    contacts = one.contacts()
    assert len(contacts) == 250
    assert contacts == two.contacts()
    assert contacts != other.contacts()


def test_outcome_mix_draws_and_validation() -> None:
    """A mix with one non-zero weight always draws that outcome; bad mixes are rejected."""
    sim = Simulator(mix=OutcomeMix(delivered=0, read=0, failed=1, blocked=0, filtered=0))
    sim.mix = OutcomeMix(delivered=0, read=0, failed=0, blocked=1, filtered=0, no_receipt=0)
    ids = sim.create_messages(20, channel="sms")
    assert {sim.lifecycle(i)[-1][1] for i in ids} == {"BLOCKED"}
    with pytest.raises(ValueError, match="outcome weights"):
        OutcomeMix(delivered=-1)
    with pytest.raises(ValueError, match="whatsapp_share"):
        OutcomeMix(whatsapp_share=1.5)
    with pytest.raises(ValueError, match="unknown outcome"):
        sim.create_message(outcome="lost")
    with pytest.raises(ValueError, match="already exists"):
        sim.create_message(message_id=ids[0])
    with pytest.raises(ValueError, match="speed"):
        Simulator(speed=0)


async def test_testserver_and_lifecycle_errors() -> None:
    """The app runs under aiohttp's TestServer; base_url needs start(); close() is idempotent."""
    sim = Simulator()
    with pytest.raises(RuntimeError, match="not started"):
        _ = sim.base_url
    async with TestServer(sim.app) as server, aiohttp.ClientSession() as client:
        status, _, _ = await call(
            client, "GET", str(server.make_url("/v3/contacts")), headers={"x-api-key": KEY}
        )
        assert status == 200
    started = Simulator()
    await started.start()
    with pytest.raises(RuntimeError, match="already started"):
        await started.start()
    await started.close()
    await started.close()


async def test_serve_until_cancelled(session: aiohttp.ClientSession) -> None:
    """serve() starts the simulator, reports its URL and closes it when cancelled."""
    sim = Simulator()
    ready: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(serve(sim, "127.0.0.1", 0, ready=ready.put_nowait))
    base_url = await asyncio.wait_for(ready.get(), 5)
    assert (await call(session, "GET", f"{base_url}/v3/contacts"))[0] == 200
    task.cancel()
    await asyncio.wait([task])
    assert task.cancelled()
    with pytest.raises(RuntimeError):
        _ = sim.base_url


def test_run_main_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    """run_main exits with status 2 on invalid values."""
    with pytest.raises(SystemExit) as excinfo:
        run_main(["--speed", "0"])
    assert excinfo.value.code == 2
    assert "speed must be > 0" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery differs on Windows")
async def test_module_entry_point_serves_until_ctrl_c() -> None:
    """The module entry point prints its URL, serves, and exits 130 on SIGINT."""
    # `python -m sentdm_async.simulator`, with Ctrl-C's default handler put back first: a test
    # run started in the background by a non-interactive shell inherits SIGINT as ignored, and
    # so would the child.
    entry = (
        "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "runpy.run_module('sentdm_async.simulator', run_name='__main__', alter_sys=True)"
    )
    args = ["--port", "0", "--api-key", "k1", "--rate-limit", "0"]
    process = subprocess.Popen(  # noqa: S603, ASYNC220 - a fixed command line; started at once
        [sys.executable, "-c", entry, *args], stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 10)).decode()
        match = re.match(
            r"^Sent simulator listening on (http://127\.0\.0\.1:\d+) \(api key: k1\)$", line.strip()
        )
        assert match is not None
        async with aiohttp.ClientSession(headers={"x-api-key": "k1"}) as client:
            status, _, response = await call(client, "GET", f"{match.group(1)}/v3/contacts")
            assert status == 200
            assert "X-RateLimit-Limit" not in response.headers
        process.send_signal(2)  # SIGINT
        assert await asyncio.to_thread(process.wait, 10) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_constructor_and_seeding_validation() -> None:
    """Bad constructor, seeding and inject arguments raise ValueError."""
    with pytest.raises(ValueError, match="rate_limit"):
        Simulator(rate_limit=-1)
    with pytest.raises(ValueError, match="burst"):
        Simulator(rate_limit=10, burst=0)
    with pytest.raises(ValueError, match="contacts"):
        Simulator(contacts=-1)
    sim = Simulator(contacts=0)
    with pytest.raises(ValueError, match="unknown channel"):
        sim.create_message(channel="fax")
    with pytest.raises(ValueError, match="timezone-aware"):
        sim.create_message(scheduled_at=datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="times >= 1"):
        sim.inject("status", times=0)
    assert sim.create_messages(2, to="+12025550100")
    assert "requests=0" in repr(sim.stats)


async def test_start_failure_leaves_nothing_running() -> None:
    """Starting on a port already in use raises OSError and the simulator stays stopped."""
    async with Simulator() as first:
        port = int(first.base_url.rsplit(":", 1)[1])
        second = Simulator()
        with pytest.raises(OSError, match="address already in use"):
            await second.start(port=port)
        with pytest.raises(RuntimeError):
            _ = second.base_url
        await second.close()


async def test_latency_applies_to_drop_and_oversize(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """Latency also delays drops and oversize bodies; spontaneous drops work."""
    sim.latency = 0.01
    sim.inject("oversize", size=1000)
    async with session.get(f"{sim.base_url}/v3/contacts") as response:
        assert len(await response.read()) == 1000
    sim.fault_rates = {"drop": 1.0}
    with pytest.raises(aiohttp.ClientConnectionError):
        await call(session, "POST", f"{sim.base_url}/v3/messages", json={})
    assert sim.stats.by_status == {200: 1, 0: 1}


async def test_oversize_client_may_hang_up(sim: Simulator, session: aiohttp.ClientSession) -> None:
    """A client that closes an oversize response early leaves the server healthy."""
    sim.inject("oversize", size=20 * 1024 * 1024)
    async with session.get(f"{sim.base_url}/v3/contacts") as response:
        await response.content.read(1000)
        response.close()
    await asyncio.sleep(0.05)
    assert (await call(session, "GET", f"{sim.base_url}/v3/contacts"))[0] == 200
    assert sim.stats.in_flight == 0


def test_run_main_reports_a_taken_port(capsys: pytest.CaptureFixture[str]) -> None:
    """run_main returns 1 with a one-line error when the port is already bound."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run_main(["--port", str(port)]) == 1
    assert "cannot serve on 127.0.0.1" in capsys.readouterr().err


def test_run_main_prints_and_stops_on_ctrl_c(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_main prints the listening line and returns 130 on KeyboardInterrupt."""
    real_serve = serve

    async def serve_then_interrupt(
        sim: Simulator, host: str, port: int, *, ready: Callable[[str], object]
    ) -> None:
        def ready_then_interrupt(base_url: str) -> None:
            ready(base_url)
            raise KeyboardInterrupt

        await real_serve(sim, host, port, ready=ready_then_interrupt)

    monkeypatch.setattr("sentdm_async.simulator._cli.serve", serve_then_interrupt)
    assert run_main(["--port", "0", "--api-key", "k2", "--seed", "3", "--speed", "90"]) == 130
    out = capsys.readouterr().out
    assert re.match(r"^Sent simulator listening on http://127\.0\.0\.1:\d+ \(api key: k2\)$", out)


def test_run_main_sets_webhook_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    """The --webhook-* flags become the served simulator's WebhookFaults."""
    served: list[Simulator] = []

    async def capture(sim: Simulator, host: str, port: int, **_: object) -> None:
        served.append(sim)
        raise KeyboardInterrupt

    monkeypatch.setattr("sentdm_async.simulator._cli.serve", capture)
    argv = ["--webhook-drop", "0.25", "--webhook-duplicate", "1", "--webhook-reorder", "0.5"]
    argv += ["--webhook-delay", "0.1", "--webhook-bad-signature", "0.2"]
    argv += ["--webhook-max-delay", "0.5"]
    assert run_main(argv) == 130
    assert served[0].webhooks.faults == WebhookFaults(
        drop=0.25, duplicate=1.0, reorder=0.5, delay=0.1, bad_signature=0.2, max_delay=0.5
    )


@pytest.mark.parametrize(
    "argv",
    [["--webhook-drop", "1.5"], ["--webhook-delay", "x"], ["--webhook-max-delay", "-1"]],
    ids=["over-1", "not-a-number", "negative-max-delay"],
)
def test_run_main_refuses_bad_webhook_faults(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """A probability outside 0..1, or a negative max delay, is a usage error (exit 2)."""
    with pytest.raises(SystemExit) as excinfo:
        run_main(argv)
    assert excinfo.value.code == 2
    assert "webhook" in capsys.readouterr().err


async def test_every_listed_endpoint_is_routed(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """Simulator.endpoints() (what --help lists) names only paths the simulator routes."""
    endpoints = sim.endpoints()
    assert ("GET", "/v3/webhooks/{id}/events") in endpoints
    assert ("POST", "/v3/messages") in endpoints
    for method, pattern in endpoints:
        path = re.sub(r"\{\w+\}", "x", pattern)
        _, body, response = await call(session, method, f"{sim.base_url}{path}", json={})
        error = body.get("error") if isinstance(body, dict) else None
        assert not error or error.get("code") != "RESOURCE_000", (method, pattern, response.status)
    _, body, _ = await call(session, "GET", f"{sim.base_url}/v3/nothing-here")
    assert body["error"]["code"] == "RESOURCE_000"
