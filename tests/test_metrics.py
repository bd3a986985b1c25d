"""Metrics: exact totals under threads and tasks, percentiles, reset, bounded keys, hooks,
periodic logging with a fake clock, and the dict the facade exposes. Nothing sleeps."""

from __future__ import annotations

import asyncio
import bisect
import collections
import logging
import sys
import threading
from typing import Any

import httpx
import pytest
from finops_api_client import FinOpsClient

from resilience import (
    DEFAULT_BUCKETS,
    EXT_OPERATION,
    OUTCOME_KINDS,
    ConfigurationError,
    MetricsHook,
    MetricsRecorder,
    NotFoundError,
    Operation,
    RequestEnd,
    RequestStart,
    ResilienceStack,
    RetryEvent,
    RetryPolicy,
    SwitchableAuth,
    build_transport,
)
from resilience._metrics import MAX_OPERATIONS, OTHER
from tests.support import FakeTime

OK_PAGE = {"success": True, "data": [], "timestamp": "2024-01-01T00:00:00Z"}
AS_DICT_FIELDS = {
    "operation",
    "request_count",
    "success_count",
    "error_count",
    "failures",
    "retries",
    "rejections",
    "in_flight",
    "success_rate",
    "avg_response_time",
    "min_response_time",
    "max_response_time",
    "p50",
    "p95",
    "p99",
}


def bucket_width(value: float, buckets: tuple[float, ...] = DEFAULT_BUCKETS) -> float:
    i = bisect.bisect_left(buckets, value)
    lower = buckets[i - 1] if i > 0 else 0.0
    return buckets[i] - lower


def assert_consistent(m: Any) -> None:
    """The invariants every OperationMetrics keeps."""
    assert m.requests == m.completed + m.in_flight
    assert sum(m.histogram) == m.completed
    assert m.in_flight >= 0


# --------------------------------------------------------------------------- exact totals


def test_threads_totals_are_exact() -> None:
    recorder = MetricsRecorder()
    keys = [("GET /api/a", "get_a"), ("GET /api/b/{id}", "get_b"), ("POST /api/c", "post_c")]
    threads_n, pairs = 16, 2_000
    barrier = threading.Barrier(threads_n)

    def plan(t: int, j: int) -> tuple[str, str | None, str, float, int]:
        key, op = keys[(t + j) % len(keys)]
        outcome = OUTCOME_KINDS[(t * 7 + j) % len(OUTCOME_KINDS)]
        return key, op, outcome, ((j % 50) + 1) / 1000.0, j % 3

    def work(t: int) -> None:
        barrier.wait()
        for j in range(pairs):
            key, op, outcome, duration, retries = plan(t, j)
            method = key.split()[0]
            recorder.start(key, op, method)
            for attempt in range(retries):
                recorder.retry(key, op, attempt + 1, "HTTP 503", 0.0)
            recorder.end(key, op, method, outcome, 200 if outcome == "success" else None, duration, retries)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)

    expected_requests: collections.Counter[str] = collections.Counter()
    expected_outcomes: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    expected_retries: collections.Counter[str] = collections.Counter()
    for t in range(threads_n):
        for j in range(pairs):
            key, _, outcome, _, retries = plan(t, j)
            expected_requests[key] += 1
            expected_outcomes[key][outcome] += 1
            expected_retries[key] += retries

    snap = recorder.snapshot()
    g = snap.global_metrics
    total = threads_n * pairs
    assert g.requests == total
    assert g.completed == total
    assert g.in_flight == 0
    assert g.retries == sum(expected_retries.values())
    assert sum(g.histogram) == total
    all_outcomes = sum(expected_outcomes.values(), collections.Counter())
    assert g.successes == all_outcomes["success"]
    assert dict(g.failures) == {k: v for k, v in all_outcomes.items() if k != "success"}
    assert set(snap.operations) == {k for k, _ in keys}
    for key, op in keys:
        m = snap.operations[key]
        assert m.operation == op
        assert m.requests == expected_requests[key]
        assert m.successes == expected_outcomes[key]["success"]
        assert m.failures == {k: v for k, v in expected_outcomes[key].items() if k != "success"}
        assert m.retries == expected_retries[key]
        assert_consistent(m)
    assert_consistent(g)
    assert g.min_latency == 0.001
    assert g.max_latency == 0.05


