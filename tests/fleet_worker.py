"""A fleet worker process for the fleet tests and benchmarks: calls the API in a loop with fleet mode on."""

from __future__ import annotations

import time
from typing import Any

from finops_api_client import FinOpsClient

from resilience import APIError, CircuitBreakerConfig, CircuitState, FleetSettings, RedisSharedState


def run_worker(
    base_url: str,
    redis_url: str,
    namespace: str,
    breaker: dict[str, Any],
    stop: Any,
    recovered: Any,
    index: int,
    results: Any,
    sync_interval: float = 0.05,
    timeout: float = 1.0,
) -> None:
    """Call ``get_health`` every 10 ms until ``stop`` is set; set ``recovered[index]`` once a call
    succeeded with the breaker CLOSED; put this worker's counts on ``results`` at the end. Redis's
    timeout is generous here (not the 50 ms default): on a busy test machine a slow exchange would
    make the worker fall back to its local breaker, which is the fault test's subject, not this one's."""
    settings = FleetSettings(sync_interval=sync_interval, namespace=namespace, timeout=timeout)
    client = FinOpsClient(
        base_url=base_url,
        max_retries=0,
        retry_budget=False,
        circuit_breaker_config=CircuitBreakerConfig(**breaker),
        shared_state=RedisSharedState(redis_url, settings),
    )
    counts = {"ok": 0, "failed": 0, "refused": 0}
    try:
        while not stop.is_set():
            try:
                client.get_health()
                counts["ok"] += 1
                control = client.circuit_breaker
                if control is not None and control.state is CircuitState.CLOSED:
                    recovered[index] = 1
            except APIError as exc:
                counts["refused" if type(exc).__name__ == "CircuitOpenError" else "failed"] += 1
            time.sleep(0.01)
        control = client.circuit_breaker
        state = control.state.value if control is not None else "none"
        stats = client.fleet_stats()
        results.put({"index": index, "state": state, **counts, "fallbacks": stats.fallbacks if stats else -1})
    finally:
        client.close()
