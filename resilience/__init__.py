"""resilience: a generic resilient transport stack for httpx-based API clients.

It knows httpx, not any one API: generated clients put the operation id and route template
in each request's ``extensions`` and this package keys its policies and metrics by them.
Implementation lives in private modules; everything public is re-exported here.
"""

import logging as _logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._aiohttp import AiohttpTransport
from ._async import AsyncAPIClient
from ._auth import (
    ApiKeyAuth,
    AuthScheme,
    BasicAuth,
    BearerAuth,
    PinnedAuth,
    SwitchableAuth,
    TokenProviderAuth,
    auth_from_credential,
    is_loopback_host,
)
from ._batch import BatchProgress, BatchResult, ChunkFailure, DryRun, ProgressCallback, RejectedItem
from ._breaker import CircuitBreaker
from ._breaker_config import (
    BreakerListener,
    BreakerSnapshot,
    BreakerTransition,
    CircuitBreakerConfig,
    CircuitState,
    Outcome,
    Permit,
    classify_status,
)
from ._breaker_registry import BreakerRegistry, CircuitBreakerControl
from ._call import CallRecord, call_record_of
from ._config import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, ClientConfig
from ._credentials import AUTH_TYPES, AuthType
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CircuitOpenError,
    ConfigurationError,
    ConflictError,
    InsecureTransportError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestValidationError,
    ResponseTooLargeError,
    UnprocessableEntityError,
    status_error_for,
)
from ._errors_client import (
    BatchInterruptedError,
    ClientClosedError,
    CrossOriginRedirectError,
    RedirectLoopError,
    WrongEventLoopError,
)
from ._fleet import FleetStats, FleetSync
from ._fleet_breaker import FleetCircuitBreaker, FleetView
from ._fleet_budget import FleetRetryBudget
from ._fleet_store import FleetSettings, RedisSharedState, ScriptCall, SharedState, SharedStateError
from ._health import HealthReport
from ._layers import CircuitBreakerTransport, GateTransport, Layer, RequestRefused, RetryTransport
from ._layers_watch import CredentialGuardTransport, LoggingTransport, TracingTransport
from ._metrics import DEFAULT_BUCKETS, OUTCOME_KINDS, MetricsRecorder, MetricsSnapshot, OperationMetrics
from ._metrics_events import ClientBound, MetricsHook, RequestEnd, RequestStart, RetryEvent, TracingHook
from ._operation import EXT_OPERATION, BatchSpec, Operation, PageSpec, operation_of
from ._otel import OpenTelemetryHook
from ._outbox import (
    DeadLetter,
    NewChunk,
    Outbox,
    OutboxError,
    OutboxFullError,
    OutboxStats,
    OutboxUnusableError,
    ReplayReport,
    StoredChunk,
)
from ._outbox_replay import AsyncClientOutbox, ClientOutbox
from ._outbox_sqlite import SQLiteOutbox
from ._profiles import (
    CONFIG_KEYS,
    CREDENTIAL_KEYS,
    InsecureCredentialsFileWarning,
    Profile,
    ProfileError,
    ProfileFiles,
    load_profile,
    profile_files,
)
from ._prometheus import PrometheusHook
from ._redact import REDACTED, SAFE_HEADERS, SECRET_KEY_PATTERN, redact_body, redact_headers
from ._response import no_body
from ._retry import (
    IDEMPOTENT_METHODS,
    RETRYABLE_STATUSES,
    RetryBudget,
    RetryPolicy,
    as_testing,
    is_testing,
    parse_retry_after,
    set_testing,
)
from ._stack import ResilienceStack, build_transport, default_async_transport, default_sync_transport
from ._sync import SyncAPIClient
from ._testing import ContractOperation, ContractViolation, OpenAPIContract, ValidatedRequest, ValidatedResponse
from ._validation import Invalid, compile_schema

