"""The transport layers. Each wraps the next, sync and async alike.

A layer reads what the generated code put in the request's ``extensions``: the operation id
(``operation_id``), the spec's route template (``route_template``) and the name of the
idempotency header the operation accepts (``idempotency_header``). It knows nothing else of
the API. :func:`resilience.build_transport` assembles the layers in order.

Per logical call, layers leave notes for the outer layers in ``request.extensions``:
``resilience.retries`` (int), ``resilience.budget_exhausted`` (bool),
``resilience.maybe_delivered`` (an attempt failed after the request may have reached the server)
and ``resilience.retry_after`` (a Retry-After too long to wait for, in seconds).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

import httpx
import tenacity

from ._breaker import CircuitBreaker
from ._breaker_config import Outcome, classify_status
from ._breaker_registry import BreakerRegistry
from ._errors import APITimeoutError, ResponseTooLargeError
from ._metrics import MetricsRecorder
from ._redact import redact_body, redact_headers
from ._retry import RetryBudget, RetryPolicy, attempt_cap_for_testing, is_testing, parse_retry_after

__all__ = [
    "EXT_IDEMPOTENCY_HEADER",
    "EXT_OPERATION",
    "EXT_ROUTE",
    "CircuitBreakerTransport",
    "CorrelationTransport",
    "CredentialGuardTransport",
    "LoggingTransport",
    "MetricsTransport",
    "RetryTransport",
]

EXT_OPERATION: Final = "operation_id"
EXT_ROUTE: Final = "route_template"
EXT_IDEMPOTENCY_HEADER: Final = "idempotency_header"

NOTE_RETRIES: Final = "resilience.retries"
NOTE_BUDGET: Final = "resilience.budget_exhausted"
NOTE_MAYBE_DELIVERED: Final = "resilience.maybe_delivered"
NOTE_RETRY_AFTER: Final = "resilience.retry_after"
NOTE_ATTEMPT: Final = "resilience.attempt"

log_http = logging.getLogger("resilience.http")
log_retry = logging.getLogger("resilience.retry")

_rand = random.Random()  # request ids need uniqueness, not secrecy  # noqa: S311


def new_request_id() -> str:
    return f"{_rand.getrandbits(64):016x}"


def route_key(request: httpx.Request) -> str:
    route = request.extensions.get(EXT_ROUTE)
    return f"{request.method} {route}" if route else f"{request.method} <unrouted>"


class _Layer(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A layer over the next transport; used either sync or async, as its inner one is."""

    __slots__ = ("_inner",)

    def __init__(self, inner: httpx.BaseTransport | httpx.AsyncBaseTransport) -> None:
        self._inner: Any = inner

    @property
    def inner(self) -> httpx.BaseTransport | httpx.AsyncBaseTransport:
        return self._inner  # type: ignore[no-any-return]

    def close(self) -> None:
        self._inner.close()

    async def aclose(self) -> None:
        await self._inner.aclose()


class CorrelationTransport(_Layer):
    """Adds ``X-Request-ID`` per logical call and, for a POST/PATCH whose operation accepts
    one, an idempotency key: set once here, outside the retry loop, so every attempt
    carries the same values."""

    def _prepare(self, request: httpx.Request) -> None:
        headers = request.headers
        if "x-request-id" not in headers:
            headers["X-Request-ID"] = new_request_id()
        name = request.extensions.get(EXT_IDEMPOTENCY_HEADER)
        if name and request.method in ("POST", "PATCH") and name not in headers:
            headers[name] = str(uuid.uuid4())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._prepare(request)
        return self._inner.handle_request(request)  # type: ignore[no-any-return]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._prepare(request)
        return await self._inner.handle_async_request(request)  # type: ignore[no-any-return]


