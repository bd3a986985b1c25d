"""One function per row of the results table. Each builds its clients, checks that every
variant really works (outside the timing), runs the interleaved rounds and states its targets."""

from __future__ import annotations

import asyncio
import gc
import resource
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from finops_api_client.models.health_status import HealthStatus

from resilience import CircuitOpenError, MetricsRecorder, default_sync_transport

from ._clients import (
    CountingTransport,
    OldDesign,
    bare_health,
    finops_health,
    httpx_health,
    make_bare,
    make_finops,
    make_finops_async,
    make_item,
)
from ._data_rows import row_ingest_inproc, row_read_inproc
from ._fleet_rows import FLEET_ROWS
from ._measure import Check, RowResult, RunFn, Variant, gathered, run_rounds
from ._otel_rows import row_otel
from ._outbox_rows import row_outbox
from ._peer_rows import row_async_aiohttp, row_sync_stdlib
from ._server import Server

__all__ = ["ROWS", "Counts"]

MiB = 1024 * 1024


@dataclass(frozen=True)
class Counts:
    """Operations per variant per round (and warm-up) for each row. With ``slice_seconds`` set
    (full mode), the per-round counts of the request rows are calibrated so that one variant
    run takes about that long, and the ``*_n`` figures are minimums."""

    rounds: int
    slice_seconds: float | None
    slices: int  # chunks per variant per round, alternated between variants
    sync_n: int
    sync_warmup: int
    async_n: int  # a multiple of 32
    async_warmup: int
    bulk_items: int  # a multiple of 500
    bulk_old_items: int
    failfast_rejections: int
    failfast_successes: int
    threads_n: int  # a multiple of 4
    memory_small: int
    memory_large: int
    data_items: int = 100_000  # in-process ingest/read rows: a multiple of 1000 (chunks of 500, pages of 1000)

    @classmethod
    def full(cls) -> Counts:
        return cls(
            rounds=7,
            slice_seconds=1.0,
            slices=5,
            sync_n=300,
            sync_warmup=300,
            async_n=256,
            async_warmup=256,
            bulk_items=100_000,
            bulk_old_items=3000,
            failfast_rejections=2000,
            failfast_successes=300,
            threads_n=200,
            memory_small=10_000,
            memory_large=1_000_000,
        )

    @classmethod
    def smoke(cls) -> Counts:
        return cls(
            rounds=2,
            slice_seconds=None,
            slices=2,
            sync_n=40,
            sync_warmup=10,
            async_n=64,
            async_warmup=32,
            bulk_items=1000,
            bulk_old_items=20,
            failfast_rejections=200,
            failfast_successes=20,
            threads_n=40,
            memory_small=200,
            memory_large=20_000,
            data_items=2000,
        )


