"""``python -m benchmarks --profile WHAT``: where the FinOpsClient's time goes.

- ``sync``, ``async`` (32 tasks), ``bulk``, ``failfast``: cProfile on that row's FinOpsClient loop
  against the real server, per request (µs) for the SDK's own functions and by package.
- ``sync-stub``: the same as ``sync`` over an in-process stub transport (client code only).
- ``ingest``, ``read``: the in-process data-path rows (100,000 items over ``httpx.MockTransport``):
  ``post_resources`` and ``iter_resources``, per item.
- ``layers``: ablation over the stub transport: client CPU per request with one feature off at a
  time, next to the bare generated client and httpx.Client.

cProfile inflates the cost of many small calls; the wall time per request with and without the
profiler is printed so the figures can be scaled.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import pstats
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import httpx

from ._clients import make_finops, make_finops_async, make_item
from ._server import Server

__all__ = ["PROFILES", "profile"]

REPO = Path(__file__).resolve().parent.parent
OWN = (REPO / "resilience", REPO / "generated")
PROFILES = ("sync", "sync-stub", "async", "bulk", "failfast", "layers", "ingest", "read")


def _area(filename: str) -> str:
    path = Path(filename)
    for root in OWN:
        if path.is_relative_to(root):
            return "SDK: " + root.name
    parts = path.parts
    if "site-packages" in parts:
        i = parts.index("site-packages")
        return parts[i + 1] if i + 1 < len(parts) else "site-packages"
    if filename.startswith("<") or filename == "~":
        return "builtins"
    return "stdlib"


def _report(pr: cProfile.Profile, per: int, unit: str, wall_plain: float, wall_prof: float, top: int) -> str:
    stats: Any = pstats.Stats(pr)
    rows = []
    by_area: dict[str, float] = defaultdict(float)
    for (filename, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():
        area = _area(filename)
        by_area[area] += tt
        if area.startswith("SDK"):
            rel = Path(filename).resolve().relative_to(REPO)
            rows.append((tt, ct, nc, f"{rel}:{func}:{line}"))
    rows.sort(reverse=True)
    scale = 1e6 / per
    lines = [
        f"wall time per {unit}: {wall_plain * scale:.1f} µs without profiler, "
        f"{wall_prof * scale:.1f} µs under cProfile",
        "",
        f"time by package (self time, µs per {unit} under cProfile):",
    ]
    for area, tt in sorted(by_area.items(), key=lambda kv: -kv[1])[:12]:
        lines.append(f"  {tt * scale:9.1f}  {area}")
    shrink = wall_plain / wall_prof if wall_prof > 0 else 1.0
    lines += [
        "",
        f"SDK functions by self time, µs per {unit}: under cProfile, then scaled by the wall-time ratio "
        f"({shrink:.2f}) as a rough estimate without it; cumulative under cProfile; calls per {unit}:",
    ]
    for tt, ct, nc, name in rows[:top]:
        lines.append(
            f"  {tt * scale:8.2f} self  ~{tt * scale * shrink:7.2f} est  {ct * scale:9.2f} cum  "
            f"{nc / per:6.2f} calls  {name}"
        )
    return "\n".join(lines)


class _StubTransport(httpx.BaseTransport):
    """Answers every request in-process with nginx's health response: no socket, no server."""

    BODY = b'{"status":"ok","timestamp":"2026-11-29T10:00:00Z"}'
    HEADERS: ClassVar[list[tuple[bytes, bytes]]] = [
        (b"Server", b"nginx"),
        (b"Content-Type", b"application/json"),
        (b"Content-Length", str(len(BODY)).encode()),
        (b"Connection", b"keep-alive"),
    ]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=self.HEADERS, stream=httpx.ByteStream(self.BODY), request=request)


