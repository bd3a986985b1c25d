"""The circuit breaker against a plain reference model, driven by hypothesis' stateful testing."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from resilience import (
    BreakerTransition,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitOpenError,
    CircuitState,
    Outcome,
    Permit,
)

CLOSED = CircuitState.CLOSED
OPEN = CircuitState.OPEN
HALF_OPEN = CircuitState.HALF_OPEN
FORCED_OPEN = CircuitState.FORCED_OPEN
DISABLED = CircuitState.DISABLED

# Recovery timeouts and clock steps are dyadic, so clock sums are exact in floating point.
CONFIGS = [
    CircuitBreakerConfig(failure_threshold=3, recovery_timeout=8.0, success_threshold=2, half_open_max_calls=1),
    CircuitBreakerConfig(failure_threshold=1, recovery_timeout=2.0, success_threshold=1, half_open_max_calls=2),
    CircuitBreakerConfig(failure_threshold=2, recovery_timeout=4.0, success_threshold=3, half_open_max_calls=3),
    CircuitBreakerConfig(
        mode="rate",
        window_size=5,
        minimum_calls=3,
        failure_rate_threshold=0.5,
        recovery_timeout=4.0,
        success_threshold=2,
        half_open_max_calls=2,
    ),
    CircuitBreakerConfig(
        mode="rate",
        window_size=4,
        minimum_calls=4,
        failure_rate_threshold=0.75,
        recovery_timeout=8.0,
        success_threshold=1,
        half_open_max_calls=1,
    ),
]


@attrs.frozen
class Token:
    """The model's permit: the epoch it was issued in and, for a probe, its own number."""

    epoch: int
    probe: bool
    number: int


@attrs.frozen
class Rejected:
    retry_in: float | None


class Model:
    """What the breaker should do, written as plainly as possible."""

    def __init__(self, config: CircuitBreakerConfig) -> None:
        self.config = config
        self.state = CLOSED
        self.epoch = 0
        self.consecutive_failures = 0
        self.window: list[bool] = []  # True for a failure, newest last
        self.successes = 0
        self.probes: set[int] = set()
        self.opened_at: float | None = None
        self.rejected = 0
        self.history: list[tuple[CircuitState, CircuitState]] = []
        self.issued = 0

    def go(self, new: CircuitState, now: float, *, event: bool = True) -> None:
        if event:
            self.history.append((self.state, new))
        self.state = new
        self.epoch += 1
        self.consecutive_failures = 0
        self.window = []
        self.successes = 0
        self.probes = set()
        self.opened_at = now if new in (OPEN, FORCED_OPEN) else None

    def observe(self, now: float) -> None:
        """OPEN turns HALF_OPEN as soon as anyone looks after the recovery timeout."""
        if self.state is OPEN:
            assert self.opened_at is not None
            if now >= self.opened_at + self.config.recovery_timeout:
                self.go(HALF_OPEN, now)

    def retry_in(self, now: float) -> float | None:
        if self.state is OPEN:
            assert self.opened_at is not None
            return self.opened_at + self.config.recovery_timeout - now
        return 0.0 if self.state is HALF_OPEN else None

    def acquire(self, now: float) -> Token | Rejected:
        self.observe(now)
        self.issued += 1
        if self.state in (CLOSED, DISABLED):
            return Token(self.epoch, False, self.issued)
        if self.state is HALF_OPEN and len(self.probes) < self.config.half_open_max_calls:
            self.probes.add(self.issued)
            return Token(self.epoch, True, self.issued)
        self.rejected += 1
        return Rejected(self.retry_in(now))

    def record(self, token: Token, outcome: Outcome, now: float) -> None:
        if token.epoch != self.epoch or (outcome is Outcome.IGNORED and self.state is not HALF_OPEN):
            return
        failed = outcome is Outcome.FAILURE
        if self.state is CLOSED and self.config.mode == "count":
            self.consecutive_failures = self.consecutive_failures + 1 if failed else 0
            if self.consecutive_failures >= self.config.failure_threshold:
                self.go(OPEN, now)
        elif self.state is CLOSED:
            self.window = [*self.window, failed][-self.config.window_size :]
            calls = len(self.window)
            if calls >= self.config.minimum_calls and sum(self.window) / calls >= self.config.failure_rate_threshold:
                self.go(OPEN, now)
        elif self.state is HALF_OPEN and token.number in self.probes:
            self.probes.remove(token.number)
            if failed:
                self.go(OPEN, now)
            elif outcome is Outcome.SUCCESS:
                self.successes += 1
                if self.successes >= self.config.success_threshold:
                    self.go(CLOSED, now)


