"""The fleet breaker: a CircuitBreaker whose OPEN and HALF_OPEN come from the fleet's shared state.

While the fleet is CLOSED (or unknown: Redis down, not synced yet) the worker's own breaker decides
exactly as without fleet mode, so a worker whose own calls fail still protects itself. Its outcomes
are also counted and flushed to the fleet in batches by the fleet sync (:mod:`resilience._fleet`),
which replaces the worker's view of the fleet (:class:`FleetView`) at most every ``sync_interval``.
While the fleet is OPEN every call is refused; while HALF_OPEN a call goes out only on a probe
reservation the sync took from Redis for this worker (at most ``half_open_max_calls`` held
fleet-wide). Nothing here does I/O: acquire and record touch memory only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, Final

import attrs

from ._breaker import CircuitBreaker
from ._breaker_config import (
    BreakerListener,
    BreakerSnapshot,
    BreakerTransition,
    CircuitBreakerConfig,
    CircuitState,
    Outcome,
    Permit,
)
from ._errors import CircuitOpenError
from ._fleet_store import FleetSettings, ScriptCall

__all__ = ["FleetCircuitBreaker", "FleetView"]

_CLOSED: Final = CircuitState.CLOSED
_SUCCESS: Final = Outcome.SUCCESS
_FAILURE: Final = Outcome.FAILURE
_IGNORED: Final = Outcome.IGNORED
_LOCAL_ONLY: Final = frozenset({CircuitState.FORCED_OPEN, CircuitState.DISABLED})
_KEY_TTL_MS: Final = 86_400_000  # an unused breaker's keys go away after a day


@attrs.frozen(slots=True)
class FleetView:
    """The fleet's state as last read: state, generation, seconds until a probe (OPEN), probes held."""

    state: CircuitState
    generation: int
    probe_at: float  # on the worker's clock
    probes_out: int = 0


@attrs.frozen(slots=True, eq=False)
class FleetProbe(Permit):
    """A half-open probe admitted on a fleet reservation (``token``)."""

    token: str = ""


def script_config(config: CircuitBreakerConfig, settings: FleetSettings) -> str:
    """The breaker's thresholds as the Lua scripts read them (ARGV[1], JSON)."""
    return json.dumps(
        {
            "mode": config.mode,
            "failure_threshold": config.failure_threshold,
            "minimum_calls": config.minimum_calls,
            "rate": config.failure_rate_threshold if config.mode == "rate" else 0.5,
            "recovery_ms": round(config.recovery_timeout * 1000),
            "success_threshold": config.success_threshold,
            "half_open_max": config.half_open_max_calls,
            "window_ms": round(settings.window * 1000),
            "probe_ttl_ms": round(settings.probe_ttl * 1000),
            "quorum": settings.quorum,
            "ttl_ms": _KEY_TTL_MS,
        },
        separators=(",", ":"),
    )


def breaker_keys(namespace: str, name: str) -> tuple[str, str, str]:
    """The hash, failing-workers and probe-reservation keys of breaker ``name`` (one cluster slot)."""
    base = f"{namespace}:cb:{{{name}}}"
    return base, f"{base}:workers", f"{base}:probes"


def _now(now_ms: int | None) -> str:
    return "" if now_ms is None else str(now_ms)


def report_call(
    keys: tuple[str, str, str],
    cfg: str,
    worker: str,
    generation: int,
    failures: int,
    successes: int,
    probes_done: Iterable[tuple[str, str]] = (),
    now_ms: int | None = None,
) -> ScriptCall:
    """The ``report`` decision: add a batch of outcomes seen in ``generation``, and probe results."""
    done = [part for pair in probes_done for part in pair]
    return ScriptCall("report", keys, (cfg, _now(now_ms), worker, generation, failures, successes, *done))


