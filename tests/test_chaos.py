"""Chaos: 20,000 resources in batches while about 30% of requests fault (issue 5).

The fault plan is seeded; time is fake (sleeps advance a fake clock at once) except the
server's own ``slow`` answers, which the client's short timeout cuts. Afterwards every item
is stored exactly once or was reported to the caller: accepted items are stored, items
reported not delivered are not stored, and items of unknown outcome are settled by resuming
with the same Idempotency-Keys. Nothing is lost silently and nothing is stored twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from finops_api_client import AsyncFinOpsClient, FinOpsClient

from reference_backend import FAULT_KINDS, FaultPlan, ReferenceBackend
from resilience import BatchResult, BreakerTransition, CircuitBreakerConfig, CircuitState, RetryBudget, RetryPolicy
from tests.support import FakeTime, resource_id, resources

API_KEY = "chaos-key"
N_ITEMS = 20_000


@pytest.fixture
def backend() -> Iterator[ReferenceBackend]:
    plan = FaultPlan(seed=20261129, rate=0.3, kinds=list(FAULT_KINDS), methods=["POST"], slow_seconds=0.6)
    with ReferenceBackend(api_key=API_KEY, require_auth=True, fault_plan=plan) as b:
        yield b


class Transitions:
    """A metrics hook recording breaker transitions."""

    def __init__(self) -> None:
        self.events: list[BreakerTransition] = []

    def on_request_start(self, event: object) -> None:
        pass

    def on_request_end(self, event: object) -> None:
        pass

    def on_retry(self, event: object) -> None:
        pass

    def on_breaker_transition(self, event: object) -> None:
        assert isinstance(event, BreakerTransition)
        self.events.append(event)

    def check(self, home: str) -> int:
        """Each breaker's chain is consistent; the backend's own ends closed (the last calls
        succeeded). A redirect target's breaker (another origin) may stay open.
        Returns how often the home breaker opened."""
        states: dict[str, CircuitState] = {}
        for e in self.events:
            assert e.old_state == states.get(e.breaker, CircuitState.CLOSED), self.events
            states[e.breaker] = e.new_state
        assert states.get(home, CircuitState.CLOSED) == CircuitState.CLOSED
        return sum(1 for e in self.events if e.breaker == home and e.new_state == CircuitState.OPEN)


def client_kwargs(ft: FakeTime, hook: Transitions) -> dict[str, Any]:
    return {
        "metrics_hooks": [hook],
        "api_key": API_KEY,
        "timeout": 0.3,
        "retry_policy": RetryPolicy(max_retries=4, backoff_base=0.2, backoff_max=2.0, max_retry_after=5.0),
        "retry_budget": RetryBudget(clock=ft.clock),
        "circuit_breaker_config": CircuitBreakerConfig(failure_threshold=4, recovery_timeout=3.0, success_threshold=1),
        "clock": ft.clock,
    }


def check_first_pass(result: BatchResult, backend: ReferenceBackend) -> dict[str, int]:
    """The invariant that matters: what the SDK reported is true of the server."""
    stored = set(backend.stored_ids("resources"))
    groups: list[set[int]] = [
        set(result.accepted),
        {r.index for r in result.rejected},
        set(result.not_delivered_indexes()),
        set(result.outcome_unknown_indexes()),
    ]
    assert sum(len(g) for g in groups) == N_ITEMS, "every item in exactly one group"
    assert set().union(*groups) == set(range(N_ITEMS))
    accepted, rejected, not_delivered, unknown = groups
    assert not rejected  # all items are valid for the backend
    assert all(resource_id(i) in stored for i in accepted), "an item reported accepted is not stored"
    wrong = [f for f in result.not_delivered if any(resource_id(i) in stored for i in f.indexes)]
    assert not wrong, f"items reported not delivered were stored: {wrong!r}"
    return {"accepted": len(accepted), "not_delivered": len(not_delivered), "outcome_unknown": len(unknown)}


def check_end(result: BatchResult, backend: ReferenceBackend, passes: int, figures: dict[str, int]) -> None:
    stats = backend.stats()
    assert result.ok, result.summary()
    assert sorted(backend.stored_ids("resources")) == sorted(resource_id(i) for i in range(N_ITEMS))
    assert stats.items_stored == N_ITEMS
    assert stats.item_writes == N_ITEMS, "an item was written twice"
    assert stats.duplicate_items_without_key == 0
    faults = dict(stats.faults_injected)
    assert sum(faults.values()) >= 0.2 * stats.decisions, faults  # the plan really faulted ~30%
    print(
        f"\nchaos: {stats.requests_total} requests, faults {faults}, first pass {figures}, "
        f"passes {passes}, items delivered {stats.items_stored}, duplicate deliveries deduped "
        f"{stats.duplicate_deliveries_deduped}, stored twice {stats.item_writes - stats.items_stored}"
    )


def test_chaos_sync_nothing_lost_nothing_twice(backend: ReferenceBackend) -> None:
    ft = FakeTime()
    items = resources(N_ITEMS)
    hook = Transitions()
    with FinOpsClient(backend.url, sleep=ft.sleep, **client_kwargs(ft, hook)) as client:
        result = client.post_resources(items, chunk_size=100, wait_for_recovery=30.0)
        figures = check_first_pass(result, backend)
        passes = 1
        while not result.ok and passes < 12:
            result = client.post_resources(items, resume=result, wait_for_recovery=30.0)
            check_first_pass(result, backend)
            passes += 1
        snap = client.get_metrics_snapshot()
        assert snap is not None
        budget_total = snap.global_metrics.requests
        assert snap.global_metrics.retries <= 0.2 * budget_total + 10 * 10 + 1, "retries beyond the budget"
        figures["retries"] = snap.global_metrics.retries
    figures["breaker_opened"] = hook.check(backend.url)
    assert figures["breaker_opened"] >= 1, "the fault mix should have opened the breaker"
    check_end(result, backend, passes, figures)


async def test_chaos_async_nothing_lost_nothing_twice(backend: ReferenceBackend) -> None:
    ft = FakeTime()
    items = resources(N_ITEMS)
    hook = Transitions()
    async with AsyncFinOpsClient(backend.url, asleep=ft.asleep, **client_kwargs(ft, hook)) as client:
        result = await client.post_resources(items, chunk_size=100, wait_for_recovery=30.0)
        figures = check_first_pass(result, backend)
        passes = 1
        while not result.ok and passes < 12:
            result = await client.post_resources(items, resume=result, wait_for_recovery=30.0)
            check_first_pass(result, backend)
            passes += 1
        snap = client.get_metrics_snapshot()
        assert snap is not None
        assert snap.global_metrics.retries <= 0.2 * snap.global_metrics.requests + 10 * 10 + 1, (
            "retries beyond the budget"
        )
        figures["retries"] = snap.global_metrics.retries
    figures["breaker_opened"] = hook.check(backend.url)
    assert figures["breaker_opened"] >= 1, "the fault mix should have opened the breaker"
    check_end(result, backend, passes, figures)
