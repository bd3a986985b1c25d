"""Fleet mode's sync: one loop per client that flushes outcome counts to Redis and reads the fleet back.

Every ``sync_interval`` (or at once when a probe finishes) the sync gathers each participant's
calls (the fleet breakers' ``report``/``reserve``, the budget's ``budget``), runs them in one round
trip, and hands each participant its replies. The sync client runs it on a daemon thread with
redis-py's blocking client; the async client as a task on its event loop with ``redis.asyncio``:
no call ever waits for Redis, and no lock is held across a round trip. Redis sits behind its own
:class:`CircuitBreaker`: a failed exchange (``settings.timeout``, 50 ms by default) makes every
participant forget the fleet (the local breaker and budget decide), logged once and counted;
the next exchange that succeeds resynchronises them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Final, Literal, Protocol

import attrs

from ._breaker import CircuitBreaker
from ._breaker_config import BreakerListener, CircuitBreakerConfig, Outcome
from ._errors import CircuitOpenError
from ._fleet_breaker import FleetCircuitBreaker, breaker_keys, script_config
from ._fleet_budget import FleetRetryBudget
from ._fleet_store import RedisSharedState, ScriptCall, SharedState, SharedStateError
from ._retry import RetryBudget

__all__ = ["FleetStats", "FleetSync"]

logger: Final = logging.getLogger("resilience.fleet")

Source = Literal["redis", "local"]


@attrs.frozen(slots=True)
class FleetStats:
    """Fleet mode's own figures: where decisions came from (``state_source``: ``redis`` or
    ``local``), Redis round trips, syncs, fallbacks to local state and resyncs, and how long the last
    and the slowest fallback took (from the start of the failed exchange to the switch)."""

    state_source: Source
    round_trips: int
    syncs: int
    fallbacks: int
    resyncs: int
    last_fallback_seconds: float | None
    max_fallback_seconds: float | None

    def as_dict(self) -> dict[str, object]:
        """The figures as a plain dict (the ``fleet`` section of a metrics snapshot)."""
        return attrs.asdict(self)


class _Participant(Protocol):
    def plan(self, *args: Any) -> list[ScriptCall]: ...
    def apply(self, replies: list[Any]) -> None: ...
    def unknown(self) -> None: ...


def shared_state_from(value: str | SharedState) -> SharedState:
    """A ``redis://`` URL as a :class:`RedisSharedState`; a :class:`SharedState` as it is."""
    if isinstance(value, str):
        return RedisSharedState(value)
    return value


