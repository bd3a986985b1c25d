"""The per-attempt transport layers, and the logical call as a transport of its own.

Below httpx's auth and redirect handling, each hop passes the gate (nothing once the client is
closed, no write to another origin), the breaker (an open circuit raises before any socket),
the DEBUG log and the credential guard. A layer states what it
does before and after the next one (:class:`Layer` hooks); the sync and async plumbing is
written once, in the base. :class:`RetryTransport` runs :func:`~resilience._call.call_flow`
as a layer, for stacks built without the client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import httpx

from ._body import DEFAULT_MAX_BODY, read_body_async, read_body_sync
from ._breaker import CircuitBreaker
from ._breaker_config import Outcome, Permit, classify_status
from ._breaker_registry import BreakerRegistry
from ._call import CallContext, call_flow
from ._errors import APIError
from ._errors_client import ClientClosedError, CrossOriginRedirectError
from ._metrics import MetricsRecorder
from ._operation import operation_of
from ._retry import RetryBudget, RetryPolicy
from ._steps import drive_async, drive_sync

__all__ = [
    "CircuitBreakerTransport",
    "GateTransport",
    "Layer",
    "RequestRefused",
    "RetryTransport",
]

_WRITES: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: What the HTTP library refuses to send (a malformed header, a URL it cannot handle): the
#: request never reached the backend, so its breaker does not count it.
_LOCAL_ERRORS: Final = (httpx.LocalProtocolError, httpx.UnsupportedProtocol)

#: Marks a request as a probe (the health check's): the circuit breaker neither refuses nor records it.
EXT_PROBE: Final = "resilience.probe"


class Layer(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A layer over the next transport, used sync or async as its inner one is.

    Subclasses override the hooks; ``_max_body`` set means the body is read (within it)
    before :meth:`_after` sees the response.
    """

    __slots__ = ("_inner", "_max_body")

    def __init__(self, inner: httpx.BaseTransport | httpx.AsyncBaseTransport) -> None:
        self._inner: Any = inner
        self._max_body: int | None = None

    @property
    def inner(self) -> httpx.BaseTransport | httpx.AsyncBaseTransport:
        """The next transport, towards the network."""
        return self._inner  # type: ignore[no-any-return]

    def _before(self, request: httpx.Request) -> Any:
        return None

    def _after(self, token: Any, request: httpx.Request, response: httpx.Response) -> None:
        """After the next layer answered; called only when :meth:`_before` returned a token."""

    def _failed(self, token: Any, request: httpx.Request, exc: BaseException) -> None:
        """After the next layer raised; called only when :meth:`_before` returned a token."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Run the hooks around the next layer's answer (the body read within the cap when asked)."""
        token = self._before(request)
        try:
            response: httpx.Response = self._inner.handle_request(request)
            if self._max_body is not None:
                read_body_sync(request, response, self._max_body)
        except BaseException as exc:
            if token is not None:
                self._failed(token, request, exc)
            raise
        if token is not None:
            self._after(token, request, response)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Run the hooks around the next layer's answer (the body read within the cap when asked)."""
        token = self._before(request)
        try:
            response: httpx.Response = await self._inner.handle_async_request(request)
            if self._max_body is not None:
                await read_body_async(request, response, self._max_body)
        except BaseException as exc:
            if token is not None:
                self._failed(token, request, exc)
            raise
        if token is not None:
            self._after(token, request, response)
        return response

    def close(self) -> None:
        """Close the next layer."""
        self._inner.close()

    async def aclose(self) -> None:
        """Close the next layer (async)."""
        await self._inner.aclose()


class RequestRefused(httpx.UnsupportedProtocol):
    """A hop :class:`GateTransport` refused: nothing was sent. ``error`` is the SDK's typed
    error for it, which the SDK's clients raise instead.

    An httpx exception, as a transport raises, and of the kind httpx raises for a URL it will
    not send to: the call procedure treats it the same (not retried, not delivered).
    ``home_may_have_acted``: the refused hop is a write's redirect that httpx turned into a GET
    (301, 302, 303): the home origin answered the write and may have acted on it.
    """

    def __init__(self, error: APIError, request: httpx.Request, *, home_may_have_acted: bool = False) -> None:
        super().__init__(str(error), request=request)
        self.error = error
        self.home_may_have_acted = home_may_have_acted


def _ids(request: httpx.Request) -> tuple[str | None, str | None]:
    """The operation id and the request id, for an error."""
    op = operation_of(request)
    return (op.operation_id if op is not None else None), request.headers.get("x-request-id")


def refused_closed(request: httpx.Request) -> RequestRefused:
    """The refusal of an attempt or a hop once the client is closed."""
    op_id, rid = _ids(request)
    return RequestRefused(ClientClosedError(operation=op_id, request_id=rid), request)


