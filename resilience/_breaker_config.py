"""Circuit breaker configuration and the values a breaker hands out: states, outcomes, permits, events, snapshots."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable
from typing import Literal, Protocol

import attrs

from ._errors import ConfigurationError

__all__ = [
    "BreakerListener",
    "BreakerSnapshot",
    "BreakerTransition",
    "CircuitBreakerConfig",
    "CircuitState",
    "Outcome",
    "Permit",
    "classify_status",
]


class CircuitState(enum.Enum):
    """A breaker's state: closed (calls pass), open (refused), half-open (probes pass),
    forced open or disabled by hand."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    DISABLED = "disabled"


class Outcome(enum.Enum):
    """How a call counts for the breaker. IGNORED is neither a success nor a failure."""

    SUCCESS = "success"
    FAILURE = "failure"
    IGNORED = "ignored"


def classify_status(status: int) -> Outcome:
    """5xx (and anything above) and 429 are failures; 2xx and 3xx successes; other statuses ignored.

    A 404 or 422 says the request was wrong, not that the server is unwell. Connection errors and
    timeouts have no status: the transport records them as :attr:`Outcome.FAILURE` itself.
    """
    if status >= 500 or status == 429:
        return Outcome.FAILURE
    if 200 <= status < 400:
        return Outcome.SUCCESS
    return Outcome.IGNORED


def describe_failures(kinds: Iterable[int | str | None]) -> tuple[tuple[str, int], ...]:
    """What opened a breaker, from what :meth:`CircuitBreaker.record` was told failed (an HTTP
    status, an exception's type name): each kind (``"HTTP 503"``, ``"ConnectError"``) with its
    count, most frequent first."""
    counts: dict[str, int] = {}
    for kind in kinds:
        name = f"HTTP {kind}" if isinstance(kind, int) else kind or "unspecified"
        counts[name] = counts.get(name, 0) + 1
    return tuple(sorted(counts.items(), key=lambda item: -item[1]))


# -- configuration -----------------------------------------------------------------------------


def _int_at_least(minimum: int) -> Callable[[object, attrs.Attribute[int], int], None]:
    def check(_: object, attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigurationError(f"{attribute.name} must be an int >= {minimum}, got {value!r}")

    return check


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _positive_seconds(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"{attribute.name} must be a finite number of seconds > 0, got {value!r}")


def _rate(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not _is_number(value) or not 0 < value <= 1:  # also rejects NaN
        raise ConfigurationError(f"{attribute.name} must be a number in (0, 1], got {value!r}")


def _one_of(*allowed: str) -> Callable[[object, attrs.Attribute[str], str], None]:
    def check(_: object, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in allowed:
            raise ConfigurationError(f"{attribute.name} must be one of {allowed!r}, got {value!r}")

    return check


def _minimum_calls(config: CircuitBreakerConfig, attribute: attrs.Attribute[int], value: int) -> None:
    _int_at_least(1)(config, attribute, value)
    # Validators run in field order, so mode and window_size are already checked here.
    if config.mode == "rate" and value > config.window_size:
        raise ConfigurationError(
            f"minimum_calls ({value}) must be <= window_size ({config.window_size}) in rate mode, "
            "or the breaker could never open"
        )


@attrs.frozen(slots=True, kw_only=True)
class CircuitBreakerConfig:
    """How a breaker opens and recovers. Immutable; use :func:`attrs.evolve`.

    Count mode opens after ``failure_threshold`` consecutive failures. Rate mode keeps the last
    ``window_size`` recorded outcomes and opens once at least ``minimum_calls`` are in the window
    and failures / calls >= ``failure_rate_threshold``. An open breaker lets a probe through after
    ``recovery_timeout`` seconds; at most ``half_open_max_calls`` probes are out at once, and
    ``success_threshold`` consecutive probe successes close it. ``scope`` says whether a
    :class:`BreakerRegistry` keeps one breaker per origin or per origin and operation.
    """

    failure_threshold: int = attrs.field(default=5, validator=_int_at_least(1))
    recovery_timeout: float = attrs.field(default=60.0, validator=_positive_seconds)
    success_threshold: int = attrs.field(default=3, validator=_int_at_least(1))
    half_open_max_calls: int = attrs.field(default=1, validator=_int_at_least(1))
    mode: Literal["count", "rate"] = attrs.field(default="count", validator=_one_of("count", "rate"))
    window_size: int = attrs.field(default=20, validator=_int_at_least(1))
    minimum_calls: int = attrs.field(default=10, validator=_minimum_calls)
    failure_rate_threshold: float = attrs.field(default=0.5, validator=_rate)
    scope: Literal["origin", "operation"] = attrs.field(default="origin", validator=_one_of("origin", "operation"))


# -- values handed out -------------------------------------------------------------------------


@attrs.frozen(slots=True, eq=False)
class Permit:
    """Proof that :meth:`CircuitBreaker.acquire` admitted a call; give it back to ``record``.

    Compared by identity. ``probe`` is true for a half-open probe.
    """

    generation: int
    probe: bool


@attrs.frozen
class BreakerTransition:
    """One state change, as given to listeners."""

    breaker: str
    old_state: CircuitState
    new_state: CircuitState
    at: float
    reason: str


class BreakerListener(Protocol):
    """Called once per transition, outside the breaker's lock. Positional-only, so any one-argument
    callable fits (``list.append``, a bound method, a function whatever it names its parameter)."""

    def __call__(self, event: BreakerTransition, /) -> None: ...


@attrs.frozen
class BreakerSnapshot:
    """A consistent view of one breaker for metrics and debugging.

    ``failure_count`` is the run of consecutive failures (count mode) or the failures in the
    window (rate mode); ``calls_in_window`` and ``failure_rate`` are 0 and ``None`` in count mode.
    ``retry_in`` is the seconds until a probe may go out: the time left when OPEN, 0.0 when
    HALF_OPEN, ``None`` otherwise. ``opened_at`` is set only when OPEN or FORCED_OPEN.
    ``rejected_count`` counts since the last ``reset()``, ``transitions`` since creation.
    """

    name: str
    state: CircuitState
    failure_count: int
    success_count: int
    calls_in_window: int
    failure_rate: float | None
    rejected_count: int
    opened_at: float | None
    retry_in: float | None
    transitions: int
    probes_out: int = 0

    def as_dict(self) -> dict[str, object]:
        """The snapshot as a plain dict (the old client's form)."""
        data = attrs.asdict(self, recurse=False)
        data["state"] = self.state.value
        return data
