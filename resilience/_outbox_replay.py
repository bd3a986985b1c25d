"""The outbox in a client: recording a batch before it is sent, settling it, replaying it.

Each stored chunk is replayed through :meth:`BatchRun.chunk_flow`, the batch's own procedure,
written once. Store calls are made inline, on the driving thread or event loop: they are short
local SQLite transactions (WAL), cheaper than a hop to a worker thread, and never touch the
network.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._batch import _ChunkOutcome
from ._batch_run import BatchRun, ChunkPlan
from ._errors import APIStatusError, CircuitOpenError
from ._errors_client import BatchInterruptedError
from ._outbox import DeadLetter, NewChunk, Outbox, OutboxStats, ReplayReport, StoredChunk
from ._outbox_sqlite import SQLiteOutbox, new_owner
from ._steps import Flow

if TYPE_CHECKING:
    import os

    from ._base import _Core
    from ._operation import Operation

__all__ = ["AsyncClientOutbox", "ClientOutbox"]

#: 4xx answers that may pass: a timeout, a key still in progress, too early, too many requests,
#: a proxy's "client closed the request".
_PASSING_4XX = frozenset({408, 409, 425, 429, 499})
#: 4xx answers about the credential, not the chunk: every chunk would meet them, none is given up.
_CREDENTIAL_4XX = frozenset({401, 403})
_CLAIM = 32  # chunks leased at a time by a replay


def open_outbox(given: str | os.PathLike[str] | Outbox | None, wall_clock: Any) -> Outbox | None:
    """The store a client writes to: an ``Outbox`` as given, else the SQLite file at the path."""
    if given is None or isinstance(given, Outbox):
        return given
    return SQLiteOutbox(given, wall_clock=wall_clock)


def record_run(run: BatchRun, store: Outbox, owner: str, bodies: Sequence[bytes] | None = None) -> None:
    """Every planned chunk, encoded once (``bodies``, when the caller has) and recorded in one
    transaction before any is sent; the outcome of each then settles or releases it."""
    client, op = run.client, run.op
    url = str(run.base_kwargs["url"])
    if bodies is None:
        bodies = client._encode_slices(run.data, [(c.start, c.stop) for c in run.plan])
    chunks = []
    for c, body in zip(run.plan, bodies, strict=True):
        run.bodies[c.start] = body
        chunks.append(NewChunk(c.key, op.operation_id, url, body, c.stop - c.start))
    store.record(chunks, owner)

    untold = {c.key for c in run.plan}

    def settle(chunk: ChunkPlan, outcome: _ChunkOutcome) -> None:
        untold.discard(chunk.key)
        if outcome.state == "accepted":
            store.settle(chunk.key)
            if not untold:  # the call is over: what a store holds back is written now
                flush = getattr(store, "flush", None)
                if callable(flush):
                    flush()
        else:  # not delivered or unknown: pending, for replay
            sent = not isinstance(outcome.error, CircuitOpenError | BatchInterruptedError)
            store.release(chunk.key, _why(outcome) if sent else None)

    run.on_outcome = settle


def _why(outcome: _ChunkOutcome) -> str:
    err = outcome.error
    return f"{type(err).__name__}: {err}"[:300] if err is not None else outcome.state


def _poison(outcome: _ChunkOutcome) -> str | None:
    """Why the server refuses this chunk for good (a non-retryable 4xx), else ``None``."""
    err = outcome.error
    if (
        isinstance(err, APIStatusError)
        and 400 <= err.status_code < 500
        and err.status_code not in _PASSING_4XX | _CREDENTIAL_4XX
    ):
        return f"refused by the server: {_why(outcome)}"
    return None


def _stored_run(client: _Core, op: Operation, chunk: StoredChunk) -> tuple[BatchRun, ChunkPlan]:
    """A batch run of one stored chunk: its stored body, its original key, maybe stored."""
    plan = ChunkPlan(0, chunk.items, chunk.key, maybe_stored=True)
    data: list[dict[str, Any]] = [{}] * chunk.items  # the body is stored: never encoded again
    run = BatchRun(
        client,
        op,
        data,
        [plan],
        None,
        make_kwargs=lambda: {"method": op.method, "url": chunk.url},
        parse=lambda raw: raw,
        progress=None,
        wait_for_recovery=None,
    )
    run.bodies[0] = chunk.body
    return run, plan


def replay_flow(client: _Core, store: Outbox, owner: str) -> Flow[ReplayReport]:
    """Send every pending chunk once, oldest first, under its key. A definite answer settles
    it, a refusal for good dead-letters it, anything else leaves it pending (one attempt
    more) when the pass ends; an open circuit or a refused credential (401/403) ends the pass
    and leaves the chunk pending without counting an attempt."""
    ops = client._OPERATIONS
    dead_before = {d.key for d in store.dead_letters()}
    accepted = items_ok = items_rejected = 0
    failed: list[tuple[str, str | None]] = []  # released when the pass ends: not claimed twice
    stop = False
    try:
        while not stop:
            claimed = store.claim(owner, _CLAIM)
            if not claimed:
                break
            for i, chunk in enumerate(claimed):
                if stop:
                    failed.extend((c.key, None) for c in claimed[i:])
                    break
                op = ops.get(chunk.operation)
                if op is None or op.batch is None:
                    store.dead_letter(chunk.key, f"unknown batch operation {chunk.operation!r}")
                    continue
                run, plan = _stored_run(client, op, chunk)
                try:
                    yield from run.chunk_flow(plan)
                except BaseException:  # the rest of this claim is released unsent, not left leased
                    failed.append((chunk.key, "interrupted"))
                    failed.extend((c.key, None) for c in claimed[i + 1 :])
                    raise
                outcome = run.outcomes[-1]
                poison = _poison(outcome)
                if outcome.state == "accepted":
                    store.settle(chunk.key)
                    accepted, items_ok = accepted + 1, items_ok + len(outcome.accepted)
                    items_rejected += len(outcome.rejected)
                elif poison is not None:
                    store.dead_letter(chunk.key, poison)
                elif isinstance(outcome.error, CircuitOpenError) or (
                    isinstance(outcome.error, APIStatusError) and outcome.error.status_code in _CREDENTIAL_4XX
                ):  # the next chunk would meet it too: the pass ends, this is no attempt of the chunk's
                    failed.append((chunk.key, None))
                    stop = True
                else:
                    failed.append((chunk.key, _why(outcome)))
    finally:
        for key, why in failed:
            store.release(key, why)
        flush = getattr(store, "flush", None)  # what a store holds back is written now
        if callable(flush):
            flush()
    stats = store.stats()
    dead = [d for d in store.dead_letters() if d.key not in dead_before]  # refused, failed, or expired
    pending = stats.pending_chunks, stats.pending_items
    return ReplayReport(accepted, items_ok, items_rejected, len(dead), sum(d.items for d in dead), *pending)


class _OutboxControl:
    """What both clients' ``client.outbox`` offer besides replay."""

    def __init__(self, client: _Core, store: Outbox, *, owned: bool = False) -> None:
        self._client, self.store, self._owned = client, store, owned
        self.owner = new_owner()

    def close(self) -> None:
        """Close the store when the client opened it (from a path); one passed in stays open."""
        if self._owned:
            self.store.close()

    def stats(self) -> OutboxStats:
        """Pending chunks and items, dead letters, bytes, age of the oldest pending chunk."""
        return self.store.stats()

    def dead_letters(self) -> list[DeadLetter]:
        """What was given up, and why."""
        return self.store.dead_letters()

    def requeue(self, keys: Sequence[str] | None = None) -> int:
        """Dead letters (these keys, or all) pending again; how many."""
        return self.store.requeue(keys)

    def purge(self, keys: Sequence[str] | None = None) -> int:
        """Delete dead letters (these keys, or all); how many."""
        return self.store.purge(keys)

    def publish(self) -> None:
        """Tell the metrics hooks that read outbox gauges (``on_outbox_stats``) the figures now."""
        hooks = [h for h in self._client.config.metrics_hooks if hasattr(h, "on_outbox_stats")]
        if hooks:
            stats = self.store.stats()
            for hook in hooks:
                hook.on_outbox_stats(stats)


class ClientOutbox(_OutboxControl):
    """``client.outbox`` of the sync client."""

    def replay(self) -> ReplayReport:
        """Send every pending chunk once, oldest first, with its original Idempotency-Key
        through every resilience layer; a report of what became of them."""
        from ._sync import SyncAPIClient

        assert isinstance(self._client, SyncAPIClient)
        try:
            return self._client._run(replay_flow(self._client, self.store, self.owner))
        finally:
            self.publish()


class AsyncClientOutbox(_OutboxControl):
    """``client.outbox`` of the async client."""

    async def replay(self) -> ReplayReport:
        """Send every pending chunk once, oldest first, with its original Idempotency-Key
        through every resilience layer; a report of what became of them."""
        from ._async import AsyncAPIClient

        assert isinstance(self._client, AsyncAPIClient)
        try:
            return await self._client._run(replay_flow(self._client, self.store, self.owner))
        finally:
            self.publish()
