"""The per-attempt layers that watch and guard a hop without deciding its fate: the DEBUG log,
the tracing hooks' CLIENT spans, and the guard that keeps credentials at home.

Each is a :class:`~resilience._layers.Layer`; :mod:`resilience._stack` assembles them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from ._call import EXT_CALL, CallRecord, call_record_of
from ._layers import Layer
from ._metrics_events import Tracers
from ._operation import operation_of
from ._redact import SECRET_KEY_PATTERN, redact_body, redact_headers

__all__ = ["CredentialGuardTransport", "LoggingTransport", "TracingTransport"]

log_http = logging.getLogger("resilience.http")


def _route(request: httpx.Request) -> str:
    op = operation_of(request)
    return op.route if op is not None else "<unrouted>"


def _body(request: httpx.Request) -> bytes | None:
    """The body when the request holds it readable; a stream (or a redirect hop nobody made
    readable) is not read: that would consume it or fail."""
    try:
        return request.content
    except httpx.RequestNotRead:
        return None


class LoggingTransport(Layer):
    """DEBUG lines per attempt: method, route, status, timing, attempt, request id; headers by
    allowlist and bodies redacted. Costs one ``isEnabledFor`` check when DEBUG is off."""

    __slots__ = ()

    def _before(self, request: httpx.Request) -> float | None:
        if not log_http.isEnabledFor(logging.DEBUG):
            return None
        log_http.debug(
            "request %s %s attempt=%s request_id=%s headers=%s body=%s",
            request.method,
            _route(request),
            call_record_of(request).attempts or 1,
            request.headers.get("x-request-id"),
            redact_headers(request.headers.items()),
            redact_body(_body(request)),
        )
        return time.perf_counter()

    def _after(self, token: float, request: httpx.Request, response: httpx.Response) -> None:
        log_http.debug(
            "response %s %s status=%s elapsed=%.2fms attempt=%s request_id=%s headers=%s",
            request.method,
            _route(request),
            response.status_code,
            1000.0 * (time.perf_counter() - token),
            call_record_of(request).attempts or 1,
            request.headers.get("x-request-id"),
            redact_headers(response.headers.items()),
        )

    def _failed(self, token: float, request: httpx.Request, exc: BaseException) -> None:
        log_http.debug(
            "failed %s %s error=%s elapsed=%.2fms attempt=%s request_id=%s",
            request.method,
            _route(request),
            type(exc).__name__,
            1000.0 * (time.perf_counter() - token),
            call_record_of(request).attempts or 1,
            request.headers.get("x-request-id"),
        )


class TracingTransport(Layer):
    """Tells the tracing hooks of each attempt and redirect hop that passed the breaker (its
    CLIENT span; the hook puts the trace context in its headers). In the stack only when the
    client's metrics have a tracing hook (:class:`~resilience.TracingHook`)."""

    __slots__ = ("_tracers",)

    def __init__(self, inner: httpx.BaseTransport | httpx.AsyncBaseTransport, tracers: Tracers) -> None:
        super().__init__(inner)
        self._tracers = tracers

    def _before(self, request: httpx.Request) -> Any:
        record = request.extensions.get(EXT_CALL)
        return self._tracers.attempt_start(request, record.trace if isinstance(record, CallRecord) else None)

    def _after(self, token: Any, request: httpx.Request, response: httpx.Response) -> None:
        self._tracers.attempt_end(token, response, None)

    def _failed(self, token: Any, request: httpx.Request, exc: BaseException) -> None:
        self._tracers.attempt_end(token, None, exc)


class CredentialGuardTransport(Layer):
    """Withholds every credential header from requests to any origin but the home one: those
    ``sensitive_headers()`` names (the auth's own and the built-in list) and any header whose
    name matches ``SECRET_KEY_PATTERN`` (a user's ``X-Auth-Token``, ``X-Client-Secret``...).

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

    def _before(self, request: httpx.Request) -> None:
        url = request.url
        if (url.raw_scheme, url.netloc) == self._home:
            return
        headers = request.headers
        sensitive = self._sensitive()
        for name in [n for n in headers if n in sensitive or SECRET_KEY_PATTERN.search(n)]:
            del headers[name]
