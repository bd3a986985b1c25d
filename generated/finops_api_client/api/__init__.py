"""The typed facade: ``FinOpsClient`` and ``AsyncFinOpsClient``, generated from openapi.yaml.

Each method builds its request with the generated endpoint module and hands it to the
resilient base class (auth, retries, circuit breaker, metrics, validation, batching).
"""

import asyncio
import os
import ssl
import sys
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from typing import Any, ClassVar

import httpx
from resilience import (
    DEFAULT_MAX_RESPONSE_BYTES,
    AsyncAPIClient,
    AuthType,
    BatchResult,
    CircuitBreakerConfig,
    ClientConfig,
    DryRun,
    MetricsHook,
    Operation,
    Outbox,
    ProgressCallback,
    RetryBudget,
    RetryPolicy,
    SharedState,
    SyncAPIClient,
    no_body,
)

from .._contract import DEFAULT_BASE_URL, OPERATIONS
from ..models.anomaly_page import AnomalyPage
from ..models.api_error import Error
from ..models.approval import Approval
from ..models.approval_request import ApprovalRequest
from ..models.budget_forecast import BudgetForecast
from ..models.budget_forecast_page import BudgetForecastPage
from ..models.cost_anomaly import CostAnomaly
from ..models.cost_optimization import CostOptimization
from ..models.health_status import HealthStatus
from ..models.ingest_result import IngestResult
from ..models.optimization_page import OptimizationPage
from ..models.optimization_status import OptimizationStatus
from ..models.resource_inventory import ResourceInventory
from ..models.resource_page import ResourcePage
from ..models.risk_level import RiskLevel
from ..models.severity import Severity
from ..types import UNSET, Unset
from .anomalies import get_anomalies as _get_anomalies
from .anomalies import post_anomalies as _post_anomalies
from .budgets import get_budget_forecasts as _get_budget_forecasts
from .budgets import post_budget_forecasts as _post_budget_forecasts
from .health import get_health as _get_health
from .optimizations import approve_optimization as _approve_optimization
from .optimizations import get_optimizations as _get_optimizations
from .optimizations import post_optimizations as _post_optimizations
from .resources import get_resources as _get_resources
from .resources import post_resources as _post_resources

__all__ = ["SDK_VERSION", "USER_AGENT", "AsyncFinOpsClient", "FinOpsClient"]

try:
    SDK_VERSION = _version("finops-sdk")
except PackageNotFoundError:  # imported from a source tree that was never installed
    SDK_VERSION = "0+unknown"
#: Sent on every request: who is calling, for the backend's logs.
USER_AGENT = f"finops-sdk/{SDK_VERSION} python/{sys.version_info[0]}.{sys.version_info[1]} httpx/{httpx.__version__}"


