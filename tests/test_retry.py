"""Retry decisions without I/O: Retry-After parsing, policy validation, the default wait.

Time is a frozen wall clock; the jitter test seeds ``random`` and restores its state.
"""

from __future__ import annotations

import email.utils
import math
import random
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
import pytest
import tenacity

from resilience import (
    IDEMPOTENT_METHODS,
    RETRYABLE_STATUSES,
    ConfigurationError,
    Operation,
    ResponseTooLargeError,
    RetryPolicy,
    parse_retry_after,
)
from resilience._call import may_retry

WALL = 1_750_000_000.0  # 2025-06-15T15:06:40Z, a frozen wall clock


def frozen_wall() -> float:
    return WALL


def http_date(offset: float) -> str:
    """An IMF-fixdate ``offset`` seconds after the frozen wall clock."""
    return email.utils.format_datetime(datetime.fromtimestamp(WALL + offset, UTC), usegmt=True)


# -- Retry-After -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("120", 120.0, id="seconds"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param(" 5 ", 5.0, id="padded"),
        pytest.param("007", 7.0, id="leading-zeros"),
        pytest.param(http_date(30), 30.0, id="date-future"),
        pytest.param(http_date(3600), 3600.0, id="date-hour-ahead"),
        pytest.param(http_date(0), 0.0, id="date-now"),
        pytest.param(http_date(-30), 0.0, id="date-past"),
        pytest.param("Sun, 06 Nov 1994 08:49:37 GMT", 0.0, id="date-long-past"),
        pytest.param("Sunday, 06-Nov-94 08:49:37 GMT", 0.0, id="rfc850-past"),
        pytest.param("Sun Nov  6 08:49:37 1994", 0.0, id="asctime-past"),
    ],
)
def test_parse_retry_after_valid(value: str, expected: float) -> None:
    assert parse_retry_after(value, now=frozen_wall) == expected


def test_parse_retry_after_obsolete_date_forms_in_future() -> None:
    when = datetime.fromtimestamp(WALL + 90, UTC)
    rfc850 = when.strftime("%A, %d-%b-%y %H:%M:%S GMT")
    asctime = when.strftime("%a %b %d %H:%M:%S %Y")
    assert parse_retry_after(rfc850, now=frozen_wall) == 90.0
    assert parse_retry_after(asctime, now=frozen_wall) == 90.0


def test_parse_retry_after_uses_the_injected_clock() -> None:
    value = http_date(100)
    assert parse_retry_after(value, now=lambda: WALL + 40) == 60.0
    assert parse_retry_after(value, now=lambda: WALL + 400) == 0.0


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("soon", id="word"),
        pytest.param("-1", id="negative"),
        pytest.param("+5", id="signed"),
        pytest.param("1.5", id="fraction"),
        pytest.param("1e3", id="exponent"),
        pytest.param("0x10", id="hex"),
        pytest.param("5 s", id="unit"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param(None, id="missing"),
        pytest.param("Wed, 99 Foo 2026", id="bad-date"),
        pytest.param("Sun, 06 Nov 1994 08:49:37 +9999", id="bad-offset"),
        pytest.param("x" * 10_000, id="very-long"),
        pytest.param("Wed, 01 Jan " + "9" * 5000 + " 00:00:00 GMT", id="very-long-year"),
        pytest.param("\u00b2", id="superscript-digit"),
        pytest.param("\u0661\u0662\u0660", id="arabic-indic-digits"),
    ],
)
def test_parse_retry_after_malformed_is_none(value: str | None) -> None:
    assert parse_retry_after(value, now=frozen_wall) is None


@pytest.mark.parametrize("digits", [400, 5000])
def test_parse_retry_after_huge_delay_is_too_long_not_a_crash(digits: int) -> None:
    # Valid delay-seconds syntax, absurdly large: "longer than any max_retry_after", never an exception.
    result = parse_retry_after("9" * digits, now=frozen_wall)
    assert result is not None
    assert result > 1e300


# -- RetryPolicy -------------------------------------------------------------------------------


def test_policy_defaults() -> None:
    p = RetryPolicy()
    assert (p.max_retries, p.backoff_base, p.backoff_max, p.max_retry_after, p.deadline) == (
        3,
        0.5,
        8.0,
        60.0,
        None,
    )
    assert p.retry_statuses == RETRYABLE_STATUSES == frozenset({408, 429, 500, 502, 503, 504})
    assert not hasattr(p, "idempotency_header")  # the operation's own header is the one source


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": -1},
        {"max_retries": 101},
        {"max_retries": True},
        {"max_retries": 1.5},
        {"max_retries": "3"},
        {"backoff_base": 0},
        {"backoff_base": -0.5},
        {"backoff_base": math.nan},
        {"backoff_base": math.inf},
        {"backoff_base": True},
        {"backoff_base": "1"},
        {"backoff_max": -1.0},
        {"backoff_max": math.nan},
        {"backoff_max": False},
        {"max_retry_after": -1},
        {"max_retry_after": math.nan},
        {"max_retry_after": True},
        {"deadline": 0},
        {"deadline": -1.0},
        {"deadline": math.nan},
        {"deadline": True},
        {"backoff_base": 2.0, "backoff_max": 1.0},
        {"retry_statuses": {404}},
        {"retry_statuses": {503, 404}},
        {"retry_statuses": {200}},
        {"retry_statuses": {600}},
        {"retry_statuses": {True}},
        {"retry_statuses": {"503"}},
        {"retry_statuses": {"503", 404}},
    ],
    ids=repr,
)
def test_policy_rejects(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        RetryPolicy(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": 0},
        {"max_retries": 100},
        {"backoff_base": 1, "backoff_max": 1},
        {"max_retry_after": 0},
        {"deadline": 0.5},
        {"retry_statuses": [503]},
        {"retry_statuses": {408, 429, 500, 599}},
        {"retry_statuses": set()},
    ],
    ids=repr,
)
def test_policy_accepts(kwargs: dict[str, Any]) -> None:
    policy = RetryPolicy(**kwargs)
    for name, value in kwargs.items():
        expected = frozenset(value) if name == "retry_statuses" else value
        assert getattr(policy, name) == expected


