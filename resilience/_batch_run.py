"""One batched call, written once: validation, the chunk plan, and each chunk's procedure.

:class:`BatchRun` holds the plan and the outcomes so far; :meth:`BatchRun.chunk_flow` is
the I/O-free procedure of one chunk (send it, wait out an open circuit within
``wait_for_recovery``, or wait for a sibling chunk that is the breaker's probe). The sync
client drives the chunk flows one after another, the async client several at once. When an
exception escapes them, :meth:`BatchRun.interrupted` turns it into one that carries the
partial, resumable result.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import httpx

from ._batch import (
    MAYBE_STORED_STATUSES,
    BatchProgress,
    BatchResult,
    ChunkState,
    ProgressCallback,
    _ChunkOutcome,
    accounting_error,
    assemble,
    chunk_failed,
    fingerprint,
    read_answer,
    rejections_in,
)
from ._call import call_record_of
from ._errors import APIError, CircuitOpenError, ConfigurationError, RequestValidationError, ResponseTooLargeError
from ._errors_client import BatchInterruptedError
from ._metrics_events import EXT_TRACE_PARENT
from ._operation import BatchSpec, Operation
from ._response import build, decode
from ._retry import is_testing
from ._steps import WAIT_SIBLING, Flow, Sleep

if TYPE_CHECKING:
    from ._base import _Core

__all__: list[str] = []  # internal: the batch procedure behind the clients

T = TypeVar("T")


@attrs.frozen(slots=True)
class ChunkPlan:
    """Items ``start`` to ``stop - 1``, sent with ``key``; ``maybe_stored``: an earlier call
    may have stored them, so a definite failure now still leaves them "outcome unknown"."""

    start: int
    stop: int
    key: str
    maybe_stored: bool = False


def chunk_size_for(batch: BatchSpec, chunk_size: int | None) -> int:
    if chunk_size is None:
        return batch.max_items or 500
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ConfigurationError(f"chunk_size must be a positive int, got {chunk_size!r}")
    if batch.max_items and chunk_size > batch.max_items:
        raise ConfigurationError(f"chunk_size {chunk_size} exceeds the operation's maxItems {batch.max_items}")
    return chunk_size


def plan_for(op: Operation, total: int, chunk_size: int | None, resume: BatchResult | None) -> list[ChunkPlan]:
    """The chunks to send. With ``resume`` (an earlier result for the same items) only its
    undelivered and unknown chunks, each under its original Idempotency-Key: a chunk the
    server did store is answered from its idempotency cache, not stored twice, and a key it
    never stored costs it nothing."""
    assert op.batch is not None
    if resume is None:
        size = chunk_size_for(op.batch, chunk_size)
        return [ChunkPlan(a, min(a + size, total), str(uuid.uuid4())) for a in range(0, total, size)]
    if resume.operation != op.operation_id or resume.total != total:
        raise ConfigurationError(
            f"resume= takes the result of an earlier {op.operation_id} call over the same {total} items, "
            f"got one of {resume.operation} over {resume.total}"
        )
    if resume.dry_run is not None:
        raise ConfigurationError("cannot resume a dry run: nothing was sent")
    plan = [ChunkPlan(f.start, f.stop, f.idempotency_key or str(uuid.uuid4()), True) for f in resume.outcome_unknown]
    plan += [ChunkPlan(f.start, f.stop, f.idempotency_key or str(uuid.uuid4())) for f in resume.not_delivered]
    return sorted(plan, key=lambda c: c.start)


class _Tally:
    """Running totals for the progress callback (task- and thread-safe enough: one lock)."""

    def __init__(self, operation: str, total: int, chunks: int) -> None:
        self.operation, self.total, self.chunks = operation, total, chunks
        self.done = self.accepted = self.rejected = self.failed = self.chunks_done = 0
        self._lock = threading.Lock()

    def add(self, outcome: _ChunkOutcome, progress: ProgressCallback | None) -> None:
        with self._lock:
            self.chunks_done += 1
            self.done += outcome.stop - outcome.start
            if outcome.state == "accepted":
                self.accepted += len(outcome.accepted)
                self.rejected += len(outcome.rejected)
            else:
                self.failed += outcome.stop - outcome.start
            event = BatchProgress(
                self.operation,
                self.total,
                self.done,
                self.accepted,
                self.rejected,
                self.failed,
                self.chunks_done,
                self.chunks,
            )
        if progress is not None:
            progress(event)


class BatchRun:
    """The state of one batched call between its chunks (a sync loop or concurrent tasks)."""

    def __init__(
        self,
        client: _Core,
        op: Operation,
        data: list[dict[str, Any]],
        plan: list[ChunkPlan],
        resume: BatchResult | None,
        *,
        make_kwargs: Callable[[], dict[str, Any]],
        parse: Callable[[Any], Any],
        progress: ProgressCallback | None,
        wait_for_recovery: float | None,
    ) -> None:
        self.client, self.op, self.data, self.plan = client, op, data, plan
        self.base_kwargs: Mapping[str, Any] = make_kwargs()
        self.parse = parse
        self.progress = progress
        self.wait_for_recovery = wait_for_recovery
        self.outcomes: list[_ChunkOutcome] = []
        self.prints: dict[int, tuple[int, int, str]] = {}  # chunk start -> (start, stop, fingerprint)
        if resume is not None:  # what the earlier call settled is carried over
            self.prints = self._same_items(resume)
            self.outcomes.append(_ChunkOutcome(-1, -1, None, "accepted", list(resume.accepted), list(resume.rejected)))
        self.tally = _Tally(op.operation_id, sum(c.stop - c.start for c in plan), len(plan))
        self.stopped: CircuitOpenError | None = None
        self.maybe_stored: set[int] = set()  # chunks (by start) this call may have stored
        self.sending = 0  # chunks of this call on the wire now
        self.returned: Callable[[], None] = lambda: None  # the async driver's "a sibling came back"
        self.bodies: dict[int, bytes] = {}  # chunk start -> body encoded ahead (outbox, replay)
        #: The outbox's hook: told each chunk's outcome once (settle it, or leave it pending).
        self.on_outcome: Callable[[ChunkPlan, _ChunkOutcome], None] | None = None
        self.told: set[int] = set()
        metrics = client.metrics
        self.tracers = metrics.tracers if metrics is not None else None
        self.trace: Any = None  # the tracing hooks' tokens of the batch (its span)
        self.failure: BaseException | None = None  # what interrupted it
        if self.tracers is not None:
            self.trace = self.tracers.batch_start(op, self.tally.total, len(plan))

    def result(self) -> BatchResult:
        for c in self.plan:  # chunks this call did not encode (refused, or never sent)
            if c.start not in self.prints:
                self.prints[c.start] = (c.start, c.stop, self._fingerprint(c.start, c.stop))
        prints = tuple(sorted(self.prints.values()))
        result = assemble(self.op.operation_id, len(self.data), self.outcomes, prints)
        self._end_trace()
        return result

    def abandon(self, exc: BaseException) -> None:
        """The batch ends before any chunk went out (its outbox refused it): its span ends with ``exc``."""
        self.failure = exc
        self._end_trace()

    def _end_trace(self) -> None:
        if self.tracers is not None and self.trace is not None:
            self.tracers.batch_end(self.trace, self.items_by_outcome(), self.failure)
            self.trace = None

    def items_by_outcome(self) -> dict[str, int]:
        """The items this call sent (not those a resumed call carried over) by outcome."""
        items = dict.fromkeys(("accepted", "rejected", "outcome_unknown", "not_delivered"), 0)
        for o in self.outcomes:
            if o.start < 0:
                continue
            if o.state == "accepted":
                items["accepted"] += len(o.accepted)
                items["rejected"] += len(o.rejected)
            else:
                items[o.state] += o.stop - o.start
        return items

    def interrupted(self, exc: BaseException) -> BaseException:
        """What to raise for ``exc`` escaping the batch; either way it carries the partial
        result. A chunk still without an outcome was not sent (not delivered, under its planned
        key), unless an earlier call may have stored it; :meth:`_send` recorded the one on the wire.
        """
        cause = type(exc).__name__
        self.failure = exc
        done = {o.start for o in self.outcomes}
        for c in self.plan:
            if c.start not in done:
                error = BatchInterruptedError(f"not sent: the batch was interrupted by {cause}")
                stored = c.maybe_stored or c.start in self.maybe_stored
                state: ChunkState = "outcome_unknown" if stored else "not_delivered"
                self.outcomes.append(_ChunkOutcome(c.start, c.stop, c.key, state, error=error))
        plans = {c.start: c for c in self.plan}
        for o in list(self.outcomes):  # the outbox hears of the chunks that were never told
            if o.start in plans and o.start not in self.told:
                self._tell(plans[o.start], o)
        result = self.result()
        if not isinstance(exc, Exception):  # KeyboardInterrupt, CancelledError...: re-raised as themselves
            exc.result = result  # type: ignore[attr-defined]
            return exc
        n = result.summary()
        return BatchInterruptedError(
            f"{self.op.operation_id} interrupted by {cause}: of {n['total']} items {n['accepted']} accepted, "
            f"{n['rejected']} rejected, {n['outcome_unknown']} of unknown outcome, {n['not_delivered']} not "
            "delivered; pass this error's .result as resume= with the same items to finish",
            result=result,
        )

    def _fingerprint(self, start: int, stop: int) -> str:
        return fingerprint(self.client._encode(self.data[start:stop]))

    def _same_items(self, resume: BatchResult) -> dict[int, tuple[int, int, str]]:
        """The earlier call's chunk fingerprints, checked against these items (nothing is sent
        when they differ: its chunks and keys would be wrong for them)."""
        prints = sorted(resume.chunk_fingerprints)
        edges = [0] + [stop for _, stop, _ in prints]
        if not prints or [start for start, _, _ in prints] != edges[:-1] or edges[-1] != len(self.data):
            raise ConfigurationError("resume= takes a result this SDK returned: this one has no chunk fingerprints")
        for start, stop, digest in prints:
            if self._fingerprint(start, stop) != digest:
                raise ConfigurationError(
                    f"resume= was given not the items of the call it resumes: items {start} to {stop - 1} "
                    "differ (pass the same items, in the same order)"
                )
        return {start: (start, stop, digest) for start, stop, digest in prints}

    def chunk_flow(self, chunk: ChunkPlan) -> Flow[None]:
        """Send one chunk; an open circuit is waited out within ``wait_for_recovery`` (or a
        sibling probe awaited) and the chunk re-sent under its key, else this and every later
        chunk are refused. With tracing hooks, the chunk's span holds its calls."""
        tr = self.tracers
        if tr is None:
            yield from self._chunk_flow(chunk, None)
            return
        span = tr.chunk_start(self.trace, chunk.start, chunk.stop)
        try:
            outcome = yield from self._chunk_flow(chunk, span)
        except BaseException as exc:
            state = next((o.state for o in reversed(self.outcomes) if o.start == chunk.start), "not_delivered")
            tr.chunk_end(span, state, 0, 0, exc)
            raise
        tr.chunk_end(span, outcome.state, len(outcome.accepted), len(outcome.rejected), outcome.error)

    def _chunk_flow(self, chunk: ChunkPlan, trace: Any) -> Flow[_ChunkOutcome]:
        clock = self.client.config.clock
        deadline = None if self.wait_for_recovery is None else clock() + self.wait_for_recovery
        while True:
            if self.stopped is not None:
                outcome = chunk_failed(chunk.start, chunk.stop, chunk.key, self.stopped, False)
                break
            self.sending += 1
            try:
                outcome = yield from self._send(chunk, trace)
            finally:
                self.sending -= 1
                self.returned()
            if outcome.state == "outcome_unknown":  # whatever comes next, it may be stored
                self.maybe_stored.add(chunk.start)
            err = outcome.error
            if isinstance(err, CircuitOpenError):
                wait = err.retry_in
                if deadline is not None and wait is not None and not is_testing() and clock() + wait <= deadline:
                    # Half-open with a sibling on the wire: that sibling is the probe, its answer decides.
                    yield WAIT_SIBLING if wait == 0.0 and self.sending else Sleep(max(wait, 0.05))
                    continue
                self.stopped = err
            break
        if outcome.state == "not_delivered" and (chunk.maybe_stored or chunk.start in self.maybe_stored):
            outcome.state = "outcome_unknown"
        self.outcomes.append(outcome)
        self._tell(chunk, outcome)
        self.tally.add(outcome, self.progress)
        return outcome

    def _tell(self, chunk: ChunkPlan, outcome: _ChunkOutcome) -> None:
        if self.on_outcome is not None:
            self.told.add(chunk.start)
            self.on_outcome(chunk, outcome)

    def _send(self, chunk: ChunkPlan, trace: Any = None) -> Flow[_ChunkOutcome]:
        """Where one sent chunk's items ended up; an exception escaping while the chunk is on
        the wire leaves it "outcome unknown" (with its key) for the partial result."""
        client, op = self.client, self.op
        start, stop, key = chunk.start, chunk.stop, chunk.key
        refused = client._refusal(op, trace)
        if refused is not None:
            return chunk_failed(start, stop, key, refused, False)
        body = self.bodies.get(start)
        if body is None:
            body = client._encode(self.data[start:stop])
        if start not in self.prints:
            self.prints[start] = (start, stop, fingerprint(body))
        request = client._build_request(op, client._with_body(self.base_kwargs, body, op, key))
        if trace is not None:  # the call's span goes under the chunk's
            request.extensions[EXT_TRACE_PARENT] = trace
        try:
            return (yield from self._answer(chunk, request))
        except BaseException as exc:
            error = BatchInterruptedError(f"interrupted by {type(exc).__name__} while the chunk was on the wire")
            self.outcomes.append(_ChunkOutcome(start, stop, key, "outcome_unknown", error=error))
            raise

    def _answer(self, chunk: ChunkPlan, request: httpx.Request) -> Flow[_ChunkOutcome]:
        """The outcome from the answer or the error: a 2xx is trusted only when its own
        accounting adds up (else outcome unknown, with what it said it rejected)."""
        client, op, batch = self.client, self.op, self.op.batch
        assert batch is not None
        start, stop, key = chunk.start, chunk.stop, chunk.key
        statuses: set[int] = set()
        try:
            response = yield from noting_statuses(client._exchange(request), statuses)
        except APIError as err:  # a 500/502/503/504 to any attempt: the backend may have stored it
            stored = call_record_of(request).maybe_delivered or not statuses.isdisjoint(MAYBE_STORED_STATUSES)
            return chunk_failed(start, stop, key, err, stored)
        try:
            raw = decode(response, op, client.config.max_response_bytes, client._response_validator(op))
        except APIError as err:  # a 2xx we could not read: processed, outcome unknown
            outcome = chunk_failed(start, stop, key, err, True)
            if not isinstance(err, ResponseTooLargeError):
                outcome.rejected = rejections_in(response.content, start, stop, batch)
            return outcome
        rejected, problems = read_answer(start, stop, raw, batch)
        if problems:
            rid = request.headers.get("x-request-id")
            wrong = accounting_error(problems, response.status_code, op.operation_id, rid)
            return _ChunkOutcome(start, stop, key, "outcome_unknown", rejected=rejected, error=wrong)
        try:
            parsed = build(raw, self.parse, response, op)
        except APIError as err:
            return chunk_failed(start, stop, key, err, True)
        refused = {r.index for r in rejected}
        accepted = [i for i in range(start, stop) if i not in refused] if refused else list(range(start, stop))
        return _ChunkOutcome(start, stop, key, "accepted", accepted, rejected, None, parsed)


