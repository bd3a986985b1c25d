"""Generic API client bases for generated facades (``FinOpsClient`` derives from these).

A generated subclass supplies the contract metadata (``_CONTRACT``: operation id -> method,
route, body and response schemas, batch and pagination hints) and one method per
operation that builds the generated request kwargs and names the model to parse into.
Everything else (configuration, the transport stack, validation, batching, dry run, health
check, metrics) is here, contract-agnostic. :class:`_Core` holds the decisions;
:class:`SyncAPIClient` and :class:`AsyncAPIClient` are the thin drivers that do I/O.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import ssl
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Self, TypedDict, TypeVar, Unpack

import attrs
import httpx

from ._auth import SwitchableAuth, auth_from_credential
from ._batch import (
    BatchProgress,
    BatchResult,
    DryRun,
    ProgressCallback,
    _ChunkOutcome,
    assemble,
    chunk_accepted,
    chunk_failed,
    plan_chunks,
)
from ._breaker import CircuitBreaker
from ._breaker_config import CircuitBreakerConfig
from ._breaker_registry import BreakerRegistry, CircuitBreakerControl
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    CircuitOpenError,
    ConfigurationError,
    RequestValidationError,
    status_error_for,
)
from ._metrics import MetricsRecorder, MetricsSnapshot
from ._metrics_events import MetricsHook
from ._redact import SECRET_KEY_PATTERN, redact_body
from ._retry import RetryBudget, RetryPolicy, is_testing, parse_retry_after
from ._stack import ResilienceStack, build_transport, default_async_transport, default_sync_transport
from ._transports import EXT_OPERATION, EXT_ROUTE, NOTE_MAYBE_DELIVERED, NOTE_RETRY_AFTER, CorrelationTransport
from ._validation import Invalid, Validator, compile_schema

__all__ = ["AsyncAPIClient", "ClientOptions", "HealthReport", "SyncAPIClient"]

logger = logging.getLogger("resilience.client")
T = TypeVar("T")

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@attrs.frozen(slots=True)
class HealthReport:
    """Truthy when the backend answered and reported a healthy status (``ok``/``degraded``)."""

    healthy: bool
    endpoint: str | None
    status: str | None
    http_status: int | None
    latency: float | None
    circuit_breaker: str | None
    error: str | None = None

    def __bool__(self) -> bool:
        return self.healthy


def _safe_message(exc: Invalid) -> str:
    """The validator quotes a bad value; not when the field's name says it may be a secret."""
    if exc.path and SECRET_KEY_PATTERN.search(exc.path):
        return "has an invalid value (not shown: the field name marks it as secret)"
    return exc.message


def _env_flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be one of 1/0/true/false/yes/no/on/off, got {raw!r}")


