"""The fleet breaker against a real redis-server: workers that share one breaker, sync and async,
the quorum, and the fleet test: 8 worker processes against a failing upstream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis
from finops_api_client import AsyncFinOpsClient, FinOpsClient

from resilience import (
    CircuitBreakerConfig,
    CircuitOpenError,
    CircuitState,
    ConfigurationError,
    FleetCircuitBreaker,
    FleetSettings,
    FleetSync,
    InternalServerError,
    Outcome,
    RedisSharedState,
)
from resilience._fleet_breaker import breaker_keys
from tests.fleet_worker import run_worker
from tests.redis_server import RedisServer, redis_server

__all__ = ["redis_server"]

HEALTHY = {"status": "ok", "timestamp": "2025-01-15T08:00:00Z"}


class Upstream:
    """A loopback API that fails (503) or answers, and notes for every request the state and
    generation the fleet's hash in Redis held when it arrived: what the server saw per window."""

    def __init__(self, redis_url: str) -> None:
        self.failing = True
        self.arrivals: list[tuple[str, int]] = []
        self.key = ""
        self._redis = redis.Redis.from_url(redis_url)
        self._lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                key = upstream.key
                values: list[Any] = upstream._redis.hmget(key, "state", "gen") if key else [None, None]
                state, gen = bytes(values[0] or b"closed").decode(), int(values[1] or 0)
                with upstream._lock:
                    upstream.arrivals.append((state, gen))
                body = json.dumps({"error": "down"} if upstream.failing else HEALTHY).encode()
                self.send_response(503 if upstream.failing else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def seen(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self.arrivals)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._redis.close()


@pytest.fixture
def upstream(redis_server: RedisServer) -> Iterator[Upstream]:
    u = Upstream(redis_server.url)
    yield u
    u.close()


BREAKER: dict[str, Any] = {
    "failure_threshold": 3,
    "recovery_timeout": 0.5,
    "success_threshold": 2,
    "half_open_max_calls": 1,
}


def settings(**kw: Any) -> FleetSettings:
    # A generous Redis timeout: a slow exchange on a busy machine must not make these tests fall
    # back to the local breaker (tests/test_fleet_faults.py is about that).
    return FleetSettings(namespace=f"t{uuid.uuid4().hex}", timeout=2.0, **kw)


def sync_client(upstream: Upstream, redis_server: RedisServer, fs: FleetSettings, **breaker: Any) -> FinOpsClient:
    return FinOpsClient(
        base_url=upstream.url,
        max_retries=0,
        circuit_breaker_config=CircuitBreakerConfig(**{**BREAKER, **breaker}),
        shared_state=RedisSharedState(redis_server.url, fs),
    )


def fleet_of(client: FinOpsClient | AsyncFinOpsClient) -> FleetSync:
    fleet = client._stack.fleet
    assert fleet is not None
    return fleet


def fleet_breaker(client: FinOpsClient | AsyncFinOpsClient) -> FleetCircuitBreaker:
    control = client.circuit_breaker
    assert control is not None
    breaker = control.breaker
    assert isinstance(breaker, FleetCircuitBreaker)
    return breaker


def test_one_workers_failures_open_the_breaker_of_another(upstream: Upstream, redis_server: RedisServer) -> None:
    fs = settings(sync_interval=3600.0)  # no background syncs: this test syncs by hand
    a, b = sync_client(upstream, redis_server, fs), sync_client(upstream, redis_server, fs)
    try:
        for _ in range(3):
            with pytest.raises(InternalServerError):
                a.get_health()
        fleet_of(a).sync_once()
        fleet_of(b).sync_once()
        assert b.circuit_breaker is not None
        assert b.circuit_breaker.state is CircuitState.OPEN
        before = len(upstream.seen())
        with pytest.raises(CircuitOpenError):
            b.get_health()
        assert len(upstream.seen()) == before  # refused before any socket
    finally:
        a.close()
        b.close()


def test_half_open_admits_one_probe_across_workers_and_recovery_closes_both(
    upstream: Upstream, redis_server: RedisServer
) -> None:
    fs = settings(sync_interval=3600.0)
    a, b = sync_client(upstream, redis_server, fs), sync_client(upstream, redis_server, fs)
    syncs = [fleet_of(a), fleet_of(b)]
    for s in syncs:  # the scripts' clock, instead of Redis's TIME
        s.now_ms = 1_000_000
    try:
        for _ in range(3):
            with pytest.raises(InternalServerError):
                a.get_health()
        for s in syncs:
            s.sync_once()
        upstream.failing = False
        for s in syncs:  # recovery_timeout (0.5 s) has passed on the fleet's clock
            s.now_ms = 1_000_550
        for client in (a, b):  # both want a probe: a refused call asks the next sync for one
            with pytest.raises(CircuitOpenError):
                client.get_health()
        for s in syncs:
            s.sync_once()
        held = [len(fleet_breaker(c)._held) for c in (a, b)]
        assert sorted(held) == [0, 1]  # one reservation in the whole fleet
        prober, other = (a, b) if held[0] else (b, a)
        assert prober.get_health().status == "ok"
        with pytest.raises(CircuitOpenError):
            other.get_health()
        for _ in range(2):  # success_threshold=2: a second probe, then closed
            for s in syncs:
                s.sync_once()
            for client in (a, b):
                with contextlib.suppress(CircuitOpenError):
                    client.get_health()
        for s in syncs:
            s.sync_once()
        assert [fleet_breaker(c).state for c in (a, b)] == [CircuitState.CLOSED, CircuitState.CLOSED]
        assert b.get_health().status == "ok"
    finally:
        a.close()
        b.close()


async def test_the_async_client_syncs_on_its_loop(upstream: Upstream, redis_server: RedisServer) -> None:
    fs = settings(sync_interval=0.02)
    a = sync_client(upstream, redis_server, fs)
    b = AsyncFinOpsClient(
        base_url=upstream.url,
        max_retries=0,
        circuit_breaker_config=CircuitBreakerConfig(**BREAKER),
        shared_state=RedisSharedState(redis_server.url, fs),
    )
    try:
        with pytest.raises(InternalServerError):
            await b.get_health()  # starts b's sync task on this loop
        for _ in range(3):
            with pytest.raises(InternalServerError):
                a.get_health()
        fleet_of(a).sync_once()
        for _ in range(200):  # b's task syncs every 20 ms
            if fleet_breaker(b).state is CircuitState.OPEN:
                break
            await asyncio.sleep(0.01)
        with pytest.raises(CircuitOpenError):
            await b.get_health()
        stats = b.fleet_stats()
        assert stats is not None
        assert stats.state_source == "redis"
        assert stats.syncs >= 1
    finally:
        a.close()
        await b.aclose()


def test_quorum_a_poisoned_worker_protects_itself_but_not_the_fleet(
    upstream: Upstream, redis_server: RedisServer
) -> None:
    fs = settings(sync_interval=3600.0, quorum=2)
    poisoned, healthy = sync_client(upstream, redis_server, fs), sync_client(upstream, redis_server, fs)
    try:
        for _ in range(3):
            with pytest.raises(InternalServerError):
                poisoned.get_health()
        fleet_of(poisoned).sync_once()
        fleet_of(healthy).sync_once()
        with pytest.raises(CircuitOpenError):
            poisoned.get_health()  # its own breaker opened
        assert fleet_breaker(healthy).state is CircuitState.CLOSED  # the fleet did not
        upstream.failing = False
        assert healthy.get_health().status == "ok"
    finally:
        poisoned.close()
        healthy.close()


def test_fleet_of_8_processes_opens_probes_once_per_window_and_recovers(
    upstream: Upstream, redis_server: RedisServer
) -> None:
    """The fleet test (issue #14, point 7)."""
    workers = 8
    breaker = {**BREAKER, "success_threshold": 1}  # one probe closes it: every window's probes are counted alike
    namespace = f"t{uuid.uuid4().hex}"
    upstream.key = breaker_keys(namespace, upstream.url)[0]
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    recovered = ctx.Array("i", workers)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=run_worker,
            args=(upstream.url, redis_server.url, namespace, breaker, stop, recovered, i, results),
        )
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    try:
        deadline = time.monotonic() + 60.0

        def windows() -> Counter[int]:
            return Counter(gen for state, gen in upstream.seen() if state == "half_open")

        while len(windows()) < 3 and time.monotonic() < deadline:  # three failed half-open windows
            time.sleep(0.05)
        failing_phase = upstream.seen()
        upstream.failing = False
        while sum(recovered[:]) < workers and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        reports = [results.get(timeout=30) for _ in range(workers)]
    finally:
        stop.set()
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
    seen = upstream.seen()
    probes = Counter(gen for state, gen in seen if state == "half_open")
    # The fleet opened: once every worker had synced after the opening (the first half-open
    # window is recovery_timeout later), nothing reached the server but half-open probes.
    first_open = min(gen for state, gen in failing_phase if state == "half_open") - 1
    assert all(gen == first_open for state, gen in failing_phase if state == "open")  # sync lag, then none
    assert all(gen < first_open for state, gen in failing_phase if state == "closed")
    assert len(probes) >= 3
    assert max(probes.values()) <= BREAKER["half_open_max_calls"]  # per window, across all 8 workers
    # Recovery closed it for everyone: each worker's breaker is CLOSED and its calls succeed again.
    assert sum(recovered[:]) == workers
    assert sorted(r["state"] for r in reports) == ["closed"] * workers
    assert all(r["fallbacks"] == 0 for r in reports)