__all__ = [
    "AUTH_TYPES",
    "CONFIG_KEYS",
    "CREDENTIAL_KEYS",
    "DEFAULT_BUCKETS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "EXT_OPERATION",
    "IDEMPOTENT_METHODS",
    "OUTCOME_KINDS",
    "REDACTED",
    "RETRYABLE_STATUSES",
    "SAFE_HEADERS",
    "SECRET_KEY_PATTERN",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AiohttpTransport",
    "ApiKeyAuth",
    "AsyncAPIClient",
    "AsyncClientOutbox",
    "AuthScheme",
    "AuthType",
    "AuthenticationError",
    "BadRequestError",
    "BasicAuth",
    "BatchInterruptedError",
    "BatchProgress",
    "BatchResult",
    "BatchSpec",
    "BearerAuth",
    "BreakerListener",
    "BreakerRegistry",
    "BreakerSnapshot",
    "BreakerTransition",
    "CallRecord",
    "ChunkFailure",
    "CircuitBreaker",
    "CircuitBreakerConfig",
    "CircuitBreakerControl",
    "CircuitBreakerTransport",
    "CircuitOpenError",
    "CircuitState",
    "ClientBound",
    "ClientClosedError",
    "ClientConfig",
    "ClientOutbox",
    "ConfigurationError",
    "ConflictError",
    "ContractOperation",
    "ContractViolation",
    "CredentialGuardTransport",
    "CrossOriginRedirectError",
    "DeadLetter",
    "DryRun",
    "FleetCircuitBreaker",
    "FleetRetryBudget",
    "FleetSettings",
    "FleetStats",
    "FleetSync",
    "FleetView",
    "GateTransport",
    "HealthReport",
    "InsecureCredentialsFileWarning",
    "InsecureTransportError",
    "InternalServerError",
    "Invalid",
    "Layer",
    "LoggingTransport",
    "MetricsHook",
    "MetricsRecorder",
    "MetricsSnapshot",
    "NewChunk",
    "NotFoundError",
    "OpenAPIContract",
    "OpenTelemetryHook",
    "Operation",
    "OperationMetrics",
    "Outbox",
    "OutboxError",
    "OutboxFullError",
    "OutboxStats",
    "OutboxUnusableError",
    "Outcome",
    "PageSpec",
    "PermissionDeniedError",
    "Permit",
    "PinnedAuth",
    "Profile",
    "ProfileError",
    "ProfileFiles",
    "ProgressCallback",
    "PrometheusHook",
    "RateLimitError",
    "RedirectLoopError",
    "RedisSharedState",
    "RejectedItem",
    "ReplayReport",
    "RequestEnd",
    "RequestRefused",
    "RequestStart",
    "RequestValidationError",
    "ResilienceStack",
    "ResponseTooLargeError",
    "RetryBudget",
    "RetryEvent",
    "RetryPolicy",
    "RetryTransport",
    "SQLiteOutbox",
    "ScriptCall",
    "SharedState",
    "SharedStateError",
    "StoredChunk",
    "SwitchableAuth",
    "SyncAPIClient",
    "TokenProviderAuth",
    "TracingHook",
    "TracingTransport",
    "UnprocessableEntityError",
    "ValidatedRequest",
    "ValidatedResponse",
    "WrongEventLoopError",
    "as_testing",
    "auth_from_credential",
    "build_transport",
    "call_record_of",
    "classify_status",
    "compile_schema",
    "default_async_transport",
    "default_sync_transport",
    "is_loopback_host",
    "is_testing",
    "load_profile",
    "no_body",
    "operation_of",
    "parse_retry_after",
    "profile_files",
    "redact_body",
    "redact_headers",
    "set_testing",
    "status_error_for",
]


def __getattr__(name: str) -> Any:
    """``AiohttpTransport`` is imported on first use: aiohttp takes ~0.4 s to import, which a
    sync program (the ``finops`` command) never needs."""
    if name == "AiohttpTransport":
        from ._aiohttp import AiohttpTransport

        return AiohttpTransport
    raise AttributeError(f"module 'resilience' has no attribute {name!r}")


# A library adds no handler of its own: without the application's logging set up, nothing prints.
_logging.getLogger("resilience").addHandler(_logging.NullHandler())
