"""One logical call, written once: correlation, metrics and retries within the budget.

:func:`call_flow` is I/O-free: it yields :class:`~resilience._steps.Send` for each attempt
and :class:`~resilience._steps.Sleep` for each wait, and decides everything else. The client
drives it above httpx's auth and redirect handling (so a redirect or an auth replay is not a
second logical call); :class:`~resilience.RetryTransport` drives it as a transport layer.
tenacity decides the retries (its sans-IO ``iter()``), built only once attempt 1 failed in a
retryable way. Before each wait it asks the breaker (:attr:`CallContext.refusal`) whether the
next attempt would be refused: then the call ends at once with that :class:`CircuitOpenError`,
chained to its last real failure, instead of sleeping for an attempt that cannot go out.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from typing import Any, Final, NoReturn

import attrs
import httpx
import tenacity

from ._body import EXT_DEADLINE, Deadline
from ._errors import APITimeoutError, CircuitOpenError, InsecureTransportError, status_error_for
from ._metrics import MetricsRecorder
from ._metrics_events import EXT_TRACE_PARENT
from ._operation import Operation, operation_of, route_key
from ._retry import IDEMPOTENT_METHODS, RetryBudget, RetryPolicy, attempt_cap_for_testing, is_testing, parse_retry_after
from ._steps import PAUSE, Flow, Send, Sleep

__all__ = ["CallRecord", "call_record_of"]

#: Where a request carries the :class:`CallRecord` of its logical call.
EXT_CALL: Final = "resilience.call"

log_retry = logging.getLogger("resilience.retry")
_rand = random.Random()  # request ids need uniqueness, not secrecy  # noqa: S311
_WRITES: Final = frozenset({"POST", "PATCH"})


def new_request_id() -> str:
    return f"{_rand.getrandbits(64):016x}"


@attrs.define(slots=True)
class CallRecord:
    """What happened during one logical call, for the layers outside it and for errors.

    ``maybe_delivered``: an attempt failed after the request may have reached the server.
    ``retry_after``: a Retry-After too long to wait for (seconds). ``budget_exhausted``: a
    retry was refused by the retry budget. ``trace``: the tracing hooks' tokens of the call
    (its span), ``None`` without any.
    """

    attempts: int = 0
    retries: int = 0
    maybe_delivered: bool = False
    budget_exhausted: bool = False
    retry_after: float | None = None
    trace: Any = None


def call_record_of(request: httpx.Request) -> CallRecord:
    """The record of the logical call a request belongs to (an empty one if none ran)."""
    record = request.extensions.get(EXT_CALL)
    return record if isinstance(record, CallRecord) else CallRecord()


@attrs.frozen(slots=True)
class CallContext:
    """What every call of one client shares: policy, budget, metrics and the clocks.

    ``refusal(request, after)``: would an attempt of ``request`` made ``after`` seconds from
    now be refused by the breaker? The :class:`CircuitOpenError` it would get, else ``None``
    (:meth:`BreakerRegistry.refusal`; ``None``: no breaker to ask).
    """

    policy: RetryPolicy
    budget: RetryBudget | None = None
    metrics: MetricsRecorder | None = None
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    timer: Callable[[], float] = time.perf_counter
    wait: tenacity.wait.wait_base = attrs.field()
    refusal: Callable[[httpx.Request, float], CircuitOpenError | None] | None = None

    @wait.default
    def _wait(self) -> tenacity.wait.wait_base:
        return self.policy.wait_strategy()


def maybe_delivered(exc: BaseException) -> bool:
    """Could the server have received (and acted on) the request before this error?"""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.UnsupportedProtocol):
        return False
    return not isinstance(exc, CircuitOpenError | InsecureTransportError)


def may_retry(request: httpx.Request, op: Operation | None) -> bool:
    """Sending twice is safe: an idempotent method, or a write carrying its operation's key."""
    if request.method in IDEMPOTENT_METHODS:
        return True
    return (
        request.method in _WRITES
        and op is not None
        and op.idempotency_header is not None
        and op.idempotency_header in request.headers
    )


def cap_timeouts(request: httpx.Request, seconds: float) -> None:
    """No phase of this attempt may outlast the overall deadline."""
    timeout = dict(request.extensions.get("timeout") or {})
    for k in ("connect", "read", "write", "pool"):
        v = timeout.get(k)
        timeout[k] = seconds if v is None else min(v, seconds)
    request.extensions["timeout"] = timeout


def outcome_kind(record: CallRecord, status: int | None, exc: BaseException | None) -> str:
    """The metrics outcome of a finished logical call."""
    if exc is not None:
        if isinstance(exc, CircuitOpenError):
            return "circuit_open"
        if record.budget_exhausted:
            return "budget_exhausted"
        if isinstance(exc, httpx.TimeoutException | APITimeoutError):
            return "timeout"
        if isinstance(exc, httpx.TransportError):
            return "connection"
        return "error"
    assert status is not None
    if status < 400:
        return "success"
    if record.budget_exhausted:
        return "budget_exhausted"
    return "4xx" if status < 500 else "5xx"