def make_stack(recorder: MetricsRecorder, **policy: Any) -> ResilienceStack:
    return ResilienceStack(
        auth=SwitchableAuth(None),
        policy=RetryPolicy(**policy),
        budget=None,
        breakers=None,
        metrics=recorder,
    )


async def test_async_tasks_through_real_stack_count_exactly(ft: FakeTime) -> None:
    recorder = MetricsRecorder()
    peak = 0
    attempts: collections.Counter[int] = collections.Counter()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal peak
        n = int(request.url.path.rsplit("/", 1)[1])
        attempts[n] += 1
        peak = max(peak, recorder.snapshot().global_metrics.in_flight)
        for _ in range(3):
            await asyncio.sleep(0)
        if n % 8 == 0:
            return httpx.Response(404)
        if n % 8 == 1:
            return httpx.Response(503)  # retried until max_retries, then a 5xx outcome
        if n % 8 == 2:
            raise httpx.ConnectError("refused", request=request)
        if n % 8 == 3 and attempts[n] == 1:
            return httpx.Response(502)  # one retry, then success
        return httpx.Response(200, json={"n": n})

    transport = build_transport(
        httpx.MockTransport(handler),
        make_stack(recorder, max_retries=2),
        home_origin="http://127.0.0.1",
        asleep=ft.asleep,
    )
    tasks = 256

    async def one(client: httpx.AsyncClient, n: int) -> int | str:
        try:
            response = await client.get(
                f"/api/items/{n}", extensions={EXT_OPERATION: Operation("get_item", "GET", "/api/items/{id}")}
            )
        except httpx.ConnectError:
            return "connection"
        return response.status_code

    async with httpx.AsyncClient(base_url="http://127.0.0.1", transport=transport) as client:
        results = await asyncio.gather(*(one(client, n) for n in range(tasks)))

    snap = recorder.snapshot()
    g = snap.global_metrics
    assert len(results) == tasks
    assert g.requests == tasks
    assert g.in_flight == 0
    assert peak > 1, "the tasks never overlapped"
    per_kind = tasks // 8
    assert g.failures == {"4xx": per_kind, "5xx": per_kind, "connection": per_kind}
    assert g.successes == tasks - 3 * per_kind
    assert g.retries == 2 * per_kind + 2 * per_kind + per_kind
    assert set(snap.operations) == {"GET /api/items/{id}"}
    op = snap.operations["GET /api/items/{id}"]
    assert op.operation == "get_item"
    assert op.requests == tasks
    assert_consistent(op)
    assert_consistent(g)
    assert sum(attempts.values()) == tasks + g.retries


def test_sync_stack_404_is_a_failure_not_a_success() -> None:
    recorder = MetricsRecorder()
    transport = build_transport(
        httpx.MockTransport(lambda r: httpx.Response(404)), make_stack(recorder), home_origin="http://127.0.0.1"
    )
    with httpx.Client(base_url="http://127.0.0.1", transport=transport) as client:
        client.get("/api/x/1", extensions={EXT_OPERATION: Operation("get_x", "GET", "/api/x/{id}")})
        client.get("/api/x/2")  # no route template: keyed as unrouted, never by raw URL
    snap = recorder.snapshot()
    assert set(snap.operations) == {"GET /api/x/{id}", "GET <unrouted>"}
    g = snap.global_metrics
    assert g.successes == 0
    assert g.failures == {"4xx": 2}
    assert g.success_rate == 0.0
    assert g.as_dict()["success_rate"] == 0.0


def test_client_metrics_count_404_as_4xx_failure() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx.Response(200, json=OK_PAGE)
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "gone"}})

    with FinOpsClient("https://api.example.com", transport=httpx.MockTransport(handler)) as client:
        client.get_resources()
        with pytest.raises(NotFoundError):
            client.get_resources()
        metrics = client.get_performance_metrics()
    assert metrics["enabled"] is True
    g = metrics["global_metrics"]
    assert set(g) == AS_DICT_FIELDS
    assert g["request_count"] == 2
    assert g["success_count"] == 1
    assert g["error_count"] == 1
    assert g["failures"] == {"4xx": 1}
    assert g["success_rate"] == 0.5
    ep = metrics["endpoint_metrics"]
    assert list(ep) == ["GET /api/resources"]
    assert ep["GET /api/resources"]["operation"] == "get_resources"
    assert ep["GET /api/resources"]["failures"] == {"4xx": 1}


