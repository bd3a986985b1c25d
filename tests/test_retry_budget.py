"""RetryBudget: arithmetic on a fake clock, a model-based property test, and thread safety.

The window is ten slots of ``window / 10`` seconds; a slot's deposits and withdrawals count
while the slot is among the ten most recent, then expire together.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resilience import ConfigurationError, RetryBudget
from tests.support import FakeTime


def withdraw_all(budget: RetryBudget, limit: int = 10_000) -> int:
    """Withdraw until refused; how many were granted."""
    granted = 0
    while granted < limit and budget.try_withdraw():
        granted += 1
    return granted


# -- arithmetic --------------------------------------------------------------------------------


def test_defaults_allow_min_per_second_times_window() -> None:
    budget = RetryBudget(clock=FakeTime(5.0).clock)
    assert budget.balance() == 100.0  # 10/s * 10 s, no requests yet
    assert withdraw_all(budget) == 100
    assert budget.balance() == 0.0
    assert not budget.try_withdraw()


def test_one_retry_per_window() -> None:
    ft = FakeTime(0.0)
    budget = RetryBudget(percent=0.0, min_per_second=0.1, window=10, clock=ft.clock)
    for _ in range(50):
        budget.deposit()  # requests buy nothing at 0%
    assert budget.try_withdraw()
    assert not budget.try_withdraw()
    ft.now = 9.99
    assert not budget.try_withdraw()
    ft.now = 10.0  # the slot holding the withdrawal has left the window
    assert budget.try_withdraw()
    assert not budget.try_withdraw()


@pytest.mark.parametrize(
    ("percent", "min_per_second", "window", "requests", "allowed"),
    [
        (0.2, 0.0, 10, 10, 2),
        (0.2, 0.0, 10, 14, 2),  # 2.8 rounds down: a retry needs a whole unit
        (0.2, 0.0, 10, 15, 3),
        (0.2, 1.0, 10, 10, 12),
        (0.5, 0.5, 4, 6, 5),
        (1.0, 0.0, 1, 7, 7),
        (0.0, 0.0, 10, 1000, 0),
        (2.0, 0.0, 10, 3, 6),
    ],
)
def test_percent_of_requests_plus_floor(
    percent: float, min_per_second: float, window: float, requests: int, allowed: int
) -> None:
    budget = RetryBudget(percent=percent, min_per_second=min_per_second, window=window, clock=FakeTime(100.0).clock)
    for _ in range(requests):
        budget.deposit()
    assert budget.balance() == pytest.approx(percent * requests + min_per_second * window)
    assert withdraw_all(budget) == allowed
    assert budget.balance() == pytest.approx(percent * requests + min_per_second * window - allowed)


def test_requests_expire_after_the_window() -> None:
    ft = FakeTime(0.0)
    budget = RetryBudget(percent=0.5, min_per_second=0.0, window=10, clock=ft.clock)
    for _ in range(4):
        budget.deposit()  # slot 0
    ft.now = 5.0
    for _ in range(6):
        budget.deposit()  # slot 5
    assert budget.balance() == 5.0
    ft.now = 9.999  # slots 0..9 all live
    assert budget.balance() == 5.0
    ft.now = 10.0  # slot 0 expired
    assert budget.balance() == 3.0
    ft.now = 14.999
    assert budget.balance() == 3.0
    ft.now = 15.0  # slot 5 expired too
    assert budget.balance() == 0.0
    assert not budget.try_withdraw()


def test_withdrawals_expire_with_their_slot() -> None:
    ft = FakeTime(0.0)
    budget = RetryBudget(percent=0.0, min_per_second=0.3, window=10, clock=ft.clock)  # 3 per window
    assert withdraw_all(budget) == 3
    ft.now = 4.0
    assert withdraw_all(budget) == 0
    ft.now = 10.5
    assert withdraw_all(budget) == 3


def test_a_reused_slot_starts_from_zero() -> None:
    # Tick 0 and tick 10 share a ring slot: the old counts must not leak into the new tick.
    ft = FakeTime(0.5)
    budget = RetryBudget(percent=1.0, min_per_second=0.0, window=10, clock=ft.clock)
    for _ in range(5):
        budget.deposit()
    ft.now = 10.5
    budget.deposit()
    assert budget.balance() == 1.0
    ft.now = 30.5  # long idle: everything expired
    assert budget.balance() == 0.0


def test_slots_follow_a_short_window() -> None:
    ft = FakeTime(0.0)
    budget = RetryBudget(percent=1.0, min_per_second=0.0, window=1.0, clock=ft.clock)  # 0.1 s slots
    budget.deposit()
    ft.now = 0.95
    assert budget.balance() == 1.0
    ft.now = 1.05
    assert budget.balance() == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"percent": -0.1},
        {"percent": 10.5},
        {"percent": math.nan},
        {"min_per_second": -1},
        {"min_per_second": math.inf},
        {"min_per_second": math.nan},
        {"window": 0},
        {"window": -1},
        {"window": math.inf},
        {"window": math.nan},
    ],
    ids=repr,
)
def test_invalid_budget(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        RetryBudget(**kwargs)


def test_repr_shows_config() -> None:
    assert repr(RetryBudget(percent=0.1, min_per_second=2, window=5)) == (
        "RetryBudget(percent=0.1, min_per_second=2, window=5)"
    )


# -- property: never more retries than the window allows ---------------------------------------

PERCENTS = [0.0, 0.1, 0.2, 0.5, 1.0]
FLOORS = [0.0, 0.1, 0.3, 1.0]
WINDOWS = [1.0, 2.5, 10.0]

ops = st.lists(
    st.tuples(
        st.sampled_from(["deposit", "withdraw", "wait"]),
        st.integers(min_value=0, max_value=40),  # wait length in hundredths of the window
    ),
    max_size=150,
)


@settings(max_examples=150, deadline=None)
@given(
    percent=st.sampled_from(PERCENTS),
    floor=st.sampled_from(FLOORS),
    window=st.sampled_from(WINDOWS),
    steps=ops,
)
def test_withdrawals_never_exceed_the_window_allowance(
    percent: float, floor: float, window: float, steps: list[tuple[str, int]]
) -> None:
    ft = FakeTime(1000.0)
    budget = RetryBudget(percent=percent, min_per_second=floor, window=window, clock=ft.clock)
    slot = window / 10
    deposits: list[int] = []  # the tick of each deposit
    granted: list[int] = []  # the tick of each granted withdrawal
    for kind, amount in steps:
        tick = int(ft.now / slot)
        if kind == "wait":
            ft.now += amount * window / 100
        elif kind == "deposit":
            budget.deposit()
            deposits.append(tick)
        else:
            live_requests = sum(1 for t in deposits if t > tick - 10)
            live_retries = sum(1 for t in granted if t > tick - 10)
            allowance = percent * live_requests + floor * window
            ok = budget.try_withdraw()
            # The model: granted exactly when one more retry stays within the allowance.
            assert ok is (live_retries + 1 <= allowance)
            if ok:
                granted.append(tick)
                assert live_retries + 1 <= allowance + 1e-9
        live_requests = sum(1 for t in deposits if t > int(ft.now / slot) - 10)
        live_retries = sum(1 for t in granted if t > int(ft.now / slot) - 10)
        assert budget.balance() == pytest.approx(max(0.0, percent * live_requests + floor * window - live_retries))


# -- threads -----------------------------------------------------------------------------------


@pytest.fixture
def busy_switching() -> Iterator[None]:
    saved = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(saved)


@pytest.mark.usefixtures("busy_switching")
def test_concurrent_withdrawals_never_exceed_the_allowance() -> None:
    # A lost race shows only at the boundary where the budget runs out, so the 16 threads meet
    # at many boundaries: 150 budgets in turn, all threads released together on each.
    ft = FakeTime(50.0)
    budgets = [RetryBudget(percent=0.2, min_per_second=0.5, window=10, clock=ft.clock) for _ in range(150)]
    for budget in budgets:
        for _ in range(10):
            budget.deposit()
    allowance = 0.2 * 10 + 0.5 * 10  # 7 per budget
    barrier = threading.Barrier(16)
    granted = [[0] * len(budgets) for _ in range(16)]

    def worker(i: int) -> None:
        for k, budget in enumerate(budgets):
            barrier.wait()
            for _ in range(3):  # 48 tries for 7 retries
                if budget.try_withdraw():
                    granted[i][k] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    per_budget = [sum(row[k] for row in granted) for k in range(len(budgets))]
    assert per_budget == [allowance] * len(budgets)
    assert all(b.balance() == 0.0 for b in budgets)


@pytest.mark.usefixtures("busy_switching")
def test_concurrent_deposits_and_withdrawals() -> None:
    budget = RetryBudget(percent=0.5, min_per_second=0.0, window=10, clock=FakeTime(50.0).clock)
    start = threading.Barrier(16)
    granted = [0] * 16

    def worker(i: int) -> None:
        start.wait()
        for _ in range(200):
            if i % 2:
                budget.deposit()
            elif budget.try_withdraw():
                granted[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deposits = 8 * 200
    assert sum(granted) <= 0.5 * deposits
    # Every deposit is counted: what is left is exactly the allowance minus what was taken.
    assert budget.balance() == pytest.approx(0.5 * deposits - sum(granted))