def correlate(request: httpx.Request, op: Operation | None) -> None:
    """``X-Request-ID`` per logical call and, for a keyed write, its idempotency key: set once,
    outside the retries, so every attempt carries the same values."""
    headers = request.headers
    if "x-request-id" not in headers:
        headers["X-Request-ID"] = new_request_id()
    if op is not None and op.sends_keyed_writes and request.method in _WRITES:
        name = op.idempotency_header
        assert name is not None
        if name not in headers:
            headers[name] = str(uuid.uuid4())


def call_flow(request: httpx.Request, ctx: CallContext) -> Flow[httpx.Response]:
    """One logical call: correlated, counted once in the metrics, retried per the policy.

    Attempt 1 runs in this frame; only a retryable outcome enters :func:`_retries`."""
    op = operation_of(request)
    record = CallRecord(attempts=1)
    request.extensions[EXT_CALL] = record
    correlate(request, op)
    policy = ctx.policy
    if ctx.budget is not None:
        ctx.budget.deposit()
    started = 0.0
    if policy.deadline is not None:
        started = ctx.clock()
        cap_timeouts(request, policy.deadline)
        # The body reads and the async transport end the attempt when the deadline passes.
        request.extensions[EXT_DEADLINE] = Deadline(started + policy.deadline, ctx.clock)
    m = ctx.metrics
    tr = None
    if m is not None:
        key = op.key if op is not None else route_key(request)
        op_id = op.operation_id if op is not None else None
        m.start(key, op_id, request.method)
        tr = m.tracers
        if tr is not None:  # the call's span, under its batch chunk's when it has one
            record.trace = tr.call_start(request, request.extensions.get(EXT_TRACE_PARENT))
        t0 = ctx.timer()
    try:
        try:
            response: httpx.Response = yield Send(request)
        except Exception as exc:
            if not _needs_retry(request, op, record, policy, exc):
                raise
            response = yield from _retries(request, op, record, ctx, started, exc)
        else:
            if _needs_retry(request, op, record, policy, response):
                response = yield from _retries(request, op, record, ctx, started, response)
    except BaseException as exc:
        if m is not None:
            kind = outcome_kind(record, None, exc)
            m.end(key, op_id, request.method, kind, None, ctx.timer() - t0, record.retries)
            if tr is not None:
                tr.call_end(record.trace, None, exc)
        raise
    if m is not None:
        status = response.status_code
        kind = outcome_kind(record, status, None)
        m.end(key, op_id, request.method, kind, status, ctx.timer() - t0, record.retries)
        if tr is not None:
            tr.call_end(record.trace, response, None)
    return response


def _needs_retry(
    request: httpx.Request, op: Operation | None, record: CallRecord, policy: RetryPolicy, outcome: object
) -> bool:
    """Fast-path check of attempt 1: is it worth starting the retry loop at all?"""
    if isinstance(outcome, BaseException):
        retry = policy.max_retries > 0 and policy.is_retryable_exception(outcome) and may_retry(request, op)
        if not retry and maybe_delivered(outcome):
            record.maybe_delivered = True
        return retry
    assert isinstance(outcome, httpx.Response)
    return policy.max_retries > 0 and outcome.status_code in policy.retry_statuses and may_retry(request, op)


def _retries(
    request: httpx.Request,
    op: Operation | None,
    record: CallRecord,
    ctx: CallContext,
    started: float,
    first: httpx.Response | BaseException,
) -> Flow[httpx.Response]:
    """The retries after a retryable attempt 1: tenacity's sans-IO ``iter()`` decides each
    step (attempt, sleep, or give up with the last outcome), this yields them."""
    decide = _Decisions(request, op, record, ctx, started)
    retrying = tenacity.Retrying(
        stop=decide.stop,
        wait=decide.wait,
        retry=decide.should_retry,
        before_sleep=decide.before_sleep,
        retry_error_callback=decide.give_up,
        reraise=True,
    )
    retrying.begin()
    state = tenacity.RetryCallState(retrying, None, (), {})
    _set_outcome(state, first)
    testing = is_testing()
    while True:
        do = retrying.iter(state)
        if isinstance(do, tenacity.DoAttempt):
            try:
                decide.prepare_attempt()
                outcome: httpx.Response | BaseException = yield Send(request)
            except Exception as exc:  # noqa: BLE001  (tenacity decides whether it is retried or re-raised)
                outcome = exc
            if isinstance(outcome, CircuitOpenError):  # opened meanwhile: the call ends after its last real failure
                decide.end(outcome)
            _set_outcome(state, outcome)
        elif isinstance(do, tenacity.DoSleep):
            state.prepare_for_next_attempt()
            yield PAUSE if testing else Sleep(float(do))
        else:
            assert isinstance(do, httpx.Response)
            return do


def _set_outcome(state: tenacity.RetryCallState, outcome: httpx.Response | BaseException) -> None:
    if isinstance(outcome, BaseException):
        state.set_exception((type(outcome), outcome, outcome.__traceback__))
    else:
        state.set_result(outcome)