# --------------------------------------------------------------------------- percentiles


def record(recorder: MetricsRecorder, latencies: list[float], key: str = "GET /x") -> None:
    for d in latencies:
        recorder.start(key, None, "GET")
        recorder.end(key, None, "GET", "success", 200, d)


@pytest.mark.parametrize("q", [1, 10, 25, 50, 75, 90, 95, 99])
def test_percentiles_uniform_within_one_bucket(q: int) -> None:
    recorder = MetricsRecorder()
    latencies = [i / 1000.0 for i in range(1, 1001)]  # 1 ms .. 1 s
    record(recorder, latencies)
    m = recorder.snapshot().global_metrics
    truth = latencies[int(q / 100 * len(latencies)) - 1]
    estimate = m.percentile(q)
    assert estimate is not None
    assert abs(estimate - truth) <= bucket_width(truth), (q, estimate, truth)


def test_named_percentiles_on_a_skewed_distribution() -> None:
    recorder = MetricsRecorder()
    record(recorder, [0.002] * 90 + [1.5] * 10)
    m = recorder.snapshot().global_metrics
    assert m.p50 is not None
    assert m.p95 is not None
    assert m.p99 is not None
    assert abs(m.p50 - 0.002) <= bucket_width(0.002)
    assert abs(m.p95 - 1.5) <= bucket_width(1.5)
    assert abs(m.p99 - 1.5) <= bucket_width(1.5)
    assert m.p50 <= m.p95 <= m.p99
    d = m.as_dict()
    assert (d["p50"], d["p95"], d["p99"]) == (m.p50, m.p95, m.p99)


def test_percentiles_clamped_to_observed_range() -> None:
    recorder = MetricsRecorder()
    record(recorder, [0.0123] * 20)
    m = recorder.snapshot().global_metrics
    assert m.p50 == pytest.approx(0.0123)
    assert m.p99 == pytest.approx(0.0123)
    assert m.percentile(0) == pytest.approx(0.0123)
    assert m.percentile(100) == pytest.approx(0.0123)


def test_percentiles_with_custom_buckets_and_overflow() -> None:
    buckets = (0.01, 0.02, 0.03, 0.04)
    recorder = MetricsRecorder(buckets=buckets)
    record(recorder, [0.021, 0.025, 0.029, 0.5, 0.7])
    m = recorder.snapshot().global_metrics
    assert len(m.histogram) == len(buckets) + 1
    assert m.histogram == (0, 0, 3, 0, 2)
    assert m.p50 is not None
    assert 0.02 <= m.p50 <= 0.03
    assert m.p99 is not None
    assert 0.04 <= m.p99 <= 0.7
    assert m.max_latency == 0.7


def test_empty_metrics() -> None:
    m = MetricsRecorder().snapshot().global_metrics
    assert m.p50 is None
    assert m.min_latency is None
    assert m.max_latency is None
    assert m.success_rate == 0.0
    assert m.avg_latency == 0.0
    d = m.as_dict()
    assert set(d) == AS_DICT_FIELDS
    assert d["request_count"] == 0
    assert d["p95"] is None


# --------------------------------------------------------------------------- reset