class GateTransport(Layer):
    """Lets each hop through or refuses it before anything is sent (:class:`RequestRefused`).

    Once closed, nothing: an attempt or redirect hop of a call still in flight would open a
    new pool. A write (POST, PUT, PATCH, DELETE, or a write's redirect turned GET) goes to the
    home origin only: a redirect to another origin would hand the write, and the answer the
    caller trusts, to a server the client was not configured for. A GET's redirects are
    followed anywhere (the credential guard withholds the credentials). A hop's body held in
    memory is made readable, so the layers and the inner transport see bytes: a replayable
    body lets aiohttp resend on a pooled connection the server had closed, as httpx's does.
    On the fast path: a flag, the method (and a write's origin), a readable body.
    """

    __slots__ = ("_home", "closed")

    def __init__(self, inner: httpx.BaseTransport | httpx.AsyncBaseTransport, home: httpx.URL | str) -> None:
        super().__init__(inner)
        url = httpx.URL(home)
        self._home = (url.scheme, url.host, url.port)
        self.closed = False

    def _admit(self, request: httpx.Request) -> None:
        if self.closed:
            raise refused_closed(request)
        op = operation_of(request)
        method = op.method if op is not None else request.method  # a write's hop may be a GET now
        if method in _WRITES or request.method in _WRITES:
            url = request.url
            if (url.scheme, url.host, url.port) != self._home:
                origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
                op_id, rid = _ids(request)
                error = CrossOriginRedirectError(
                    f"refused to send a {method} to another origin ({origin}) a redirect pointed to: "
                    "nothing was sent there",
                    origin=origin,
                    operation=op_id,
                    request_id=rid,
                )
                raise RequestRefused(error, request, home_may_have_acted=method != request.method)
        try:
            request.content  # noqa: B018  (readable already: the common case)
        except httpx.RequestNotRead:
            if isinstance(request.stream, httpx.ByteStream):  # a redirect hop's body, in memory
                request.read()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Refuse a hop of a closed client or a write to another origin; else pass it on."""
        self._admit(request)
        try:
            response: httpx.Response = self._inner.handle_request(request)
        finally:
            if self.closed:  # closed meanwhile: what this attempt opened is closed too
                self._inner.close()
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Refuse a hop of a closed client or a write to another origin; else pass it on."""
        self._admit(request)
        try:
            response: httpx.Response = await self._inner.handle_async_request(request)
        finally:
            if self.closed:
                await self._inner.aclose()
        return response

    def close(self) -> None:
        """Refuse every later hop, then close the next layer (the pool)."""
        self.closed = True
        self._inner.close()

    async def aclose(self) -> None:
        """Refuse every later hop, then close the next layer (the async pool)."""
        self.closed = True
        await self._inner.aclose()


class CircuitBreakerTransport(Layer):
    """Asks the breaker for each attempt; a rejection raises before any socket is opened.
    The body is read before the outcome is recorded: a cut mid-body is a failure. A probe
    (:data:`EXT_PROBE`) passes without asking and is not recorded."""

    __slots__ = ("_cache", "_registry")

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
        """The breakers this layer asks, one per origin (or per operation)."""
        return self._registry

    def _before(self, request: httpx.Request) -> tuple[CircuitBreaker, Permit] | None:
        if EXT_PROBE in request.extensions:
            return None
        op = operation_of(request)
        op_id = op.operation_id if op is not None else None
        url = request.url
        ck = (url.raw_scheme, url.netloc, op_id)
        breaker = self._cache.get(ck)
        if breaker is None:
            origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
            breaker = self._registry.get(self._registry.key_for(origin, op_id))
            if len(self._cache) < 1024:
                self._cache[ck] = breaker
        return breaker, breaker.acquire(op_id)

    def _after(self, token: tuple[CircuitBreaker, Permit], request: httpx.Request, response: httpx.Response) -> None:
        status = response.status_code
        token[0].record(token[1], classify_status(status), status)

    def _failed(self, token: tuple[CircuitBreaker, Permit], request: httpx.Request, exc: BaseException) -> None:
        """A transport error counts against the backend; a local error (see ``_LOCAL_ERRORS``)
        or any other exception (ours, the caller's) does not."""
        backend = isinstance(exc, httpx.TransportError) and not isinstance(exc, _LOCAL_ERRORS)
        token[0].record(token[1], Outcome.FAILURE if backend else Outcome.IGNORED, type(exc).__name__)


class RetryTransport(Layer):
    """The logical call (correlation, metrics, retries within the budget) as a transport,
    for an httpx client assembled without :class:`~resilience.SyncAPIClient`. The SDK's own
    clients drive the same procedure above httpx's redirects instead. Given the stack's
    ``breakers``, a call stops, without waiting, once they would refuse its next attempt."""

    __slots__ = ("_asleep", "_sleep", "ctx", "max_body")

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
        breakers: BreakerRegistry | None = None,
    ) -> None:
        super().__init__(inner)
        self.ctx = CallContext(
            policy, budget, metrics, clock, wall_clock, refusal=breakers.refusal if breakers is not None else None
        )
        self.max_body = max_body
        self._sleep, self._asleep = sleep, asleep

    def _attempt(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = self._inner.handle_request(request)
        read_body_sync(request, response, self.max_body)
        return response

    async def _attempt_async(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = await self._inner.handle_async_request(request)
        await read_body_async(request, response, self.max_body)
        return response

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """One logical call through :func:`~resilience._call.call_flow`, driven on this thread."""
        return drive_sync(call_flow(request, self.ctx), self._attempt, self._sleep)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """One logical call through :func:`~resilience._call.call_flow`, driven in this task."""
        return await drive_async(call_flow(request, self.ctx), self._attempt_async, self._asleep)