def test_fleet_mode_from_the_environment_and_its_password_kept_out_of_sight(
    upstream: Upstream, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = redis_server.url.replace("redis://", "redis://:s3cr3t-pw@")  # redis-server has no password: ignored
    monkeypatch.setenv("FINOPS_SHARED_STATE", url)
    client = FinOpsClient(base_url=upstream.url, max_retries=0)
    try:
        assert client.config.shared_state == url
        stats = client.fleet_stats()
        assert stats is not None
        assert "s3cr3t-pw" not in repr(client.config) + repr(fleet_of(client).store)
    finally:
        client.close()
    with pytest.raises(ConfigurationError, match="shared_state must be a redis:// URL") as refused:
        FinOpsClient(base_url=upstream.url, shared_state="http://user:s3cr3t-pw@example")
    assert "s3cr3t-pw" not in str(refused.value)
    monkeypatch.delenv("FINOPS_SHARED_STATE")
    plain = FinOpsClient(base_url=upstream.url)
    assert plain.fleet_stats() is None  # no shared_state: no fleet, no Redis
    plain.close()


def test_outcome_counts_are_exact_under_threads_recording_while_a_sync_drains_them() -> None:
    """8 threads record successes and failures on one fleet breaker (fleet CLOSED) while another
    thread keeps planning syncs: every outcome is in exactly one batch or still pending."""
    config = CircuitBreakerConfig(failure_threshold=10**6)
    breaker = FleetCircuitBreaker(
        config, name="http://api", clock=time.monotonic, keys=breaker_keys("t", "http://api"), wake=lambda: None
    )
    breaker.apply([[b"closed", 1, 0, 0, 0, 0, 0]])  # the fleet is CLOSED: the hot path
    threads, rounds = 8, 5000
    sent = [0, 0]
    done = threading.Event()

    def drain() -> None:
        while not done.is_set():
            call = breaker.plan("{}", "w")[0]
            sent[0] += int(call.args[4])
            sent[1] += int(call.args[5])

    def hammer(n: int) -> None:
        for i in range(rounds):
            failed = (i + n) % 5 == 0
            breaker.record(breaker.acquire(), Outcome.FAILURE if failed else Outcome.SUCCESS)

    drainer = threading.Thread(target=drain)
    drainer.start()
    workers = [threading.Thread(target=hammer, args=(n,)) for n in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    done.set()
    drainer.join()
    failures, successes = breaker.pending()
    assert (sent[0] + failures, sent[1] + successes) == (threads * rounds // 5, threads * rounds * 4 // 5)