def _loop(call: Callable[[], object]) -> RunFn:
    def run(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            call()
        return time.perf_counter() - t0

    return run


def _threaded(call: Callable[[], object], threads: int) -> RunFn:
    def run(n: int) -> float:
        per = n // threads
        barrier = threading.Barrier(threads + 1)
        errors: list[BaseException] = []

        def worker() -> None:
            barrier.wait()
            try:
                for _ in range(per):
                    call()
            except BaseException as exc:
                errors.append(exc)

        workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
        for w in workers:
            w.start()
        barrier.wait()
        t0 = time.perf_counter()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - t0
        if errors:
            raise errors[0]
        return elapsed

    return run


def _expect_health(value: Any, who: str) -> None:
    ok = (isinstance(value, HealthStatus) and str(getattr(value.status, "value", value.status)) == "ok") or (
        isinstance(value, dict) and value.get("status") == "ok"
    )
    if not ok:
        raise AssertionError(f"{who}: unexpected health answer {value!r}")


# -- sync overhead + old design (one interleaved group, two rows) ----------------------------
FIN, BARE, HTTPX, OLD = "FinOpsClient", "bare generated Client", "httpx.Client", "old design (requests+Retry+pybreaker)"


def rows_sync(server: Server, c: Counts) -> list[RowResult]:
    fin = make_finops(server.url)
    bare = make_bare(server.url)
    plain = httpx.Client(base_url=server.url)
    old = OldDesign(server.url)
    t0 = time.perf_counter()
    try:
        calls: dict[str, Callable[[], object]] = {
            FIN: lambda: finops_health(fin),
            BARE: lambda: bare_health(bare),
            HTTPX: lambda: httpx_health(plain),
            OLD: old.get_health,
        }
        for name, call in calls.items():
            _expect_health(call(), name)
        variants = [
            Variant(name, _loop(call), c.sync_n, warmup=c.sync_warmup, seconds=c.slice_seconds, slices=c.slices)
            for name, call in calls.items()
        ]
        sums = run_rounds(variants, c.rounds)
    finally:
        fin.close()
        bare.get_httpx_client().close()
        plain.close()
        old.close()
    elapsed = time.perf_counter() - t0
    group = "'sync overhead' and 'old design' are one interleaved group of four variants"
    overhead = RowResult(
        "sync overhead",
        "GET /api/health: FinOpsClient.get_health (all layers) vs bare generated client vs httpx.Client",
        [s for s in sums if s.name != OLD],
        notes=[group],
        seconds=elapsed,
    )
    overhead.checks.append(
        Check(
            "FinOpsClient / bare generated",
            overhead.ratio(FIN, BARE),
            0.93,
            ">= 0.93x",
            detail=overhead.paired(FIN, BARE),
        )
    )
    r_httpx = overhead.ratio(FIN, HTTPX)
    overhead.notes.append(f"FinOpsClient / httpx.Client = {r_httpx:.3f}x (informational)")
    oldrow = RowResult(
        "old design",
        "same GET: FinOpsClient vs requests.Session + urllib3 Retry(total=3, backoff) + pybreaker .call",
        [s for s in sums if s.name in (FIN, OLD)],
        notes=[group],
        seconds=0.0,
    )
    oldrow.checks.append(
        Check("FinOpsClient / old design", oldrow.ratio(FIN, OLD), 1.5, ">= 1.5x", detail=oldrow.paired(FIN, OLD))
    )
    return [overhead, oldrow]


# -- async ---------------------------------------------------------------------------------
def row_async(server: Server, c: Counts) -> list[RowResult]:
    loop = asyncio.new_event_loop()
    t_start = time.perf_counter()

    async def make() -> tuple[Any, httpx.AsyncClient]:
        return make_finops_async(server.url), httpx.AsyncClient(base_url=server.url)

    fin, plain = loop.run_until_complete(make())

    async def fin_call() -> object:
        return await fin.get_health()

    async def plain_call() -> object:
        r = await plain.get("/api/health")
        return r.json()

    try:
        _expect_health(loop.run_until_complete(fin_call()), "AsyncFinOpsClient")
        _expect_health(loop.run_until_complete(plain_call()), "httpx.AsyncClient")
        names = {
            ("AsyncFinOpsClient", 1): fin_call,
            ("AsyncFinOpsClient", 32): fin_call,
            ("httpx.AsyncClient", 1): plain_call,
            ("httpx.AsyncClient", 32): plain_call,
        }
        variants = [
            Variant(
                f"{who} x{tasks} tasks",
                gathered(loop, call, tasks),
                c.async_n,
                warmup=c.async_warmup,
                seconds=c.slice_seconds,
                multiple=32,
                slices=c.slices,
            )
            for (who, tasks), call in names.items()
        ]
        sums = run_rounds(variants, c.rounds)
    finally:
        loop.run_until_complete(fin.aclose())
        loop.run_until_complete(plain.aclose())
        loop.run_until_complete(asyncio.sleep(0.05))  # let aiohttp close its connector
        loop.close()
    row = RowResult(
        "async",
        "GET /api/health from 1 and 32 concurrent tasks: AsyncFinOpsClient vs httpx.AsyncClient (own pool)",
        sums,
        seconds=time.perf_counter() - t_start,
    )
    row.checks.append(
        Check(
            "AsyncFinOpsClient@32 / httpx.AsyncClient@32",
            row.ratio("AsyncFinOpsClient x32 tasks", "httpx.AsyncClient x32 tasks"),
            5.0,
            ">= 5x",
            detail=row.paired("AsyncFinOpsClient x32 tasks", "httpx.AsyncClient x32 tasks"),
        )
    )
    row.checks.append(
        Check(
            "AsyncFinOpsClient@32 / AsyncFinOpsClient@1",
            row.ratio("AsyncFinOpsClient x32 tasks", "AsyncFinOpsClient x1 tasks"),
            1.0,
            ">= 1x",
            detail=row.paired("AsyncFinOpsClient x32 tasks", "AsyncFinOpsClient x1 tasks"),
        )
    )
    return [row]


# -- bulk ingest ---------------------------------------------------------------------------
class _PeakRss:
    """Peak RSS growth from now: Linux's VmHWM, reset through /proc/self/clear_refs, over the
    current VmRSS; else the ru_maxrss high-water mark's growth (0 if an earlier peak was higher)."""

    def __init__(self) -> None:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.base = _status_kib("VmRSS")
        except OSError:
            self.base = None
        self.maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def growth_mib(self) -> float:
        hwm = _status_kib("VmHWM")
        if self.base is not None and hwm is not None:
            return max(0, hwm - self.base) / 1024.0
        return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self.maxrss) / 1024.0


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def row_bulk(server: Server, c: Counts) -> list[RowResult]:
    t_start = time.perf_counter()
    gc.collect()
    tracemalloc.start()
    items = [make_item(i) for i in range(c.bulk_items)]
    input_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    sample = items[: c.bulk_old_items]
    fin = make_finops(server.url)
    old = OldDesign(server.url)
    failures: list[str] = []

    def run_fin(n: int) -> float:
        batch = items if n == len(items) else items[:n]
        t0 = time.perf_counter()
        res = fin.post_resources(batch)
        elapsed = time.perf_counter() - t0
        if not res.ok:
            failures.append(str(res.summary()))
        return elapsed

    def run_old(n: int) -> float:
        batch = sample if n == len(sample) else sample[:n]
        t0 = time.perf_counter()
        for item in batch:
            old.post_resource(item)
        return time.perf_counter() - t0

    try:
        # First full-size call (also the warm-up): peak RSS growth over the RSS before it.
        gc.collect()
        peak_rss = _PeakRss()
        run_fin(len(items))
        rss_delta = peak_rss.growth_mib()
        old.post_resource(sample[0])
        variants = [
            Variant("FinOpsClient.post_resources (500/chunk)", run_fin, len(items), unit="items/s"),
            Variant(
                "old design (1 POST per item)",
                run_old,
                len(sample),
                unit="items/s",
                warmup=min(100, len(sample)),
                slices=c.slices,
            ),
        ]
        sums = run_rounds(variants, c.rounds)
        if failures:
            raise AssertionError(f"post_resources did not accept everything: {failures[0]}")
        # Peak traced allocation of one full call, measured apart from the timed rounds.
        gc.collect()
        tracemalloc.start()
        run_fin(len(items))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        fin.close()
        old.close()
    row = RowResult(
        "bulk ingest",
        f"{len(items):,} resource dicts via post_resources vs one POST per resource over the old design "
        f"(sample of {sums[1].n:,} resources per round)",
        sums,
        seconds=time.perf_counter() - t_start,
    )
    row.checks.append(
        Check(
            "FinOpsClient / old design (items/s)",
            row.ratio(variants[0].name, variants[1].name),
            30.0,
            ">= 30x",
            detail=row.paired(variants[0].name, variants[1].name),
        )
    )
    input_mib = input_bytes / MiB
    row.notes.append(
        f"peak memory of one {len(items):,}-item post_resources: tracemalloc peak {peak / MiB:.1f} MiB, "
        f"peak RSS growth {rss_delta:.1f} MiB (input list itself ~{input_mib:.1f} MiB, built beforehand)"
    )
    return [row]


