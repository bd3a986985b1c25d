"""Fleet mode's rows: probes per half-open window (ours and pybreaker's Redis storage, 8 and 16
workers), Redis round trips per call in the closed steady state, the overhead per call, and the
fallback time. Each row starts a redis-server of its own (free loopback port, temporary folder)."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from finops_api_client import FinOpsClient

from resilience import (
    APIError,
    CircuitBreaker,
    CircuitBreakerConfig,
    FleetSettings,
    FleetSync,
    Outcome,
    RedisSharedState,
)

from ._clients import API_KEY
from ._measure import Check, RowResult, Variant, run_rounds
from ._server import Server

__all__ = ["FLEET_ROWS"]

RECOVERY = 1.0  # seconds: the breaker's recovery_timeout in the probe rows
BREAKER: dict[str, Any] = {
    "failure_threshold": 3,
    "recovery_timeout": RECOVERY,
    "success_threshold": 1,
    "half_open_max_calls": 1,
}


@contextmanager
def redis_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server on a free loopback port in a temporary folder (``make bench`` installs it)."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed (make bench installs it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="finops-bench-redis-") as folder:
        args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", folder, "--save", "", "--appendonly", "no"]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as c:
                        c.sendall(b"PING\r\n")
                        if c.recv(16).startswith(b"+PONG"):
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0", proc
        finally:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            proc.wait(10)


class FailingUpstream:
    """A loopback API that answers 503 to everything and notes when each request arrived."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        lock = threading.Lock()
        arrivals = self.arrivals

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    arrivals.append(time.monotonic())
                body = json.dumps({"error": "down"}).encode()
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def windows(self) -> list[int]:
        """Requests per half-open window: arrivals clustered by gaps of at least half the
        recovery timeout; the first cluster (the failures that opened the breakers) is left out."""
        clusters: list[int] = []
        last = None
        for t in sorted(self.arrivals):
            if last is None or t - last >= RECOVERY / 2:
                clusters.append(0)
            clusters[-1] += 1
            last = t
        return clusters[1:]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def ours_worker(url: str, redis_url: str, namespace: str, stop: Any) -> None:
    """A fleet-mode FinOpsClient calling every 10 ms (defaults: sync_interval 250 ms)."""
    client = FinOpsClient(
        url,
        max_retries=0,
        retry_budget=False,
        circuit_breaker_config=CircuitBreakerConfig(**BREAKER),
        shared_state=RedisSharedState(redis_url, FleetSettings(namespace=namespace, timeout=0.5)),
    )
    try:
        while not stop.is_set():
            with suppress(APIError):
                client.get_health()
            time.sleep(0.01)
    finally:
        client.close()


def pybreaker_worker(url: str, redis_url: str, namespace: str, stop: Any) -> None:
    """pybreaker's CircuitBreaker on its CircuitRedisStorage, the same thresholds, the same loop."""
    import httpx
    import pybreaker
    import redis

    storage = pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, redis.Redis.from_url(redis_url), namespace)
    breaker = pybreaker.CircuitBreaker(
        fail_max=BREAKER["failure_threshold"], reset_timeout=RECOVERY, state_storage=storage
    )
    with httpx.Client(base_url=url) as http:

        def call() -> None:
            http.get("/api/health").raise_for_status()

        while not stop.is_set():
            with suppress(Exception):
                breaker.call(call)
            time.sleep(0.01)


def probes_per_window(
    worker: Callable[[str, str, str, Any], None], workers: int, windows: int, processes: bool
) -> list[int]:
    """Run ``workers`` workers against a failing upstream for ``windows`` half-open windows; the
    requests the upstream saw per window."""
    upstream = FailingUpstream()
    try:
        with redis_server() as (redis_url, _):
            namespace = f"bench-{uuid.uuid4().hex}"
            if processes:
                ctx = multiprocessing.get_context("spawn")
                stop: Any = ctx.Event()
                runners: list[Any] = [
                    ctx.Process(target=worker, args=(upstream.url, redis_url, namespace, stop)) for _ in range(workers)
                ]
            else:  # smoke: one process, a worker per thread (each with its own client and connection)
                stop = threading.Event()
                runners = [
                    threading.Thread(target=worker, args=(upstream.url, redis_url, namespace, stop))
                    for _ in range(workers)
                ]
            for r in runners:
                r.start()
            deadline = time.monotonic() + 120
            while len(upstream.windows()) < windows + 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            stop.set()
            for r in runners:
                r.join(30)
        return upstream.windows()[:windows]  # the last one may still be filling
    finally:
        upstream.close()


