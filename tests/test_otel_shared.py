"""One OpenTelemetryHook shared by threads, and by coroutines, whose calls end differently
(200, 404, 503, a connection error), all starting at once while its attribute caches are still
empty: every duration point holds its own call's status or error and the counts are exact."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from typing import Any

import httpx
from finops_api_client import AsyncFinOpsClient, FinOpsClient
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader

from resilience import APIError, CircuitBreakerConfig, OpenTelemetryHook

ENDINGS = ("200", "404", "503", "connect")
CALLS = 25  # per thread
THREADS_PER_ENDING = 2
HEALTH = {"status": "ok", "timestamp": "2026-11-29T10:00:00Z"}


def _answer(ending: str) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        if ending == "connect":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(int(ending), json=HEALTH if ending == "200" else {"error": "no"})

    return httpx.MockTransport(answer)


def _settings(ending: str, hook: OpenTelemetryHook) -> dict[str, Any]:
    return {
        "api_key": "k" * 32,
        "max_retries": 0,
        "transport": _answer(ending),
        "metrics_hooks": [hook],
        "circuit_breaker_config": CircuitBreakerConfig(failure_threshold=10_000),  # every call is sent
    }


def _expected(n: int) -> tuple[dict[tuple[Any, Any], int], dict[Any, int]]:
    attempts = {(200, None): n, (404, "404"): n, (503, "503"): n, (None, "httpx.ConnectError"): n}
    return attempts, {200: n, 404: n, 503: n, None: n}


def _check(reader: InMemoryMetricReader, n: int) -> None:
    attempts, calls = _expected(n)
    assert _points(reader, "http.client.request.duration") == attempts
    got = _points(reader, "resilience.client.call.duration")
    assert {status: count for (status, _), count in got.items()} == calls


def _points(reader: InMemoryMetricReader, name: str) -> Counter[tuple[Any, Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    got: Counter[tuple[Any, Any]] = Counter()
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    for p in metric.data.data_points:
                        assert isinstance(p, HistogramDataPoint)
                        attrs = dict(p.attributes or {})
                        got[(attrs.get("http.response.status_code"), attrs.get("error.type"))] += p.count
    return got


def test_threads_sharing_a_hook_each_get_their_own_status_and_error_in_the_metrics() -> None:
    reader = InMemoryMetricReader()
    hook = OpenTelemetryHook(meter_provider=MeterProvider(metric_readers=[reader]))
    start = threading.Barrier(len(ENDINGS) * THREADS_PER_ENDING)
    failures: list[BaseException] = []

    def run(ending: str) -> None:
        with FinOpsClient("http://127.0.0.1:1", **_settings(ending, hook)) as client:
            start.wait()
            for _ in range(CALLS):
                try:
                    client.get_health()
                except APIError:
                    pass
                except BaseException as exc:  # pragma: no cover - reported below
                    failures.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in ENDINGS for _ in range(THREADS_PER_ENDING)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    _check(reader, CALLS * THREADS_PER_ENDING)


def test_coroutines_sharing_a_hook_each_get_their_own_status_and_error_in_the_metrics() -> None:
    reader = InMemoryMetricReader()
    hook = OpenTelemetryHook(meter_provider=MeterProvider(metric_readers=[reader]))

    async def run(ending: str) -> None:
        async with AsyncFinOpsClient("http://127.0.0.1:1", **_settings(ending, hook)) as client:
            for _ in range(CALLS):
                with contextlib.suppress(APIError):
                    await client.get_health()

    async def main() -> None:
        await asyncio.gather(*(run(e) for e in ENDINGS for _ in range(THREADS_PER_ENDING)))

    asyncio.run(main())
    _check(reader, CALLS * THREADS_PER_ENDING)
