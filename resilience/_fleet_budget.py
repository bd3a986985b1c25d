"""The fleet retry budget: RetryBudget's token bucket counted fleet-wide in Redis, with local leases.

Each logical call still deposits locally (so the local budget is ready the moment Redis is out of
reach); the deposits are also summed and flushed to the fleet by the fleet sync. A retry takes a
token from a small lease the sync took from the fleet's budget ahead of need (tokens leased are
counted as retries fleet-wide at once, so the fleet never overdraws; unused ones are given back at
the next sync). An empty lease refuses the retry and asks the next sync for a larger one. While the
fleet is unknown the local :class:`RetryBudget` decides. Nothing here does I/O.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from ._fleet_store import FleetSettings, ScriptCall
from ._retry import RetryBudget

__all__ = ["FleetRetryBudget"]

_MAX_LEASE: Final = 64


class FleetRetryBudget(RetryBudget):
    """A :class:`RetryBudget` counted across the fleet (same ``percent``, ``min_per_second`` and
    ``window``). ``balance()`` is the fleet's balance as last read plus this worker's lease."""

    __slots__ = (
        "_deposits",
        "_ensure",
        "_fleet_lock",
        "_key",
        "_lease",
        "_left",
        "_min_lease",
        "_script_cfg",
        "_used",
        "_want",
    )

    def __init__(
        self,
        local: RetryBudget,
        *,
        key: str,
        settings: FleetSettings,
        clock: Callable[[], float] = time.monotonic,
        ensure: Callable[[], None] = lambda: None,
    ) -> None:
        c = local._config
        super().__init__(c.percent, c.min_per_second, c.window, clock=clock)
        self._key: Final = key
        self._ensure: Final = ensure  # starts the async client's sync task on its loop
        self._fleet_lock: Final = threading.Lock()
        self._script_cfg: Final = json.dumps(
            {"percent": c.percent, "min_per_second": c.min_per_second, "window_ms": round(c.window * 1000)}
        )
        self._deposits = 0
        self._lease: int | None = None  # None: the fleet is unknown, the local budget decides
        self._used = 0
        self._min_lease: Final = settings.lease
        self._want = settings.lease
        self._left = 0.0

    def __repr__(self) -> str:
        return "Fleet" + super().__repr__()

    def deposit(self) -> None:
        """Record one logical request, locally and for the next flush to the fleet."""
        super().deposit()
        with self._fleet_lock:
            self._deposits += 1
        if self._lease is None:
            self._ensure()

    def try_withdraw(self) -> bool:
        """Take one retry from this worker's lease (the local budget while the fleet is unknown)."""
        with self._fleet_lock:
            lease = self._lease
            if lease is not None:
                if lease > 0:
                    self._lease = lease - 1
                    self._used += 1
                    return True
                self._want = min(_MAX_LEASE, max(2 * self._want, 2))
                return False
        return super().try_withdraw()

    def balance(self) -> float:
        """The fleet's balance as last read plus this worker's lease (the local one while unknown)."""
        with self._fleet_lock:
            if self._lease is not None:
                return self._left + self._lease
        return super().balance()

    # the fleet sync's side --------------------------------------------------------------------

    @property
    def fleet_known(self) -> bool:
        """Whether the fleet's budget decides (``False``: the local one, Redis out of reach)."""
        return self._lease is not None

    def plan(self, now_ms: int | None = None) -> list[ScriptCall]:
        """One ``budget`` call: flush the deposits, top the lease up to what the last interval used
        (at least ``settings.lease``), give back what is over that."""
        with self._fleet_lock:
            deposits, self._deposits = self._deposits, 0
            used, self._used = self._used, 0
            target = min(_MAX_LEASE, max(self._min_lease, 2 * used, self._want))
            self._want = self._min_lease
            lease = self._lease or 0
            back, ask = max(0, lease - target), max(0, target - lease)
            if self._lease is not None:
                self._lease = lease - back
        now = "" if now_ms is None else str(now_ms)
        return [ScriptCall("budget", (self._key,), (self._script_cfg, now, deposits, back, ask))]

    def apply(self, replies: list[Any]) -> None:
        """Take the fleet's answer to :meth:`plan`: the tokens granted and the balance left."""
        granted, left = replies[0]
        with self._fleet_lock:
            self._lease = (self._lease or 0) + int(granted)
            self._left = max(0.0, float(left.decode() if isinstance(left, bytes) else left))

    def unknown(self) -> None:
        """Redis is out of reach: the local budget decides until the fleet is back."""
        with self._fleet_lock:
            self._lease = None
            self._deposits = 0
            self._used = 0