def row_fleet_probes(server: Server, c: Any) -> list[RowResult]:
    del server
    smoke = c.slice_seconds is None
    t_start = time.perf_counter()
    sizes = (2, 3) if smoke else (8, 16)
    windows = 1 if smoke else 4
    row = RowResult(
        "fleet probes",
        f"requests per half-open window at a permanently failing upstream (503), {windows} windows, "
        f"{'threads (smoke)' if smoke else 'spawned processes'}, one redis-server; failure_threshold 3, "
        f"recovery {RECOVERY:g} s, half_open_max_calls 1",
    )
    for n in sizes:
        ours = probes_per_window(ours_worker, n, windows, processes=not smoke)
        theirs = probes_per_window(pybreaker_worker, n, windows, processes=not smoke)
        worst = max(ours) if ours else None
        row.checks.append(
            Check(
                f"{n} workers: most probes in one window (ours)",
                worst,
                1.0,
                "<= 1 (half_open_max_calls)",
                higher_is_better=False,
                unit="probes",
                extra_ok=len(ours) == windows,
                detail=f"ours {ours}, pybreaker CircuitRedisStorage {theirs}",
            )
        )
        row.notes.append(f"{n} workers: probes per window, ours {ours}; pybreaker 1.4 CircuitRedisStorage {theirs}")
    row.seconds = time.perf_counter() - t_start
    return [row]


def row_fleet_cost(server: Server, c: Any) -> list[RowResult]:
    smoke = c.slice_seconds is None
    t_start = time.perf_counter()
    with redis_server() as (redis_url, _):
        shared = RedisSharedState(redis_url, FleetSettings(namespace=f"bench-{uuid.uuid4().hex}"))
        fleet = FinOpsClient(server.url, api_key=API_KEY, shared_state=shared)
        plain = FinOpsClient(server.url, api_key=API_KEY)
        try:

            def loop(client: FinOpsClient) -> Callable[[int], float]:
                def run(n: int) -> float:
                    t0 = time.perf_counter()
                    for _ in range(n):
                        client.get_health()
                    return time.perf_counter() - t0

                return run

            fleet.get_health()
            plain.get_health()
            trips0, calls0 = shared.round_trips, _calls(fleet)
            seconds = None if smoke else c.slice_seconds
            variants = [
                Variant("with shared_state (Redis)", loop(fleet), c.sync_n, warmup=c.sync_warmup, seconds=seconds),
                Variant("without shared_state", loop(plain), c.sync_n, warmup=c.sync_warmup, seconds=seconds),
            ]
            sums = run_rounds(variants, c.rounds)
            trips, calls = shared.round_trips - trips0, _calls(fleet) - calls0
        finally:
            fleet.close()
            plain.close()
    per_call = trips / calls if calls else None
    cost = RowResult(
        "fleet cost",
        "FinOpsClient.get_health() against the benchmark server, fleet mode (redis-server, defaults: sync "
        "every 250 ms) vs the same client without shared_state; closed steady state",
        sums,
        seconds=time.perf_counter() - t_start,
    )
    cost.checks.append(
        Check(
            "Redis round trips per call (closed)",
            per_call,
            0.05,
            "<= 0.05",
            higher_is_better=False,
            unit="trips",
            detail=f"{trips} round trips for {calls} calls",
        )
    )
    with_s, without = cost.summary(variants[0].name), cost.summary(variants[1].name)
    # Client CPU per call: steadier than wall time on a loaded machine (benchmarks/_measure.py).
    cpu_with, cpu_without = with_s.cpu_us, without.cpu_us
    cost.checks.append(
        Check(
            "client CPU per call, without / with shared_state",
            cpu_without / cpu_with if cpu_with and cpu_without else None,
            0.9,
            ">= 0.90x",
            detail=f"{(cpu_with or 0) - (cpu_without or 0):+.1f} us CPU per call; wall-clock rates: "
            + cost.paired(variants[0].name, variants[1].name),
        )
    )
    hot = _hot_path(c)
    cost.summaries += hot
    plain_ns, fleet_ns = 1e9 / hot[1].median, 1e9 / hot[0].median
    cost.checks.append(
        Check(
            "breaker acquire+record per call, fleet - plain (ns)",
            fleet_ns - plain_ns,
            1000.0,
            "<= 1000 ns",
            higher_is_better=False,
            unit="ns",
            detail=f"{fleet_ns:.0f} ns with the fleet breaker (view closed), {plain_ns:.0f} ns without",
        )
    )
    return [cost]