# -- fail fast -----------------------------------------------------------------------------
def row_failfast(server: Server, c: Counts) -> list[RowResult]:
    t_start = time.perf_counter()
    open_net = CountingTransport(default_sync_transport())
    ok_net = CountingTransport(default_sync_transport())
    rejecting = make_finops(server.url, transport=open_net)
    working = make_finops(server.url, transport=ok_net)
    breaker = rejecting.circuit_breaker
    assert breaker is not None
    breaker.force_open()
    new_conns: list[int] = []
    rejected = 0

    def reject_once() -> None:
        nonlocal rejected
        try:
            rejecting.get_health()
        except CircuitOpenError:
            rejected += 1
        else:
            raise AssertionError("a forced-open circuit let a call through")

    inner_loop = _loop(reject_once)

    def run_open(n: int) -> float:
        before = server.accepts()
        elapsed = inner_loop(n)
        got = server.new_connections(before, server.accepts())
        if got is not None:
            new_conns.append(got)
        return elapsed

    try:
        # The connection counter itself works: a fresh client's first GET is one new connection.
        before = server.accepts()
        with httpx.Client(base_url=server.url) as probe:
            probe.get("/api/health")
        probe_conns = server.new_connections(before, server.accepts())
        reject_once()
        _expect_health(working.get_health(), "FinOpsClient")
        variants = [
            Variant(
                "rejected by open circuit",
                run_open,
                c.failfast_rejections,
                unit="ops/s",
                warmup=100,
                seconds=None if c.slice_seconds is None else c.slice_seconds / 2,
                slices=c.slices,
            ),
            Variant(
                "successful call",
                _loop(working.get_health),
                c.failfast_successes,
                unit="ops/s",
                warmup=100,
                seconds=None if c.slice_seconds is None else c.slice_seconds / 2,
                slices=c.slices,
            ),
        ]
        sums = run_rounds(variants, c.rounds)
    finally:
        rejecting.close()
        working.close()
    total_rejections = rejected
    socket_free = open_net.calls == 0 and all(n == 0 for n in new_conns)
    row = RowResult(
        "fail fast",
        "get_health through a forced-open circuit (CircuitOpenError) vs a successful get_health, same client setup",
        sums,
        seconds=time.perf_counter() - t_start,
    )
    conn_text = (
        f"server saw {sum(new_conns)} new connection(s) over {len(new_conns)} rejection runs"
        if new_conns
        else "server connection count unavailable"
    )
    detail = (
        f"{total_rejections:,} rejections: inner transport reached {open_net.calls} time(s); {conn_text} "
        f"(counter check: a fresh client's GET showed {probe_conns} new connection(s)); "
        f"successful client's inner transport reached {ok_net.calls:,} time(s)"
    )
    row.checks.append(
        Check(
            "rejection / success speed, and no socket",
            row.ratio(variants[0].name, variants[1].name),
            10.0,
            ">= 10x, 0 sockets",
            extra_ok=socket_free,
            detail=f"{row.paired(variants[0].name, variants[1].name)}; {detail}",
        )
    )
    return [row]


