"""The OpenTelemetry instruments of :class:`~resilience.OpenTelemetryHook` (imported only when one is built).

``http.client.request.duration`` exactly as the stable HTTP semantic conventions define it
(seconds, their advisory bucket boundaries, their attributes; ``url.template`` is their opt-in
one); the rest under ``resilience.client.*``: the logical call's duration, retries by reason,
breaker state (an observable gauge: 1 for the state each breaker is in, 0 for the others) and
transitions, the retry budget's remaining retries, batch items by outcome, and the outbox's
(depth, bytes, oldest age, dead letters) and the fleet's (fallbacks) gauges: read from every
client bound to the hook (per client origin, its ``server.*`` attributes; never the outbox
file's path), and from a state source given to :meth:`OpenTelemetryHook.provide` (no
attributes). Callbacks read the state under its own short locks.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import httpx

from ._breaker_config import BreakerTransition, CircuitState
from ._errors import ConfigurationError
from ._metrics_events import RequestEnd, RetryEvent

__all__: list[str] = []  # internal: the hook's instruments

logger = logging.getLogger("resilience.metrics")

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
OUTBOX_DEAD_LETTERS: Final = "resilience.client.outbox.dead_letters"
FLEET_FALLBACKS: Final = "resilience.client.fleet.fallbacks"

#: At most this many attribute sets are kept per cache (a bound, should a caller vary keys).
_CACHED: Final = 1024

#: The state sources :meth:`Instruments.provide` takes, and the figures each gauge reads.
_SOURCES: Final = {
    "outbox": (
        (OUTBOX_DEPTH, "depth"),
        (OUTBOX_BYTES, "bytes"),
        (OUTBOX_OLDEST_AGE, "oldest_age_seconds"),
        (OUTBOX_DEAD_LETTERS, "dead_letters"),
    ),
    "fleet": ((FLEET_FALLBACKS, "fallbacks"),),
}
#: How the figures of several sources of one origin add up (an age is the oldest one's).
_MAX_OF: Final = frozenset({"oldest_age_seconds"})


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
        units = {
            OUTBOX_DEPTH: "{message}",
            OUTBOX_BYTES: "By",
            OUTBOX_OLDEST_AGE: "s",
            OUTBOX_DEAD_LETTERS: "{message}",
            FLEET_FALLBACKS: "{fallback}",
        }
        for source, figures in _SOURCES.items():
            for name, figure in figures:
                meter.create_observable_gauge(
                    name, callbacks=[self._reader(source, figure)], unit=units[name], description=f"{source} {figure}"
                )
        self._lock = threading.Lock()
        self._stacks: list[tuple[weakref.ref[Any], dict[str, Any]]] = []
        self._outboxes: list[tuple[weakref.ref[Any], dict[str, Any]]] = []
        self._providers: dict[str, Callable[[], Mapping[str, float] | None]] = {}
        self._calls: dict[tuple[str, str | None, str, int | None], dict[str, Any]] = {}

    # -- state ----------------------------------------------------------------------------------
    def bind(self, stack: Any, origin: str, outbox: Any = None) -> None:
        attrs = _origin(origin)
        with self._lock:
            self._stacks = [(r, o) for r, o in self._stacks if r() is not None]
            self._stacks.append((weakref.ref(stack), attrs))
            self._outboxes = [(r, o) for r, o in self._outboxes if r() is not None]
            if outbox is not None:
                self._outboxes.append((weakref.ref(outbox), attrs))

    def provide(self, name: str, figures: Callable[[], Mapping[str, float] | None]) -> None:
        if name not in _SOURCES:
            raise ConfigurationError(f"no gauges read a state source named {name!r}; known: {sorted(_SOURCES)}")
        with self._lock:
            self._providers[name] = figures

    def _live(self, outboxes: bool = False) -> list[tuple[Any, dict[str, Any]]]:
        with self._lock:
            refs = list(self._outboxes if outboxes else self._stacks)
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
            bound = self._outbox_figures() if source == "outbox" else self._fleet_figures()
            per_origin: dict[frozenset[tuple[str, Any]], float] = {}
            for value, attrs in bound:
                key = frozenset(attrs.items())
                if key not in per_origin:
                    per_origin[key] = value[figure]
                elif figure in _MAX_OF:
                    per_origin[key] = max(per_origin[key], value[figure])
                else:
                    per_origin[key] += value[figure]
            for key, total in per_origin.items():
                yield self._observation(total, dict(key))

        return read

    def _outbox_figures(self) -> Iterator[tuple[Mapping[str, float], dict[str, Any]]]:
        """Each bound client's outbox figures (an outbox two clients share, once)."""
        seen: set[int] = set()
        for outbox, origin in self._live(outboxes=True):
            store = getattr(outbox, "store", outbox)
            if id(store) in seen:
                continue
            seen.add(id(store))
            try:
                stats = outbox.stats()
            except Exception:  # a closed client's outbox (its file closed): not reported
                logger.debug("outbox figures not read", exc_info=True)
                continue
            yield (
                {
                    "depth": stats.pending_chunks,
                    "bytes": stats.bytes,
                    "oldest_age_seconds": stats.oldest_age,
                    "dead_letters": stats.dead_letters,
                },
                origin,
            )

    def _fleet_figures(self) -> Iterator[tuple[Mapping[str, float], dict[str, Any]]]:
        """Each bound client's fleet figures."""
        for stack, origin in self._live():
            fleet = getattr(stack, "fleet", None)
            if fleet is not None:
                yield {"fallbacks": fleet.stats().fallbacks}, origin

    # -- events ---------------------------------------------------------------------------------
    def call_ended(self, event: RequestEnd) -> None:
        key = (event.key, event.operation, event.outcome, event.status_code)
        attrs = self._calls.get(key)
        if attrs is None:  # built once per operation, outcome and status: the SDK copies what it keeps
            # The operation names the method and the template: each attribute costs every record.
            attrs = {"resilience.operation": event.operation or event.key, "resilience.outcome": event.outcome}
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
    """The client's server, for a figure that is one per client (retry budget, outbox, fleet):
    host and port only, never a path, a query or a credential."""
    url = httpx.URL(origin)
    return {"server.address": url.host, "server.port": url.port or (443 if url.scheme == "https" else 80)}
