"""Request metrics: exact counters, a fixed-bucket latency histogram, Protocol hooks.

Keys are ``"METHOD /route/{template}"`` taken from the request's ``route_template``
extension, never raw URLs, and their number is capped, so memory stays bounded whatever
the number of requests. One lock guards all counters; it is held for a few integer
updates and never across I/O or hooks. Totals equal the requests made, exactly.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

import attrs

if TYPE_CHECKING:
    from ._operation import Operation

from ._errors import ConfigurationError
from ._metrics_events import ClientBound, MetricsHook, RequestEnd, RequestStart, RetryEvent, Tokens, Tracers, tracers_of
from ._outbox import OutboxStats

__all__ = [
    "DEFAULT_BUCKETS",
    "OUTCOME_KINDS",
    "MetricsRecorder",
    "MetricsSnapshot",
    "OperationMetrics",
]

logger = logging.getLogger("resilience.metrics")

#: How a logical request ended. ``success`` is any 1xx-3xx status.
OUTCOME_KINDS: Final = (
    "success",
    "4xx",
    "5xx",
    "timeout",
    "connection",
    "circuit_open",
    "budget_exhausted",
    "error",
)
_KIND_INDEX: Final = {k: i for i, k in enumerate(OUTCOME_KINDS)}
SUCCESS: Final = 0


def _log_buckets(low: float, high: float, factor: float) -> tuple[float, ...]:
    out = []
    b = low
    while b < high:
        out.append(round(b, 9))
        b *= factor
    out.append(high)
    return tuple(out)


#: Upper bounds in seconds: 50 µs to 120 s in steps of 25% (about 68 buckets).
DEFAULT_BUCKETS: Final = _log_buckets(50e-6, 120.0, 1.25)
MAX_OPERATIONS: Final = 512
OTHER: Final = "<other>"


@attrs.frozen(slots=True)
class OperationMetrics:
    """Figures for one key (or the global total)."""

    key: str
    operation: str | None
    requests: int
    successes: int
    failures: Mapping[str, int]
    retries: int
    in_flight: int
    total_latency: float
    min_latency: float | None
    max_latency: float | None
    histogram: tuple[int, ...]
    buckets: tuple[float, ...] = attrs.field(repr=False)

    @property
    def completed(self) -> int:
        """Calls that ended, successful or not."""
        return self.successes + sum(self.failures.values())

    @property
    def error_count(self) -> int:
        """Calls that ended in any failure kind."""
        return sum(self.failures.values())

    @property
    def success_rate(self) -> float:
        """Successful calls over completed ones (1.0 before any)."""
        done = self.completed
        return self.successes / done if done else 0.0

    @property
    def avg_latency(self) -> float:
        """Mean latency of the completed calls, in seconds (0.0 before any)."""
        done = self.completed
        return self.total_latency / done if done else 0.0

    @property
    def rejections(self) -> int:
        """Calls refused by an open circuit."""
        return self.failures.get("circuit_open", 0)

    def percentile(self, q: float) -> float | None:
        """Estimated from the histogram, linear within a bucket, clamped to the observed range."""
        total = sum(self.histogram)
        if total == 0:
            return None
        rank = q / 100.0 * total
        seen = 0
        for i, count in enumerate(self.histogram):
            if count and seen + count >= rank:
                lower = self.buckets[i - 1] if i > 0 else 0.0
                upper = self.buckets[i] if i < len(self.buckets) else (self.max_latency or lower)
                value = lower + (upper - lower) * ((rank - seen) / count)
                lo = self.min_latency if self.min_latency is not None else value
                hi = self.max_latency if self.max_latency is not None else value
                return min(max(value, lo), hi)
            seen += count
        return self.max_latency

    @property
    def p50(self) -> float | None:
        """Median latency in seconds, from the fixed histogram (``None`` before any call)."""
        return self.percentile(50)

    @property
    def p95(self) -> float | None:
        """95th percentile latency in seconds (``None`` before any call)."""
        return self.percentile(95)

    @property
    def p99(self) -> float | None:
        """99th percentile latency in seconds (``None`` before any call)."""
        return self.percentile(99)

    def as_dict(self) -> dict[str, object]:
        """The old client's dict form: counts, rates, latencies in seconds."""
        return {
            "operation": self.operation,
            "request_count": self.requests,
            "success_count": self.successes,
            "error_count": self.error_count,
            "failures": dict(self.failures),
            "retries": self.retries,
            "rejections": self.rejections,
            "in_flight": self.in_flight,
            "success_rate": self.success_rate,
            "avg_response_time": self.avg_latency,
            "min_response_time": self.min_latency,
            "max_response_time": self.max_latency,
            "p50": self.p50,
            "p95": self.p95,
            "p99": self.p99,
        }


