"""Batch results: where every item of a batched call ended up. Pure data and decisions."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

import attrs

from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    CircuitOpenError,
)
from ._json import loads
from ._operation import BatchSpec

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
    replay them with the same ``idempotency_key`` and the server cannot store them twice
    (``resume=`` does). ``rejected``: what a 2xx answer whose accounting did not add up said
    it rejected, for information (those items are in ``outcome_unknown`` all the same).
    """

    start: int
    stop: int
    idempotency_key: str | None
    error: APIError
    rejected: tuple[RejectedItem, ...] = ()

    @property
    def indexes(self) -> range:
        """The caller's indexes of this chunk's items."""
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
    """Where a batched call stands, told to the ``progress`` callback after each chunk: items
    done, accepted, rejected and failed so far, of ``total``; chunks done of ``chunks_total``."""

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
    (never sent, or a definite failure after the retries) and ``outcome_unknown`` (sent, and
    no trustworthy answer: no answer, a gateway's 500/502/503/504, or a 2xx whose accounting
    does not add up). ``resume=`` re-sends both of the last two under their chunks' keys.

    ``chunk_fingerprints`` holds ``(start, stop, digest)`` of every chunk's JSON body:
    ``resume=`` checks that it is given the same items, in the same order.
    """

    operation: str
    total: int
    accepted: tuple[int, ...] = ()
    rejected: tuple[RejectedItem, ...] = ()
    not_delivered: tuple[ChunkFailure, ...] = ()
    outcome_unknown: tuple[ChunkFailure, ...] = ()
    chunks: int = 0
    dry_run: DryRun | None = None
    responses: tuple[Any, ...] = attrs.field(default=(), repr=False)
    chunk_fingerprints: tuple[tuple[int, int, str], ...] = attrs.field(default=(), repr=False)

    @property
    def accepted_count(self) -> int:
        """How many items the server accepted."""
        return len(self.accepted)

    @property
    def ok(self) -> bool:
        """Everything was accepted (a dry run is never ok: nothing was stored)."""
        return self.dry_run is None and len(self.accepted) == self.total

    @property
    def settled(self) -> bool:
        """Nothing is left to resume: the server accepted or rejected every item, or this is a
        dry run (nothing to send). ``while not result.settled`` resumes until then."""
        return self.dry_run is not None or len(self.accepted) + len(self.rejected) == self.total

    def not_delivered_indexes(self) -> list[int]:
        """The caller's indexes of every item not delivered."""
        return [i for f in self.not_delivered for i in f.indexes]

    def outcome_unknown_indexes(self) -> list[int]:
        """The caller's indexes of every item whose outcome is unknown."""
        return [i for f in self.outcome_unknown for i in f.indexes]

    def summary(self) -> dict[str, int | bool]:
        """The counts of each group; ``dry_run`` says nothing was sent (then every count but
        ``total`` and ``chunks`` is 0 and nothing failed)."""
        return {
            "dry_run": self.dry_run is not None,
            "total": self.total,
            "accepted": len(self.accepted),
            "rejected": len(self.rejected),
            "not_delivered": len(self.not_delivered_indexes()),
            "outcome_unknown": len(self.outcome_unknown_indexes()),
            "chunks": self.chunks,
        }

    def __str__(self) -> str:
        """One readable line: what happened to every item, or what a dry run would send."""
        if self.dry_run is not None:
            return (
                f"dry run of {self.operation}: would send {self.total:,} item(s) in {self.chunks} chunk(s); "
                "nothing was sent"
            )
        return (
            f"{self.operation}: accepted {len(self.accepted):,}  rejected {len(self.rejected):,}  "
            f"not delivered {len(self.not_delivered_indexes()):,}  "
            f"outcome unknown {len(self.outcome_unknown_indexes()):,}  ({self.chunks} chunk(s))"
        )


ChunkState = Literal["accepted", "not_delivered", "outcome_unknown"]


#: Answers to a POST chunk after which the backend may have stored it: an error of its own
#: after storing, or a gateway (load balancer, proxy) that gave up while the backend went on.
MAYBE_STORED_STATUSES: Final = frozenset({500, 502, 503, 504})


