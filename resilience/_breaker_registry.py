"""Breakers by key: the registry a transport stack shares, and the client's handle on its breakers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import ClassVar, Final

import httpx

from ._breaker import CircuitBreaker
from ._breaker_config import BreakerListener, CircuitBreakerConfig, CircuitState
from ._errors import CircuitOpenError
from ._operation import operation_of

__all__ = ["BreakerRegistry", "CircuitBreakerControl"]


class BreakerRegistry:
    """Breakers by key (origin, or origin and operation per ``config.scope``), created on first use."""

    def __init__(
        self,
        config: CircuitBreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        listeners: Iterable[BreakerListener] = (),
        factory: Callable[[str], CircuitBreaker] | None = None,
    ) -> None:
        self._config: Final = config if config is not None else CircuitBreakerConfig()
        self._factory: Final = factory  # fleet mode: makes fleet breakers (resilience._fleet)
        self._clock: Final = clock
        self._listeners: Final = tuple(listeners)
        self._lock: Final = threading.Lock()
        self._breakers: Final[dict[str, CircuitBreaker]] = {}
        self._forced = False

    @property
    def config(self) -> CircuitBreakerConfig:
        """The configuration every breaker of this registry is built with."""
        return self._config

    @property
    def forced_open(self) -> bool:
        """``force_open_all()`` is in effect (breakers created from now on start forced open too)."""
        return self._forced

    def key_for(self, origin: str, operation: str | None) -> str:
        """The breaker key of an origin and operation: the origin, or ``origin operation`` in per-operation scope."""
        if self._config.scope == "origin" or operation is None:
            return origin
        return f"{origin} {operation}"

    def get(self, key: str) -> CircuitBreaker:
        """The breaker of ``key``, made on first use (exactly one per key, across threads)."""
        breaker = self._breakers.get(key)
        if breaker is None:
            with self._lock:
                breaker = self._breakers.get(key)
                if breaker is None:
                    if self._factory is not None:
                        breaker = self._factory(key)
                    else:
                        breaker = CircuitBreaker(self._config, name=key, clock=self._clock, listeners=self._listeners)
                    if self._forced:
                        breaker.force_open()
                    self._breakers[key] = breaker
        return breaker

    def refusal(self, request: httpx.Request, after: float = 0.0) -> CircuitOpenError | None:
        """Would an attempt of ``request`` made ``after`` seconds from now be refused? The
        :class:`CircuitOpenError` it would get (counted as a rejection), else ``None``: what a
        call asks before it waits to retry (``CallContext.refusal``)."""
        op = operation_of(request)
        op_id = op.operation_id if op is not None else None
        url = request.url
        breaker = self.get(self.key_for(f"{url.scheme}://{url.netloc.decode('ascii')}", op_id))
        try:
            breaker.check(op_id, after=after)
        except CircuitOpenError as refused:
            return refused
        return None

    def breakers(self) -> Mapping[str, CircuitBreaker]:
        """A read-only copy of the breakers created so far."""
        return MappingProxyType(self._breakers.copy())

    def reset_all(self) -> None:
        """Reset every breaker and end a ``force_open_all()``."""
        with self._lock:
            self._forced = False
            breakers = list(self._breakers.values())
        for breaker in breakers:
            breaker.reset()

    def force_open_all(self) -> None:
        """Force every breaker open, including those created later, until ``reset_all()``."""
        with self._lock:
            self._forced = True
            breakers = list(self._breakers.values())
        for breaker in breakers:
            breaker.force_open()


class CircuitBreakerControl:
    """The client's breakers as one handle: state, force open, reset.

    Per-origin scope (the default): the breaker of the client's own origin. Per-operation
    scope: all of them; ``state`` is the most open one and ``force_open()`` holds for
    operations not called yet too.
    """

    _SEVERITY: ClassVar[dict[CircuitState, int]] = {
        CircuitState.DISABLED: 0,
        CircuitState.CLOSED: 1,
        CircuitState.HALF_OPEN: 2,
        CircuitState.OPEN: 3,
        CircuitState.FORCED_OPEN: 4,
    }

    def __init__(self, registry: BreakerRegistry, home_key: str) -> None:
        self._registry = registry
        self._home_key = home_key

    @property
    def _per_operation(self) -> bool:
        return self._registry.config.scope == "operation"

    @property
    def breaker(self) -> CircuitBreaker:
        """The breaker of the client's own origin (per-origin scope)."""
        return self._registry.get(self._home_key)

    @property
    def state(self) -> CircuitState:
        """The state of the client's breaker (per-operation scope: the most open of them)."""
        if not self._per_operation:
            return self.breaker.state
        if self._registry.forced_open:
            return CircuitState.FORCED_OPEN
        states = [b.state for b in self._registry.breakers().values()] or [CircuitState.CLOSED]
        return max(states, key=self._SEVERITY.__getitem__)

    def force_open(self) -> None:
        """Refuse every call until :meth:`reset` (per-operation scope: operations not called yet too)."""
        if self._per_operation:
            self._registry.force_open_all()
        else:
            self.breaker.force_open()

    def reset(self) -> None:
        """Back to closed with cleared counts (every breaker, in per-operation scope)."""
        if self._per_operation:
            self._registry.reset_all()
        else:
            self.breaker.reset()

    def snapshot(self) -> dict[str, object]:
        """The breaker's snapshot as a dict (per-operation scope: totals and each breaker's)."""
        if not self._per_operation:
            return self.breaker.snapshot().as_dict()
        per_op = {key: b.snapshot().as_dict() for key, b in sorted(self._registry.breakers().items())}
        return {
            "state": self.state.value,
            "failure_count": sum(int(str(d["failure_count"])) for d in per_op.values()),
            "rejected_count": sum(int(str(d["rejected_count"])) for d in per_op.values()),
            "breakers": per_op,
        }

    def __repr__(self) -> str:
        return f"CircuitBreakerControl(state={self.state.value!r})"