def test_reset_keeps_in_flight() -> None:
    recorder = MetricsRecorder()
    for _ in range(3):
        recorder.start("GET /a", "get_a", "GET")
    recorder.start("GET /b", "get_b", "GET")
    recorder.end("GET /a", "get_a", "GET", "success", 200, 0.01)
    recorder.end("GET /b", "get_b", "GET", "5xx", 500, 0.02)
    recorder.retry("GET /a", "get_a", 1, "HTTP 503", 0.1)

    recorder.reset()
    snap = recorder.snapshot()
    g = snap.global_metrics
    assert g.in_flight == 2
    assert g.completed == 0
    assert g.retries == 0
    assert g.total_latency == 0.0
    assert set(snap.operations) == {"GET /a"}  # keys with nothing in flight are dropped
    assert snap.operations["GET /a"].in_flight == 2
    assert snap.operations["GET /a"].operation == "get_a"
    assert_consistent(g)
    assert_consistent(snap.operations["GET /a"])

    recorder.end("GET /a", "get_a", "GET", "success", 200, 0.03)
    recorder.end("GET /a", "get_a", "GET", "4xx", 404, 0.05)
    snap = recorder.snapshot()
    g = snap.global_metrics
    assert g.in_flight == 0
    assert g.successes == 1
    assert g.failures == {"4xx": 1}
    assert g.success_rate == 0.5
    assert g.min_latency == 0.03
    assert g.max_latency == 0.05
    assert_consistent(g)
    assert_consistent(snap.operations["GET /a"])


def test_reset_through_client() -> None:
    with FinOpsClient(
        "https://api.example.com", transport=httpx.MockTransport(lambda r: httpx.Response(200, json=OK_PAGE))
    ) as client:
        client.get_resources()
        assert client.get_performance_metrics()["global_metrics"]["request_count"] == 1
        client.reset_performance_metrics()
        metrics = client.get_performance_metrics()
    assert metrics["global_metrics"]["request_count"] == 0
    assert metrics["endpoint_metrics"] == {}


# --------------------------------------------------------------------------- bounded keys


def test_distinct_keys_are_capped() -> None:
    recorder = MetricsRecorder()
    n = 10_000
    for i in range(n):
        key = f"GET /raw/url/{i}"
        recorder.start(key, f"op{i}", "GET")
        recorder.end(key, f"op{i}", "GET", "success", 200, 0.001)
    snap = recorder.snapshot()
    assert len(snap.operations) <= MAX_OPERATIONS + 1
    assert MAX_OPERATIONS == 512
    assert OTHER in snap.operations
    assert snap.operations[OTHER].requests == n - MAX_OPERATIONS
    assert snap.operations[OTHER].operation is None
    assert sum(m.requests for m in snap.operations.values()) == n
    assert snap.global_metrics.requests == n
    assert all(m.in_flight == 0 for m in snap.operations.values())


def test_overflow_key_in_flight_across_reset_ends_where_it_started() -> None:
    recorder = MetricsRecorder()
    for i in range(MAX_OPERATIONS):
        recorder.start(f"GET /k/{i}", None, "GET")
        recorder.end(f"GET /k/{i}", None, "GET", "success", 200, 0.001)
    recorder.start("GET /overflow", None, "GET")  # counted under <other>
    recorder.reset()
    recorder.retry("GET /overflow", None, 1, "HTTP 503", 0.0)
    recorder.end("GET /overflow", None, "GET", "success", 200, 0.002)
    snap = recorder.snapshot()
    assert snap.global_metrics.in_flight == 0
    for key, m in snap.operations.items():
        assert m.in_flight == 0, key
        assert_consistent(m)
    assert snap.global_metrics.retries == 1
    assert sum(m.retries for m in snap.operations.values()) == 1


# --------------------------------------------------------------------------- hooks


class RecordingHook:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def on_request_start(self, event: RequestStart) -> None:
        self.events.append(("start", event))

    def on_request_end(self, event: RequestEnd) -> None:
        self.events.append(("end", event))

    def on_retry(self, event: RetryEvent) -> None:
        self.events.append(("retry", event))

    def on_breaker_transition(self, event: object) -> None:
        self.events.append(("breaker", event))


class RaisingHook(RecordingHook):
    def on_request_start(self, event: RequestStart) -> None:
        raise RuntimeError("exporter down")

    def on_request_end(self, event: RequestEnd) -> None:
        raise RuntimeError("exporter down")

    def on_retry(self, event: RetryEvent) -> None:
        raise RuntimeError("exporter down")


class EndOnlyHook:
    def __init__(self) -> None:
        self.ends: list[RequestEnd] = []

    def on_request_end(self, event: RequestEnd) -> None:
        self.ends.append(event)


