"""Retry behaviour that mutation testing (``make mutation``) found no test stating.

Only 408, 429 and 5xx may be retried (a 400 never); a Retry-After date in the ``-0000`` form
is UTC whatever the local zone; sign-prefixed values are malformed; the testing switch's
default cap; the retry budget's default share and bounds; and configuration errors that name
the setting and the value. Time is a frozen wall clock or a fake monotonic one.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from finops_api_client import AsyncFinOpsClient, FinOpsClient

from resilience import (
    ConfigurationError,
    InternalServerError,
    RetryBudget,
    RetryPolicy,
    parse_retry_after,
    set_testing,
)
from tests.support import FakeTime

WALL = 1_750_000_000.0  # 2025-06-15T15:06:40Z, a frozen wall clock


def frozen_wall() -> float:
    return WALL


def date_in(seconds: float, zone: str) -> str:
    """An HTTP-date ``seconds`` after the frozen wall clock, in UTC, ending in ``zone``."""
    when = datetime.fromtimestamp(WALL + seconds, UTC)
    return f"{when:%a, %d %b %Y %H:%M:%S} {zone}"


# -- which statuses may be retried -------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422, 499])
def test_a_client_error_other_than_408_and_429_is_never_retryable(status: int) -> None:
    # A POST with its idempotency key would be sent again on every one of these.
    with pytest.raises(ConfigurationError, match=rf"retry_statuses .*\[{status}\]"):
        RetryPolicy(retry_statuses={status, 503})


def test_the_rejected_statuses_are_all_named() -> None:
    with pytest.raises(ConfigurationError, match=r"got \[400, 404\]"):
        RetryPolicy(retry_statuses={503, 404, 400})


# -- Retry-After dates are UTC whatever the local zone -----------------------------------------


@pytest.fixture
def local_zone_five_hours_west(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone set to UTC-5 (a POSIX TZ rule: no zone database needed)."""
    monkeypatch.setenv("TZ", "EST+05")
    time.tzset()
    try:
        assert time.localtime(WALL).tm_gmtoff == -5 * 3600  # the zone really moved
        yield
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.usefixtures("local_zone_five_hours_west")
@pytest.mark.parametrize("zone", ["-0000", "+0000", "GMT", "UT"])
def test_a_utc_retry_after_date_is_not_read_as_local_time(zone: str) -> None:
    assert parse_retry_after(date_in(30, zone), now=frozen_wall) == 30.0
    assert parse_retry_after(date_in(-30, zone), now=frozen_wall) == 0.0


@pytest.mark.usefixtures("local_zone_five_hours_west")
def test_an_offset_retry_after_date_keeps_its_offset() -> None:
    when = datetime.fromtimestamp(WALL + 90, timezone(timedelta(hours=2)))  # "... +0200"
    assert parse_retry_after(email.utils.format_datetime(when), now=frozen_wall) == 90.0


@pytest.mark.parametrize("sign", ["-", "+"])
def test_a_sign_prefixed_retry_after_date_is_malformed(sign: str) -> None:
    assert parse_retry_after(sign + date_in(30, "GMT"), now=frozen_wall) is None


# -- the testing switch ------------------------------------------------------------------------


def always_503(calls: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503, json={"success": False, "error": {"code": "down", "message": "down"}})

    return httpx.MockTransport(handler)


@pytest.fixture
def testing_on_by_default() -> Iterator[None]:
    set_testing(True)  # no attempts given: the default cap
    try:
        yield
    finally:
        set_testing(False)


@pytest.mark.usefixtures("testing_on_by_default")
async def test_the_testing_switch_makes_one_attempt_by_default(mode: str) -> None:
    calls: list[httpx.Request] = []
    url = "http://127.0.0.1:1"  # never reached: the mock transport answers
    if mode == "sync":
        with (
            FinOpsClient(url, api_key="k", max_retries=5, transport=always_503(calls)) as c,
            pytest.raises(InternalServerError),
        ):
            c.get_health()
    else:
        async with AsyncFinOpsClient(url, api_key="k", max_retries=5, transport=always_503(calls)) as ac:
            with pytest.raises(InternalServerError):
                await ac.get_health()
    assert len(calls) == 1


def test_a_bad_testing_attempts_value_is_named() -> None:
    with pytest.raises(ConfigurationError, match="attempts must be an int >= 1, got 0"):
        set_testing(True, attempts=0)


# -- the retry budget --------------------------------------------------------------------------


def test_the_budget_allows_a_fifth_of_requests_by_default(ft: FakeTime) -> None:
    budget = RetryBudget(min_per_second=0.0, clock=ft.clock)
    for _ in range(10):
        budget.deposit()
    assert budget.balance() == pytest.approx(2.0)


def test_the_budget_accepts_its_bounds(ft: FakeTime) -> None:
    budget = RetryBudget(percent=10.0, min_per_second=0.0, clock=ft.clock)
    budget.deposit()
    assert budget.balance() == pytest.approx(10.0)
    assert RetryBudget(percent=0.0, min_per_second=0.0, clock=ft.clock).balance() == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"percent": 10.5}, "percent must be between 0 and 10, got 10.5"),
        ({"min_per_second": -1.0}, "min_per_second must be >= 0, got -1.0"),
        ({"window": 0.0}, "window must be > 0, got 0.0"),
    ],
)
def test_a_bad_budget_setting_is_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RetryBudget(**kwargs)


# -- configuration errors name the setting and the value ---------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_retries": 101}, r"max_retries must be an int from 0 to 100, got 101"),
        ({"max_retry_after": -1.0}, r"max_retry_after must be a finite number >= 0, got -1.0"),
        ({"backoff_base": 0}, r"backoff_base must be a finite number > 0, got 0"),
        ({"deadline": -2.0}, r"deadline must be a finite number > 0, got -2.0"),
        ({"backoff_base": 2.0, "backoff_max": 1.0}, r"backoff_max \(1.0\) must be >= backoff_base \(2.0\)"),
    ],
)
def test_a_bad_policy_setting_is_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RetryPolicy(**kwargs)