def _hot_path(c: Any) -> list[Any]:
    """What fleet mode adds to each call's path, without the network: a fleet breaker whose view
    is CLOSED (synced once) against a plain CircuitBreaker, acquire and record a success."""
    with redis_server() as (redis_url, _):
        sync = FleetSync(
            RedisSharedState(redis_url, FleetSettings(namespace=f"bench-{uuid.uuid4().hex}")), home_origin="x"
        )
        fleet = sync.breaker_factory(CircuitBreakerConfig(), time.monotonic, [])("http://api")
        sync.sync_once()
        plain = CircuitBreaker(CircuitBreakerConfig())

        def loop(b: CircuitBreaker) -> Callable[[int], float]:
            def run(n: int) -> float:
                acquire, record, ok = b.acquire, b.record, Outcome.SUCCESS
                t0 = time.perf_counter()
                for _ in range(n):
                    record(acquire(), ok)
                return time.perf_counter() - t0

            return run

        n = 20_000 if c.slice_seconds is None else 200_000
        variants = [
            Variant("breaker acquire+record, fleet (view closed)", loop(fleet), n, unit="ops/s", warmup=1000),
            Variant("breaker acquire+record, plain", loop(plain), n, unit="ops/s", warmup=1000),
        ]
        try:
            return run_rounds(variants, c.rounds)
        finally:
            sync.close()


def _calls(client: FinOpsClient) -> int:
    snap = client.get_metrics_snapshot()
    return snap.global_metrics.requests if snap is not None else 0


def row_fleet_fallback(server: Server, c: Any) -> list[RowResult]:
    t_start = time.perf_counter()
    row = RowResult(
        "fleet fallback",
        "seconds from the start of the failed Redis exchange to the switch to the local breaker and budget "
        "(FleetStats.last_fallback_seconds): Redis stopped (connection refused) and paused (SIGSTOP: no answer)",
    )
    for how in ("stopped", "paused"):
        with redis_server() as (redis_url, proc):
            shared = RedisSharedState(redis_url, FleetSettings(namespace=f"bench-{uuid.uuid4().hex}"))
            client = FinOpsClient(server.url, api_key=API_KEY, shared_state=shared)
            failed = 0
            try:
                client.get_health()
                if how == "stopped":
                    proc.terminate()
                    proc.wait(10)
                else:
                    proc.send_signal(signal.SIGSTOP)
                deadline = time.monotonic() + 10
                stats = client.fleet_stats()
                while stats is not None and stats.fallbacks == 0 and time.monotonic() < deadline:
                    try:
                        client.get_health()
                    except APIError:
                        failed += 1
                    time.sleep(0.005)
                    stats = client.fleet_stats()
            finally:
                client.close()
        took = stats.last_fallback_seconds if stats is not None else None
        row.checks.append(
            Check(
                f"Redis {how}: fallback (s)",
                took,
                0.05,
                "<= 0.05 s",
                higher_is_better=False,
                unit="s",
                extra_ok=failed == 0,
                detail=f"{failed} calls failed meanwhile",
            )
        )
    row.seconds = time.perf_counter() - t_start
    return [row]


def rows_fleet(server: Server, c: Any) -> list[RowResult]:
    return row_fleet_probes(server, c) + row_fleet_cost(server, c) + row_fleet_fallback(server, c)


FLEET_ROWS: dict[str, Callable[[Server, Any], list[RowResult]]] = {"fleet": rows_fleet}
