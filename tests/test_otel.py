"""`sentdm_async.otel`: spans and metrics checked with the OpenTelemetry SDK's in-memory readers.

Each scenario runs on the simulator over a real socket: a successful call, a call retried after a
503, a 429 pause, and a watched message from QUEUED to DELIVERED.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from yarl import URL

from sentdm_async import Activity, AsyncSent, PollPolicy, StepEvent, TokenBucket
from sentdm_async.otel import OpenTelemetryHooks, instrument

from .conftest import API_KEY, RecordingSleep

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sentdm_async.simulator import Simulator

FAST = PollPolicy(min_interval=0.01, max_interval=0.05, not_found_grace=0.3)


class Telemetry:
    """An SDK tracer and meter provider writing to memory."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def points(self, name: str) -> list[Any]:
        """The data points of metric ``name`` (empty when it was never recorded)."""
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found

    def instrument(self, client: AsyncSent) -> OpenTelemetryHooks:
        return instrument(
            client, tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    """In-memory span exporter and metric reader; providers shut down after the test."""
    found = Telemetry()
    yield found
    found.tracer_provider.shutdown()
    found.meter_provider.shutdown()


def client_of(sim: Simulator, **kwargs: Any) -> AsyncSent:
    kwargs.setdefault("rate_limit", None)
    return AsyncSent(api_key=API_KEY, base_url=sim.base_url, timeout=5.0, **kwargs)


def assert_no_secret_or_id(spans: list[ReadableSpan], message_id: str) -> None:
    for span in spans:
        values = [span.name, *(str(v) for v in (span.attributes or {}).values())]
        assert not any(message_id in value for value in values), values
        assert not any(API_KEY in value for value in values), values


async def test_a_successful_call_is_one_client_span(
    sim: Simulator, telemetry: Telemetry, sleeps: RecordingSleep
) -> None:
    """One span named by method and template, with the HTTP client attributes and request id."""
    message_id = sim.create_message()
    async with client_of(sim) as client:
        telemetry.instrument(client)
        await client.messages.retrieve_activities(message_id)
    (span,) = telemetry.finished()
    assert span.name == "GET /v3/messages/{id}/activities"
    assert span.kind is SpanKind.CLIENT
    attributes = dict(span.attributes or {})
    request_id = attributes.pop("sentdm.request_id")
    assert str(request_id).startswith("req_")
    assert attributes == {
        "http.request.method": "GET",
        "url.template": "/v3/messages/{id}/activities",
        "server.address": "127.0.0.1",
        "server.port": URL(sim.base_url).port,
        "http.response.status_code": 200,
    }
    assert span.status.status_code is StatusCode.UNSET
    assert_no_secret_or_id([span], message_id)
    (duration,) = telemetry.points("http.client.request.duration")
    assert duration.count == 1
    assert duration.attributes["http.response.status_code"] == 200
    assert duration.attributes["url.template"] == "/v3/messages/{id}/activities"
    assert telemetry.points("sentdm.client.retries") == []


async def test_a_call_retried_after_a_503(
    sim: Simulator, telemetry: Telemetry, sleeps: RecordingSleep
) -> None:
    """Two spans: the 503 with error.type, the retry with http.request.resend_count 1."""
    message_id = sim.create_message()
    sim.inject("status", status=503)
    async with client_of(sim) as client:
        telemetry.instrument(client)
        await client.messages.retrieve_status(message_id)
    first, second = telemetry.finished()
    assert first.name == second.name == "GET /v3/messages/{id}"
    assert first.attributes is not None
    assert second.attributes is not None
    assert first.attributes["http.response.status_code"] == 503
    assert first.attributes["error.type"] == "503"
    assert "http.request.resend_count" not in first.attributes
    assert first.status.status_code is StatusCode.ERROR
    assert second.attributes["http.request.resend_count"] == 1
    assert second.attributes["http.response.status_code"] == 200
    assert "error.type" not in second.attributes
    assert_no_secret_or_id([first, second], message_id)
    (retries,) = telemetry.points("sentdm.client.retries")
    assert retries.value == 1
    assert retries.attributes["sentdm.retry.reason"] == "503"
    durations = telemetry.points("http.client.request.duration")
    assert sorted(p.attributes["http.response.status_code"] for p in durations) == [200, 503]


async def test_a_429_pause(sim: Simulator, telemetry: Telemetry, sleeps: RecordingSleep) -> None:
    """A 429: its span has error.type 429; the 429 counter, the pause and the budget wait."""
    sim.inject("status", status=429, headers={"retry-after-ms": "50"})
    async with client_of(sim, rate_limit=TokenBucket(6000, burst=10)) as client:
        telemetry.instrument(client)
        await client.messages.retrieve_status(sim.create_message())
    limited, ok = telemetry.finished()
    assert limited.attributes is not None
    assert limited.attributes["error.type"] == "429"
    assert ok.attributes is not None
    assert ok.attributes["http.request.resend_count"] == 1
    (counted,) = telemetry.points("sentdm.client.rate_limited")
    assert counted.value == 1
    (pause,) = telemetry.points("sentdm.client.rate_limit.pause")
    assert (pause.count, pause.sum) == (1, pytest.approx(0.05))
    (wait,) = telemetry.points("sentdm.client.budget.wait")
    assert wait.count >= 1
    assert wait.attributes["url.template"] == "/v3/messages/{id}"
    (retries,) = telemetry.points("sentdm.client.retries")
    assert retries.attributes["sentdm.retry.reason"] == "429"


async def test_a_watched_message_from_queued_to_delivered(
    sim: Simulator, telemetry: Telemetry, sleeps: RecordingSleep
) -> None:
    """The watcher's polls are spans by template; QUEUED -> DELIVERED lands in the latency."""
    message_id = sim.create_message(outcome="delivered")
    async with client_of(sim) as client:
        telemetry.instrument(client)
        final = await client.messages.wait_until_terminal(message_id, poll=FAST)
    assert final.status == "DELIVERED"
    spans = telemetry.finished()
    assert spans
    assert {span.name for span in spans} == {"GET /v3/messages/{id}/activities"}
    assert_no_secret_or_id(spans, message_id)
    (latency,) = telemetry.points("sentdm.message.terminal_latency")
    assert latency.count == 1
    assert latency.sum > 0
    assert latency.attributes == {"sentdm.channel": "unknown", "sentdm.outcome": "DELIVERED"}


def test_latency_by_channel_from_server_timestamps(telemetry: Telemetry) -> None:
    """Latency is the terminal step's timestamp minus QUEUED's, by the channel a push named."""
    hooks = OpenTelemetryHooks(
        server_address="api.sent.dm",
        server_port=None,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def step(status: str, seconds: float, **kwargs: Any) -> StepEvent:
        activity = Activity(status=status, timestamp=start + timedelta(seconds=seconds))
        return StepEvent(message_id="m1", activity=activity, **kwargs)

    hooks.on_status(step("QUEUED", 0, via="push", channel="whatsapp"))
    hooks.on_status(step("SENT", 30, via="poll"))
    hooks.on_status(step("FAILED", 90, via="poll", done=True))
    hooks.on_status(step("DELIVERED", 95, via="poll", done=True))  # no QUEUED left: ignored
    (latency,) = telemetry.points("sentdm.message.terminal_latency")
    assert (latency.count, latency.sum) == (1, 90.0)
    assert latency.attributes == {"sentdm.channel": "whatsapp", "sentdm.outcome": "FAILED"}


async def test_spans_are_children_of_the_callers_span_and_removable(
    sim: Simulator, telemetry: Telemetry, sleeps: RecordingSleep
) -> None:
    """An attempt's span has the caller's current span as parent; removing the hooks stops it."""
    tracer = telemetry.tracer_provider.get_tracer("app")
    async with client_of(sim) as client:
        listener = telemetry.instrument(client)
        with tracer.start_as_current_span("handler") as parent:
            await client.messages.retrieve_status(sim.create_message())
        client.hooks.remove(listener)
        await client.messages.retrieve_status(sim.create_message())
    child, handler = telemetry.finished()
    assert handler.name == "handler"
    assert child.parent is not None
    assert child.parent.span_id == parent.get_span_context().span_id


def test_a_response_without_its_request_records_the_duration_only(telemetry: Telemetry) -> None:
    """A listener added while an attempt was in flight sees its end alone: no span, a duration."""
    from sentdm_async import ResponseEvent

    hooks = OpenTelemetryHooks(
        server_address="api.sent.dm",
        server_port=None,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )
    hooks.on_response(
        ResponseEvent(method="GET", url_template="/v3/me", attempt=1, status=None, error_type="X")
    )
    assert telemetry.finished() == []
    (duration,) = telemetry.points("http.client.request.duration")
    assert duration.attributes == {
        "http.request.method": "GET",
        "url.template": "/v3/me",
        "server.address": "api.sent.dm",
        "error.type": "X",
    }