def outcome_kind(request: httpx.Request, status: int | None, exc: BaseException | None) -> str:
    """The metrics outcome of a finished logical call."""
    ext = request.extensions
    if exc is not None:
        from ._errors import CircuitOpenError

        if isinstance(exc, CircuitOpenError):
            return "circuit_open"
        if ext.get(NOTE_BUDGET):
            return "budget_exhausted"
        if isinstance(exc, httpx.TimeoutException | APITimeoutError):
            return "timeout"
        if isinstance(exc, httpx.TransportError):
            return "connection"
        return "error"
    assert status is not None
    if status < 400:
        return "success"
    if ext.get(NOTE_BUDGET):
        return "budget_exhausted"
    return "4xx" if status < 500 else "5xx"


class MetricsTransport(_Layer):
    """Counts each logical call once: start, end, outcome kind, latency to the final headers."""

    __slots__ = ("_clock", "_metrics")

    def __init__(
        self,
        inner: httpx.BaseTransport | httpx.AsyncBaseTransport,
        metrics: MetricsRecorder,
        *,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__(inner)
        self._metrics = metrics
        self._clock = clock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        m = self._metrics
        key = route_key(request)
        op = request.extensions.get(EXT_OPERATION)
        method = request.method
        m.start(key, op, method)
        t0 = self._clock()
        try:
            response: httpx.Response = self._inner.handle_request(request)
        except BaseException as exc:
            retries = request.extensions.get(NOTE_RETRIES, 0)
            m.end(key, op, method, outcome_kind(request, None, exc), None, self._clock() - t0, retries)
            raise
        retries = request.extensions.get(NOTE_RETRIES, 0)
        status = response.status_code
        m.end(key, op, method, outcome_kind(request, status, None), status, self._clock() - t0, retries)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        m = self._metrics
        key = route_key(request)
        op = request.extensions.get(EXT_OPERATION)
        method = request.method
        m.start(key, op, method)
        t0 = self._clock()
        try:
            response: httpx.Response = await self._inner.handle_async_request(request)
        except BaseException as exc:
            retries = request.extensions.get(NOTE_RETRIES, 0)
            m.end(key, op, method, outcome_kind(request, None, exc), None, self._clock() - t0, retries)
            raise
        retries = request.extensions.get(NOTE_RETRIES, 0)
        status = response.status_code
        m.end(key, op, method, outcome_kind(request, status, None), status, self._clock() - t0, retries)
        return response


def _maybe_delivered(exc: BaseException) -> bool:
    """Could the server have received (and acted on) the request before this error?"""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.UnsupportedProtocol):
        return False
    from ._errors import CircuitOpenError, InsecureTransportError

    return not isinstance(exc, CircuitOpenError | InsecureTransportError)


def cap_timeouts(request: httpx.Request, seconds: float) -> None:
    """No phase of this attempt may outlast the overall deadline."""
    timeout = dict(request.extensions.get("timeout") or {})
    for k in ("connect", "read", "write", "pool"):
        v = timeout.get(k)
        timeout[k] = seconds if v is None else min(v, seconds)
    request.extensions["timeout"] = timeout


