"""Load: 16 threads and 256 asyncio tasks sharing one client for a bounded run (issue 5).

No deadlock (every worker finishes within the join timeout), no exception outside the typed
hierarchy, metric totals exactly equal to the requests made, and each breaker's transitions
form one consistent chain. A seeded fault plan makes about 15% of answers 503 so the breaker
really opens and recovers under load.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from finops_api_client import AsyncFinOpsClient, FinOpsClient

from reference_backend import FaultPlan, ReferenceBackend
from resilience import (
    APIError,
    BreakerTransition,
    CircuitBreakerConfig,
    CircuitState,
    RetryPolicy,
)

API_KEY = "load-key"
THREADS, PER_THREAD = 16, 60
TASKS, PER_TASK = 256, 4


class Recorder:
    def __init__(self) -> None:
        self.events: list[BreakerTransition] = []
        self._lock = threading.Lock()

    def on_request_start(self, event: object) -> None:
        pass

    def on_request_end(self, event: object) -> None:
        pass

    def on_retry(self, event: object) -> None:
        pass

    def on_breaker_transition(self, event: object) -> None:
        assert isinstance(event, BreakerTransition)
        with self._lock:
            self.events.append(event)

    def assert_consistent(self) -> None:
        state = CircuitState.CLOSED
        for e in self.events:
            assert e.old_state == state, [(x.old_state, x.new_state) for x in self.events]
            state = e.new_state


@pytest.fixture
def backend() -> Iterator[ReferenceBackend]:
    plan = FaultPlan(seed=5, rate=0.06, kinds=["503_burst"], burst_length=3)  # ~15% of answers, in runs of 3
    with ReferenceBackend(api_key=API_KEY, require_auth=True, fault_plan=plan) as b:
        b.add_items("resources", [{"resourceId": f"r-{i}", "resourceType": "ec2", "region": "eu"} for i in range(5)])
        yield b


class TickClock:
    """A monotonic clock that moves 1 ms each time anyone reads it: the breaker's recovery
    timeout elapses after enough activity, without the test waiting on real time."""

    def __init__(self) -> None:
        self._t = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self._t += 0.001
            return self._t


def options(recorder: Recorder) -> dict[str, object]:
    return {
        "api_key": API_KEY,
        "timeout": 10.0,
        "retry_policy": RetryPolicy(max_retries=1, backoff_base=0.001, backoff_max=0.002),
        "circuit_breaker_config": CircuitBreakerConfig(failure_threshold=3, recovery_timeout=0.05, success_threshold=1),
        "metrics_hooks": [recorder],
        "clock": TickClock(),
    }


def test_threads_share_one_client(backend: ReferenceBackend) -> None:
    recorder = Recorder()
    outcomes: Counter[str] = Counter()
    foreign: list[BaseException] = []
    lock = threading.Lock()

    with FinOpsClient(backend.url, sleep=lambda s: None, **options(recorder)) as client:  # type: ignore[arg-type]

        def work() -> None:
            for _ in range(PER_THREAD):
                try:
                    client.get_resources(limit=2)
                    kind = "ok"
                except APIError as exc:
                    kind = type(exc).__name__
                except BaseException as exc:  # anything else is a bug
                    with lock:
                        foreign.append(exc)
                    continue
                with lock:
                    outcomes[kind] += 1

        threads = [threading.Thread(target=work) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "deadlock: a worker never finished"
        snap = client.get_metrics_snapshot()
    assert not foreign, foreign
    made = THREADS * PER_THREAD
    assert sum(outcomes.values()) == made
    assert snap is not None
    g = snap.global_metrics
    assert g.requests == made
    assert g.completed == made
    assert g.in_flight == 0
    assert g.successes == outcomes["ok"]
    assert g.failures.get("circuit_open", 0) == outcomes["CircuitOpenError"]
    recorder.assert_consistent()
    assert outcomes["ok"] > 0
    assert any(e.new_state == CircuitState.OPEN for e in recorder.events), "the breaker never opened"
    print(
        f"\nload/threads: {made} calls, outcomes {dict(outcomes)}, retries {g.retries}, "
        f"breaker transitions {len(recorder.events)}"
    )


async def test_tasks_share_one_client(backend: ReferenceBackend) -> None:
    recorder = Recorder()
    outcomes: Counter[str] = Counter()

    async def nosleep(_: float) -> None:
        await asyncio.sleep(0)

    async with AsyncFinOpsClient(backend.url, asleep=nosleep, **options(recorder)) as client:  # type: ignore[arg-type]

        async def work() -> None:
            for _ in range(PER_TASK):
                try:
                    await client.get_resources(limit=2)
                    outcomes["ok"] += 1
                except APIError as exc:
                    outcomes[type(exc).__name__] += 1

        results = await asyncio.wait_for(
            asyncio.gather(*(work() for _ in range(TASKS)), return_exceptions=True), timeout=120
        )
        snap = client.get_metrics_snapshot()
    foreign = [r for r in results if isinstance(r, BaseException)]
    assert not foreign, foreign[:3]
    made = TASKS * PER_TASK
    assert sum(outcomes.values()) == made
    assert snap is not None
    g = snap.global_metrics
    assert (g.requests, g.completed, g.in_flight) == (made, made, 0)
    assert g.successes == outcomes["ok"]
    assert g.failures.get("circuit_open", 0) == outcomes["CircuitOpenError"]
    recorder.assert_consistent()
    assert outcomes["ok"] > 0
    print(
        f"\nload/tasks: {made} calls, outcomes {dict(outcomes)}, retries {g.retries}, "
        f"breaker transitions {len(recorder.events)}"
    )
