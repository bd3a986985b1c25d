"""One batched call, written once: validation, the chunk plan, and each chunk's procedure.

:class:`BatchRun` holds the plan and the outcomes so far; :meth:`BatchRun.chunk_flow` is
the I/O-free procedure of one chunk (send it, wait out an open circuit within
``wait_for_recovery``, or wait for a sibling chunk that is the breaker's probe). The sync
client drives the chunk flows one after another, the async client several at once.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ._batch import BatchProgress, BatchResult, ProgressCallback, _ChunkOutcome, chunk_accepted, chunk_failed
from ._call import call_record_of
from ._errors import APIError, CircuitOpenError, ConfigurationError, RequestValidationError
from ._operation import BatchSpec, Operation
from ._response import build, decode
from ._retry import is_testing
from ._steps import WAIT_SIBLING, Flow, Sleep

if TYPE_CHECKING:
    from ._base import _Core

__all__: list[str] = []  # internal: the batch procedure behind the clients


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
    undelivered and unknown chunks; unknown ones keep their Idempotency-Key, so a chunk the
    server did store is answered from its idempotency cache, not stored twice."""
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
    plan += [ChunkPlan(f.start, f.stop, str(uuid.uuid4())) for f in resume.not_delivered]
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
            self.accepted += len(outcome.accepted)
            self.rejected += len(outcome.rejected)
            if outcome.state != "accepted":
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
        if resume is not None:  # what the earlier call settled is carried over
            self.outcomes.append(_ChunkOutcome(-1, -1, None, "accepted", list(resume.accepted), list(resume.rejected)))
        self.tally = _Tally(op.operation_id, sum(c.stop - c.start for c in plan), len(plan))
        self.stopped: CircuitOpenError | None = None
        self.sending = 0  # chunks of this call on the wire now
        self.returned: Callable[[], None] = lambda: None  # the async driver's "a sibling came back"

    def result(self) -> BatchResult:
        from ._batch import assemble

        return assemble(self.op.operation_id, len(self.data), self.outcomes)

    def chunk_flow(self, chunk: ChunkPlan) -> Flow[None]:
        """Send one chunk; an open circuit is waited out within ``wait_for_recovery`` (or a
        sibling probe awaited), else this and every later chunk are refused."""
        clock = self.client.config.clock
        deadline = None if self.wait_for_recovery is None else clock() + self.wait_for_recovery
        while True:
            if self.stopped is not None:
                outcome = chunk_failed(chunk.start, chunk.stop, chunk.key, self.stopped, chunk.maybe_stored)
                break
            self.sending += 1
            try:
                outcome = yield from self._send(chunk)
            finally:
                self.sending -= 1
                self.returned()
            err = outcome.error
            if isinstance(err, CircuitOpenError) and outcome.state == "not_delivered":
                wait = err.retry_in
                if deadline is not None and wait is not None and not is_testing() and clock() + wait <= deadline:
                    # Half-open with a sibling on the wire: that sibling is the probe, its answer decides.
                    yield WAIT_SIBLING if wait == 0.0 and self.sending else Sleep(max(wait, 0.05))
                    continue
                self.stopped = err
            break
        if chunk.maybe_stored and outcome.state == "not_delivered":
            outcome.state = "outcome_unknown"
        self.outcomes.append(outcome)
        self.tally.add(outcome, self.progress)

    def _send(self, chunk: ChunkPlan) -> Flow[_ChunkOutcome]:
        """Where one sent chunk's items ended up, from the answer or the error it got."""
        client, op = self.client, self.op
        start, stop, key = chunk.start, chunk.stop, chunk.key
        refused = client._refusal(op)
        if refused is not None:
            return chunk_failed(start, stop, key, refused, False)
        kwargs = client._with_body(self.base_kwargs, client._encode(self.data[start:stop]), op, key)
        request = client._build_request(op, kwargs)
        try:
            response = yield from client._exchange(request)
            raw = decode(response, op, client.config.max_response_bytes, client._response_validator(op))
            parsed = build(raw, self.parse, response, op)
        except APIError as err:
            return chunk_failed(start, stop, key, err, call_record_of(request).maybe_delivered)
        batch = op.batch
        assert batch is not None
        return chunk_accepted(
            start,
            stop,
            key,
            raw,
            parsed,
            rejected_field=batch.rejected_field,
            index_field=batch.index_field,
            reason_field=batch.reason_field,
            id_field=batch.id_field,
        )


def prepare_items(client: _Core, op: Operation, items: Sequence[Any]) -> list[dict[str, Any]]:
    """Models or mappings to validated dicts; the first bad item raises, naming its index."""
    batch = op.batch
    if batch is None:
        raise ConfigurationError(f"{op.operation_id} does not take a batch body")
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
        raise RequestValidationError(f"{op.operation_id} takes a list of items, got {type(items).__name__}")
    if len(items) < batch.min_items:
        raise RequestValidationError(f"{op.operation_id} needs at least {batch.min_items} item(s), got 0")
    check = client._item_validator(op)
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if isinstance(item, Mapping):
            data = dict(item)
        elif hasattr(item, "to_dict"):
            data = item.to_dict()
        else:
            raise RequestValidationError(f"expected a model or a mapping, got {type(item).__name__}", index=i)
        client._check(check, data, index=i)
        out.append(data)
    return out