class _RetryCall:
    """The decisions for one logical call's retries; tenacity asks, this answers.

    Attempt 1 has already happened on the fast path: its outcome is replayed to tenacity
    first, without I/O, so tenacity's attempt numbers and waits count from the real start.
    """

    __slots__ = ("_first", "_previous", "_retry_after", "layer", "request", "started")

    def __init__(
        self, layer: RetryTransport, request: httpx.Request, first: httpx.Response | BaseException, started: float
    ):
        self.layer = layer
        self.request = request
        self._first: httpx.Response | BaseException | None = first
        self._previous: httpx.Response | None = None
        self._retry_after: float | None = None
        self.started = started  # before attempt 1: the deadline bounds the whole logical call

    # -- decisions -------------------------------------------------------------------------
    def should_retry(self, rs: tenacity.RetryCallState) -> bool:
        policy = self.layer.policy
        request = self.request
        outcome = rs.outcome
        assert outcome is not None
        self._retry_after = None
        if outcome.failed:
            exc = outcome.exception()
            assert exc is not None
            if _maybe_delivered(exc):
                request.extensions[NOTE_MAYBE_DELIVERED] = True
            return policy.is_retryable_exception(exc) and policy.may_retry_request(request)
        response: httpx.Response = outcome.result()
        if not (policy.is_retryable_status(response.status_code) and policy.may_retry_request(request)):
            return False
        after = parse_retry_after(response.headers.get("retry-after"), now=self.layer.wall_clock)
        if after is not None and after > policy.max_retry_after:
            request.extensions[NOTE_RETRY_AFTER] = after
            return False
        self._retry_after = after
        return True

    def wait(self, rs: tenacity.RetryCallState) -> float:
        if self._retry_after is not None:
            return self._retry_after
        return float(self.layer.wait(rs))

    def stop(self, rs: tenacity.RetryCallState) -> bool:
        layer = self.layer
        if rs.attempt_number > layer.policy.max_retries:
            return True
        cap = attempt_cap_for_testing()
        if cap is not None and rs.attempt_number >= cap:
            return True
        deadline = layer.policy.deadline
        if deadline is not None and layer.clock() - self.started + rs.upcoming_sleep > deadline:
            return True
        if layer.budget is not None and not layer.budget.try_withdraw():
            self.request.extensions[NOTE_BUDGET] = True
            return True
        return False

    def before_sleep(self, rs: tenacity.RetryCallState) -> None:
        request = self.request
        n = rs.attempt_number
        request.extensions[NOTE_RETRIES] = n
        outcome = rs.outcome
        assert outcome is not None
        if outcome.failed:
            reason = type(outcome.exception()).__name__
        else:
            self._previous = outcome.result()
            reason = f"HTTP {self._previous.status_code}"
        delay = rs.upcoming_sleep
        op = request.extensions.get(EXT_OPERATION)
        log_retry.warning(
            "retrying %s %s after %s in %.3fs (attempt %d of %d) [request_id=%s]",
            request.method,
            request.extensions.get(EXT_ROUTE, "<unrouted>"),
            reason,
            delay,
            n + 1,
            self.layer.policy.max_retries + 1,
            request.headers.get("x-request-id"),
        )
        if self.layer.metrics is not None:
            self.layer.metrics.retry(route_key(request), op, n, reason, delay)

    def give_up(self, rs: tenacity.RetryCallState) -> httpx.Response:
        outcome = rs.outcome
        assert outcome is not None
        return outcome.result()  # type: ignore[no-any-return]  # re-raises a final exception

    def _take_first(self) -> httpx.Response | None:
        first = self._first
        if first is None:
            return None
        self._first = None
        if isinstance(first, BaseException):
            raise first
        return first

    def _prepare_attempt(self, rs_attempt: int) -> None:
        self.request.extensions[NOTE_ATTEMPT] = rs_attempt
        deadline = self.layer.policy.deadline
        if deadline is not None:
            left = deadline - (self.layer.clock() - self.started)
            if left <= 0:
                raise APITimeoutError(
                    "retry deadline exceeded",
                    operation=self.request.extensions.get(EXT_OPERATION),
                    request_id=self.request.headers.get("x-request-id"),
                )
            cap_timeouts(self.request, left)

    # -- the two drivers' attempt functions ------------------------------------------------
    def attempt_sync(self) -> httpx.Response:
        first = self._take_first()
        if first is not None:
            return first
        previous, self._previous = self._previous, None
        if previous is not None:
            _drain_sync(previous)
        self._prepare_attempt(int(self.request.extensions.get(NOTE_RETRIES, 0)) + 1)
        return self.layer.inner_sync(self.request)

    async def attempt_async(self) -> httpx.Response:
        first = self._take_first()
        if first is not None:
            return first
        previous, self._previous = self._previous, None
        if previous is not None:
            await _drain_async(previous)
        self._prepare_attempt(int(self.request.extensions.get(NOTE_RETRIES, 0)) + 1)
        return await self.layer.inner_async(self.request)


DEFAULT_MAX_BODY: Final = 64 * 1024 * 1024


