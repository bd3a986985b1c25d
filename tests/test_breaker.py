"""Circuit breaker: configuration, transitions, late results, events, rate mode, registry, concurrency.

No test sleeps: time is a hand-advanced fake clock.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import math
import random
import sys
import threading
import time
from typing import Any

import attrs
import pytest

from resilience import (
    BreakerRegistry,
    BreakerSnapshot,
    BreakerTransition,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitOpenError,
    CircuitState,
    ConfigurationError,
    Outcome,
    Permit,
    classify_status,
)
from tests.support import FakeTime

CLOSED = CircuitState.CLOSED
OPEN = CircuitState.OPEN
HALF_OPEN = CircuitState.HALF_OPEN
FORCED_OPEN = CircuitState.FORCED_OPEN
DISABLED = CircuitState.DISABLED
OK, FAIL, IGN = Outcome.SUCCESS, Outcome.FAILURE, Outcome.IGNORED


@pytest.fixture
def events() -> list[BreakerTransition]:
    return []


def make(ft: FakeTime, events: list[BreakerTransition] | None = None, **config: Any) -> CircuitBreaker:
    return CircuitBreaker(
        CircuitBreakerConfig(**config),
        name="api.example",
        clock=ft.clock,
        listeners=[events.append] if events is not None else [],
    )


def call(breaker: CircuitBreaker, outcome: Outcome) -> Permit:
    permit = breaker.acquire()
    breaker.record(permit, outcome)
    return permit


def trip(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.config.failure_threshold):
        call(breaker, FAIL)
    assert breaker.state is OPEN


def states(events: list[BreakerTransition]) -> list[tuple[CircuitState, CircuitState]]:
    return [(e.old_state, e.new_state) for e in events]


# -- configuration ------------------------------------------------------------------------------


def test_config_defaults_are_kept_from_the_old_client() -> None:
    config = CircuitBreakerConfig()
    assert attrs.asdict(config) == {
        "failure_threshold": 5,
        "recovery_timeout": 60.0,
        "success_threshold": 3,
        "half_open_max_calls": 1,
        "mode": "count",
        "window_size": 20,
        "minimum_calls": 10,
        "failure_rate_threshold": 0.5,
        "scope": "origin",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("failure_threshold", 0),
        ("failure_threshold", -1),
        ("failure_threshold", 1.5),
        ("failure_threshold", True),
        ("failure_threshold", "5"),
        ("recovery_timeout", 0),
        ("recovery_timeout", -1.0),
        ("recovery_timeout", math.inf),
        ("recovery_timeout", math.nan),
        ("recovery_timeout", "60"),
        ("recovery_timeout", True),
        ("success_threshold", 0),
        ("half_open_max_calls", 0),
        ("mode", "percent"),
        ("window_size", 0),
        ("minimum_calls", 0),
        ("failure_rate_threshold", 0),
        ("failure_rate_threshold", -0.1),
        ("failure_rate_threshold", 1.01),
        ("failure_rate_threshold", math.nan),
        ("scope", "global"),
    ],
)
def test_config_rejects_bad_values(field: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=field) as info:
        CircuitBreakerConfig(**{field: value})
    assert isinstance(info.value, ValueError)
    assert repr(value) in str(info.value)


def test_rate_mode_rejects_minimum_calls_above_window() -> None:
    with pytest.raises(ConfigurationError, match=r"minimum_calls \(10\) must be <= window_size \(5\)"):
        CircuitBreakerConfig(mode="rate", window_size=5)
    # Count mode does not use the window: the same numbers are fine there.
    assert CircuitBreakerConfig(window_size=5).minimum_calls == 10


@pytest.mark.parametrize(
    "values",
    [
        {"failure_threshold": 1, "success_threshold": 1, "half_open_max_calls": 1},
        {"recovery_timeout": 0.001},
        {"recovery_timeout": 5},
        {"mode": "rate", "window_size": 1, "minimum_calls": 1, "failure_rate_threshold": 1.0},
        {"failure_rate_threshold": 1e-9},
        {"scope": "operation"},
    ],
)
def test_config_accepts_boundary_values(values: dict[str, Any]) -> None:
    config = CircuitBreakerConfig(**values)
    for key, value in values.items():
        assert getattr(config, key) == value


def test_config_is_frozen_and_evolvable() -> None:
    config = CircuitBreakerConfig()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.failure_threshold = 2  # type: ignore[misc]
    assert attrs.evolve(config, failure_threshold=2).failure_threshold == 2
    with pytest.raises(ConfigurationError):
        attrs.evolve(config, failure_threshold=0)


# -- classification -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (100, IGN),
        (200, OK),
        (204, OK),
        (301, OK),
        (304, OK),
        (400, IGN),
        (401, IGN),
        (404, IGN),
        (408, IGN),  # a client-side timeout status: "other 4xx" (see open question in the report)
        (422, IGN),
        (429, FAIL),
        (500, FAIL),
        (502, FAIL),
        (503, FAIL),
        (599, FAIL),
    ],
)
def test_classify_status(status: int, outcome: Outcome) -> None:
    assert classify_status(status) is outcome


# -- count mode -------------------------------------------------------------------------------


def test_opens_after_failure_threshold_consecutive_failures(ft: FakeTime, events: list[Any]) -> None:
    breaker = make(ft, events, failure_threshold=3)
    call(breaker, FAIL)
    call(breaker, FAIL)
    assert breaker.state is CLOSED
    assert breaker.snapshot().failure_count == 2
    call(breaker, FAIL)
    assert breaker.state is OPEN
    assert states(events) == [(CLOSED, OPEN)]
    assert events[0].reason == "failure_threshold reached"
    assert events[0].at == 1000.0
    assert events[0].breaker == "api.example"


def test_success_resets_the_consecutive_count(ft: FakeTime) -> None:
    breaker = make(ft, failure_threshold=3)
    for _ in range(5):
        call(breaker, FAIL)
        call(breaker, FAIL)
        call(breaker, OK)
        assert breaker.snapshot().failure_count == 0
    assert breaker.state is CLOSED


def test_ignored_outcome_neither_counts_nor_resets(ft: FakeTime) -> None:
    breaker = make(ft, failure_threshold=3)
    call(breaker, FAIL)
    call(breaker, FAIL)
    for _ in range(10):
        call(breaker, IGN)
    assert breaker.snapshot().failure_count == 2
    assert breaker.state is CLOSED
    call(breaker, FAIL)
    assert breaker.state is OPEN


def test_404_style_responses_never_open_it(ft: FakeTime) -> None:
    breaker = make(ft, failure_threshold=2)
    for status in (404, 400, 422, 404, 409, 404):
        call(breaker, classify_status(status))
    assert breaker.state is CLOSED
    call(breaker, classify_status(503))
    call(breaker, classify_status(429))
    assert breaker.state is OPEN


def test_closed_permit_is_shared_and_not_a_probe(ft: FakeTime) -> None:
    breaker = make(ft)
    first, second = breaker.acquire(), breaker.acquire()
    assert first is second
    assert first.probe is False


# -- open --------------------------------------------------------------------------------------


def test_open_rejects_with_retry_in_from_the_clock(ft: FakeTime) -> None:
    breaker = make(ft, failure_threshold=1, recovery_timeout=30.0)
    trip(breaker)
    ft.advance(12.5)
    with pytest.raises(CircuitOpenError) as info:
        breaker.acquire("listAccounts")
    error = info.value
    assert (error.breaker, error.retry_in, error.operation) == ("api.example", 17.5, "listAccounts")
    assert "next probe in 17.500s" in str(error)
    ft.advance(17.0)
    with pytest.raises(CircuitOpenError) as info:
        breaker.acquire()
    assert info.value.retry_in == 0.5
    assert info.value.operation is None
    snap = breaker.snapshot()
    assert (snap.rejected_count, snap.opened_at, snap.retry_in) == (2, 1000.0, 0.5)


def test_records_while_open_count_for_nothing(ft: FakeTime) -> None:
    breaker = make(ft, failure_threshold=2)
    slow = breaker.acquire()
    trip(breaker)
    breaker.record(slow, OK)
    breaker.record(slow, FAIL)
    snap = breaker.snapshot()
    assert (snap.state, snap.failure_count, snap.transitions) == (OPEN, 0, 1)


# -- half-open ---------------------------------------------------------------------------------


def test_probe_admitted_exactly_at_recovery_timeout_and_second_call_rejected(ft: FakeTime, events: list[Any]) -> None:
    breaker = make(ft, events, failure_threshold=1, recovery_timeout=10.0)
    trip(breaker)
    ft.advance(9.999)
    with pytest.raises(CircuitOpenError):
        breaker.acquire()
    ft.advance(0.001)
    probe = breaker.acquire()
    assert probe.probe is True
    assert breaker.state is HALF_OPEN
    with pytest.raises(CircuitOpenError) as info:
        breaker.acquire("op")
    assert info.value.retry_in == 0.0
    assert states(events) == [(CLOSED, OPEN), (OPEN, HALF_OPEN)]
    assert events[1].reason == "recovery timeout elapsed"
    snap = breaker.snapshot()
    assert (snap.probes_out, snap.rejected_count, snap.retry_in, snap.opened_at) == (1, 2, 0.0, None)


def test_half_open_max_calls_two(ft: FakeTime) -> None:
    breaker = make(ft, failure_threshold=1, recovery_timeout=1.0, half_open_max_calls=2)
    trip(breaker)
    ft.advance(1.0)
    first, second = breaker.acquire(), breaker.acquire()
    assert first is not second
    assert first.probe
    assert second.probe
    with pytest.raises(CircuitOpenError):
        breaker.acquire()
    breaker.record(first, IGN)  # frees its slot without counting
    third = breaker.acquire()
    with pytest.raises(CircuitOpenError):
        breaker.acquire()
    assert breaker.snapshot().success_count == 0
    breaker.record(second, OK)
    breaker.record(third, OK)
    assert breaker.snapshot().success_count == 2


def test_success_threshold_probe_successes_close_it(ft: FakeTime, events: list[Any]) -> None:
    breaker = make(ft, events, failure_threshold=2, recovery_timeout=5.0, success_threshold=3)
    trip(breaker)
    ft.advance(5.0)
    call(breaker, OK)
    call(breaker, IGN)
    call(breaker, OK)
    assert breaker.state is HALF_OPEN
    assert breaker.snapshot().success_count == 2
    call(breaker, OK)
    assert breaker.state is CLOSED
    assert events[-1].old_state is HALF_OPEN
    assert events[-1].reason == "probe succeeded"
    snap = breaker.snapshot()
    assert (snap.failure_count, snap.success_count, snap.probes_out, snap.opened_at) == (0, 0, 0, None)
    call(breaker, FAIL)  # counts start from zero again
    assert breaker.state is CLOSED


def test_probe_failure_reopens_with_new_opened_at(ft: FakeTime, events: list[Any]) -> None:
    breaker = make(ft, events, failure_threshold=1, recovery_timeout=5.0, success_threshold=2)
    trip(breaker)
    ft.advance(7.0)
    call(breaker, OK)
    call(breaker, FAIL)
    assert breaker.state is OPEN
    assert events[-1].reason == "probe failed"
    snap = breaker.snapshot()
    assert (snap.opened_at, snap.retry_in, snap.success_count) == (1007.0, 5.0, 0)
    with pytest.raises(CircuitOpenError) as info:
        breaker.acquire()
    assert info.value.retry_in == 5.0


def test_state_reports_half_open_lazily_with_one_event(ft: FakeTime, events: list[Any]) -> None:
    breaker = make(ft, events, failure_threshold=1, recovery_timeout=3.0)
    trip(breaker)
    ft.advance(3.0)
    assert breaker.state is HALF_OPEN
    assert breaker.snapshot().state is HALF_OPEN
    assert breaker.acquire().probe
    assert states(events) == [(CLOSED, OPEN), (OPEN, HALF_OPEN)]
    assert events[1].at == 1003.0


# -- late results ------------------------------------------------------------------------------


def test_slow_closed_call_is_not_taken_for_a_probe(ft: FakeTime) -> None:
    breaker = make(ft, failure_threshold=2, recovery_timeout=1.0, success_threshold=1)
    slow = breaker.acquire()  # admitted while CLOSED, answers late
    trip(breaker)
    ft.advance(1.0)
    probe = breaker.acquire()
    breaker.record(slow, FAIL)  # must not re-open
    assert breaker.state is HALF_OPEN
    with pytest.raises(CircuitOpenError):  # and must not free the probe's slot
        breaker.acquire()
    breaker.record(slow, OK)  # nor close it
    assert breaker.state is HALF_OPEN
    breaker.record(probe, OK)
    assert breaker.state is CLOSED


def test_probe_from_an_earlier_half_open_generation_is_stale(ft: FakeTime) -> None:
    breaker = make(ft, failure_threshold=1, recovery_timeout=1.0, half_open_max_calls=2, success_threshold=1)
    trip(breaker)
    ft.advance(1.0)
    failing, late = breaker.acquire(), breaker.acquire()
    breaker.record(failing, FAIL)
    assert breaker.state is OPEN
    ft.advance(1.0)
    fresh = breaker.acquire()
    assert fresh.generation > late.generation
    breaker.record(late, OK)
    snap = breaker.snapshot()
    assert (snap.state, snap.success_count, snap.probes_out) == (HALF_OPEN, 0, 1)
    breaker.record(fresh, OK)
    assert breaker.state is CLOSED


def test_probe_recorded_twice_frees_one_slot(ft: FakeTime) -> None:
    breaker = make(ft, failure_threshold=1, recovery_timeout=1.0, half_open_max_calls=2, success_threshold=3)
    trip(breaker)
    ft.advance(1.0)
    first, _second = breaker.acquire(), breaker.acquire()
    breaker.record(first, OK)
    breaker.record(first, OK)
    snap = breaker.snapshot()
    assert (snap.success_count, snap.probes_out) == (1, 1)


def test_permits_from_before_reset_are_stale(ft: FakeTime) -> None:
    breaker = make(ft, failure_threshold=2)
    old = breaker.acquire()
    call(breaker, FAIL)
    breaker.reset()
    breaker.record(old, FAIL)
    call(breaker, FAIL)
    assert breaker.state is CLOSED
    assert breaker.snapshot().failure_count == 1


# -- manual states -----------------------------------------------------------------------------


def test_forced_open_rejects_without_retry_in_until_reset(ft: FakeTime, events: list[Any]) -> None:
    breaker = make(ft, events, recovery_timeout=1.0)
    admitted = breaker.acquire()
    breaker.force_open()
    breaker.force_open()  # already there: no second event
    ft.advance(1000.0)
    for _ in range(3):
        with pytest.raises(CircuitOpenError) as info:
            breaker.acquire("op")
        assert info.value.retry_in is None
        assert "forced open" in str(info.value)
    breaker.record(admitted, OK)
    snap = breaker.snapshot()
    assert (snap.state, snap.rejected_count, snap.retry_in, snap.opened_at) == (FORCED_OPEN, 3, None, 1000.0)
    breaker.reset()
    assert breaker.state is CLOSED
    assert breaker.snapshot().rejected_count == 0
    assert [(e.old_state, e.new_state, e.reason) for e in events] == [
        (CLOSED, FORCED_OPEN, "forced"),
        (FORCED_OPEN, CLOSED, "reset"),
    ]


def test_disabled_admits_everything_and_records_nothing(ft: FakeTime, events: list[Any]) -> None:
    breaker = make(ft, events, failure_threshold=1)
    trip(breaker)
    breaker.disable()
    breaker.disable()
    for _ in range(50):
        call(breaker, FAIL)
    snap = breaker.snapshot()
    assert (snap.state, snap.failure_count, snap.rejected_count) == (DISABLED, 0, 0)
    assert states(events) == [(CLOSED, OPEN), (OPEN, DISABLED)]
    assert events[-1].reason == "disabled"
    breaker.force_open()  # the latest manual command wins
    assert breaker.state is FORCED_OPEN
    breaker.disable()
    assert breaker.state is DISABLED
    breaker.reset()
    call(breaker, FAIL)
    assert breaker.state is OPEN


@pytest.mark.parametrize("target", [CLOSED, OPEN, HALF_OPEN, FORCED_OPEN, DISABLED])
def test_reset_returns_to_closed_with_counts_cleared(ft: FakeTime, events: list[Any], target: CircuitState) -> None:
    breaker = make(ft, events, failure_threshold=3, recovery_timeout=1.0, success_threshold=3)
    call(breaker, FAIL)
    if target in (OPEN, HALF_OPEN):
        call(breaker, FAIL)
        call(breaker, FAIL)
        with pytest.raises(CircuitOpenError):
            breaker.acquire()
    if target is HALF_OPEN:
        ft.advance(1.0)
        call(breaker, OK)
    if target is FORCED_OPEN:
        breaker.force_open()
    if target is DISABLED:
        breaker.disable()
    assert breaker.state is target
    before = len(events)
    breaker.reset()
    snap = breaker.snapshot()
    assert (snap.state, snap.failure_count, snap.success_count, snap.rejected_count, snap.probes_out) == (
        CLOSED,
        0,
        0,
        0,
        0,
    )
    assert len(events) == before + (target is not CLOSED)
    assert snap.transitions == len(events)


# -- events and logging ------------------------------------------------------------------------


def full_cycle(breaker: CircuitBreaker, ft: FakeTime) -> None:
    """CLOSED -> OPEN -> HALF_OPEN -> OPEN -> HALF_OPEN -> CLOSED -> FORCED_OPEN -> CLOSED -> DISABLED."""
    trip(breaker)
    ft.advance(breaker.config.recovery_timeout)
    call(breaker, FAIL)
    ft.advance(breaker.config.recovery_timeout)
    for _ in range(breaker.config.success_threshold):
        call(breaker, OK)
    breaker.force_open()
    breaker.reset()
    breaker.disable()


EXPECTED_CYCLE = [
    (CLOSED, OPEN, "failure_threshold reached", logging.WARNING),
    (OPEN, HALF_OPEN, "recovery timeout elapsed", logging.INFO),
    (HALF_OPEN, OPEN, "probe failed", logging.WARNING),
    (OPEN, HALF_OPEN, "recovery timeout elapsed", logging.INFO),
    (HALF_OPEN, CLOSED, "probe succeeded", logging.INFO),
    (CLOSED, FORCED_OPEN, "forced", logging.WARNING),
    (FORCED_OPEN, CLOSED, "reset", logging.INFO),
    (CLOSED, DISABLED, "disabled", logging.INFO),
]


def test_each_listener_gets_each_transition_once(ft: FakeTime) -> None:
    first: list[BreakerTransition] = []
    second: list[BreakerTransition] = []
    breaker = make(ft, first, failure_threshold=2, recovery_timeout=4.0, success_threshold=2)
    breaker.add_listener(second.append)
    full_cycle(breaker, ft)
    assert [(e.old_state, e.new_state, e.reason) for e in first] == [x[:3] for x in EXPECTED_CYCLE]
    assert second == first
    assert [e.at for e in first] == [1000.0, 1004.0, 1004.0, 1008.0, 1008.0, 1008.0, 1008.0, 1008.0]
    assert breaker.snapshot().transitions == len(EXPECTED_CYCLE)


def test_each_transition_is_logged_once_lazily(ft: FakeTime, caplog: pytest.LogCaptureFixture) -> None:
    breaker = make(ft, failure_threshold=2, recovery_timeout=4.0, success_threshold=2)
    with caplog.at_level(logging.DEBUG, logger="resilience.breaker"):
        call(breaker, FAIL)  # no transition, nothing logged
        call(breaker, OK)
        assert caplog.records == []
        full_cycle(breaker, ft)
    records = [r for r in caplog.records if r.name == "resilience.breaker"]
    assert len(records) == len(EXPECTED_CYCLE)
    for record, (old, new, reason, level) in zip(records, EXPECTED_CYCLE, strict=True):
        assert record.levelno == level
        assert record.args  # lazy %-arguments, not a pre-formatted string
        assert record.getMessage() == f"circuit breaker 'api.example': {old.value} -> {new.value} ({reason})"


def test_a_raising_listener_does_not_break_the_breaker(ft: FakeTime, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[BreakerTransition] = []

    def broken(event: BreakerTransition) -> None:
        raise RuntimeError("metrics backend down")

    breaker = CircuitBreaker(
        CircuitBreakerConfig(failure_threshold=1, recovery_timeout=1.0),
        clock=ft.clock,
        listeners=[broken, seen.append],
    )
    with caplog.at_level(logging.INFO, logger="resilience.breaker"):
        trip(breaker)
        ft.advance(1.0)
        call(breaker, OK)
    assert [e.new_state for e in seen] == [OPEN, HALF_OPEN]
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 2
    assert failures[0].exc_info is not None
    assert isinstance(failures[0].exc_info[1], RuntimeError)
    assert "listener" in failures[0].getMessage()


def test_listener_may_call_the_breaker_back(ft: FakeTime) -> None:
    snapshots: list[BreakerSnapshot] = []
    breaker = make(ft, failure_threshold=1)

    def listener(event: BreakerTransition) -> None:
        snapshots.append(breaker.snapshot())
        if event.new_state is OPEN:
            breaker.reset()  # its own event is delivered after this one, not recursively

    breaker.add_listener(listener)
    call(breaker, FAIL)
    assert [s.state for s in snapshots] == [OPEN, CLOSED]
    assert breaker.state is CLOSED


# -- rate mode ---------------------------------------------------------------------------------


def test_rate_mode_waits_for_minimum_calls(ft: FakeTime, events: list[Any]) -> None:
    breaker = make(ft, events, mode="rate", window_size=10, minimum_calls=5, failure_rate_threshold=0.5)
    for _ in range(4):
        call(breaker, FAIL)
    call(breaker, IGN)  # ignored results do not enter the window
    snap = breaker.snapshot()
    assert (snap.state, snap.failure_count, snap.calls_in_window, snap.failure_rate) == (CLOSED, 4, 4, 1.0)
    call(breaker, FAIL)
    assert breaker.state is OPEN
    assert events[-1].reason == "failure_rate_threshold reached"
    snap = breaker.snapshot()
    assert (snap.calls_in_window, snap.failure_count, snap.failure_rate) == (0, 0, None)  # cleared


def test_rate_mode_window_slides(ft: FakeTime) -> None:
    breaker = make(ft, mode="rate", window_size=4, minimum_calls=4, failure_rate_threshold=0.75)
    expected = [  # outcome, failures in window, calls in window
        (FAIL, 1, 1),
        (FAIL, 2, 2),
        (OK, 2, 3),
        (OK, 2, 4),
        (OK, 1, 4),  # the first F leaves the window
        (FAIL, 1, 4),
        (FAIL, 2, 4),
    ]
    for outcome, failures, calls in expected:
        call(breaker, outcome)
        snap = breaker.snapshot()
        assert (snap.state, snap.failure_count, snap.calls_in_window) == (CLOSED, failures, calls)
        assert snap.failure_rate == failures / calls
    call(breaker, FAIL)  # window S F F F: 0.75
    assert breaker.state is OPEN


def test_rate_mode_success_does_not_reset_failures(ft: FakeTime) -> None:
    breaker = make(ft, mode="rate", window_size=6, minimum_calls=6, failure_rate_threshold=0.5)
    for outcome in (FAIL, OK, FAIL, OK, FAIL, OK):
        call(breaker, outcome)
    assert breaker.state is OPEN


def test_rate_mode_half_open_then_clean_window(ft: FakeTime) -> None:
    breaker = make(
        ft,
        mode="rate",
        window_size=4,
        minimum_calls=2,
        failure_rate_threshold=0.5,
        recovery_timeout=2.0,
        success_threshold=2,
    )
    call(breaker, OK)
    call(breaker, FAIL)
    assert breaker.state is OPEN
    ft.advance(2.0)
    call(breaker, OK)
    assert breaker.snapshot().calls_in_window == 0  # probes do not enter the window
    call(breaker, OK)
    assert breaker.state is CLOSED
    call(breaker, FAIL)  # 1 call < minimum_calls: the old window did not survive
    assert breaker.state is CLOSED
    assert breaker.snapshot().calls_in_window == 1


# -- snapshot ----------------------------------------------------------------------------------


def test_snapshot_as_dict(ft: FakeTime) -> None:
    breaker = make(ft, failure_threshold=2, recovery_timeout=10.0)
    call(breaker, FAIL)
    assert breaker.snapshot().as_dict() == {
        "name": "api.example",
        "state": "closed",
        "failure_count": 1,
        "success_count": 0,
        "calls_in_window": 0,
        "failure_rate": None,
        "rejected_count": 0,
        "opened_at": None,
        "retry_in": None,
        "transitions": 0,
        "probes_out": 0,
    }
    call(breaker, FAIL)
    ft.advance(4.0)
    with pytest.raises(CircuitOpenError):
        breaker.acquire()
    data = breaker.snapshot().as_dict()
    assert data["state"] == "open"
    assert isinstance(data["state"], str)
    assert (data["opened_at"], data["retry_in"], data["rejected_count"], data["transitions"]) == (
        1000.0,
        6.0,
        1,
        1,
    )


def test_state_values_and_repr(ft: FakeTime) -> None:
    assert [s.value for s in CircuitState] == ["closed", "open", "half_open", "forced_open", "disabled"]
    assert [o.name for o in Outcome] == ["SUCCESS", "FAILURE", "IGNORED"]
    breaker = make(ft)
    assert (breaker.name, breaker.config) == ("api.example", CircuitBreakerConfig())
    assert repr(breaker) == "<CircuitBreaker 'api.example' closed>"


# -- registry ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "operation", "key"),
    [
        ("origin", "listAccounts", "https://api.example"),
        ("origin", None, "https://api.example"),
        ("operation", "listAccounts", "https://api.example listAccounts"),
        ("operation", None, "https://api.example"),
    ],
)
def test_registry_keys(scope: Any, operation: str | None, key: str) -> None:
    registry = BreakerRegistry(CircuitBreakerConfig(scope=scope))
    assert registry.key_for("https://api.example", operation) == key


def test_registry_returns_one_breaker_per_key(ft: FakeTime, events: list[Any]) -> None:
    config = CircuitBreakerConfig(failure_threshold=1)
    registry = BreakerRegistry(config, clock=ft.clock, listeners=[events.append])
    first = registry.get("a")
    assert registry.get("a") is first
    assert registry.get("b") is not first
    assert (first.name, first.config) == ("a", config)
    view = registry.breakers()
    assert dict(view) == {"a": first, "b": registry.get("b")}
    with pytest.raises(TypeError):
        view["c"] = first  # type: ignore[index]
    call(first, FAIL)
    assert [(e.breaker, e.new_state) for e in events] == [("a", OPEN)]
    registry.force_open_all()
    assert {b.state for b in registry.breakers().values()} == {FORCED_OPEN}
    registry.reset_all()
    assert {b.state for b in registry.breakers().values()} == {CLOSED}


def test_registry_creation_race_gives_one_instance() -> None:
    registry = BreakerRegistry()
    barrier = threading.Barrier(16)
    got: list[CircuitBreaker] = []

    def worker() -> None:
        barrier.wait()
        got.append(registry.get("shared"))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 16
    assert len({id(b) for b in got}) == 1


# -- concurrency -------------------------------------------------------------------------------

CONCURRENT_CONFIG = CircuitBreakerConfig(
    failure_threshold=3, recovery_timeout=1.0, success_threshold=2, half_open_max_calls=2
)


class ProbeTracker:
    """Probes out per half-open generation, counted by the test itself under its own lock.

    Counted up after acquire returns and down before record is called, so the count is never
    above what the breaker really has out: exceeding the limit is a breaker bug.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.out: collections.Counter[int] = collections.Counter()
        self.peak = 0
        self.total = 0

    def taken(self, permit: Permit) -> None:
        if permit.probe:
            with self.lock:
                self.out[permit.generation] += 1
                self.total += 1
                self.peak = max(self.peak, self.out[permit.generation])

    def returning(self, permit: Permit) -> None:
        if permit.probe:
            with self.lock:
                self.out[permit.generation] -= 1