def fingerprint(body: bytes) -> str:
    """The digest of one chunk's JSON body: what ``resume=`` compares."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


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


def _num(n: int) -> str:
    return str(n) if -(10**12) < n < 10**12 else "(a huge number)"


def read_answer(start: int, stop: int, body: Any, spec: BatchSpec) -> tuple[list[RejectedItem], list[str]]:
    """A 2xx answer's rejections (indexes within the chunk, mapped back) and what does not add
    up in it: ``success: false``, a malformed or out-of-chunk rejection, or an accepted count
    that with the rejections is not the chunk's size. A bad entry never hides the next ones."""
    size = stop - start
    if not isinstance(body, Mapping):
        return [], ["the answer is not an object"]
    problems: list[str] = []
    if body.get("success") is False:
        problems.append("success is false")
    rf, ix = spec.rejected_field, spec.index_field
    entries = body.get(rf)
    if entries is None:
        entries = []
    elif not isinstance(entries, list):
        problems.append(f"{rf} is not a list")
        entries = []
    rejected: list[RejectedItem] = []
    seen: set[int] = set()
    for pos, entry in enumerate(entries):
        where = f"{rf}[{pos}]"
        idx = entry.get(ix) if isinstance(entry, Mapping) else None
        if not isinstance(entry, Mapping):
            problems.append(f"{where} is not an object")
        elif not isinstance(idx, int) or isinstance(idx, bool):
            problems.append(f"{where} has no integer {ix}")
        elif not 0 <= idx < size:
            problems.append(f"{where}.{ix} {_num(idx)} is outside the chunk of {size}")
        elif idx in seen:
            problems.append(f"{where}.{ix} {idx} was rejected twice")
        else:
            seen.add(idx)
            rid = entry.get(spec.id_field)
            reason = str(entry.get(spec.reason_field, ""))
            rejected.append(RejectedItem(start + idx, reason, None if rid is None else str(rid)))
    count = body.get(spec.accepted_field)
    if not isinstance(count, int) or isinstance(count, bool):
        problems.append(f"{spec.accepted_field} is not a count")
    elif count + len(entries) != size:
        problems.append(f"{spec.accepted_field} {_num(count)} + {rf} {len(entries)} != {size} items")
    return rejected, problems


def rejections_in(content: bytes, start: int, stop: int, spec: BatchSpec) -> list[RejectedItem]:
    """The well-formed rejections of a 2xx body that broke the contract; never raises."""
    try:
        data = loads(content)
    except (ValueError, RecursionError):
        return []
    return read_answer(start, stop, data, spec)[0]


def accounting_error(problems: list[str], status: int, operation: str, request_id: str | None) -> APIError:
    """The error of a chunk whose 2xx answer does not add up (it stays outcome unknown)."""
    shown = "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
    message = f"the server's accounting does not add up: {shown}"
    return APIResponseValidationError(message, status_code=status, operation=operation, request_id=request_id)


def chunk_failed(start: int, stop: int, key: str | None, error: APIError, maybe_delivered: bool) -> _ChunkOutcome:
    """Not delivered, or outcome unknown when any attempt may have reached the server (a 2xx
    we could not read, or a last answer after which the backend may have stored)."""
    unknown = (
        maybe_delivered
        or isinstance(error, APIResponseValidationError)
        or (isinstance(error, APIStatusError) and error.status_code in MAYBE_STORED_STATUSES)
    )
    if isinstance(error, CircuitOpenError | APIConnectionError) and not maybe_delivered:
        unknown = False
    return _ChunkOutcome(start, stop, key, "outcome_unknown" if unknown else "not_delivered", error=error)


def assemble(
    operation: str, total: int, outcomes: list[_ChunkOutcome], fingerprints: tuple[tuple[int, int, str], ...] = ()
) -> BatchResult:
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
            target.append(ChunkFailure(o.start, o.stop, o.key, o.error, tuple(o.rejected)))
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
        chunk_fingerprints=fingerprints,
    )
