"""The OpenTelemetry instruments of :class:`~resilience.OpenTelemetryHook` (imported only when one is built).

``http.client.request.duration`` exactly as the stable HTTP semantic conventions define it
(seconds, their advisory bucket boundaries, their attributes; ``url.template`` is their opt-in
one); the rest under ``resilience.client.*``: the logical call's duration, retries by reason,
breaker state (an observable gauge: 1 for the state each breaker is in, 0 for the others) and
transitions, the retry budget's remaining retries, batch items by outcome, and the gauges of
the state sources given to :meth:`OpenTelemetryHook.provide` (the outbox's depth, bytes and
oldest age; the fleet's fallbacks). Callbacks read the state under its own short locks.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import httpx

from ._breaker_config import BreakerTransition, CircuitState
from ._errors import ConfigurationError
from ._metrics_events import RequestEnd, RetryEvent

__all__: list[str] = []  # internal: the hook's instruments

#: The stable conventions' advisory boundaries for ``http.client.request.duration`` (seconds).
HTTP_DURATION_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

HTTP_CLIENT_REQUEST_DURATION: Final = "http.client.request.duration"
CALL_DURATION: Final = "resilience.client.call.duration"
RETRIES: Final = "resilience.client.retries"
BREAKER_STATE: Final = "resilience.client.breaker.state"
BREAKER_TRANSITIONS: Final = "resilience.client.breaker.transitions"
RETRY_BUDGET_REMAINING: Final = "resilience.client.retry_budget.remaining"
BATCH_ITEMS: Final = "resilience.client.batch.items"
OUTBOX_DEPTH: Final = "resilience.client.outbox.depth"
OUTBOX_BYTES: Final = "resilience.client.outbox.size"
OUTBOX_OLDEST_AGE: Final = "resilience.client.outbox.oldest_age"
FLEET_FALLBACKS: Final = "resilience.client.fleet.fallbacks"

#: At most this many attribute sets are kept per cache (a bound, should a caller vary keys).
_CACHED: Final = 1024

#: The state sources :meth:`Instruments.provide` takes, and the figures each gauge reads.
_SOURCES: Final = {
    "outbox": ((OUTBOX_DEPTH, "depth"), (OUTBOX_BYTES, "bytes"), (OUTBOX_OLDEST_AGE, "oldest_age_seconds")),
    "fleet": ((FLEET_FALLBACKS, "fallbacks"),),
}


class Instruments:
    """The meter's instruments and the clients' state they observe (weakly: a client that is
    gone stops being reported)."""

    def __init__(self, meter_provider: Any = None) -> None:
        from opentelemetry import metrics
        from opentelemetry.metrics import Observation

        self._observation = Observation
        meter = metrics.get_meter("resilience", meter_provider=meter_provider)
        buckets = list(HTTP_DURATION_BUCKETS)
        self.attempt_duration = meter.create_histogram(
            HTTP_CLIENT_REQUEST_DURATION,
            unit="s",
            description="Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=buckets,
        )
        self.call_duration = meter.create_histogram(
            CALL_DURATION,
            unit="s",
            description="Duration of logical API calls, their retries and waits included.",
            explicit_bucket_boundaries_advisory=buckets,
        )
        self.retries = meter.create_counter(RETRIES, unit="{retry}", description="Retries by reason.")
        self.transitions = meter.create_counter(
            BREAKER_TRANSITIONS, unit="{transition}", description="Circuit breaker transitions by new state."
        )
        self.batch_items = meter.create_counter(
            BATCH_ITEMS, unit="{item}", description="Items of batched calls by outcome."
        )
        meter.create_observable_gauge(
            BREAKER_STATE,
            callbacks=[self._breaker_states],
            unit="1",
            description="1 for the state each circuit breaker is in, 0 for the others.",
        )
        meter.create_observable_gauge(
            RETRY_BUDGET_REMAINING,
            callbacks=[self._budgets],
            unit="{retry}",
            description="Retries the retry budget still allows in its window.",
        )
        units = {OUTBOX_DEPTH: "{message}", OUTBOX_BYTES: "By", OUTBOX_OLDEST_AGE: "s", FLEET_FALLBACKS: "{fallback}"}
        for source, figures in _SOURCES.items():
            for name, figure in figures:
                meter.create_observable_gauge(
                    name, callbacks=[self._reader(source, figure)], unit=units[name], description=f"{source} {figure}"
                )
        self._lock = threading.Lock()
        self._stacks: list[tuple[weakref.ref[Any], dict[str, Any]]] = []
        self._providers: dict[str, Callable[[], Mapping[str, float] | None]] = {}
        self._calls: dict[tuple[str, str | None, str, int | None], dict[str, Any]] = {}

    # -- state ----------------------------------------------------------------------------------
    def bind(self, stack: Any, origin: str) -> None:
        with self._lock:
            self._stacks = [(r, o) for r, o in self._stacks if r() is not None]
            self._stacks.append((weakref.ref(stack), _origin(origin)))

    def provide(self, name: str, figures: Callable[[], Mapping[str, float] | None]) -> None:
        if name not in _SOURCES:
            raise ConfigurationError(f"no gauges read a state source named {name!r}; known: {sorted(_SOURCES)}")
        with self._lock:
            self._providers[name] = figures

    def _live(self) -> list[tuple[Any, dict[str, Any]]]:
        with self._lock:
            refs = list(self._stacks)
        return [(s, o) for s, o in ((r(), o) for r, o in refs) if s is not None]

    def _breaker_states(self, options: Any) -> Iterator[Any]:
        for stack, _ in self._live():
            registry = getattr(stack, "breakers", None)
            if registry is None:
                continue
            for name, breaker in registry.breakers().items():
                state = breaker.snapshot().state  # no transition delivered from inside a collection
                for s in CircuitState:
                    yield self._observation(
                        1 if s is state else 0, {"resilience.breaker": name, "resilience.breaker.state": s.value}
                    )

    def _budgets(self, options: Any) -> Iterator[Any]:
        for stack, origin in self._live():
            budget = getattr(stack, "budget", None)
            if budget is None:
                continue
            yield self._observation(budget.balance(), origin)

    def _reader(self, source: str, figure: str) -> Callable[[Any], Iterator[Any]]:
        def read(options: Any) -> Iterator[Any]:
            provider = self._providers.get(source)
            figures = provider() if provider is not None else None
            if figures is not None and figure in figures:
                yield self._observation(figures[figure], {})

        return read

    # -- events ---------------------------------------------------------------------------------
    def call_ended(self, event: RequestEnd) -> None:
        key = (event.key, event.operation, event.outcome, event.status_code)
        attrs = self._calls.get(key)
        if attrs is None:  # built once per operation, outcome and status: the SDK copies what it keeps
            attrs = {
                "resilience.operation": event.operation or event.key,
                "http.request.method": event.method,
                "url.template": event.key.partition(" ")[2],
                "resilience.outcome": event.outcome,
            }
            if event.status_code is not None:
                attrs["http.response.status_code"] = event.status_code
            if len(self._calls) < _CACHED:
                self._calls[key] = attrs
        self.call_duration.record(event.duration, attrs)

    def retried(self, event: RetryEvent) -> None:
        reason = event.reason if event.reason.startswith("HTTP ") else event.reason.rpartition(".")[2]
        self.retries.add(1, {"resilience.operation": event.operation or event.key, "resilience.retry.reason": reason})

    def transitioned(self, event: object) -> None:
        if isinstance(event, BreakerTransition):
            attrs = {"resilience.breaker": event.breaker, "resilience.breaker.state": event.new_state.value}
            self.transitions.add(1, attrs)

    def batch_ended(self, operation: str, items: Mapping[str, int]) -> None:
        for outcome, n in items.items():
            if n:
                self.batch_items.add(n, {"resilience.operation": operation, "resilience.batch.outcome": outcome})


def _origin(origin: str) -> dict[str, Any]:
    """The client's server, for a figure that is one per client (its retry budget)."""
    url = httpx.URL(origin)
    return {"server.address": url.host, "server.port": url.port or (443 if url.scheme == "https" else 80)}