def _too_large(request: httpx.Request, response: httpx.Response, cap: int) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"response body exceeds {cap} bytes",
        status_code=response.status_code,
        operation=request.extensions.get(EXT_OPERATION),
        request_id=request.headers.get("x-request-id"),
    )


def _declared_ok(request: httpx.Request, response: httpx.Response, cap: int) -> bool:
    """Check Content-Length against the cap; ``True`` when a plain ``read()`` is safe."""
    length = response.headers.get("content-length")
    if length is None or not length.isascii() or not length.isdigit():
        return False  # unknown or malformed ("10, 10"): read in capped steps
    if int(length) > cap:
        raise _too_large(request, response, cap)
    return "content-encoding" not in response.headers


def _check_read(request: httpx.Request, response: httpx.Response, cap: int) -> None:
    """A body read already (by an inner layer, or built from bytes) still obeys the cap."""
    try:
        size = len(response.content)
    except httpx.ResponseNotRead:
        return
    if size > cap:
        raise _too_large(request, response, cap)


def read_body_sync(request: httpx.Request, response: httpx.Response, cap: int) -> None:
    """Read the whole body now (so a connection cut mid-body is an attempt failure the retry
    layer and the breaker see), never holding more than ``cap`` decoded bytes."""
    if response.is_stream_consumed:
        _check_read(request, response, cap)
        return
    try:
        if _declared_ok(request, response, cap):
            response.read()
            return
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise _too_large(request, response, cap)
            chunks.append(chunk)
        response._content = b"".join(chunks)  # what Response.read() itself does
    except BaseException:
        response.close()
        raise


async def read_body_async(request: httpx.Request, response: httpx.Response, cap: int) -> None:
    if response.is_stream_consumed:
        _check_read(request, response, cap)
        return
    try:
        if _declared_ok(request, response, cap):
            await response.aread()
            return
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise _too_large(request, response, cap)
            chunks.append(chunk)
        response._content = b"".join(chunks)
    except BaseException:
        await response.aclose()
        raise


def _no_sleep(_: float) -> None:
    """The testing switch's sleep."""


async def _no_asleep(_: float) -> None:
    """The testing switch's sleep: yields, never waits."""
    await asyncio.sleep(0)


def _drain_sync(response: httpx.Response) -> None:
    try:
        response.read()
    except httpx.HTTPError:
        pass
    finally:
        response.close()


async def _drain_async(response: httpx.Response) -> None:
    try:
        await response.aread()
    except httpx.HTTPError:
        pass
    finally:
        await response.aclose()