def test_protocol_hook_receives_events() -> None:
    hook = RecordingHook()
    assert isinstance(hook, MetricsHook)
    recorder = MetricsRecorder(hooks=[hook])
    assert recorder.hooks == (hook,)
    recorder.start("GET /a", "get_a", "GET")
    recorder.retry("GET /a", "get_a", 1, "HTTP 503", 0.25)
    recorder.end("GET /a", "get_a", "GET", "success", 200, 0.5, 1)
    recorder.breaker_transition("half_open")
    assert hook.events == [
        ("start", RequestStart("GET /a", "get_a", "GET")),
        ("retry", RetryEvent("GET /a", "get_a", 1, "HTTP 503", 0.25)),
        ("end", RequestEnd("GET /a", "get_a", "GET", "success", 200, 0.5, 1)),
        ("breaker", "half_open"),
    ]


def test_raising_hook_is_logged_and_does_not_break(caplog: pytest.LogCaptureFixture) -> None:
    good = RecordingHook()
    partial = EndOnlyHook()
    recorder = MetricsRecorder(hooks=[RaisingHook(), good])
    recorder.add_hook(partial)  # type: ignore[arg-type]  # at run time a hook may implement only some methods
    caplog.set_level(logging.ERROR, logger="resilience.metrics")
    recorder.start("GET /a", None, "GET")
    recorder.retry("GET /a", None, 1, "HTTP 503", 0.0)
    recorder.end("GET /a", None, "GET", "5xx", 503, 0.1, 1)
    assert [kind for kind, _ in good.events] == ["start", "retry", "end"]
    assert len(partial.ends) == 1
    failures = [r for r in caplog.records if r.name == "resilience.metrics" and r.levelno == logging.ERROR]
    assert len(failures) == 3
    assert all(r.exc_info is not None and "RaisingHook" in r.getMessage() for r in failures)
    g = recorder.snapshot().global_metrics
    assert (g.requests, g.failures, g.retries, g.in_flight) == (1, {"5xx": 1}, 1, 0)


def test_hooks_see_retries_from_the_real_stack(ft: FakeTime) -> None:
    hook = RecordingHook()
    recorder = MetricsRecorder(hooks=[hook])
    statuses = iter([503, 503, 200])
    transport = build_transport(
        httpx.MockTransport(lambda r: httpx.Response(next(statuses))),
        make_stack(recorder, max_retries=3),
        home_origin="http://127.0.0.1",
        sleep=ft.sleep,
    )
    with httpx.Client(base_url="http://127.0.0.1", transport=transport) as client:
        assert client.get("/a", extensions={EXT_OPERATION: Operation("get_a", "GET", "/a")}).status_code == 200
    kinds = [kind for kind, _ in hook.events]
    assert kinds == ["start", "retry", "retry", "end"]
    retries = [e for kind, e in hook.events if kind == "retry"]
    assert [(e.attempt, e.reason) for e in retries] == [(1, "HTTP 503"), (2, "HTTP 503")]  # type: ignore[attr-defined]
    end = hook.events[-1][1]
    assert isinstance(end, RequestEnd)
    assert (end.key, end.operation, end.outcome, end.status_code, end.retries) == ("GET /a", "get_a", "success", 200, 2)


# --------------------------------------------------------------------------- periodic logging


def perf_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "resilience.metrics" and r.levelno == logging.INFO and r.getMessage().startswith("performance")
    ]


def test_log_every_n_requests(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="resilience.metrics")
    recorder = MetricsRecorder(log_every_requests=5)
    record(recorder, [0.01] * 4)
    assert perf_lines(caplog) == []
    record(recorder, [0.01])
    assert len(perf_lines(caplog)) == 1
    assert perf_lines(caplog)[0].startswith("performance: 5 requests, 5 ok, 0 errors, success 100.0%")
    record(recorder, [0.01] * 7)
    lines = perf_lines(caplog)
    assert len(lines) == 2
    assert lines[1].startswith("performance: 10 requests")


def test_log_every_t_seconds_with_fake_clock(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="resilience.metrics")
    ft = FakeTime(100.0)
    recorder = MetricsRecorder(log_every_seconds=10.0, clock=ft.clock)
    for now, expected in [(101.0, 0), (109.9, 0), (110.0, 1), (115.0, 1), (119.99, 1), (120.0, 2), (150.0, 3)]:
        ft.now = now
        record(recorder, [0.01])
        assert len(perf_lines(caplog)) == expected, now
    recorder.reset()  # restarts the period
    ft.now = 155.0
    record(recorder, [0.01])
    assert len(perf_lines(caplog)) == 3
    ft.now = 160.0
    record(recorder, [0.01])
    assert len(perf_lines(caplog)) == 4
    assert perf_lines(caplog)[-1].startswith("performance: 2 requests")


