"""Breaker scope through the client: per origin (default) and per operation."""

from __future__ import annotations

import httpx
import pytest
from finops_api_client import FinOpsClient

from resilience import CircuitBreakerConfig, CircuitOpenError, CircuitState

PAGE = {"success": True, "data": [], "nextCursor": None, "timestamp": "2026-11-29T10:00:00Z"}
HEALTH = {"status": "ok", "timestamp": "2026-11-29T10:00:00Z"}
DOWN = {"success": False, "error": {"code": "down", "message": "down"}}


def transport(calls: list[str], failing: set[str]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        calls.append(path)
        if path in failing:
            return httpx.Response(503, json=DOWN)
        return httpx.Response(200, json=HEALTH if path == "/api/health" else PAGE)

    return httpx.MockTransport(handler)


def client(calls: list[str], failing: set[str], scope: str) -> FinOpsClient:
    config = CircuitBreakerConfig(failure_threshold=2, recovery_timeout=60.0, scope=scope)  # type: ignore[arg-type]
    return FinOpsClient(
        "http://127.0.0.1:1",
        api_key="k",
        max_retries=0,
        circuit_breaker_config=config,
        transport=transport(calls, failing),
    )


def fail_twice(c: FinOpsClient) -> None:
    for _ in range(2):
        with pytest.raises(Exception, match="503"):
            c.get_anomalies()


def test_per_operation_scope_isolates_operations() -> None:
    calls: list[str] = []
    with client(calls, {"/api/anomalies"}, "operation") as c:
        fail_twice(c)
        with pytest.raises(CircuitOpenError) as info:
            c.get_anomalies()
        assert info.value.operation == "get_anomalies"
        assert c.get_resources().success  # another operation's breaker is closed
        cb = c.circuit_breaker
        assert cb is not None
        assert cb.state == CircuitState.OPEN  # the most open of them
        snap = cb.snapshot()
        assert snap["state"] == "open"
        assert len(snap["breakers"]) == 2  # type: ignore[arg-type]
    assert calls.count("/api/anomalies") == 2


def test_per_origin_scope_opens_for_every_operation() -> None:
    calls: list[str] = []
    with client(calls, {"/api/anomalies"}, "origin") as c:
        fail_twice(c)
        with pytest.raises(CircuitOpenError):
            c.get_resources()
    assert "/api/resources" not in calls


def test_force_open_per_operation_covers_operations_not_called_yet() -> None:
    calls: list[str] = []
    with client(calls, set(), "operation") as c:
        c.get_resources()
        cb = c.circuit_breaker
        assert cb is not None
        cb.force_open()
        assert cb.state == CircuitState.FORCED_OPEN
        for call in (c.get_resources, c.get_budget_forecasts, c.get_health):
            with pytest.raises(CircuitOpenError) as info:
                call()
            assert info.value.retry_in is None
        cb.reset()
        assert cb.state == CircuitState.CLOSED  # type: ignore[comparison-overlap]  # reset() changed it
        assert c.get_budget_forecasts().success
    assert calls == ["/api/resources", "/api/budgets/forecasts"]
