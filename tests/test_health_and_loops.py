"""The health check tells the truth in one quick attempt, and an async client keeps to its loop.

``health_check()``: one attempt per request (no retry, no sleep, not in the retry budget),
neither refused nor recorded by the circuit breaker (it reports the breaker's state), truthy
only when the backend is up *and* accepts the configured credential, with a ``reason``;
never raises, a closed client included. An operation that needs no credential is sent
without one. An async client used from a second event loop raises ``WrongEventLoopError``;
one garbage-collected unclosed warns naming itself, not aiohttp's "Unclosed client session".
The health tests run for both clients (``driver``); the event-loop ones concern the async
client only.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from finops_api_client import AsyncFinOpsClient
from pytest_httpserver import HTTPServer

from reference_backend import ReferenceBackend
from resilience import (
    APIError,
    CircuitBreakerConfig,
    InsecureTransportError,
    InternalServerError,
    RetryBudget,
    WrongEventLoopError,
)
from tests.support import API_KEY, TOKEN, Driver, base, page, resources

HEALTHY = {"status": "ok", "timestamp": "2026-11-29T10:00:00Z"}
PAGE = page()
HEALTH_ENDPOINT = "GET /api/health"
LISTING = "GET /api/resources"


class Wire:
    """An in-memory backend for ``httpx.MockTransport``: answers by path, records every
    request. An answer is ``(status, json body)`` or an exception to raise."""

    def __init__(
        self,
        health: tuple[int, Any] | Exception = (200, HEALTHY),
        listing: tuple[int, Any] | Exception = (200, PAGE),
    ) -> None:
        self.health = health
        self.listing = listing
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.health if request.url.path == "/api/health" else self.listing
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        headers = {"Retry-After": "0"} if status in (429, 503) else {}
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def open_on(driver: Driver, wire: Wire, url: str = "https://finops.test", **kwargs: Any) -> Driver:
    kwargs.setdefault("api_key", API_KEY)
    return driver.open(url, transport=wire.transport, **kwargs)


# --------------------------------------------------------------------------- one quick attempt


@pytest.mark.parametrize(
    ("failure", "reason"),
    [((503, {"error": {"code": "down"}}), "unhealthy"), (httpx.ConnectError("refused"), "unreachable")],
    ids=["503", "connect-error"],
)
async def test_health_check_is_one_attempt_without_retry_or_sleep(
    driver: Driver, failure: tuple[int, Any] | Exception, reason: str
) -> None:
    wire = Wire(health=failure)
    open_on(driver, wire, max_retries=3)
    report = await driver.call("health_check")
    assert wire.paths() == ["/api/health"], "retried"
    assert driver.ft.sleeps == []
    assert not report
    assert report.reason == reason


async def test_health_check_leaves_the_retry_budget_alone(driver: Driver) -> None:
    budget = RetryBudget(percent=1.0, min_per_second=0.0, clock=driver.ft.clock)
    wire = Wire()
    open_on(driver, wire, retry_budget=budget)
    assert budget.balance() == 0
    assert await driver.call("health_check")
    assert budget.balance() == 0, "the health check deposited into the retry budget"
    await driver.call("get_resources")
    assert budget.balance() == 1  # a real call does


# --------------------------------------------------------------------------- the breaker: reported, not fed, not obeyed


async def test_failing_health_checks_do_not_open_the_breaker(driver: Driver) -> None:
    wire = Wire(health=(503, {"error": {"code": "down"}}))
    open_on(driver, wire, circuit_breaker_config=CircuitBreakerConfig(failure_threshold=1))
    breaker = driver.client.circuit_breaker
    assert breaker is not None
    before = breaker.snapshot()
    for _ in range(3):
        report = await driver.call("health_check")
        assert report.reason == "unhealthy"
        assert report.circuit_breaker == "closed"
    assert wire.paths() == ["/api/health"] * 3
    assert breaker.snapshot() == before, "the health check fed the breaker"


@pytest.mark.parametrize("how", ["opened", "forced_open"])
async def test_an_open_breaker_does_not_stop_the_health_check(driver: Driver, how: str) -> None:
    wire = Wire(listing=(503, {"error": {"code": "down"}}))
    open_on(driver, wire, max_retries=0, circuit_breaker_config=CircuitBreakerConfig(failure_threshold=1))
    breaker = driver.client.circuit_breaker
    assert breaker is not None
    if how == "opened":
        with pytest.raises(InternalServerError):
            await driver.call("get_resources")  # a real call's failure opens it
    else:
        breaker.force_open()
    state = breaker.state.value
    assert state in ("open", "forced_open")
    wire.listing = (200, page())  # the backend is back; the breaker does not know yet
    sent = len(wire.requests)
    report = await driver.call("health_check")
    assert wire.paths()[sent:] == ["/api/health", "/api/resources"], "refused by the breaker"
    assert report
    assert report.reason == "ok"
    assert report.circuit_breaker == state
    assert breaker.state.value == state, "the health check changed the breaker's state"


# --------------------------------------------------------------------------- the credential


@pytest.fixture(scope="module")
def guarded() -> Any:
    with ReferenceBackend(api_key=API_KEY, require_auth=True) as backend:
        yield backend


@pytest.mark.parametrize(
    ("key", "reason"),
    [(API_KEY, "ok"), ("sk-wrong-0000", "unauthorized"), (None, "unauthorized")],
    ids=["right-key", "wrong-key", "no-key"],
)
async def test_health_check_says_whether_the_credential_is_accepted(
    driver: Driver, guarded: ReferenceBackend, key: str | None, reason: str
) -> None:
    guarded.reset()
    driver.open(guarded.url, api_key=key, record=True)
    report = await driver.call("health_check")
    assert bool(report) is (reason == "ok")
    assert report.healthy is (reason == "ok")
    assert report.reason == reason
    if reason == "ok":
        assert (report.endpoint, report.http_status, report.status) == (HEALTH_ENDPOINT, 200, "ok")
    else:
        assert (report.endpoint, report.http_status) == (LISTING, 401)
        assert report.error
        assert key is None or key not in report.error
    health, listing = driver.requests
    assert health.url.path == "/api/health"
    assert "x-api-key" not in health.headers, "the health GET carried a credential it does not need"
    assert listing.url.path == "/api/resources"
    assert listing.url.params["limit"] == "1"
    assert listing.headers.get("x-api-key") == key


@pytest.mark.parametrize(
    ("wire", "reason", "endpoint", "http_status", "status"),
    [
        (Wire(), "ok", HEALTH_ENDPOINT, 200, "ok"),
        (Wire(health=(200, {"status": "degraded"})), "ok", HEALTH_ENDPOINT, 200, "degraded"),
        (Wire(health=(200, {"status": "down"})), "unhealthy", HEALTH_ENDPOINT, 200, "down"),
        (Wire(health=(200, "<html>up</html>")), "unhealthy", HEALTH_ENDPOINT, 200, None),
        (Wire(health=(500, {"error": {"code": "boom"}})), "unhealthy", HEALTH_ENDPOINT, 500, None),
        (Wire(health=(429, {"error": {"code": "slow"}})), "rate_limited", HEALTH_ENDPOINT, 429, None),
        (Wire(health=httpx.ReadTimeout("slow")), "unreachable", HEALTH_ENDPOINT, None, None),
        (Wire(listing=(401, {"error": {"code": "unauthorized"}})), "unauthorized", LISTING, 401, None),
        (Wire(listing=(403, {"error": {"code": "forbidden"}})), "forbidden", LISTING, 403, None),
        (Wire(listing=(429, {"error": {"code": "slow"}})), "rate_limited", LISTING, 429, None),
        (Wire(listing=httpx.ConnectError("refused")), "unreachable", LISTING, None, None),
        (Wire(health=(404, {"error": {"code": "not_found"}})), "ok", LISTING, 200, "ok"),
        (Wire(health=(404, {}), listing=(401, {})), "unauthorized", LISTING, 401, None),
    ],
    ids=[
        "ok",
        "degraded",
        "down",
        "not-json",
        "500",
        "429",
        "timeout",
        "listing-401",
        "listing-403",
        "listing-429",
        "listing-unreachable",
        "no-health-endpoint",
        "no-health-endpoint-401",
    ],
)
async def test_health_report_reason(
    driver: Driver, wire: Wire, reason: str, endpoint: str, http_status: int | None, status: str | None
) -> None:
    wire.requests = []
    open_on(driver, wire)
    report = await driver.call("health_check")
    assert bool(report) is (reason == "ok")
    assert (report.endpoint, report.http_status, report.status) == (endpoint, http_status, status)
    assert report.reason == reason
    assert (report.error is None) is (reason == "ok")
    assert report.latency is not None
    assert report.latency >= 0


async def test_health_check_after_close_reports_closed(driver: Driver) -> None:
    wire = Wire()
    open_on(driver, wire)
    await driver.close()
    report = await driver.call("health_check")  # does not raise
    assert not report
    assert report.reason == "closed"
    assert report.error is not None
    assert "closed" in report.error
    assert wire.requests == []


# --------------------------------------------------------------------------- no credential where none is needed


@pytest.mark.parametrize(
    ("options", "header"),
    [
        ({"api_key": API_KEY}, "x-api-key"),
        ({"api_key": TOKEN, "auth_type": "bearer"}, "authorization"),
        ({"api_key": "alice:pw-s3cr3t-9x", "auth_type": "basic"}, "authorization"),
    ],
    ids=["api_key", "bearer", "basic"],
)
async def test_an_operation_needing_no_credential_is_sent_without_one(
    driver: Driver, options: dict[str, Any], header: str
) -> None:
    wire = Wire()
    open_on(driver, wire, **options)
    await driver.call("get_health")
    await driver.call("get_resources")
    health, listing = wire.requests
    assert header not in health.headers
    assert header in listing.headers


async def test_plain_http_refuses_a_credential_not_a_request_that_needs_none(driver: Driver) -> None:
    """Over plain http to a remote host the credential is refused (InsecureTransportError), but
    the health GET carries none: nothing to refuse. The health check says which."""
    wire = Wire()
    open_on(driver, wire, url="http://finops.example.test")
    health = await driver.call("get_health")
    assert health.status.value == "ok"
    with pytest.raises(InsecureTransportError):
        await driver.call("get_resources")
    report = await driver.call("health_check")
    assert report.reason == "misconfigured"
    assert report.endpoint == LISTING
    assert wire.paths() == ["/api/health", "/api/health"]


# --------------------------------------------------------------------------- one event loop per async client


def _serve(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/resources").respond_with_json(page())
    httpserver.expect_request("/api/health").respond_with_json(HEALTHY)


def _from_second_loop_every_call_is_refused(client: AsyncFinOpsClient, httpserver: HTTPServer) -> None:
    sent = len(httpserver.log)
    calls: list[Callable[[], Any]] = [
        lambda: client.get_resources(),
        lambda: client.post_resources(resources(3)),
        lambda: _collect(client),
    ]
    for call in calls:
        with pytest.raises(WrongEventLoopError) as info:
            asyncio.run(call())
        assert isinstance(info.value, APIError)
        assert "event loop" in str(info.value)
    report = asyncio.run(client.health_check())  # never raises
    assert not report
    assert report.reason == "misconfigured"
    assert report.error is not None
    assert "event loop" in report.error
    assert len(httpserver.log) == sent, "something was sent from the second loop"


async def _collect(client: AsyncFinOpsClient) -> list[Any]:
    return [item async for item in client.iter_resources()]


def test_async_client_first_used_in_one_loop_refuses_another(httpserver: HTTPServer) -> None:
    _serve(httpserver)
    client = AsyncFinOpsClient(base(httpserver), api_key=API_KEY)  # outside any loop
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(client.get_resources())  # the client now belongs to this loop
        _from_second_loop_every_call_is_refused(client, httpserver)
        assert loop.run_until_complete(client.health_check())  # its own loop still works
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()


def test_async_client_created_in_one_loop_refuses_another(httpserver: HTTPServer) -> None:
    _serve(httpserver)

    async def create() -> AsyncFinOpsClient:
        return AsyncFinOpsClient(base(httpserver), api_key=API_KEY)

    loop = asyncio.new_event_loop()
    try:
        client = loop.run_until_complete(create())
        _from_second_loop_every_call_is_refused(client, httpserver)
        assert len(httpserver.log) == 0
        loop.run_until_complete(client.get_resources())
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()


# --------------------------------------------------------------------------- an unclosed async client


def _check_unclosed_warnings(seen: list[warnings.WarningMessage], caplog: pytest.LogCaptureFixture) -> None:
    messages = [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)]
    ours = [m for m in messages if "finops_api_client.AsyncFinOpsClient" in m]
    assert len(ours) == 1, messages
    assert "never closed" in ours[0]
    assert "aclose()" in ours[0]
    assert not [m for m in messages if "Unclosed client session" in m or "Unclosed connector" in m], messages
    assert "Unclosed client session" not in caplog.text
    assert "Unclosed connector" not in caplog.text


async def _used_then_dropped(url: str) -> None:
    client = AsyncFinOpsClient(url, api_key=API_KEY)
    await client.get_resources()  # an open connection in aiohttp's pool


def test_unclosed_async_client_warns_naming_itself_after_its_loop(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    _serve(httpserver)
    caplog.set_level(logging.ERROR, logger="asyncio")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        asyncio.run(_used_then_dropped(base(httpserver)))
        gc.collect()
    _check_unclosed_warnings(seen, caplog)


async def test_unclosed_async_client_warns_naming_itself_in_its_loop(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    _serve(httpserver)
    caplog.set_level(logging.ERROR, logger="asyncio")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        await _used_then_dropped(base(httpserver))
        gc.collect()
        await asyncio.sleep(0)  # the dropped connections finish closing
    _check_unclosed_warnings(seen, caplog)


async def test_closed_async_client_does_not_warn(httpserver: HTTPServer) -> None:
    _serve(httpserver)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        async with AsyncFinOpsClient(base(httpserver), api_key=API_KEY) as client:
            await client.get_resources()
        del client
        gc.collect()
    assert not [w for w in seen if issubclass(w.category, ResourceWarning)], [str(w.message) for w in seen]
