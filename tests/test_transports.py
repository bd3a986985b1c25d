"""The retry layer and the stack around it, sync and async alike.

Every test runs twice (``mode`` = sync / async, through ``tests.support.Driver``) against
``httpx.MockTransport``. Time is fake (``tests.support.FakeTime``): the injected sleep records
each delay and advances the fake clock, so nothing ever waits.
"""

from __future__ import annotations

import email.utils
import gzip
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import tenacity

from resilience import (
    EXT_OPERATION,
    BreakerRegistry,
    CircuitBreakerConfig,
    CircuitOpenError,
    MetricsRecorder,
    Operation,
    RateLimitError,
    ResponseTooLargeError,
    RetryBudget,
    RetryPolicy,
    RetryTransport,
    SwitchableAuth,
    call_record_of,
)
from resilience._stack import ResilienceStack, build_transport
from tests.support import WALL, Driver, FakeTime

ORIGIN = "https://api.test"
URL = f"{ORIGIN}/v1/resources"


RETRYABLE = {408, 429, 500, 502, 503, 504}
STATUSES = [200, 400, 401, 403, 404, 408, 409, 422, 429, 500, 501, 502, 503, 504]


# -- fakes -------------------------------------------------------------------------------------


Outcome = int | type[Exception] | Callable[[httpx.Request], httpx.Response]


