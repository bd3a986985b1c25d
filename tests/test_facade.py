"""Feature tests of the facades ``FinOpsClient`` and ``AsyncFinOpsClient`` against the reference
backend and pytest-httpserver.

Every feature of the old ``HTTPClient`` (see the seed summary) must exist in both: construction
and env defaults, auth switching, timeouts, circuit breaker control, metrics, the data methods
with contract validation, iterators, health check and dry run. Each behaviour is one test run
for both clients (the ``mode`` fixture, through ``tests.support.Driver``); the few that only one
client has say why. The async client uses its default inner transport (httpx-aiohttp) unless a
test records requests. No test waits for real: retries and breaker waits go through the fake
``sleep`` / ``asleep`` of ``FakeTime``, which advance its fake ``clock``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import httpx
import pytest
from finops_api_client import AsyncFinOpsClient, FinOpsClient
from finops_api_client.models import (
    ApprovalStatus,
    CostAnomaly,
    CostOptimization,
    OptimizationStatus,
    ResourceInventory,
    RiskLevel,
    Severity,
)
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from reference_backend import ReferenceBackend
from resilience import (
    ApiKeyAuth,
    BadRequestError,
    BearerAuth,
    CircuitBreakerTransport,
    CircuitOpenError,
    CircuitState,
    ConfigurationError,
    DryRun,
    InsecureTransportError,
    InternalServerError,
    NotFoundError,
    RequestValidationError,
)
from tests.support import (
    API_KEY,
    BASIC,
    TOKEN,
    Driver,
    FakeTime,
    anomaly,
    base,
    forecast,
    layers,
    optimization,
    page,
    resource,
    resources,
    unused_port,
)

# --------------------------------------------------------------------------- helpers

UNUSED_URL = "http://127.0.0.1:5002"  # construction only: nothing is sent


@pytest.fixture(scope="module")
def _server() -> Iterator[ReferenceBackend]:
    with ReferenceBackend(api_key=API_KEY, bearer_token=TOKEN, basic=BASIC, require_auth=True) as b:
        yield b


@pytest.fixture
def backend(_server: ReferenceBackend) -> ReferenceBackend:
    _server.reset()
    return _server


@pytest.fixture
def d(driver: Driver, backend: ReferenceBackend) -> Driver:
    """A client of the ``mode`` on the reference backend, on fake time."""
    return driver.open(backend.url, api_key=API_KEY)


# --------------------------------------------------------------------------- 1. construction


async def test_env_defaults_url_and_key(
    driver: Driver, monkeypatch: pytest.MonkeyPatch, backend: ReferenceBackend
) -> None:
    monkeypatch.setenv("FINOPS_API_URL", backend.url)
    monkeypatch.setenv("FINOPS_API_KEY", API_KEY)
    async with driver.open() as d:
        assert d.client.base_url.rstrip("/") == backend.url
        assert d.client.dry_run is False
        assert isinstance(d.client.auth, ApiKeyAuth)
        await d.call("get_resources", limit=1)
    assert backend.stats().auth_failures == 0


async def test_default_base_url_without_env(driver: Driver) -> None:
    async with driver.open() as d:
        assert d.client.base_url.rstrip("/") == "http://localhost:5002"
        assert d.client.auth is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("1", True),
        ("YES", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("off", False),
        ("", False),
    ],
)
async def test_env_dry_run_flag(driver: Driver, monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("FINOPS_DRY_RUN", raw)
    async with driver.open(UNUSED_URL) as d:
        assert d.client.dry_run is expected


async def test_env_dry_run_invalid(driver: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINOPS_DRY_RUN", "maybe")
    with pytest.raises(ConfigurationError, match="FINOPS_DRY_RUN"):
        driver.open(UNUSED_URL)


async def test_explicit_args_beat_env(
    driver: Driver, monkeypatch: pytest.MonkeyPatch, backend: ReferenceBackend
) -> None:
    monkeypatch.setenv("FINOPS_API_URL", f"http://127.0.0.1:{unused_port()}")
    monkeypatch.setenv("FINOPS_API_KEY", "wrong-key")
    monkeypatch.setenv("FINOPS_DRY_RUN", "true")
    async with driver.open(backend.url, api_key=API_KEY, dry_run=False) as d:
        assert d.client.dry_run is False
        assert (await d.post_resources([resource(1)])).ok
    stats = backend.stats()
    assert stats.auth_failures == 0
    assert stats.items_stored == 1


async def test_auth_object_beats_env_key(
    driver: Driver, monkeypatch: pytest.MonkeyPatch, backend: ReferenceBackend
) -> None:
    monkeypatch.setenv("FINOPS_API_KEY", "wrong-key")
    async with driver.open(backend.url, auth=BearerAuth(TOKEN)) as d:
        await d.call("get_resources", limit=1)
    assert backend.stats().auth_failures == 0


@pytest.mark.parametrize(
    ("credential", "auth_type"),
    [(API_KEY, "api_key"), (TOKEN, "bearer"), (f"{BASIC[0]}:{BASIC[1]}", "basic"), (BASIC, "basic")],
    ids=["api_key", "bearer", "basic-str", "basic-tuple"],
)
async def test_auth_types_authenticate(
    driver: Driver, backend: ReferenceBackend, credential: Any, auth_type: str
) -> None:
    async with driver.open(backend.url, api_key=credential, auth_type=auth_type) as d:
        await d.call("get_resources", limit=1)
    assert backend.stats().auth_failures == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"api_key": API_KEY, "auth": BearerAuth(TOKEN)},
        {"auth": ("user", "pw")},
        {"api_key": API_KEY, "auth_type": "digest"},
        {"api_key": "no-colon", "auth_type": "basic"},
        {"api_key": "", "auth_type": "bearer"},
        {"max_retries": -1},
        {"max_response_bytes": 0},
    ],
    ids=[
        "auth-and-key",
        "auth-not-httpx",
        "unknown-auth-type",
        "basic-no-colon",
        "empty-token",
        "neg-retries",
        "max-bytes-0",
    ],
)
async def test_bad_settings_rejected(driver: Driver, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        driver.open(UNUSED_URL, **kwargs)


# Async only: the sync client sends a batch's chunks one after another and has no batch_concurrency.
@pytest.mark.parametrize("concurrency", [0, True], ids=["concurrency-0", "concurrency-bool"])
async def test_bad_batch_concurrency_rejected(concurrency: Any) -> None:
    with pytest.raises(ConfigurationError):
        AsyncFinOpsClient(UNUSED_URL, batch_concurrency=concurrency)


@pytest.mark.parametrize(
    "url",
    ["", "ftp://x", "localhost:5002", "http://", "http://u:p@host", "http://h/?q=1", "http://h/#frag"],
)
async def test_invalid_base_url(driver: Driver, url: str) -> None:
    with pytest.raises(ConfigurationError):
        driver.open(url)


async def test_invalid_base_url_makes_no_request(
    mode: str, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/api/resources").respond_with_json(page())
    port = httpserver.port
    for url in (f"http://u:p@{httpserver.host}:{port}", f"http://{httpserver.host}:{port}/?q=1"):
        with pytest.raises(ConfigurationError):
            Driver(mode).open(url, api_key=API_KEY)
    monkeypatch.setenv("FINOPS_API_URL", f"ftp://{httpserver.host}:{port}")
    with pytest.raises(ConfigurationError):
        Driver(mode).open()
    assert httpserver.log == []


@pytest.mark.parametrize("seconds", [0, -1, math.nan, math.inf, "30", True])
async def test_bad_timeout(driver: Driver, seconds: Any) -> None:
    with pytest.raises(ConfigurationError):
        driver.open(UNUSED_URL, timeout=seconds)


async def test_context_manager_closes(mode: str) -> None:
    async with Driver(mode).open(UNUSED_URL) as d:  # the client's own ``with`` / ``async with``
        assert not d.client.httpx_client.is_closed
    assert d.client.httpx_client.is_closed
    d2 = Driver(mode).open(UNUSED_URL)
    await d2.close()  # ``close()`` / ``aclose()``
    assert d2.client.httpx_client.is_closed


@pytest.mark.parametrize(
    ("credential", "auth_type"),
    [(API_KEY, "api_key"), (TOKEN, "bearer"), (BASIC, "basic")],
    ids=["api_key", "bearer", "basic"],
)
async def test_repr_has_no_secret(driver: Driver, credential: Any, auth_type: str) -> None:
    secrets = [API_KEY, TOKEN, BASIC[1], base64.b64encode(f"{BASIC[0]}:{BASIC[1]}".encode()).decode()]
    async with driver.open(UNUSED_URL, api_key=credential, auth_type=auth_type) as d:
        c = d.client
        texts = [repr(c), str(c), repr(c.auth), repr(c.circuit_breaker)]
    for text in texts:
        for secret in secrets:
            assert secret not in text


# --------------------------------------------------------------------------- 2. run-time config


async def test_set_authentication_switches_headers(driver: Driver, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/resources").respond_with_json(page())
    async with driver.open(base(httpserver), api_key="k1", headers={"X-Team": "finops"}) as d:
        c = d.client
        steps: list[tuple[Callable[[], None], dict[str, str | None]]] = [
            (lambda: None, {"x-api-key": "k1", "authorization": None}),
            (lambda: c.set_authentication("t1", "bearer"), {"x-api-key": None, "authorization": "Bearer t1"}),
            (
                lambda: c.set_authentication("bob:pa:ss", "basic"),
                {"x-api-key": None, "authorization": "Basic " + base64.b64encode(b"bob:pa:ss").decode()},
            ),
            (
                lambda: c.set_authentication(("carol", "pw2"), "basic"),
                {"x-api-key": None, "authorization": "Basic " + base64.b64encode(b"carol:pw2").decode()},
            ),
            (lambda: c.set_authentication("k2", "api_key"), {"x-api-key": "k2", "authorization": None}),
            (lambda: c.set_authentication(BearerAuth("t2")), {"x-api-key": None, "authorization": "Bearer t2"}),
            (lambda: c.set_authentication(None), {"x-api-key": None, "authorization": None}),
        ]
        for switch, expected in steps:
            switch()
            await d.call("get_resources", limit=1)
            seen = httpserver.log[-1][0].headers
            for name, value in expected.items():
                assert seen.get(name) == value, (name, expected)
            assert seen.get("x-team") == "finops"
    assert len(httpserver.log) == len(steps)


async def test_set_authentication_rejects_bad_type(driver: Driver) -> None:
    async with driver.open(UNUSED_URL, api_key=API_KEY) as d:
        with pytest.raises(ConfigurationError):
            d.client.set_authentication("x", "kerberos")  # type: ignore[arg-type]
        assert isinstance(d.client.auth, ApiKeyAuth)


async def test_credentials_never_sent_over_plain_http_to_remote_host(driver: Driver) -> None:
    async with driver.open("http://finops.invalid", api_key=API_KEY) as d:
        with pytest.raises(InsecureTransportError):
            await d.call("get_resources")
        report = await d.call("health_check")
    assert not report
    assert report.error


async def test_set_timeout_takes_effect(driver: Driver, backend: ReferenceBackend) -> None:
    async with driver.open(backend.url, api_key=API_KEY, record=True) as d:
        c = d.client
        assert c.httpx_client.timeout == httpx.Timeout(30.0)  # the default
        c.set_timeout(2.5)
        assert c.httpx_client.timeout == httpx.Timeout(2.5)
        await d.call("get_resources", limit=1)
        assert d.requests[-1].extensions["timeout"] == dict.fromkeys(("connect", "read", "write", "pool"), 2.5)
        c.set_timeout(httpx.Timeout(1.0, connect=3.0))
        await d.call("get_resources", limit=1)
        assert d.requests[-1].extensions["timeout"]["connect"] == 3.0
        assert d.requests[-1].extensions["timeout"]["read"] == 1.0
        for bad in (0, -1, math.nan, "30"):
            with pytest.raises(ConfigurationError):
                c.set_timeout(bad)  # type: ignore[arg-type]
        assert c.httpx_client.timeout == httpx.Timeout(1.0, connect=3.0)


async def test_force_open_rejects_without_request(d: Driver, backend: ReferenceBackend) -> None:
    breaker = d.client.circuit_breaker
    assert breaker is not None
    before = backend.stats().requests_total
    breaker.force_open()
    assert breaker.state is CircuitState.FORCED_OPEN
    with pytest.raises(CircuitOpenError):
        await d.call("get_resources")
    with pytest.raises(CircuitOpenError):
        await d.call("approve_optimization", "opt-1")
    result = await d.post_resources([resource(1), resource(2)])
    assert result.accepted == ()
    assert [type(f.error) for f in result.not_delivered] == [CircuitOpenError]
    assert backend.stats().requests_total == before
    breaker.reset()
    assert breaker.state is CircuitState.CLOSED  # type: ignore[comparison-overlap]  # mypy narrowed it; reset() changed it
    await d.call("get_resources")
    assert backend.stats().requests_total == before + 1


async def test_breaker_opens_by_default_on_consecutive_503(driver: Driver, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/resources").respond_with_json({"error": {"code": "x"}}, status=503)
    async with driver.open(base(httpserver), max_retries=0) as d:
        for _ in range(5):
            with pytest.raises(InternalServerError):
                await d.call("get_resources")
        with pytest.raises(CircuitOpenError):
            await d.call("get_resources")
    assert len(httpserver.log) == 5


async def test_breaker_disabled(driver: Driver, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/resources").respond_with_json({"error": {"code": "x"}}, status=503)
    async with driver.open(base(httpserver), enable_circuit_breaker=False, max_retries=0) as d:
        assert d.client.circuit_breaker is None
        assert not any(isinstance(t, CircuitBreakerTransport) for t in layers(d.client))
        for _ in range(20):
            with pytest.raises(InternalServerError):
                await d.call("get_resources")
        assert d.client.get_performance_metrics()["circuit_breaker"]["state"] == "disabled"
    assert len(httpserver.log) == 20


async def test_performance_monitoring_disabled(d: Driver, ft: FakeTime, backend: ReferenceBackend) -> None:
    async with Driver(d.mode, ft).open(backend.url, api_key=API_KEY, enable_performance_monitoring=False) as off:
        assert off.client.metrics is None
        await off.call("get_resources")
        metrics = off.client.get_performance_metrics()
        assert metrics["enabled"] is False
        assert metrics["global_metrics"] == {}
        assert off.client.get_metrics_snapshot() is None
        off.client.reset_performance_metrics()
    assert d.client.metrics is not None


# --------------------------------------------------------------------------- 3. data methods


async def test_data_methods_keep_old_names(d: Driver, backend: ReferenceBackend) -> None:
    r = await d.post_resources([ResourceInventory.from_dict(resource(0)), resource(1)])
    assert r.ok
    assert r.accepted == (0, 1)
    o = await d.call(
        "post_optimizations", [CostOptimization.from_dict(optimization(1)), optimization(2), optimization(3)]
    )
    assert o.ok
    assert o.accepted == (0, 1, 2)
    a = await d.call("post_anomalies", [anomaly(1), CostAnomaly.from_dict(anomaly(2))])
    assert a.ok
    f = await d.call("post_budget_forecasts", [forecast(1)])
    assert f.ok
    assert sorted(backend.stored_ids("resources")) == ["r-0000", "r-0001"]
    assert sorted(x.resource_id for x in (await d.call("get_resources")).data) == ["r-0000", "r-0001"]
    assert sorted(x.optimization_id for x in (await d.call("get_optimizations")).data) == ["opt-1", "opt-2", "opt-3"]
    assert sorted(x.anomaly_id for x in (await d.call("get_anomalies")).data) == ["anom-1", "anom-2"]
    assert [x.budget_id for x in (await d.call("get_budget_forecasts")).data] == ["bud-1"]
    high = await d.call("get_optimizations", risk_level=RiskLevel.HIGH)
    assert [x.optimization_id for x in high.data] == ["opt-2"]

    approved = await d.call("approve_optimization", "opt-1", approved=True, comment="rightsizing ok")
    assert not isinstance(approved, DryRun)
    assert approved.status == ApprovalStatus.APPROVED
    assert approved.comment == "rightsizing ok"
    rejected = await d.call("approve_optimization", "opt-2", approved=False)
    assert not isinstance(rejected, DryRun)
    assert rejected.status == ApprovalStatus.REJECTED
    approved_now = await d.call("get_optimizations", status=OptimizationStatus.APPROVED)
    assert [x.optimization_id for x in approved_now.data] == ["opt-1"]
    assert backend.stats().decisions == 2
    with pytest.raises(NotFoundError):
        await d.call("approve_optimization", "opt-404")


def _bad(index_of_bad: int, make: Callable[[int], dict[str, Any]], **overrides: Any) -> list[Any]:
    items: list[Any] = [make(i) for i in range(3)]
    items[index_of_bad] = make(index_of_bad, **overrides)
    return items


def _without(make: Callable[[int], dict[str, Any]], field: str) -> list[Any]:
    items: list[Any] = [make(i) for i in range(3)]
    del items[2][field]
    return items


def _nan_in_big_list() -> list[Any]:
    items: list[Any] = resources(1200)
    items[699]["currentCost"] = math.nan
    return items


def _model_with_nan() -> list[Any]:
    return [resource(0), ResourceInventory(resource_id="r-x", resource_type="ec2", region="x", current_cost=math.nan)]


# (operation, items, index, field); index/field None: the whole argument is wrong.
VALIDATION_CASES: dict[str, tuple[str, Callable[[], Any], int | None, str | None]] = {
    "nan-cost": ("post_resources", lambda: _bad(2, resource, currentCost=math.nan), 2, "currentCost"),
    "plus-inf": ("post_resources", lambda: _bad(2, resource, currentCost=math.inf), 2, "currentCost"),
    "minus-inf": ("post_resources", lambda: _bad(2, resource, currentCost=-math.inf), 2, "currentCost"),
    "missing-required": ("post_resources", lambda: _without(resource, "region"), 2, "region"),
    "id-int": ("post_resources", lambda: _bad(2, resource, resourceId=123), 2, "resourceId"),
    "cost-str": ("post_resources", lambda: _bad(2, resource, currentCost="lots"), 2, "currentCost"),
    "cost-bool": ("post_resources", lambda: _bad(2, resource, currentCost=True), 2, "currentCost"),
    "unknown-enum": (
        "post_optimizations",
        lambda: _bad(2, optimization, optimizationType="DELETE"),
        2,
        "optimizationType",
    ),
    "negative-cost": ("post_resources", lambda: _bad(2, resource, currentCost=-0.01), 2, "currentCost"),
    "confidence-1.5": ("post_optimizations", lambda: _bad(2, optimization, confidenceScore=1.5), 2, "confidenceScore"),
    "id-257-chars": ("post_resources", lambda: _bad(2, resource, resourceId="x" * 257), 2, "resourceId"),
    "currency-lower": ("post_resources", lambda: _bad(2, resource, currency="usd"), 2, "currency"),
    "timestamp-yesterday": ("post_resources", lambda: _bad(2, resource, timestamp="yesterday"), 2, "timestamp"),
    "tag-not-string": ("post_resources", lambda: _bad(2, resource, tags={"env": 5}), 2, "tags.env"),
    "metric-nan": (
        "post_resources",
        lambda: _bad(2, resource, utilizationMetrics={"cpu": math.nan}),
        2,
        "utilizationMetrics.cpu",
    ),
    "anomaly-nan": ("post_anomalies", lambda: _bad(1, anomaly, actualCost=math.nan), 1, "actualCost"),
    "anomaly-severity": ("post_anomalies", lambda: _bad(0, anomaly, severity="SEVERE"), 0, "severity"),
    "forecast-date": ("post_budget_forecasts", lambda: _bad(2, forecast, periodStart="2026-13-01"), 2, "periodStart"),
    "forecast-negative": ("post_budget_forecasts", lambda: _bad(2, forecast, budgetAmount=-1), 2, "budgetAmount"),
    "model-nan": ("post_resources", _model_with_nan, 1, "currentCost"),
    "item-not-object": ("post_resources", lambda: [resource(0), 42], 1, None),
    "empty-list": ("post_resources", lambda: [], None, None),
    "dict-not-list": ("post_resources", lambda: resource(0), None, None),
    "str-not-list": ("post_resources", lambda: "r-0001", None, None),
    "generator": ("post_resources", lambda: (resource(i) for i in range(2)), None, None),
    "nan-at-699-of-1200": ("post_resources", _nan_in_big_list, 699, "currentCost"),
}


@pytest.mark.parametrize("case", list(VALIDATION_CASES))
async def test_validation_refuses_before_sending(d: Driver, backend: ReferenceBackend, case: str) -> None:
    operation, make_items, index, field = VALIDATION_CASES[case]
    before = backend.stats().requests_total
    with pytest.raises(RequestValidationError) as info:
        await d.call(operation, make_items())
    err = info.value
    assert err.index == index
    assert err.field == field
    if index is not None:
        assert f"item {index}" in str(err)
    if field is not None:
        assert field in str(err)
    assert backend.stats().requests_total == before
    assert backend.stats().items_stored == 0


QUERY_CASES: dict[str, Callable[[Driver], Awaitable[Any]]] = {
    "limit-0": lambda d: d.call("get_resources", limit=0),
    "limit-1001": lambda d: d.call("get_resources", limit=1001),
    "limit-bool": lambda d: d.call("get_resources", limit=True),
    "limit-str": lambda d: d.call("get_anomalies", limit="10"),
    "status-unknown": lambda d: d.call("get_optimizations", status="DONE"),
    "risk-unknown": lambda d: d.call("get_optimizations", risk_level="EXTREME"),
    "severity-unknown": lambda d: d.call("get_anomalies", severity="SEVERE"),
    "forecast-limit": lambda d: d.call("get_budget_forecasts", limit=-5),
    "approve-empty-id": lambda d: d.call("approve_optimization", ""),
    "approve-long-id": lambda d: d.call("approve_optimization", "o" * 129),
    "approve-long-comment": lambda d: d.call("approve_optimization", "opt-1", comment="c" * 1001),
    "approve-not-bool": lambda d: d.call("approve_optimization", "opt-1", approved="yes"),
    "iter-limit-0": lambda d: d.collect("iter_resources", limit=0),
    "iter-limit-1001": lambda d: d.collect("iter_resources", limit=1001),
}


@pytest.mark.parametrize("case", list(QUERY_CASES))
async def test_query_validation_before_sending(d: Driver, backend: ReferenceBackend, case: str) -> None:
    before = backend.stats().requests_total
    with pytest.raises(RequestValidationError):
        await QUERY_CASES[case](d)
    assert backend.stats().requests_total == before


# --------------------------------------------------------------------------- 5. iterators


async def test_iter_resources_follows_cursor(d: Driver, backend: ReferenceBackend) -> None:
    assert backend.add_items("resources", resources(50)) == []
    ids = [r.resource_id for r in await d.collect("iter_resources", limit=7)]
    assert len(ids) == 50
    assert sorted(ids) == [f"r-{i:04d}" for i in range(50)]
    assert backend.stats().requests_by_operation["get_resources"] == 8  # ceil(50 / 7)


async def test_iter_filters_pass_through(d: Driver, backend: ReferenceBackend) -> None:
    items = resources(50)
    backend.add_items("resources", items)
    backend.add_items("optimizations", [optimization(i) for i in range(20)])
    backend.add_items("anomalies", [anomaly(i) for i in range(20)])
    backend.add_items("forecasts", [forecast(i) for i in range(10)])
    got = [r.resource_id for r in await d.collect("iter_resources", resource_type="ec2", region="us-east-1", limit=3)]
    expected = [i["resourceId"] for i in items if i["resourceType"] == "ec2" and i["region"] == "us-east-1"]
    assert got == expected
    assert [r.resource_id for r in await d.collect("iter_resources", account_id="acct-1", limit=4)] == [
        i["resourceId"] for i in items if i["accountId"] == "acct-1"
    ]
    high = [o.optimization_id for o in await d.collect("iter_optimizations", risk_level=RiskLevel.HIGH, limit=2)]
    assert high == [f"opt-{i}" for i in range(20) if i % 3 == 2]
    crit = [a.anomaly_id for a in await d.collect("iter_anomalies", severity=Severity.CRITICAL, limit=2)]
    assert crit == [f"anom-{i}" for i in range(20) if i % 3 == 2]
    assert len(await d.collect("iter_budget_forecasts", limit=3)) == 10
    assert await d.collect("iter_resources", resource_type="nothing") == []


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("get_anomalies", {"severity": "CRITICAL"}),
        ("get_optimizations", {"status": "PENDING"}),
        ("iter_optimizations", {"risk_level": "HIGH"}),
    ],
    ids=["severity", "status", "risk_level"],
)
async def test_enum_filters_accept_plain_strings(
    d: Driver, backend: ReferenceBackend, method: str, kwargs: dict[str, str]
) -> None:
    backend.add_items("anomalies", [anomaly(2)])
    backend.add_items("optimizations", [optimization(2)])
    if method.startswith("iter_"):
        found = await d.collect(method, **kwargs)
    else:
        found = (await d.call(method, **kwargs)).data
    assert len(found) == 1


# --------------------------------------------------------------------------- 6. health check


@pytest.mark.parametrize(("status", "healthy"), [("ok", True), ("degraded", True), ("down", False)])
async def test_health_check_status(d: Driver, backend: ReferenceBackend, status: str, healthy: bool) -> None:
    backend.set_health_status(status)  # type: ignore[arg-type]
    report = await d.call("health_check")
    assert bool(report) is healthy
    assert report.endpoint == "GET /api/health"
    assert report.status == status
    assert report.http_status == 200
    assert isinstance(report.latency, float)
    assert report.latency >= 0
    assert report.circuit_breaker == "closed"


async def test_health_check_falls_back_to_resources(driver: Driver, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/health").respond_with_json({"error": {"code": "not_found"}}, status=404)
    httpserver.expect_request("/api/resources", query_string="limit=1").respond_with_json(page())
    async with driver.open(base(httpserver), api_key=API_KEY) as d:
        report = await d.call("health_check")
    assert report
    assert report.endpoint == "GET /api/resources"
    assert report.http_status == 200
    assert [req.path for req, _ in httpserver.log] == ["/api/health", "/api/resources"]
    assert httpserver.log[1][0].args["limit"] == "1"


async def test_health_check_unreachable_never_raises(driver: Driver) -> None:
    async with driver.open(f"http://127.0.0.1:{unused_port()}") as d:
        report = await d.call("health_check")
    assert not report
    assert report.error
    assert report.http_status is None
    assert report.latency is not None
    assert report.latency >= 0
    assert report.circuit_breaker in ("closed", "open")


async def test_health_check_outage_and_open_breaker(d: Driver, backend: ReferenceBackend) -> None:
    """An outage: unhealthy after one attempt. An open breaker is reported, not obeyed: the
    check still asks the backend (tests/test_health_and_loops.py has the details)."""
    backend.set_outage("503")
    before = backend.stats().requests_total
    report = await d.call("health_check")
    assert not report
    assert report.reason == "unhealthy"
    assert report.http_status == 503
    assert report.error
    assert backend.stats().requests_total == before + 1
    backend.set_outage(None)
    breaker = d.client.circuit_breaker
    assert breaker is not None
    breaker.force_open()
    report = await d.call("health_check")
    assert report
    assert report.circuit_breaker == "forced_open"
    assert backend.stats().requests_total == before + 3  # the health GET and the credential check


async def test_health_check_non_json_answer(driver: Driver, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/health").respond_with_data("OK", content_type="text/plain")
    async with driver.open(base(httpserver)) as d:
        report = await d.call("health_check")
    assert not report
    assert report.http_status == 200


# --------------------------------------------------------------------------- 7. dry run


@pytest.mark.parametrize("how", ["arg", "env"])
async def test_dry_run_sends_nothing(
    driver: Driver, backend: ReferenceBackend, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    kwargs: dict[str, Any] = {}
    if how == "arg":
        kwargs["dry_run"] = True
    else:
        monkeypatch.setenv("FINOPS_DRY_RUN", "1")
    backend.add_items("optimizations", [optimization(1)])
    async with driver.open(backend.url, api_key=API_KEY, **kwargs) as d:
        assert d.client.dry_run is True
        before = backend.stats().requests_total
        result = await d.post_resources(resources(1234))
        assert result.dry_run is not None
        assert result.dry_run.method == "POST"
        assert result.dry_run.route == "/api/resources"
        assert result.dry_run.item_count == 1234
        assert result.dry_run.chunks == ((0, 500), (500, 1000), (1000, 1234))
        assert result.accepted == ()
        assert result.ok is False
        assert result.total == 1234
        for post, item, route in (
            ("post_optimizations", optimization(5), "/api/optimizations"),
            ("post_anomalies", anomaly(5), "/api/anomalies"),
            ("post_budget_forecasts", forecast(5), "/api/budgets/forecasts"),
        ):
            r = await d.call(post, [item])
            assert r.dry_run is not None
            assert r.dry_run.route == route
            assert r.dry_run.item_count == 1
            assert r.accepted == ()
            assert not r.ok
        preview = await d.call("approve_optimization", "opt-1", approved=True, comment="ok")
        assert isinstance(preview, DryRun)
        assert preview.method == "POST"
        assert preview.route == "/api/optimizations/{optimizationId}/approve"
        assert preview.item_count == 1
        with pytest.raises(RequestValidationError):
            await d.post_resources([resource(0, currentCost=math.nan)])
        with pytest.raises(RequestValidationError):
            await d.call("approve_optimization", "opt-1", comment="c" * 1001)
        with pytest.raises(RequestValidationError):
            await d.call("approve_optimization", "opt-1", approved="no")
        assert backend.stats().requests_total == before
        assert backend.stats().items_stored == 1
        assert backend.stats().decisions == 0
        assert [o.status for o in (await d.call("get_optimizations")).data] == [OptimizationStatus.PENDING]
        assert backend.stats().requests_total == before + 1
        assert await d.call("health_check")


async def test_dry_run_false_in_env_does_send(
    driver: Driver, backend: ReferenceBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINOPS_DRY_RUN", "0")
    async with driver.open(backend.url, api_key=API_KEY) as d:
        assert (await d.post_resources([resource(1)])).ok
    assert backend.stats().items_stored == 1


# --------------------------------------------------------------------------- 8. metrics


GLOBAL_KEYS = {
    "request_count",
    "success_count",
    "error_count",
    "success_rate",
    "avg_response_time",
    "p50",
    "p95",
    "p99",
}
APPROVE_KEY = "POST /api/optimizations/{optimizationId}/approve"


async def test_performance_metrics(d: Driver) -> None:
    await d.post_resources(resources(3))
    await d.call("post_optimizations", [optimization(1)])
    await d.call("get_resources")
    await d.call("approve_optimization", "opt-1")
    with pytest.raises(NotFoundError):
        await d.call("approve_optimization", "opt-unknown-123")
    metrics = d.client.get_performance_metrics()
    assert metrics["enabled"] is True
    g = metrics["global_metrics"]
    assert set(g) >= GLOBAL_KEYS
    assert g["request_count"] == 5
    assert g["success_count"] == 4
    assert g["error_count"] == 1
    assert g["success_rate"] == pytest.approx(0.8)
    assert g["avg_response_time"] > 0
    assert 0 < g["p50"] <= g["p95"] <= g["p99"]
    endpoints = metrics["endpoint_metrics"]
    assert set(endpoints) == {"POST /api/resources", "POST /api/optimizations", "GET /api/resources", APPROVE_KEY}
    assert not any("opt-" in key for key in endpoints)
    approve = endpoints[APPROVE_KEY]
    assert approve["request_count"] == 2
    assert approve["success_count"] == 1
    assert approve["error_count"] == 1
    assert approve["failures"] == {"4xx": 1}
    assert set(approve) >= GLOBAL_KEYS
    cb = metrics["circuit_breaker"]
    assert cb["state"] == "closed"
    assert cb["failure_count"] == 0  # a 404 says the request was wrong, not the server


async def test_metrics_count_failures_and_breaker(driver: Driver, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/resources").respond_with_json({"error": {"code": "x"}}, status=503)
    async with driver.open(base(httpserver), max_retries=0) as d:
        for _ in range(2):
            with pytest.raises(InternalServerError):
                await d.call("get_resources")
        metrics = d.client.get_performance_metrics()
    assert metrics["global_metrics"]["error_count"] == 2
    assert metrics["global_metrics"]["success_rate"] == 0.0
    assert metrics["endpoint_metrics"]["GET /api/resources"]["failures"] == {"5xx": 2}
    assert metrics["circuit_breaker"]["failure_count"] == 2
    assert metrics["circuit_breaker"]["state"] == "closed"


async def test_reset_performance_metrics(d: Driver) -> None:
    await d.call("get_resources")
    await d.call("get_anomalies")
    d.client.reset_performance_metrics()
    metrics = d.client.get_performance_metrics()
    assert metrics["global_metrics"]["request_count"] == 0
    assert metrics["global_metrics"]["success_count"] == 0
    assert metrics["global_metrics"]["error_count"] == 0
    assert metrics["endpoint_metrics"] == {}
    await d.call("get_resources")
    assert d.client.get_performance_metrics()["global_metrics"]["request_count"] == 1


async def test_metrics_snapshot_is_frozen(d: Driver) -> None:
    await d.call("get_resources")
    snap = d.client.get_metrics_snapshot()
    assert snap is not None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snap.global_metrics = snap.global_metrics  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snap.global_metrics.requests = 99  # type: ignore[misc]
    op = snap.operations["GET /api/resources"]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        op.successes = 0  # type: ignore[misc]
    await d.call("get_resources")
    assert snap.global_metrics.requests == 1  # a snapshot does not move


async def test_metrics_snapshot_is_deeply_immutable(d: Driver) -> None:
    await d.call("get_resources")
    snap = d.client.get_metrics_snapshot()
    assert snap is not None
    with pytest.raises(TypeError):
        snap.operations["GET /forged"] = snap.global_metrics  # type: ignore[index]


# Sync only: threads are how sync callers share one client; async callers share one with tasks,
# which test_metrics_exact_under_tasks covers.
def test_metrics_exact_under_threads(backend: ReferenceBackend, ft: FakeTime) -> None:
    with FinOpsClient(backend.url, api_key=API_KEY, sleep=ft.sleep, clock=ft.clock) as client:

        def work(_: int) -> None:
            for _ in range(10):
                client.get_resources(limit=1)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(work, range(8)))
        g = client.get_performance_metrics()["global_metrics"]
    assert g["request_count"] == 80
    assert g["success_count"] == 80
    assert g["in_flight"] == 0
    assert backend.stats().requests_total == 80


# Async only: tasks on one event loop are how async callers share one client; sync callers
# share one with threads, which test_metrics_exact_under_threads covers.
async def test_metrics_exact_under_tasks(backend: ReferenceBackend, ft: FakeTime) -> None:
    async with AsyncFinOpsClient(backend.url, api_key=API_KEY, asleep=ft.asleep, clock=ft.clock) as client:
        await asyncio.gather(*(client.get_resources(limit=1) for _ in range(40)))
        g = client.get_performance_metrics()["global_metrics"]
    assert (g["request_count"], g["success_count"], g["in_flight"]) == (40, 40, 0)
    assert backend.stats().requests_total == 40


# --------------------------------------------------------------------------- retries and logging


async def test_retries_5xx_with_backoff_then_succeeds(driver: Driver, httpserver: HTTPServer, ft: FakeTime) -> None:
    calls = {"n": 0}
    lock = threading.Lock()

    def handler(_: Request) -> Response:
        with lock:
            calls["n"] += 1
            n = calls["n"]
        if n <= 2:
            return Response(json.dumps({"error": {"code": "busy"}}), status=503, content_type="application/json")
        return Response(json.dumps(page()), status=200, content_type="application/json")

    httpserver.expect_request("/api/resources").respond_with_handler(handler)
    async with driver.open(base(httpserver), max_retries=3) as d:
        assert (await d.call("get_resources")).data == []
        assert d.client.get_performance_metrics()["global_metrics"]["retries"] == 2
    assert calls["n"] == 3
    assert len(ft.sleeps) == 2


async def test_retries_stop_at_max_and_skip_4xx(driver: Driver, httpserver: HTTPServer, ft: FakeTime) -> None:
    httpserver.expect_request("/api/resources").respond_with_json({"error": {"code": "x"}}, status=500)
    httpserver.expect_request("/api/anomalies").respond_with_json({"error": {"code": "bad"}}, status=400)
    async with driver.open(base(httpserver), max_retries=2) as d:
        with pytest.raises(InternalServerError):
            await d.call("get_resources")
        assert len(httpserver.log) == 3
        with pytest.raises(BadRequestError):
            await d.call("get_anomalies")
        assert len(httpserver.log) == 4
    assert len(ft.sleeps) == 2


async def test_debug_logs_are_redacted(d: Driver, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="resilience"):
        await d.post_resources([resource(1)])
        await d.call("get_resources")
    assert "request POST /api/resources" in caplog.text
    assert API_KEY not in caplog.text