@attrs.frozen(slots=True)
class MetricsSnapshot:
    """An immutable copy of all figures at one moment."""

    global_metrics: OperationMetrics
    operations: Mapping[str, OperationMetrics]
    taken_at: float
    #: The client's outbox now (``None``: no outbox): depth, bytes, oldest age, dead letters.
    outbox: OutboxStats | None = None
    #: Fleet mode's figures (``FleetStats.as_dict()``), ``None`` without ``shared_state``.
    fleet: Mapping[str, object] | None = None


class _Stats:
    __slots__ = ("failures", "hist", "in_flight", "max", "min", "operation", "requests", "retries", "total")

    def __init__(self, operation: str | None, nbuckets: int) -> None:
        self.operation = operation
        self.requests = 0
        self.in_flight = 0
        self.retries = 0
        self.failures = [0] * len(OUTCOME_KINDS)
        self.hist = [0] * (nbuckets + 1)
        self.total = 0.0
        self.min = math.inf
        self.max = 0.0

    def freeze(self, key: str, buckets: tuple[float, ...]) -> OperationMetrics:
        failures = {OUTCOME_KINDS[i]: n for i, n in enumerate(self.failures) if i != SUCCESS and n}
        return OperationMetrics(
            key=key,
            operation=self.operation,
            requests=self.requests,
            successes=self.failures[SUCCESS],
            failures=MappingProxyType(failures),
            retries=self.retries,
            in_flight=self.in_flight,
            total_latency=self.total,
            min_latency=None if self.min == math.inf else self.min,
            max_latency=self.max if self.requests and self.min != math.inf else None,
            histogram=tuple(self.hist),
            buckets=buckets,
        )