class _Decisions:
    """The retry decisions of one logical call; tenacity asks, this answers. Pure but for
    the clock, the budget and the notes it leaves in the call's record."""

    __slots__ = ("_retry_after", "ctx", "last", "op", "record", "refused", "request", "started")

    def __init__(
        self, request: httpx.Request, op: Operation | None, record: CallRecord, ctx: CallContext, started: float
    ) -> None:
        self.request, self.op, self.record, self.ctx = request, op, record, ctx
        self.started = started  # before attempt 1: the deadline bounds the whole logical call
        self._retry_after: float | None = None
        self.last: tenacity.Future | None = None  # the outcome of the last attempt that went out
        self.refused: CircuitOpenError | None = None  # the breaker's refusal of the next attempt

    def should_retry(self, rs: tenacity.RetryCallState) -> bool:
        policy = self.ctx.policy
        outcome = rs.outcome
        assert outcome is not None
        self.last = outcome
        self._retry_after = None
        if outcome.failed:
            exc = outcome.exception()
            assert exc is not None
            if maybe_delivered(exc):
                self.record.maybe_delivered = True
            return policy.is_retryable_exception(exc) and may_retry(self.request, self.op)
        response: httpx.Response = outcome.result()
        if not (policy.is_retryable_status(response.status_code) and may_retry(self.request, self.op)):
            return False
        after = parse_retry_after(response.headers.get("retry-after"), now=self.ctx.wall_clock)
        if after is not None and after > policy.max_retry_after:
            self.record.retry_after = after
            return False
        self._retry_after = after
        return True

    def wait(self, rs: tenacity.RetryCallState) -> float:
        if self._retry_after is not None:
            return self._retry_after
        return float(self.ctx.wait(rs))

    def stop(self, rs: tenacity.RetryCallState) -> bool:
        ctx = self.ctx
        if rs.attempt_number > ctx.policy.max_retries:
            return True
        cap = attempt_cap_for_testing()
        if cap is not None and rs.attempt_number >= cap:
            return True
        if ctx.refusal is not None:  # no wait for an attempt the open circuit would refuse
            self.refused = ctx.refusal(self.request, 0.0 if is_testing() else rs.upcoming_sleep)
            if self.refused is not None:
                return True
        deadline = ctx.policy.deadline
        if deadline is not None and ctx.clock() - self.started + rs.upcoming_sleep > deadline:
            return True
        if ctx.budget is not None and not ctx.budget.try_withdraw():
            self.record.budget_exhausted = True
            return True
        return False

    def before_sleep(self, rs: tenacity.RetryCallState) -> None:
        request = self.request
        n = rs.attempt_number
        self.record.retries = n
        outcome = rs.outcome
        assert outcome is not None
        reason = type(outcome.exception()).__name__ if outcome.failed else f"HTTP {outcome.result().status_code}"
        delay = rs.upcoming_sleep
        key = self.op.key if self.op is not None else route_key(request)
        log_retry.warning(
            "retrying %s after %s in %.3fs (attempt %d of %d) [request_id=%s]",
            key,
            reason,
            delay,
            n + 1,
            self.ctx.policy.max_retries + 1,
            request.headers.get("x-request-id"),
        )
        if self.ctx.metrics is not None:
            op_id = self.op.operation_id if self.op is not None else None
            self.ctx.metrics.retry(key, op_id, n, reason, delay)

    def give_up(self, rs: tenacity.RetryCallState) -> httpx.Response:
        if self.refused is not None:
            self.end(self.refused)
        outcome = rs.outcome
        assert outcome is not None
        return outcome.result()  # type: ignore[no-any-return]  # re-raises a final exception

    def end(self, refused: CircuitOpenError) -> NoReturn:
        """End the call with the breaker's refusal of its next attempt, chained to its last real
        failure: for an answer, its typed status error."""
        last = self.last
        assert last is not None
        if not last.failed:
            response: httpx.Response = last.result()
            op_id = self.op.operation_id if self.op is not None else None
            rid = self.request.headers.get("x-request-id")
            error = status_error_for(response, operation=op_id, request_id=rid, retry_after=self._retry_after)
            raise self._refusal(refused, f"HTTP {response.status_code}") from error
        try:
            last.result()
        except Exception as exc:  # built while it is handled: the cause keeps its message, not its frames
            raise self._refusal(refused, type(exc).__name__) from exc
        raise AssertionError("a failed outcome re-raises")  # pragma: no cover

    def _refusal(self, refused: CircuitOpenError, last_failure: str) -> CircuitOpenError:
        return CircuitOpenError(
            breaker=refused.breaker,
            retry_in=refused.retry_in,
            operation=refused.operation,
            failures=refused.failures,
            last_failure=last_failure,
            request_id=self.request.headers.get("x-request-id"),
        )

    def prepare_attempt(self) -> None:
        """Before a retry: the deadline left caps this attempt's timeouts, or ends the call."""
        self.record.attempts += 1
        deadline = self.ctx.policy.deadline
        if deadline is None:
            return
        left = deadline - (self.ctx.clock() - self.started)
        if left <= 0:
            raise APITimeoutError(
                "retry deadline exceeded",
                operation=self.op.operation_id if self.op is not None else None,
                request_id=self.request.headers.get("x-request-id"),
            )
        cap_timeouts(self.request, left)
