"""Feature tests of ``AsyncFinOpsClient``: the async twin of ``tests/test_facade.py``.

The async stack uses its default inner transport (httpx-aiohttp) unless a test wraps it to
record requests. No test waits for real: ``asleep`` is a fake that advances a fake ``clock``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import attrs
import httpx
import pytest
from finops_api_client import AsyncFinOpsClient
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
    InternalServerError,
    MetricsTransport,
    NotFoundError,
    RequestValidationError,
    default_async_transport,
)
from tests.support import (
    API_KEY,
    BASIC,
    TOKEN,
    FakeTime,
    anomaly,
    base,
    forecast,
    layers,
    optimization,
    page,
    resource,
    unused_port,
)

# --------------------------------------------------------------------------- helpers


class Recorder(httpx.AsyncBaseTransport):
    """Innermost transport: records what goes on the wire, then sends it with the default transport."""

    def __init__(self) -> None:
        self.wrapped = default_async_transport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.wrapped.handle_async_request(request)

    async def aclose(self) -> None:
        await self.wrapped.aclose()


@pytest.fixture(scope="module")
def _server() -> Iterator[ReferenceBackend]:
    with ReferenceBackend(api_key=API_KEY, bearer_token=TOKEN, basic=BASIC, require_auth=True) as b:
        yield b


@pytest.fixture
def backend(_server: ReferenceBackend) -> ReferenceBackend:
    _server.reset()
    return _server


@pytest.fixture
async def client(backend: ReferenceBackend, ft: FakeTime) -> AsyncIterator[AsyncFinOpsClient]:
    async with AsyncFinOpsClient(backend.url, api_key=API_KEY, asleep=ft.asleep, clock=ft.clock) as c:
        yield c


# --------------------------------------------------------------------------- 1. construction


async def test_env_defaults_url_and_key(monkeypatch: pytest.MonkeyPatch, backend: ReferenceBackend) -> None:
    monkeypatch.setenv("FINOPS_API_URL", backend.url)
    monkeypatch.setenv("FINOPS_API_KEY", API_KEY)
    async with AsyncFinOpsClient() as c:
        assert c.base_url.rstrip("/") == backend.url
        assert c.dry_run is False
        assert isinstance(c.auth, ApiKeyAuth)
        await c.get_resources(limit=1)
    assert backend.stats().auth_failures == 0


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("0", False), ("off", False)])
async def test_env_dry_run_flag(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("FINOPS_DRY_RUN", raw)
    async with AsyncFinOpsClient("http://127.0.0.1:5002") as c:
        assert c.dry_run is expected


async def test_env_dry_run_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINOPS_DRY_RUN", "maybe")
    with pytest.raises(ConfigurationError, match="FINOPS_DRY_RUN"):
        AsyncFinOpsClient("http://127.0.0.1:5002")


async def test_explicit_args_beat_env(monkeypatch: pytest.MonkeyPatch, backend: ReferenceBackend) -> None:
    monkeypatch.setenv("FINOPS_API_URL", f"http://127.0.0.1:{unused_port()}")
    monkeypatch.setenv("FINOPS_API_KEY", "wrong-key")
    monkeypatch.setenv("FINOPS_DRY_RUN", "true")
    async with AsyncFinOpsClient(backend.url, api_key=API_KEY, dry_run=False) as c:
        assert c.dry_run is False
        assert (await c.post_resources([resource(1)])).ok
    assert backend.stats().auth_failures == 0
    assert backend.stats().items_stored == 1


async def test_auth_object_beats_env_key(monkeypatch: pytest.MonkeyPatch, backend: ReferenceBackend) -> None:
    monkeypatch.setenv("FINOPS_API_KEY", "wrong-key")
    async with AsyncFinOpsClient(backend.url, auth=BearerAuth(TOKEN)) as c:
        await c.get_resources(limit=1)
    assert backend.stats().auth_failures == 0


@pytest.mark.parametrize(
    ("credential", "auth_type"),
    [(API_KEY, "api_key"), (TOKEN, "bearer"), (f"{BASIC[0]}:{BASIC[1]}", "basic"), (BASIC, "basic")],
    ids=["api_key", "bearer", "basic-str", "basic-tuple"],
)
async def test_auth_types_authenticate(backend: ReferenceBackend, credential: Any, auth_type: str) -> None:
    async with AsyncFinOpsClient(backend.url, api_key=credential, auth_type=auth_type) as c:
        await c.get_resources(limit=1)
    assert backend.stats().auth_failures == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"api_key": API_KEY, "auth": BearerAuth(TOKEN)},
        {"auth": ("user", "pw")},
        {"api_key": API_KEY, "auth_type": "digest"},
        {"batch_concurrency": 0},
        {"batch_concurrency": True},
        {"max_retries": -1},
    ],
    ids=["auth-and-key", "auth-not-httpx", "unknown-auth-type", "concurrency-0", "concurrency-bool", "neg-retries"],
)
async def test_bad_settings_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        AsyncFinOpsClient("http://127.0.0.1:5002", **kwargs)


@pytest.mark.parametrize(
    "url",
    ["", "ftp://x", "localhost:5002", "http://", "http://u:p@host", "http://h/?q=1", "http://h/#frag"],
)
async def test_invalid_base_url(url: str) -> None:
    with pytest.raises(ConfigurationError):
        AsyncFinOpsClient(url)


async def test_invalid_base_url_makes_no_request(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/resources").respond_with_json(page())
    for url in (f"http://u:p@{httpserver.host}:{httpserver.port}", f"{base(httpserver)}/?q=1"):
        with pytest.raises(ConfigurationError):
            AsyncFinOpsClient(url, api_key=API_KEY)
    assert httpserver.log == []


@pytest.mark.parametrize("seconds", [0, -1, math.nan, "30", None])
async def test_bad_timeout(seconds: Any) -> None:
    with pytest.raises(ConfigurationError):
        AsyncFinOpsClient("http://127.0.0.1:5002", timeout=seconds)


async def test_context_manager_closes() -> None:
    async with AsyncFinOpsClient("http://127.0.0.1:5002") as c:
        assert not c.httpx_client.is_closed
    assert c.httpx_client.is_closed
    c2 = AsyncFinOpsClient("http://127.0.0.1:5002")
    await c2.aclose()
    assert c2.httpx_client.is_closed


@pytest.mark.parametrize(
    ("credential", "auth_type"),
    [(API_KEY, "api_key"), (TOKEN, "bearer"), (BASIC, "basic")],
    ids=["api_key", "bearer", "basic"],
)
async def test_repr_has_no_secret(credential: Any, auth_type: str) -> None:
    secrets = [API_KEY, TOKEN, BASIC[1], base64.b64encode(f"{BASIC[0]}:{BASIC[1]}".encode()).decode()]
    async with AsyncFinOpsClient("http://127.0.0.1:5002", api_key=credential, auth_type=auth_type) as c:
        texts = [repr(c), str(c), repr(c.auth)]
    for text in texts:
        for secret in secrets:
            assert secret not in text


# --------------------------------------------------------------------------- 2. run-time config


async def test_set_authentication_switches_headers(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/resources").respond_with_json(page())
    async with AsyncFinOpsClient(base(httpserver), api_key="k1", headers={"X-Team": "finops"}) as c:
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
            (lambda: c.set_authentication(None), {"x-api-key": None, "authorization": None}),
        ]
        for switch, expected in steps:
            switch()
            await c.get_resources(limit=1)
            seen = httpserver.log[-1][0].headers
            for name, value in expected.items():
                assert seen.get(name) == value, (name, expected)
            assert seen.get("x-team") == "finops"
    assert len(httpserver.log) == len(steps)


async def test_set_timeout_takes_effect(backend: ReferenceBackend) -> None:
    rec = Recorder()
    async with AsyncFinOpsClient(backend.url, api_key=API_KEY, transport=rec) as c:
        assert c.httpx_client.timeout == httpx.Timeout(30.0)
        c.set_timeout(2.5)
        assert c.httpx_client.timeout == httpx.Timeout(2.5)
        await c.get_resources(limit=1)
        assert rec.requests[-1].extensions["timeout"] == dict.fromkeys(("connect", "read", "write", "pool"), 2.5)
        for bad in (0, -1, math.nan, "30"):
            with pytest.raises(ConfigurationError):
                c.set_timeout(bad)  # type: ignore[arg-type]
        assert c.httpx_client.timeout == httpx.Timeout(2.5)


async def test_force_open_rejects_without_request(client: AsyncFinOpsClient, backend: ReferenceBackend) -> None:
    breaker = client.circuit_breaker
    assert breaker is not None
    before = backend.stats().requests_total
    breaker.force_open()
    assert breaker.state is CircuitState.FORCED_OPEN
    with pytest.raises(CircuitOpenError):
        await client.get_resources()
    with pytest.raises(CircuitOpenError):
        await client.approve_optimization("opt-1")
    result = await client.post_resources([resource(1), resource(2)])
    assert result.accepted == ()
    assert [type(f.error) for f in result.not_delivered] == [CircuitOpenError]
    assert backend.stats().requests_total == before
    breaker.reset()
    assert breaker.state is CircuitState.CLOSED  # type: ignore[comparison-overlap]  # mypy narrowed it; reset() changed it
    await client.get_resources()
    assert backend.stats().requests_total == before + 1


async def test_breaker_disabled(httpserver: HTTPServer, ft: FakeTime) -> None:
    httpserver.expect_request("/api/resources").respond_with_json({"error": {"code": "x"}}, status=503)
    async with AsyncFinOpsClient(
        base(httpserver), enable_circuit_breaker=False, max_retries=0, asleep=ft.asleep, clock=ft.clock
    ) as c:
        assert c.circuit_breaker is None
        assert not any(isinstance(t, CircuitBreakerTransport) for t in layers(c))
        for _ in range(20):
            with pytest.raises(InternalServerError):
                await c.get_resources()
    assert len(httpserver.log) == 20


async def test_breaker_opens_by_default_on_consecutive_503(httpserver: HTTPServer, ft: FakeTime) -> None:
    httpserver.expect_request("/api/resources").respond_with_json({"error": {"code": "x"}}, status=503)
    async with AsyncFinOpsClient(base(httpserver), max_retries=0, asleep=ft.asleep, clock=ft.clock) as c:
        for _ in range(5):
            with pytest.raises(InternalServerError):
                await c.get_resources()
        with pytest.raises(CircuitOpenError):
            await c.get_resources()
    assert len(httpserver.log) == 5


async def test_performance_monitoring_disabled(backend: ReferenceBackend) -> None:
    async with AsyncFinOpsClient(backend.url, api_key=API_KEY, enable_performance_monitoring=False) as c:
        assert not any(isinstance(t, MetricsTransport) for t in layers(c))
        await c.get_resources()
        metrics = c.get_performance_metrics()
        assert metrics["enabled"] is False
        assert c.get_metrics_snapshot() is None
        c.reset_performance_metrics()


# --------------------------------------------------------------------------- 3. data methods


async def test_data_methods_keep_old_names(client: AsyncFinOpsClient, backend: ReferenceBackend) -> None:
    r = await client.post_resources([ResourceInventory.from_dict(resource(0)), resource(1)])
    assert r.ok
    assert r.accepted == (0, 1)
    o = await client.post_optimizations([CostOptimization.from_dict(optimization(1)), optimization(2)])
    assert o.ok
    assert o.accepted == (0, 1)
    assert (await client.post_anomalies([anomaly(1), CostAnomaly.from_dict(anomaly(2))])).ok
    assert (await client.post_budget_forecasts([forecast(1)])).ok
    assert sorted(x.resource_id for x in (await client.get_resources()).data) == ["r-0000", "r-0001"]
    assert sorted(x.optimization_id for x in (await client.get_optimizations()).data) == ["opt-1", "opt-2"]
    assert sorted(x.anomaly_id for x in (await client.get_anomalies()).data) == ["anom-1", "anom-2"]
    assert [x.budget_id for x in (await client.get_budget_forecasts()).data] == ["bud-1"]
    approved = await client.approve_optimization("opt-1", approved=True, comment="rightsizing ok")
    assert not isinstance(approved, DryRun)
    assert approved.status == ApprovalStatus.APPROVED
    assert approved.comment == "rightsizing ok"
    rejected = await client.approve_optimization("opt-2", approved=False)
    assert not isinstance(rejected, DryRun)
    assert rejected.status == ApprovalStatus.REJECTED
    approved_now = await client.get_optimizations(status=OptimizationStatus.APPROVED)
    assert [x.optimization_id for x in approved_now.data] == ["opt-1"]
    with pytest.raises(NotFoundError):
        await client.approve_optimization("opt-404")


def _bad(index_of_bad: int, make: Callable[[int], dict[str, Any]], **overrides: Any) -> list[Any]:
    items: list[Any] = [make(i) for i in range(3)]
    items[index_of_bad] = make(index_of_bad, **overrides)
    return items


def _without(make: Callable[[int], dict[str, Any]], field: str) -> list[Any]:
    items: list[Any] = [make(i) for i in range(3)]
    del items[2][field]
    return items


def _nan_in_big_list() -> list[Any]:
    items: list[Any] = [resource(i) for i in range(1200)]
    items[699]["currentCost"] = math.nan
    return items


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
    "unknown-field": ("post_resources", lambda: _bad(2, resource, resourceID="r-typo"), 2, "resourceID"),
    "tag-not-string": ("post_resources", lambda: _bad(2, resource, tags={"env": 5}), 2, "tags.env"),
    "anomaly-nan": ("post_anomalies", lambda: _bad(1, anomaly, actualCost=math.nan), 1, "actualCost"),
    "forecast-date": ("post_budget_forecasts", lambda: _bad(2, forecast, periodStart="2026-13-01"), 2, "periodStart"),
    "empty-list": ("post_resources", lambda: [], None, None),
    "dict-not-list": ("post_resources", lambda: resource(0), None, None),
    "str-not-list": ("post_resources", lambda: "r-0001", None, None),
    "nan-at-699-of-1200": ("post_resources", _nan_in_big_list, 699, "currentCost"),
}


@pytest.mark.parametrize("case", list(VALIDATION_CASES))
async def test_validation_refuses_before_sending(
    client: AsyncFinOpsClient, backend: ReferenceBackend, case: str
) -> None:
    operation, make_items, index, field = VALIDATION_CASES[case]
    before = backend.stats().requests_total
    with pytest.raises(RequestValidationError) as info:
        await getattr(client, operation)(make_items())
    assert info.value.index == index
    assert info.value.field == field
    if index is not None:
        assert f"item {index}" in str(info.value)
    assert backend.stats().requests_total == before
    assert backend.stats().items_stored == 0


QUERY_CASES: dict[str, Callable[[AsyncFinOpsClient], Any]] = {
    "limit-0": lambda c: c.get_resources(limit=0),
    "limit-1001": lambda c: c.get_resources(limit=1001),
    "status-unknown": lambda c: c.get_optimizations(status="DONE"),  # type: ignore[arg-type]
    "approve-empty-id": lambda c: c.approve_optimization(""),
    "approve-long-comment": lambda c: c.approve_optimization("opt-1", comment="c" * 1001),
}


@pytest.mark.parametrize("case", list(QUERY_CASES))
async def test_query_validation_before_sending(client: AsyncFinOpsClient, backend: ReferenceBackend, case: str) -> None:
    before = backend.stats().requests_total
    with pytest.raises(RequestValidationError):
        await QUERY_CASES[case](client)
    assert backend.stats().requests_total == before


async def test_iter_limit_validated_before_sending(client: AsyncFinOpsClient, backend: ReferenceBackend) -> None:
    with pytest.raises(RequestValidationError):
        async for _ in client.iter_resources(limit=1001):
            pass
    assert backend.stats().requests_total == 0


async def test_enum_filter_accepts_plain_string(client: AsyncFinOpsClient, backend: ReferenceBackend) -> None:
    backend.add_items("anomalies", [anomaly(2)])
    page_ = await client.get_anomalies(severity="CRITICAL")  # type: ignore[arg-type]
    assert len(page_.data) == 1


# --------------------------------------------------------------------------- 5. iterators


async def test_iter_resources_follows_cursor(client: AsyncFinOpsClient, backend: ReferenceBackend) -> None:
    assert backend.add_items("resources", [resource(i) for i in range(50)]) == []
    ids = [r.resource_id async for r in client.iter_resources(limit=7)]
    assert len(ids) == 50
    assert sorted(ids) == [f"r-{i:04d}" for i in range(50)]
    assert backend.stats().requests_by_operation["get_resources"] == 8


async def test_iter_filters_pass_through(client: AsyncFinOpsClient, backend: ReferenceBackend) -> None:
    items = [resource(i) for i in range(50)]
    backend.add_items("resources", items)
    backend.add_items("optimizations", [optimization(i) for i in range(20)])
    backend.add_items("anomalies", [anomaly(i) for i in range(20)])
    backend.add_items("forecasts", [forecast(i) for i in range(10)])
    got = [r.resource_id async for r in client.iter_resources(resource_type="ec2", region="us-east-1", limit=3)]
    assert got == [i["resourceId"] for i in items if i["resourceType"] == "ec2" and i["region"] == "us-east-1"]
    high = [o.optimization_id async for o in client.iter_optimizations(risk_level=RiskLevel.HIGH, limit=2)]
    assert high == [f"opt-{i}" for i in range(20) if i % 3 == 2]
    crit = [a.anomaly_id async for a in client.iter_anomalies(severity=Severity.CRITICAL, limit=2)]
    assert crit == [f"anom-{i}" for i in range(20) if i % 3 == 2]
    assert len([f async for f in client.iter_budget_forecasts(limit=3)]) == 10


# --------------------------------------------------------------------------- 6. health check


@pytest.mark.parametrize(("status", "healthy"), [("ok", True), ("degraded", True), ("down", False)])
async def test_health_check_status(
    client: AsyncFinOpsClient, backend: ReferenceBackend, status: str, healthy: bool
) -> None:
    backend.set_health_status(status)  # type: ignore[arg-type]
    report = await client.health_check()
    assert bool(report) is healthy
    assert report.endpoint == "GET /api/health"
    assert report.status == status
    assert report.http_status == 200
    assert isinstance(report.latency, float)
    assert report.latency >= 0
    assert report.circuit_breaker == "closed"


async def test_health_check_falls_back_to_resources(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/health").respond_with_json({"error": {"code": "not_found"}}, status=404)
    httpserver.expect_request("/api/resources", query_string="limit=1").respond_with_json(page())
    async with AsyncFinOpsClient(base(httpserver), api_key=API_KEY) as c:
        report = await c.health_check()
    assert report
    assert report.endpoint == "GET /api/resources"
    assert [req.path for req, _ in httpserver.log] == ["/api/health", "/api/resources"]


async def test_health_check_unreachable_never_raises(ft: FakeTime) -> None:
    async with AsyncFinOpsClient(f"http://127.0.0.1:{unused_port()}", asleep=ft.asleep, clock=ft.clock) as c:
        report = await c.health_check()
    assert not report
    assert report.error
    assert report.latency is not None
    assert report.latency >= 0
    assert report.circuit_breaker in ("closed", "open")


async def test_health_check_outage_and_open_breaker(client: AsyncFinOpsClient, backend: ReferenceBackend) -> None:
    backend.set_outage("503")
    report = await client.health_check()
    assert not report
    assert report.http_status == 503
    backend.set_outage(None)
    assert client.circuit_breaker is not None
    client.circuit_breaker.force_open()
    before = backend.stats().requests_total
    report = await client.health_check()
    assert not report
    assert report.circuit_breaker == "forced_open"
    assert report.error
    assert backend.stats().requests_total == before


# --------------------------------------------------------------------------- 7. dry run


@pytest.mark.parametrize("how", ["arg", "env"])
async def test_dry_run_sends_nothing(backend: ReferenceBackend, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    kwargs: dict[str, Any] = {}
    if how == "arg":
        kwargs["dry_run"] = True
    else:
        monkeypatch.setenv("FINOPS_DRY_RUN", "1")
    backend.add_items("optimizations", [optimization(1)])
    async with AsyncFinOpsClient(backend.url, api_key=API_KEY, **kwargs) as c:
        assert c.dry_run is True
        before = backend.stats().requests_total
        result = await c.post_resources([resource(i) for i in range(1234)])
        assert result.dry_run is not None
        assert (result.dry_run.method, result.dry_run.route) == ("POST", "/api/resources")
        assert result.dry_run.item_count == 1234
        assert result.dry_run.chunks == ((0, 500), (500, 1000), (1000, 1234))
        assert result.accepted == ()
        assert result.ok is False
        for post, item in (
            (c.post_optimizations, optimization(5)),
            (c.post_anomalies, anomaly(5)),
            (c.post_budget_forecasts, forecast(5)),
        ):
            r = await post([item])
            assert r.dry_run is not None
            assert r.accepted == ()
            assert not r.ok
        preview = await c.approve_optimization("opt-1", approved=True, comment="ok")
        assert isinstance(preview, DryRun)
        assert preview.route == "/api/optimizations/{optimizationId}/approve"
        with pytest.raises(RequestValidationError):
            await c.post_resources([resource(0, currentCost=math.nan)])
        with pytest.raises(RequestValidationError):
            await c.approve_optimization("opt-1", approved="no")  # type: ignore[arg-type]
        assert backend.stats().requests_total == before
        assert backend.stats().decisions == 0
        assert [o.status for o in (await c.get_optimizations()).data] == [OptimizationStatus.PENDING]
        assert backend.stats().requests_total == before + 1


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


async def test_performance_metrics(client: AsyncFinOpsClient) -> None:
    await client.post_resources([resource(i) for i in range(3)])
    await client.post_optimizations([optimization(1)])
    await client.get_resources()
    await client.approve_optimization("opt-1")
    with pytest.raises(NotFoundError):
        await client.approve_optimization("opt-unknown-123")
    metrics = client.get_performance_metrics()
    g = metrics["global_metrics"]
    assert set(g) >= GLOBAL_KEYS
    assert (g["request_count"], g["success_count"], g["error_count"]) == (5, 4, 1)
    assert g["success_rate"] == pytest.approx(0.8)
    assert 0 < g["p50"] <= g["p95"] <= g["p99"]
    endpoints = metrics["endpoint_metrics"]
    assert set(endpoints) == {"POST /api/resources", "POST /api/optimizations", "GET /api/resources", APPROVE_KEY}
    approve = endpoints[APPROVE_KEY]
    assert (approve["request_count"], approve["success_count"], approve["error_count"]) == (2, 1, 1)
    assert metrics["circuit_breaker"]["state"] == "closed"
    assert metrics["circuit_breaker"]["failure_count"] == 0
    client.reset_performance_metrics()
    after = client.get_performance_metrics()
    assert after["global_metrics"]["request_count"] == 0
    assert after["endpoint_metrics"] == {}


async def test_metrics_snapshot_is_frozen(client: AsyncFinOpsClient) -> None:
    await client.get_resources()
    snap = client.get_metrics_snapshot()
    assert snap is not None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snap.global_metrics.requests = 99  # type: ignore[misc]
    await client.get_resources()
    assert snap.global_metrics.requests == 1


async def test_metrics_exact_under_concurrency(client: AsyncFinOpsClient, backend: ReferenceBackend) -> None:
    await asyncio.gather(*(client.get_resources(limit=1) for _ in range(40)))
    g = client.get_performance_metrics()["global_metrics"]
    assert (g["request_count"], g["success_count"], g["in_flight"]) == (40, 40, 0)
    assert backend.stats().requests_total == 40


# --------------------------------------------------------------------------- retries and logging


async def test_retries_5xx_then_succeeds_and_skips_4xx(httpserver: HTTPServer, ft: FakeTime) -> None:
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
    httpserver.expect_request("/api/anomalies").respond_with_json({"error": {"code": "bad"}}, status=400)
    async with AsyncFinOpsClient(base(httpserver), max_retries=3, asleep=ft.asleep, clock=ft.clock) as c:
        assert (await c.get_resources()).data == []
        assert calls["n"] == 3
        assert len(ft.sleeps) == 2
        with pytest.raises(BadRequestError):
            await c.get_anomalies()
    assert len(httpserver.log) == 4


async def test_debug_logs_are_redacted(client: AsyncFinOpsClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="resilience"):
        await client.post_resources([resource(1)])
    assert "request POST /api/resources" in caplog.text
    assert API_KEY not in caplog.text
