"""OpenTelemetryHook's metrics through real clients, read with the SDK's in-memory reader:
``http.client.request.duration`` exactly per the stable conventions, and the
``resilience.client.*`` instruments (call duration, retries, breaker state and transitions,
retry budget, batch items, the outbox and fleet gauges' providers)."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from opentelemetry.semconv._incubating.attributes.url_attributes import URL_TEMPLATE
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.semconv.metrics.http_metrics import HTTP_CLIENT_REQUEST_DURATION
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from resilience import CircuitBreakerConfig, CircuitOpenError, ConfigurationError, RetryBudget
from tests.support import Driver, FakeTime, resources
from tests.test_otel import API_KEY, HEALTH, Telemetry, answers, ingest

#: The stable conventions' advisory boundaries for http.client.request.duration.
SEMCONV_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]


@pytest.fixture
def otel() -> Any:
    t = Telemetry()
    yield t
    t.tracer_provider.shutdown()
    t.meter_provider.shutdown()


def points(metric: Any) -> list[Any]:
    return list(metric.data.data_points)


def by_attrs(metric: Any) -> dict[frozenset[tuple[str, Any]], Any]:
    return {frozenset((p.attributes or {}).items()): p for p in points(metric)}


async def test_http_client_request_duration_per_attempt_as_the_conventions_define_it(
    driver: Driver, httpserver: HTTPServer, otel: Telemetry
) -> None:
    answers(httpserver, "/api/health", [503, 200], HEALTH, [])
    driver.open(httpserver.url_for(""), api_key=API_KEY, metrics_hooks=[otel.hook], max_retries=2)
    await driver.call("get_health")

    metric = otel.metrics()[HTTP_CLIENT_REQUEST_DURATION]
    assert metric.unit == "s"
    assert [list(p.explicit_bounds) for p in points(metric)] == [SEMCONV_BUCKETS, SEMCONV_BUCKETS]
    common = {
        HTTP_REQUEST_METHOD: "GET",
        SERVER_ADDRESS: httpserver.host,
        SERVER_PORT: httpserver.port,
        URL_TEMPLATE: "/api/health",
    }
    want = [
        {**common, HTTP_RESPONSE_STATUS_CODE: 503, ERROR_TYPE: "503"},
        {**common, HTTP_RESPONSE_STATUS_CODE: 200},
    ]
    got = by_attrs(metric)
    assert set(got) == {frozenset(w.items()) for w in want}
    assert all(p.count == 1 for p in got.values())

    call = otel.metrics()["resilience.client.call.duration"]
    assert call.unit == "s"
    [p] = points(call)
    assert p.count == 1
    assert dict(p.attributes) == {
        "resilience.operation": "get_health",
        "resilience.outcome": "success",
        HTTP_RESPONSE_STATUS_CODE: 200,
    }
    retries = otel.metrics()["resilience.client.retries"]
    assert retries.unit == "{retry}"
    [r] = points(retries)
    assert r.value == 1
    assert dict(r.attributes) == {"resilience.operation": "get_health", "resilience.retry.reason": "HTTP 503"}


async def test_an_attempt_that_fails_in_transport_has_its_exception_as_error_type(
    driver: Driver, otel: Telemetry
) -> None:
    from tests.support import unused_port

    port = unused_port()  # nothing listens: connection refused
    driver.open(f"http://127.0.0.1:{port}", api_key=API_KEY, metrics_hooks=[otel.hook], max_retries=0)
    with pytest.raises(Exception, match="onnect"):
        await driver.call("get_health")
    [p] = points(otel.metrics()[HTTP_CLIENT_REQUEST_DURATION])
    assert HTTP_RESPONSE_STATUS_CODE not in p.attributes
    assert p.attributes[ERROR_TYPE] in {"httpx.ConnectError", "aiohttp.ClientConnectorError"}
    [call] = otel.named("get_health")
    assert call.attributes is not None
    assert call.attributes[ERROR_TYPE] == p.attributes[ERROR_TYPE]


async def test_breaker_state_gauge_and_transitions(driver: Driver, httpserver: HTTPServer, otel: Telemetry) -> None:
    answers(httpserver, "/api/health", [503], HEALTH, [])
    config = CircuitBreakerConfig(failure_threshold=1, recovery_timeout=60)
    driver.open(
        httpserver.url_for(""), api_key=API_KEY, metrics_hooks=[otel.hook], max_retries=0, circuit_breaker_config=config
    )
    with pytest.raises(Exception, match="503"):
        await driver.call("get_health")
    with pytest.raises(CircuitOpenError):
        await driver.call("get_health")

    breaker = f"http://{httpserver.host}:{httpserver.port}"
    metrics = otel.metrics()
    states = {
        p.attributes["resilience.breaker.state"]: p.value for p in points(metrics["resilience.client.breaker.state"])
    }
    assert states == {"closed": 0, "open": 1, "half_open": 0, "forced_open": 0, "disabled": 0}
    assert {p.attributes["resilience.breaker"] for p in points(metrics["resilience.client.breaker.state"])} == {breaker}
    [t] = points(metrics["resilience.client.breaker.transitions"])
    assert dict(t.attributes) == {"resilience.breaker": breaker, "resilience.breaker.state": "open"}
    assert t.value == 1
    outcomes = {p.attributes["resilience.outcome"]: p.count for p in points(metrics["resilience.client.call.duration"])}
    assert outcomes == {"5xx": 1, "circuit_open": 1}

    driver.client.circuit_breaker.reset()  # type: ignore[union-attr]
    states = {
        p.attributes["resilience.breaker.state"]: p.value
        for p in points(otel.metrics()["resilience.client.breaker.state"])
    }
    assert states["closed"] == 1
    assert states["open"] == 0


async def test_retry_budget_remaining_is_the_budgets_own_balance(
    driver: Driver, httpserver: HTTPServer, otel: Telemetry, ft: FakeTime
) -> None:
    """min_per_second=0.1 over 10 s: one retry allowed, plus 20% of the calls made."""
    answers(httpserver, "/api/health", [503], HEALTH, [])
    budget = RetryBudget(percent=0.2, min_per_second=0.1, window=10, clock=ft.clock)
    driver.open(
        httpserver.url_for(""),
        api_key=API_KEY,
        metrics_hooks=[otel.hook],
        max_retries=3,
        retry_budget=budget,
        enable_circuit_breaker=False,
    )

    def remaining() -> float:
        [p] = points(otel.metrics()["resilience.client.retry_budget.remaining"])
        assert dict(p.attributes) == {SERVER_ADDRESS: httpserver.host, SERVER_PORT: httpserver.port}
        return float(p.value)

    assert remaining() == pytest.approx(1.0)
    with pytest.raises(Exception, match="503"):
        await driver.call("get_health")  # deposits 0.2, spends the one retry, then is refused
    assert remaining() == pytest.approx(budget.balance())
    assert remaining() == pytest.approx(0.2)
    outcomes = {p.attributes["resilience.outcome"] for p in points(otel.metrics()["resilience.client.call.duration"])}
    assert outcomes == {"budget_exhausted"}


async def test_batch_items_by_outcome(driver: Driver, httpserver: HTTPServer, otel: Telemetry) -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        items = json.loads(request.get_data())
        if len(seen) == 1:  # the second chunk: its first item rejected
            seen.append(request)
            rejected = [{"index": 0, "reason": "bad region"}]
            body = {
                "success": True,
                "accepted": len(items) - 1,
                "rejected": rejected,
                "timestamp": "2025-01-15T08:00:00Z",
            }
            return Response(json.dumps(body), 200, content_type="application/json")
        return ingest(seen)(request)  # type: ignore[no-any-return]

    httpserver.expect_request("/api/resources", method="POST").respond_with_handler(handler)
    driver.open(httpserver.url_for(""), api_key=API_KEY, metrics_hooks=[otel.hook], batch_concurrency=1)
    result = await driver.post_resources(resources(5), chunk_size=2)
    assert len(result.rejected) == 1
    items = {
        p.attributes["resilience.batch.outcome"]: p.value
        for p in points(otel.metrics()["resilience.client.batch.items"])
    }
    assert items == {"accepted": 4, "rejected": 1}
    assert otel.metrics()["resilience.client.batch.items"].unit == "{item}"


def test_outbox_and_fleet_gauges_read_the_providers_given(otel: Telemetry) -> None:
    """The place the outbox's and the fleet's figures join in: nothing is reported until a
    provider is given, then what it returns."""
    names = (
        "resilience.client.outbox.depth",
        "resilience.client.outbox.size",
        "resilience.client.outbox.oldest_age",
        "resilience.client.outbox.dead_letters",
    )
    before = otel.metrics()
    assert [n for n in names if n in before and points(before[n])] == []
    otel.hook.provide("outbox", lambda: {"depth": 3, "bytes": 2048, "oldest_age_seconds": 12.5, "dead_letters": 1})
    otel.hook.provide("fleet", lambda: {"fallbacks": 2})
    metrics = otel.metrics()
    assert [p.value for n in names for p in points(metrics[n])] == [3, 2048, 12.5, 1]
    assert [dict(p.attributes or {}) for n in names for p in points(metrics[n])] == [{}] * 4
    assert [metrics[n].unit for n in names] == ["{message}", "By", "s", "{message}"]
    assert [p.value for p in points(metrics["resilience.client.fleet.fallbacks"])] == [2]
    with pytest.raises(ConfigurationError, match="outbox"):
        otel.hook.provide("queue", lambda: None)


class Broken:
    """A tracing hook whose every method raises."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):

            def fail(*args: Any) -> Any:
                raise RuntimeError(f"{name} broke")

            return fail
        raise AttributeError(name)


