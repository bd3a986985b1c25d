"""OpenTelemetryHook's spans through real clients against a loopback server: one INTERNAL span
per logical call, a CLIENT span per attempt and redirect hop, the W3C trace context on every
attempt, a batch's chunks, the open breaker's refusal; names and attributes per the semantic
conventions' own constants."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.semconv._incubating.attributes.url_attributes import URL_TEMPLATE
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_REQUEST_METHOD,
    HTTP_REQUEST_RESEND_COUNT,
    HTTP_RESPONSE_STATUS_CODE,
)
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.trace import SpanKind, StatusCode
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from resilience import CircuitBreakerConfig, CircuitOpenError, OpenTelemetryHook
from tests.support import Driver, resources

API_KEY = "otel-secret-key-7f3a"
HEALTH = {"status": "ok", "timestamp": "2026-11-29T10:00:00Z"}


class Telemetry:
    """An SDK tracer provider exporting to memory (synchronously) and a meter provider read in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.hook = OpenTelemetryHook(tracer_provider=self.tracer_provider, meter_provider=self.meter_provider)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name == name]

    def metrics(self) -> dict[str, Any]:
        data = self.reader.get_metrics_data()
        if data is None:  # nothing measured, nothing observed
            return {}
        return {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}


@pytest.fixture
def otel() -> Iterator[Telemetry]:
    t = Telemetry()
    yield t
    t.tracer_provider.shutdown()
    t.meter_provider.shutdown()


