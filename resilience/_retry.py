"""Retry decisions: the policy, Retry-After parsing and the retry budget.

Everything here is pure or clock-injected; the sync and async drivers that sleep and send
live in :mod:`resilience._transports`. tenacity runs the retry loop, but only once a first
attempt has failed in a retryable way: the success path never builds a ``Retrying``.
"""

from __future__ import annotations

import contextlib
import email.utils
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC
from typing import Final

import attrs
import httpx
import tenacity
from tenacity.wait import wait_base

from ._errors import ConfigurationError

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRYABLE_STATUSES",
    "RetryBudget",
    "RetryPolicy",
    "as_testing",
    "is_testing",
    "parse_retry_after",
    "set_testing",
]

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
RETRYABLE_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})


def _not_a_number(value: object) -> bool:
    return isinstance(value, bool) or not isinstance(value, int | float)


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float | None) -> None:
    if value is not None and (_not_a_number(value) or not math.isfinite(value) or value < 0):
        raise ConfigurationError(f"{attribute.name} must be a finite number >= 0, got {value!r}")


def _positive(_: object, attribute: attrs.Attribute[float], value: float | None) -> None:
    if value is not None and (_not_a_number(value) or not math.isfinite(value) or value <= 0):
        raise ConfigurationError(f"{attribute.name} must be a finite number > 0, got {value!r}")


def _max_retries(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 100:
        raise ConfigurationError(f"max_retries must be an int from 0 to 100, got {value!r}")


def _to_statuses(value: Iterable[int]) -> frozenset[int]:
    return frozenset(value)  # a typed converter: with bare ``frozenset`` mypy rejects a set literal


def _statuses(_: object, attribute: attrs.Attribute[frozenset[int]], value: frozenset[int]) -> None:
    bad = [s for s in value if not (isinstance(s, int) and 400 <= s <= 599) or (400 <= s < 500 and s not in (408, 429))]
    if bad:
        got = sorted(bad, key=repr)  # key: a non-int status must not make sorted() raise TypeError
        raise ConfigurationError(f"retry_statuses may hold only 408, 429 and 5xx statuses, got {got!r}")


@attrs.frozen(slots=True)
class RetryPolicy:
    """What is retried, how often and how long to wait. Immutable; use :func:`attrs.evolve`.

    ``max_retries`` counts retries after the first attempt. The default wait is exponential
    backoff with full jitter (``tenacity.wait_random_exponential``: uniform between 0 and
    ``min(backoff_max, backoff_base * 2**n)``); pass ``wait`` for any tenacity wait strategy.
    A server's Retry-After (seconds or HTTP-date) replaces the computed wait; one longer than
    ``max_retry_after`` is not waited for: the call fails at once and the error carries it.
    ``deadline`` (seconds) bounds the whole logical call: no retry starts whose wait would end
    after it. POST and PATCH are retried only when they carry the idempotency key their
    operation accepts (the operation's own header, from the contract: no second setting here).
    """

    max_retries: int = attrs.field(default=3, validator=_max_retries)
    backoff_base: float = attrs.field(default=0.5, validator=_positive)
    backoff_max: float = attrs.field(default=8.0, validator=_positive)
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)
    deadline: float | None = attrs.field(default=None, validator=_positive)
    retry_statuses: frozenset[int] = attrs.field(
        default=RETRYABLE_STATUSES, converter=_to_statuses, validator=_statuses
    )
    wait: wait_base | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if self.backoff_max < self.backoff_base:
            raise ConfigurationError(f"backoff_max ({self.backoff_max}) must be >= backoff_base ({self.backoff_base})")

    def wait_strategy(self) -> wait_base:
        """The tenacity wait used when the server gives no Retry-After."""
        if self.wait is not None:
            return self.wait
        return tenacity.wait_random_exponential(multiplier=self.backoff_base, max=self.backoff_max)

    def is_retryable_status(self, status: int) -> bool:
        """Whether an answer with this status is retried (408, 429 and 5xx by default)."""
        return status in self.retry_statuses

    @staticmethod
    def is_retryable_exception(exc: BaseException) -> bool:
        """Connection errors and timeouts are retried; protocol misuse and our own errors are not."""
        return isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After value: delay-seconds or an HTTP-date.

    Returns ``None`` for a missing or malformed value (the caller then uses its own backoff);
    a date in the past gives ``0.0``. ``now`` is the wall clock (epoch seconds), injectable.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        # float(), not int(): no digit-count limit; an absurdly long value becomes inf (too long to wait).
        return float(text)
    if text[0] in "+-" or text.replace(".", "", 1).isdigit():
        # Negative or fractional numbers are not valid delay-seconds (RFC 9110 10.2.3).
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now())