async def test_a_failing_tracing_hook_is_logged_and_the_others_still_get_every_event(
    driver: Driver, httpserver: HTTPServer, otel: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    answers(httpserver, "/api/health", [503, 200], HEALTH, [])
    driver.open(httpserver.url_for(""), api_key=API_KEY, metrics_hooks=[Broken(), otel.hook], max_retries=1)
    with caplog.at_level(logging.ERROR, logger="resilience.metrics"):
        await driver.call("get_health")
    assert [s.name for s in otel.spans()].count("GET /api/health") == 2
    assert any("on_attempt_start" in r.getMessage() for r in caplog.records)


def test_without_a_tracing_hook_the_stack_has_no_tracing_layer() -> None:
    from finops_api_client import FinOpsClient

    from resilience import PrometheusHook, TracingTransport
    from tests.support import layers

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=HEALTH)

    import prometheus_client as prom

    plain = FinOpsClient(
        "http://127.0.0.1:1",
        transport=httpx.MockTransport(handler),
        metrics_hooks=[PrometheusHook(prom.CollectorRegistry())],
    )
    with plain:
        assert not [t for t in layers(plain) if isinstance(t, TracingTransport)]
        assert plain.metrics is not None
        assert plain.metrics.tracers is None


async def test_following_the_global_providers_while_none_is_set_means_metrics_only(
    driver: Driver, httpserver: HTTPServer
) -> None:
    """OpenTelemetryHook() with no tracer provider and no global one set: no span is started,
    no trace context sent (there is none), the metrics still reach the meter provider given."""
    from opentelemetry import trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from resilience import OpenTelemetryHook

    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # no test sets the global one
    seen: list[Request] = []
    answers(httpserver, "/api/health", [503, 200], HEALTH, seen)
    reader = InMemoryMetricReader()
    hook = OpenTelemetryHook(meter_provider=MeterProvider(metric_readers=[reader]))
    driver.open(httpserver.url_for(""), api_key=API_KEY, metrics_hooks=[hook], max_retries=1)
    await driver.call("get_health")
    assert [r.headers.get("traceparent") for r in seen] == [None, None]
    data = reader.get_metrics_data()
    assert data is not None
    durations = [
        p
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == HTTP_CLIENT_REQUEST_DURATION
        for p in m.data.data_points
    ]
    attrs = [dict(p.attributes or {}) for p in durations]
    assert sorted(str(a[HTTP_RESPONSE_STATUS_CODE]) for a in attrs) == ["200", "503"]
    assert all(a[URL_TEMPLATE] == "/api/health" for a in attrs)