def attrs_of(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def parent_id(span: ReadableSpan) -> int:
    """The parent span's id (0: a root span)."""
    return span.parent.span_id if span.parent is not None else 0


def traceparent(span: ReadableSpan) -> str:
    """The W3C ``traceparent`` naming ``span`` as the parent."""
    c = span.context
    return f"00-{c.trace_id:032x}-{c.span_id:016x}-{int(c.trace_flags):02x}"


def answers(server: HTTPServer, path: str, statuses: list[int], body: Any, seen: list[Request]) -> None:
    """``path`` answers ``statuses`` in turn (the last one from then on), recording each request."""

    def handler(request: Request) -> Response:
        seen.append(request)
        status = statuses[min(len(seen) - 1, len(statuses) - 1)]
        return Response(
            json.dumps(body if status < 300 else {"success": False}), status, content_type="application/json"
        )

    server.expect_request(path).respond_with_handler(handler)


def no_secret_or_url(spans: list[ReadableSpan]) -> None:
    for span in spans:
        for value in attrs_of(span).values():
            text = str(value)
            assert API_KEY not in text
            assert "://" not in text, (span.name, text)  # no raw URL
            assert "opt-1" not in text, (span.name, text)  # no id from the path


async def test_a_retried_call_is_one_trace_with_a_client_span_per_attempt(
    driver: Driver, httpserver: HTTPServer, otel: Telemetry
) -> None:
    seen: list[Request] = []
    answers(httpserver, "/api/health", [503, 200], HEALTH, seen)
    driver.open(httpserver.url_for(""), api_key=API_KEY, metrics_hooks=[otel.hook], max_retries=2)
    await driver.call("get_health")

    [call] = otel.named("get_health")
    attempts = otel.named("GET /api/health")
    assert len(otel.spans()) == 3
    assert call.kind is SpanKind.INTERNAL
    assert call.parent is None
    assert attrs_of(call) == {
        "resilience.operation": "get_health",
        URL_TEMPLATE: "/api/health",
        HTTP_REQUEST_METHOD: "GET",
        HTTP_RESPONSE_STATUS_CODE: 200,
        "resilience.retries": 1,
    }
    assert call.status.status_code is StatusCode.UNSET
    assert [a.kind for a in attempts] == [SpanKind.CLIENT, SpanKind.CLIENT]
    assert {parent_id(a) for a in attempts} == {call.context.span_id}
    assert {a.context.trace_id for a in attempts} == {call.context.trace_id}
    first, second = sorted(attempts, key=lambda s: s.start_time or 0)
    common = {
        HTTP_REQUEST_METHOD: "GET",
        SERVER_ADDRESS: httpserver.host,
        SERVER_PORT: httpserver.port,
        "url.scheme": "http",
        URL_TEMPLATE: "/api/health",
    }
    assert attrs_of(first) == {**common, HTTP_RESPONSE_STATUS_CODE: 503, ERROR_TYPE: "503"}
    assert first.status.status_code is StatusCode.ERROR
    assert attrs_of(second) == {**common, HTTP_RESPONSE_STATUS_CODE: 200, HTTP_REQUEST_RESEND_COUNT: 1}
    # The backend got each attempt's own context, in the one trace of the call.
    assert [r.headers.get("traceparent") for r in seen] == [traceparent(first), traceparent(second)]
    no_secret_or_url(otel.spans())


async def test_a_redirect_hop_is_a_client_span_of_its_own_in_the_same_trace(
    driver: Driver, httpserver: HTTPServer, otel: Telemetry
) -> None:
    seen: list[Request] = []
    httpserver.expect_request("/api/health").respond_with_handler(
        lambda r: seen.append(r) or Response("", 307, headers={"Location": "/moved/health?token=opt-1"})  # type: ignore[func-returns-value]
    )
    answers(httpserver, "/moved/health", [200], HEALTH, seen)
    driver.open(httpserver.url_for(""), api_key=API_KEY, metrics_hooks=[otel.hook])
    await driver.call("get_health")

    [call] = otel.named("get_health")
    [hop1] = otel.named("GET /api/health")
    [hop2] = otel.named("GET")  # the hop's path is not the operation's: no template to name it by
    assert {parent_id(hop1), parent_id(hop2)} == {call.context.span_id}
    assert attrs_of(hop1)[HTTP_RESPONSE_STATUS_CODE] == 307
    assert HTTP_REQUEST_RESEND_COUNT not in attrs_of(hop1)
    assert attrs_of(hop2)[HTTP_REQUEST_RESEND_COUNT] == 1
    assert URL_TEMPLATE not in attrs_of(hop2)
    assert attrs_of(hop2)[HTTP_RESPONSE_STATUS_CODE] == 200
    assert [r.headers.get("traceparent") for r in seen] == [traceparent(hop1), traceparent(hop2)]
    no_secret_or_url(otel.spans())


async def test_an_open_breaker_refusal_is_a_short_span_with_its_own_error_type(
    driver: Driver, httpserver: HTTPServer, otel: Telemetry
) -> None:
    seen: list[Request] = []
    answers(httpserver, "/api/health", [503], HEALTH, seen)
    config = CircuitBreakerConfig(failure_threshold=1, recovery_timeout=60)
    driver.open(
        httpserver.url_for(""), api_key=API_KEY, metrics_hooks=[otel.hook], max_retries=0, circuit_breaker_config=config
    )
    with pytest.raises(Exception, match="503"):
        await driver.call("get_health")
    with pytest.raises(CircuitOpenError):
        await driver.call("get_health")

    assert len(seen) == 1  # the refused call sent nothing
    failed, refused = sorted(otel.named("get_health"), key=lambda s: s.start_time or 0)
    assert attrs_of(failed)[ERROR_TYPE] == "503"
    assert attrs_of(refused)[ERROR_TYPE] == "resilience.CircuitOpenError"
    assert refused.status.status_code is StatusCode.ERROR
    assert not [s for s in otel.spans() if parent_id(s) == refused.context.span_id]  # no attempt under it
    assert len(otel.named("GET /api/health")) == 1


def ingest(seen: list[Request]) -> Any:
    def handler(request: Request) -> Response:
        seen.append(request)
        items = json.loads(request.get_data())
        body = {"success": True, "accepted": len(items), "rejected": [], "timestamp": "2025-01-15T08:00:00Z"}
        return Response(json.dumps(body), 200, content_type="application/json")

    return handler


async def test_a_chunked_batch_is_one_span_with_a_span_per_chunk_holding_its_call(
    driver: Driver, httpserver: HTTPServer, otel: Telemetry
) -> None:
    """Async, the chunks run at once: each call still lands under its own chunk's span (the
    server's traceparent and the chunk's first item agree)."""
    seen: list[Request] = []
    httpserver.expect_request("/api/resources", method="POST").respond_with_handler(ingest(seen))
    driver.open(httpserver.url_for(""), api_key=API_KEY, metrics_hooks=[otel.hook])
    result = await driver.post_resources(resources(5), chunk_size=2)
    assert result.ok

    by_id = {s.context.span_id: s for s in otel.spans()}
    [batch] = [s for s in otel.named("post_resources") if s.parent is None]
    chunks = otel.named("post_resources chunk")
    calls = [s for s in otel.named("post_resources") if s.parent is not None]
    attempts = otel.named("POST /api/resources")
    assert (len(chunks), len(calls), len(attempts)) == (3, 3, 3)
    assert attrs_of(batch)["resilience.batch.items"] == 5
    assert attrs_of(batch)["resilience.batch.chunks"] == 3
    assert attrs_of(batch)["resilience.batch.items.accepted"] == 5
    assert {parent_id(c) for c in chunks} == {batch.context.span_id}
    assert sorted(
        (attrs_of(c)["resilience.batch.chunk.first_item"], attrs_of(c)["resilience.batch.chunk.items"]) for c in chunks
    ) == [
        (0, 2),
        (2, 2),
        (4, 1),
    ]
    assert all(attrs_of(c)["resilience.outcome"] == "accepted" for c in chunks)
    assert {s.context.trace_id for s in otel.spans()} == {batch.context.trace_id}
    if driver.is_async:  # the chunks were in flight together: their spans overlap
        spans = sorted(chunks, key=lambda s: s.start_time or 0)
        assert (spans[1].start_time or 0) < (spans[0].end_time or 0)
    for request in seen:
        span_id = int(request.headers["traceparent"].split("-")[2], 16)
        attempt = by_id[span_id]
        call = by_id[parent_id(attempt)]
        chunk = by_id[parent_id(call)]
        first = json.loads(request.get_data())[0]["resourceId"]
        assert first == resources(5)[attrs_of(chunk)["resilience.batch.chunk.first_item"]]["resourceId"]
    no_secret_or_url(otel.spans())


async def test_spans_hold_no_secret_and_no_id_from_the_path(
    driver: Driver, httpserver: HTTPServer, otel: Telemetry
) -> None:
    approval = {"optimizationId": "opt-1", "status": "APPROVED", "decidedAt": "2026-11-29T10:00:00Z"}
    httpserver.expect_request("/api/optimizations/opt-1/approve", method="POST").respond_with_json(approval)
    driver.open(httpserver.url_for(""), api_key=API_KEY, metrics_hooks=[otel.hook])
    await driver.call("approve_optimization", "opt-1")
    [attempt] = otel.named("POST /api/optimizations/{optimizationId}/approve")
    assert attrs_of(attempt)[URL_TEMPLATE] == "/api/optimizations/{optimizationId}/approve"
    no_secret_or_url(otel.spans())


async def test_a_batch_the_open_breaker_refuses_has_its_refusal_under_the_first_chunk(
    driver: Driver, httpserver: HTTPServer, otel: Telemetry
) -> None:
    """The breaker opened before the batch: the first chunk's refusal is a span under that
    chunk, and every chunk ends not delivered with the refusal's error type; nothing is sent."""
    driver.open(httpserver.url_for(""), api_key=API_KEY, metrics_hooks=[otel.hook])
    breaker = driver.client.circuit_breaker
    assert breaker is not None
    breaker.force_open()
    result = await driver.post_resources(resources(3), chunk_size=2)
    assert len(result.not_delivered) == 2
    assert httpserver.log == []

    [batch] = [s for s in otel.named("post_resources") if s.parent is None]
    chunks = sorted(otel.named("post_resources chunk"), key=lambda s: attrs_of(s)["resilience.batch.chunk.first_item"])
    assert {parent_id(c) for c in chunks} == {batch.context.span_id}
    assert [attrs_of(c)["resilience.outcome"] for c in chunks] == ["not_delivered", "not_delivered"]
    assert {attrs_of(c)[ERROR_TYPE] for c in chunks} == {"resilience.CircuitOpenError"}
    refusals = [s for s in otel.named("post_resources") if s.parent is not None]
    assert len(refusals) >= 1
    assert {parent_id(r) for r in refusals} <= {c.context.span_id for c in chunks}
    assert parent_id(refusals[0]) == chunks[0].context.span_id
    assert {attrs_of(r)[ERROR_TYPE] for r in refusals} == {"resilience.CircuitOpenError"}
    assert attrs_of(batch)["resilience.batch.items.not_delivered"] == 3
    assert otel.named("POST /api/resources") == []
