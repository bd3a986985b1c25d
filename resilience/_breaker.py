"""Circuit breaker: per-origin (or per-operation) state machine, pure and clock-injected.

::

    CLOSED --failure_threshold consecutive failures (or failure rate)--> OPEN
    OPEN --recovery_timeout elapsed, next acquire--> HALF_OPEN (that call is the first probe)
    HALF_OPEN --probe failure--> OPEN            HALF_OPEN --success_threshold successes--> CLOSED
    any --force_open()--> FORCED_OPEN            any --disable()--> DISABLED
    any --reset()--> CLOSED (counts cleared)

The transport drives it: ``permit = breaker.acquire(operation)`` before sending (raises
:class:`~resilience._errors.CircuitOpenError` when the call must not go out), then
``breaker.record(permit, outcome)`` with the :class:`Outcome` of the response or error.
Nothing here does I/O or sleeps; the only time source is the injected ``clock``.

Permits and late results. A permit is a tiny immutable object. While CLOSED (or DISABLED) every
caller gets the same shared permit of the current generation, so the hot path allocates nothing
and takes no lock. Each half-open probe gets a permit of its own, held in a small set until it is
recorded. Any state change (and ``reset()``) starts a new generation: a result recorded with a
permit of an older generation counts for nothing, so a slow call admitted while CLOSED that fails
after the breaker went OPEN -> HALF_OPEN is never taken for a probe result. A probe of the current
half-open generation always frees its slot when recorded, whatever the outcome.

Reported state. ``state`` and ``snapshot()`` never report a stale OPEN: once ``recovery_timeout``
has elapsed they make the OPEN -> HALF_OPEN transition themselves (the same transition, with
the same event, that the next ``acquire()`` would make), so what they report always matches
the transitions the listeners were told about.

Events. Transitions are queued under the state lock and delivered after it is released, in
order, each exactly once, by one thread at a time: a listener may run on a thread other than
the one whose call caused the transition, and may call the breaker back (no deadlock).
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

from ._breaker_config import (
    BreakerListener,
    BreakerSnapshot,
    BreakerTransition,
    CircuitBreakerConfig,
    CircuitState,
    Outcome,
    Permit,
    describe_failures,
)
from ._errors import CircuitOpenError

__all__ = ["CircuitBreaker"]

_logger: Final = logging.getLogger("resilience.breaker")


# -- the breaker -------------------------------------------------------------------------------

_CLOSED: Final = CircuitState.CLOSED
_OPEN: Final = CircuitState.OPEN
_HALF_OPEN: Final = CircuitState.HALF_OPEN
_FORCED_OPEN: Final = CircuitState.FORCED_OPEN
_DISABLED: Final = CircuitState.DISABLED
_SUCCESS: Final = Outcome.SUCCESS
_FAILURE: Final = Outcome.FAILURE
_IGNORED: Final = Outcome.IGNORED
_ALARM_STATES: Final = frozenset({_OPEN, _FORCED_OPEN})
_Kind = int | str | None  # what failed, given to record(): an HTTP status, an exception's type name


class CircuitBreaker:
    """One circuit breaker. Thread-safe; cheap on the CLOSED hot path (no lock, no clock).

    ``clock`` returns seconds (monotonic); ``listeners`` receive every :class:`BreakerTransition`.
    """

    __slots__ = (
        "_clock",
        "_config",
        "_count_mode",
        "_delivering",
        "_failures",
        "_free_permit",
        "_generation",
        "_kinds",
        "_listeners",
        "_lock",
        "_name",
        "_opened_at",
        "_opened_by",
        "_pending",
        "_probe_at",
        "_probes",
        "_rejected",
        "_ring",
        "_ring_failures",
        "_ring_kinds",
        "_ring_len",
        "_ring_pos",
        "_state",
        "_success_noop",
        "_successes",
        "_transitions",
    )

    def __init__(
        self,
        config: CircuitBreakerConfig | None = None,
        *,
        name: str = "default",
        clock: Callable[[], float] = time.monotonic,
        listeners: Iterable[BreakerListener] = (),
    ) -> None:
        self._config: Final = config if config is not None else CircuitBreakerConfig()
        self._name: Final = name
        self._clock: Final = clock
        self._listeners: tuple[BreakerListener, ...] = tuple(listeners)
        self._lock: Final = threading.Lock()
        self._delivering: Final = threading.Lock()
        self._pending: Final[collections.deque[BreakerTransition]] = collections.deque()
        self._count_mode: Final = self._config.mode == "count"
        self._ring: Final = bytearray(self._config.window_size if not self._count_mode else 0)
        # What failed: in the run of failures (count mode), in each slot of the window (rate mode).
        self._kinds: list[_Kind] = []
        self._ring_kinds: Final[list[_Kind]] = [None] * len(self._ring)
        self._opened_by: tuple[tuple[str, int], ...] = ()  # what opened it, for CircuitOpenError
        self._state = _CLOSED
        self._generation = 0
        self._transitions = 0
        self._rejected = 0
        self._failures = 0
        self._successes = 0
        self._probes: set[Permit] = set()
        self._ring_pos = 0
        self._ring_len = 0
        self._ring_failures = 0
        self._opened_at: float | None = None
        self._probe_at = math.inf
        # The shared permit of the current generation while CLOSED or DISABLED, else None.
        self._free_permit: Permit | None = Permit(0, False)
        # True when recording SUCCESS with the free permit cannot change anything.
        self._success_noop = self._count_mode

    @property
    def name(self) -> str:
        """The breaker's key, as in logs and metrics (its origin, or origin and operation)."""
        return self._name

    @property
    def config(self) -> CircuitBreakerConfig:
        """The breaker's thresholds and timeouts."""
        return self._config

    @property
    def state(self) -> CircuitState:
        """The current state; OPEN becomes HALF_OPEN here once recovery_timeout has elapsed."""
        if self._state is _OPEN:
            with self._lock:
                if self._state is _OPEN:
                    self._half_open_if_due(self._clock())
                state = self._state
            self._deliver()
            return state
        return self._state

    # hot path ---------------------------------------------------------------------------------

    def acquire(self, operation: str | None = None) -> Permit:
        """Admit a call or raise :class:`CircuitOpenError` at once. ``operation`` names it in the error."""
        permit = self._free_permit  # one atomic read: non-None means CLOSED/DISABLED, this generation
        if permit is not None:
            return permit
        return self._acquire_slow(operation)

    def check(self, operation: str | None = None, *, after: float = 0.0) -> None:
        """Raise :class:`CircuitOpenError` when :meth:`acquire` would reject now (or ``after`` seconds
        from now), without taking a permit or a probe slot: lets a client refuse before it builds the
        request, or a call before it waits to retry. A call that passes must still :meth:`acquire`."""
        if self._free_permit is not None:
            return
        with self._lock:
            if self._free_permit is not None:
                return
            state = self._state
            if state is _OPEN:
                now = self._clock()
                if now + after >= self._probe_at:
                    return  # a probe is due: acquire() takes it
                retry_in: float | None = self._probe_at - now
            elif state is _HALF_OPEN:
                if len(self._probes) < self._config.half_open_max_calls:
                    return
                retry_in = 0.0
            elif state is CircuitState.FORCED_OPEN:
                retry_in = None
            else:
                return
            self._rejected += 1
            failures = self._opened_by
        raise CircuitOpenError(breaker=self._name, retry_in=retry_in, operation=operation, failures=failures)

    def record(self, permit: Permit, outcome: Outcome, kind: _Kind = None) -> None:
        """Count the outcome of a call admitted with ``permit``; stale permits count for nothing.
        ``kind``: what failed (an HTTP status, an exception's type name), for :class:`CircuitOpenError`."""
        # Lock-free no-op: a success that cannot change anything, or an ignored result, for the
        # current shared permit. If the generation moved on between the reads, the permit is
        # stale and doing nothing is right too.
        if permit is self._free_permit and (outcome is _IGNORED or (outcome is _SUCCESS and self._success_noop)):
            return
        self._record_slow(permit, outcome, kind)

    # slow paths -------------------------------------------------------------------------------

    def _acquire_slow(self, operation: str | None) -> Permit:
        retry_in: float | None = None
        with self._lock:
            state, failures = self._state, self._opened_by
            permit = self._free_permit
            if permit is not None:  # moved back to CLOSED/DISABLED meanwhile
                return permit
            if state is _OPEN:
                now = self._clock()
                if self._half_open_if_due(now):
                    permit = self._take_probe()
                else:
                    self._rejected += 1
                    retry_in = self._probe_at - now
            elif state is _HALF_OPEN and len(self._probes) < self._config.half_open_max_calls:
                return self._take_probe()
            else:
                self._rejected += 1
                retry_in = 0.0 if state is _HALF_OPEN else None
        if permit is not None:
            self._deliver()
            return permit
        raise CircuitOpenError(breaker=self._name, retry_in=retry_in, operation=operation, failures=failures)

    def _take_probe(self) -> Permit:
        probe = Permit(self._generation, True)
        self._probes.add(probe)
        return probe

    def _record_slow(self, permit: Permit, outcome: Outcome, kind: _Kind) -> None:
        with self._lock:
            if permit is self._free_permit:
                if self._state is not _CLOSED or outcome is _IGNORED:
                    return
                if self._count_mode:
                    if outcome is _SUCCESS:
                        self._failures = 0
                        self._kinds.clear()
                        self._success_noop = True
                        return
                    self._failures += 1
                    self._kinds.append(kind)
                    self._success_noop = False
                    if self._failures < self._config.failure_threshold:
                        return
                    self._enter(_OPEN, "failure_threshold reached", self._clock(), self._kinds)
                else:
                    self._ring_kinds[self._ring_pos] = kind
                    if not self._push(outcome is _FAILURE):
                        return
                    window = zip(self._ring_kinds, self._ring[: self._ring_len], strict=False)
                    self._enter(_OPEN, "failure_rate_threshold reached", self._clock(), [k for k, f in window if f])
            elif permit in self._probes:  # a probe of the current half-open generation
                self._probes.remove(permit)
                if outcome is _IGNORED:
                    return
                if outcome is _FAILURE:
                    self._enter(_OPEN, "probe failed", self._clock(), [kind])
                else:
                    self._successes += 1
                    if self._successes < self._config.success_threshold:
                        return
                    self._enter(_CLOSED, "probe succeeded", self._clock())
            else:
                return  # stale: from an older generation (or already recorded)
        self._deliver()

    def _push(self, failed: bool) -> bool:
        """Add one outcome to the rate window; True when the window now says open. Lock held."""
        ring = self._ring
        pos = self._ring_pos
        if self._ring_len == len(ring):
            self._ring_failures -= ring[pos]
        else:
            self._ring_len += 1
        ring[pos] = failed
        self._ring_failures += failed
        self._ring_pos = (pos + 1) % len(ring)
        calls = self._ring_len
        return (
            calls >= self._config.minimum_calls and self._ring_failures / calls >= self._config.failure_rate_threshold
        )

    def _half_open_if_due(self, now: float) -> bool:
        """OPEN -> HALF_OPEN when the recovery timeout has elapsed. Lock held, state is OPEN."""
        if now < self._probe_at:
            return False
        self._enter(_HALF_OPEN, "recovery timeout elapsed", now)
        return True

    def _enter(
        self, new: CircuitState, reason: str, now: float, failed: Iterable[_Kind] = (), *, event: bool = True
    ) -> None:
        """Move to ``new`` and start a generation, counts cleared; ``failed``: what opened it. Lock held."""
        old = self._state
        self._generation += 1
        self._free_permit = Permit(self._generation, False) if new is _CLOSED or new is _DISABLED else None
        self._state = new
        self._success_noop = new is _DISABLED or (new is _CLOSED and self._count_mode)
        self._failures = 0
        self._kinds = []
        if new is not _HALF_OPEN:  # a half-open circuit was opened by what opened it
            self._opened_by = describe_failures(failed)
        self._successes = 0
        self._probes.clear()
        self._ring_pos = self._ring_len = self._ring_failures = 0
        self._opened_at = now if new in _ALARM_STATES else None
        self._probe_at = now + self._config.recovery_timeout if new is _OPEN else math.inf
        if event:
            self._transitions += 1
            self._pending.append(BreakerTransition(self._name, old, new, now, reason))

    # manual control ---------------------------------------------------------------------------

    def force_open(self) -> None:
        """Reject every call (``retry_in=None``) until :meth:`reset`."""
        self._manual(_FORCED_OPEN, "forced")

    def disable(self) -> None:
        """Admit every call and record nothing until :meth:`reset` (or :meth:`force_open`)."""
        self._manual(_DISABLED, "disabled")

    def reset(self) -> None:
        """Back to CLOSED from any state, all counts cleared; earlier permits become stale."""
        with self._lock:
            self._enter(_CLOSED, "reset", self._clock(), event=self._state is not _CLOSED)
            self._rejected = 0
        self._deliver()

    def _manual(self, new: CircuitState, reason: str) -> None:
        with self._lock:
            if self._state is new:
                return
            self._enter(new, reason, self._clock())
        self._deliver()

    # observation ------------------------------------------------------------------------------

    def add_listener(self, listener: BreakerListener) -> None:
        """Tell ``listener`` of every later transition, once each, outside the lock."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def snapshot(self) -> BreakerSnapshot:
        """State, counts and timings now, as one immutable value."""
        with self._lock:
            state = self._state
            retry_in: float | None = None
            if state is _OPEN:
                now = self._clock()
                if self._half_open_if_due(now):
                    state = _HALF_OPEN
                else:
                    retry_in = self._probe_at - now
            if state is _HALF_OPEN:
                retry_in = 0.0
            failures = self._failures if self._count_mode else self._ring_failures
            calls = self._ring_len
            values: dict[str, Any] = {
                "name": self._name,
                "state": state,
                "failure_count": failures,
                "success_count": self._successes,
                "calls_in_window": calls,
                "failure_rate": failures / calls if calls else None,
                "rejected_count": self._rejected,
                "opened_at": self._opened_at,
                "retry_in": retry_in,
                "transitions": self._transitions,
                "probes_out": len(self._probes),
            }
        self._deliver()
        return BreakerSnapshot(**values)

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self._name!r} {self._state.value}>"

    # event delivery (never under the state lock) ----------------------------------------------

    def _deliver(self) -> None:
        pending = self._pending
        while pending:
            # One deliverer at a time keeps events in order. A thread that finds it busy leaves its
            # event to the deliverer, which looks at the queue again after letting go of the lock.
            if not self._delivering.acquire(blocking=False):
                return
            try:
                while pending:
                    self._emit(pending.popleft())
            finally:
                self._delivering.release()

    def _emit(self, event: BreakerTransition) -> None:
        _logger.log(
            logging.WARNING if event.new_state in _ALARM_STATES else logging.INFO,
            "circuit breaker %r: %s -> %s (%s)",
            event.breaker,
            event.old_state.value,
            event.new_state.value,
            event.reason,
        )
        for listener in self._listeners:
            try:
                listener(event)
            # A listener is user code (metrics, alerting): whatever it raises must not break the
            # breaker or stop the other listeners, so Exception (not BaseException) is caught here
            # and logged with its traceback. No BLE001 noqa: ruff already accepts a blind except
            # that calls logger.exception, and RUF100 flags an unused noqa.
            except Exception:
                _logger.exception("circuit breaker %r: listener %r failed", event.breaker, listener)
