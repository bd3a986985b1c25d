"""The breaker opening during a call's retries: the call ends at once, truthfully.

The breaker counts attempts, not calls. When the attempt that opens it (or an attempt before
it, by another call) leaves a call with retries to go, the call never sleeps a backoff for an
attempt the open breaker can only refuse: it ends with :class:`CircuitOpenError`, chained to
its last real failure, and the error says what opened the circuit and when the next probe is.
Sync and async alike, on fake time.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import httpx
import pytest
import tenacity
from pytest_httpserver import HTTPServer

from resilience import (
    EXT_OPERATION,
    BreakerRegistry,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitOpenError,
    InternalServerError,
    MetricsRecorder,
    Operation,
    Outcome,
    RateLimitError,
    RetryPolicy,
    SwitchableAuth,
)
from resilience._stack import ResilienceStack, build_transport
from tests.support import Driver, FakeTime, base, unused_port

ORIGIN = "https://api.test"
OP = Operation("list_resources", "GET", "/v1/resources")


def breaker(ft: FakeTime, **config: Any) -> CircuitBreaker:
    return CircuitBreaker(CircuitBreakerConfig(**config), name="api", clock=ft.clock)


# -- what the breaker says ---------------------------------------------------------------------


def test_open_error_says_what_opened_it_and_when_the_next_probe_is(ft: FakeTime) -> None:
    b = breaker(ft)
    for kind in (503, "ConnectError", 503, 503, "ConnectError"):
        b.record(b.acquire(), Outcome.FAILURE, kind)
    ft.advance(15.0)
    with pytest.raises(CircuitOpenError) as info:
        b.acquire("list_resources")
    err = info.value
    assert err.failures == (("HTTP 503", 3), ("ConnectError", 2))
    assert err.retry_in == 45.0
    assert str(err) == (
        "circuit 'api' is open (next probe in 45.000s), opened by 5 failures: HTTP 503 x3, ConnectError x2 "
        "[operation=list_resources]"
    )
    with pytest.raises(CircuitOpenError) as checked:  # check() tells the same
        b.check("list_resources")
    assert checked.value.failures == err.failures
    assert pickle.loads(pickle.dumps(err)).failures == err.failures
    assert copy.deepcopy(err).failures == err.failures


def test_only_the_failures_of_the_run_that_opened_it_count(ft: FakeTime) -> None:
    b = breaker(ft, failure_threshold=3)
    b.record(b.acquire(), Outcome.FAILURE, 500)
    b.record(b.acquire(), Outcome.FAILURE, 500)
    b.record(b.acquire(), Outcome.SUCCESS)  # ends the run: those two did not open it
    b.record(b.acquire(), Outcome.IGNORED, 404)
    for _ in range(3):
        b.record(b.acquire(), Outcome.FAILURE, 429)
    with pytest.raises(CircuitOpenError) as info:
        b.acquire()
    assert info.value.failures == (("HTTP 429", 3),)
    assert "opened by 3 failures: HTTP 429 x3" in str(info.value)


def test_a_failed_probe_is_what_reopened_it(ft: FakeTime) -> None:
    b = breaker(ft, failure_threshold=2, recovery_timeout=10.0)
    b.record(b.acquire(), Outcome.FAILURE, 503)
    b.record(b.acquire(), Outcome.FAILURE, 503)
    ft.advance(10.0)
    b.record(b.acquire(), Outcome.FAILURE, "ReadTimeout")  # the probe
    with pytest.raises(CircuitOpenError) as info:
        b.acquire()
    assert info.value.failures == (("ReadTimeout", 1),)
    assert "(next probe in 10.000s), opened by 1 failure: ReadTimeout" in str(info.value)


def test_rate_mode_names_the_failures_in_its_window(ft: FakeTime) -> None:
    b = breaker(ft, mode="rate", window_size=4, minimum_calls=4, failure_rate_threshold=0.75)
    b.record(b.acquire(), Outcome.FAILURE, 502)  # pushed out of the window below
    b.record(b.acquire(), Outcome.SUCCESS)
    b.record(b.acquire(), Outcome.SUCCESS)
    b.record(b.acquire(), Outcome.FAILURE, 503)  # window: 502, success, success, 503
    b.record(b.acquire(), Outcome.FAILURE, 503)  # window: success, success, 503, 503
    b.record(b.acquire(), Outcome.FAILURE, "ConnectError")  # window: success, 503, 503, ConnectError: opens
    with pytest.raises(CircuitOpenError) as info:
        b.acquire()
    assert info.value.failures == (("HTTP 503", 2), ("ConnectError", 1))


def test_forced_open_and_unnamed_failures(ft: FakeTime) -> None:
    b = breaker(ft, failure_threshold=1)
    b.record(b.acquire(), Outcome.FAILURE)  # a caller that does not say what failed
    with pytest.raises(CircuitOpenError) as info:
        b.acquire()
    assert info.value.failures == (("unspecified", 1),)
    b.force_open()
    with pytest.raises(CircuitOpenError) as forced:
        b.acquire()
    assert forced.value.failures == ()
    assert str(forced.value) == "circuit 'api' is open (forced open)"


# -- the client: the breaker counts attempts ---------------------------------------------------


async def test_defaults_second_failing_call_ends_at_once(driver: Driver, httpserver: HTTPServer) -> None:
    """Threshold 5, max_retries=3: a call makes up to 4 attempts; the second failing call's
    first attempt is the fifth failure, and that call then ends at once."""
    httpserver.expect_request("/api/resources").respond_with_json({"error": {"code": "down"}}, status=503)
    async with driver.open(base(httpserver)) as d:
        with pytest.raises(InternalServerError):
            await d.call("get_resources")
        assert len(httpserver.log) == 4
        assert len(d.ft.sleeps) == 3
        with pytest.raises(CircuitOpenError) as info:
            await d.call("get_resources")
        metrics = d.client.get_metrics_snapshot()
    assert len(httpserver.log) == 5  # the call's one attempt: the fifth failure opened the circuit
    assert len(d.ft.sleeps) == 3  # no backoff slept for an attempt the open circuit would refuse
    err = info.value
    cause = err.__cause__
    assert isinstance(cause, InternalServerError)
    assert cause.status_code == 503
    assert cause.code == "down"
    assert err.retry_in == pytest.approx(60.0)  # opened by this call's attempt, refused at once
    assert err.failures == (("HTTP 503", 5),)
    assert err.last_failure == "HTTP 503"
    assert err.operation == "get_resources"
    assert err.request_id == httpserver.log[-1][0].headers["X-Request-ID"]
    text = str(err)
    assert "next probe in 60.000s" in text
    assert "opened by 5 failures: HTTP 503 x5" in text
    assert "this call's last attempt: HTTP 503" in text
    assert metrics is not None
    assert dict(metrics.global_metrics.failures) == {"5xx": 1, "circuit_open": 1}


async def test_connection_failures_open_it_and_are_the_cause(driver: Driver) -> None:
    async with driver.open(f"http://127.0.0.1:{unused_port()}", max_retries=5) as d:
        with pytest.raises(CircuitOpenError) as info:
            await d.call("get_resources")
    assert len(d.ft.sleeps) == 4  # five of six attempts: the fifth opened the circuit, the call ends there
    err = info.value
    assert isinstance(err.__cause__, httpx.ConnectError)
    assert err.__cause__.__traceback__ is None  # chained, but its frames (request headers in locals) dropped
    assert err.failures == (("ConnectError", 5),)
    assert "opened by 5 failures: ConnectError x5" in str(err)
    assert "this call's last attempt: ConnectError" in str(err)


# -- RetryTransport: the same from the registry it is given ------------------------------------


class Script:
    """The server: attempt n gets ``outcomes[n]`` (the last repeats)."""

    def __init__(self, *outcomes: int) -> None:
        self.outcomes = outcomes
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        status = self.outcomes[min(self.calls, len(self.outcomes)) - 1]
        headers = {"Retry-After": "1"} if status == 429 else {}
        return httpx.Response(status, headers=headers, json={"n": self.calls})


def stack(script: Script, ft: FakeTime, registry: BreakerRegistry, policy: RetryPolicy) -> httpx.BaseTransport:
    resilience = ResilienceStack(
        auth=SwitchableAuth(), policy=policy, budget=None, breakers=registry, metrics=MetricsRecorder(clock=ft.clock)
    )
    return build_transport(
        httpx.MockTransport(script),
        resilience,
        home_origin=ORIGIN,
        sleep=ft.sleep,
        asleep=ft.asleep,
        clock=ft.clock,
        wall_clock=ft.wall,
    )


def request() -> httpx.Request:
    return httpx.Request("GET", f"{ORIGIN}/v1/resources", extensions={EXT_OPERATION: OP})


async def test_retry_transport_ends_at_once_when_the_breaker_opens(mode: str, ft: FakeTime) -> None:
    driver = Driver(mode, ft)
    registry = BreakerRegistry(CircuitBreakerConfig(failure_threshold=2, recovery_timeout=30.0), clock=ft.clock)
    script = Script(429)
    transport = stack(script, ft, registry, RetryPolicy(max_retries=5))
    with pytest.raises(CircuitOpenError) as info:
        await driver.send(transport, request())
    assert script.calls == 2
    assert ft.sleeps == [1.0]  # the one Retry-After between the two attempts; none after the second
    cause = info.value.__cause__
    assert isinstance(cause, RateLimitError)
    assert cause.retry_after == 1.0
    assert info.value.failures == (("HTTP 429", 2),)
    assert info.value.retry_in == 30.0
    assert registry.get(ORIGIN).snapshot().rejected_count == 1


async def test_opened_by_another_caller_during_the_backoff(mode: str, ft: FakeTime) -> None:
    """The breaker forced open while this call sleeps: the attempt after the sleep is refused,
    and the call ends with that refusal, chained to its last real failure."""
    driver = Driver(mode, ft)
    registry = BreakerRegistry(clock=ft.clock)
    ft.on_sleep = lambda _: registry.get(ORIGIN).force_open()
    script = Script(500)
    transport = stack(script, ft, registry, RetryPolicy(max_retries=3, wait=tenacity.wait_fixed(2)))
    with pytest.raises(CircuitOpenError) as info:
        await driver.send(transport, request())
    assert script.calls == 1
    assert ft.sleeps == [2.0]
    assert isinstance(info.value.__cause__, InternalServerError)
    assert info.value.__cause__.status_code == 500
    assert "forced open" in str(info.value)
    assert "this call's last attempt: HTTP 500" in str(info.value)


async def test_a_probe_due_before_the_backoff_ends_is_tried(mode: str, ft: FakeTime) -> None:
    """Open now, but the probe is due before the wait is over: the retry goes out as the probe."""
    driver = Driver(mode, ft)
    registry = BreakerRegistry(
        CircuitBreakerConfig(failure_threshold=1, recovery_timeout=1.5, success_threshold=1), clock=ft.clock
    )
    script = Script(503, 200)
    transport = stack(script, ft, registry, RetryPolicy(max_retries=3, wait=tenacity.wait_fixed(2)))
    response = await driver.send(transport, request())
    assert response.status_code == 200
    assert script.calls == 2
    assert ft.sleeps == [2.0]