def _check_base_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigurationError(f"invalid base URL {url!r}: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(f"base URL must be an absolute http(s) URL with a host, got {url!r}")
    if parsed.userinfo:
        raise ConfigurationError("put credentials in api_key/auth, not in the base URL")
    if parsed.query or parsed.fragment:
        raise ConfigurationError(f"base URL must not carry a query or fragment, got {url!r}")
    return parsed


def _timeout(value: float | httpx.Timeout | None) -> httpx.Timeout:
    if isinstance(value, httpx.Timeout):
        return value
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"timeout must be a positive number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"timeout must be a positive number of seconds, got {value!r}")
    return httpx.Timeout(float(value))


class _SetCookieOnly(httpx.Cookies):
    """httpx runs every response through http.cookiejar (~20 µs: it builds urllib request and
    response shims) even when it sets no cookie; this skips that unless it does."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


def _fast_cookies(client: httpx.Client | httpx.AsyncClient) -> None:
    # httpx's `cookies` setter copies into a plain Cookies, so the jar is swapped directly
    # (httpx is pinned below 0.29; a test checks that Set-Cookie still works).
    client._cookies = _SetCookieOnly(client.cookies)


class ClientOptions(TypedDict, total=False):
    """The keyword options every client takes (``_Core.__init__`` documents the defaults):
    typed here once so ``FinOpsClient(..., timeout="30")`` is a type error for the caller."""

    api_key: str | None
    auth_type: str
    auth: httpx.Auth | None
    timeout: float | httpx.Timeout
    max_retries: int
    retry_policy: RetryPolicy | None
    retry_budget: RetryBudget | bool | None
    circuit_breaker_config: CircuitBreakerConfig | None
    enable_circuit_breaker: bool
    enable_performance_monitoring: bool
    metrics_hooks: Iterable[MetricsHook]
    log_every_requests: int | None
    log_every_seconds: float | None
    dry_run: bool | None
    allow_insecure_http: bool
    verify: bool | str | ssl.SSLContext
    headers: Mapping[str, str] | None
    validate_responses: bool
    max_response_bytes: int
    clock: Callable[[], float]
    wall_clock: Callable[[], float]


class _Core:
    """Configuration and every decision that does no I/O."""

    #: Set by the generated subclass.
    _CONTRACT: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    _ENV_PREFIX: ClassVar[str] = "API"
    _DEFAULT_BASE_URL: ClassVar[str] = "http://localhost"
    _HEALTH_OPERATION: ClassVar[str | None] = None
    _HEALTH_FALLBACK: ClassVar[tuple[str, Mapping[str, Any]] | None] = None
    _HEALTHY_STATUSES: ClassVar[frozenset[str]] = frozenset({"ok", "degraded"})
    #: The generated package's "argument not given" sentinel: such arguments are not checked.
    _UNSET: ClassVar[object] = None

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        auth_type: str = "api_key",
        auth: httpx.Auth | None = None,
        timeout: float | httpx.Timeout = 30.0,
        max_retries: int = 3,
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
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        env = os.environ
        prefix = self._ENV_PREFIX
        url = base_url if base_url is not None else env.get(f"{prefix}_API_URL") or self._DEFAULT_BASE_URL
        self._base_url = _check_base_url(url)
        self._home_origin = f"{self._base_url.scheme}://{self._base_url.netloc.decode('ascii')}"
        if api_key is None and auth is None:
            api_key = env.get(f"{prefix}_API_KEY") or None
        if dry_run is None:
            raw = env.get(f"{prefix}_DRY_RUN")
            dry_run = _env_flag(f"{prefix}_DRY_RUN", raw) if raw is not None else False
        self._dry_run = bool(dry_run)
        self._allow_insecure_http = allow_insecure_http
        if auth is not None and api_key is not None:
            raise ConfigurationError("pass either auth or api_key, not both")
        if auth is None and api_key is not None:
            auth = auth_from_credential(api_key, auth_type, allow_insecure_http=allow_insecure_http)
        if auth is not None and not isinstance(auth, httpx.Auth):
            raise ConfigurationError(f"auth must be an httpx.Auth, got {type(auth).__name__}")
        self._timeout = _timeout(timeout)
        if retry_policy is None:
            retry_policy = RetryPolicy(max_retries=max_retries)
        elif max_retries != 3 and max_retries != retry_policy.max_retries:
            retry_policy = attrs.evolve(retry_policy, max_retries=max_retries)
        if retry_budget is True:
            budget: RetryBudget | None = RetryBudget(clock=clock)
        elif retry_budget is False or retry_budget is None:
            budget = None
        else:
            budget = retry_budget
        metrics = (
            MetricsRecorder(
                hooks=metrics_hooks,
                log_every_requests=log_every_requests,
                log_every_seconds=log_every_seconds,
                clock=clock,
            )
            if enable_performance_monitoring
            else None
        )
        breakers = None
        if enable_circuit_breaker:
            listeners = [metrics.breaker_transition] if metrics is not None else []
            breakers = BreakerRegistry(
                circuit_breaker_config or CircuitBreakerConfig(), clock=clock, listeners=listeners
            )
        self._stack = ResilienceStack(
            auth=SwitchableAuth(auth), policy=retry_policy, budget=budget, breakers=breakers, metrics=metrics
        )
        self._verify = verify
        self._headers = dict(headers or {})
        self._validate_responses = validate_responses
        if max_response_bytes < 1:
            raise ConfigurationError("max_response_bytes must be >= 1")
        self._max_response_bytes = max_response_bytes
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._request_validators: dict[str, Validator] = {}
        self._item_validators: dict[str, Validator] = {}
        self._response_validators: dict[str, Validator] = {}
        self._urls: dict[str, httpx.URL] = {}
        self._home_breakers: dict[str | None, CircuitBreaker] = {}

    # -- configuration -----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return str(self._base_url)

    @property
    def dry_run(self) -> bool:
        return self._dry_run

    @property
    def auth(self) -> httpx.Auth | None:
        return self._stack.auth.current

    @property
    def circuit_breaker(self) -> CircuitBreakerControl | None:
        """``None`` when the client was built with ``enable_circuit_breaker=False``."""
        reg = self._stack.breakers
        if reg is None:
            return None
        return CircuitBreakerControl(reg, reg.key_for(self._home_origin, None))

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._stack.policy

    @property
    def metrics(self) -> MetricsRecorder | None:
        return self._stack.metrics

    def set_authentication(
        self, credential: str | tuple[str, str] | httpx.Auth | None, auth_type: str = "bearer"
    ) -> None:
        """Switch credentials; the next request uses them, requests in flight keep theirs.

        ``credential`` is an auth object, ``None`` (no auth), or a string with ``auth_type``
        "bearer", "api_key" or "basic" (then ``(user, password)`` or ``"user:password"``).
        """
        if credential is None or isinstance(credential, httpx.Auth):
            self._stack.auth.set(credential)
            return
        self._stack.auth.set(auth_from_credential(credential, auth_type, allow_insecure_http=self._allow_insecure_http))

    def _apply_timeout(self, timeout: httpx.Timeout) -> None:
        raise NotImplementedError

    def set_timeout(self, timeout: float | httpx.Timeout) -> None:
        """New timeout for the next requests (seconds, or an ``httpx.Timeout``)."""
        value = _timeout(timeout)
        with self._lock:
            self._timeout = value
            self._apply_timeout(value)

    def get_performance_metrics(self) -> dict[str, Any]:
        """The old client's dict: ``global_metrics``, ``endpoint_metrics`` by route template,
        ``circuit_breaker``."""
        breaker = self.circuit_breaker
        cb: dict[str, object] = breaker.snapshot() if breaker is not None else {"state": "disabled"}
        m = self._stack.metrics
        if m is None:
            return {"enabled": False, "global_metrics": {}, "endpoint_metrics": {}, "circuit_breaker": cb}
        snap = m.snapshot()
        return {
            "enabled": True,
            "global_metrics": snap.global_metrics.as_dict(),
            "endpoint_metrics": {k: v.as_dict() for k, v in sorted(snap.operations.items())},
            "circuit_breaker": cb,
        }

    def get_metrics_snapshot(self) -> MetricsSnapshot | None:
        m = self._stack.metrics
        return m.snapshot() if m is not None else None

    def reset_performance_metrics(self) -> None:
        if self._stack.metrics is not None:
            self._stack.metrics.reset()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, auth={self._stack.auth.current!r}, "
            f"dry_run={self._dry_run})"
        )

    # -- contract ----------------------------------------------------------------------------
    def _op(self, operation: str) -> Mapping[str, Any]:
        try:
            return self._CONTRACT[operation]
        except KeyError:
            raise ConfigurationError(f"unknown operation {operation!r}") from None

    def _validator(self, cache: dict[str, Validator], key: str, schema: Any, *, strict: bool) -> Validator:
        v = cache.get(key)
        if v is None:
            v = cache[key] = compile_schema(schema, forbid_unknown=strict)
        return v

    def _check_body(self, operation: str, body: Any) -> None:
        schema = self._op(operation).get("body")
        if schema is None:
            return
        try:
            self._validator(self._request_validators, operation, schema, strict=True)(body, "")
        except Invalid as exc:
            raise RequestValidationError(_safe_message(exc), field=exc.path or None) from None

    def _check_params(self, operation: str, params: Mapping[str, Any]) -> None:
        op = self._op(operation)
        specs = {**op.get("query_params", {}), **op.get("path_params", {})}
        for name, value in params.items():
            schema = specs.get(name)
            if schema is None or value is None or value is self._UNSET:
                continue
            try:
                self._validator(self._request_validators, f"{operation}:{name}", schema, strict=True)(value, name)
            except Invalid as exc:
                raise RequestValidationError(_safe_message(exc), field=exc.path) from None

    def _prepare_items(self, operation: str, items: Sequence[Any]) -> list[dict[str, Any]]:
        """Models or mappings to validated dicts; the first bad item raises, naming its index."""
        op = self._op(operation)
        batch = op.get("batch")
        body = op.get("body") or {}
        if batch is None:
            raise ConfigurationError(f"{operation} does not take a batch body")
        if isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
            raise RequestValidationError(f"{operation} takes a list of items, got {type(items).__name__}")
        if len(items) < int(batch.get("min_items") or 0):
            raise RequestValidationError(f"{operation} needs at least {batch.get('min_items')} item(s), got 0")
        check = self._validator(self._item_validators, operation, body.get("items"), strict=True)
        out: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            if isinstance(item, Mapping):
                data = dict(item)
            elif hasattr(item, "to_dict"):
                data = item.to_dict()
            else:
                raise RequestValidationError(f"expected a model or a mapping, got {type(item).__name__}", index=i)
            try:
                check(data, "")
            except Invalid as exc:
                raise RequestValidationError(_safe_message(exc), index=i, field=exc.path or None) from None
            out.append(data)
        return out

    def _chunk_size(self, operation: str, chunk_size: int | None) -> int:
        batch = self._op(operation)["batch"]
        max_items = batch.get("max_items")
        if chunk_size is None:
            return int(max_items) if max_items else 500
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ConfigurationError(f"chunk_size must be a positive int, got {chunk_size!r}")
        if max_items and chunk_size > max_items:
            raise ConfigurationError(f"chunk_size {chunk_size} exceeds the operation's maxItems {max_items}")
        return chunk_size

    def _plan(
        self, operation: str, items: Sequence[Any], chunk_size: int | None, resume: BatchResult | None
    ) -> tuple[list[dict[str, Any]], list[tuple[int, int, str, bool]], list[_ChunkOutcome]]:
        """Validate every item, then plan chunks ``(start, stop, idempotency_key)``.

        With ``resume`` (an earlier result for the same items) only its undelivered and
        unknown chunks are planned; unknown ones keep their Idempotency-Key, so a chunk the
        server did store is answered from its idempotency cache, not stored twice. What the
        earlier call settled (accepted, rejected) is carried over. The last element of a plan
        entry says the chunk may already be stored: a definite failure now cannot make it
        "not delivered" again, it stays "outcome unknown".
        """
        data = self._prepare_items(operation, items)
        if resume is None:
            size = self._chunk_size(operation, chunk_size)
            return data, [(a, b, str(uuid.uuid4()), False) for a, b in plan_chunks(len(data), size)], []
        if resume.operation != operation or resume.total != len(data):
            raise ConfigurationError(
                f"resume= takes the result of an earlier {operation} call over the same {len(data)} items, "
                f"got one of {resume.operation} over {resume.total}"
            )
        if resume.dry_run is not None:
            raise ConfigurationError("cannot resume a dry run: nothing was sent")
        plan = [(f.start, f.stop, f.idempotency_key or str(uuid.uuid4()), True) for f in resume.outcome_unknown]
        plan += [(f.start, f.stop, str(uuid.uuid4()), False) for f in resume.not_delivered]
        plan.sort()
        carried = _ChunkOutcome(-1, -1, None, "accepted", list(resume.accepted), list(resume.rejected))
        return data, plan, [carried]

    @staticmethod
    def _encode(body: Any) -> bytes:
        try:
            return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise RequestValidationError(f"body cannot be encoded as JSON: {exc}") from exc

    def _with_body(self, kwargs: dict[str, Any], body_bytes: bytes, key: str | None) -> dict[str, Any]:
        kw = dict(kwargs)
        kw.pop("json", None)
        kw["content"] = body_bytes
        headers = dict(kw.get("headers") or {})
        headers["Content-Type"] = "application/json"
        name = kw.get("extensions", {}).get("idempotency_header")
        if key is not None and name:
            headers[name] = key
        kw["headers"] = headers
        return kw

    def _dry_run_report(self, operation: str, item_count: int, chunks: list[tuple[int, int]], body: Any) -> DryRun:
        op = self._op(operation)
        preview = redact_body(json.dumps(body, allow_nan=False, default=str)) if body is not None else ""
        report = DryRun(
            operation=operation,
            method=op["method"],
            route=op["route"],
            item_count=item_count,
            chunks=tuple(chunks),
            body_preview=preview,
        )
        logger.info(
            "dry run: would send %s %s (%d item(s) in %d chunk(s)) body=%s",
            report.method,
            report.route,
            item_count,
            len(chunks),
            preview,
        )
        return report

    # -- responses ---------------------------------------------------------------------------
    def _status_error(self, response: httpx.Response, operation: str | None) -> APIStatusError:
        retry_after = response.request.extensions.get(NOTE_RETRY_AFTER)
        if retry_after is None and response.status_code in (429, 503):
            retry_after = parse_retry_after(response.headers.get("retry-after"), now=self._wall_clock)
        return status_error_for(
            response,
            operation=operation,
            request_id=response.request.headers.get("x-request-id"),
            retry_after=retry_after,
        )

    def _decode(self, response: httpx.Response, operation: str) -> Any:
        request_id = response.request.headers.get("x-request-id")
        if len(response.content) > self._max_response_bytes:
            raise APIResponseValidationError(
                f"response body of {len(response.content)} bytes exceeds max_response_bytes",
                status_code=response.status_code,
                operation=operation,
                request_id=request_id,
            )
        try:
            data = json.loads(response.content)
        except ValueError:
            ctype = response.headers.get("content-type", "?")
            raise APIResponseValidationError(
                f"response body is not valid JSON (content-type {ctype})",
                status_code=response.status_code,
                operation=operation,
                request_id=request_id,
            ) from None
        if self._validate_responses:
            schema = self._op(operation).get("response")
            try:
                self._validator(self._response_validators, operation, schema, strict=False)(data, "")
            except Invalid as exc:
                raise APIResponseValidationError(
                    f"response breaks the contract at {exc.path or '<root>'}: {exc.message}",
                    status_code=response.status_code,
                    operation=operation,
                    request_id=request_id,
                ) from None
        return data

    def _build(self, data: Any, parse: Callable[[Any], T], response: httpx.Response, operation: str) -> T:
        try:
            return parse(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise APIResponseValidationError(
                f"response could not be parsed: {type(exc).__name__}",
                status_code=response.status_code,
                operation=operation,
                request_id=response.request.headers.get("x-request-id"),
            ) from exc

    def _transport_error(self, exc: httpx.HTTPError, request: httpx.Request) -> APIError:
        op = request.extensions.get(EXT_OPERATION)
        rid = request.headers.get("x-request-id")
        err: APIConnectionError
        if isinstance(exc, httpx.TimeoutException):
            err = APITimeoutError(f"request timed out ({type(exc).__name__})", operation=op, request_id=rid)
        elif isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return ConfigurationError(f"invalid request URL: {exc}")
        else:
            err = APIConnectionError(f"connection failed ({type(exc).__name__})", operation=op, request_id=rid)
        err.maybe_delivered = bool(request.extensions.get(NOTE_MAYBE_DELIVERED))  # type: ignore[attr-defined]
        return err

    def _url(self, client: httpx.Client | httpx.AsyncClient, path: str) -> httpx.URL:
        """The absolute URL of a relative path, cached: httpx would parse and merge it again
        on every request (measured ~24 µs a call, more than all our layers together)."""
        url = self._urls.get(path)
        if url is None:
            base = client.base_url
            rel = httpx.URL(path)
            if not rel.is_relative_url:
                return rel
            url = base.copy_with(raw_path=base.raw_path + rel.raw_path.lstrip(b"/"))
            if len(self._urls) < 1024:  # paths with ids in them are not worth keeping forever
                self._urls[path] = url
        return url

    def _build_request(self, client: httpx.Client | httpx.AsyncClient, kwargs: Mapping[str, Any]) -> httpx.Request:
        kw = dict(kwargs)
        method = str(kw.pop("method")).upper()
        url = self._url(client, kw.pop("url"))
        return client.build_request(method, url, **kw)

    def _refuse_early(self, kwargs: Mapping[str, Any]) -> None:
        """An open circuit refuses before the request is even built (no socket, no auth flow):
        the rejection is counted in the metrics like any other."""
        registry = self._stack.breakers
        if registry is None:
            return
        ext = kwargs["extensions"]
        op = ext.get(EXT_OPERATION)
        breaker = self._home_breakers.get(op)
        if breaker is None:
            breaker = self._home_breakers[op] = registry.get(registry.key_for(self._home_origin, op))
        try:
            breaker.check(op)
        except CircuitOpenError:
            m = self._stack.metrics
            if m is not None:
                method = str(kwargs["method"]).upper()
                route = ext.get(EXT_ROUTE)
                key = f"{method} {route}" if route else f"{method} <unrouted>"
                m.start(key, op, method)
                m.end(key, op, method, "circuit_open", None, 0.0)
            raise

    # -- shared decisions of the sync and async drivers ----------------------------------------
    def _wrap(self, inner: httpx.BaseTransport | httpx.AsyncBaseTransport, **sleeps: Any) -> CorrelationTransport:
        """The resilience stack (``resilience/_stack.py``) over the inner transport."""
        return build_transport(
            inner,
            self._stack,
            home_origin=self._home_origin,
            clock=self._clock,
            wall_clock=self._wall_clock,
            max_body=self._max_response_bytes,
            **sleeps,
        )

    def _httpx_options(self) -> dict[str, Any]:
        return {
            "base_url": self._base_url,
            "auth": self._stack.auth,
            "timeout": self._timeout,
            "follow_redirects": True,
            "headers": self._headers,
        }

    @staticmethod
    def _next_cursor(page: Any, next_attr: str, seen: set[str], operation: str) -> str | None:
        """The cursor of the next page, ``None`` at the end; a repeated cursor is a server bug
        that would loop forever."""
        cursor = getattr(page, next_attr, None)
        if not isinstance(cursor, str) or not cursor:
            return None
        if cursor in seen:
            raise APIResponseValidationError(
                f"pagination cursor repeated ({operation})", status_code=200, operation=operation
            )
        seen.add(cursor)
        return cursor

    def _chunk_request(
        self,
        client: httpx.Client | httpx.AsyncClient,
        base_kwargs: Mapping[str, Any],
        body: bytes,
        span: tuple[int, int, str],
    ) -> httpx.Request | _ChunkOutcome:
        """The request for one chunk, or the chunk's outcome when an open circuit refuses it."""
        start, stop, key = span
        kw = self._with_body(dict(base_kwargs), body, key)
        try:
            self._refuse_early(kw)
        except CircuitOpenError as err:
            return chunk_failed(start, stop, key, err, False)
        return self._build_request(client, kw)

    def _chunk_outcome(
        self,
        operation: str,
        request: httpx.Request,
        answer: httpx.Response | APIError,
        span: tuple[int, int, str],
        parse: Callable[[Any], Any],
    ) -> _ChunkOutcome:
        """Where a sent chunk's items ended up, from the response or the error it got."""
        start, stop, key = span
        if isinstance(answer, httpx.Response):
            try:
                if not 200 <= answer.status_code < 300:
                    raise self._status_error(answer, operation)
                raw = self._decode(answer, operation)
                parsed = self._build(raw, parse, answer, operation)
            except APIError as err:
                answer = err
            else:
                batch = self._op(operation)["batch"]
                return chunk_accepted(
                    start,
                    stop,
                    key,
                    raw,
                    parsed,
                    rejected_field=batch["rejected_field"],
                    index_field=batch["index_field"],
                    reason_field=batch["reason_field"],
                    id_field=batch["id_field"],
                )
        return chunk_failed(start, stop, key, answer, bool(request.extensions.get(NOTE_MAYBE_DELIVERED)))

    def _health_fallback(self, exc: APIStatusError) -> tuple[str, Mapping[str, Any]]:
        """The fallback to try after the health operation failed with ``exc``; re-raises it
        when none applies (only a 404 means "this backend has no health endpoint")."""
        if exc.status_code != 404 or self._HEALTH_FALLBACK is None:
            raise exc
        return self._HEALTH_FALLBACK

    def _health_primary(self) -> str:
        if self._HEALTH_OPERATION is None:
            raise ConfigurationError("this API has no health operation")
        return self._HEALTH_OPERATION


class SyncAPIClient(_Core):
    """The sync driver. Thread-safe: share one instance between threads."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(base_url, **options)
        inner = transport or default_sync_transport(verify=self._verify)
        self._sleep = sleep
        self._transport = self._wrap(inner, sleep=sleep)
        self._http = httpx.Client(transport=self._transport, **self._httpx_options())
        _fast_cookies(self._http)

    @property
    def httpx_client(self) -> httpx.Client:
        return self._http

    def _apply_timeout(self, timeout: httpx.Timeout) -> None:
        self._http.timeout = timeout

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sending ---------------------------------------------------------------------------
    def _send(self, kwargs: Mapping[str, Any]) -> httpx.Response:
        self._refuse_early(kwargs)
        request = self._build_request(self._http, kwargs)
        try:
            response = self._http.send(request)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, request) from exc
        if not 200 <= response.status_code < 300:
            raise self._status_error(response, request.extensions.get(EXT_OPERATION))
        return response

    def _call(self, kwargs: Mapping[str, Any], parse: Callable[[Any], T]) -> T:
        op = kwargs["extensions"][EXT_OPERATION]
        response = self._send(kwargs)
        return self._build(self._decode(response, op), parse, response, op)

    def _call_with_body(self, kwargs: Mapping[str, Any], body: Any, parse: Callable[[Any], T]) -> T | DryRun:
        """A non-batch call with a JSON body: validated, then sent (or, in dry run, described)."""
        op = kwargs["extensions"][EXT_OPERATION]
        self._check_body(op, body)
        if self._dry_run and str(kwargs["method"]).upper() != "GET":
            return self._dry_run_report(op, 1, [(0, 1)], body)
        kw = self._with_body(dict(kwargs), self._encode(body), None)
        return self._call(kw, parse)

    def _iterate(self, fetch: Callable[[Any], Any], operation: str, items_attr: str, next_attr: str) -> Iterator[Any]:
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page = fetch(cursor)
            yield from getattr(page, items_attr)
            cursor = self._next_cursor(page, next_attr, seen, operation)
            if cursor is None:
                return

    def _ingest(
        self,
        operation: str,
        items: Sequence[Any],
        make_kwargs: Callable[[], dict[str, Any]],
        parse: Callable[[Any], Any],
        *,
        chunk_size: int | None = None,
        progress: ProgressCallback | None = None,
        wait_for_recovery: float | None = None,
        resume: BatchResult | None = None,
    ) -> BatchResult:
        data, plan, outcomes = self._plan(operation, items, chunk_size, resume)
        if self._dry_run:
            report = self._dry_run_report(operation, len(data), [(a, b) for a, b, _, _ in plan], data[:3])
            return BatchResult(operation=operation, total=len(data), chunks=len(plan), dry_run=report)
        base_kwargs = make_kwargs()
        tally = _Tally(operation, sum(b - a for a, b, _, _ in plan), len(plan))
        stopped: CircuitOpenError | None = None
        for start, stop, key, maybe_stored in plan:
            if stopped is not None:
                outcomes.append(chunk_failed(start, stop, key, stopped, maybe_stored))
                tally.add(outcomes[-1], progress)
                continue
            deadline = None if wait_for_recovery is None else self._clock() + wait_for_recovery
            body = self._encode(data[start:stop])
            while True:
                outcome = self._send_chunk(operation, base_kwargs, body, (start, stop, key), parse)
                err = outcome.error
                if isinstance(err, CircuitOpenError) and outcome.state == "not_delivered":
                    wait = err.retry_in
                    if (
                        deadline is not None
                        and wait is not None
                        and not is_testing()
                        and self._clock() + wait <= deadline
                    ):
                        self._sleep(max(wait, 0.05))
                        continue
                    stopped = err
                break
            if maybe_stored and outcome.state == "not_delivered":
                outcome.state = "outcome_unknown"
            outcomes.append(outcome)
            tally.add(outcome, progress)
        return assemble(operation, len(data), outcomes)

    def _send_chunk(
        self, operation: str, base_kwargs: Mapping[str, Any], body: bytes, span: tuple[int, int, str], parse: Any
    ) -> _ChunkOutcome:
        request = self._chunk_request(self._http, base_kwargs, body, span)
        if not isinstance(request, httpx.Request):
            return request
        answer: httpx.Response | APIError
        try:
            answer = self._http.send(request)
        except httpx.HTTPError as exc:
            answer = self._transport_error(exc, request)
        except APIError as err:  # refused by a layer: circuit open, body too large, insecure
            answer = err
        return self._chunk_outcome(operation, request, answer, span, parse)

    def health_check(self) -> HealthReport:
        """GET the health operation (falling back to a 1-item listing on 404); never raises
        for an unreachable backend."""
        t0 = time.perf_counter()
        endpoint = None
        used_fallback = False
        try:
            try:
                endpoint, response = self._health_send(self._health_primary(), {})
            except APIStatusError as exc:
                fallback, params = self._health_fallback(exc)
                used_fallback = True
                endpoint, response = self._health_send(fallback, params)
        except APIError as exc:
            return _health_failed(self, endpoint, exc, time.perf_counter() - t0)
        return _health_ok(self, endpoint, response, time.perf_counter() - t0, used_fallback)

    def _health_send(self, operation: str, params: Mapping[str, Any]) -> tuple[str, httpx.Response]:
        op = self._op(operation)
        kwargs = _health_kwargs(op, params)
        return f"{op['method']} {op['route']}", self._send(kwargs)


class AsyncAPIClient(_Core):
    """The async driver. Task-safe: share one instance between tasks of one event loop."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        batch_concurrency: int = 4,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(base_url, **options)
        if isinstance(batch_concurrency, bool) or not isinstance(batch_concurrency, int) or batch_concurrency < 1:
            raise ConfigurationError(f"batch_concurrency must be a positive int, got {batch_concurrency!r}")
        self._batch_concurrency = batch_concurrency
        inner = transport or default_async_transport(verify=self._verify, max_body=self._max_response_bytes)
        self._asleep = asleep
        self._transport = self._wrap(inner, asleep=asleep)
        self._http = httpx.AsyncClient(transport=self._transport, **self._httpx_options())
        _fast_cookies(self._http)

    @property
    def httpx_client(self) -> httpx.AsyncClient:
        return self._http

    def _apply_timeout(self, timeout: httpx.Timeout) -> None:
        self._http.timeout = timeout

    async def close(self) -> None:
        await self._http.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _send(self, kwargs: Mapping[str, Any]) -> httpx.Response:
        self._refuse_early(kwargs)
        request = self._build_request(self._http, kwargs)
        try:
            response = await self._http.send(request)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, request) from exc
        if not 200 <= response.status_code < 300:
            raise self._status_error(response, request.extensions.get(EXT_OPERATION))
        return response

    async def _call(self, kwargs: Mapping[str, Any], parse: Callable[[Any], T]) -> T:
        op = kwargs["extensions"][EXT_OPERATION]
        response = await self._send(kwargs)
        return self._build(self._decode(response, op), parse, response, op)

    async def _call_with_body(self, kwargs: Mapping[str, Any], body: Any, parse: Callable[[Any], T]) -> T | DryRun:
        op = kwargs["extensions"][EXT_OPERATION]
        self._check_body(op, body)
        if self._dry_run and str(kwargs["method"]).upper() != "GET":
            return self._dry_run_report(op, 1, [(0, 1)], body)
        kw = self._with_body(dict(kwargs), self._encode(body), None)
        return await self._call(kw, parse)

    async def _iterate(
        self, fetch: Callable[[Any], Awaitable[Any]], operation: str, items_attr: str, next_attr: str
    ) -> AsyncIterator[Any]:
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page = await fetch(cursor)
            for item in getattr(page, items_attr):
                yield item
            cursor = self._next_cursor(page, next_attr, seen, operation)
            if cursor is None:
                return

    async def _ingest(
        self,
        operation: str,
        items: Sequence[Any],
        make_kwargs: Callable[[], dict[str, Any]],
        parse: Callable[[Any], Any],
        *,
        chunk_size: int | None = None,
        progress: ProgressCallback | None = None,
        wait_for_recovery: float | None = None,
        resume: BatchResult | None = None,
        concurrency: int | None = None,
    ) -> BatchResult:
        data, plan, outcomes = self._plan(operation, items, chunk_size, resume)
        if self._dry_run:
            report = self._dry_run_report(operation, len(data), [(a, b) for a, b, _, _ in plan], data[:3])
            return BatchResult(operation=operation, total=len(data), chunks=len(plan), dry_run=report)
        base_kwargs = make_kwargs()
        tally = _Tally(operation, sum(b - a for a, b, _, _ in plan), len(plan))
        state: dict[str, CircuitOpenError | None] = {"stopped": None}
        sem = asyncio.Semaphore(concurrency or self._batch_concurrency)

        sending = [0]  # chunks of this call on the wire now
        finished = [asyncio.Event()]  # set (and replaced) whenever one of them comes back

        async def run(start: int, stop: int, key: str, maybe_stored: bool) -> None:
            async with sem:
                deadline = None if wait_for_recovery is None else self._clock() + wait_for_recovery
                while True:
                    stopped = state["stopped"]
                    if stopped is not None:
                        outcome = chunk_failed(start, stop, key, stopped, maybe_stored)
                        break
                    body = self._encode(data[start:stop])
                    sending[0] += 1
                    try:
                        outcome = await self._send_chunk(operation, base_kwargs, body, (start, stop, key), parse)
                    finally:
                        sending[0] -= 1
                        event, finished[0] = finished[0], asyncio.Event()
                        event.set()
                    err = outcome.error
                    if isinstance(err, CircuitOpenError) and outcome.state == "not_delivered":
                        wait = err.retry_in
                        if (
                            deadline is not None
                            and wait is not None
                            and not is_testing()
                            and self._clock() + wait <= deadline
                        ):
                            if wait == 0.0 and sending[0]:
                                # Half-open, and the probe is a sibling chunk: its answer decides.
                                await finished[0].wait()
                            else:
                                await self._asleep(max(wait, 0.05))
                            continue
                        state["stopped"] = err
                    break
            if maybe_stored and outcome.state == "not_delivered":
                outcome.state = "outcome_unknown"
            outcomes.append(outcome)
            tally.add(outcome, progress)

        tasks = [asyncio.ensure_future(run(*entry)) for entry in plan]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            # Nothing more goes out once the call has failed (or was cancelled).
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return assemble(operation, len(data), outcomes)

    async def _send_chunk(
        self, operation: str, base_kwargs: Mapping[str, Any], body: bytes, span: tuple[int, int, str], parse: Any
    ) -> _ChunkOutcome:
        request = self._chunk_request(self._http, base_kwargs, body, span)
        if not isinstance(request, httpx.Request):
            return request
        answer: httpx.Response | APIError
        try:
            answer = await self._http.send(request)
        except httpx.HTTPError as exc:
            answer = self._transport_error(exc, request)
        except APIError as err:  # refused by a layer: circuit open, body too large, insecure
            answer = err
        return self._chunk_outcome(operation, request, answer, span, parse)

    async def health_check(self) -> HealthReport:
        t0 = time.perf_counter()
        endpoint = None
        used_fallback = False
        try:
            try:
                endpoint, response = await self._health_send(self._health_primary(), {})
            except APIStatusError as exc:
                fallback, params = self._health_fallback(exc)
                used_fallback = True
                endpoint, response = await self._health_send(fallback, params)
        except APIError as exc:
            return _health_failed(self, endpoint, exc, time.perf_counter() - t0)
        return _health_ok(self, endpoint, response, time.perf_counter() - t0, used_fallback)

    async def _health_send(self, operation: str, params: Mapping[str, Any]) -> tuple[str, httpx.Response]:
        op = self._op(operation)
        kwargs = _health_kwargs(op, params)
        return f"{op['method']} {op['route']}", await self._send(kwargs)