# -- threads -------------------------------------------------------------------------------
def row_threads(server: Server, c: Counts) -> list[RowResult]:
    t_start = time.perf_counter()
    fin = make_finops(server.url)
    plain = httpx.Client(base_url=server.url)
    try:
        _expect_health(fin.get_health(), "FinOpsClient")
        _expect_health(httpx_health(plain), "httpx.Client")
        variants = [
            Variant(
                "4 threads, one FinOpsClient",
                _threaded(fin.get_health, 4),
                c.threads_n,
                warmup=c.threads_n,
                seconds=c.slice_seconds,
                multiple=4,
                slices=c.slices,
            ),
            Variant(
                "4 threads, one httpx.Client",
                _threaded(lambda: httpx_health(plain), 4),
                c.threads_n,
                warmup=c.threads_n,
                seconds=c.slice_seconds,
                multiple=4,
                slices=c.slices,
            ),
        ]
        sums = run_rounds(variants, c.rounds)
    finally:
        fin.close()
        plain.close()
    row = RowResult(
        "threads",
        "GET /api/health from 4 threads sharing one client: FinOpsClient vs httpx.Client",
        sums,
        seconds=time.perf_counter() - t_start,
    )
    row.checks.append(
        Check(
            "FinOpsClient / httpx.Client (4 threads)",
            row.ratio(variants[0].name, variants[1].name),
            0.95,
            ">= 0.95x",
            detail=row.paired(variants[0].name, variants[1].name),
        )
    )
    return [row]


