"""The health check, written once: is the backend up, and does it accept the credential?

:func:`health_flow` is I/O-free and never raises for an unreachable or failing backend, nor
for any answer (any status, any body: not JSON, too large, nested too deeply): it answers
with a :class:`HealthReport` whatever happened. Each request is one attempt: not retried,
not counted in the retry budget or the metrics, neither refused nor recorded by the circuit
breaker (the report says the breaker's state, the check does not change it).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs
import httpx

from ._call import correlate
from ._errors import APIConnectionError, APIError, APIResponseValidationError, ConfigurationError
from ._errors_client import ClientClosedError, RedirectLoopError
from ._json import loads
from ._layers import EXT_PROBE
from ._operation import Operation
from ._response import status_error
from ._steps import Flow, Send

if TYPE_CHECKING:
    from ._base import _Core

__all__ = ["HealthReport"]

_HEALTHY_STATUSES: Final = frozenset({"ok", "degraded"})
#: Every ``HealthReport.reason``; only ``ok`` is truthy.
REASONS: Final = frozenset(
    {"ok", "unreachable", "unhealthy", "unauthorized", "forbidden", "rate_limited", "closed", "misconfigured"}
)
_BY_STATUS: Final = {401: "unauthorized", 403: "forbidden", 429: "rate_limited"}


def _known_reason(instance: HealthReport, attribute: object, value: str) -> None:
    if value not in REASONS:
        raise ValueError(f"unknown health reason {value!r}")
    if (value == "ok") is not instance.healthy:
        raise ValueError(f"a report is healthy exactly when its reason is 'ok', not {value!r}")


@attrs.frozen(slots=True)
class HealthReport:
    """The answer of ``health_check()``: truthy only when the backend is up (its health
    operation answered ``ok`` or ``degraded``) *and* accepted the configured credential (the
    cheapest authenticated read answered 2xx); then ``reason`` is ``ok``.

    ``reason`` otherwise: ``unreachable`` (no answer: refused, reset, timed out),
    ``unhealthy`` (an answer, but not a healthy one: a 5xx, another status, a body that is not
    a health status, a redirect loop), ``unauthorized`` (401: the credential, or its absence,
    was refused), ``forbidden`` (403), ``rate_limited`` (429), ``closed`` (the client was
    closed: nothing sent), ``misconfigured`` (the client cannot check as set up or used: no
    health operation nor listing, a credential it refuses to send over plain http, an async
    client used from another event loop). ``error`` says what happened; ``endpoint`` and
    ``http_status`` are of the answer that decided the report (for ``ok``, the health
    endpoint's); ``status`` is the health status the backend reported; ``latency`` is the
    whole check, in seconds; ``circuit_breaker`` is the breaker's state.
    """

    healthy: bool
    endpoint: str | None
    status: str | None
    http_status: int | None
    latency: float | None
    circuit_breaker: str | None
    error: str | None = None
    reason: str = attrs.field(kw_only=True, validator=_known_reason)

    @reason.default
    def _reason(self) -> str:
        return "ok" if self.healthy else "unhealthy"

    def __bool__(self) -> bool:
        return self.healthy


def health_flow(client: _Core) -> Flow[HealthReport]:
    """GET the health operation (no credential) and, when it says healthy, the listing with
    the credential; on a 404 of the health operation the listing stands in for it."""
    report = _Reporter(client)
    health, listing = client._HEALTH_OPERATION, client._HEALTH_FALLBACK
    try:
        healthy: tuple[str, httpx.Response, str | None] | None = None  # the health endpoint's "yes"
        if health is not None:
            response = yield from report.ask(health, {})
            if response.status_code != 404 or listing is None:
                if not 200 <= response.status_code < 300:
                    return report.refused(response)
                status = _health_status(response)
                if status not in _HEALTHY_STATUSES:
                    why = "no health status" if status is None else f"health status {status!r}"
                    return report.answered("unhealthy", response, status, f"the backend answered {why}")
                healthy = (health.key, response, status)
                if listing is None or not listing[0].requires_auth:
                    return report.answered("ok", response, status)  # nothing here checks the credential
        if listing is None:
            raise ConfigurationError("this API has neither a health operation nor a listing to check it with")
        answer = yield from report.ask(*listing)
        if not 200 <= answer.status_code < 300:
            return report.refused(answer)
        if healthy is None:
            return report.answered("ok", answer, "ok")  # a listing has no status: a 2xx is health enough
        report.endpoint, response, status = healthy
        return report.answered("ok", response, status)
    except APIError as exc:
        return report.failed(exc)


def refused_report(client: _Core, error: APIError) -> HealthReport:
    """The report of a check the driver refused before it began (another event loop)."""
    return _Reporter(client).failed(error)


class _Reporter:
    """Builds the report of one check: the endpoint asked last, the time since the start."""

    __slots__ = ("client", "endpoint", "started")

    def __init__(self, client: _Core) -> None:
        self.client = client
        self.endpoint: str | None = None
        self.started = time.perf_counter()

    def ask(self, op: Operation, params: Mapping[str, Any]) -> Flow[httpx.Response]:
        self.endpoint = op.key
        return probe(self.client, op, params)

    def report(self, reason: str, http_status: int | None, status: str | None, error: str | None) -> HealthReport:
        cb = self.client.circuit_breaker
        return HealthReport(
            healthy=reason == "ok",
            endpoint=self.endpoint,
            status=status,
            http_status=http_status,
            latency=time.perf_counter() - self.started,
            circuit_breaker=None if cb is None else cb.state.value,
            error=error,
            reason=reason,
        )

    def answered(
        self, reason: str, response: httpx.Response, status: str | None, error: str | None = None
    ) -> HealthReport:
        return self.report(reason, response.status_code, status, error)

    def refused(self, response: httpx.Response) -> HealthReport:
        """A non-2xx answer: what its status says about the backend or the credential."""
        code = response.status_code
        error = str(status_error(response, self.client.config.wall_clock))
        return self.report(_BY_STATUS.get(code, "unhealthy"), code, None, error)

    def failed(self, exc: APIError) -> HealthReport:
        """No usable answer, or nothing sent: why."""
        if isinstance(exc, ClientClosedError):
            reason = "closed"
        elif isinstance(exc, RedirectLoopError | APIResponseValidationError):  # an answer, a bad one
            reason = "unhealthy"
        elif isinstance(exc, APIConnectionError):
            reason = "unreachable"
        else:  # refused by the SDK: no health operation, an insecure credential, another event loop
            reason = "misconfigured"
        return self.report(reason, getattr(exc, "status_code", None), None, str(exc))


def _health_status(response: httpx.Response) -> str | None:
    """The ``status`` string of a health answer, ``None`` when the body has none."""
    try:
        data: Any = loads(response.content)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to decode
        return None
    if isinstance(data, Mapping) and isinstance(data.get("status"), str):
        return str(data["status"])
    return None


def probe(client: _Core, op: Operation, params: Mapping[str, Any]) -> Flow[httpx.Response]:
    """One attempt of ``op``, answered whatever its status. Not retried, not in the retry
    budget nor the metrics, neither refused nor recorded by the circuit breaker
    (:data:`~resilience._layers.EXT_PROBE`); a closed client refuses it
    (:class:`~resilience.ClientClosedError`), and an operation needing a credential is
    refused one bound for plain http as any call is."""
    client._check_open(op)
    kwargs: dict[str, Any] = {"url": op.route, "params": dict(params)} if params else {"url": op.route}
    request = client._build_request(op, kwargs)
    request.extensions[EXT_PROBE] = True
    correlate(request, op)
    if client._plain_http and op.requires_auth:
        client._stack.auth.check_transport(request)
    try:
        response: httpx.Response = yield Send(request)
    except httpx.HTTPError as exc:
        raise client._typed(exc, request) from exc
    return response