class _Tally:
    """Running totals for the progress callback (task- and thread-safe enough: one lock)."""

    def __init__(self, operation: str, total: int, chunks: int) -> None:
        self.operation, self.total, self.chunks = operation, total, chunks
        self.done = self.accepted = self.rejected = self.failed = self.chunks_done = 0
        self._lock = threading.Lock()

    def add(self, outcome: _ChunkOutcome, progress: ProgressCallback | None) -> None:
        with self._lock:
            self.chunks_done += 1
            self.done += outcome.stop - outcome.start
            self.accepted += len(outcome.accepted)
            self.rejected += len(outcome.rejected)
            if outcome.state != "accepted":
                self.failed += outcome.stop - outcome.start
            event = BatchProgress(
                self.operation,
                self.total,
                self.done,
                self.accepted,
                self.rejected,
                self.failed,
                self.chunks_done,
                self.chunks,
            )
        if progress is not None:
            progress(event)


def _health_kwargs(op: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "method": op["method"],
        "url": op["route"],
        "extensions": {EXT_OPERATION: op["operation_id"], "route_template": op["route"]},
    }
    if params:
        kwargs["params"] = dict(params)
    return kwargs


def _breaker_state(client: _Core) -> str | None:
    cb = client.circuit_breaker
    return None if cb is None else cb.state.value


def _health_ok(
    client: _Core, endpoint: str | None, response: httpx.Response, latency: float, used_fallback: bool
) -> HealthReport:
    status: str | None = None
    try:
        data = response.json()
    except ValueError:
        data = None
    if used_fallback:
        # The fallback listing has no status field: a 2xx answer is health enough.
        healthy, status = True, "ok"
    elif isinstance(data, Mapping) and isinstance(data.get("status"), str):
        status = data["status"]
        healthy = status in client._HEALTHY_STATUSES
    else:
        healthy = False
    return HealthReport(
        healthy=healthy,
        endpoint=endpoint,
        status=status,
        http_status=response.status_code,
        latency=latency,
        circuit_breaker=_breaker_state(client),
    )


def _health_failed(client: _Core, endpoint: str | None, exc: APIError, latency: float) -> HealthReport:
    return HealthReport(
        healthy=False,
        endpoint=endpoint,
        status=None,
        http_status=exc.status_code if isinstance(exc, APIStatusError) else None,
        latency=latency,
        circuit_breaker=_breaker_state(client),
        error=str(exc),
    )
