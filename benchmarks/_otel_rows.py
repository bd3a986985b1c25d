"""The cost of OpenTelemetryHook: client CPU per call with the hook (and an in-memory metric reader) vs without.

In-process transport (no server, no socket), so the row measures the client alone: the
same get_health with every layer on, without a hook, with the hook reporting metrics to an
SDK MeterProvider read by an InMemoryMetricReader (spans to the API's default no-op tracer
provider), and, informational, with spans also recorded by an SDK TracerProvider
(SimpleSpanProcessor into an InMemorySpanExporter).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
from finops_api_client import FinOpsClient
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from resilience import CircuitBreakerConfig, MetricsHook, OpenTelemetryHook
from resilience._otel_metrics import Instruments

from ._clients import API_KEY
from ._measure import Check, RowResult, RunFn, Variant, run_rounds

if TYPE_CHECKING:
    from ._rows import Counts
    from ._server import Server

__all__ = ["row_otel"]

BODY = json.dumps({"status": "ok", "timestamp": "2026-11-29T10:00:00Z"}).encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
NONE, METRICS, SPANS = "no hook", "OpenTelemetryHook + InMemoryMetricReader", "... + spans recorded in memory"
OWN = "... its histogram records discarded"
FLOOR = "the SDK's two Histogram.record calls alone"


def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers=HEADERS, content=BODY)


def _client(hooks: list[MetricsHook]) -> FinOpsClient:
    return FinOpsClient(
        "http://bench.invalid",
        api_key=API_KEY,
        max_retries=3,
        circuit_breaker_config=CircuitBreakerConfig(),
        transport=httpx.MockTransport(_answer),
        metrics_hooks=hooks,
    )


def _loop(call: Callable[[], object], before: Callable[[], None] = lambda: None) -> RunFn:
    def run(n: int) -> float:
        before()
        t0 = time.perf_counter()
        for _ in range(n):
            call()
        return time.perf_counter() - t0

    return run


def row_otel(server: Server, c: Counts) -> list[RowResult]:
    t_start = time.perf_counter()
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    exporter = InMemorySpanExporter()
    tracers = TracerProvider()
    tracers.add_span_processor(SimpleSpanProcessor(exporter))
    plain = _client([])
    span_meters = MeterProvider(metric_readers=[InMemoryMetricReader()])
    with_spans = _client([OpenTelemetryHook(tracer_provider=tracers, meter_provider=span_meters)])
    own_hook = OpenTelemetryHook(meter_provider=span_meters)
    own_hook.instruments.attempt_duration = own_hook.instruments.call_duration = _Discard()  # type: ignore[assignment]
    own = _client([own_hook])
    metrics_hook = OpenTelemetryHook(meter_provider=meters)
    with_metrics = _client([metrics_hook])
    floor_meters = MeterProvider(metric_readers=[InMemoryMetricReader()])
    floor = Instruments(floor_meters)
    try:
        for client in (plain, with_metrics, with_spans, own):
            if client.get_health().status != "ok":
                raise AssertionError("unexpected health answer")
        data = reader.get_metrics_data()
        scopes = [sm for rm in (data.resource_metrics if data else []) for sm in rm.scope_metrics]
        names = {m.name for sm in scopes for m in sm.metrics}
        spans = len(exporter.get_finished_spans())
        if "http.client.request.duration" not in names or spans != 2:
            raise AssertionError(f"the hook recorded nothing: {sorted(names)}, {spans} spans")
        # The attribute sets the hook recorded (its caches): the floor records the same ones.
        attempt_attrs = next(iter(metrics_hook._hops.values())).ended[200]
        call_attrs = next(iter(metrics_hook.instruments._calls.values()))

        def records() -> None:
            floor.attempt_duration.record(0.001, attempt_attrs)
            floor.call_duration.record(0.001, call_attrs)

        variants = [
            Variant(name, run, c.sync_n, warmup=c.sync_warmup, seconds=c.slice_seconds, slices=c.slices)
            for name, run in (
                (NONE, _loop(plain.get_health)),
                (METRICS, _loop(with_metrics.get_health)),
                (SPANS, _loop(with_spans.get_health, exporter.clear)),
                (OWN, _loop(own.get_health)),
                (FLOOR, _loop(records)),
            )
        ]
        sums = run_rounds(variants, c.rounds)
    finally:
        for client in (plain, with_metrics, with_spans, own):
            client.close()
        meters.shutdown()
        span_meters.shutdown()
        floor_meters.shutdown()
        tracers.shutdown()
    row = RowResult(
        "otel hook",
        "get_health on an in-process transport: client CPU per call with OpenTelemetryHook vs without",
        sums,
        seconds=time.perf_counter() - t_start,
    )
    base = row.summary(NONE).cpu_us or 0.0
    extra = (row.summary(METRICS).cpu_us or 0.0) - base
    recorded = (row.summary(SPANS).cpu_us or 0.0) - base
    own_share = (row.summary(OWN).cpu_us or 0.0) - base
    sdk_floor = row.summary(FLOOR).cpu_us or 0.0
    row.checks.append(
        Check(
            "extra client CPU per call with the hook",
            extra,
            15.0,
            "<= 15 us",
            higher_is_better=False,
            unit="us",
            detail=f"{base:.1f} us without, {base + extra:.1f} us with (median CPU per call)",
        )
    )
    row.notes.append(
        f"with spans recorded too (SDK TracerProvider, in memory): +{recorded:.1f} us per call (informational)"
    )
    row.notes.append(
        f"the hook's own share, its two histogram records per call (http.client.request.duration, "
        f"resilience.client.call.duration) discarded: +{own_share:.1f} us; the rest is the SDK's Histogram.record"
    )
    row.notes.append(
        f"the SDK's own floor: those two Histogram.record calls with the same attributes, alone in a loop "
        f"(no client): {sdk_floor:.1f} us; inside a call they cost +{extra - own_share:.1f} us"
    )
    return [row]


class _Discard:
    """Stands in for an SDK histogram: what the hook costs without the SDK's record calls."""

    def record(self, amount: float, attributes: object = None) -> None:
        """Discard the measurement."""