class FleetSync:
    """The participants of one client and the loop that keeps them in step with the fleet."""

    def __init__(self, store: SharedState, *, home_origin: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.store: Final = store
        self.settings: Final = store.settings
        self.worker: Final = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._home = home_origin
        self._clock = clock
        self._lock = threading.Lock()  # the participant list and the figures; never held across I/O
        self._breakers: list[tuple[FleetCircuitBreaker, str]] = []
        self._budget: FleetRetryBudget | None = None
        # Redis's own breaker: one failure opens it; it lets one exchange try again after a second.
        self._redis = CircuitBreaker(
            CircuitBreakerConfig(failure_threshold=1, recovery_timeout=1.0, success_threshold=1), name="shared-state"
        )
        self._source: Source = "local"
        self._synced_once = False
        self._syncs = self._fallbacks = self._resyncs = 0
        self._last_fallback: float | None = None
        self._max_fallback: float | None = None
        self._wake_sync = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None
        self._awake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._mode: Literal["sync", "async"] = "sync"
        self._redis_permit: Any = None
        self.now_ms: int | None = None  # tests: the time the scripts take instead of Redis's TIME

    # -- participants ----------------------------------------------------------------------------

    def breaker_factory(
        self, config: CircuitBreakerConfig, clock: Callable[[], float], listeners: Iterable[BreakerListener]
    ) -> Callable[[str], CircuitBreaker]:
        """What a :class:`BreakerRegistry` builds its breakers with: fleet breakers, each registered here."""
        cfg = script_config(config, self.settings)
        keys_ns = f"{self.settings.namespace}"

        def make(name: str) -> CircuitBreaker:
            breaker = FleetCircuitBreaker(
                config,
                name=name,
                clock=clock,
                listeners=listeners,
                keys=breaker_keys(keys_ns, name),
                wake=self.wake,
                ensure=self.ensure,
            )
            with self._lock:
                self._breakers.append((breaker, cfg))
            self.wake()
            return breaker

        return make

    def budget(self, local: RetryBudget) -> FleetRetryBudget:
        """The fleet budget standing in for ``local`` (its settings), keyed by the client's origin."""
        key = f"{self.settings.namespace}:budget:{{{self._home}}}"
        self._budget = FleetRetryBudget(local, key=key, settings=self.settings, clock=self._clock, ensure=self.ensure)
        return self._budget

    # -- figures ---------------------------------------------------------------------------------

    def stats(self) -> FleetStats:
        """Fleet mode's figures now (the ``fleet`` section of ``get_metrics_snapshot()``)."""
        with self._lock:
            return FleetStats(
                self._source,
                self.store.round_trips,
                self._syncs,
                self._fallbacks,
                self._resyncs,
                self._last_fallback,
                self._max_fallback,
            )

    # -- one sync, I/O-free around the exchange ----------------------------------------------------

    def _plan(self) -> tuple[list[ScriptCall], list[tuple[_Participant, int]]] | None:
        with self._lock:
            breakers = list(self._breakers)
        calls: list[ScriptCall] = []
        parts: list[tuple[_Participant, int]] = []
        for breaker, cfg in breakers:
            mine = breaker.plan(cfg, self.worker, self.now_ms)
            calls.extend(mine)
            parts.append((breaker, len(mine)))
        if self._budget is not None:
            mine = self._budget.plan(self.now_ms)
            calls.extend(mine)
            parts.append((self._budget, len(mine)))
        if not calls:
            return None
        try:
            self._redis_permit = self._redis.acquire()
        except CircuitOpenError:
            return None  # Redis's breaker is open: stay local until it lets one exchange try
        return calls, parts

    def _applied(self, parts: list[tuple[_Participant, int]], replies: list[Any]) -> None:
        self._redis.record(self._redis_permit, Outcome.SUCCESS)
        at = 0
        for part, n in parts:
            part.apply(replies[at : at + n])
            at += n
        with self._lock:
            self._syncs += 1
            back = self._source == "local" and self._synced_once
            self._source = "redis"
            self._synced_once = True
            if back:
                self._resyncs += 1
        if back:
            logger.warning("fleet: shared state reachable again, resynchronised")

    def _failed(self, exc: BaseException, started: float) -> None:
        self._redis.record(self._redis_permit, Outcome.FAILURE, type(exc).__name__)
        self._go_local(time.perf_counter() - started, exc)

    def _go_local(self, took: float, exc: BaseException) -> None:
        with self._lock:
            participants: list[_Participant] = [b for b, _ in self._breakers]
            if self._budget is not None:
                participants.append(self._budget)
            first = self._source == "redis" or (not self._synced_once and self._fallbacks == 0)
            if first:
                self._fallbacks += 1
                self._last_fallback = took
                self._max_fallback = max(took, self._max_fallback or 0.0)
            self._source = "local"
        for part in participants:
            part.unknown()
        if first:  # logged once per outage, not once per failed attempt
            logger.warning("fleet: shared state out of reach (%s), local breaker and budget decide", exc)

    # -- the sync client's driver: a daemon thread -------------------------------------------------

    def sync_once(self) -> None:
        """One sync, blocking (the thread's step; tests call it directly)."""
        plan = self._plan()
        if plan is None:
            return
        calls, parts = plan
        started = time.perf_counter()
        try:
            replies = self.store.run(calls)
        except SharedStateError as exc:
            self._failed(exc, started)
            return
        self._applied(parts, replies)

    def attach(self, mode: Literal["sync", "async"]) -> None:
        """The client that drives this sync: ``sync`` starts the thread now, ``async`` the task at
        the first call (on the loop that makes it)."""
        self._mode = mode
        if mode == "sync":
            self.sync_guarded()  # a new client knows the fleet's state before its first call
            self.start_thread()

    def ensure(self) -> None:
        """The async client's sync task is running on the current loop (cheap when it is)."""
        if self._mode != "async" or self._stop.is_set():
            return
        task = self._task
        if task is None or task.done():
            with contextlib.suppress(RuntimeError):  # no running loop: the next call on one starts it
                self.start_task()

    def start_thread(self) -> None:
        """Start the sync thread (the sync client; idempotent)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._loop_thread, name="resilience-fleet-sync", daemon=True)
        self._thread.start()

    def _loop_thread(self) -> None:
        interval = self.settings.sync_interval
        while not self._stop.is_set():  # attach() made the first sync
            self._wake_sync.wait(interval)
            self._wake_sync.clear()
            if not self._stop.is_set():
                self.sync_guarded()

    def sync_guarded(self) -> None:
        """:meth:`sync_once`, any surprise logged: the loop must outlive a bug in a custom store."""
        try:
            self.sync_once()
        except Exception as exc:
            logger.exception("fleet: sync failed")
            self._go_local(0.0, exc)

    # -- the async client's driver: a task on its loop ------------------------------------------

    def start_task(self) -> None:
        """Start the sync task on the running loop (the async client; idempotent per loop)."""
        loop = asyncio.get_running_loop()
        if self._task is not None and self._loop is loop and not self._task.done():
            return
        self._loop = loop
        self._awake = asyncio.Event()
        self._task = loop.create_task(self._loop_task(), name="resilience-fleet-sync")

    async def sync_once_async(self) -> None:
        """One sync on the event loop (the task's step; tests call it directly)."""
        plan = self._plan()
        if plan is None:
            return
        calls, parts = plan
        started = time.perf_counter()
        try:
            replies = await self.store.arun(calls)
        except SharedStateError as exc:
            self._failed(exc, started)
            return
        self._applied(parts, replies)

    async def _loop_task(self) -> None:
        interval = self.settings.sync_interval
        awake = self._awake
        assert awake is not None
        while not self._stop.is_set():
            try:
                await self.sync_once_async()
            except Exception as exc:
                logger.exception("fleet: sync failed")
                self._go_local(0.0, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(awake.wait(), interval)
            awake.clear()

    # -- waking and stopping ---------------------------------------------------------------------

    def wake(self) -> None:
        """Sync now, not at the end of the interval (a probe finished, a breaker was made)."""
        if self._mode == "sync":
            self._wake_sync.set()
            return
        loop, awake = self._loop, self._awake
        if loop is None or awake is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            awake.set()
        else:
            loop.call_soon_threadsafe(awake.set)

    def close(self) -> None:
        """Stop the thread (the sync client) and close the store's connections."""
        self._stop.set()
        self._wake_sync.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)
        self.store.close()

    async def aclose(self) -> None:
        """Stop the task (the async client) and close the store's connections."""
        self._stop.set()
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.store.aclose()