def test_policy_is_frozen_and_evolve_revalidates() -> None:
    policy = RetryPolicy()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        policy.max_retries = 5  # type: ignore[misc]
    assert attrs.evolve(policy, max_retries=5).max_retries == 5
    with pytest.raises(ConfigurationError):
        attrs.evolve(policy, max_retries=-1)


@pytest.mark.parametrize("method", sorted(IDEMPOTENT_METHODS))
def test_idempotent_methods_may_retry(method: str) -> None:
    assert may_retry(httpx.Request(method, "https://api.test/x"), None)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_unsafe_methods_retry_only_with_the_operations_own_key(method: str) -> None:
    """One source of truth for the idempotency header: the operation's. A write is retried
    only when it carries the header its operation accepts."""
    keyed = httpx.Request(method, "https://api.test/x", headers={"Idempotency-Key": "k"})
    assert not may_retry(httpx.Request(method, "https://api.test/x"), None)
    assert not may_retry(keyed, None)  # no operation: nobody said the header makes it safe
    op = Operation("op", method, "/x", idempotency_header="Idempotency-Key")
    assert may_retry(keyed, op)
    assert not may_retry(httpx.Request(method, "https://api.test/x"), op)
    custom = Operation("op", method, "/x", idempotency_header="X-Dedup")
    assert not may_retry(keyed, custom)
    assert may_retry(httpx.Request(method, "https://api.test/x", headers={"x-dedup": "k"}), custom)


def test_retry_policy_takes_no_idempotency_header_of_its_own() -> None:
    """It used to: ``RetryPolicy(idempotency_header="X")`` silently turned POST retries off
    for operations whose header is ``Idempotency-Key``. Now it is refused outright."""
    with pytest.raises(TypeError):
        RetryPolicy(idempotency_header="X-Dedup")  # type: ignore[call-arg]


_REQ = httpx.Request("GET", "https://api.test/x")


@pytest.mark.parametrize(
    ("exc", "retryable"),
    [
        (httpx.ConnectError("x", request=_REQ), True),
        (httpx.ConnectTimeout("x", request=_REQ), True),
        (httpx.ReadTimeout("x", request=_REQ), True),
        (httpx.WriteTimeout("x", request=_REQ), True),
        (httpx.PoolTimeout("x", request=_REQ), True),
        (httpx.ReadError("x", request=_REQ), True),
        (httpx.WriteError("x", request=_REQ), True),
        (httpx.RemoteProtocolError("x", request=_REQ), True),
        (httpx.LocalProtocolError("x", request=_REQ), False),
        (httpx.UnsupportedProtocol("x", request=_REQ), False),
        (httpx.DecodingError("x", request=_REQ), False),
        (ValueError("x"), False),
        (ResponseTooLargeError("x", status_code=200), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_retryable_exceptions(exc: BaseException, retryable: bool) -> None:
    assert RetryPolicy.is_retryable_exception(exc) is retryable


@pytest.mark.parametrize("status", [*range(200, 205), 400, 401, 403, 404, 409, 422, 501, 505])
def test_non_retryable_statuses(status: int) -> None:
    assert not RetryPolicy().is_retryable_status(status)


@pytest.mark.parametrize("status", sorted(RETRYABLE_STATUSES))
def test_retryable_statuses(status: int) -> None:
    assert RetryPolicy().is_retryable_status(status)
    assert not RetryPolicy(retry_statuses={599}).is_retryable_status(status)


# -- the default wait: exponential backoff with full jitter ------------------------------------


def _state(attempt: int) -> tenacity.RetryCallState:
    rs = tenacity.RetryCallState(retry_object=tenacity.Retrying(), fn=None, args=(), kwargs={})
    rs.attempt_number = attempt
    return rs


@pytest.fixture
def seeded_random() -> Any:
    saved = random.getstate()
    random.seed(20250615)
    yield
    random.setstate(saved)


@pytest.mark.usefixtures("seeded_random")
@pytest.mark.parametrize("attempt", range(1, 7))
def test_full_jitter_bounds(attempt: int) -> None:
    wait = RetryPolicy().wait_strategy()
    bound = min(8.0, 0.5 * 2 ** (attempt - 1))
    samples = [wait(_state(attempt)) for _ in range(400)]
    assert all(0.0 <= s <= bound for s in samples), (min(samples), max(samples), bound)
    # Full jitter spreads over the whole range, not a fixed backoff nor a narrow band.
    assert max(samples) > 0.9 * bound
    assert min(samples) < 0.1 * bound


@pytest.mark.usefixtures("seeded_random")
def test_jitter_honours_custom_base_and_cap() -> None:
    wait = RetryPolicy(backoff_base=1.0, backoff_max=3.0).wait_strategy()
    for attempt, bound in [(1, 1.0), (2, 2.0), (3, 3.0), (10, 3.0)]:
        samples = [wait(_state(attempt)) for _ in range(200)]
        assert all(0.0 <= s <= bound for s in samples)
        assert max(samples) > 0.8 * bound


def test_custom_wait_strategy_is_used_as_is() -> None:
    fixed = tenacity.wait_fixed(3)
    assert RetryPolicy(wait=fixed).wait_strategy() is fixed
    assert RetryPolicy(wait=fixed).wait_strategy()(_state(5)) == 3