@attrs.frozen(slots=True)
class _BudgetConfig:
    percent: float
    min_per_second: float
    window: float


class RetryBudget:
    """Bounds retry amplification, after Finagle's RetryBudget.

    Over a sliding ``window`` (default 10 s, kept as ten one-second slots), retries may be
    at most ``percent`` (default 20%) of the requests made plus ``min_per_second`` (default
    10) per second of window. Every logical call deposits one request; every retry must
    withdraw, and a refused withdrawal stops retrying at once. Thread-safe; the lock is held
    for a few integer operations and never across I/O.
    """

    __slots__ = ("_clock", "_config", "_lock", "_requests", "_retries", "_slot_len", "_slots", "_stamps")

    def __init__(
        self,
        percent: float = 0.2,
        min_per_second: float = 10.0,
        window: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (0.0 <= percent <= 10.0) or not math.isfinite(percent):
            raise ConfigurationError(f"percent must be between 0 and 10, got {percent!r}")
        if min_per_second < 0 or not math.isfinite(min_per_second):
            raise ConfigurationError(f"min_per_second must be >= 0, got {min_per_second!r}")
        if window <= 0 or not math.isfinite(window):
            raise ConfigurationError(f"window must be > 0, got {window!r}")
        self._config = _BudgetConfig(percent, min_per_second, window)
        self._clock = clock
        self._lock = threading.Lock()
        self._slots = 10
        self._slot_len = window / self._slots
        self._requests = [0] * self._slots
        self._retries = [0] * self._slots
        self._stamps = [-1] * self._slots

    def __repr__(self) -> str:
        c = self._config
        return f"RetryBudget(percent={c.percent}, min_per_second={c.min_per_second}, window={c.window})"

    def _slot(self, now: float) -> int:
        tick = int(now / self._slot_len)
        i = tick % self._slots
        if self._stamps[i] != tick:
            self._stamps[i] = tick
            self._requests[i] = 0
            self._retries[i] = 0
        return i

    def _live(self, now: float) -> tuple[int, int]:
        tick = int(now / self._slot_len)
        oldest = tick - self._slots + 1
        requests = retries = 0
        for i in range(self._slots):
            if self._stamps[i] >= oldest:
                requests += self._requests[i]
                retries += self._retries[i]
        return requests, retries

    def deposit(self) -> None:
        """Record one logical request."""
        now = self._clock()
        with self._lock:
            self._requests[self._slot(now)] += 1

    def try_withdraw(self) -> bool:
        """Take one retry from the budget; ``False`` when it is exhausted."""
        now = self._clock()
        c = self._config
        with self._lock:
            requests, retries = self._live(now)
            allowed = c.percent * requests + c.min_per_second * c.window
            if retries + 1 > allowed:
                return False
            self._retries[self._slot(now)] += 1
            return True

    def balance(self) -> float:
        """Retries still allowed in the current window."""
        now = self._clock()
        c = self._config
        with self._lock:
            requests, retries = self._live(now)
        return max(0.0, c.percent * requests + c.min_per_second * c.window - retries)


@attrs.frozen(slots=True)
class _Testing:
    enabled: bool = False
    attempts: int = 1


_testing = _Testing()


def set_testing(testing: bool, *, attempts: int = 1) -> None:
    """The switch for your own test suite (after stamina): while on, no client waits between
    retries or for a circuit to recover, and a call makes at most ``attempts`` attempts.
    Applies to every client in the process at once; off by default."""
    global _testing
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ConfigurationError(f"attempts must be an int >= 1, got {attempts!r}")
    _testing = _Testing(bool(testing), attempts)


def is_testing() -> bool:
    """Whether the testing switch is on (:func:`set_testing`): no real sleeps, capped attempts."""
    return _testing.enabled


def attempt_cap_for_testing() -> int | None:
    """The attempt cap while testing, else ``None``."""
    t = _testing
    return t.attempts if t.enabled else None


@contextlib.contextmanager
def as_testing(*, attempts: int = 1) -> Iterator[None]:
    """``with as_testing(attempts=2): ...``: :func:`set_testing` for a block."""
    previous = _testing
    set_testing(True, attempts=attempts)
    try:
        yield
    finally:
        set_testing(previous.enabled, attempts=previous.attempts)
