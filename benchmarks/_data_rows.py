"""In-process data-path rows: bulk ingest and bulk read over ``httpx.MockTransport``, against JSON floors.

No server and no socket: the transport answers in process like the backend's batch and list
endpoints, so the rows measure client work only (encode, validate, send through httpx, decode,
build typed models). The floors are what any code must do at least: stdlib ``json.dumps`` of
each chunk posted through a bare ``httpx.Client`` (ingest), and a bare ``httpx.Client`` GET plus
stdlib ``json.loads`` of each page (read). :func:`ingest_floor` and :func:`batch_transport` are
the reusable ingest baseline (other rows, e.g. outbox ones, compare against the same floor).
"""

from __future__ import annotations

import gc
import json
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import httpx
from finops_api_client.models.resource_inventory import ResourceInventory

from ._clients import make_finops, make_item
from ._measure import Check, RowResult, Variant, run_rounds

if TYPE_CHECKING:
    from ._rows import Counts
    from ._server import Server

__all__ = [
    "CHUNK",
    "PAGE",
    "BatchAnswer",
    "PageServer",
    "batch_transport",
    "ingest_floor",
    "row_ingest_inproc",
    "row_read_inproc",
]

CHUNK = 500  # items per POST (the operation's maxItems)
PAGE = 1000  # items per page (the list endpoint's maximum limit)
URL = "https://finops.invalid"  # https: the credential guard refuses plain http to a remote host
RESOURCES = "/api/resources"
STAMP = "2026-11-29T10:00:00Z"
MiB = 1024 * 1024
JSON_HEADERS = {"Content-Type": "application/json"}


class BatchAnswer:
    """Answers a batch POST like the backend: ``{"success", "accepted", "rejected", "message",
    "timestamp"}``, every item accepted. It counts the chunk's items by their id key (a bytes
    scan, the same cost for every variant) instead of parsing the body, so the floor and the
    SDK pay the same, small server share."""

    def __init__(self, id_key: bytes = b'"resourceId"') -> None:
        self.id_key = id_key
        self.posts = 0
        self.items = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        n = request.content.count(self.id_key)
        self.posts += 1
        self.items += n
        body = (
            f'{{"success":true,"accepted":{n},"rejected":[],'
            f'"message":"{n} accepted, 0 rejected","timestamp":"{STAMP}"}}'
        ).encode()
        return httpx.Response(200, headers=JSON_HEADERS, content=body)


def batch_transport() -> tuple[httpx.MockTransport, BatchAnswer]:
    """A MockTransport answering every POST like the backend's batch endpoint, and its counter."""
    answer = BatchAnswer()
    return httpx.MockTransport(answer), answer


def ingest_floor(client: httpx.Client, items: Sequence[Any], path: str = RESOURCES, chunk: int = CHUNK) -> int:
    """The ingest floor: stdlib ``json.dumps`` of each ``chunk``-item slice, POSTed through a bare
    ``httpx.Client``, the answer parsed; returns the items the server accepted."""
    accepted = 0
    for start in range(0, len(items), chunk):
        body = json.dumps(items[start : start + chunk]).encode()
        r = client.post(path, content=body, headers=JSON_HEADERS)
        r.raise_for_status()
        accepted += json.loads(r.content)["accepted"]
    return accepted


class PageServer:
    """Answers ``GET /api/resources?limit=&cursor=`` like the backend's list endpoint from pages
    serialised once up front (stdlib JSON): ``{"success", "data", "nextCursor", "timestamp"}``,
    the cursor an opaque page number. ``stop`` is the page count a walk sees before the cursor
    ends (set per run)."""

    def __init__(self, items: Sequence[Any], page: int = PAGE) -> None:
        self.page = page
        self.pages = [json.dumps(items[i : i + page]).encode() for i in range(0, len(items), page)]
        self.stop = len(self.pages)
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        index = int(cursor) if cursor else 0
        self.requests += 1
        nxt = b'"%d"' % (index + 1) if index + 1 < self.stop else b"null"
        body = b"".join(
            (b'{"success":true,"data":', self.pages[index], b',"nextCursor":', nxt, b',"timestamp":"', STAMP.encode())
        )
        return httpx.Response(200, headers=JSON_HEADERS, content=body + b'"}')


def _read_floor(client: httpx.Client, limit: int) -> int:
    """The read floor: bare GET of each page, stdlib ``json.loads``, follow ``nextCursor``."""
    count = 0
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit} if cursor is None else {"limit": limit, "cursor": cursor}
        r = client.get(RESOURCES, params=params)
        r.raise_for_status()
        page = json.loads(r.content)
        count += len(page["data"])
        cursor = page["nextCursor"]
        if cursor is None:
            return count


def _variant(name: str, fn: Callable[[int], int], total: int, step: int, c: Counts, failures: list[str]) -> Variant:
    """``fn(n)`` handles ``n`` items and returns how many it saw; a count other than ``n`` is a failure."""

    def run(n: int) -> float:
        t0 = time.perf_counter()
        got = fn(n)
        elapsed = time.perf_counter() - t0
        if got != n:
            failures.append(f"{name}: {got} items for {n}")
        return elapsed

    return Variant(name, run, total, unit="items/s", warmup=min(total, 2 * PAGE), multiple=step, slices=c.slices)