class Script:
    """The server: answers attempt n with ``outcomes[n]`` (the last one repeats) and records
    each attempt's headers, time and extensions."""

    def __init__(self, *outcomes: Outcome, ft: FakeTime | None = None, latency: float = 0.0) -> None:
        self.outcomes = outcomes
        self.ft = ft
        self.latency = latency
        self.headers: list[dict[str, str]] = []
        self.started: list[float] = []
        self.timeouts: list[dict[str, Any]] = []

    @property
    def calls(self) -> int:
        return len(self.headers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.headers.append(dict(request.headers))
        self.timeouts.append(dict(request.extensions.get("timeout") or {}))
        if self.ft is not None:
            self.started.append(self.ft.elapsed)
            self.ft.advance(self.latency)
        outcome = self.outcomes[min(self.calls, len(self.outcomes)) - 1]
        if isinstance(outcome, int):
            return httpx.Response(outcome, json={"n": self.calls})
        if isinstance(outcome, type):
            raise outcome("scripted failure", request=request)
        return outcome(request)


class ChunkStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body pulled chunk by chunk; ``cut_after`` raises RemoteProtocolError after that many."""

    def __init__(self, chunks: list[bytes] | Iterator[bytes], *, cut_after: int | None = None) -> None:
        self.chunks = iter(chunks)
        self.cut_after = cut_after
        self.pulled = 0
        self.closed = False

    def _next(self) -> bytes:
        if self.cut_after is not None and self.pulled >= self.cut_after:
            raise httpx.RemoteProtocolError("peer closed connection mid-body")
        chunk = next(self.chunks)
        self.pulled += 1
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        while True:
            try:
                yield self._next()
            except StopIteration:
                return

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self:
            yield chunk

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def retry_layer(script: Script, ft: FakeTime, *, max_body: int = 1 << 20, **policy: Any) -> RetryTransport:
    """The retry layer alone over the scripted server; ``policy`` are RetryPolicy fields."""
    return RetryTransport(
        httpx.MockTransport(script),
        RetryPolicy(**policy),
        sleep=ft.sleep,
        asleep=ft.asleep,
        clock=ft.clock,
        wall_clock=ft.wall,
        max_body=max_body,
    )


def stack(
    script: Script,
    ft: FakeTime,
    *,
    policy: RetryPolicy | None = None,
    budget: RetryBudget | None = None,
    breakers: BreakerRegistry | None = None,
    metrics: MetricsRecorder | None = None,
    max_body: int = 1 << 20,
) -> httpx.BaseTransport:
    resilience = ResilienceStack(
        auth=SwitchableAuth(),
        policy=policy or RetryPolicy(),
        budget=budget,
        breakers=breakers,
        metrics=metrics,
    )
    return build_transport(
        httpx.MockTransport(script),
        resilience,
        home_origin=ORIGIN,
        sleep=ft.sleep,
        asleep=ft.asleep,
        clock=ft.clock,
        wall_clock=ft.wall,
        max_body=max_body,
    )


def request(method: str = "GET", *, key: str | None = None, keyed_operation: bool = False) -> httpx.Request:
    """A request as the generated code builds it; ``keyed_operation`` says the operation accepts
    an Idempotency-Key (the correlation layer then adds one to a POST)."""
    idempotency = "Idempotency-Key" if keyed_operation or key else None
    op = Operation("list_resources", method, "/v1/resources", idempotency_header=idempotency)
    extensions: dict[str, Any] = {EXT_OPERATION: op}
    headers = {"Idempotency-Key": key} if key else {}
    content = None if method == "GET" else b'{"items": []}'
    return httpx.Request(method, URL, headers=headers, content=content, extensions=extensions)


# -- classification ----------------------------------------------------------------------------

VARIANTS = {"GET": ("GET", None), "POST-no-key": ("POST", None), "POST-key": ("POST", "key-1")}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("status", STATUSES)
async def test_status_classification(driver: Driver, ft: FakeTime, status: int, variant: str) -> None:
    method, key = VARIANTS[variant]
    script = Script(status)
    req = request(method, key=key)
    response = await driver.send(retry_layer(script, ft), req)
    retried = status in RETRYABLE and variant != "POST-no-key"
    assert response.status_code == status
    assert script.calls == (1 + 3 if retried else 1)
    assert len(ft.sleeps) == (3 if retried else 0)
    assert call_record_of(req).retries == (3 if retried else 0)
    assert (await driver.read(response)) == f'{{"n":{script.calls}}}'.encode()


@pytest.mark.parametrize("max_retries", [0, 1, 5])
async def test_attempts_follow_max_retries(driver: Driver, ft: FakeTime, max_retries: int) -> None:
    script = Script(503)
    await driver.send(retry_layer(script, ft, max_retries=max_retries), request())
    assert script.calls == 1 + max_retries


@pytest.mark.parametrize("method", ["PUT", "DELETE", "HEAD", "OPTIONS"])
async def test_idempotent_methods_are_retried(driver: Driver, ft: FakeTime, method: str) -> None:
    script = Script(503, 200)
    response = await driver.send(retry_layer(script, ft), httpx.Request(method, URL))
    assert (response.status_code, script.calls) == (200, 2)


async def test_custom_retry_statuses(driver: Driver, ft: FakeTime) -> None:
    script = Script(503)
    await driver.send(retry_layer(script, ft, retry_statuses={500}), request())
    assert script.calls == 1
    script = Script(500, 200)
    await driver.send(retry_layer(script, ft, retry_statuses={500}), request())
    assert script.calls == 2


# -- exceptions --------------------------------------------------------------------------------

EXCEPTIONS = [httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.RemoteProtocolError]
MAYBE_DELIVERED = {httpx.ReadTimeout, httpx.RemoteProtocolError}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("exc", EXCEPTIONS, ids=lambda e: e.__name__)
async def test_exception_classification(driver: Driver, ft: FakeTime, exc: type[Exception], variant: str) -> None:
    method, key = VARIANTS[variant]
    script = Script(exc)
    req = request(method, key=key)
    with pytest.raises(exc):
        await driver.send(retry_layer(script, ft), req)
    retried = variant != "POST-no-key"
    assert script.calls == (4 if retried else 1)
    assert call_record_of(req).maybe_delivered is (exc in MAYBE_DELIVERED)


@pytest.mark.parametrize("exc", EXCEPTIONS, ids=lambda e: e.__name__)
async def test_exception_then_success(driver: Driver, ft: FakeTime, exc: type[Exception]) -> None:
    script = Script(exc, exc, 200)
    req = request()
    response = await driver.send(retry_layer(script, ft), req)
    assert (response.status_code, script.calls, len(ft.sleeps)) == (200, 3, 2)
    assert call_record_of(req).retries == 2


async def test_unknown_exception_is_not_retried(driver: Driver, ft: FakeTime) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise KeyError("bug")

    script = Script(boom)
    with pytest.raises(KeyError):
        await driver.send(retry_layer(script, ft), request())
    assert script.calls == 1


async def test_connect_error_then_read_timeout_marks_maybe_delivered(driver: Driver, ft: FakeTime) -> None:
    script = Script(httpx.ReadTimeout, httpx.ConnectError)
    req = request()
    with pytest.raises(httpx.ConnectError):
        await driver.send(retry_layer(script, ft), req)
    # The final error is a connect error, but an earlier attempt may have reached the server.
    assert call_record_of(req).maybe_delivered is True


# -- Retry-After -------------------------------------------------------------------------------


def retry_after(value: str, status: int = 503) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, headers={"Retry-After": value})


def http_date(wall_offset: float) -> str:
    return email.utils.format_datetime(datetime.fromtimestamp(WALL + wall_offset, UTC), usegmt=True)


async def test_retry_after_seconds(driver: Driver, ft: FakeTime) -> None:
    script = Script(retry_after("2"), 200)
    response = await driver.send(retry_layer(script, ft), request())
    assert (response.status_code, script.calls) == (200, 2)
    assert ft.sleeps == [2.0]


async def test_retry_after_http_date(driver: Driver, ft: FakeTime) -> None:
    script = Script(retry_after(http_date(7), 429), 200)
    response = await driver.send(retry_layer(script, ft), request())
    assert (response.status_code, script.calls) == (200, 2)
    assert ft.sleeps == [7.0]


async def test_retry_after_zero_and_past_date(driver: Driver, ft: FakeTime) -> None:
    script = Script(retry_after("0"), retry_after(http_date(-100)), 200)
    response = await driver.send(retry_layer(script, ft), request())
    assert response.status_code == 200
    assert ft.sleeps == [0.0, 0.0]


async def test_malformed_retry_after_falls_back_to_backoff(driver: Driver, ft: FakeTime) -> None:
    script = Script(retry_after("soon"), 200)
    await driver.send(retry_layer(script, ft, wait=tenacity.wait_fixed(0.25)), request())
    assert ft.sleeps == [0.25]


@pytest.mark.parametrize("value", ["120", "61", http_date(3600)])
async def test_retry_after_too_long_is_not_waited_for(driver: Driver, ft: FakeTime, value: str) -> None:
    script = Script(retry_after(value, 429), 200)
    req = request()
    response = await driver.send(retry_layer(script, ft), req)
    assert (response.status_code, script.calls, ft.sleeps) == (429, 1, [])
    waited_not = call_record_of(req).retry_after
    assert waited_not is not None
    assert waited_not > 60


async def test_retry_after_at_the_cap_is_waited_for(driver: Driver, ft: FakeTime) -> None:
    script = Script(retry_after("60", 429), 200)
    response = await driver.send(retry_layer(script, ft), request())
    assert (response.status_code, ft.sleeps) == (200, [60.0])


@pytest.mark.parametrize("value", ["120", http_date(120)])
async def test_client_error_carries_too_long_retry_after(driver: Driver, ft: FakeTime, value: str) -> None:
    script = Script(retry_after(value, 429))
    async with driver.open("http://localhost:5002", transport=httpx.MockTransport(script), wall_clock=ft.wall) as d:
        with pytest.raises(RateLimitError) as info:
            await d.call("get_health")
    assert info.value.retry_after == 120.0
    assert (script.calls, ft.sleeps) == (1, [])


# -- correlation: the same ids on every attempt ------------------------------------------------


async def test_same_ids_on_every_attempt_new_ids_per_call(driver: Driver, ft: FakeTime) -> None:
    script = Script(503, httpx.ReadTimeout, 200)
    transport = stack(script, ft, policy=RetryPolicy(max_retries=3))
    response = await driver.send(transport, request("POST", keyed_operation=True))
    assert (response.status_code, script.calls) == (200, 3)
    keys = {h.get("idempotency-key") for h in script.headers}
    ids = {h.get("x-request-id") for h in script.headers}
    assert len(keys) == 1
    assert None not in keys
    assert len(ids) == 1
    assert None not in ids

    script.outcomes = (200,)
    await driver.send(transport, request("POST", keyed_operation=True))
    assert script.headers[-1]["idempotency-key"] not in keys
    assert script.headers[-1]["x-request-id"] not in ids


async def test_caller_ids_are_kept_and_get_has_no_key(driver: Driver, ft: FakeTime) -> None:
    script = Script(503, 200)
    transport = stack(script, ft)
    req = request("POST", key="caller-key", keyed_operation=True)
    req.headers["X-Request-ID"] = "caller-id"
    await driver.send(transport, req)
    assert [h["idempotency-key"] for h in script.headers] == ["caller-key", "caller-key"]
    assert [h["x-request-id"] for h in script.headers] == ["caller-id", "caller-id"]
    await driver.send(transport, request("GET", keyed_operation=True))
    assert "idempotency-key" not in script.headers[-1]


async def test_post_without_keyed_operation_gets_no_key_and_no_retry(driver: Driver, ft: FakeTime) -> None:
    script = Script(503)
    req = request("POST")
    response = await driver.send(stack(script, ft), req)
    assert (response.status_code, script.calls) == (503, 1)
    assert "idempotency-key" not in script.headers[0]


# -- deadline ----------------------------------------------------------------------------------


async def test_deadline_stops_before_a_wait_that_would_overrun(driver: Driver, ft: FakeTime) -> None:
    script = Script(503, ft=ft)
    policy: dict[str, Any] = {"max_retries": 10, "deadline": 1.0, "wait": tenacity.wait_fixed(0.4)}
    response = await driver.send(retry_layer(script, ft, **policy), request())
    # attempts at 0.0, 0.4, 0.8; a third wait would end at 1.2 > 1.0
    assert response.status_code == 503
    assert script.started == pytest.approx([0.0, 0.4, 0.8])
    assert ft.sleeps == pytest.approx([0.4, 0.4])


async def test_deadline_counts_the_first_attempt(driver: Driver, ft: FakeTime) -> None:
    # Each attempt takes 0.5 s. Attempt 1 ends at 0.5, a 0.2 s wait ends at 0.7 <= 1.0: retry.
    # Attempt 2 ends at 1.2, past the deadline: no more retries.
    script = Script(503, ft=ft, latency=0.5)
    policy: dict[str, Any] = {"max_retries": 10, "deadline": 1.0, "wait": tenacity.wait_fixed(0.2)}
    response = await driver.send(retry_layer(script, ft, **policy), request())
    assert response.status_code == 503
    assert script.started == pytest.approx([0.0, 0.7])
    assert all(t <= 1.0 for t in script.started)
    # the retry's timeouts are capped to what is left of the deadline (1.0 - 0.7)
    assert script.timeouts[1] == pytest.approx({"connect": 0.3, "read": 0.3, "write": 0.3, "pool": 0.3})


async def test_deadline_blocks_a_long_retry_after(driver: Driver, ft: FakeTime) -> None:
    script = Script(retry_after("2"), 200, ft=ft)
    response = await driver.send(retry_layer(script, ft, deadline=1.0), request())
    assert (response.status_code, script.calls, ft.sleeps) == (503, 1, [])


# -- budget ------------------------------------------------------------------------------------


async def test_budget_exhausted_stops_retries(driver: Driver, ft: FakeTime) -> None:
    budget = RetryBudget(percent=0.0, min_per_second=0.1, window=10, clock=ft.clock)  # 1 retry
    metrics = MetricsRecorder(clock=ft.clock)
    script = Script(503, 200)
    transport = stack(script, ft, budget=budget, metrics=metrics)

    first = request()
    response = await driver.send(transport, first)
    assert (response.status_code, script.calls) == (200, 2)
    assert not call_record_of(first).budget_exhausted

    script.outcomes = (503,)
    second = request()
    response = await driver.send(transport, second)
    assert response.status_code == 503
    assert script.calls == 3  # one attempt, no retry
    assert call_record_of(second).budget_exhausted is True
    assert call_record_of(second).retries == 0

    g = metrics.snapshot().global_metrics
    assert (g.requests, g.successes, g.retries) == (2, 1, 1)
    assert dict(g.failures) == {"budget_exhausted": 1}


async def test_budget_exhausted_on_exception(driver: Driver, ft: FakeTime) -> None:
    budget = RetryBudget(percent=0.0, min_per_second=0.1, window=10, clock=ft.clock)
    metrics = MetricsRecorder(clock=ft.clock)
    script = Script(httpx.ConnectError)
    transport = stack(script, ft, budget=budget, metrics=metrics)
    with pytest.raises(httpx.ConnectError):
        await driver.send(transport, request())
    assert script.calls == 2  # the budget paid for one retry
    with pytest.raises(httpx.ConnectError):
        await driver.send(transport, request())
    assert script.calls == 3
    assert dict(metrics.snapshot().global_metrics.failures) == {"budget_exhausted": 2}


# -- breaker -----------------------------------------------------------------------------------


async def test_breaker_opening_mid_retries_stops_at_once(driver: Driver, ft: FakeTime) -> None:
    breakers = BreakerRegistry(CircuitBreakerConfig(failure_threshold=2), clock=ft.clock)
    script = Script(503)
    transport = stack(script, ft, breakers=breakers, policy=RetryPolicy(max_retries=5))
    with pytest.raises(CircuitOpenError):
        await driver.send(transport, request())
    assert script.calls == 2  # the third attempt was refused before reaching the server
    with pytest.raises(CircuitOpenError):
        await driver.send(transport, request())
    assert script.calls == 2


# -- the success path never builds tenacity ----------------------------------------------------


async def test_success_path_never_builds_tenacity(
    driver: Driver, ft: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("tenacity built on a path that needs no retry")

    monkeypatch.setattr(tenacity.Retrying, "__init__", forbidden)
    monkeypatch.setattr(tenacity.AsyncRetrying, "__init__", forbidden)
    metrics = MetricsRecorder(clock=ft.clock)
    breakers = BreakerRegistry(CircuitBreakerConfig(), clock=ft.clock)
    budget = RetryBudget(clock=ft.clock)
    full = stack(Script(200), ft, metrics=metrics, breakers=breakers, budget=budget)
    cases: list[tuple[Any, httpx.Request, int]] = [
        (full, request(), 200),
        (full, request("POST", keyed_operation=True), 200),
        (stack(Script(404), ft), request(), 404),
        (retry_layer(Script(200), ft), request(), 200),
        (retry_layer(Script(404), ft), request(), 404),
        (retry_layer(Script(503), ft), request("POST"), 503),
        (retry_layer(Script(503), ft, max_retries=0), request(), 503),
    ]
    for transport, req, status in cases:
        assert (await driver.send(transport, req)).status_code == status
    with pytest.raises(httpx.ConnectError):
        await driver.send(retry_layer(Script(httpx.ConnectError), ft), request("POST"))
    # The patch is live: a retryable outcome does reach tenacity.
    with pytest.raises(AssertionError, match="tenacity built"):
        await driver.send(retry_layer(Script(503), ft), request())


# -- bodies ------------------------------------------------------------------------------------


def cut_body(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, stream=ChunkStream([b'{"data": [1, 2', b", 3"], cut_after=1))


def whole_body(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, stream=ChunkStream([b'{"data": ', b"[1, 2, 3]}"]))


async def test_body_cut_mid_response_is_retried(driver: Driver, ft: FakeTime) -> None:
    script = Script(cut_body, whole_body)
    response = await driver.send(retry_layer(script, ft), request())
    assert script.calls == 2
    assert response.content == b'{"data": [1, 2, 3]}'
    assert await driver.read(response) == b'{"data": [1, 2, 3]}'


async def test_body_cut_on_unkeyed_post_is_maybe_delivered(driver: Driver, ft: FakeTime) -> None:
    script = Script(cut_body, whole_body)
    req = request("POST")
    with pytest.raises(httpx.RemoteProtocolError):
        await driver.send(retry_layer(script, ft), req)
    assert script.calls == 1
    assert call_record_of(req).maybe_delivered is True


async def test_too_large_with_content_length(driver: Driver, ft: FakeTime) -> None:
    stream = ChunkStream([b"x" * 100])

    def big(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "100"}, stream=stream)

    script = Script(big)
    with pytest.raises(ResponseTooLargeError):
        await driver.send(retry_layer(script, ft, max_body=50), request())
    assert script.calls == 1  # a body too large will not shrink on retry
    assert stream.pulled == 0  # refused on the header alone
    assert stream.closed


async def test_too_large_streamed_stops_reading_at_the_cap(driver: Driver, ft: FakeTime) -> None:
    stream = ChunkStream([b"x" * 10] * 1000)  # 10 kB offered, in 10-byte chunks
    script = Script(lambda request: httpx.Response(200, stream=stream))
    with pytest.raises(ResponseTooLargeError):
        await driver.send(retry_layer(script, ft, max_body=25), request())
    assert stream.pulled == 3  # 30 bytes > 25: no further chunk pulled
    assert stream.closed
    assert script.calls == 1


async def test_too_large_after_decompression(driver: Driver, ft: FakeTime) -> None:
    packed = gzip.compress(b"x" * 10_000)
    assert len(packed) < 200

    def bomb(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=packed)

    with pytest.raises(ResponseTooLargeError):
        await driver.send(retry_layer(Script(bomb), ft, max_body=1000), request())


@pytest.mark.parametrize("size", [0, 1, 25])
async def test_body_up_to_the_cap_is_read(driver: Driver, ft: FakeTime, size: int) -> None:
    chunks = [b"y" * 10] * (size // 10) + ([b"y" * (size % 10)] if size % 10 else [])
    script = Script(lambda request: httpx.Response(200, stream=ChunkStream(chunks)))
    response = await driver.send(retry_layer(script, ft, max_body=25), request())
    assert response.content == b"y" * size


async def test_too_large_through_the_stack(driver: Driver, ft: FakeTime) -> None:
    script = Script(lambda request: httpx.Response(200, content=b"z" * 2000))
    with pytest.raises(ResponseTooLargeError):
        await driver.send(stack(script, ft, max_body=1000), request())


# -- metrics through the stack -----------------------------------------------------------------


async def test_metrics_count_one_request_and_its_retries(driver: Driver, ft: FakeTime) -> None:
    metrics = MetricsRecorder(clock=ft.clock)
    script = Script(503, httpx.ConnectError, 200)
    req = request()
    response = await driver.send(stack(script, ft, metrics=metrics), req)
    assert (response.status_code, script.calls) == (200, 3)
    snap = metrics.snapshot()
    g = snap.global_metrics
    assert (g.requests, g.retries, g.successes, g.error_count, g.in_flight) == (1, 2, 1, 0, 0)
    op = snap.operations["GET /v1/resources"]
    assert (op.requests, op.retries) == (1, 2)
    assert call_record_of(req).retries == 2


async def test_metrics_outcome_after_exhausted_retries(driver: Driver, ft: FakeTime) -> None:
    metrics = MetricsRecorder(clock=ft.clock)
    await driver.send(stack(Script(503), ft, metrics=metrics), request())
    with pytest.raises(httpx.ReadTimeout):
        await driver.send(stack(Script(httpx.ReadTimeout), ft, metrics=metrics), request())
    g = metrics.snapshot().global_metrics
    assert (g.requests, g.retries) == (2, 6)
    assert dict(g.failures) == {"5xx": 1, "timeout": 1}


# -- waits through the transport ---------------------------------------------------------------


async def test_backoff_waits_through_the_transport(driver: Driver, ft: FakeTime) -> None:
    script = Script(503)
    await driver.send(retry_layer(script, ft, max_retries=6), request())
    assert len(ft.sleeps) == 6
    for n, delay in enumerate(ft.sleeps, start=1):
        assert 0.0 <= delay <= min(8.0, 0.5 * 2 ** (n - 1))


async def test_custom_wait_through_the_transport(driver: Driver, ft: FakeTime) -> None:
    script = Script(503)
    await driver.send(retry_layer(script, ft, wait=tenacity.wait_fixed(1.5)), request())
    assert ft.sleeps == [1.5, 1.5, 1.5]


async def test_malformed_content_length_still_capped(driver: Driver, ft: FakeTime) -> None:
    """A Content-Length that is not a plain number must not open the uncapped read path."""
    chunks = [b"q" * 10] * 10  # 100 bytes against a cap of 25

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "10, 10"}, stream=ChunkStream(chunks))

    with pytest.raises(ResponseTooLargeError):
        await driver.send(retry_layer(Script(handler), ft, max_body=25), request())


async def test_deadline_caps_the_first_attempts_timeouts(driver: Driver, ft: FakeTime) -> None:
    seen: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.extensions["timeout"]))
        return httpx.Response(200)

    req = request()
    req.extensions["timeout"] = {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 0.5}
    await driver.send(retry_layer(Script(handler), ft, deadline=2.0), req)
    assert seen == [{"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 0.5}]
