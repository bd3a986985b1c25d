"""Deterministic fault injection for chaos tests.

A :class:`FaultPlan` decides, per request, whether the backend misbehaves and how. Decisions
come from a seeded :class:`random.Random` under a lock, so the same seed and the same sequence of
requests give the same faults. Only requests whose method (and route template, when
``routes`` is given) match the plan draw from it.

What each kind does, and whether a POST's items were **stored** when the client saw it:

========================  ======  ==============================================================
kind                      stored  what the client sees
========================  ======  ==============================================================
503_burst                 no      503 Error body, for this request and the next ``burst_length - 1``
                                  requests the plan applies to (no Retry-After)
429_seconds               no      429 Error body, ``Retry-After: <retry_after_seconds>`` (default 1)
429_date                  no      429 Error body, Retry-After as an HTTP-date 1 to 2 s ahead
close_before_response     no      request read, not processed; connection closed, no bytes sent
close_after_store         YES     request processed and stored; connection closed, no bytes sent
close_mid_response        YES     processed and stored; headers (full Content-Length) and half of
                                  the body sent, then the connection is closed
slow                      YES     processed and stored first, then ``slow_seconds`` of sleep
                                  (default 0.5) before the normal answer
truncated_json            YES     processed and stored; 200 with the first half of the JSON body
                                  and a Content-Length matching those bytes
html_error                no      502 with a text/html body
504_after_store           YES     processed and stored; then a gateway's 504 with a text/html body
                                  (a load balancer that gave up waiting while the backend went on)
schema_break              YES     processed and stored; 200 (when the real answer was 200) with
                                  JSON that breaks the response schema (e.g. ``accepted`` a string)
status_499                no      499 with an Error body
status_520                no      520 with an Error body
redirect_other_origin     no      307 to ``http://<redirect_host>:<port><same path>``, another
                                  origin (default host 127.0.0.2, port the backend's own)
========================  ======  ==============================================================

"Stored" kinds also record the answer under the request's Idempotency-Key, so a retry with
the same key is answered from the idempotency cache without storing again. From the client's
side every ``close_*`` kind, ``truncated_json``, ``schema_break``, ``504_after_store`` and a
``slow`` answer that outlives the client's timeout are ambiguous: it cannot tell whether the
items were stored.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from types import MappingProxyType
from typing import Final

__all__ = ["AMBIGUOUS_KINDS", "FAULT_KINDS", "STORES", "FaultPlan"]

FAULT_KINDS: Final[tuple[str, ...]] = (
    "503_burst",
    "429_seconds",
    "429_date",
    "close_before_response",
    "close_after_store",
    "close_mid_response",
    "slow",
    "truncated_json",
    "html_error",
    "504_after_store",
    "schema_break",
    "status_499",
    "status_520",
    "redirect_other_origin",
)

STORES: Final[Mapping[str, bool]] = MappingProxyType(
    {
        "503_burst": False,
        "429_seconds": False,
        "429_date": False,
        "close_before_response": False,
        "close_after_store": True,
        "close_mid_response": True,
        "slow": True,
        "truncated_json": True,
        "html_error": False,
        "504_after_store": True,
        "schema_break": True,
        "status_499": False,
        "status_520": False,
        "redirect_other_origin": False,
    }
)
"""Whether a POST hit by the fault was processed and its valid items stored."""

AMBIGUOUS_KINDS: Final[frozenset[str]] = frozenset(
    {
        "close_before_response",
        "close_after_store",
        "close_mid_response",
        "truncated_json",
        "schema_break",
        "504_after_store",
    }
)
"""Kinds after which the client cannot know whether the request took effect (plus ``slow``
when the client times out first)."""

PRE_PROCESSING_KINDS: Final[frozenset[str]] = frozenset(k for k, stored in STORES.items() if not stored)


class FaultPlan:
    """Seeded plan of faults.

    ``rate`` is the probability (0 to 1) that a request the plan applies to gets a fault;
    ``kinds`` the kinds to choose from uniformly (default: all of :data:`FAULT_KINDS`);
    ``methods`` the HTTP methods it applies to (default: all); ``routes`` the route templates
    (e.g. ``"/api/resources"``) it applies to (default: all matched routes).
    """

    def __init__(
        self,
        seed: int,
        rate: float,
        kinds: Sequence[str] | None = None,
        *,
        methods: Collection[str] | None = None,
        routes: Collection[str] | None = None,
        slow_seconds: float = 0.5,
        burst_length: int = 3,
        retry_after_seconds: int = 1,
        redirect_host: str = "127.0.0.2",
        redirect_port: int | None = None,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, got {rate!r}")
        chosen = tuple(FAULT_KINDS if kinds is None else kinds)
        unknown = [k for k in chosen if k not in STORES]
        if unknown or not chosen:
            raise ValueError(f"unknown or no fault kinds {unknown!r}; known: {', '.join(FAULT_KINDS)}")
        if slow_seconds < 0:
            raise ValueError("slow_seconds must be >= 0")
        if burst_length < 1:
            raise ValueError("burst_length must be >= 1")
        if retry_after_seconds < 0:
            raise ValueError("retry_after_seconds must be >= 0")
        self.seed = seed
        self.rate = rate
        self.kinds = chosen
        self.methods = None if methods is None else frozenset(m.upper() for m in methods)
        self.routes = None if routes is None else frozenset(routes)
        self.slow_seconds = slow_seconds
        self.burst_length = burst_length
        self.retry_after_seconds = retry_after_seconds
        self.redirect_host = redirect_host
        self.redirect_port = redirect_port
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._burst_left = 0
        self._injected: Counter[str] = Counter()
        self._decisions = 0

    def applies_to(self, method: str, route: str) -> bool:
        return (self.methods is None or method.upper() in self.methods) and (
            self.routes is None or route in self.routes
        )

    def decide(self, method: str, route: str) -> str | None:
        """The fault for this request, or ``None``. Consumes randomness only when the plan applies."""
        if not self.applies_to(method, route):
            return None
        with self._lock:
            self._decisions += 1
            if self._burst_left > 0:
                self._burst_left -= 1
                kind: str | None = "503_burst"
            elif self._rng.random() < self.rate:
                kind = self._rng.choice(self.kinds)
                if kind == "503_burst":
                    self._burst_left = self.burst_length - 1
            else:
                kind = None
            if kind is not None:
                self._injected[kind] += 1
            return kind

    @property
    def injected(self) -> dict[str, int]:
        """Faults this plan injected so far, by kind."""
        with self._lock:
            return dict(self._injected)

    @property
    def decisions(self) -> int:
        """Requests this plan was consulted for."""
        with self._lock:
            return self._decisions

    def __repr__(self) -> str:
        return (
            f"FaultPlan(seed={self.seed!r}, rate={self.rate!r}, kinds={list(self.kinds)!r}, "
            f"methods={sorted(self.methods) if self.methods else None!r})"
        )
