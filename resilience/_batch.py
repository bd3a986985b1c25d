"""Batch results: where every item of a batched call ended up. Pure data and decisions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs

from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    CircuitOpenError,
)

__all__ = [
    "BatchProgress",
    "BatchResult",
    "ChunkFailure",
    "DryRun",
    "ProgressCallback",
    "RejectedItem",
]


@attrs.frozen(slots=True)
class RejectedItem:
    """An item the server refused; ``index`` is its position in the caller's list."""

    index: int
    reason: str
    id: str | None = None


@attrs.frozen(slots=True)
class ChunkFailure:
    """Items ``start`` to ``stop - 1`` of the caller's list, and why.

    In ``not_delivered`` the server did not store them. In ``outcome_unknown`` it may have:
    replay them with the same ``idempotency_key`` and the server cannot store them twice.
    """

    start: int
    stop: int
    idempotency_key: str | None
    error: APIError

    @property
    def indexes(self) -> range:
        return range(self.start, self.stop)


@attrs.frozen(slots=True)
class DryRun:
    """What a call would have sent. Nothing was sent and nothing counts as accepted."""

    operation: str
    method: str
    route: str
    item_count: int
    chunks: tuple[tuple[int, int], ...]
    body_preview: str = ""

    def __bool__(self) -> bool:
        return True


@attrs.frozen(slots=True)
class BatchProgress:
    operation: str
    total: int
    done: int
    accepted: int
    rejected: int
    failed: int
    chunks_done: int
    chunks_total: int


ProgressCallback = Callable[[BatchProgress], None]


@attrs.frozen(slots=True)
class BatchResult:
    """Every item of the call is in exactly one of four groups:
    ``accepted`` (indexes), ``rejected`` (by the server, with reasons), ``not_delivered``
    (never sent, or a definite failure after the retries) and ``outcome_unknown`` (sent, no
    answer: replay with the chunk's idempotency key)."""

    operation: str
    total: int
    accepted: tuple[int, ...] = ()
    rejected: tuple[RejectedItem, ...] = ()
    not_delivered: tuple[ChunkFailure, ...] = ()
    outcome_unknown: tuple[ChunkFailure, ...] = ()
    chunks: int = 0
    dry_run: DryRun | None = None
    responses: tuple[Any, ...] = attrs.field(default=(), repr=False)

    @property
    def accepted_count(self) -> int:
        return len(self.accepted)

    @property
    def ok(self) -> bool:
        """Everything was accepted (a dry run is never ok: nothing was stored)."""
        return self.dry_run is None and len(self.accepted) == self.total

    def not_delivered_indexes(self) -> list[int]:
        return [i for f in self.not_delivered for i in f.indexes]

    def outcome_unknown_indexes(self) -> list[int]:
        return [i for f in self.outcome_unknown for i in f.indexes]

    def summary(self) -> dict[str, int]:
        return {
            "total": self.total,
            "accepted": len(self.accepted),
            "rejected": len(self.rejected),
            "not_delivered": len(self.not_delivered_indexes()),
            "outcome_unknown": len(self.outcome_unknown_indexes()),
            "chunks": self.chunks,
        }


def plan_chunks(total: int, size: int) -> list[tuple[int, int]]:
    if size < 1:
        raise ValueError("chunk size must be >= 1")
    return [(start, min(start + size, total)) for start in range(0, total, size)]


ChunkState = Literal["accepted", "not_delivered", "outcome_unknown"]


@attrs.define(slots=True)
class _ChunkOutcome:
    start: int
    stop: int
    key: str | None
    state: ChunkState
    accepted: list[int] = attrs.field(factory=list)
    rejected: list[RejectedItem] = attrs.field(factory=list)
    error: APIError | None = None
    parsed: Any = None


def chunk_accepted(
    start: int,
    stop: int,
    key: str | None,
    body: Mapping[str, Any],
    parsed: Any,
    *,
    rejected_field: str,
    index_field: str,
    reason_field: str,
    id_field: str,
) -> _ChunkOutcome:
    """A 2xx answer: the server's rejected list (indexes within the chunk) mapped back."""
    rejected: list[RejectedItem] = []
    seen: set[int] = set()
    for entry in body.get(rejected_field) or ():
        if not isinstance(entry, Mapping):
            continue
        idx = entry.get(index_field)
        if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < stop - start or idx in seen:
            continue
        seen.add(idx)
        rid = entry.get(id_field)
        rejected.append(
            RejectedItem(
                index=start + idx,
                reason=str(entry.get(reason_field, "")),
                id=None if rid is None else str(rid),
            )
        )
    accepted = [i for i in range(start, stop) if (i - start) not in seen]
    return _ChunkOutcome(start, stop, key, "accepted", accepted, rejected, None, parsed)


def chunk_failed(start: int, stop: int, key: str | None, error: APIError, maybe_delivered: bool) -> _ChunkOutcome:
    """Not delivered, or outcome unknown when any attempt may have reached the server."""
    unknown = maybe_delivered or (
        isinstance(error, APIResponseValidationError)  # a 2xx we could not read: it was processed
    )
    if isinstance(error, CircuitOpenError | APIConnectionError) and not maybe_delivered:
        unknown = False
    return _ChunkOutcome(start, stop, key, "outcome_unknown" if unknown else "not_delivered", error=error)


def assemble(operation: str, total: int, outcomes: list[_ChunkOutcome]) -> BatchResult:
    outcomes = sorted(outcomes, key=lambda o: o.start)
    real = [o for o in outcomes if o.start >= 0]  # start -1: what a resumed call carried over
    accepted: list[int] = []
    rejected: list[RejectedItem] = []
    not_delivered: list[ChunkFailure] = []
    unknown: list[ChunkFailure] = []
    responses: list[Any] = []
    for o in outcomes:
        if o.state == "accepted":
            accepted.extend(o.accepted)
            rejected.extend(o.rejected)
            responses.append(o.parsed)
        else:
            assert o.error is not None
            target = unknown if o.state == "outcome_unknown" else not_delivered
            target.append(ChunkFailure(o.start, o.stop, o.key, o.error))
    accepted.sort()
    rejected.sort(key=lambda r: r.index)
    return BatchResult(
        operation=operation,
        total=total,
        accepted=tuple(accepted),
        rejected=tuple(rejected),
        not_delivered=tuple(not_delivered),
        outcome_unknown=tuple(unknown),
        chunks=len(real),
        responses=tuple(responses),
    )
