"""Hooks, `client.stats()`, request logs and ``with_raw_response``, on the simulator's socket."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import msgspec
import pytest

from sentdm_async import (
    Activity,
    APIConnectionError,
    APIStatusError,
    AsyncAPIResponse,
    AsyncSent,
    ClientStats,
    Hooks,
    InternalServerError,
    Message,
    NotFoundError,
    PollPolicy,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    StepEvent,
    ThrottleEvent,
    TokenBucket,
)
from sentdm_async._http.stats import StatsRecorder
from sentdm_async.webhooks import MessageEvent, MessageStatusPayload

from .conftest import API_KEY, RecordingSleep

if TYPE_CHECKING:
    from sentdm_async.simulator import Simulator

S = TypeVar("S", bound=msgspec.Struct)

FAST = PollPolicy(min_interval=0.01, max_interval=0.05, not_found_grace=0.3)


class Recorder:
    """A listener with every method: keeps the events in order."""

    def __init__(self) -> None:
        self.events: list[msgspec.Struct] = []

    def on_request(self, event: RequestEvent) -> None:
        self.events.append(event)

    def on_response(self, event: ResponseEvent) -> None:
        self.events.append(event)

    def on_retry(self, event: RetryEvent) -> None:
        self.events.append(event)

    def on_throttle(self, event: ThrottleEvent) -> None:
        self.events.append(event)

    def on_status(self, event: StepEvent) -> None:
        self.events.append(event)

    def of(self, kind: type[S]) -> list[S]:
        return [e for e in self.events if isinstance(e, kind)]


class OnlyResponses:
    """A listener with one method: the others are optional."""

    def __init__(self) -> None:
        self.statuses: list[int | None] = []

    def on_response(self, event: ResponseEvent) -> None:
        self.statuses.append(event.status)


class Broken:
    """A listener that raises on every event."""

    def on_request(self, event: RequestEvent) -> None:
        raise RuntimeError("listener bug")

    def on_response(self, event: ResponseEvent) -> None:
        raise ValueError("listener bug")


def raw_client(sim: Simulator, *hooks: object, rate_limit: object = None) -> AsyncSent:
    return AsyncSent(
        api_key=API_KEY,
        base_url=sim.base_url,
        rate_limit=rate_limit,  # type: ignore[arg-type]
        timeout=5.0,
        hooks=list(hooks),
    )


# --- hooks ----------------------------------------------------------------------------------------


async def test_hooks_see_one_call_by_its_template(sim: Simulator, sleeps: RecordingSleep) -> None:
    """A call is on_request then on_response, named by its URL template, never by the id."""
    recorder, responses = Recorder(), OnlyResponses()
    message_id = sim.create_message()
    async with raw_client(sim, recorder, responses) as client:
        await client.messages.retrieve_activities(message_id)
    request, response = recorder.events
    assert request == RequestEvent(
        method="GET", url_template="/v3/messages/{id}/activities", attempt=1
    )
    assert isinstance(response, ResponseEvent)
    assert (response.status, response.error_type, response.attempt) == (200, None, 1)
    assert response.request_id is not None
    assert response.request_id.startswith("req_")
    assert response.bytes > 0
    assert response.elapsed >= 0
    assert responses.statuses == [200]
    assert message_id not in repr(recorder.events)


async def test_templates_of_resources_keep_ids_out(sim: Simulator, sleeps: RecordingSleep) -> None:
    """Every resource path reaches the listeners as its template; paths without ids as they are."""
    recorder = Recorder()
    message_id = sim.create_message()
    async with raw_client(sim, recorder) as client:
        await client.messages.retrieve_status(message_id)
        with pytest.raises(APIStatusError):  # unknown (or malformed): all that counts is the path
            await client.contacts.retrieve("contact-42")
        await client.contacts.list_page()
        async for _ in client.messages.retrieve_activities_many([message_id]):
            pass
    templates = [e.url_template for e in recorder.of(RequestEvent)]
    assert templates == [
        "/v3/messages/{id}",
        "/v3/contacts/{id}",
        "/v3/contacts",
        "/v3/messages/{id}/activities",
    ]


async def test_a_retried_503_reports_response_retry_and_second_attempt(
    sim: Simulator, sleeps: RecordingSleep
) -> None:
    """A 503 then a 200: response(503), retry(reason 503), request(attempt 2), response(200)."""
    recorder = Recorder()
    sim.inject("status", status=503)
    async with raw_client(sim, recorder) as client:
        await client.messages.retrieve_status(sim.create_message())
    kinds = [type(e).__name__ for e in recorder.events]
    assert kinds == ["RequestEvent", "ResponseEvent", "RetryEvent", "RequestEvent", "ResponseEvent"]
    failed, retry, second = recorder.events[1], recorder.events[2], recorder.events[3]
    assert isinstance(failed, ResponseEvent)
    assert (failed.status, failed.error_type) == (503, "503")
    assert isinstance(retry, RetryEvent)
    assert (retry.attempt, retry.reason, retry.url_template) == (1, "503", "/v3/messages/{id}")
    assert retry.wait == sleeps.delays[0]
    assert retry.request_id == failed.request_id
    assert isinstance(second, RequestEvent)
    assert second.attempt == 2


async def test_a_connection_failure_is_a_response_without_status(
    sim: Simulator, sleeps: RecordingSleep
) -> None:
    """An attempt that gets no answer ends with status None and the error's class name."""
    recorder = Recorder()
    sim.inject("drop", times=10)  # aiohttp itself may retry a dropped keep-alive connection
    async with raw_client(sim, recorder) as client:
        with pytest.raises(APIConnectionError):
            await client.messages.retrieve_status(sim.create_message())
    responses = recorder.of(ResponseEvent)
    assert len(responses) == 3
    assert all(r.status is None for r in responses)
    assert all(r.error_type == "APIConnectionError" for r in responses)
    assert [r.reason for r in recorder.of(RetryEvent)] == ["APIConnectionError"] * 2


