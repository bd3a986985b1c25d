"""The whole transport stack, assembled in one place.

Outermost first, as a request passes through::

    httpx.Client(auth=SwitchableAuth)        credentials set once per logical call
      CorrelationTransport                   X-Request-ID, Idempotency-Key (same on every attempt)
        MetricsTransport                     one count per logical call, latency, outcome kind
          RetryTransport                     fast path; tenacity only once a retry is needed
            CircuitBreakerTransport          per attempt; an open circuit raises, no socket
              LoggingTransport               DEBUG per attempt, redacted
                CredentialGuardTransport     auth headers withheld from other origins
                  inner transport            httpx.HTTPTransport / httpx-aiohttp

Metrics and breaker layers are left out entirely when disabled.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable

import attrs
import httpx

from ._auth import SwitchableAuth
from ._breaker_registry import BreakerRegistry
from ._metrics import MetricsRecorder
from ._retry import RetryBudget, RetryPolicy
from ._transports import (
    CircuitBreakerTransport,
    CorrelationTransport,
    CredentialGuardTransport,
    LoggingTransport,
    MetricsTransport,
    RetryTransport,
)

__all__ = ["ResilienceStack", "build_transport", "default_async_transport", "default_sync_transport"]


@attrs.define(slots=True, eq=False)
class ResilienceStack:
    """The parts one client shares between its layers, for the client to expose."""

    auth: SwitchableAuth
    policy: RetryPolicy
    budget: RetryBudget | None
    breakers: BreakerRegistry | None
    metrics: MetricsRecorder | None


def default_sync_transport(
    *, verify: bool | str | ssl.SSLContext = True, limits: httpx.Limits | None = None
) -> httpx.BaseTransport:
    return httpx.HTTPTransport(verify=verify, limits=limits or httpx.Limits(max_connections=64))


def default_async_transport(
    *, verify: bool | str | ssl.SSLContext = True, max_body: int = 64 * 1024 * 1024
) -> httpx.AsyncBaseTransport:
    """Our transport on aiohttp's pool: httpx's own async pool collapses under concurrency
    (measured 761 req/s at 32 tasks against 1,641 at 1; on aiohttp, 5,090 at 32)."""
    from ._aiohttp import AiohttpTransport

    return AiohttpTransport(verify=verify, max_body=max_body)


def build_transport(
    inner: httpx.BaseTransport | httpx.AsyncBaseTransport,
    stack: ResilienceStack,
    *,
    home_origin: str,
    sleep: Callable[[float], None] = time.sleep,
    asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    max_body: int = 64 * 1024 * 1024,
) -> CorrelationTransport:
    """Wrap ``inner`` in the resilience layers, innermost first in the code below."""
    t: httpx.BaseTransport | httpx.AsyncBaseTransport = CredentialGuardTransport(
        inner, home_origin, stack.auth.sensitive_headers
    )
    t = LoggingTransport(t)
    if stack.breakers is not None:
        t = CircuitBreakerTransport(t, stack.breakers, max_body=max_body)
    t = RetryTransport(
        t,
        stack.policy,
        budget=stack.budget,
        metrics=stack.metrics,
        sleep=sleep,
        asleep=asleep,
        clock=clock,
        wall_clock=wall_clock,
        max_body=max_body,
    )
    if stack.metrics is not None:
        t = MetricsTransport(t, stack.metrics)
    return CorrelationTransport(t)