def test_no_periodic_logging_by_default(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ft = FakeTime(100.0)
    recorder = MetricsRecorder(clock=ft.clock)
    for _ in range(50):
        ft.now += 100
        record(recorder, [0.01])
    assert perf_lines(caplog) == []


# --------------------------------------------------------------------------- as_dict and outcomes


def test_as_dict_fields_and_values() -> None:
    recorder = MetricsRecorder()
    recorder.start("GET /a", "get_a", "GET")
    recorder.end("GET /a", "get_a", "GET", "success", 200, 0.1)
    recorder.start("GET /a", "get_a", "GET")
    recorder.end("GET /a", "get_a", "GET", "success", 302, 0.3)
    recorder.start("GET /a", "get_a", "GET")
    recorder.end("GET /a", "get_a", "GET", "4xx", 404, 0.2)
    recorder.start("GET /a", "get_a", "GET")
    recorder.retry("GET /a", "get_a", 1, "ConnectError", 0.0)
    recorder.end("GET /a", "get_a", "GET", "circuit_open", None, 0.0, 1)
    recorder.start("GET /a", "get_a", "GET")  # still in flight
    d = recorder.snapshot().operations["GET /a"].as_dict()
    assert set(d) == AS_DICT_FIELDS
    assert d["operation"] == "get_a"
    assert d["request_count"] == 5
    assert d["success_count"] == 2
    assert d["error_count"] == 2
    assert d["failures"] == {"4xx": 1, "circuit_open": 1}
    assert d["retries"] == 1
    assert d["rejections"] == 1
    assert d["in_flight"] == 1
    assert d["success_rate"] == 0.5
    assert d["avg_response_time"] == pytest.approx(0.15)
    assert d["min_response_time"] == 0.0
    assert d["max_response_time"] == 0.3


def test_unknown_outcome_counts_as_error() -> None:
    recorder = MetricsRecorder()
    recorder.start("GET /a", None, "GET")
    recorder.end("GET /a", None, "GET", "weird", None, 0.1)
    g = recorder.snapshot().global_metrics
    assert g.failures == {"error": 1}
    assert g.successes == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"buckets": ()},
        {"buckets": (0.2, 0.1)},
        {"buckets": (0.1, 0.1)},
        {"buckets": (0.0, 0.1)},
        {"buckets": (0.1, float("inf"))},
        {"log_every_requests": 0},
        {"log_every_seconds": 0},
        {"log_every_seconds": -1.0},
    ],
)
def test_invalid_configuration(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        MetricsRecorder(**kwargs)


def test_snapshot_is_a_frozen_copy() -> None:
    recorder = MetricsRecorder()
    record(recorder, [0.01])
    before = recorder.snapshot()
    record(recorder, [0.01])
    assert before.global_metrics.requests == 1
    assert recorder.snapshot().global_metrics.requests == 2
    with pytest.raises(AttributeError):
        before.global_metrics.requests = 5  # type: ignore[misc]


def test_periodic_line_logged_once_per_period_under_threads(caplog: pytest.LogCaptureFixture) -> None:
    import threading

    ft = FakeTime(100.0)
    recorder = MetricsRecorder(log_every_seconds=1.0, clock=ft.clock)
    for _ in range(10):
        recorder.start("GET /x", "op", "GET")
        recorder.end("GET /x", "op", "GET", "success", 200, 0.001)
    ft.advance(1.0)  # one period has passed: the next completions may log, once
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        for _ in range(50):
            recorder.start("GET /x", "op", "GET")
            recorder.end("GET /x", "op", "GET", "success", 200, 0.001)

    with caplog.at_level(logging.INFO, logger="resilience.metrics"):
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    lines = [r for r in caplog.records if r.name == "resilience.metrics" and "performance" in r.getMessage()]
    assert len(lines) == 1
