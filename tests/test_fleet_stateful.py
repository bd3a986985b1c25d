"""Hypothesis stateful test: the fleet breakers of three workers, on a real redis-server with the
time passed into the scripts, against a model of the fleet's state machine (the scripts' rules
in plain Python) and of each worker's view, counts and reservations."""

from __future__ import annotations

import uuid
from typing import ClassVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from resilience import (
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitOpenError,
    CircuitState,
    FleetCircuitBreaker,
    FleetSettings,
    FleetSync,
    Outcome,
    RedisSharedState,
)
from tests.redis_server import RedisServer, redis_server
from tests.support import FakeTime

__all__ = ["redis_server"]

CONFIG = CircuitBreakerConfig(failure_threshold=2, recovery_timeout=1.0, success_threshold=2, half_open_max_calls=1)
WINDOW_MS, TTL_MS, QUORUM = 4000, 3000, 1
WORKERS = 3
PROBES: list[str] = []


class FleetModel:
    """The Lua scripts' rules: one fleet breaker's hash, failing workers and reservations."""

    def __init__(self) -> None:
        self.state, self.gen, self.probe_at = "closed", 0, 0
        self.win_start: int | None = None
        self.fails = self.calls = self.ok = 0
        self.failing: set[str] = set()
        self.probes: dict[str, int] = {}  # token -> expiry

    def _enter(self, new: str, now: int) -> None:
        self.gen += 1
        self.state, self.fails, self.calls, self.ok, self.win_start = new, 0, 0, 0, now
        self.probe_at = now + 1000 if new == "open" else 0
        self.failing.clear()
        self.probes.clear()

    def _prelude(self, now: int) -> None:
        if self.win_start is None:
            self.win_start = now
        if self.state == "open" and now >= self.probe_at:
            self._enter("half_open", now)

    def report(self, worker: str, seen: int, f: int, s: int, done: list[tuple[str, str]], now: int) -> None:
        self._prelude(now)
        seen = self.gen if seen == -1 else seen
        for token, outcome in done:
            if self.state == "half_open" and self.probes.pop(token, None) is not None:
                if outcome == "failure":
                    self._enter("open", now)
                elif outcome == "success":
                    self.ok += 1
                    if self.ok >= CONFIG.success_threshold:
                        self._enter("closed", now)
        assert self.win_start is not None
        if self.state == "closed" and now - self.win_start >= WINDOW_MS:
            self.fails = self.calls = 0
            self.win_start = now
            self.failing.clear()
        if self.state == "closed" and seen == self.gen and f + s > 0:
            self.fails += f
            self.calls += f + s
            if f:
                self.failing.add(worker)
            enough = self.fails >= CONFIG.failure_threshold and self.fails >= 0.5 * self.calls
            if enough and len(self.failing) >= QUORUM:
                self._enter("open", now)

    def reserve(self, want: int, now: int) -> int:
        self._prelude(now)
        if self.state != "half_open":
            return 0
        self.probes = {t: e for t, e in self.probes.items() if e > now}
        return max(0, min(want, CONFIG.half_open_max_calls - len(self.probes)))


class WorkerModel:
    def __init__(self, ft: FakeTime) -> None:
        self.local = CircuitBreaker(CONFIG, clock=ft.clock)  # the worker's own breaker, as the real one's base
        self.view: tuple[str, int] | None = None
        self.pf = self.ps = 0
        self.held: list[str] = []
        self.done: list[tuple[str, str]] = []
        self.demand = False


