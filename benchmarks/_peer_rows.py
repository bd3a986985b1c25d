"""Rows against the raw peers on the same nginx: AsyncFinOpsClient vs aiohttp, FinOpsClient vs http.client.

Each peer does the least a caller of that library must do for the same answer: send the GET on
a kept-alive connection, read the body, parse it with stdlib ``json``.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from ._clients import finops_health, make_finops, make_finops_async
from ._measure import Check, RowResult, RunFn, Variant, gathered, run_rounds

if TYPE_CHECKING:
    from ._rows import Counts
    from ._server import Server

__all__ = ["StdlibHealth", "row_async_aiohttp", "row_sync_stdlib"]

HEALTH = "/api/health"
TASKS = 32


def _ok(value: Any, who: str) -> None:
    status = getattr(value, "status", None) if not isinstance(value, dict) else value.get("status")
    if str(getattr(status, "value", status)) != "ok":
        raise AssertionError(f"{who}: unexpected health answer {value!r}")


# -- async vs raw aiohttp ------------------------------------------------------------------
A_FIN = f"AsyncFinOpsClient x{TASKS} tasks"
A_RAW = f"aiohttp.ClientSession x{TASKS} tasks"


def row_async_aiohttp(server: Server, c: Counts) -> list[RowResult]:
    loop = asyncio.new_event_loop()
    t_start = time.perf_counter()

    async def make() -> tuple[Any, aiohttp.ClientSession]:
        return make_finops_async(server.url), aiohttp.ClientSession(server.url)

    fin, session = loop.run_until_complete(make())

    async def fin_call() -> object:
        return await fin.get_health()

    async def raw_call() -> object:
        async with session.get(HEALTH) as r:
            r.raise_for_status()
            return json.loads(await r.read())

    try:
        _ok(loop.run_until_complete(fin_call()), "AsyncFinOpsClient")
        _ok(loop.run_until_complete(raw_call()), "aiohttp.ClientSession")
        variants = [
            Variant(
                name,
                gathered(loop, call, TASKS),
                c.async_n,
                warmup=c.async_warmup,
                seconds=c.slice_seconds,
                multiple=TASKS,
                slices=c.slices,
            )
            for name, call in ((A_FIN, fin_call), (A_RAW, raw_call))
        ]
        sums = run_rounds(variants, c.rounds)
    finally:
        loop.run_until_complete(fin.aclose())
        loop.run_until_complete(session.close())
        loop.run_until_complete(asyncio.sleep(0.05))  # let aiohttp close its connectors
        loop.close()
    row = RowResult(
        "async vs aiohttp",
        f"GET /api/health from {TASKS} concurrent tasks, body parsed: AsyncFinOpsClient (all layers) vs a bare "
        f"aiohttp.ClientSession (json.loads of the body) on the same nginx",
        sums,
        seconds=time.perf_counter() - t_start,
    )
    row.checks.append(
        Check(
            f"AsyncFinOpsClient@{TASKS} / aiohttp@{TASKS}",
            row.ratio(A_FIN, A_RAW),
            0.7,
            ">= 0.7x",
            detail=row.paired(A_FIN, A_RAW),
        )
    )
    return [row]


# -- sync vs stdlib http.client ------------------------------------------------------------
S_FIN = "FinOpsClient.get_health"
S_RAW = "http.client.HTTPConnection keep-alive"


class StdlibHealth:
    """GET /api/health on one kept-alive ``http.client.HTTPConnection``: request, read, json.loads."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)

    def get_health(self) -> Any:
        self.conn.request("GET", HEALTH)
        r = self.conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise AssertionError(f"http.client: status {r.status}")
        return json.loads(body)

    def close(self) -> None:
        self.conn.close()


def _loop(call: Callable[[], object]) -> RunFn:
    def run(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            call()
        return time.perf_counter() - t0

    return run


def row_sync_stdlib(server: Server, c: Counts) -> list[RowResult]:
    t_start = time.perf_counter()
    fin = make_finops(server.url)
    raw = StdlibHealth(server.url)
    try:
        calls: dict[str, Callable[[], object]] = {S_FIN: lambda: finops_health(fin), S_RAW: raw.get_health}
        for name, call in calls.items():
            _ok(call(), name)
        variants = [
            Variant(name, _loop(call), c.sync_n, warmup=c.sync_warmup, seconds=c.slice_seconds, slices=c.slices)
            for name, call in calls.items()
        ]
        sums = run_rounds(variants, c.rounds)
    finally:
        fin.close()
        raw.close()
    row = RowResult(
        "sync vs stdlib",
        "GET /api/health, body parsed: FinOpsClient.get_health (all layers) vs a keep-alive "
        "http.client.HTTPConnection loop (request, read, json.loads) on the same nginx",
        sums,
        seconds=time.perf_counter() - t_start,
    )
    row.checks.append(
        Check(
            "FinOpsClient / http.client keep-alive",
            row.ratio(S_FIN, S_RAW),
            0.0,
            "report",
            detail=row.paired(S_FIN, S_RAW),
        )
    )
    return [row]
