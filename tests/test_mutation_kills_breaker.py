"""Breaker behaviour that mutation testing (``make mutation``) found no test stating.

The early ``check()`` in every state, the lock-free CLOSED hot path, a call meeting another
thread's reset at the lock, concurrent first use of one registry key, permit generations,
the registry's defaults and the messages users read. Interleavings are made deterministic by
a stand-in for the private lock that runs another thread's work just before the next
acquisition, where a real scheduler could put it. No test sleeps.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import pytest

from resilience import (
    BreakerRegistry,
    BreakerTransition,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerControl,
    CircuitOpenError,
    CircuitState,
    ConfigurationError,
    Outcome,
    Permit,
)
from tests.support import FakeTime

OPEN, HALF_OPEN, CLOSED = CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.CLOSED
OK, FAIL, IGN = Outcome.SUCCESS, Outcome.FAILURE, Outcome.IGNORED
ORIGIN = "https://api.example"


class SeamLock:
    """Stands in for a breaker's or a registry's private ``threading.Lock``: counts how often it
    is taken, and can run one action just before the next acquisition (outside the lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.taken = 0
        self._before: Callable[[], None] | None = None

    def before_next_acquire(self, action: Callable[[], None]) -> None:
        self._before = action

    def __enter__(self) -> bool:
        action, self._before = self._before, None
        if action is not None:
            action()
        self._lock.acquire()
        self.taken += 1
        return True

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._lock.release()


def with_seam(owner: CircuitBreaker | BreakerRegistry) -> SeamLock:
    seam = SeamLock()
    object.__setattr__(owner, "_lock", seam)  # the attribute is Final for the type checker only
    return seam


def in_another_thread(action: Callable[[], object]) -> None:
    """Run ``action`` on a thread of its own and wait for it; re-raise what it raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as exc:  # handed back to the test's own thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def make(ft: FakeTime, **config: Any) -> CircuitBreaker:
    return CircuitBreaker(CircuitBreakerConfig(**config), name="api.example", clock=ft.clock)


def call(breaker: CircuitBreaker, outcome: Outcome) -> Permit:
    permit = breaker.acquire()
    breaker.record(permit, outcome)
    return permit


def trip(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.config.failure_threshold):
        call(breaker, FAIL)
    assert breaker.state is OPEN


# -- check(): refuse before a request is built -------------------------------------------------


def test_check_refuses_while_open_and_counts_each_refusal(ft: FakeTime) -> None:
    breaker = make(ft, failure_threshold=1, recovery_timeout=10.0)
    trip(breaker)
    ft.advance(4.0)
    for expected_rejections in (1, 2):
        with pytest.raises(CircuitOpenError) as caught:
            breaker.check("listAccounts")
        assert (caught.value.breaker, caught.value.operation) == ("api.example", "listAccounts")
        assert caught.value.retry_in == pytest.approx(6.0)
        snap = breaker.snapshot()
        assert (snap.state, snap.rejected_count, snap.probes_out) == (OPEN, expected_rejections, 0)


def test_check_lets_the_due_probe_through_and_takes_no_slot(ft: FakeTime) -> None:
    breaker = make(ft, failure_threshold=1, recovery_timeout=10.0)
    trip(breaker)
    ft.advance(10.0)  # exactly the recovery timeout: the probe is due
    breaker.check()
    breaker.check()
    probe = breaker.acquire()
    assert probe.probe
    assert breaker.snapshot().rejected_count == 0


def test_check_in_half_open_refuses_only_when_every_probe_slot_is_out(ft: FakeTime) -> None:
    breaker = make(ft, failure_threshold=1, recovery_timeout=1.0, half_open_max_calls=2, success_threshold=2)
    trip(breaker)
    ft.advance(1.0)
    first = breaker.acquire()
    assert breaker.state is HALF_OPEN
    breaker.check()  # one slot of two still free
    second = breaker.acquire()
    with pytest.raises(CircuitOpenError) as caught:
        breaker.check()
    assert caught.value.retry_in == 0.0
    assert breaker.snapshot().rejected_count == 1
    breaker.record(first, OK)
    breaker.check()  # a slot came back
    breaker.record(second, OK)
    assert breaker.state is CLOSED


def test_check_when_forced_open_refuses_with_no_retry_in_and_passes_when_closed_or_disabled(
    ft: FakeTime,
) -> None:
    breaker = make(ft)
    breaker.check()
    breaker.force_open()
    with pytest.raises(CircuitOpenError) as caught:
        breaker.check("listAccounts")
    assert caught.value.retry_in is None
    breaker.disable()
    breaker.check()
    assert breaker.snapshot().rejected_count == 1


# -- the CLOSED hot path ------------------------------------------------------------------------


def test_closed_hot_path_takes_no_lock_and_reads_no_clock() -> None:
    clock_reads: list[None] = []

    def clock() -> float:
        clock_reads.append(None)
        return 0.0

    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=3), clock=clock)
    seam = with_seam(breaker)

    def lock_free(*outcomes: Outcome) -> bool:
        taken, reads = seam.taken, len(clock_reads)
        for outcome in outcomes:
            call(breaker, outcome)
        return (seam.taken, len(clock_reads)) == (taken, reads)

    assert lock_free(OK, IGN, OK, OK)  # a new breaker
    call(breaker, FAIL)  # a failure counts (under the lock) ...
    call(breaker, OK)  # ... and so does the success that ends the run
    assert lock_free(OK, OK, IGN)
    trip(breaker)
    breaker.reset()
    assert lock_free(OK, OK)  # closed again by reset()
    breaker.disable()
    assert lock_free(OK, IGN, OK)


def test_closed_by_probe_success_the_hot_path_is_lock_free_again(ft: FakeTime) -> None:
    breaker = make(ft, failure_threshold=1, recovery_timeout=1.0, success_threshold=1)
    trip(breaker)
    ft.advance(1.0)
    call(breaker, OK)
    assert breaker.state is CLOSED
    seam = with_seam(breaker)
    for _ in range(3):
        call(breaker, OK)
    assert seam.taken == 0


# -- interleavings at the lock ------------------------------------------------------------------


def test_a_call_that_meets_another_threads_reset_at_the_lock_is_admitted(ft: FakeTime) -> None:
    breaker = make(ft, failure_threshold=1, recovery_timeout=60.0)
    trip(breaker)
    seam = with_seam(breaker)
    # This call reads OPEN without the lock; another thread resets before it gets the lock.
    seam.before_next_acquire(lambda: in_another_thread(breaker.reset))
    permit = breaker.acquire("listAccounts")
    assert not permit.probe
    snap = breaker.snapshot()
    assert (snap.state, snap.rejected_count) == (CLOSED, 0)


def test_concurrent_first_use_of_one_key_makes_one_breaker() -> None:
    registry = BreakerRegistry()
    seam = with_seam(registry)
    theirs: list[CircuitBreaker] = []
    # This thread misses the key; another thread creates its breaker before this one gets the lock.
    seam.before_next_acquire(lambda: in_another_thread(lambda: theirs.append(registry.get("k"))))
    mine = registry.get("k")
    assert theirs == [mine]
    assert dict(registry.breakers()) == {"k": mine}


def test_a_breaker_already_made_is_handed_out_without_the_registry_lock() -> None:
    registry = BreakerRegistry()
    first = registry.get("k")
    seam = with_seam(registry)
    assert registry.get("k") is first
    assert seam.taken == 0


def test_registry_breakers_keep_the_registry_clock(ft: FakeTime) -> None:
    registry = BreakerRegistry(CircuitBreakerConfig(failure_threshold=1, recovery_timeout=10.0), clock=ft.clock)
    breaker = registry.get("k")
    trip(breaker)
    ft.advance(10.0)
    snap = breaker.snapshot()  # reports the due probe itself, as the next acquire() would see it
    assert (snap.state, snap.retry_in) == (HALF_OPEN, 0.0)


def test_per_origin_control_is_the_home_origins_breaker() -> None:
    registry = BreakerRegistry()
    control = CircuitBreakerControl(registry, ORIGIN)
    assert control.breaker is registry.get(ORIGIN)
    control.force_open()
    assert registry.get(ORIGIN).state is CircuitState.FORCED_OPEN
    assert list(registry.breakers()) == [ORIGIN]


# -- generations -------------------------------------------------------------------------------


def test_a_permit_names_its_generation_and_each_state_change_starts_the_next(ft: FakeTime) -> None:
    breaker = make(ft, failure_threshold=1, recovery_timeout=1.0, success_threshold=1)
    assert breaker.acquire().generation == 0
    trip(breaker)  # generation 1: OPEN
    ft.advance(1.0)
    probe = breaker.acquire()  # generation 2: HALF_OPEN
    assert (probe.generation, probe.probe) == (2, True)
    breaker.record(probe, OK)  # generation 3: CLOSED
    assert breaker.acquire().generation == 3
    breaker.reset()  # a reset starts one too, even from CLOSED
    assert breaker.acquire().generation == 4


# -- defaults ----------------------------------------------------------------------------------


def test_breaker_and_registry_defaults() -> None:
    breaker = CircuitBreaker()
    assert (breaker.name, breaker.config) == ("default", CircuitBreakerConfig())
    assert breaker.acquire() is breaker.acquire()
    registry = BreakerRegistry()
    assert registry.config == CircuitBreakerConfig()
    assert registry.key_for(ORIGIN, "listAccounts") == ORIGIN
    assert registry.forced_open is False
    registry.force_open_all()
    assert registry.forced_open is True
    registry.reset_all()
    assert registry.forced_open is False


def test_per_operation_snapshot_totals_failures_and_rejections() -> None:
    registry = BreakerRegistry(CircuitBreakerConfig(scope="operation", failure_threshold=3))
    control = CircuitBreakerControl(registry, ORIGIN)
    call(registry.get(registry.key_for(ORIGIN, "a")), FAIL)
    b = registry.get(registry.key_for(ORIGIN, "b"))
    call(b, FAIL)
    call(b, FAIL)
    c = registry.get(registry.key_for(ORIGIN, "c"))
    c.force_open()
    for _ in range(2):
        with pytest.raises(CircuitOpenError):
            c.acquire()
    snap = control.snapshot()
    assert (snap["state"], snap["failure_count"], snap["rejected_count"]) == ("forced_open", 3, 2)
    per_operation = snap["breakers"]
    assert isinstance(per_operation, dict)
    assert sorted(per_operation) == [f"{ORIGIN} {op}" for op in "abc"]


# -- what users read ---------------------------------------------------------------------------


def test_a_failing_listener_is_logged_with_the_breaker_and_the_listener(
    ft: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: BreakerTransition) -> None:
        raise RuntimeError("metrics backend down")

    breaker = make(ft, failure_threshold=1)
    breaker.add_listener(broken)
    with caplog.at_level(logging.ERROR, logger="resilience.breaker"):
        trip(breaker)
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == f"circuit breaker 'api.example': listener {broken!r} failed"


def test_minimum_calls_must_be_a_real_int_and_the_error_says_why() -> None:
    with pytest.raises(ConfigurationError, match="minimum_calls"):
        CircuitBreakerConfig(minimum_calls=True)
    message = r"minimum_calls \(21\) must be <= window_size \(20\) in rate mode, or the breaker could never open$"
    with pytest.raises(ConfigurationError, match=message):
        CircuitBreakerConfig(mode="rate", minimum_calls=21)