async def test_a_429_reports_the_pause_and_the_budget_wait(
    sim: Simulator, sleeps: RecordingSleep
) -> None:
    """A 429 with retry-after-ms is a pause of that length; the retry then waits for the budget."""
    recorder = Recorder()
    sim.inject("status", status=429, headers={"retry-after-ms": "50"})
    async with raw_client(sim, recorder, rate_limit=TokenBucket(6000, burst=10)) as client:
        await client.messages.retrieve_status(sim.create_message())
        stats = client.stats()
    throttles = recorder.of(ThrottleEvent)
    assert throttles[0] == ThrottleEvent(kind="pause", wait=0.05)
    budget = [t for t in throttles if t.kind == "budget"]
    assert budget
    assert budget[0].url_template == "/v3/messages/{id}"
    assert [r.reason for r in recorder.of(RetryEvent)] == ["429"]
    assert (stats.rate_limited, stats.retries, stats.pauses) == (1, 1, 1)
    assert stats.budget_wait_p95 > 0


async def test_a_listener_that_raises_is_logged_and_never_breaks_a_call(
    sim: Simulator, sleeps: RecordingSleep, caplog: pytest.LogCaptureFixture
) -> None:
    """A listener's exception is logged (with the template) and the call still succeeds."""
    recorder = Recorder()
    message_id = sim.create_message()
    with caplog.at_level(logging.ERROR, logger="sentdm_async"):
        async with raw_client(sim, Broken(), recorder) as client:
            log = await client.messages.retrieve_activities(message_id)
    assert log.message_id == message_id
    assert len(recorder.events) == 2  # the listener after the broken one was still called
    failures = [r for r in caplog.records if "hook" in r.getMessage()]
    assert len(failures) == 2
    assert "/v3/messages/{id}/activities" in failures[0].getMessage()
    assert API_KEY not in caplog.text


def test_a_listener_needs_an_on_method() -> None:
    """An object with no on_* method, or a non-callable one, is refused at once."""
    with pytest.raises(TypeError, match="on_request"):
        AsyncSent(api_key=API_KEY, hooks=[object()])
    bad = type("Bad", (), {"on_retry": 3})()
    with pytest.raises(TypeError, match=r"Bad\.on_retry is not callable"):
        Hooks([bad])


async def test_hooks_can_be_added_removed_and_are_shared_with_copies(
    sim: Simulator, sleeps: RecordingSleep
) -> None:
    """client.hooks.add/remove take effect at once; with_options copies report to the same."""
    single = OnlyResponses()
    message_id = sim.create_message()
    async with raw_client(sim, single) as client:  # one listener, not in a list
        recorder = Recorder()
        client.hooks.add(recorder)
        copy = client.with_options(timeout=3.0)
        await copy.messages.retrieve_status(message_id)
        client.hooks.remove(recorder)
        client.hooks.remove(recorder)  # twice: nothing happens
        await client.messages.retrieve_status(message_id)
        assert copy.stats().total_requests == 2
    assert len(recorder.events) == 2
    assert single.statuses == [200, 200]
    assert recorder not in client.hooks.listeners
    assert "OnlyResponses" in repr(client.hooks)