# -- bulk ingest, in process ---------------------------------------------------------------
ING_FLOOR = "floor: json.dumps + bare httpx.Client POST"
ING_FIN = "FinOpsClient.post_resources (validated)"


def row_ingest_inproc(server: Server, c: Counts) -> list[RowResult]:
    del server
    t_start = time.perf_counter()
    items = [make_item(i) for i in range(c.data_items)]
    floor_net, floor_answer = batch_transport()
    fin_net, fin_answer = batch_transport()
    plain = httpx.Client(base_url=URL, transport=floor_net)
    fin = make_finops(URL, transport=fin_net)
    failures: list[str] = []

    def fin_post(n: int) -> int:
        res = fin.post_resources(items if n == len(items) else items[:n])
        if not res.ok:
            failures.append(str(res.summary()))
        return res.accepted_count

    def floor_post(n: int) -> int:
        return ingest_floor(plain, items if n == len(items) else items[:n])

    try:
        if floor_post(CHUNK) != CHUNK or fin.post_resources(items[:CHUNK]).ok is not True:
            raise AssertionError("an in-process ingest variant did not get every item accepted")
        variants = [
            _variant(ING_FLOOR, floor_post, len(items), CHUNK, c, failures),
            _variant(ING_FIN, fin_post, len(items), CHUNK, c, failures),
        ]
        sums = run_rounds(variants, c.rounds)
        peaks: dict[str, int] = {}
        for name, fn in ((ING_FIN, fin_post), (ING_FLOOR, floor_post)):
            gc.collect()
            tracemalloc.start()
            fn(len(items))
            peaks[name] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        if failures:
            raise AssertionError(failures[0])
        if fin_answer.items != floor_answer.items:
            raise AssertionError(f"the SDK sent {fin_answer.items} items, the floor {floor_answer.items}")
    finally:
        fin.close()
        plain.close()
    row = RowResult(
        "bulk ingest, in process",
        f"{len(items):,} resources (all nine fields) in {CHUNK}-item chunks over httpx.MockTransport answering "
        f"like the batch endpoint: post_resources (validated) vs the floor, stdlib json.dumps per chunk posted "
        f"through a bare httpx.Client",
        sums,
        seconds=time.perf_counter() - t_start,
    )
    row.checks.append(
        Check(
            "post_resources / json.dumps floor (items/s)",
            row.ratio(ING_FIN, ING_FLOOR),
            1.0,
            ">= 1.0x",
            detail=row.paired(ING_FIN, ING_FLOOR),
        )
    )
    row.notes.append(
        f"peak traced memory (tracemalloc) of one {len(items):,}-item post_resources: {peaks[ING_FIN] / MiB:.1f} MiB "
        f"(the floor's: {peaks[ING_FLOOR] / MiB:.1f} MiB; the input list is built beforehand)"
    )
    return [row]


# -- bulk read, in process -----------------------------------------------------------------
READ_FLOOR = "floor: bare httpx.Client GET + json.loads"
READ_FIN = "FinOpsClient.iter_resources (validated, typed)"
FROM_DICT = "generated ResourceInventory.from_dict alone"


def row_read_inproc(server: Server, c: Counts) -> list[RowResult]:
    del server
    t_start = time.perf_counter()
    items = [make_item(i) for i in range(c.data_items)]
    decoded = json.loads(json.dumps(items))
    floor_pages = PageServer(items)
    fin_pages = PageServer(items)
    plain = httpx.Client(base_url=URL, transport=httpx.MockTransport(floor_pages))
    fin = make_finops(URL, transport=httpx.MockTransport(fin_pages))
    failures: list[str] = []

    def floor_read(n: int) -> int:
        floor_pages.stop = n // PAGE
        return _read_floor(plain, PAGE)

    def fin_read(n: int) -> int:
        fin_pages.stop = n // PAGE
        count = 0
        for model in fin.iter_resources(limit=PAGE):
            count += isinstance(model, ResourceInventory)
        return count

    def from_dict(n: int) -> int:
        build = ResourceInventory.from_dict
        return len([build(d) for d in decoded[:n]])

    try:
        variants = [
            _variant(READ_FLOOR, floor_read, len(items), PAGE, c, failures),
            _variant(READ_FIN, fin_read, len(items), PAGE, c, failures),
            _variant(FROM_DICT, from_dict, len(items), PAGE, c, failures),
        ]
        sums = run_rounds(variants, c.rounds)
        if failures:
            raise AssertionError(failures[0])
    finally:
        fin.close()
        plain.close()
    row = RowResult(
        "bulk read, in process",
        f"{len(items):,} resources in {PAGE}-item pages, cursor-paginated, over httpx.MockTransport answering like "
        f"the list endpoint: iter_resources (validated, typed models) vs the floor, bare httpx.Client GET + stdlib "
        f"json.loads per page; ResourceInventory.from_dict alone on decoded dicts (informational)",
        sums,
        seconds=time.perf_counter() - t_start,
    )
    row.checks.append(
        Check(
            "iter_resources / GET + json.loads floor (items/s)",
            row.ratio(READ_FIN, READ_FLOOR),
            0.5,
            ">= 0.5x",
            detail=row.paired(READ_FIN, READ_FLOOR),
        )
    )
    row.notes.append(f"ResourceInventory.from_dict alone / read floor = {row.ratio(FROM_DICT, READ_FLOOR):.3f}x")
    return [row]