def noting_statuses(flow: Flow[T], statuses: set[int]) -> Flow[T]:
    """``flow``'s steps, passed through unchanged, noting the status of every attempt's answer
    (the call procedure keeps only the last one)."""
    outcome: Any = None
    failure: BaseException | None = None
    while True:
        try:
            step = flow.send(outcome) if failure is None else flow.throw(failure)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        outcome = failure = None
        try:
            outcome = yield step
        except BaseException as exc:  # noqa: BLE001  (back into the flow, which decides)
            failure = exc
        else:
            if isinstance(outcome, httpx.Response):
                statuses.add(outcome.status_code)


def prepare_items(
    client: _Core, op: Operation, items: Sequence[Any], *, encoded_later: bool = False
) -> list[dict[str, Any]]:
    """Models or mappings to validated dicts (a plain dict is used as given, not copied: it
    must not change while the call runs); the first bad item raises, naming its index.
    ``encoded_later``: the caller encodes every item with ``client._encode_slices`` before
    anything is sent (an outbox records every body first), which checks what JSON cannot carry."""
    batch = op.batch
    if batch is None:
        raise ConfigurationError(f"{op.operation_id} does not take a batch body")
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
        raise RequestValidationError(f"{op.operation_id} takes a list of items, got {type(items).__name__}")
    if len(items) < batch.min_items:
        raise RequestValidationError(f"{op.operation_id} needs at least {batch.min_items} item(s), got 0")
    check = client._item_validator(op)
    # Plain dicts are read where they are: a copy of each costs more than all our checks (GC).
    out: list[dict[str, Any]] = list(items) if set(map(type, items)) == {dict} else _as_dicts(items)
    client._check_items(check, out, encoded_later=encoded_later)  # one call for the lot; a bad item pays
    return out


def _as_dicts(items: Sequence[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if type(item) is dict:
            data = item
        elif isinstance(item, Mapping):
            data = dict(item)
        elif hasattr(item, "to_dict"):
            data = item.to_dict()
        else:
            raise RequestValidationError(f"expected a model or a mapping, got {type(item).__name__}", index=i)
        out.append(data)
    return out