class FinOpsClient(SyncAPIClient):
    """Sync client for the FinOps API; thread-safe, one per process is enough.

    Options left ``None`` are resolved in one order: explicit argument, then environment
    (``FINOPS_API_URL``, ``FINOPS_API_KEY``, ``FINOPS_AUTH_TYPE``, ``FINOPS_DRY_RUN``,
    ``FINOPS_TIMEOUT``, ``FINOPS_MAX_RETRIES``,
    ``FINOPS_OUTBOX``, ``FINOPS_SHARED_STATE``), then the named profile (``profile=``, else
    ``FINOPS_PROFILE``, else ``default``) of the config and credentials files, then the
    default (the URL's: ``DEFAULT_BASE_URL``). A bad value is refused naming its variable,
    or its file and line. Times are in seconds.

    - ``base_url`` (default ``None``): the API's root URL; None: from the environment
    - ``api_key`` (default ``None``): the credential, sent per auth_type; None: from the environment
    - ``auth_type`` (default ``None``): how api_key is sent: 'api_key' (X-API-Key header), 'bearer' or 'basic'; None: from the environment, else 'api_key'
    - ``auth`` (default ``None``): an auth object instead of api_key
    - ``timeout`` (default ``None``): seconds per network phase (or an httpx.Timeout); None: from the environment or profile, else 30
    - ``max_retries`` (default ``None``): retries after the first attempt; None: the retry policy's (3)
    - ``retry_policy`` (default ``None``): backoff, deadline and statuses
    - ``retry_budget`` (default ``True``): True: 20% of requests plus 10/s; False/None: unbounded
    - ``circuit_breaker_config`` (default ``None``): thresholds; None: the defaults
    - ``enable_circuit_breaker`` (default ``True``): False: no breaker at all
    - ``enable_performance_monitoring`` (default ``True``): False: no metrics
    - ``metrics_hooks`` (default ``()``): exporters told of every request, retry and transition
    - ``log_every_requests`` (default ``None``): log a metrics line every N requests
    - ``log_every_seconds`` (default ``None``): log a metrics line every T seconds
    - ``dry_run`` (default ``None``): validate and describe writes, send none; None: from the environment
    - ``allow_insecure_http`` (default ``False``): allow credentials over plain http
    - ``verify`` (default ``True``): TLS verification
    - ``headers`` (default ``None``): extra headers on every request
    - ``validate_responses`` (default ``True``): check 2xx bodies against the contract
    - ``max_response_bytes`` (default ``DEFAULT_MAX_RESPONSE_BYTES``): largest response body read, in bytes
    - ``batch_concurrency`` (default ``4``): chunks in flight at once (async client)
    - ``clock`` (default ``time.monotonic``): monotonic seconds, for tests
    - ``wall_clock`` (default ``time.time``): epoch seconds, for Retry-After dates
    - ``shared_state`` (default ``None``): fleet mode: breaker and retry budget shared through 'redis://HOST:PORT/DB' (or a SharedState)
    - ``profile`` (default ``None``): the named profile (config and credentials files); None: from the environment, else default
    - ``outbox`` (default ``None``): a durable outbox: an SQLite file's path or an Outbox; batch calls are recorded before they are sent, client.outbox.replay() re-sends what was not settled; None: from the environment, else none
    - ``transport``: the network transport (tests, proxies); ``sleep``: what waits, in seconds.
    """

    _ENV_PREFIX: ClassVar[str] = "FINOPS"
    _USER_AGENT: ClassVar[str | None] = USER_AGENT
    _DEFAULT_BASE_URL: ClassVar[str] = DEFAULT_BASE_URL
    _UNSET: ClassVar[object] = UNSET
    _OPERATIONS: ClassVar[Mapping[str, Operation]] = OPERATIONS
    _HEALTH_OPERATION: ClassVar[Operation | None] = OPERATIONS.get("get_health")
    _HEALTH_FALLBACK: ClassVar[tuple[Operation, Mapping[str, Any]] | None] = (
        (OPERATIONS["get_resources"], {"limit": 1}) if "get_resources" in OPERATIONS else None
    )

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        auth_type: AuthType | None = None,
        auth: httpx.Auth | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        retry_budget: RetryBudget | bool | None = True,
        circuit_breaker_config: CircuitBreakerConfig | None = None,
        enable_circuit_breaker: bool = True,
        enable_performance_monitoring: bool = True,
        metrics_hooks: Iterable[MetricsHook] = (),
        log_every_requests: int | None = None,
        log_every_seconds: float | None = None,
        dry_run: bool | None = None,
        allow_insecure_http: bool = False,
        verify: bool | str | ssl.SSLContext = True,
        headers: Mapping[str, str] | None = None,
        validate_responses: bool = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        batch_concurrency: int = 4,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        shared_state: str | SharedState | None = None,
        profile: str | None = None,
        outbox: str | os.PathLike[str] | Outbox | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        config = ClientConfig.from_env(
            self._ENV_PREFIX,
            default_base_url=self._DEFAULT_BASE_URL,
            base_url=base_url,
            api_key=api_key,
            auth_type=auth_type,
            auth=auth,
            timeout=timeout,
            max_retries=max_retries,
            retry_policy=retry_policy,
            retry_budget=retry_budget,
            circuit_breaker_config=circuit_breaker_config,
            enable_circuit_breaker=enable_circuit_breaker,
            enable_performance_monitoring=enable_performance_monitoring,
            metrics_hooks=metrics_hooks,
            log_every_requests=log_every_requests,
            log_every_seconds=log_every_seconds,
            dry_run=dry_run,
            allow_insecure_http=allow_insecure_http,
            verify=verify,
            headers=headers,
            validate_responses=validate_responses,
            max_response_bytes=max_response_bytes,
            batch_concurrency=batch_concurrency,
            clock=clock,
            wall_clock=wall_clock,
            shared_state=shared_state,
            profile=profile,
            outbox=outbox,
        )
        super().__init__(config, transport=transport, sleep=sleep)

    def get_health(
        self,
    ) -> HealthStatus:
        """Backend health"""

        return self._call(
            OPERATIONS["get_health"],
            _get_health._get_kwargs(),
            HealthStatus.from_dict,
        )

    def get_resources(
        self,
        *,
        resource_type: str | Unset = UNSET,
        region: str | Unset = UNSET,
        account_id: str | Unset = UNSET,
        limit: int | Unset = 100,
        cursor: str | Unset = UNSET,
    ) -> ResourcePage:
        """List resource inventory"""
        self._check_params(
            OPERATIONS["get_resources"],
            {
                "resourceType": resource_type,
                "region": region,
                "accountId": account_id,
                "limit": limit,
                "cursor": cursor,
            },
        )

        return self._call(
            OPERATIONS["get_resources"],
            _get_resources._get_kwargs(
                resource_type=resource_type,
                region=region,
                account_id=account_id,
                limit=limit,
                cursor=cursor,
            ),
            ResourcePage.from_dict,
        )

    def iter_resources(
        self,
        *,
        resource_type: str | Unset = UNSET,
        region: str | Unset = UNSET,
        account_id: str | Unset = UNSET,
        limit: int | Unset = 100,
    ) -> Iterator[ResourceInventory]:
        """Every item of every page of ``get_resources``, following the next-page cursor."""

        def fetch(cursor: str | None) -> ResourcePage:
            return self.get_resources(
                resource_type=resource_type,
                region=region,
                account_id=account_id,
                limit=limit,
                cursor=UNSET if cursor is None else cursor,
            )

        return self._iterate(OPERATIONS["get_resources"], fetch)

    def post_resources(
        self,
        items: Sequence[ResourceInventory | Mapping[str, Any]],
        *,
        chunk_size: int | None = None,
        progress: ProgressCallback | None = None,
        wait_for_recovery: float | None = None,
        resume: BatchResult | None = None,
    ) -> BatchResult:
        """Ingest a batch of resources

        Items may be models or plain dicts; every item is validated against the contract
        first (a bad one raises ``RequestValidationError`` naming its index and field, and
        nothing is sent). More items than the operation takes are split into chunks, each
        with its own Idempotency-Key. The result puts every item in exactly one group:
        accepted, rejected, not delivered or outcome unknown. Pass that result back as
        ``resume=`` with the same items to re-send only what was not delivered or is unknown
        (unknown chunks keep their key, so nothing is stored twice).
        """

        return self._ingest(
            OPERATIONS["post_resources"],
            items,
            lambda: _post_resources._get_kwargs(
                body=[],
            ),
            IngestResult.from_dict,
            chunk_size=chunk_size,
            progress=progress,
            wait_for_recovery=wait_for_recovery,
            resume=resume,
        )

    def get_optimizations(
        self,
        *,
        status: OptimizationStatus | Unset = UNSET,
        risk_level: RiskLevel | Unset = UNSET,
        limit: int | Unset = 100,
        cursor: str | Unset = UNSET,
    ) -> OptimizationPage:
        """List cost optimizations"""
        self._check_params(
            OPERATIONS["get_optimizations"],
            {
                "status": status,
                "riskLevel": risk_level,
                "limit": limit,
                "cursor": cursor,
            },
        )

        if not isinstance(status, Unset):
            status = OptimizationStatus(status)  # a plain str works too
        if not isinstance(risk_level, Unset):
            risk_level = RiskLevel(risk_level)  # a plain str works too

        return self._call(
            OPERATIONS["get_optimizations"],
            _get_optimizations._get_kwargs(
                status=status,
                risk_level=risk_level,
                limit=limit,
                cursor=cursor,
            ),
            OptimizationPage.from_dict,
        )

    def iter_optimizations(
        self,
        *,
        status: OptimizationStatus | Unset = UNSET,
        risk_level: RiskLevel | Unset = UNSET,
        limit: int | Unset = 100,
    ) -> Iterator[CostOptimization]:
        """Every item of every page of ``get_optimizations``, following the next-page cursor."""

        def fetch(cursor: str | None) -> OptimizationPage:
            return self.get_optimizations(
                status=status,
                risk_level=risk_level,
                limit=limit,
                cursor=UNSET if cursor is None else cursor,
            )

        return self._iterate(OPERATIONS["get_optimizations"], fetch)

    def post_optimizations(
        self,
        items: Sequence[CostOptimization | Mapping[str, Any]],
        *,
        chunk_size: int | None = None,
        progress: ProgressCallback | None = None,
        wait_for_recovery: float | None = None,
        resume: BatchResult | None = None,
    ) -> BatchResult:
        """Ingest a batch of cost optimizations

        Items may be models or plain dicts; every item is validated against the contract
        first (a bad one raises ``RequestValidationError`` naming its index and field, and
        nothing is sent). More items than the operation takes are split into chunks, each
        with its own Idempotency-Key. The result puts every item in exactly one group:
        accepted, rejected, not delivered or outcome unknown. Pass that result back as
        ``resume=`` with the same items to re-send only what was not delivered or is unknown
        (unknown chunks keep their key, so nothing is stored twice).
        """

        return self._ingest(
            OPERATIONS["post_optimizations"],
            items,
            lambda: _post_optimizations._get_kwargs(
                body=[],
            ),
            IngestResult.from_dict,
            chunk_size=chunk_size,
            progress=progress,
            wait_for_recovery=wait_for_recovery,
            resume=resume,
        )

    def approve_optimization(
        self,
        optimization_id: str,
        approved: bool = True,
        comment: str | Unset | None = UNSET,
    ) -> Approval | DryRun:
        """Approve or reject a cost optimization

        In dry run, validates and returns what would have been sent instead.
        """
        self._check_params(
            OPERATIONS["approve_optimization"],
            {
                "optimizationId": optimization_id,
            },
        )

        body = ApprovalRequest(
            approved=approved,
            comment=UNSET if comment is None else comment,
        )
        return self._call_with_body(
            OPERATIONS["approve_optimization"],
            _approve_optimization._get_kwargs(
                optimization_id=optimization_id,
                body=body,
            ),
            body.to_dict(),
            Approval.from_dict,
        )

    def get_anomalies(
        self,
        *,
        severity: Severity | Unset = UNSET,
        limit: int | Unset = 100,
        cursor: str | Unset = UNSET,
    ) -> AnomalyPage:
        """List cost anomalies"""
        self._check_params(
            OPERATIONS["get_anomalies"],
            {
                "severity": severity,
                "limit": limit,
                "cursor": cursor,
            },
        )

        if not isinstance(severity, Unset):
            severity = Severity(severity)  # a plain str works too

        return self._call(
            OPERATIONS["get_anomalies"],
            _get_anomalies._get_kwargs(
                severity=severity,
                limit=limit,
                cursor=cursor,
            ),
            AnomalyPage.from_dict,
        )

    def iter_anomalies(
        self,
        *,
        severity: Severity | Unset = UNSET,
        limit: int | Unset = 100,
    ) -> Iterator[CostAnomaly]:
        """Every item of every page of ``get_anomalies``, following the next-page cursor."""

        def fetch(cursor: str | None) -> AnomalyPage:
            return self.get_anomalies(
                severity=severity,
                limit=limit,
                cursor=UNSET if cursor is None else cursor,
            )

        return self._iterate(OPERATIONS["get_anomalies"], fetch)

    def post_anomalies(
        self,
        items: Sequence[CostAnomaly | Mapping[str, Any]],
        *,
        chunk_size: int | None = None,
        progress: ProgressCallback | None = None,
        wait_for_recovery: float | None = None,
        resume: BatchResult | None = None,
    ) -> BatchResult:
        """Ingest a batch of cost anomalies

        Items may be models or plain dicts; every item is validated against the contract
        first (a bad one raises ``RequestValidationError`` naming its index and field, and
        nothing is sent). More items than the operation takes are split into chunks, each
        with its own Idempotency-Key. The result puts every item in exactly one group:
        accepted, rejected, not delivered or outcome unknown. Pass that result back as
        ``resume=`` with the same items to re-send only what was not delivered or is unknown
        (unknown chunks keep their key, so nothing is stored twice).
        """

        return self._ingest(
            OPERATIONS["post_anomalies"],
            items,
            lambda: _post_anomalies._get_kwargs(
                body=[],
            ),
            IngestResult.from_dict,
            chunk_size=chunk_size,
            progress=progress,
            wait_for_recovery=wait_for_recovery,
            resume=resume,
        )

    def get_budget_forecasts(
        self,
        *,
        limit: int | Unset = 100,
        cursor: str | Unset = UNSET,
    ) -> BudgetForecastPage:
        """List budget forecasts"""
        self._check_params(
            OPERATIONS["get_budget_forecasts"],
            {
                "limit": limit,
                "cursor": cursor,
            },
        )

        return self._call(
            OPERATIONS["get_budget_forecasts"],
            _get_budget_forecasts._get_kwargs(
                limit=limit,
                cursor=cursor,
            ),
            BudgetForecastPage.from_dict,
        )

    def iter_budget_forecasts(
        self,
        *,
        limit: int | Unset = 100,
    ) -> Iterator[BudgetForecast]:
        """Every item of every page of ``get_budget_forecasts``, following the next-page cursor."""

        def fetch(cursor: str | None) -> BudgetForecastPage:
            return self.get_budget_forecasts(
                limit=limit,
                cursor=UNSET if cursor is None else cursor,
            )

        return self._iterate(OPERATIONS["get_budget_forecasts"], fetch)

    def post_budget_forecasts(
        self,
        items: Sequence[BudgetForecast | Mapping[str, Any]],
        *,
        chunk_size: int | None = None,
        progress: ProgressCallback | None = None,
        wait_for_recovery: float | None = None,
        resume: BatchResult | None = None,
    ) -> BatchResult:
        """Ingest a batch of budget forecasts

        Items may be models or plain dicts; every item is validated against the contract
        first (a bad one raises ``RequestValidationError`` naming its index and field, and
        nothing is sent). More items than the operation takes are split into chunks, each
        with its own Idempotency-Key. The result puts every item in exactly one group:
        accepted, rejected, not delivered or outcome unknown. Pass that result back as
        ``resume=`` with the same items to re-send only what was not delivered or is unknown
        (unknown chunks keep their key, so nothing is stored twice).
        """

        return self._ingest(
            OPERATIONS["post_budget_forecasts"],
            items,
            lambda: _post_budget_forecasts._get_kwargs(
                body=[],
            ),
            IngestResult.from_dict,
            chunk_size=chunk_size,
            progress=progress,
            wait_for_recovery=wait_for_recovery,
            resume=resume,
        )


