"""The events a metrics recorder hands to hooks, and the MetricsHook Protocol exporters implement."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

import attrs

logger = logging.getLogger("resilience.metrics")

if TYPE_CHECKING:
    import httpx

    from ._operation import Operation

__all__ = ["ClientBound", "MetricsHook", "RequestEnd", "RequestStart", "RetryEvent", "TracingHook"]

#: Where a request carries the tracing token of its parent (a batch chunk's), for its call.
EXT_TRACE_PARENT: Final = "resilience.trace_parent"


@attrs.frozen(slots=True)
class RequestStart:
    """A logical call started: its route key (``METHOD /route``), operation id and method."""

    key: str
    operation: str | None
    method: str


@attrs.frozen(slots=True)
class RequestEnd:
    """A logical call ended: its outcome kind, HTTP status (``None`` without an answer),
    latency in seconds and retries."""

    key: str
    operation: str | None
    method: str
    outcome: str
    status_code: int | None
    duration: float
    retries: int


@attrs.frozen(slots=True)
class RetryEvent:
    """A retry is about to wait ``delay`` seconds after ``reason`` (``HTTP 503``,
    ``ReadTimeout``...), before attempt ``attempt + 1``."""

    key: str
    operation: str | None
    attempt: int
    reason: str
    delay: float


@runtime_checkable
class MetricsHook(Protocol):
    """Plug an exporter in (Prometheus, OpenTelemetry...): implement the four methods (a
    method with nothing to do is a plain ``pass``). Hooks run outside locks; an exception in a
    hook is logged and ignored."""

    def on_request_start(self, event: RequestStart) -> None:
        """A logical call started."""

    def on_request_end(self, event: RequestEnd) -> None:
        """A logical call ended."""

    def on_retry(self, event: RetryEvent) -> None:
        """A logical call is about to retry."""

    def on_breaker_transition(self, event: object) -> None:
        """A breaker changed state (a :class:`~resilience.BreakerTransition`)."""


@attrs.frozen(slots=True)
class ClientBound:
    """A client was built with the hook: its :class:`~resilience.ResilienceStack` (breakers,
    retry budget, ``fleet``), its home origin (``https://host:port``) and its ``client.outbox``
    (anything with ``stats()`` returning :class:`~resilience.OutboxStats`), ``None`` without one.
    A hook keeping them should keep weak references: the client's lifetime is its user's."""

    stack: Any
    origin: str
    outbox: Any = None


@runtime_checkable
class TracingHook(Protocol):
    """Optional, beside :class:`MetricsHook`: a hook that also has these methods (OpenTelemetry's)
    is told of each logical call, each attempt (every redirect hop too), each refusal by an open
    circuit and each batch with its chunks. It keeps its own state (a span) in the tokens it
    returns; the SDK hands them back, so nothing depends on a context variable across a
    procedure's yields. Only hooks given at construction are asked; a client without one pays
    nothing. Exceptions are logged and ignored, as a MetricsHook's."""

    def on_call_start(self, request: httpx.Request, parent: Any) -> Any:
        """A logical call starts (``parent``: its batch chunk's token, else ``None``)."""

    def on_call_end(self, call: Any, response: httpx.Response | None, error: BaseException | None) -> None:
        """The logical call ended with its last answer, or with ``error``."""

    def on_attempt_start(self, request: httpx.Request, call: Any) -> Any:
        """One attempt or redirect hop leaves (``request`` may still be changed: the trace context)."""

    def on_attempt_end(self, attempt: Any, response: httpx.Response | None, error: BaseException | None) -> None:
        """The attempt's answer (headers received), or its error."""

    def on_refused(self, operation: Operation, error: BaseException, parent: Any) -> None:
        """The open circuit refused a call before anything was built."""

    def on_batch_start(self, operation: Operation, items: int, chunks: int) -> Any:
        """A batched call starts: ``items`` in ``chunks`` chunks."""

    def on_chunk_start(self, batch: Any, start: int, stop: int) -> Any:
        """One chunk (items ``start`` to ``stop - 1``) of the batch starts."""

    def on_chunk_end(self, chunk: Any, outcome: str, accepted: int, rejected: int, error: BaseException | None) -> None:
        """The chunk ended: its outcome (``accepted``, ``outcome_unknown``, ``not_delivered``)."""

    def on_batch_end(self, batch: Any, items: Mapping[str, int], error: BaseException | None) -> None:
        """The batch ended: its items by outcome, and what interrupted it (if anything)."""

    def on_bind(self, event: ClientBound) -> None:
        """A client was built with this hook: its stack's state for the hook's gauges to read."""


Tokens = tuple[Any, ...]


def _safe(hook: object, method: str, *args: Any) -> Any:
    try:
        return getattr(hook, method)(*args)
    except Exception:
        logger.exception("tracing hook %s.%s failed", type(hook).__name__, method)
        return None


class Tracers:
    """The tracing hooks of one recorder as one: each event goes to every hook, each token is
    the tuple of the hooks' own tokens (in order), and a failing hook is logged and skipped."""

    __slots__ = ("hooks",)

    def __init__(self, hooks: tuple[object, ...]) -> None:
        self.hooks = hooks

    def _each(self, method: str, tokens: Tokens | None, *args: Any) -> Tokens:
        hooks = self.hooks
        if tokens is None:
            return tuple(_safe(h, method, *args) for h in hooks)
        return tuple(_safe(h, method, t, *args) for h, t in zip(hooks, tokens, strict=True))

    def _parented(self, method: str, first: Any, parent: Tokens | None) -> Tokens:
        parents = parent if parent is not None else (None,) * len(self.hooks)
        return tuple(_safe(h, method, first, p) for h, p in zip(self.hooks, parents, strict=True))

    def call_start(self, request: httpx.Request, parent: Tokens | None) -> Tokens:
        return self._parented("on_call_start", request, parent)

    def call_end(self, call: Tokens, response: httpx.Response | None, error: BaseException | None) -> None:
        self._each("on_call_end", call, response, error)

    def attempt_start(self, request: httpx.Request, call: Tokens | None) -> Tokens:
        return self._parented("on_attempt_start", request, call)

    def attempt_end(self, attempt: Tokens, response: httpx.Response | None, error: BaseException | None) -> None:
        self._each("on_attempt_end", attempt, response, error)

    def refused(self, operation: Operation, error: BaseException, parent: Tokens | None) -> None:
        parents = parent if parent is not None else (None,) * len(self.hooks)
        for h, p in zip(self.hooks, parents, strict=True):
            _safe(h, "on_refused", operation, error, p)

    def batch_start(self, operation: Operation, items: int, chunks: int) -> Tokens:
        return self._each("on_batch_start", None, operation, items, chunks)

    def chunk_start(self, batch: Tokens, start: int, stop: int) -> Tokens:
        return self._each("on_chunk_start", batch, start, stop)

    def chunk_end(self, chunk: Tokens, outcome: str, accepted: int, rejected: int, error: BaseException | None) -> None:
        self._each("on_chunk_end", chunk, outcome, accepted, rejected, error)

    def batch_end(self, batch: Tokens, items: Mapping[str, int], error: BaseException | None) -> None:
        self._each("on_batch_end", batch, items, error)


class _OneTracer(Tracers):
    """The common case, one tracing hook: its own tokens, its methods called directly."""

    __slots__ = ("_hook",)

    def __init__(self, hook: Any) -> None:
        super().__init__((hook,))
        self._hook = hook

    def _one(self, method: str, *args: Any) -> Any:
        return _safe(self._hook, method, *args)

    def call_start(self, request: httpx.Request, parent: Any) -> Any:
        try:
            return self._hook.on_call_start(request, parent)
        except Exception:
            logger.exception("tracing hook %s.on_call_start failed", type(self._hook).__name__)
            return None

    def call_end(self, call: Any, response: httpx.Response | None, error: BaseException | None) -> None:
        try:
            self._hook.on_call_end(call, response, error)
        except Exception:
            logger.exception("tracing hook %s.on_call_end failed", type(self._hook).__name__)

    def attempt_start(self, request: httpx.Request, call: Any) -> Any:
        try:
            return self._hook.on_attempt_start(request, call)
        except Exception:
            logger.exception("tracing hook %s.on_attempt_start failed", type(self._hook).__name__)
            return None

    def attempt_end(self, attempt: Any, response: httpx.Response | None, error: BaseException | None) -> None:
        try:
            self._hook.on_attempt_end(attempt, response, error)
        except Exception:
            logger.exception("tracing hook %s.on_attempt_end failed", type(self._hook).__name__)

    def refused(self, operation: Operation, error: BaseException, parent: Any) -> None:
        self._one("on_refused", operation, error, parent)

    def batch_start(self, operation: Operation, items: int, chunks: int) -> Any:
        return self._one("on_batch_start", operation, items, chunks)

    def chunk_start(self, batch: Any, start: int, stop: int) -> Any:
        return self._one("on_chunk_start", batch, start, stop)

    def chunk_end(self, chunk: Any, outcome: str, accepted: int, rejected: int, error: BaseException | None) -> None:
        self._one("on_chunk_end", chunk, outcome, accepted, rejected, error)

    def batch_end(self, batch: Any, items: Mapping[str, int], error: BaseException | None) -> None:
        self._one("on_batch_end", batch, items, error)


def tracers_of(hooks: tuple[object, ...]) -> Tracers | None:
    """The tracing hooks among ``hooks`` as one, ``None`` when there is none (the fast path)."""
    found = tuple(h for h in hooks if callable(getattr(h, "on_call_start", None)))
    if not found:
        return None
    return _OneTracer(found[0]) if len(found) == 1 else Tracers(found)
