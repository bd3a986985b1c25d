"""The events a metrics recorder hands to hooks, and the MetricsHook Protocol exporters implement."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs

__all__ = ["MetricsHook", "RequestEnd", "RequestStart", "RetryEvent"]


@attrs.frozen(slots=True)
class RequestStart:
    """A logical call started: its route key (``METHOD /route``), operation id and method."""

    key: str
    operation: str | None
    method: str


@attrs.frozen(slots=True)
class RequestEnd:
    """A logical call ended: its outcome kind, HTTP status (``None`` without an answer),
    latency in seconds and retries."""

    key: str
    operation: str | None
    method: str
    outcome: str
    status_code: int | None
    duration: float
    retries: int


@attrs.frozen(slots=True)
class RetryEvent:
    """A retry is about to wait ``delay`` seconds after ``reason`` (``HTTP 503``,
    ``ReadTimeout``...), before attempt ``attempt + 1``."""

    key: str
    operation: str | None
    attempt: int
    reason: str
    delay: float


@runtime_checkable
class MetricsHook(Protocol):
    """Plug an exporter in (Prometheus, OpenTelemetry...): implement the four methods (a
    method with nothing to do is a plain ``pass``). Hooks run outside locks; an exception in a
    hook is logged and ignored."""

    def on_request_start(self, event: RequestStart) -> None:
        """A logical call started."""

    def on_request_end(self, event: RequestEnd) -> None:
        """A logical call ended."""

    def on_retry(self, event: RetryEvent) -> None:
        """A logical call is about to retry."""

    def on_breaker_transition(self, event: object) -> None:
        """A breaker changed state (a :class:`~resilience.BreakerTransition`)."""