class AsyncFinOpsClient(AsyncAPIClient):
    """Async client for the FinOps API; share one per event loop.

    Options left ``None`` are resolved in one order: explicit argument, then environment
    (``FINOPS_API_URL``, ``FINOPS_API_KEY``, ``FINOPS_AUTH_TYPE``, ``FINOPS_DRY_RUN``,
    ``FINOPS_TIMEOUT``, ``FINOPS_MAX_RETRIES``,
    ``FINOPS_OUTBOX``, ``FINOPS_SHARED_STATE``), then the named profile (``profile=``, else
    ``FINOPS_PROFILE``, else ``default``) of the config and credentials files, then the
    default (the URL's: ``DEFAULT_BASE_URL``). A bad value is refused naming its variable,
    or its file and line. Times are in seconds.

    - ``base_url`` (default ``None``): the API's root URL; None: from the environment
    - ``api_key`` (default ``None``): the credential, sent per auth_type; None: from the environment
    - ``auth_type`` (default ``None``): how api_key is sent: 'api_key' (X-API-Key header), 'bearer' or 'basic'; None: from the environment, else 'api_key'
    - ``auth`` (default ``None``): an auth object instead of api_key
    - ``timeout`` (default ``None``): seconds per network phase (or an httpx.Timeout); None: from the environment or profile, else 30
    - ``max_retries`` (default ``None``): retries after the first attempt; None: the retry policy's (3)
    - ``retry_policy`` (default ``None``): backoff, deadline and statuses
    - ``retry_budget`` (default ``True``): True: 20% of requests plus 10/s; False/None: unbounded
    - ``circuit_breaker_config`` (default ``None``): thresholds; None: the defaults
    - ``enable_circuit_breaker`` (default ``True``): False: no breaker at all
    - ``enable_performance_monitoring`` (default ``True``): False: no metrics
    - ``metrics_hooks`` (default ``()``): exporters told of every request, retry and transition
    - ``log_every_requests`` (default ``None``): log a metrics line every N requests
    - ``log_every_seconds`` (default ``None``): log a metrics line every T seconds
    - ``dry_run`` (default ``None``): validate and describe writes, send none; None: from the environment
    - ``allow_insecure_http`` (default ``False``): allow credentials over plain http
    - ``verify`` (default ``True``): TLS verification
    - ``headers`` (default ``None``): extra headers on every request
    - ``validate_responses`` (default ``True``): check 2xx bodies against the contract
    - ``max_response_bytes`` (default ``DEFAULT_MAX_RESPONSE_BYTES``): largest response body read, in bytes
    - ``batch_concurrency`` (default ``4``): chunks in flight at once (async client)
    - ``clock`` (default ``time.monotonic``): monotonic seconds, for tests
    - ``wall_clock`` (default ``time.time``): epoch seconds, for Retry-After dates
    - ``shared_state`` (default ``None``): fleet mode: breaker and retry budget shared through 'redis://HOST:PORT/DB' (or a SharedState)
    - ``profile`` (default ``None``): the named profile (config and credentials files); None: from the environment, else default
    - ``outbox`` (default ``None``): a durable outbox: an SQLite file's path or an Outbox; batch calls are recorded before they are sent, client.outbox.replay() re-sends what was not settled; None: from the environment, else none
    - ``transport``: the network transport (tests, proxies); ``asleep``: what waits, in seconds.
    """

    _ENV_PREFIX: ClassVar[str] = "FINOPS"
    _USER_AGENT: ClassVar[str | None] = USER_AGENT
    _DEFAULT_BASE_URL: ClassVar[str] = DEFAULT_BASE_URL
    _UNSET: ClassVar[object] = UNSET
    _OPERATIONS: ClassVar[Mapping[str, Operation]] = OPERATIONS
    _HEALTH_OPERATION: ClassVar[Operation | None] = OPERATIONS.get("get_health")
    _HEALTH_FALLBACK: ClassVar[tuple[Operation, Mapping[str, Any]] | None] = (
        (OPERATIONS["get_resources"], {"limit": 1}) if "get_resources" in OPERATIONS else None
    )

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        auth_type: AuthType | None = None,
        auth: httpx.Auth | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        retry_budget: RetryBudget | bool | None = True,
        circuit_breaker_config: CircuitBreakerConfig | None = None,
        enable_circuit_breaker: bool = True,
        enable_performance_monitoring: bool = True,
        metrics_hooks: Iterable[MetricsHook] = (),
        log_every_requests: int | None = None,
        log_every_seconds: float | None = None,
        dry_run: bool | None = None,
        allow_insecure_http: bool = False,
        verify: bool | str | ssl.SSLContext = True,
        headers: Mapping[str, str] | None = None,
        validate_responses: bool = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        batch_concurrency: int = 4,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        shared_state: str | SharedState | None = None,
        profile: str | None = None,
        outbox: str | os.PathLike[str] | Outbox | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        config = ClientConfig.from_env(
            self._ENV_PREFIX,
            default_base_url=self._DEFAULT_BASE_URL,
            base_url=base_url,
            api_key=api_key,
            auth_type=auth_type,
            auth=auth,
            timeout=timeout,
            max_retries=max_retries,
            retry_policy=retry_policy,
            retry_budget=retry_budget,
            circuit_breaker_config=circuit_breaker_config,
            enable_circuit_breaker=enable_circuit_breaker,
            enable_performance_monitoring=enable_performance_monitoring,
            metrics_hooks=metrics_hooks,
            log_every_requests=log_every_requests,
            log_every_seconds=log_every_seconds,
            dry_run=dry_run,
            allow_insecure_http=allow_insecure_http,
            verify=verify,
            headers=headers,
            validate_responses=validate_responses,
            max_response_bytes=max_response_bytes,
            batch_concurrency=batch_concurrency,
            clock=clock,
            wall_clock=wall_clock,
            shared_state=shared_state,
            profile=profile,
            outbox=outbox,
        )
        super().__init__(config, transport=transport, asleep=asleep)

    async def get_health(
        self,
    ) -> HealthStatus:
        """Backend health"""

        return await self._call(
            OPERATIONS["get_health"],
            _get_health._get_kwargs(),
            HealthStatus.from_dict,
        )

    async def get_resources(
        self,
        *,
        resource_type: str | Unset = UNSET,
        region: str | Unset = UNSET,
        account_id: str | Unset = UNSET,
        limit: int | Unset = 100,
        cursor: str | Unset = UNSET,
    ) -> ResourcePage:
        """List resource inventory"""
        self._check_params(
            OPERATIONS["get_resources"],
            {
                "resourceType": resource_type,
                "region": region,
                "accountId": account_id,
                "limit": limit,
                "cursor": cursor,
            },
        )

        return await self._call(
            OPERATIONS["get_resources"],
            _get_resources._get_kwargs(
                resource_type=resource_type,
                region=region,
                account_id=account_id,
                limit=limit,
                cursor=cursor,
            ),
            ResourcePage.from_dict,
        )

    def iter_resources(
        self,
        *,
        resource_type: str | Unset = UNSET,
        region: str | Unset = UNSET,
        account_id: str | Unset = UNSET,
        limit: int | Unset = 100,
    ) -> AsyncIterator[ResourceInventory]:
        """Every item of every page of ``get_resources``, following the next-page cursor."""

        async def fetch(cursor: str | None) -> ResourcePage:
            return await self.get_resources(
                resource_type=resource_type,
                region=region,
                account_id=account_id,
                limit=limit,
                cursor=UNSET if cursor is None else cursor,
            )

        return self._iterate(OPERATIONS["get_resources"], fetch)

    async def post_resources(
        self,
        items: Sequence[ResourceInventory | Mapping[str, Any]],
        *,
        chunk_size: int | None = None,
        progress: ProgressCallback | None = None,
        wait_for_recovery: float | None = None,
        resume: BatchResult | None = None,
    ) -> BatchResult:
        """Ingest a batch of resources

        Items may be models or plain dicts; every item is validated against the contract
        first (a bad one raises ``RequestValidationError`` naming its index and field, and
        nothing is sent). More items than the operation takes are split into chunks, each
        with its own Idempotency-Key. The result puts every item in exactly one group:
        accepted, rejected, not delivered or outcome unknown. Pass that result back as
        ``resume=`` with the same items to re-send only what was not delivered or is unknown
        (unknown chunks keep their key, so nothing is stored twice).
        """

        return await self._ingest(
            OPERATIONS["post_resources"],
            items,
            lambda: _post_resources._get_kwargs(
                body=[],
            ),
            IngestResult.from_dict,
            chunk_size=chunk_size,
            progress=progress,
            wait_for_recovery=wait_for_recovery,
            resume=resume,
        )

    async def get_optimizations(
        self,
        *,
        status: OptimizationStatus | Unset = UNSET,
        risk_level: RiskLevel | Unset = UNSET,
        limit: int | Unset = 100,
        cursor: str | Unset = UNSET,
    ) -> OptimizationPage:
        """List cost optimizations"""
        self._check_params(
            OPERATIONS["get_optimizations"],
            {
                "status": status,
                "riskLevel": risk_level,
                "limit": limit,
                "cursor": cursor,
            },
        )

        if not isinstance(status, Unset):
            status = OptimizationStatus(status)  # a plain str works too
        if not isinstance(risk_level, Unset):
            risk_level = RiskLevel(risk_level)  # a plain str works too

        return await self._call(
            OPERATIONS["get_optimizations"],
            _get_optimizations._get_kwargs(
                status=status,
                risk_level=risk_level,
                limit=limit,
                cursor=cursor,
            ),
            OptimizationPage.from_dict,
        )

    def iter_optimizations(
        self,
        *,
        status: OptimizationStatus | Unset = UNSET,
        risk_level: RiskLevel | Unset = UNSET,
        limit: int | Unset = 100,
    ) -> AsyncIterator[CostOptimization]:
        """Every item of every page of ``get_optimizations``, following the next-page cursor."""

        async def fetch(cursor: str | None) -> OptimizationPage:
            return await self.get_optimizations(
                status=status,
                risk_level=risk_level,
                limit=limit,
                cursor=UNSET if cursor is None else cursor,
            )

        return self._iterate(OPERATIONS["get_optimizations"], fetch)

    async def post_optimizations(
        self,
        items: Sequence[CostOptimization | Mapping[str, Any]],
        *,
        chunk_size: int | None = None,
        progress: ProgressCallback | None = None,
        wait_for_recovery: float | None = None,
        resume: BatchResult | None = None,
    ) -> BatchResult:
        """Ingest a batch of cost optimizations

        Items may be models or plain dicts; every item is validated against the contract
        first (a bad one raises ``RequestValidationError`` naming its index and field, and
        nothing is sent). More items than the operation takes are split into chunks, each
        with its own Idempotency-Key. The result puts every item in exactly one group:
        accepted, rejected, not delivered or outcome unknown. Pass that result back as
        ``resume=`` with the same items to re-send only what was not delivered or is unknown
        (unknown chunks keep their key, so nothing is stored twice).
        """

        return await self._ingest(
            OPERATIONS["post_optimizations"],
            items,
            lambda: _post_optimizations._get_kwargs(
                body=[],
            ),
            IngestResult.from_dict,
            chunk_size=chunk_size,
            progress=progress,
            wait_for_recovery=wait_for_recovery,
            resume=resume,
        )

    async def approve_optimization(
        self,
        optimization_id: str,
        approved: bool = True,
        comment: str | Unset | None = UNSET,
    ) -> Approval | DryRun:
        """Approve or reject a cost optimization

        In dry run, validates and returns what would have been sent instead.
        """
        self._check_params(
            OPERATIONS["approve_optimization"],
            {
                "optimizationId": optimization_id,
            },
        )

        body = ApprovalRequest(
            approved=approved,
            comment=UNSET if comment is None else comment,
        )
        return await self._call_with_body(
            OPERATIONS["approve_optimization"],
            _approve_optimization._get_kwargs(
                optimization_id=optimization_id,
                body=body,
            ),
            body.to_dict(),
            Approval.from_dict,
        )

    async def get_anomalies(
        self,
        *,
        severity: Severity | Unset = UNSET,
        limit: int | Unset = 100,
        cursor: str | Unset = UNSET,
    ) -> AnomalyPage:
        """List cost anomalies"""
        self._check_params(
            OPERATIONS["get_anomalies"],
            {
                "severity": severity,
                "limit": limit,
                "cursor": cursor,
            },
        )

        if not isinstance(severity, Unset):
            severity = Severity(severity)  # a plain str works too

        return await self._call(
            OPERATIONS["get_anomalies"],
            _get_anomalies._get_kwargs(
                severity=severity,
                limit=limit,
                cursor=cursor,
            ),
            AnomalyPage.from_dict,
        )

    def iter_anomalies(
        self,
        *,
        severity: Severity | Unset = UNSET,
        limit: int | Unset = 100,
    ) -> AsyncIterator[CostAnomaly]:
        """Every item of every page of ``get_anomalies``, following the next-page cursor."""

        async def fetch(cursor: str | None) -> AnomalyPage:
            return await self.get_anomalies(
                severity=severity,
                limit=limit,
                cursor=UNSET if cursor is None else cursor,
            )

        return self._iterate(OPERATIONS["get_anomalies"], fetch)

    async def post_anomalies(
        self,
        items: Sequence[CostAnomaly | Mapping[str, Any]],
        *,
        chunk_size: int | None = None,
        progress: ProgressCallback | None = None,
        wait_for_recovery: float | None = None,
        resume: BatchResult | None = None,
    ) -> BatchResult:
        """Ingest a batch of cost anomalies

        Items may be models or plain dicts; every item is validated against the contract
        first (a bad one raises ``RequestValidationError`` naming its index and field, and
        nothing is sent). More items than the operation takes are split into chunks, each
        with its own Idempotency-Key. The result puts every item in exactly one group:
        accepted, rejected, not delivered or outcome unknown. Pass that result back as
        ``resume=`` with the same items to re-send only what was not delivered or is unknown
        (unknown chunks keep their key, so nothing is stored twice).
        """

        return await self._ingest(
            OPERATIONS["post_anomalies"],
            items,
            lambda: _post_anomalies._get_kwargs(
                body=[],
            ),
            IngestResult.from_dict,
            chunk_size=chunk_size,
            progress=progress,
            wait_for_recovery=wait_for_recovery,
            resume=resume,
        )

    async def get_budget_forecasts(
        self,
        *,
        limit: int | Unset = 100,
        cursor: str | Unset = UNSET,
    ) -> BudgetForecastPage:
        """List budget forecasts"""
        self._check_params(
            OPERATIONS["get_budget_forecasts"],
            {
                "limit": limit,
                "cursor": cursor,
            },
        )

        return await self._call(
            OPERATIONS["get_budget_forecasts"],
            _get_budget_forecasts._get_kwargs(
                limit=limit,
                cursor=cursor,
            ),
            BudgetForecastPage.from_dict,
        )

    def iter_budget_forecasts(
        self,
        *,
        limit: int | Unset = 100,
    ) -> AsyncIterator[BudgetForecast]:
        """Every item of every page of ``get_budget_forecasts``, following the next-page cursor."""

        async def fetch(cursor: str | None) -> BudgetForecastPage:
            return await self.get_budget_forecasts(
                limit=limit,
                cursor=UNSET if cursor is None else cursor,
            )

        return self._iterate(OPERATIONS["get_budget_forecasts"], fetch)

    async def post_budget_forecasts(
        self,
        items: Sequence[BudgetForecast | Mapping[str, Any]],
        *,
        chunk_size: int | None = None,
        progress: ProgressCallback | None = None,
        wait_for_recovery: float | None = None,
        resume: BatchResult | None = None,
    ) -> BatchResult:
        """Ingest a batch of budget forecasts

        Items may be models or plain dicts; every item is validated against the contract
        first (a bad one raises ``RequestValidationError`` naming its index and field, and
        nothing is sent). More items than the operation takes are split into chunks, each
        with its own Idempotency-Key. The result puts every item in exactly one group:
        accepted, rejected, not delivered or outcome unknown. Pass that result back as
        ``resume=`` with the same items to re-send only what was not delivered or is unknown
        (unknown chunks keep their key, so nothing is stored twice).
        """

        return await self._ingest(
            OPERATIONS["post_budget_forecasts"],
            items,
            lambda: _post_budget_forecasts._get_kwargs(
                body=[],
            ),
            IngestResult.from_dict,
            chunk_size=chunk_size,
            progress=progress,
            wait_for_recovery=wait_for_recovery,
            resume=resume,
        )