# -- memory --------------------------------------------------------------------------------
def row_memory(server: Server, c: Counts) -> list[RowResult]:
    del server
    t_start = time.perf_counter()
    # 600 route keys: more than the recorder's per-key cap (512), so the overflow path is exercised.
    keys = [(f"GET /api/route{i}/{{id}}", f"op_{i}") for i in range(600)]
    outcomes = ("success",) * 17 + ("4xx", "5xx", "timeout")
    nkeys = len(keys)
    nout = len(outcomes)

    def record(m: MetricsRecorder, start: int, stop: int) -> None:
        for i in range(start, stop):
            key, op = keys[i % nkeys]
            m.start(key, op, "GET")
            m.end(key, op, "GET", outcomes[i % nout], 200, 1e-4 * (1 + i % 9973))

    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        rec = MetricsRecorder()
        record(rec, 0, c.memory_small)
        gc.collect()
        small = tracemalloc.get_traced_memory()[0] - base
        t_rec = time.perf_counter()
        record(rec, c.memory_small, c.memory_large)
        rec_seconds = time.perf_counter() - t_rec
        gc.collect()
        large = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    total = rec.snapshot().global_metrics.requests
    if total != c.memory_large:
        raise AssertionError(f"recorder counted {total} requests, expected {c.memory_large}")
    growth = (large - small) / MiB
    row = RowResult(
        "memory",
        f"MetricsRecorder traced memory after {c.memory_large:,} vs {c.memory_small:,} recorded requests "
        f"(600 route keys, tracemalloc)",
        [],
        seconds=time.perf_counter() - t_start,
    )
    row.checks.append(
        Check(
            f"growth {c.memory_small:,} -> {c.memory_large:,} requests (MiB)",
            growth,
            2.0,
            "<= 2 MiB",
            higher_is_better=False,
            unit="MiB",
            detail=f"{small / MiB:.3f} MiB after {c.memory_small:,}, {large / MiB:.3f} MiB after {c.memory_large:,}",
        )
    )
    row.notes.append(
        f"state {small / MiB:.3f} MiB after {c.memory_small:,} requests, {large / MiB:.3f} MiB after "
        f"{c.memory_large:,}; recording cost {1e6 * rec_seconds / max(1, c.memory_large - c.memory_small):.2f} "
        f"us per start+end pair under tracemalloc"
    )
    return [row]


ROWS: dict[str, Callable[[Server, Counts], list[RowResult]]] = {
    "sync": rows_sync,
    "async": row_async,
    "bulk": row_bulk,
    "failfast": row_failfast,
    "threads": row_threads,
    "memory": row_memory,
    "ingest": row_ingest_inproc,
    "read": row_read_inproc,
    "aiohttp": row_async_aiohttp,
    "stdlib": row_sync_stdlib,
    "otel": row_otel,
    **FLEET_ROWS,
    "outbox": row_outbox,
}