class FleetMachine(RuleBasedStateMachine):
    url: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()
        self.ft = FakeTime()
        self.now = 1_000_000
        namespace = f"t{uuid.uuid4().hex}"
        fs = FleetSettings(
            namespace=namespace, window=WINDOW_MS / 1000, probe_ttl=TTL_MS / 1000, quorum=QUORUM, timeout=5.0
        )
        self.syncs = [FleetSync(RedisSharedState(self.url, fs), home_origin="http://api") for _ in range(WORKERS)]
        self.real: list[FleetCircuitBreaker] = []
        for sync in self.syncs:
            breaker = sync.breaker_factory(CONFIG, self.ft.clock, [])("http://api")
            assert isinstance(breaker, FleetCircuitBreaker)
            self.real.append(breaker)
        self.fleet = FleetModel()
        self.workers = [WorkerModel(self.ft) for _ in range(WORKERS)]

    def teardown(self) -> None:
        for sync in self.syncs:
            sync.close()

    @rule(w=st.integers(0, WORKERS - 1), failed=st.booleans())
    def call(self, w: int, failed: bool) -> None:
        m, real = self.workers[w], self.real[w]
        outcome = Outcome.FAILURE if failed else Outcome.SUCCESS
        token = real._held[-1].token if real._held else None
        try:
            permit = real.acquire()
        except CircuitOpenError:
            permit = None
        if m.view is None or m.view[0] == "closed":
            try:
                local_permit = m.local.acquire()
            except CircuitOpenError:
                assert permit is None
                return
            assert permit is not None
            m.local.record(local_permit, outcome)
            real.record(permit, outcome)
            if failed:
                m.pf += 1
            else:
                m.ps += 1
            return
        if not m.held:
            assert permit is None
            m.demand = True
            return
        assert permit is not None
        assert permit.probe
        PROBES.append(outcome.value)
        assert token == m.held.pop()
        m.done.append((token, outcome.value))
        real.record(permit, outcome)

    @rule(w=st.integers(0, WORKERS - 1))
    def sync(self, w: int) -> None:
        m, real = self.workers[w], self.real[w]
        done = m.done + [(t, "release") for t in m.held]
        seen = m.view[1] if m.view is not None else -1
        self.fleet.report(str(w), seen, m.pf, m.ps, done, self.now)  # the worker id in the model only
        granted = 0
        if m.demand and m.view is not None and m.view[0] != "closed":
            granted = self.fleet.reserve(1, self.now)
        m.pf = m.ps = 0
        m.done, m.held, m.demand = [], [], False
        before = m.view
        self.syncs[w].now_ms = self.now
        self.syncs[w].sync_once()
        assert len(real._held) == granted
        for probe in real._held:
            m.held.append(probe.token)
            self.fleet.probes[probe.token] = self.now + TTL_MS
        m.view = (self.fleet.state, self.fleet.gen)
        if before is not None and before[0] != "closed" and m.view[0] == "closed":
            m.local.reset()

    @rule(w=st.integers(0, WORKERS - 1), failed=st.booleans())
    def call_sync_call(self, w: int, failed: bool) -> None:
        """A refused call asks the next sync for a probe, which the call after it takes."""
        self.call(w, failed)
        self.sync(w)
        self.call(w, failed)

    @rule(ms=st.integers(0, 1500))
    def advance(self, ms: int) -> None:
        self.now += ms
        self.ft.advance(ms / 1000)

    @invariant()
    def views_match_the_model(self) -> None:
        for m, real in zip(self.workers, self.real, strict=True):
            view = real.fleet_view
            assert (None if view is None else (view.state.value, view.generation)) == m.view
            assert real.pending() == (m.pf, m.ps)
            assert [p.token for p in real._held] == m.held

    @invariant()
    def at_most_half_open_max_calls_probes_across_the_fleet(self) -> None:
        assert sum(len(m.held) for m in self.workers) <= CONFIG.half_open_max_calls
        assert len(self.fleet.probes) <= CONFIG.half_open_max_calls

    @invariant()
    def an_open_view_admits_nothing(self) -> None:
        for m, real in zip(self.workers, self.real, strict=True):
            if m.view is not None and m.view[0] == "open":
                assert real.state is CircuitState.OPEN


def test_fleet_breaker_matches_its_model(redis_server: RedisServer) -> None:
    FleetMachine.url = redis_server.url
    run_state_machine_as_test(
        FleetMachine,
        settings=settings(max_examples=40, stateful_step_count=40, deadline=None, database=None, derandomize=True),
    )
    assert "success" in PROBES
    assert "failure" in PROBES  # the runs reached half-open, and probes both closed and reopened it