class RetryTransport(_Layer):
    """Retries per :class:`RetryPolicy`, within a :class:`RetryBudget`.

    The first attempt goes straight to the next layer; only a retryable outcome builds a
    tenacity ``Retrying`` (or ``AsyncRetrying``) for the rest. ``sleep``/``asleep`` and the
    clocks are injectable, so tests never wait.
    """

    __slots__ = ("asleep", "budget", "clock", "max_body", "metrics", "policy", "sleep", "wait", "wall_clock")

    def __init__(
        self,
        inner: httpx.BaseTransport | httpx.AsyncBaseTransport,
        policy: RetryPolicy,
        *,
        budget: RetryBudget | None = None,
        metrics: MetricsRecorder | None = None,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        super().__init__(inner)
        self.max_body = max_body
        self.policy = policy
        self.budget = budget
        self.metrics = metrics
        self.sleep = sleep
        self.asleep = asleep
        self.clock = clock
        self.wall_clock = wall_clock
        self.wait = policy.wait_strategy()

    def inner_sync(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = self._inner.handle_request(request)
        read_body_sync(request, response, self.max_body)
        return response

    async def inner_async(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = await self._inner.handle_async_request(request)
        await read_body_async(request, response, self.max_body)
        return response

    def _needs_retry(self, request: httpx.Request, outcome: httpx.Response | BaseException) -> bool:
        """Fast-path check of attempt 1: is it worth starting the retry loop at all?"""
        policy = self.policy
        if isinstance(outcome, BaseException):
            retry = (
                policy.max_retries > 0 and policy.is_retryable_exception(outcome) and policy.may_retry_request(request)
            )
            if not retry and _maybe_delivered(outcome):
                request.extensions[NOTE_MAYBE_DELIVERED] = True
            return retry
        return (
            policy.max_retries > 0
            and outcome.status_code in policy.retry_statuses
            and policy.may_retry_request(request)
        )

    def _retrying_kwargs(self, call: _RetryCall) -> dict[str, Any]:
        return {
            "stop": call.stop,
            "wait": call.wait,
            "retry": call.should_retry,
            "before_sleep": call.before_sleep,
            "retry_error_callback": call.give_up,
            "reraise": True,
        }

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.budget is not None:
            self.budget.deposit()
        started = 0.0
        if self.policy.deadline is not None:
            started = self.clock()
            cap_timeouts(request, self.policy.deadline)
        try:
            response = self.inner_sync(request)
        except Exception as exc:
            if not self._needs_retry(request, exc):
                raise
            first: httpx.Response | BaseException = exc
        else:
            if not self._needs_retry(request, response):
                return response
            first = response
        call = _RetryCall(self, request, first, started)
        sleep = _no_sleep if is_testing() else self.sleep
        retrying = tenacity.Retrying(sleep=sleep, **self._retrying_kwargs(call))
        return retrying(call.attempt_sync)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.budget is not None:
            self.budget.deposit()
        started = 0.0
        if self.policy.deadline is not None:
            started = self.clock()
            cap_timeouts(request, self.policy.deadline)
        try:
            response = await self.inner_async(request)
        except Exception as exc:
            if not self._needs_retry(request, exc):
                raise
            first: httpx.Response | BaseException = exc
        else:
            if not self._needs_retry(request, response):
                return response
            first = response
        call = _RetryCall(self, request, first, started)
        asleep = _no_asleep if is_testing() else self.asleep
        retrying = tenacity.AsyncRetrying(sleep=asleep, **self._retrying_kwargs(call))
        return await retrying(call.attempt_async)


class CircuitBreakerTransport(_Layer):
    """Asks the breaker for each attempt; a rejection raises before any socket is opened.

    The attempt's body is read here, before the outcome is recorded, so a connection cut
    mid-body counts as a failure, not as the success its status line promised.
    """

    __slots__ = ("_cache", "_max_body", "_registry")

    def __init__(
        self,
        inner: httpx.BaseTransport | httpx.AsyncBaseTransport,
        registry: BreakerRegistry,
        *,
        max_body: int = DEFAULT_MAX_BODY,
    ):
        super().__init__(inner)
        self._registry = registry
        self._max_body = max_body
        self._cache: dict[tuple[bytes, bytes, str | None], CircuitBreaker] = {}

    @property
    def registry(self) -> BreakerRegistry:
        return self._registry

    def _breaker(self, request: httpx.Request, op: str | None) -> CircuitBreaker:
        url = request.url
        ck = (url.raw_scheme, url.netloc, op)
        breaker = self._cache.get(ck)
        if breaker is None:
            origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
            breaker = self._registry.get(self._registry.key_for(origin, op))
            if len(self._cache) < 1024:
                self._cache[ck] = breaker
        return breaker

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        op = request.extensions.get(EXT_OPERATION)
        breaker = self._breaker(request, op)
        permit = breaker.acquire(op)
        try:
            response: httpx.Response = self._inner.handle_request(request)
            read_body_sync(request, response, self._max_body)
        except httpx.TransportError:
            breaker.record(permit, Outcome.FAILURE)
            raise
        except BaseException:
            breaker.record(permit, Outcome.IGNORED)
            raise
        breaker.record(permit, classify_status(response.status_code))
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        op = request.extensions.get(EXT_OPERATION)
        breaker = self._breaker(request, op)
        permit = breaker.acquire(op)
        try:
            response: httpx.Response = await self._inner.handle_async_request(request)
            await read_body_async(request, response, self._max_body)
        except httpx.TransportError:
            breaker.record(permit, Outcome.FAILURE)
            raise
        except BaseException:
            breaker.record(permit, Outcome.IGNORED)
            raise
        breaker.record(permit, classify_status(response.status_code))
        return response


class LoggingTransport(_Layer):
    """DEBUG lines per attempt: method, route, status, timing, attempt, request id; headers by
    allowlist and bodies redacted. Costs one ``isEnabledFor`` check when DEBUG is off."""

    __slots__ = ()

    @staticmethod
    def _log_request(request: httpx.Request) -> float:
        log_http.debug(
            "request %s %s attempt=%s request_id=%s headers=%s body=%s",
            request.method,
            request.extensions.get(EXT_ROUTE, "<unrouted>"),
            request.extensions.get(NOTE_ATTEMPT, 1),
            request.headers.get("x-request-id"),
            redact_headers(request.headers.items()),
            redact_body(request.content if isinstance(request.stream, httpx.ByteStream) else None),
        )
        return time.perf_counter()

    @staticmethod
    def _log_response(request: httpx.Request, response: httpx.Response, t0: float) -> None:
        log_http.debug(
            "response %s %s status=%s elapsed=%.2fms attempt=%s request_id=%s headers=%s",
            request.method,
            request.extensions.get(EXT_ROUTE, "<unrouted>"),
            response.status_code,
            1000.0 * (time.perf_counter() - t0),
            request.extensions.get(NOTE_ATTEMPT, 1),
            request.headers.get("x-request-id"),
            redact_headers(response.headers.items()),
        )

    @staticmethod
    def _log_error(request: httpx.Request, exc: BaseException, t0: float) -> None:
        log_http.debug(
            "failed %s %s error=%s elapsed=%.2fms attempt=%s request_id=%s",
            request.method,
            request.extensions.get(EXT_ROUTE, "<unrouted>"),
            type(exc).__name__,
            1000.0 * (time.perf_counter() - t0),
            request.extensions.get(NOTE_ATTEMPT, 1),
            request.headers.get("x-request-id"),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not log_http.isEnabledFor(logging.DEBUG):
            return self._inner.handle_request(request)  # type: ignore[no-any-return]
        t0 = self._log_request(request)
        try:
            response: httpx.Response = self._inner.handle_request(request)
        except BaseException as exc:
            self._log_error(request, exc, t0)
            raise
        self._log_response(request, response, t0)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not log_http.isEnabledFor(logging.DEBUG):
            return await self._inner.handle_async_request(request)  # type: ignore[no-any-return]
        t0 = self._log_request(request)
        try:
            response: httpx.Response = await self._inner.handle_async_request(request)
        except BaseException as exc:
            self._log_error(request, exc, t0)
            raise
        self._log_response(request, response, t0)
        return response


class CredentialGuardTransport(_Layer):
    """Withholds every credential header from requests to any origin but the home one.

    httpx strips only ``Authorization`` on a cross-origin redirect; an ``X-API-Key`` or a
    cookie would follow. This layer sits just above the network, so it sees every hop.
    """

    __slots__ = ("_home", "_sensitive")

    def __init__(
        self,
        inner: httpx.BaseTransport | httpx.AsyncBaseTransport,
        home: httpx.URL | str,
        sensitive_headers: Callable[[], frozenset[str]],
    ) -> None:
        super().__init__(inner)
        url = httpx.URL(home)
        self._home = (url.raw_scheme, url.netloc)
        self._sensitive = sensitive_headers

    def _guard(self, request: httpx.Request) -> None:
        url = request.url
        if (url.raw_scheme, url.netloc) == self._home:
            return
        headers = request.headers
        for name in self._sensitive():
            if name in headers:
                del headers[name]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._guard(request)
        return self._inner.handle_request(request)  # type: ignore[no-any-return]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._guard(request)
        return await self._inner.handle_async_request(request)  # type: ignore[no-any-return]
