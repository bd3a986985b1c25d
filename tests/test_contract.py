"""Contract tests: what the SDK sends and how it reads answers, checked against openapi.yaml.

Every operation is called through the facade (sync and async) against pytest-httpserver;
the recorded request *and* the canned response are validated with
``resilience.OpenAPIContract``, so neither the SDK nor these fixtures can drift
from the document. Error statuses come from the document itself, operation by operation.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from finops_api_client import AsyncFinOpsClient, FinOpsClient
from finops_api_client._contract import OPERATIONS
from finops_api_client.models import (
    AnomalyPage,
    Approval,
    ApprovalStatus,
    BudgetForecast,
    BudgetForecastPage,
    CostAnomaly,
    CostOptimization,
    HealthStatus,
    HealthStatusStatus,
    IngestResult,
    OptimizationPage,
    OptimizationStatus,
    OptimizationType,
    ResourceInventory,
    ResourcePage,
    RiskLevel,
    Severity,
)
from finops_api_client.types import Unset
from pytest_httpserver import HTTPServer

from resilience import (
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    BatchResult,
    ConflictError,
    ContractViolation,
    InternalServerError,
    NotFoundError,
    OpenAPIContract,
    PermissionDeniedError,
    RateLimitError,
    RejectedItem,
    UnprocessableEntityError,
)

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = OpenAPIContract.from_path(ROOT / "openapi.yaml")
API_KEY = "contract-test-key"
UTC = dt.UTC
TS = "2025-03-01T12:30:00Z"
TS_PARSED = dt.datetime(2025, 3, 1, 12, 30, tzinfo=UTC)

# The SDK's status -> error class mapping (the documented one; not per operation).
ERROR_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_class(status: int) -> type[APIStatusError]:
    return InternalServerError if status >= 500 else ERROR_CLASSES.get(status, APIStatusError)


# --------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    """One realistic call of an operation, what must go on the wire, and the answer."""

    op: str
    path: str  # decoded, as pytest-httpserver matches it
    raw_path: str  # as sent, percent-encoded
    response: dict[str, Any]
    check: Callable[[Any], None]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)  # typed, as the document reads it
    path_params: dict[str, Any] = field(default_factory=dict)
    wire_body: Any = None  # the exact JSON expected in the request body

    @property
    def method(self) -> str:
        return CONTRACT.operation(self.op).method


def page(items: list[dict[str, Any]], next_cursor: Any = ...) -> dict[str, Any]:
    body: dict[str, Any] = {"success": True, "data": items, "timestamp": TS}
    if next_cursor is not ...:
        body["nextCursor"] = next_cursor
    return body


def ingest_answer(accepted: int, rejected: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "success": True,  # false would make the chunk's outcome unknown (tests/test_batch_hardening.py)
        "accepted": accepted,
        "rejected": rejected,
        "message": f"{accepted} accepted",
        "timestamp": TS,
    }


def _check_health(r: Any) -> None:
    assert isinstance(r, HealthStatus)
    assert r.status is HealthStatusStatus.DEGRADED
    assert r.version == "1.4.2"
    assert r.timestamp == TS_PARSED


RESOURCE_1 = {
    "resourceId": "i-0abc",
    "resourceType": "compute",
    "region": "eu-west-1",
    "accountId": "acct-42",
    "currentCost": 12.5,
    "currency": "EUR",
    "utilizationMetrics": {"cpu": 0.42, "memory": 0.7},
    "tags": {"env": "prod", "team": "platform"},
    "timestamp": TS,
}


def _check_resources(r: Any) -> None:
    assert isinstance(r, ResourcePage)
    assert r.success is True
    assert r.next_cursor == "page-3"
    assert r.timestamp == TS_PARSED
    first, second = r.data
    assert isinstance(first, ResourceInventory)
    assert (first.resource_id, first.resource_type, first.region) == ("i-0abc", "compute", "eu-west-1")
    assert (first.account_id, first.current_cost, first.currency) == ("acct-42", 12.5, "EUR")
    assert first.utilization_metrics.to_dict() == {"cpu": 0.42, "memory": 0.7}  # type: ignore[union-attr]
    assert first.tags.to_dict() == {"env": "prod", "team": "platform"}  # type: ignore[union-attr]
    assert first.timestamp == TS_PARSED
    assert second.resource_id == "i-0def"
    assert isinstance(second.account_id, Unset)


def _check_optimizations(r: Any) -> None:
    assert isinstance(r, OptimizationPage)
    assert r.next_cursor is None  # explicit null on the last page
    [o] = r.data
    assert isinstance(o, CostOptimization)
    assert o.optimization_id == "opt-1"
    assert o.optimization_type is OptimizationType.RIGHTSIZE
    assert o.estimated_savings == 120.5
    assert o.risk_level is RiskLevel.HIGH
    assert o.confidence_score == 0.9
    assert o.status is OptimizationStatus.PENDING
    assert o.timestamp == TS_PARSED


def _check_anomalies(r: Any) -> None:
    assert isinstance(r, AnomalyPage)
    assert isinstance(r.next_cursor, Unset)  # absent on the last page
    [a] = r.data
    assert isinstance(a, CostAnomaly)
    assert (a.anomaly_id, a.anomaly_type, a.severity) == ("an-7", "spike", Severity.CRITICAL)
    assert (a.actual_cost, a.expected_cost) == (980.0, 120.25)
    assert a.root_cause == "runaway autoscaling"
    assert a.detected_at == TS_PARSED


def _check_budgets(r: Any) -> None:
    assert isinstance(r, BudgetForecastPage)
    assert r.next_cursor == "b-2"
    [b] = r.data
    assert isinstance(b, BudgetForecast)
    assert (b.budget_id, b.budget_type, b.budget_amount, b.forecast_amount) == ("bud-1", "monthly", 1000, 1250.5)
    assert (b.period_start, b.period_end) == (dt.date(2025, 3, 1), dt.date(2025, 3, 31))
    assert b.parent_budget_id == "bud-root"
    assert b.tags.to_dict() == {"cost-center": "cc-9"}  # type: ignore[union-attr]


def _check_approval(r: Any) -> None:
    assert isinstance(r, Approval)
    assert r.optimization_id == "opt 1/x"
    assert r.status is ApprovalStatus.REJECTED
    assert r.decided_at == TS_PARSED
    assert r.comment == "too risky for Q3"


def _batch_check(total: int, rejected_index: int, rejected_id: str) -> Callable[[Any], None]:
    def check(r: Any) -> None:
        assert isinstance(r, BatchResult)
        assert r.total == total
        assert r.chunks == 1
        assert r.accepted == tuple(i for i in range(total) if i != rejected_index)
        assert r.rejected == (RejectedItem(index=rejected_index, reason="duplicate id", id=rejected_id),)
        assert r.not_delivered == ()
        assert r.outcome_unknown == ()
        [parsed] = r.responses
        assert isinstance(parsed, IngestResult)
        assert parsed.accepted == total - 1
        assert parsed.timestamp == TS_PARSED

    return check


def _batch_case(op: str, route: str, items: list[Any], rejected_index: int, rejected_id: str) -> Case:
    wire = [i.to_dict() if hasattr(i, "to_dict") else dict(i) for i in items]
    rejected = [{"index": rejected_index, "reason": "duplicate id", "id": rejected_id}]
    return Case(
        op=op,
        path=route,
        raw_path=route,
        args=(items,),
        wire_body=wire,
        response=ingest_answer(len(items) - 1, rejected),
        check=_batch_check(len(items), rejected_index, rejected_id),
    )


CASES: dict[str, Case] = {
    c.op: c
    for c in [
        Case(
            op="get_health",
            path="/api/health",
            raw_path="/api/health",
            response={"status": "degraded", "version": "1.4.2", "timestamp": TS},
            check=_check_health,
        ),
        Case(
            op="get_resources",
            path="/api/resources",
            raw_path="/api/resources",
            kwargs={
                "resource_type": "compute",
                "region": "eu-west-1",
                "account_id": "acct-42",
                "limit": 50,
                "cursor": "page 2/ü&x=1",
            },
            query={
                "resourceType": "compute",
                "region": "eu-west-1",
                "accountId": "acct-42",
                "limit": 50,
                "cursor": "page 2/ü&x=1",
            },
            response=page(
                [RESOURCE_1, {"resourceId": "i-0def", "resourceType": "compute", "region": "eu-west-1"}],
                "page-3",
            ),
            check=_check_resources,
        ),
        _batch_case(
            "post_resources",
            "/api/resources",
            [
                ResourceInventory.from_dict(RESOURCE_1),
                {"resourceId": "i-0def", "resourceType": "storage", "region": "us-east-1", "currentCost": 3},
                ResourceInventory(resource_id="i-0ghi", resource_type="db", region="eu-central-1"),
            ],
            1,
            "i-0def",
        ),
        Case(
            op="get_optimizations",
            path="/api/optimizations",
            raw_path="/api/optimizations",
            kwargs={
                "status": OptimizationStatus.PENDING,
                "risk_level": RiskLevel.HIGH,
                "limit": 10,
                "cursor": "c-1",
            },
            query={"status": "PENDING", "riskLevel": "HIGH", "limit": 10, "cursor": "c-1"},
            response=page(
                [
                    {
                        "optimizationId": "opt-1",
                        "resourceId": "i-0abc",
                        "optimizationType": "RIGHTSIZE",
                        "estimatedSavings": 120.5,
                        "riskLevel": "HIGH",
                        "confidenceScore": 0.9,
                        "status": "PENDING",
                        "accountId": "acct-42",
                        "timestamp": TS,
                    }
                ],
                None,
            ),
            check=_check_optimizations,
        ),
        _batch_case(
            "post_optimizations",
            "/api/optimizations",
            [
                CostOptimization(
                    optimization_id="opt-1",
                    resource_id="i-0abc",
                    optimization_type=OptimizationType.TERMINATE,
                    estimated_savings=99.5,
                    risk_level=RiskLevel.LOW,
                    confidence_score=0.75,
                ),
                {
                    "optimizationId": "opt-2",
                    "resourceId": "i-0def",
                    "optimizationType": "SAVINGS_PLAN",
                    "estimatedSavings": 1500,
                    "status": "PENDING",
                },
                {
                    "optimizationId": "opt-3",
                    "resourceId": "vol-1",
                    "optimizationType": "STORAGE_TIER",
                    "estimatedSavings": 0,
                    "timestamp": TS,
                },
            ],
            2,
            "opt-3",
        ),
        Case(
            op="approve_optimization",
            path="/api/optimizations/opt 1/x/approve",
            raw_path="/api/optimizations/opt%201%2Fx/approve",
            args=("opt 1/x",),
            kwargs={"approved": False, "comment": "too risky for Q3"},
            path_params={"optimizationId": "opt 1/x"},
            wire_body={"approved": False, "comment": "too risky for Q3"},
            response={
                "optimizationId": "opt 1/x",
                "status": "REJECTED",
                "decidedAt": TS,
                "comment": "too risky for Q3",
            },
            check=_check_approval,
        ),
        Case(
            op="get_anomalies",
            path="/api/anomalies",
            raw_path="/api/anomalies",
            kwargs={"severity": Severity.CRITICAL, "limit": 25, "cursor": "a-1"},
            query={"severity": "CRITICAL", "limit": 25, "cursor": "a-1"},
            response=page(
                [
                    {
                        "anomalyId": "an-7",
                        "anomalyType": "spike",
                        "severity": "CRITICAL",
                        "actualCost": 980.0,
                        "expectedCost": 120.25,
                        "region": "eu-west-1",
                        "rootCause": "runaway autoscaling",
                        "detectedAt": TS,
                    }
                ]
            ),
            check=_check_anomalies,
        ),
        _batch_case(
            "post_anomalies",
            "/api/anomalies",
            [
                CostAnomaly(
                    anomaly_id="an-1",
                    anomaly_type="spike",
                    severity=Severity.HIGH,
                    actual_cost=500.0,
                    expected_cost=100.0,
                    detected_at=TS_PARSED,
                ),
                {
                    "anomalyId": "an-2",
                    "anomalyType": "drop",
                    "severity": "LOW",
                    "actualCost": -5,
                    "expectedCost": 10,
                },
            ],
            0,
            "an-1",
        ),
        Case(
            op="get_budget_forecasts",
            path="/api/budgets/forecasts",
            raw_path="/api/budgets/forecasts",
            kwargs={"limit": 5, "cursor": "b-1"},
            query={"limit": 5, "cursor": "b-1"},
            response=page(
                [
                    {
                        "budgetId": "bud-1",
                        "budgetType": "monthly",
                        "budgetAmount": 1000,
                        "forecastAmount": 1250.5,
                        "periodStart": "2025-03-01",
                        "periodEnd": "2025-03-31",
                        "parentBudgetId": "bud-root",
                        "tags": {"cost-center": "cc-9"},
                        "accountId": "acct-42",
                    }
                ],
                "b-2",
            ),
            check=_check_budgets,
        ),
        _batch_case(
            "post_budget_forecasts",
            "/api/budgets/forecasts",
            [
                BudgetForecast(
                    budget_id="bud-1",
                    budget_type="monthly",
                    budget_amount=1000.0,
                    forecast_amount=900.0,
                    period_start=dt.date(2025, 3, 1),
                    period_end=dt.date(2025, 3, 31),
                ),
                {"budgetId": "bud-2", "budgetType": "quarterly", "budgetAmount": 3000, "forecastAmount": 3100},
                {
                    "budgetId": "bud-3",
                    "budgetType": "annual",
                    "budgetAmount": 12000,
                    "forecastAmount": 11000,
                    "tags": {"env": "prod"},
                },
                {"budgetId": "bud-4", "budgetType": "monthly", "budgetAmount": 10, "forecastAmount": 0},
            ],
            3,
            "bud-4",
        ),
    ]
}

ERROR_CASES = [(op.operation_id, status) for op in CONTRACT.operations() for status in op.error_statuses]


# --------------------------------------------------------------------------- clients
def no_sleep(_: float) -> None:
    return None


async def no_asleep(_: float) -> None:
    return None


# "async" uses the default inner transport (httpx-aiohttp); "async-httpx" httpx's own.
FLAVORS = ["sync", "async", "async-httpx"]


@pytest.fixture
async def make_client(httpserver: HTTPServer) -> AsyncIterator[Callable[..., Any]]:
    made: list[Any] = []

    def make(flavor: str, **kwargs: Any) -> Any:
        options: dict[str, Any] = {"api_key": API_KEY, "max_retries": 0, **kwargs}
        url = httpserver.url_for("/")
        if flavor == "sync":
            client: Any = FinOpsClient(url, sleep=no_sleep, **options)
        elif flavor == "async":
            client = AsyncFinOpsClient(url, asleep=no_asleep, **options)
        else:
            client = AsyncFinOpsClient(url, asleep=no_asleep, transport=httpx.AsyncHTTPTransport(), **options)
        made.append(client)
        return client

    yield make
    for client in made:
        if isinstance(client, AsyncFinOpsClient):
            await client.aclose()
        else:
            client.close()


async def invoke(client: Any, case: Case) -> Any:
    result = getattr(client, case.op)(*case.args, **case.kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def expect(httpserver: HTTPServer, case: Case) -> Any:
    return httpserver.expect_oneshot_request(case.path, method=case.method)


def assert_correlation_headers(request: Any, method: str) -> None:
    assert request.headers.get("X-Request-ID"), "every request carries X-Request-ID"
    key = request.headers.get("Idempotency-Key")
    if method == "POST":
        assert key, "every POST carries an Idempotency-Key"
        uuid.UUID(key)
    else:
        assert key is None


# --------------------------------------------------------------------------- tests
def test_every_operation_has_a_case() -> None:
    assert {op.operation_id for op in CONTRACT.operations()} == set(CASES)
    assert all(op.error_statuses for op in CONTRACT.operations())


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("op", sorted(CASES))
async def test_request_and_response_follow_contract(
    op: str, flavor: str, httpserver: HTTPServer, make_client: Callable[..., Any]
) -> None:
    case = CASES[op]
    expect(httpserver, case).respond_with_json(case.response)

    result = await invoke(make_client(flavor), case)

    httpserver.check_assertions()
    [(request, _)] = httpserver.log
    # Request (method, path, query, headers, security, body) and the canned response.
    [(sent, answered)] = CONTRACT.assert_all_valid(httpserver.log)
    assert sent.operation_id == op
    assert request.environ["REQUEST_URI"].split("?")[0] == case.raw_path
    assert dict(sent.path_params) == case.path_params
    assert dict(sent.query) == case.query
    assert_correlation_headers(request, case.method)
    # The credential goes where the contract's security asks for one, and nowhere else.
    assert request.headers.get("X-API-Key") == (API_KEY if OPERATIONS[op].requires_auth else None)
    if case.wire_body is None:
        assert request.get_data() == b""
    else:
        assert request.content_type == "application/json"
        assert json.loads(request.get_data()) == case.wire_body
    assert answered is not None
    assert answered.status_code == 200
    case.check(result)


@pytest.mark.parametrize("flavor", ["sync", "async"])
@pytest.mark.parametrize(("op", "status"), ERROR_CASES)
async def test_documented_error_status_raises_typed_error(
    op: str, status: int, flavor: str, httpserver: HTTPServer, make_client: Callable[..., Any]
) -> None:
    case = CASES[op]
    body = {
        "success": False,
        "error": {"code": f"E_{status}", "message": f"{op} failed with {status}", "details": {"hint": "x"}},
    }
    headers = {"Retry-After": "7"} if status == 429 else {}
    expect(httpserver, case).respond_with_json(body, status=status, headers=headers)
    client = make_client(flavor)

    if CONTRACT.operation(op).method == "POST" and isinstance(case.args[0] if case.args else None, list):
        result = await invoke(client, case)  # batches report failures per chunk, never raise
        assert isinstance(result, BatchResult)
        assert result.accepted == ()
        [failure] = result.not_delivered + result.outcome_unknown
        assert list(failure.indexes) == list(range(len(case.args[0])))
        err = failure.error
    else:
        with pytest.raises(APIStatusError) as info:
            await invoke(client, case)
        err = info.value

    httpserver.check_assertions()
    [(request, _)] = httpserver.log
    CONTRACT.assert_all_valid(httpserver.log)
    assert type(err) is error_class(status)
    assert isinstance(err, APIStatusError)
    assert err.status_code == status
    assert err.code == f"E_{status}"
    assert err.server_message == f"{op} failed with {status}"
    assert err.operation == op
    assert err.request_id == request.headers["X-Request-ID"]
    if status == 429:
        assert isinstance(err, RateLimitError)
        assert err.retry_after == 7


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_2xx_body_breaking_schema_raises_response_validation_error(
    flavor: str, httpserver: HTTPServer, make_client: Callable[..., Any]
) -> None:
    case = CASES["get_resources"]
    broken = page([{"resourceId": "i-1", "resourceType": "compute"}])  # region is required
    broken["success"] = "yes"
    expect(httpserver, case).respond_with_json(broken)

    with pytest.raises(APIResponseValidationError) as info:
        await invoke(make_client(flavor), case)

    assert info.value.status_code == 200
    assert info.value.operation == "get_resources"
    with pytest.raises(ContractViolation) as violation:  # the contract helper sees it too
        CONTRACT.assert_all_valid(httpserver.log)
    assert any("region" in e for e in violation.value.errors)


@pytest.mark.parametrize("op", ["get_health", "approve_optimization"])
def test_2xx_body_breaking_schema_raises_for_every_shape(
    op: str, httpserver: HTTPServer, make_client: Callable[..., Any]
) -> None:
    case = CASES[op]
    expect(httpserver, case).respond_with_json({**case.response, "status": "sideways"})
    client = make_client("sync")
    with pytest.raises(APIResponseValidationError):
        getattr(client, op)(*case.args, **case.kwargs)


async def test_batch_with_broken_2xx_is_outcome_unknown(
    httpserver: HTTPServer, make_client: Callable[..., Any]
) -> None:
    case = CASES["post_resources"]
    expect(httpserver, case).respond_with_json({"success": True, "accepted": "all"})
    result = await invoke(make_client("async"), case)
    [failure] = result.outcome_unknown
    assert isinstance(failure.error, APIResponseValidationError)
    assert result.accepted == ()
    assert result.not_delivered == ()


def test_chunks_each_follow_contract_with_own_idempotency_key(
    httpserver: HTTPServer, make_client: Callable[..., Any]
) -> None:
    case = CASES["post_budget_forecasts"]
    httpserver.expect_request(case.path, method="POST").respond_with_json(ingest_answer(2, []))
    result = make_client("sync").post_budget_forecasts(case.args[0], chunk_size=2)
    assert result.ok
    assert result.chunks == 2
    validated = CONTRACT.assert_all_valid(httpserver.log)
    assert [len(req.body) for req, _ in validated] == [2, 2]
    keys = {request.headers["Idempotency-Key"] for request, _ in httpserver.log}
    assert len(keys) == 2


def test_iterator_pages_follow_contract(httpserver: HTTPServer, make_client: Callable[..., Any]) -> None:
    first = page([RESOURCE_1], "next-1")
    last = page([{"resourceId": "i-2", "resourceType": "db", "region": "eu-west-1"}], None)
    httpserver.expect_ordered_request("/api/resources", query_string={"limit": "1"}).respond_with_json(first)
    httpserver.expect_ordered_request(
        "/api/resources", query_string={"limit": "1", "cursor": "next-1"}
    ).respond_with_json(last)
    ids = [r.resource_id for r in make_client("sync").iter_resources(limit=1)]
    assert ids == ["i-0abc", "i-2"]
    validated = CONTRACT.assert_all_valid(httpserver.log)
    assert [dict(req.query) for req, _ in validated] == [{"limit": 1}, {"limit": 1, "cursor": "next-1"}]


# --------------------------------------------------------------------------- the helper itself
def test_contract_helper_reports_every_request_problem() -> None:
    bad = httpx.Request(
        "POST",
        "http://anyhost:1234/api/resources",
        json=[{"resourceId": "", "region": 3}],
        headers={"X-API-Key": "k"},
    )
    with pytest.raises(ContractViolation) as info:
        CONTRACT.validate_request(bad)
    text = str(info.value)
    assert "POST /api/resources" in text
    assert "at [0]: 'resourceType' is a required property" in text
    assert "at [0].resourceId" in text
    assert "at [0].region: 3 is not of type 'string'" in text
    assert isinstance(info.value, AssertionError)


@pytest.mark.parametrize(
    ("request_", "needle"),
    [
        (httpx.Request("GET", "http://h/api/nowhere"), "Path not found"),
        (httpx.Request("GET", "http://h/api/resources?limit=5"), "Security"),
        (httpx.Request("GET", "http://h/api/resources?limit=0", headers={"X-API-Key": "k"}), "limit"),
        (httpx.Request("DELETE", "http://h/api/resources", headers={"X-API-Key": "k"}), "Operation"),
    ],
)
def test_contract_helper_rejects(request_: httpx.Request, needle: str) -> None:
    with pytest.raises(ContractViolation, match=needle):
        CONTRACT.validate_request(request_)


def test_contract_helper_validates_httpx_exchange() -> None:
    request = httpx.Request(
        "POST",
        "http://h/api/optimizations/a%2Fb/approve",
        json={"approved": True},
        headers={"Authorization": "Bearer t"},
    )
    assert CONTRACT.validate_request(request).path_params == {"optimizationId": "a/b"}
    ok = httpx.Response(429, json={"success": False, "error": {"code": "c", "message": "m"}}, request=request)
    assert CONTRACT.validate_response(request, ok).status_code == 429
    with pytest.raises(ContractViolation, match="418"):
        CONTRACT.validate_response(request, httpx.Response(418, json={}, request=request))
    with pytest.raises(ContractViolation, match="empty"):
        CONTRACT.assert_all_valid([])


def test_importing_resilience_does_not_need_openapi_core() -> None:
    code = (
        "import sys, resilience, resilience._testing\n"
        "bad = sorted(m for m in ('openapi_core', 'werkzeug', 'finops_api_client') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
