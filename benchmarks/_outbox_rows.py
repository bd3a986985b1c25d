"""The outbox's cost rows: ingest with an outbox, and replay, as ratios to plain bulk ingest.

All three variants push the same realistic resources (every field set) in chunks of 500
through a full client (every layer on) to an ``httpx.MockTransport`` answering like the
backend, in the same run: the network is left out, so the ratios are the outbox's own cost.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from finops_api_client import FinOpsClient

from resilience import CircuitBreakerConfig, NewChunk, SQLiteOutbox

from ._clients import API_KEY, make_item
from ._measure import Check, RowResult, Variant, run_rounds

if TYPE_CHECKING:
    from ._rows import Counts
    from ._server import Server

__all__ = ["row_outbox"]

CHUNK = 500
_ANSWER_TAIL = ', "rejected": [], "timestamp": "2026-11-29T10:00:00Z"}'


def _answer(request: httpx.Request) -> httpx.Response:
    """The backend's 200 to a chunk: every item accepted."""
    count = request.content.count(b'"resourceId"')
    body = ('{"success": true, "accepted": ' + str(count) + _ANSWER_TAIL).encode()
    return httpx.Response(200, content=body, headers={"content-type": "application/json"})


def _client(outbox: Any = None) -> FinOpsClient:
    return FinOpsClient(
        "http://finops.invalid",
        api_key=API_KEY,
        allow_insecure_http=True,
        max_retries=3,
        circuit_breaker_config=CircuitBreakerConfig(),
        transport=httpx.MockTransport(_answer),
        outbox=outbox,
    )


def row_outbox(server: Server, c: Counts) -> list[RowResult]:
    """*ingest with outbox* and *replay*, each against bulk ingest without an outbox."""
    del server
    t_start = time.perf_counter()
    items = [make_item(i) for i in range(c.bulk_items)]
    bodies = [json.dumps(items[a : a + CHUNK], separators=(",", ":")).encode() for a in range(0, len(items), CHUNK)]
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        plain = _client()
        recording = _client(Path(tmp) / "ingest.db")
        replay_store = SQLiteOutbox(Path(tmp) / "replay.db")
        replaying = _client(replay_store)
        outbox = replaying.outbox
        assert outbox is not None
        fills = [0]

        def ingest(client: FinOpsClient) -> Any:
            def run(n: int) -> float:
                t0 = time.perf_counter()
                res = client.post_resources(items[:n], chunk_size=CHUNK)
                elapsed = time.perf_counter() - t0
                if not res.ok:
                    failures.append(str(res))
                return elapsed

            return run

        def replay(n: int) -> float:
            """``n`` items pending (recorded outside the timing, as a crashed job leaves them), replayed."""
            chunks = []
            for i, body in enumerate(bodies[: -(-n // CHUNK)]):
                fills[0] += 1
                chunks.append(NewChunk(f"fill-{fills[0]}-{i}", "post_resources", "/api/resources", body, CHUNK))
            replay_store.record(chunks, "crashed")
            for ch in chunks:
                replay_store.release(ch.key, None)
            t0 = time.perf_counter()
            report = outbox.replay()
            elapsed = time.perf_counter() - t0
            if report.chunks_pending or report.chunks_accepted != len(chunks):
                failures.append(str(report))
            return elapsed

        base = "bulk ingest, no outbox (500/chunk)"
        variants = [
            Variant(base, ingest(plain), len(items), unit="items/s", warmup=CHUNK),
            Variant("ingest with outbox", ingest(recording), len(items), unit="items/s", warmup=CHUNK),
            Variant("replay of pending chunks", replay, len(items), unit="items/s", warmup=CHUNK),
        ]
        try:
            sums = run_rounds(variants, c.rounds)
        finally:
            for client in (plain, recording, replaying):
                client.close()
            replay_store.close()
    if failures:
        raise AssertionError(f"a variant did not settle everything: {failures[0]}")
    seconds = time.perf_counter() - t_start
    measured = f"{len(items):,} realistic resources in chunks of 500, MockTransport answering like the backend"
    ingest_row = RowResult("ingest with outbox", measured, [sums[0], sums[1]], seconds=seconds)
    ingest_row.checks.append(
        Check(
            "with outbox / without (items/s)",
            ingest_row.ratio(sums[1].name, base),
            0.75,
            ">= 0.75x (recording costs at most 25%)",
            detail=ingest_row.paired(sums[1].name, base),
        )
    )
    plain_cpu, outbox_cpu = ingest_row.summary(base).cpu_us, ingest_row.summary(sums[1].name).cpu_us
    if plain_cpu and outbox_cpu:
        ingest_row.notes.append(
            f"process CPU per item, every thread (the outbox's checkpoint thread too): {outbox_cpu:.2f} us with, "
            f"{plain_cpu:.2f} us without ({plain_cpu / outbox_cpu:.2f}x); with an outbox each item is encoded "
            "once (every body exists before the first is sent), without one twice (checked, then sent chunk by "
            "chunk: flat memory)"
        )
    replay_row = RowResult("outbox replay", measured, [sums[0], sums[2]], seconds=0.0)
    replay_row.checks.append(
        Check(
            "replay / bulk ingest (items/s)",
            replay_row.ratio(sums[2].name, base),
            0.75,
            ">= 0.75x",
            detail=replay_row.paired(sums[2].name, base),
        )
    )
    return [ingest_row, replay_row]