def _layers(rounds: int) -> str:
    """Ablation over an in-process stub transport (client CPU only, no network noise):
    FinOpsClient.get_health with one feature off at a time, interleaved rounds; a feature's
    cost is the difference of medians from "all on"."""
    from finops_api_client import FinOpsClient
    from finops_api_client.api.health import get_health as gen_get_health
    from finops_api_client.client import Client

    from resilience import CircuitBreakerConfig

    from ._clients import API_KEY
    from ._measure import Variant, run_rounds
    from ._rows import _loop

    url = "http://127.0.0.1:8080"
    on: dict[str, Any] = {
        "api_key": API_KEY,
        "max_retries": 3,
        "enable_circuit_breaker": True,
        "enable_performance_monitoring": True,
        "circuit_breaker_config": CircuitBreakerConfig(),
    }
    configs: dict[str, dict[str, Any]] = {
        "all on": on,
        "no response validation": {**on, "validate_responses": False},
        "no metrics": {**on, "enable_performance_monitoring": False},
        "no circuit breaker": {**on, "enable_circuit_breaker": False},
        "no retries, no budget": {**on, "max_retries": 0, "retry_budget": None},
        "no auth": {k: v for k, v in on.items() if k != "api_key"},
        "all off": {
            "max_retries": 0,
            "retry_budget": None,
            "enable_circuit_breaker": False,
            "enable_performance_monitoring": False,
            "validate_responses": False,
        },
    }
    clients = {name: FinOpsClient(url, transport=_StubTransport(), **kw) for name, kw in configs.items()}
    bare = Client(base_url=url, httpx_args={"transport": _StubTransport()})
    plain = httpx.Client(base_url=url, transport=_StubTransport())
    calls: dict[str, Callable[[], object]] = {name: c.get_health for name, c in clients.items()}
    calls["bare generated Client"] = lambda: gen_get_health.sync_detailed(client=bare)
    calls["httpx.Client get + json()"] = lambda: plain.get("/api/health").json()
    variants = [Variant(name, _loop(call), 2000, warmup=300, seconds=0.5) for name, call in calls.items()]
    sums = run_rounds(variants, rounds)
    for c in clients.values():
        c.close()
    cbase = sums[0].cpu_us or 0.0
    lines = [
        f"sync get_health over an in-process stub transport (no network): median client CPU µs per request "
        f"over {rounds} interleaved rounds, and the difference from 'all on':"
    ]
    for s in sums:
        cpu = s.cpu_us or 0.0
        lines.append(f"  {cpu:7.1f} µs ({cpu - cbase:+6.1f})  {s.name}")
    return "\n".join(lines)


def _data_path(what: str, pr: cProfile.Profile, top: int, items_n: int = 100_000) -> str:
    """cProfile of one in-process post_resources or iter_resources walk of ``items_n`` items."""
    from ._data_rows import PAGE, URL, PageServer, batch_transport

    items = [make_item(i) for i in range(items_n)]
    if what == "ingest":
        transport: httpx.BaseTransport = batch_transport()[0]
    else:
        transport = httpx.MockTransport(PageServer(items))
    client = make_finops(URL, transport=transport)

    def once() -> float:
        t0 = time.perf_counter()
        if what == "ingest":
            client.post_resources(items)
        else:
            for _ in client.iter_resources(limit=PAGE):
                pass
        return time.perf_counter() - t0

    once()
    plain = once()
    pr.enable()
    prof = once()
    pr.disable()
    client.close()
    head = f"({items_n:,} items in process, {'post_resources' if what == 'ingest' else 'iter_resources'})\n"
    return head + _report(pr, items_n, "item", plain, prof, top)


def profile(server: Server, what: str, n: int = 3000, top: int = 25, rounds: int = 7) -> str:
    url = server.url
    pr = cProfile.Profile()
    if what in ("sync", "sync-stub"):
        client = make_finops(url, transport=_StubTransport() if what == "sync-stub" else None)
        for _ in range(300):
            client.get_health()
        t0 = time.perf_counter()
        for _ in range(n):
            client.get_health()
        plain = time.perf_counter() - t0
        t0 = time.perf_counter()
        pr.enable()
        for _ in range(n):
            client.get_health()
        pr.disable()
        prof = time.perf_counter() - t0
        client.close()
        return _report(pr, n, "request", plain, prof, top)
    if what == "layers":
        return _layers(rounds)
    if what in ("ingest", "read"):
        return _data_path(what, pr, top)
    if what == "failfast":
        from resilience import CircuitOpenError

        client = make_finops(url)
        breaker = client.circuit_breaker
        assert breaker is not None
        breaker.force_open()

        def rejections(m: int) -> float:
            t0 = time.perf_counter()
            for _ in range(m):
                with contextlib.suppress(CircuitOpenError):
                    client.get_health()
            return time.perf_counter() - t0

        rejections(300)
        plain = rejections(n)
        pr.enable()
        prof = rejections(n)
        pr.disable()
        client.close()
        return "(rejections by a forced-open circuit)\n" + _report(pr, n, "rejection", plain, prof, top)
    if what == "async":

        async def main() -> tuple[float, float]:
            client = make_finops_async(url)

            async def batch(m: int, tasks: int = 32) -> float:
                async def worker() -> None:
                    for _ in range(m // tasks):
                        await client.get_health()

                t0 = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(tasks)))
                return time.perf_counter() - t0

            await batch(512)
            plain = await batch(n)
            pr.enable()
            prof = await batch(n)
            pr.disable()
            await client.aclose()
            return plain, prof

        plain, prof = asyncio.run(main())
        return "(32 tasks)\n" + _report(pr, n - n % 32, "request", plain, prof, top)
    if what == "bulk":
        items = [make_item(i) for i in range(20_000)]
        client = make_finops(url)
        client.post_resources(items)
        t0 = time.perf_counter()
        client.post_resources(items)
        plain = time.perf_counter() - t0
        t0 = time.perf_counter()
        pr.enable()
        client.post_resources(items)
        pr.disable()
        prof = time.perf_counter() - t0
        client.close()
        return "(20,000 items per call)\n" + _report(pr, len(items), "item", plain, prof, top)
    raise ValueError(f"unknown profile {what!r}; choose from {', '.join(PROFILES)}")
