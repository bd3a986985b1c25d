"""The events a metrics recorder hands to hooks, and the MetricsHook Protocol exporters implement."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs

__all__ = ["MetricsHook", "RequestEnd", "RequestStart", "RetryEvent"]


@attrs.frozen(slots=True)
class RequestStart:
    key: str
    operation: str | None
    method: str


@attrs.frozen(slots=True)
class RequestEnd:
    key: str
    operation: str | None
    method: str
    outcome: str
    status_code: int | None
    duration: float
    retries: int


@attrs.frozen(slots=True)
class RetryEvent:
    key: str
    operation: str | None
    attempt: int
    reason: str
    delay: float


@runtime_checkable
class MetricsHook(Protocol):
    """Plug an exporter in (Prometheus, OpenTelemetry...). Every method is optional in spirit:
    subclass :class:`NoopHook`-style and override what you need. Hooks run outside locks;
    an exception in a hook is logged and ignored."""

    def on_request_start(self, event: RequestStart) -> None: ...

    def on_request_end(self, event: RequestEnd) -> None: ...

    def on_retry(self, event: RetryEvent) -> None: ...

    def on_breaker_transition(self, event: object) -> None: ...