async def test_retry_log_line_names_template_and_request_id_not_the_id_or_key(
    sim: Simulator, sleeps: RecordingSleep, caplog: pytest.LogCaptureFixture
) -> None:
    """The retry log line carries the URL template and the request id, never the id or key."""
    message_id = sim.create_message()
    sim.inject("status", status=503)
    with caplog.at_level(logging.INFO, logger="sentdm_async"):
        async with raw_client(sim) as client:
            await client.messages.retrieve_activities(message_id)
    (line,) = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert line.startswith("GET /v3/messages/{id}/activities (request id req_")
    assert "InternalServerError; retry 1 in" in line
    assert message_id not in caplog.text
    assert API_KEY not in caplog.text


# --- watched steps and stats ----------------------------------------------------------------------


async def test_on_status_tells_push_from_poll(sim: Simulator, sleeps: RecordingSleep) -> None:
    """A pushed step is reported via push (with its channel); the rest via poll, done last."""
    recorder = Recorder()
    message_id = sim.create_message(outcome="delivered")
    pushed = MessageEvent(
        field="message",
        event="queued",
        payload=MessageStatusPayload(message_status="QUEUED", message_id=message_id, channel="sms"),
    )
    async with raw_client(sim, recorder) as client, client.messages.watcher(poll=FAST) as watcher:
        watcher.add(message_id)
        assert watcher.push(pushed)
        watcher.finish()
        events = [event async for event in watcher]
        stats = client.stats()
    steps = recorder.of(StepEvent)
    assert [e.activity.status for e in events if e.activity] == [s.activity.status for s in steps]
    first, last = steps[0], steps[-1]
    assert (first.via, first.channel, first.done) == ("push", "sms", False)
    assert (last.via, last.done, last.activity.status) == ("poll", True, "DELIVERED")
    assert stats.steps_by_push == 1
    assert stats.steps_by_poll == len(steps) - 1
    assert (stats.messages_watched, stats.messages_finished) == (1, 1)
    assert stats.requests_per_finished_message == stats.total_requests


async def test_stats_count_requests_by_class(sim: Simulator, sleeps: RecordingSleep) -> None:
    """stats() counts attempts by status class and retries; nothing watched: no per-message."""
    sim.inject("status", status=503, times=3)
    async with raw_client(sim) as client:
        with pytest.raises(InternalServerError):
            await client.messages.retrieve_status("m")
        with pytest.raises(NotFoundError):
            await client.messages.retrieve_status("missing")
        await client.messages.retrieve_status(sim.create_message())
        stats = client.stats()
    assert stats.requests == {"2xx": 1, "3xx": 0, "4xx": 1, "5xx": 3, "error": 0}
    assert stats.retries == 2
    assert (stats.rate_limited, stats.budget_wait_p50, stats.budget_wait_p95) == (0, 0.0, 0.0)
    assert stats.requests_per_finished_message is None
    assert "5 requests (2xx 1, 4xx 1, 5xx 3); 0 x 429; 2 retries" in stats.summary()
    assert isinstance(
        msgspec.json.decode(msgspec.json.encode(stats), type=ClientStats), ClientStats
    )


async def test_stats_survive_the_recorder_being_removed(sim: Simulator) -> None:
    """Removing the stats recorder leaves stats() answering zeros, not failing."""
    async with raw_client(sim) as client:
        for listener in client.hooks.listeners:
            client.hooks.remove(listener)
        assert not client.hooks
        await client.messages.retrieve_status(sim.create_message())  # the plain path
        assert client.stats().total_requests == 0


async def _counted_run(sim: Simulator, *hooks: object) -> ClientStats:
    """A 503, a 429 pause (the retry then waits for the budget), a 404, a 200 and a watch."""
    message_id = sim.create_message(outcome="delivered")
    budget = TokenBucket(6000, burst=10)
    async with raw_client(sim, *hooks, rate_limit=budget) as client:
        sim.inject("status", status=503)
        await client.messages.retrieve_status(message_id)
        sim.inject("status", status=429, headers={"retry-after-ms": "50"})
        await client.messages.retrieve_status(message_id)
        with pytest.raises(NotFoundError):
            await client.messages.retrieve_status("missing")
        await client.messages.wait_until_terminal(message_id, poll=FAST)
        return client.stats()