def reserve_call(keys: tuple[str, str, str], cfg: str, worker: str, want: int, now_ms: int | None = None) -> ScriptCall:
    """The ``reserve`` decision: up to ``want`` half-open probe reservations for ``worker``."""
    return ScriptCall("reserve", keys, (cfg, _now(now_ms), worker, want))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class FleetCircuitBreaker(CircuitBreaker):
    """A :class:`CircuitBreaker` that also obeys the fleet (see the module's docstring).

    ``reset()``, ``force_open()`` and ``disable()`` act on this worker's breaker only; a forced or
    disabled breaker ignores the fleet until reset.
    """

    __slots__ = ("_demand", "_done", "_ensure", "_fl", "_fleet_wake", "_fv", "_held", "_pf", "_ps", "keys")

    def __init__(
        self,
        config: CircuitBreakerConfig | None = None,
        *,
        name: str = "default",
        clock: Callable[[], float],
        listeners: Iterable[BreakerListener] = (),
        keys: tuple[str, str, str],
        wake: Callable[[], None],
        ensure: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(config, name=name, clock=clock, listeners=listeners)
        import threading

        self.keys: Final = keys
        self._fleet_wake: Final = wake
        self._ensure: Final = ensure  # starts the async client's sync task on its loop
        self._fl: Final = threading.Lock()  # pending counts and reservations; never held across I/O
        self._fv: FleetView | None = None  # None: the fleet is unknown, the local breaker decides
        self._pf = 0
        self._ps = 0
        self._held: list[FleetProbe] = []
        self._done: list[tuple[str, str]] = []
        self._demand = False

    # hot path ---------------------------------------------------------------------------------

    def acquire(self, operation: str | None = None) -> Permit:
        """Admit a call or raise :class:`CircuitOpenError`: the worker's own breaker while the fleet is
        CLOSED or unknown, else a probe reservation the sync took for this worker."""
        view = self._fv
        if view is not None and view.state is _CLOSED:  # the fleet is healthy: as CircuitBreaker.acquire
            permit = self._free_permit
            if permit is not None:
                return permit
            return self._acquire_slow(operation)
        return self._acquire_fleet(view, operation)

    def _acquire_fleet(self, view: FleetView | None, operation: str | None) -> Permit:
        if view is None:  # not synced yet, or Redis out of reach: the local breaker decides
            self._ensure()
            return CircuitBreaker.acquire(self, operation)
        if self._state in _LOCAL_ONLY:
            return CircuitBreaker.acquire(self, operation)
        with self._fl:
            if self._held:
                return self._held.pop()
            self._demand = True
        raise self._refused(view, operation)

    def check(self, operation: str | None = None, *, after: float = 0.0) -> None:
        """Raise :class:`CircuitOpenError` when :meth:`acquire` would refuse now (a refusal for want of
        a probe asks the next sync for one)."""
        view = self._fv
        if view is None or view.state is _CLOSED or self._state in _LOCAL_ONLY:
            if self._free_permit is None:
                CircuitBreaker.check(self, operation, after=after)
            return
        with self._fl:
            if self._held:
                return
            self._demand = True
        raise self._refused(view, operation)

    def _refused(self, view: FleetView, operation: str | None) -> CircuitOpenError:
        retry_in = max(0.0, view.probe_at - self._clock()) if view.state is CircuitState.OPEN else 0.0
        with self._lock:
            self._rejected += 1
        return CircuitOpenError(breaker=self._name, retry_in=retry_in, operation=operation, failures=self._opened_by)

    def record(self, permit: Permit, outcome: Outcome, kind: int | str | None = None) -> None:
        """Count the outcome for this worker's breaker and for the fleet (a probe's result goes to
        the fleet at once)."""
        if outcome is _SUCCESS and permit is self._free_permit and self._success_noop:
            with self._fl:  # nothing for the local breaker to do; counted for the fleet
                self._ps += 1
            return
        self._record_fleet(permit, outcome, kind)

    def _record_fleet(self, permit: Permit, outcome: Outcome, kind: int | str | None) -> None:
        if type(permit) is FleetProbe:
            with self._fl:
                self._done.append((permit.token, outcome.value if outcome is not _IGNORED else "release"))
            self._fleet_wake()  # the fleet should hear of a probe at once
            return
        CircuitBreaker.record(self, permit, outcome, kind)
        if outcome is _IGNORED:
            return
        with self._fl:
            if outcome is _FAILURE:
                self._pf += 1
            else:
                self._ps += 1

    def pending(self) -> tuple[int, int]:
        """Failures and successes counted since the last sync (not yet sent to the fleet)."""
        with self._fl:
            return self._pf, self._ps

    # observation ------------------------------------------------------------------------------

    @property
    def fleet_view(self) -> FleetView | None:
        """The fleet's state as last read; ``None`` while unknown (the local breaker decides)."""
        return self._fv

    @property
    def state(self) -> CircuitState:
        """The fleet's state when OPEN or HALF_OPEN, else the worker's own breaker's."""
        view = self._fv
        if view is None or view.state is _CLOSED or self._state in _LOCAL_ONLY:
            return super().state
        return view.state

    def snapshot(self) -> BreakerSnapshot:
        """The worker's breaker's snapshot, with the fleet's state when it is OPEN or HALF_OPEN."""
        snap = super().snapshot()
        view = self._fv
        if view is None or view.state is _CLOSED or snap.state in _LOCAL_ONLY:
            return snap
        retry_in = max(0.0, view.probe_at - self._clock()) if view.state is CircuitState.OPEN else 0.0
        return attrs.evolve(snap, state=view.state, retry_in=retry_in, probes_out=view.probes_out)

    # the fleet sync's side (I/O-free: it builds calls and applies replies) ---------------------

    def plan(self, cfg: str, worker: str, now_ms: int | None = None) -> list[ScriptCall]:
        """The calls of one sync: report the pending counts and finished probes (unused
        reservations given back); ask for a probe when a call was refused for want of one."""
        view = self._fv
        with self._fl:
            failures, successes, self._pf, self._ps = self._pf, self._ps, 0, 0
            done, self._done = self._done, []
            done.extend((p.token, "release") for p in self._held)
            self._held = []
            demand, self._demand = self._demand, False
        generation = view.generation if view is not None else -1
        calls = [report_call(self.keys, cfg, worker, generation, failures, successes, done, now_ms)]
        if demand and view is not None and view.state is not _CLOSED:
            calls.append(reserve_call(self.keys, cfg, worker, 1, now_ms))
        return calls

    def apply(self, replies: list[Any]) -> None:
        """Take the fleet's answer to :meth:`plan`'s calls as the new view."""
        last = replies[-1]
        state = CircuitState(_text(last[0]))
        generation, retry_ms, probes_out = int(last[1]), int(last[2]), int(last[3])
        view = FleetView(state, generation, self._clock() + retry_ms / 1000.0, probes_out)
        granted = [FleetProbe(generation, True, _text(t)) for t in last[6]] if isinstance(last[6], list) else []
        if granted:
            with self._fl:
                self._held.extend(granted)
        self._adopt(view)

    def unknown(self) -> None:
        """Redis is out of reach: forget the fleet's state, the local breaker decides alone."""
        with self._fl:
            self._pf = self._ps = 0
            self._held = []
            self._done = []
        self._adopt(None)

    def _adopt(self, view: FleetView | None) -> None:
        old_view, self._fv = self._fv, view
        if self._state in _LOCAL_ONLY:
            return
        old = old_view.state if old_view is not None and old_view.state is not _CLOSED else self._state
        if view is not None and view.state is _CLOSED and old_view is not None and old_view.state is not _CLOSED:
            super().reset()  # the fleet recovered: so does this worker, whatever it saw alone
        new = view.state if view is not None and view.state is not _CLOSED else self._state
        if old is new:
            return
        with self._lock:
            self._transitions += 1
            reason = "fleet" if view is not None else "fleet state unknown, local breaker decides"
            self._pending.append(BreakerTransition(self._name, old, new, self._clock(), reason))
        self._deliver()
