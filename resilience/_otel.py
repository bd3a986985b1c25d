"""OpenTelemetry traces and metrics as a metrics and tracing hook (optional: ``finops-sdk[otel]``).

``opentelemetry-api`` is imported when :class:`OpenTelemetryHook` is built, never by ``import
resilience``. Spans follow the HTTP client semantic conventions: one INTERNAL span per logical
call named by its operation id, under it one CLIENT span per attempt and redirect hop named
``{METHOD} {url.template}``, whose W3C trace context goes out in the hop's headers (the
propagation API: the application's propagators). A batch is one span with a span per chunk
holding the chunk's calls. Spans travel as tokens the SDK hands back (:class:`TracingHook`),
never as a context attached across a procedure's yields. Attributes hold no raw URL, no path
or query value and nothing secret: the route template, the method, the server's host and port.
The metrics are in :mod:`resilience._otel_metrics`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import httpx

from ._call import EXT_CALL
from ._errors import ConfigurationError
from ._metrics_events import ClientBound, RequestEnd, RequestStart, RetryEvent
from ._operation import Operation, operation_of

__all__ = ["OpenTelemetryHook"]

# The semantic conventions' names (stable ones, and url.template, still incubating); the tests
# check them against opentelemetry-semantic-conventions' constants.
HTTP_REQUEST_METHOD: Final = "http.request.method"
HTTP_REQUEST_METHOD_ORIGINAL: Final = "http.request.method_original"
HTTP_REQUEST_RESEND_COUNT: Final = "http.request.resend_count"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
URL_SCHEME: Final = "url.scheme"
URL_TEMPLATE: Final = "url.template"
ERROR_TYPE: Final = "error.type"
# What the conventions do not cover, under the SDK's own prefix.
OPERATION: Final = "resilience.operation"
OUTCOME: Final = "resilience.outcome"
RETRIES: Final = "resilience.retries"
BATCH_ITEMS: Final = "resilience.batch.items"
BATCH_CHUNKS: Final = "resilience.batch.chunks"
CHUNK_FIRST: Final = "resilience.batch.chunk.first_item"
CHUNK_ITEMS: Final = "resilience.batch.chunk.items"
CHUNK_ACCEPTED: Final = "resilience.batch.chunk.accepted"
CHUNK_REJECTED: Final = "resilience.batch.chunk.rejected"

_KNOWN_METHODS: Final = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"})
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
#: At most this many attribute sets are kept per cache (a bound, should a caller vary origins).
_CACHED: Final = 1024


def error_type(exc: BaseException) -> str:
    """A low-cardinality ``error.type``: the exception class, named by its top-level package
    (``httpx.ReadTimeout``, ``resilience.CircuitOpenError``)."""
    cls = type(exc)
    package = cls.__module__.partition(".")[0]
    return cls.__qualname__ if package == "builtins" else f"{package}.{cls.__qualname__}"


def _method(method: str, attrs: dict[str, Any]) -> str:
    if method in _KNOWN_METHODS:
        attrs[HTTP_REQUEST_METHOD] = method
        return method
    attrs[HTTP_REQUEST_METHOD] = "_OTHER"
    attrs[HTTP_REQUEST_METHOD_ORIGINAL] = method
    return "HTTP"


def _operation_attrs(op: Operation) -> dict[str, Any]:
    attrs: dict[str, Any] = {OPERATION: op.operation_id, URL_TEMPLATE: op.route}
    _method(op.method, attrs)
    return attrs


def _global_unset(trace: Any) -> Callable[[], bool]:
    """Whether the API's global tracer provider is still unset (a proxy), checked per call: a
    read of the API's set-once global, not ``get_tracer_provider()``'s environment lookup
    (~0.8 us; its variable was read when the hook's tracer was got)."""
    if hasattr(trace, "_TRACER_PROVIDER"):
        return lambda: trace._TRACER_PROVIDER is None
    proxy = trace.ProxyTracerProvider
    return lambda: isinstance(trace.get_tracer_provider(), proxy)


class _Call:
    """A logical call's span, its context (the parent of its attempts) and its hop count."""

    __slots__ = ("context", "hops", "request", "span")

    def __init__(self, span: Any, context: Any, request: httpx.Request) -> None:
        self.span, self.context, self.request, self.hops = span, context, request, 0


class _Hop:
    """A hop's span name and attributes for one method, origin and template, and its metric
    attributes by status code or error class (built once: the SDK copies what it keeps). The
    metric leaves out ``url.scheme`` (opt-in there; each attribute costs every record)."""

    __slots__ = ("attrs", "ended", "name", "span_attrs")

    def __init__(self, name: str, attrs: dict[str, Any], span_attrs: dict[str, Any]) -> None:
        self.name, self.attrs, self.span_attrs = name, attrs, span_attrs
        self.ended: dict[int | type[BaseException] | None, dict[str, Any]] = {}


class _Attempt:
    """One hop's span, start time and attributes."""

    __slots__ = ("hop", "span", "started")

    def __init__(self, span: Any, started: float, hop: _Hop) -> None:
        self.span, self.started, self.hop = span, started, hop


class _Scope:
    """A batch's or chunk's span and its context."""

    __slots__ = ("context", "op", "span")

    def __init__(self, span: Any, context: Any, op: Operation) -> None:
        self.span, self.context, self.op = span, context, op


class OpenTelemetryHook:
    """``FinOpsClient(..., metrics_hooks=[OpenTelemetryHook()])``: traces and metrics through the
    OpenTelemetry API, to the global providers unless ``tracer_provider`` / ``meter_provider``
    are given. Give it at construction (the attempt layer is built only for a tracing hook).

    Every client built with the hook reports its own outbox (depth, bytes, oldest age, dead
    letters) and fleet (fallbacks) gauges under its origin's ``server.*`` attributes, held
    weakly. ``provide(name, figures)``: one more state source those gauges read, reported with
    no attributes (``"outbox"``: a callable returning ``depth``, ``bytes``,
    ``oldest_age_seconds``, ``dead_letters``; ``"fleet"``: returning ``fallbacks``), ``None``
    while there is nothing to report.
    """

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        try:
            from opentelemetry import propagate, trace
            from opentelemetry.trace import SpanKind, StatusCode
        except ImportError as exc:
            raise ConfigurationError(
                "OpenTelemetryHook needs opentelemetry-api: pip install 'finops-sdk[otel]'"
            ) from exc
        from ._otel_metrics import Instruments

        self._tracer = trace.get_tracer("resilience", tracer_provider=tracer_provider)
        # Following the global provider: while none is set (a proxy), no span is started at all.
        self._unset = _global_unset(trace) if tracer_provider is None else None
        self._in_context = trace.set_span_in_context
        self._inject = propagate.inject
        self._internal, self._client = SpanKind.INTERNAL, SpanKind.CLIENT
        self._error = StatusCode.ERROR
        self.instruments = Instruments(meter_provider)
        self._timer = time.perf_counter
        self._hops: dict[tuple[str, bytes, bytes, int | None, str | None], _Hop] = {}

    def provide(self, name: str, figures: Callable[[], Mapping[str, float] | None]) -> None:
        """Let the observable gauges of ``name`` (``"outbox"``, ``"fleet"``) read ``figures``."""
        self.instruments.provide(name, figures)

    # -- MetricsHook: the logical calls' figures ------------------------------------------------
    def on_request_start(self, event: RequestStart) -> None:
        """Nothing: a call is measured when it ends."""

    def on_request_end(self, event: RequestEnd) -> None:
        """The call's duration, with its operation, template and outcome."""
        self.instruments.call_ended(event)

    def on_retry(self, event: RetryEvent) -> None:
        """Count the retry by reason."""
        self.instruments.retried(event)

    def on_breaker_transition(self, event: object) -> None:
        """Count the transition by new state."""
        self.instruments.transitioned(event)

    def on_bind(self, event: ClientBound) -> None:
        """Observe this client's breakers, retry budget, fleet and outbox (weakly)."""
        self.instruments.bind(event.stack, event.origin, event.outbox)

    # -- TracingHook: the spans -----------------------------------------------------------------
    def on_call_start(self, request: httpx.Request, parent: Any) -> _Call:
        """The call's INTERNAL span, under its chunk's (else the caller's current span)."""
        unset = self._unset
        if unset is not None:
            if unset():
                return _Call(None, None, request)  # no tracing SDK: metrics only
            self._unset = None  # the global provider is set once: no more checks
        op = operation_of(request)
        if op is not None:
            name, attrs = op.operation_id, _operation_attrs(op)
        else:
            attrs = {}
            name = _method(request.method, attrs)
        context = parent.context if isinstance(parent, _Scope) else None
        span = self._tracer.start_span(name, context=context, kind=self._internal, attributes=attrs)
        if not span.is_recording() and not span.get_span_context().is_valid:  # no tracing SDK: metrics only
            return _Call(None, None, request)
        return _Call(span, self._in_context(span), request)

    def on_call_end(self, call: _Call, response: httpx.Response | None, error: BaseException | None) -> None:
        """End the call's span with its final status or error."""
        span = call.span
        if span is None:
            return
        record = call.request.extensions.get(EXT_CALL)
        retries = getattr(record, "retries", 0)
        if retries:
            span.set_attribute(RETRIES, retries)
        if response is not None:
            status = response.status_code
            span.set_attribute(HTTP_RESPONSE_STATUS_CODE, status)
            if status >= 400:
                span.set_attribute(ERROR_TYPE, str(status))
                span.set_status(self._error)
        elif error is not None:
            kind = error_type(error)
            span.set_attribute(ERROR_TYPE, kind)
            span.set_status(self._error, kind)
        span.end()

    def on_attempt_start(self, request: httpx.Request, call: Any) -> _Attempt:
        """The hop's CLIENT span; its trace context goes out in the hop's headers."""
        route = None
        if isinstance(call, _Call):
            if request is call.request:  # a redirect hop goes elsewhere: no template
                op = operation_of(request)
                route = op.route if op is not None else None
            if call.span is None:  # no tracing SDK: only the duration is measured
                return _Attempt(None, self._timer(), self._hop(request, route))
            context, hop = call.context, call.hops
            call.hops += 1
        else:
            context, hop = None, 0
        hop_attrs = self._hop(request, route)
        span_attrs = dict(hop_attrs.span_attrs)
        if hop:
            span_attrs[HTTP_REQUEST_RESEND_COUNT] = hop
        span = self._tracer.start_span(hop_attrs.name, context=context, kind=self._client, attributes=span_attrs)
        if span.get_span_context().is_valid:  # a no-op tracer's span has nothing to propagate
            self._inject(request.headers, context=self._in_context(span))
        return _Attempt(span, self._timer(), hop_attrs)

    def _hop(self, request: httpx.Request, route: str | None) -> _Hop:
        """A hop's span name and attributes, built once per method, origin and template."""
        url = request.url
        key = (request.method, url.raw_scheme, url.raw_host, url.port, route)
        hop = self._hops.get(key)
        if hop is None:
            attrs: dict[str, Any] = {}
            name = _method(request.method, attrs)
            scheme = url.scheme
            attrs[SERVER_ADDRESS] = url.host
            attrs[SERVER_PORT] = url.port or _DEFAULT_PORTS.get(scheme, 0)
            span_attrs = {**attrs, URL_SCHEME: scheme}
            if route is not None:
                attrs[URL_TEMPLATE] = span_attrs[URL_TEMPLATE] = route
                name = f"{name} {route}"
            hop = _Hop(name, attrs, span_attrs)
            if len(self._hops) < _CACHED:
                self._hops[key] = hop
        return hop

    def on_attempt_end(self, attempt: _Attempt, response: httpx.Response | None, error: BaseException | None) -> None:
        """End the hop's span; record ``http.client.request.duration``."""
        elapsed = self._timer() - attempt.started
        hop = attempt.hop
        if response is not None:
            key: int | type[BaseException] | None = response.status_code
        else:
            key = type(error) if error is not None else None
        attrs = hop.ended.get(key)
        if attrs is None:
            attrs = dict(hop.attrs)
            if response is not None:
                status = attrs[HTTP_RESPONSE_STATUS_CODE] = response.status_code
                if status >= 400:
                    attrs[ERROR_TYPE] = str(status)
            elif error is not None:
                attrs[ERROR_TYPE] = error_type(error)
            if len(hop.ended) < _CACHED:
                hop.ended[key] = attrs
        span = attempt.span
        if span is not None:
            span.set_attributes({k: attrs[k] for k in (HTTP_RESPONSE_STATUS_CODE, ERROR_TYPE) if k in attrs})
            if ERROR_TYPE in attrs:
                span.set_status(self._error, None if response is not None else attrs[ERROR_TYPE])
            span.end()
        self.instruments.attempt_duration.record(elapsed, attrs)

    def on_refused(self, operation: Operation, error: BaseException, parent: Any) -> None:
        """A short span for a call the open circuit refused: nothing was sent."""
        attrs = _operation_attrs(operation)
        kind = attrs[ERROR_TYPE] = error_type(error)
        context = parent.context if isinstance(parent, _Scope) else None
        span = self._tracer.start_span(operation.operation_id, context=context, kind=self._internal, attributes=attrs)
        span.set_status(self._error, kind)
        span.end()

    def on_batch_start(self, operation: Operation, items: int, chunks: int) -> _Scope:
        """The batch's span (under the caller's current span)."""
        attrs = _operation_attrs(operation)
        attrs[BATCH_ITEMS], attrs[BATCH_CHUNKS] = items, chunks
        span = self._tracer.start_span(operation.operation_id, kind=self._internal, attributes=attrs)
        return _Scope(span, self._in_context(span), operation)

    def on_chunk_start(self, batch: _Scope, start: int, stop: int) -> _Scope:
        """A chunk's span under the batch's: its first item's index and its item count."""
        attrs: dict[str, Any] = {OPERATION: batch.op.operation_id, CHUNK_FIRST: start, CHUNK_ITEMS: stop - start}
        span = self._tracer.start_span(
            f"{batch.op.operation_id} chunk", context=batch.context, kind=self._internal, attributes=attrs
        )
        return _Scope(span, self._in_context(span), batch.op)

    def on_chunk_end(
        self, chunk: _Scope, outcome: str, accepted: int, rejected: int, error: BaseException | None
    ) -> None:
        """End the chunk's span with its outcome and item counts."""
        span = chunk.span
        span.set_attribute(OUTCOME, outcome)
        span.set_attribute(CHUNK_ACCEPTED, accepted)
        span.set_attribute(CHUNK_REJECTED, rejected)
        if outcome != "accepted" or error is not None:
            kind = error_type(error) if error is not None else outcome
            span.set_attribute(ERROR_TYPE, kind)
            span.set_status(self._error, kind)
        span.end()

    def on_batch_end(self, batch: _Scope, items: Mapping[str, int], error: BaseException | None) -> None:
        """End the batch's span with its items by outcome; count them."""
        span = batch.span
        for outcome, n in items.items():
            span.set_attribute(f"{BATCH_ITEMS}.{outcome}", n)
        if error is not None:
            kind = error_type(error)
            span.set_attribute(ERROR_TYPE, kind)
            span.set_status(self._error, kind)
        span.end()
        self.instruments.batch_ended(batch.op.operation_id, items)