def pick(rng: random.Random) -> Outcome:
    r = rng.random()
    return FAIL if r < 0.45 else OK if r < 0.9 else IGN


def check_history(breaker: CircuitBreaker, events: list[BreakerTransition], tracker: ProbeTracker) -> None:
    # Read first: once the workers' rejections have moved the fake clock past recovery_timeout,
    # reading the state makes the due OPEN -> HALF_OPEN transition and appends its event.
    state = breaker.state
    assert tracker.peak <= breaker.config.half_open_max_calls
    assert tracker.total > 0
    assert events
    assert events[0].old_state is CLOSED
    for before, after in itertools.pairwise(events):
        assert after.old_state is before.new_state
    assert events[-1].new_state is state
    assert breaker.snapshot().transitions == len(events)
    seen = set(states(events))
    assert {(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, OPEN), (HALF_OPEN, CLOSED)} <= seen


def test_threads_hammering_keep_probe_limit_and_event_order() -> None:
    ft = FakeTime()
    events: list[BreakerTransition] = []
    breaker = CircuitBreaker(CONCURRENT_CONFIG, clock=ft.clock, listeners=[events.append])
    tracker = ProbeTracker()
    errors: list[BaseException] = []
    barrier = threading.Barrier(16)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        barrier.wait()
        try:
            for _ in range(2000):
                try:
                    permit = breaker.acquire("op")
                except CircuitOpenError:
                    ft.advance(0.02)  # time passes while the breaker rejects
                    continue
                tracker.taken(permit)
                time.sleep(0)  # let other threads in while this call is out
                outcome = pick(rng)
                tracker.returning(permit)
                breaker.record(permit, outcome)
        except BaseException as exc:  # anything else escaping is a failure
            errors.append(exc)

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, between the acquire and the record
    try:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old_interval)
    assert errors == []
    check_history(breaker, events, tracker)


async def test_asyncio_tasks_keep_probe_limit_and_event_order() -> None:
    ft = FakeTime()
    events: list[BreakerTransition] = []
    breaker = CircuitBreaker(CONCURRENT_CONFIG, clock=ft.clock, listeners=[events.append])
    tracker = ProbeTracker()

    async def task(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(30):
            if rng.random() < 0.05:
                ft.advance(0.1)
            try:
                permit = breaker.acquire("op")
            except CircuitOpenError:
                await asyncio.sleep(0)
                continue
            tracker.taken(permit)
            await asyncio.sleep(0)
            tracker.returning(permit)
            breaker.record(permit, pick(rng))

    await asyncio.gather(*(task(i) for i in range(200)))
    check_history(breaker, events, tracker)
    assert tracker.peak == CONCURRENT_CONFIG.half_open_max_calls  # 200 tasks do contend for the slots
