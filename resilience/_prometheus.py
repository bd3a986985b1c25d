"""A Prometheus exporter as a metrics hook (optional: ``pip install finops-sdk[prometheus]``).

prometheus-client is imported when the hook is built, never by ``import resilience``. Labels
are bounded: operation ids (or route keys), methods, outcome kinds and breaker names
(origins); never raw URLs.
"""

from __future__ import annotations

from typing import Any

from ._breaker_config import BreakerTransition, CircuitState
from ._errors import ConfigurationError
from ._metrics_events import RequestEnd, RequestStart, RetryEvent
from ._outbox import OutboxStats

__all__ = ["PrometheusHook"]

_NOT_CLOSED = frozenset({CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.FORCED_OPEN})
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class PrometheusHook:
    """``FinOpsClient(..., metrics_hooks=[PrometheusHook()])`` exports, under ``namespace``:
    ``<ns>_requests_total{operation,method,outcome}``, ``<ns>_request_duration_seconds{operation}``,
    ``<ns>_requests_in_flight{operation}``, ``<ns>_retries_total{operation,reason}``,
    ``<ns>_breaker_transitions_total{breaker,to}``, ``<ns>_breaker_open{breaker}`` (1 while
    the breaker refuses calls: open, half-open or forced open) and, with an outbox, the gauges
    ``<ns>_outbox_pending_chunks``, ``_pending_items``, ``_dead_letters``, ``_bytes`` and
    ``_oldest_age_seconds``. The alert rules in ``monitoring/prometheus/`` are written on these
    names."""

    def __init__(self, registry: Any = None, *, namespace: str = "finops_sdk") -> None:
        try:
            import prometheus_client as prom
        except ImportError as exc:
            raise ConfigurationError(
                "PrometheusHook needs prometheus-client: pip install 'finops-sdk[prometheus]'"
            ) from exc
        kw: dict[str, Any] = {"namespace": namespace}
        if registry is not None:
            kw["registry"] = registry
        self.requests = prom.Counter(
            "requests", "Logical API calls by outcome", ["operation", "method", "outcome"], **kw
        )
        self.duration = prom.Histogram(
            "request_duration_seconds", "Latency of logical API calls", ["operation"], buckets=_BUCKETS, **kw
        )
        self.in_flight = prom.Gauge("requests_in_flight", "API calls in flight", ["operation"], **kw)
        self.retries = prom.Counter("retries", "Retries by reason", ["operation", "reason"], **kw)
        self.transitions = prom.Counter(
            "breaker_transitions", "Circuit breaker transitions by new state", ["breaker", "to"], **kw
        )
        self.outbox = {name: prom.Gauge(name, f"The outbox: {name[7:]}", **kw) for name in OutboxStats().gauges()}
        self.breaker_open = prom.Gauge(
            "breaker_open", "1 while the circuit breaker refuses calls (not closed)", ["breaker"], **kw
        )

    @staticmethod
    def _op(operation: str | None, key: str) -> str:
        return operation or key

    def on_request_start(self, event: RequestStart) -> None:
        """Count a call in flight."""
        self.in_flight.labels(self._op(event.operation, event.key)).inc()

    def on_request_end(self, event: RequestEnd) -> None:
        """Observe the call's latency and count its outcome."""
        op = self._op(event.operation, event.key)
        self.in_flight.labels(op).dec()
        self.requests.labels(op, event.method, event.outcome).inc()
        self.duration.labels(op).observe(event.duration)

    def on_retry(self, event: RetryEvent) -> None:
        """Count a retry."""
        reason = event.reason if event.reason.startswith("HTTP ") else "exception"
        self.retries.labels(self._op(event.operation, event.key), reason).inc()

    def on_breaker_transition(self, event: object) -> None:
        """Set the breaker state gauge and count the transition."""
        if isinstance(event, BreakerTransition):
            self.transitions.labels(event.breaker, event.new_state.value).inc()
            self.breaker_open.labels(event.breaker).set(1 if event.new_state in _NOT_CLOSED else 0)

    def on_outbox_stats(self, stats: OutboxStats) -> None:
        """Set the outbox gauges (after each batch call and replay)."""
        for name, value in stats.gauges().items():
            self.outbox[name].set(value)
