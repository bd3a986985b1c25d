"""The Prometheus exporter hook, through a real client."""

from __future__ import annotations

import httpx
import prometheus_client as prom
import pytest
from finops_api_client import FinOpsClient

from resilience import CircuitBreakerConfig, CircuitOpenError, PrometheusHook

HEALTH = {"status": "ok", "timestamp": "2026-11-29T10:00:00Z"}


def test_exports_requests_latency_retries_and_transitions() -> None:
    answers = iter([503, 200, 503, 503])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(status, json=HEALTH if status == 200 else {"success": False})

    registry = prom.CollectorRegistry()
    hook = PrometheusHook(registry, namespace="t")
    config = CircuitBreakerConfig(failure_threshold=2, recovery_timeout=60)
    client = FinOpsClient(
        "http://127.0.0.1:1",
        api_key="SECRET-KEY-XYZ",
        max_retries=1,
        sleep=lambda s: None,
        transport=httpx.MockTransport(handler),
        metrics_hooks=[hook],
        circuit_breaker_config=config,
    )
    with client:
        client.get_health()  # 503 then 200: one retry
        with pytest.raises(Exception, match="503"):
            client.get_health()  # 503, retry 503: the breaker opens
        with pytest.raises(CircuitOpenError):
            client.get_health()

    def value(name: str, **labels: str) -> float:
        v = registry.get_sample_value(name, labels)
        return 0.0 if v is None else v

    assert value("t_requests_total", operation="get_health", method="GET", outcome="success") == 1
    assert value("t_requests_total", operation="get_health", method="GET", outcome="5xx") == 1
    assert value("t_requests_total", operation="get_health", method="GET", outcome="circuit_open") == 1
    assert value("t_retries_total", operation="get_health", reason="HTTP 503") == 2
    assert value("t_request_duration_seconds_count", operation="get_health") == 3
    assert value("t_requests_in_flight", operation="get_health") == 0
    assert value("t_breaker_transitions_total", breaker="http://127.0.0.1:1", to="open") == 1
    exposition = prom.generate_latest(registry).decode()
    assert "SECRET-KEY-XYZ" not in exposition
    assert "/api/health" not in exposition  # labels are operation ids, never URLs