async def test_without_listeners_no_event_is_built_and_stats_count_the_same(
    sim: Simulator, sleeps: RecordingSleep, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A default client builds no event, and its stats() equal a client's with a listener."""
    with_listener = await _counted_run(sim, Recorder())

    def no_event(**fields: object) -> None:
        raise AssertionError(f"an event was built without listeners: {fields}")

    for name in ("RequestEvent", "ResponseEvent", "RetryEvent", "ThrottleEvent"):
        monkeypatch.setattr(f"sentdm_async._http.transport.{name}", no_event)
    monkeypatch.setattr("sentdm_async._watch.scheduler.StepEvent", no_event)
    assert not AsyncSent(api_key=API_KEY).hooks
    plain = await _counted_run(sim)
    assert plain.budget_wait_p95 > 0
    assert with_listener.budget_wait_p95 > 0
    same = msgspec.structs.replace(plain, budget_wait_p50=0.0, budget_wait_p95=0.0)
    assert same == msgspec.structs.replace(with_listener, budget_wait_p50=0.0, budget_wait_p95=0.0)
    assert (plain.rate_limited, plain.retries, plain.pauses) == (1, 2, 1)
    assert plain.requests["5xx"] == 1
    assert plain.requests["4xx"] == 2
    assert plain.messages_finished == 1
    assert plain.steps_by_poll > 0


async def test_a_stats_recorder_as_a_listener_counts_what_the_client_counts(
    sim: Simulator, sleeps: RecordingSleep
) -> None:
    """A StatsRecorder added as a listener, fed by events, ends with the client's own stats."""
    own = StatsRecorder()
    stats = await _counted_run(sim, own)
    assert own.snapshot() == stats
    assert (stats.retries, stats.pauses, stats.messages_finished) == (2, 1, 1)


async def test_the_client_recorder_removed_and_added_back(sim: Simulator) -> None:
    """The client's recorder is listed first; removed, stats() is zeros; added back, it reports."""
    async with raw_client(sim) as client:
        recorder = client.hooks.recorder
        assert client.hooks.listeners == (recorder,)
        await client.messages.retrieve_status(sim.create_message())
        client.hooks.remove(recorder)
        assert client.stats().total_requests == 0
        client.hooks.add(recorder)
        assert client.hooks.listeners == (recorder,)
        assert not client.hooks
        assert client.stats().total_requests == 1


@pytest.mark.parametrize(
    ("waits", "population", "p50", "p95"),
    [
        pytest.param([], 10, 0.0, 0.0, id="no-waits"),
        pytest.param([1.0] * 4, 10, 0.0, 1.0, id="few-waited"),
        pytest.param([0.2] * 100, 100, 0.2, 0.2, id="all-waited"),
        pytest.param([0.01 * i for i in range(1, 101)], 100, 0.5, 0.95, id="spread"),
        pytest.param([1e9], 1, 1e9, 1e9, id="beyond-the-last-bucket"),
    ],
)
def test_budget_wait_percentiles_within_five_percent(
    waits: list[float], population: int, p50: float, p95: float
) -> None:
    """The budget wait p50/p95 are within ~5% (attempts not recorded waited 0 s)."""
    recorder = StatsRecorder()
    for _ in range(population):
        recorder.on_response(ResponseEvent(method="GET", url_template="/", attempt=1, status=200))
    for wait in waits:
        recorder.on_throttle(ThrottleEvent(kind="budget", wait=wait))
    stats = recorder.snapshot()
    if p50 == 1e9:  # capped: the last bucket's middle, far above any real wait
        assert stats.budget_wait_p50 > 3600
        return
    assert stats.budget_wait_p50 == pytest.approx(p50, rel=0.05)
    assert stats.budget_wait_p95 == pytest.approx(p95, rel=0.05)


def test_stats_recorder_counts_an_unknown_status_class_nowhere() -> None:
    """A 1xx (never final in practice) counts in no class rather than failing."""
    recorder = StatsRecorder()
    recorder.on_response(ResponseEvent(method="GET", url_template="/", attempt=1, status=101))
    assert recorder.snapshot().total_requests == 0


# --- with_raw_response ----------------------------------------------------------------------------


async def test_with_raw_response_gives_status_headers_request_id_and_parse(
    client: AsyncSent, sim: Simulator
) -> None:
    """A raw call answers status, headers, request id, the request (key redacted) and parse()."""
    message_id = sim.create_message()
    raw = await client.with_raw_response.messages.retrieve_status(message_id)
    assert isinstance(raw, AsyncAPIResponse)
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.request_id is not None
    assert raw.request_id.startswith("req_")
    assert raw.retries_taken == 0
    assert raw.method == "GET"
    assert raw.url == f"{sim.base_url}/v3/messages/{message_id}"
    assert raw.http_request.headers["x-api-key"] == "[redacted]"
    assert API_KEY not in repr(raw.http_request)
    message = await raw.parse()
    assert isinstance(message, Message)
    assert message == await client.messages.retrieve_status(message_id)
    envelope = await raw.json()
    assert envelope["data"]["id"] == message_id
    assert (await raw.text()).startswith("{")
    assert await raw.read() == (await raw.text()).encode()
    assert repr(raw).startswith("<AsyncAPIResponse [200] GET")


async def test_with_raw_response_goes_through_retries_and_raises_errors(
    client: AsyncSent, sim: Simulator
) -> None:
    """A raw call is retried like a plain one (retries_taken), and an error status raises."""
    message_id = sim.create_message()
    sim.inject("status", status=503)
    raw = await client.with_raw_response.messages.retrieve_activities(message_id)
    assert raw.retries_taken == 1
    assert sim.stats.requests == 2
    with pytest.raises(NotFoundError):
        await client.with_raw_response.messages.retrieve_status("missing")


async def test_with_raw_response_walks_sub_resources_and_queries(
    client: AsyncSent, sim: Simulator
) -> None:
    """Nested resources and query parameters work; the URL shows the query that was sent."""
    raw = await client.with_raw_response.contacts.list_page(page=1, page_size=5)
    assert raw.status_code == 200
    assert "page_size=5" in raw.url
    assert (await raw.parse()).pagination is not None
    sent = await client.with_raw_response.messages.send(to=["+15551234567"], text="hi")
    assert sent.http_request.method == "POST"
    assert "Idempotency-Key" in sent.http_request.headers
    assert repr(client.with_raw_response.profiles.campaigns) == (
        "<with_raw_response.profiles.campaigns>"
    )


def test_with_raw_response_refuses_what_is_not_one_call() -> None:
    """Pagers, watches, bulk streams and attributes are refused with a hint."""
    client = AsyncSent(api_key=API_KEY)
    raw = client.with_raw_response
    for name in ("list", "watch", "wait_until_terminal", "retrieve_activities_many"):
        with pytest.raises(AttributeError, match="one API call"):
            getattr(raw.messages, name)
    with pytest.raises(AttributeError, match="one API call"):
        raw.stats  # noqa: B018
    for private in ("_transport", "_call"):  # private names are never forwarded, nor wrapped
        with pytest.raises(AttributeError):
            getattr(raw.messages, private)


async def test_step_event_is_a_frozen_struct() -> None:
    """Events are frozen Structs: a listener cannot change what the next one sees."""
    event = StepEvent(
        message_id="m", activity=Activity(status="SENT", timestamp=datetime.now(UTC)), via="poll"
    )
    with pytest.raises(AttributeError):
        event.via = "push"  # type: ignore[misc]


async def test_raw_response_request_id_from_the_body_and_a_body_that_is_not_json() -> None:
    """Without x-request-id the body's meta.request_id is used; a non-JSON body is a clear error."""
    from multidict import CIMultiDict, CIMultiDictProxy

    from sentdm_async import APIResponseValidationError, RawRequest
    from sentdm_async._http.raw import Capture

    def answer(body: bytes) -> AsyncAPIResponse[None]:
        capture = Capture()
        request = RawRequest(method="DELETE", url="https://api.sent.dm/v3/contacts/c", headers={})
        capture.record(200, CIMultiDictProxy(CIMultiDict()), body, request, 0)
        return AsyncAPIResponse(capture, None)

    assert answer(b'{"meta": {"request_id": "req_body"}}').request_id == "req_body"
    assert answer(b'{"data": null}').request_id is None
    empty = answer(b"")
    assert empty.request_id is None
    with pytest.raises(APIResponseValidationError, match="not JSON"):
        await empty.json()


async def test_one_listener_not_in_a_list_and_the_plain_path_with_a_budget(
    sim: Simulator, sleeps: RecordingSleep
) -> None:
    """hooks= takes one listener as is; with every listener removed, calls and watches still run."""
    single = OnlyResponses()
    message_id = sim.create_message()
    async with AsyncSent(
        api_key=API_KEY, base_url=sim.base_url, rate_limit=TokenBucket(6000, burst=10), hooks=single
    ) as client:
        await client.messages.retrieve_status(message_id)
        assert single.statuses == [200]
        for listener in client.hooks.listeners:
            client.hooks.remove(listener)
        await client.messages.retrieve_status(message_id)
        final = await client.messages.wait_until_terminal(message_id, poll=FAST)
    assert final.status == "DELIVERED"
    assert single.statuses == [200]
