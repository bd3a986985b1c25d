"""The health check, written once: the health operation, with a listing as its fallback.

:func:`health_flow` is I/O-free and never raises for an unreachable or failing backend, nor
for any answer (any status, any body: not JSON, too large, nested too deeply): it answers
with a :class:`HealthReport` whatever happened.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import httpx

from ._errors import APIError, APIStatusError, ConfigurationError
from ._operation import Operation
from ._steps import Flow

if TYPE_CHECKING:
    from ._base import _Core

__all__ = ["HealthReport"]

_HEALTHY_STATUSES = frozenset({"ok", "degraded"})


@attrs.frozen(slots=True)
class HealthReport:
    """Truthy when the backend answered and reported a healthy status (``ok``/``degraded``).
    ``latency`` is in seconds."""

    healthy: bool
    endpoint: str | None
    status: str | None
    http_status: int | None
    latency: float | None
    circuit_breaker: str | None
    error: str | None = None

    def __bool__(self) -> bool:
        return self.healthy


def health_flow(client: _Core) -> Flow[HealthReport]:
    """GET the health operation; on a 404 (no such endpoint here), the fallback listing."""
    t0 = time.perf_counter()
    endpoint: str | None = None
    used_fallback = False
    try:
        primary = client._HEALTH_OPERATION
        if primary is None:
            raise ConfigurationError("this API has no health operation")
        try:
            endpoint = primary.key
            response = yield from client._exchange_op(primary, {})
        except APIStatusError as exc:
            fallback = client._HEALTH_FALLBACK
            if exc.status_code != 404 or fallback is None:
                raise
            used_fallback = True
            endpoint = fallback[0].key
            response = yield from client._exchange_op(*fallback)
    except APIError as exc:
        return _failed(client, endpoint, exc, time.perf_counter() - t0)
    return _answered(client, endpoint, response, time.perf_counter() - t0, used_fallback)


def _breaker_state(client: _Core) -> str | None:
    cb = client.circuit_breaker
    return None if cb is None else cb.state.value


def _answered(
    client: _Core, endpoint: str | None, response: httpx.Response, latency: float, used_fallback: bool
) -> HealthReport:
    status: str | None = None
    try:
        data: Any = response.json()
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to decode
        data = None
    if used_fallback:
        # The fallback listing has no status field: a 2xx answer is health enough.
        healthy, status = True, "ok"
    elif isinstance(data, Mapping) and isinstance(data.get("status"), str):
        status = data["status"]
        healthy = status in _HEALTHY_STATUSES
    else:
        healthy = False
    return HealthReport(
        healthy=healthy,
        endpoint=endpoint,
        status=status,
        http_status=response.status_code,
        latency=latency,
        circuit_breaker=_breaker_state(client),
    )


def _failed(client: _Core, endpoint: str | None, exc: APIError, latency: float) -> HealthReport:
    return HealthReport(
        healthy=False,
        endpoint=endpoint,
        status=None,
        http_status=exc.status_code if isinstance(exc, APIStatusError) else None,
        latency=latency,
        circuit_breaker=_breaker_state(client),
        error=str(exc),
    )


def health_request_kwargs(op: Operation, params: Mapping[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"method": op.method, "url": op.route}
    if params:
        kwargs["params"] = dict(params)
    return kwargs