class MetricsRecorder:
    """Collects per-key and global request figures.

    ``log_every_requests`` / ``log_every_seconds`` turn on periodic INFO performance lines on
    the ``resilience.metrics`` logger. ``clock`` measures nothing here (latency is measured by
    the caller) but times the periodic log; inject a fake one in tests.
    """

    def __init__(
        self,
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        hooks: Iterable[MetricsHook] = (),
        log_every_requests: int | None = None,
        log_every_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        b = tuple(float(x) for x in buckets)
        if not b or any(not math.isfinite(x) or x <= 0 for x in b) or list(b) != sorted(set(b)):
            raise ConfigurationError("buckets must be increasing positive finite numbers")
        if log_every_requests is not None and log_every_requests < 1:
            raise ConfigurationError("log_every_requests must be >= 1")
        if log_every_seconds is not None and not log_every_seconds > 0:
            raise ConfigurationError("log_every_seconds must be > 0")
        self._buckets = b
        self._hooks: tuple[MetricsHook, ...] = tuple(hooks)
        #: The tracing hooks among them (:class:`~resilience.TracingHook`), ``None`` without one.
        self.tracers: Tracers | None = tracers_of(self._hooks)
        self._every_n = log_every_requests
        self._every_s = log_every_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._global = _Stats(None, len(b))
        self._ops: dict[str, _Stats] = {}
        self._last_log = clock()

    @property
    def hooks(self) -> tuple[MetricsHook, ...]:
        """The hooks told of every event, in the order added."""
        return self._hooks

    def add_hook(self, hook: MetricsHook) -> None:
        """Tell ``hook`` of every later request, retry and breaker transition."""
        with self._lock:
            self._hooks = (*self._hooks, hook)

    def _stats_for(self, key: str, operation: str | None) -> _Stats:
        s = self._ops.get(key)
        if s is None:
            if len(self._ops) >= MAX_OPERATIONS:
                key, operation = OTHER, None
                s = self._ops.get(key)
                if s is not None:
                    return s
            s = self._ops[key] = _Stats(operation, len(self._buckets))
        return s

    def _stats_started(self, key: str, operation: str | None) -> _Stats:
        """The figures a started request was counted in: its own key's, or ``<other>``'s when
        it overflowed the cap (even if a reset has since made room for new keys)."""
        s = self._ops.get(key)
        if s is None:
            s = self._ops.get(OTHER) or self._stats_for(key, operation)
        return s

    def start(self, key: str, operation: str | None, method: str) -> None:
        """Record the start of a logical call (in flight until :meth:`end`)."""
        with self._lock:
            s = self._stats_for(key, operation)
            s.requests += 1
            s.in_flight += 1
            g = self._global
            g.requests += 1
            g.in_flight += 1
        if self._hooks:
            self._emit("on_request_start", RequestStart(key, operation, method))

    def end(
        self,
        key: str,
        operation: str | None,
        method: str,
        outcome: str,
        status_code: int | None,
        duration: float,
        retries: int = 0,
    ) -> None:
        """Record the end of a logical call: outcome kind, status, latency (seconds), retries."""
        kind = _KIND_INDEX.get(outcome, _KIND_INDEX["error"])
        bucket = bisect.bisect_left(self._buckets, duration)
        with self._lock:
            for s in (self._stats_started(key, operation), self._global):
                s.in_flight -= 1
                s.failures[kind] += 1
                s.hist[bucket] += 1
                s.total += duration
                if duration < s.min:
                    s.min = duration
                if duration > s.max:
                    s.max = duration
            due = self._log_due()
        if self._hooks:
            self._emit("on_request_end", RequestEnd(key, operation, method, outcome, status_code, duration, retries))
        if due:
            self.log_summary()

    def _log_due(self) -> bool:
        """Whether this completion triggers the periodic log line; lock held, so exactly one
        thread logs each period. A line for N requests restarts the T-seconds period too."""
        if self._every_n is None and self._every_s is None:
            return False
        g = self._global
        done = g.requests - g.in_flight  # == completed, kept exact by reset()
        now = self._clock() if self._every_s is not None else 0.0
        if (self._every_n is not None and done % self._every_n == 0) or (
            self._every_s is not None and now - self._last_log >= self._every_s
        ):
            self._last_log = now if self._every_s is not None else self._last_log
            return True
        return False

    def retry(self, key: str, operation: str | None, attempt: int, reason: str, delay: float) -> None:
        """Record a retry of a logical call (``delay`` in seconds) and tell the hooks."""
        with self._lock:
            self._stats_started(key, operation).retries += 1
            self._global.retries += 1
        if self._hooks:
            self._emit("on_retry", RetryEvent(key, operation, attempt, reason, delay))

    def refused(self, op: Operation, error: BaseException, parent: Tokens | None = None) -> None:
        """A call refused by the open circuit before it was built: counted as a ``circuit_open``
        call of no duration, and told to the tracing hooks (under ``parent``, a chunk's)."""
        self.start(op.key, op.operation_id, op.method)
        self.end(op.key, op.operation_id, op.method, "circuit_open", None, 0.0)
        if self.tracers is not None:
            self.tracers.refused(op, error, parent)

    def bind(self, stack: object, origin: str, outbox: object = None) -> None:
        """Hand a client's stack (breakers, retry budget, fleet) and outbox to the hooks that
        read state from them."""
        self._emit("on_bind", ClientBound(stack, origin, outbox))

    def breaker_transition(self, event: object) -> None:
        """A :class:`~resilience.BreakerListener`: forwards transitions to the hooks."""
        if self._hooks:
            self._emit("on_breaker_transition", event)

    def _emit(self, method: str, event: object) -> None:
        for hook in self._hooks:
            fn = getattr(hook, method, None)
            if fn is None:
                continue
            try:
                fn(event)
            except Exception:
                logger.exception("metrics hook %s.%s failed", type(hook).__name__, method)

    def snapshot(self, outbox: OutboxStats | None = None) -> MetricsSnapshot:
        """A consistent, immutable copy of every counter and histogram now (with ``outbox``)."""
        with self._lock:
            ops = {k: s.freeze(k, self._buckets) for k, s in self._ops.items()}
            g = self._global.freeze("*", self._buckets)
        return MetricsSnapshot(
            global_metrics=g, operations=MappingProxyType(ops), taken_at=self._clock(), outbox=outbox
        )

    def reset(self) -> None:
        """Zero every figure; requests in flight stay counted as in flight (and as requests of
        the new period, so ``requests == completed + in_flight`` still holds when they end)."""
        with self._lock:
            flights = {k: s.in_flight for k, s in self._ops.items() if s.in_flight}
            g_flight = self._global.in_flight
            self._global = _Stats(None, len(self._buckets))
            self._global.in_flight = self._global.requests = g_flight
            ops: dict[str, _Stats] = {}
            for k, n in flights.items():
                ops[k] = _Stats(self._ops[k].operation, len(self._buckets))
                ops[k].in_flight = ops[k].requests = n
            self._ops = ops
            self._last_log = self._clock()

    def log_summary(self) -> None:
        """Log one INFO line with the global totals and latency percentiles."""
        g = self.snapshot().global_metrics
        logger.info(
            "performance: %d requests, %d ok, %d errors, success %.1f%%, avg %.1f ms, p95 %s ms, retries %d",
            g.requests,
            g.successes,
            g.error_count,
            100.0 * g.success_rate,
            1000.0 * g.avg_latency,
            "-" if g.p95 is None else f"{1000.0 * g.p95:.1f}",
            g.retries,
        )