class BreakerMachine(RuleBasedStateMachine):
    permits = Bundle("permits")

    @initialize(config=st.sampled_from(CONFIGS))
    def start(self, config: CircuitBreakerConfig) -> None:
        self.now = 100.0
        self.step = 0
        self.model = Model(config)
        self.events: list[BreakerTransition] = []
        self.breaker = CircuitBreaker(config, name="m", clock=lambda: self.now, listeners=[self.events.append])

    def admit(self) -> tuple[Permit, Token] | None:
        """Acquire from both; they must agree on admission, retry_in and probe-ness."""
        expected = self.model.acquire(self.now)
        if isinstance(expected, Rejected):
            with pytest.raises(CircuitOpenError) as info:
                self.breaker.acquire("op")
            assert (info.value.breaker, info.value.operation) == ("m", "op")
            assert info.value.retry_in == expected.retry_in
            return None
        permit = self.breaker.acquire("op")
        assert permit.probe is expected.probe
        return permit, expected

    def settle(self, pair: tuple[Permit, Token], outcome: Outcome) -> None:
        self.model.record(pair[1], outcome, self.now)
        self.breaker.record(pair[0], outcome)

    @rule(target=permits)
    def acquire(self) -> Any:
        """Admit a call and keep it outstanding: it may answer late, after transitions."""
        pair = self.admit()
        return multiple() if pair is None else pair

    @rule(pair=consumes(permits), outcome=st.sampled_from(Outcome))
    def record(self, pair: tuple[Permit, Token], outcome: Outcome) -> None:
        self.settle(pair, outcome)

    @rule(outcome=st.sampled_from([Outcome.FAILURE, Outcome.FAILURE, Outcome.SUCCESS, Outcome.IGNORED]))
    def call(self, outcome: Outcome) -> None:
        """A call that answers at once (the common case), weighted towards failures."""
        pair = self.admit()
        if pair is not None:
            self.settle(pair, outcome)

    @rule(fraction=st.sampled_from([0.0, 0.125, 0.5, 1.0, 1.0, 1.5, 4.0]))
    def advance(self, fraction: float) -> None:
        self.now += fraction * self.model.config.recovery_timeout

    # Manual commands are rarer than calls, or the machine would spend its steps forced or disabled.
    @precondition(lambda self: self.step % 4 == 3)
    @rule(action=st.sampled_from(["force_open", "disable", "reset"]))
    def manual(self, action: str) -> None:
        model = self.model
        if action == "reset":
            model.go(CLOSED, self.now, event=model.state is not CLOSED)
            model.rejected = 0
            self.breaker.reset()
        else:
            new = FORCED_OPEN if action == "force_open" else DISABLED
            if model.state is not new:
                model.go(new, self.now)
            getattr(self.breaker, action)()

    @invariant()
    def matches_model(self) -> None:
        self.step += 1
        model = self.model
        model.observe(self.now)
        assert self.breaker.state is model.state
        snap = self.breaker.snapshot()
        rate_mode = model.config.mode == "rate"
        failures = sum(model.window) if rate_mode else model.consecutive_failures
        calls = len(model.window)
        assert snap.state is model.state
        assert snap.failure_count == failures
        assert snap.calls_in_window == calls
        assert snap.failure_rate == (failures / calls if calls else None)
        assert snap.success_count == model.successes
        assert snap.probes_out == len(model.probes)
        assert snap.rejected_count == model.rejected
        assert snap.opened_at == model.opened_at
        assert snap.retry_in == model.retry_in(self.now)
        assert snap.transitions == len(model.history)
        assert [(e.old_state, e.new_state) for e in self.events] == model.history

    @invariant()
    def limits_hold(self) -> None:
        snap = self.breaker.snapshot()
        config = self.model.config
        assert snap.probes_out <= config.half_open_max_calls
        if snap.state is CLOSED and config.mode == "count":
            assert snap.failure_count < config.failure_threshold
        if snap.state is CLOSED and config.mode == "rate" and snap.calls_in_window >= config.minimum_calls:
            assert snap.failure_rate is not None
            assert snap.failure_rate < config.failure_rate_threshold
        if snap.state is not HALF_OPEN:
            assert snap.probes_out == 0


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    derandomize=True,
    database=None,
    deadline=None,
)
