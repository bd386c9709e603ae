"""OpenTelemetry traces and metrics for a client: ``sentdm_async.otel.instrument(client)``.

Needs ``opentelemetry-api`` only (``pip install 'sentdm-async[otel]'``); the application
brings the SDK and its exporters. Built on the client's hooks (`sentdm_async.Hooks`):

- a CLIENT span per HTTP attempt, as the HTTP client semantic conventions ask: named
  ``{method} {url.template}`` (``GET /v3/messages/{id}/activities``), with
  ``http.request.method``, ``url.template``, ``server.address``, ``server.port``,
  ``http.response.status_code``, ``http.request.resend_count`` (retries), ``error.type`` and
  the API's ``sentdm.request_id``. Paths appear only as templates: no message id, no URL with
  ids, never the API key.
- metrics: ``http.client.request.duration`` (s), ``sentdm.client.budget.wait`` (s, waits for
  the shared budget), ``sentdm.client.rate_limit.pause`` (s), the counters
  ``sentdm.client.rate_limited`` (429 answers) and ``sentdm.client.retries``, and
  ``sentdm.message.terminal_latency`` (s): from a watched message's QUEUED step to the step
  that ended its watch (server timestamps), by ``sentdm.channel`` and ``sentdm.outcome``.
"""

from __future__ import annotations

import contextvars
from collections import OrderedDict
from typing import TYPE_CHECKING, Final

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from yarl import URL

from sentdm_async import __version__

if TYPE_CHECKING:
    from datetime import datetime

    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

    from sentdm_async import (
        AsyncSent,
        RequestEvent,
        ResponseEvent,
        RetryEvent,
        StepEvent,
        ThrottleEvent,
    )

__all__ = ["OpenTelemetryHooks", "instrument"]

#: The instrumentation scope's name (tracer and meter).
SCOPE: Final = "sentdm_async"

#: Bucket bounds (s) the semantic conventions advise for ``http.client.request.duration``.
_DURATION_BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)

#: Watched messages whose QUEUED step is remembered at once (the oldest are forgotten first).
_MAX_QUEUED: Final = 100_000

#: The span of the attempt running in this task (one task makes one attempt at a time).
_CURRENT: contextvars.ContextVar[Span | None] = contextvars.ContextVar(
    "sentdm_async_otel_span", default=None
)


class OpenTelemetryHooks:
    """The listener `instrument` adds: spans per attempt, and the client's metrics.

    Args:
        server_address: The API's host (``server.address``).
        server_port: The API's port (``server.port``).
        tracer_provider: Where spans go; ``None`` for the global provider.
        meter_provider: Where metrics go; ``None`` for the global provider.
    """

    def __init__(
        self,
        *,
        server_address: str,
        server_port: int | None,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self._server = {"server.address": server_address}
        if server_port is not None:
            self._server["server.port"] = server_port  # type: ignore[assignment]
        self._tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self._duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests (one per attempt).",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self._budget_wait = meter.create_histogram(
            "sentdm.client.budget.wait",
            unit="s",
            description="Time a request waited for a token of the client's shared rate budget.",
        )
        self._pause = meter.create_histogram(
            "sentdm.client.rate_limit.pause",
            unit="s",
            description="Length of the pauses of every caller that 429 answers imposed.",
        )
        self._rate_limited = meter.create_counter(
            "sentdm.client.rate_limited",
            unit="{response}",
            description="HTTP 429 answers.",
        )
        self._retries = meter.create_counter(
            "sentdm.client.retries", unit="{retry}", description="Attempts that were retried."
        )
        self._latency = meter.create_histogram(
            "sentdm.message.terminal_latency",
            unit="s",
            description="From a watched message's QUEUED step to the step that ended its watch.",
        )
        self._queued: OrderedDict[str, tuple[datetime, str | None]] = OrderedDict()

    # -- spans and request metrics --

    def on_request(self, event: RequestEvent) -> None:
        """Start the attempt's CLIENT span (a child of the caller's current span)."""
        attributes: dict[str, str | int] = {
            "http.request.method": event.method,
            "url.template": event.url_template,
            **self._server,
        }
        if event.attempt > 1:
            attributes["http.request.resend_count"] = event.attempt - 1
        span = self._tracer.start_span(
            f"{event.method} {event.url_template}", kind=SpanKind.CLIENT, attributes=attributes
        )
        _CURRENT.set(span)

    def on_response(self, event: ResponseEvent) -> None:
        """End the attempt's span; record its duration (and count a 429)."""
        attributes: dict[str, str | int] = {
            "http.request.method": event.method,
            "url.template": event.url_template,
            **self._server,
        }
        if event.status is not None:
            attributes["http.response.status_code"] = event.status
        if event.error_type is not None:
            attributes["error.type"] = event.error_type
        self._duration.record(event.elapsed, attributes)
        if event.status == 429:
            self._rate_limited.add(1, {"url.template": event.url_template})
        span = _CURRENT.get()
        if span is None:
            return
        _CURRENT.set(None)
        # Only what the start did not know: the SDK checks every attribute set, one by one.
        if event.status is not None:
            span.set_attribute("http.response.status_code", event.status)
        if event.request_id is not None:
            span.set_attribute("sentdm.request_id", event.request_id)
        if event.error_type is not None:
            span.set_attribute("error.type", event.error_type)
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    def on_retry(self, event: RetryEvent) -> None:
        """Count a retry, by reason and endpoint."""
        self._retries.add(
            1, {"url.template": event.url_template, "sentdm.retry.reason": event.reason}
        )

    def on_throttle(self, event: ThrottleEvent) -> None:
        """Record a wait for the budget, or the length of a 429 pause."""
        if event.kind == "pause":
            self._pause.record(event.wait)
        else:
            attributes = {"url.template": event.url_template} if event.url_template else {}
            self._budget_wait.record(event.wait, attributes)

    # -- watched messages --

    def on_status(self, event: StepEvent) -> None:
        """Remember a QUEUED step; on the step that ends the watch, record the latency."""
        activity = event.activity
        queued = self._queued
        if activity.status == "QUEUED":
            queued[event.message_id] = (activity.timestamp, event.channel)
            if len(queued) > _MAX_QUEUED:
                queued.popitem(last=False)
            return
        if not event.done:
            return
        start = queued.pop(event.message_id, None)
        if start is None:
            return  # its QUEUED step was not seen (watch started later): no latency to tell
        queued_at, channel = start
        self._latency.record(
            (activity.timestamp - queued_at).total_seconds(),
            {
                "sentdm.channel": event.channel or channel or "unknown",
                "sentdm.outcome": activity.status,
            },
        )


def instrument(
    client: AsyncSent,
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
) -> OpenTelemetryHooks:
    """Emit OpenTelemetry spans and metrics for everything ``client`` does.

    Args:
        client: The client (its `with_options` copies are covered too).
        tracer_provider: Where spans go; ``None`` for the global provider.
        meter_provider: Where metrics go; ``None`` for the global provider.

    Returns:
        The listener added to ``client.hooks`` (``client.hooks.remove(it)`` stops it).
    """
    url = URL(client.base_url)
    listener = OpenTelemetryHooks(
        server_address=url.host or "",
        server_port=url.port,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    client.hooks.add(listener)
    return listener
