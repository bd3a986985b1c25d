"""Redis is a dependency that may fail: stopped, paused (slow) and restarted mid-run, it never fails
a call; the client falls back to its local breaker and budget, logs it once, counts it, and
resynchronises when Redis is back. Sync and async clients, against a real redis-server."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable

import pytest
from finops_api_client import AsyncFinOpsClient, FinOpsClient
from pytest_httpserver import HTTPServer

from resilience import FleetSettings, FleetStats, RedisSharedState
from tests.redis_server import RedisServer, own_redis_server

__all__ = ["own_redis_server"]

HEALTHY = {"status": "ok", "timestamp": "2025-01-15T08:00:00Z"}


@pytest.fixture
def api(httpserver: HTTPServer) -> str:
    httpserver.expect_request("/api/health").respond_with_json(HEALTHY)
    return httpserver.url_for("/").rstrip("/")


def shared(server: RedisServer) -> RedisSharedState:
    # 0.5 s, not the 40 ms default: a busy test machine must not add fallbacks of its own (the
    # 50 ms figure is the benchmark's: benchmarks/_fleet_rows.py, row "fleet fallback").
    fs = FleetSettings(sync_interval=0.02, namespace=f"t{uuid.uuid4().hex}", timeout=0.5)
    return RedisSharedState(server.url, fs)


def outage(server: RedisServer, kind: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """How Redis goes away and comes back: stopped and restarted (same port), or paused (a slow Redis)."""
    if kind == "restart":
        return server.stop, server.start
    return server.pause, server.resume


def stats_of(client: FinOpsClient | AsyncFinOpsClient) -> FleetStats:
    stats = client.fleet_stats()
    assert stats is not None
    return stats


@pytest.mark.parametrize("kind", ["restart", "pause"])
def test_sync_client_calls_never_fail_because_of_redis(
    own_redis_server: RedisServer, api: str, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    down, up = outage(own_redis_server, kind)
    client = FinOpsClient(base_url=api, max_retries=0, shared_state=shared(own_redis_server))
    calls = 0

    def call_until(done: Callable[[FleetStats], bool]) -> None:
        nonlocal calls
        deadline = time.monotonic() + 15.0
        while not done(stats_of(client)) and time.monotonic() < deadline:
            assert client.get_health().status == "ok"  # any exception fails the test
            calls += 1
            time.sleep(0.005)

    try:
        with caplog.at_level(logging.WARNING, logger="resilience.fleet"):
            call_until(lambda s: s.syncs >= 3)
            assert stats_of(client).state_source == "redis"
            down()
            call_until(lambda s: s.fallbacks >= 1)
            for _ in range(20):  # well past the fallback: the local breaker decides, calls go on
                assert client.get_health().status == "ok"
            up()
            call_until(lambda s: s.resyncs >= 1)
        stats = stats_of(client)
        assert (stats.state_source, stats.fallbacks, stats.resyncs) == ("redis", 1, 1)
        assert stats.last_fallback_seconds is not None  # the client's own measure of the switch
        assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1  # logged once
        assert any("out of reach" in r.message for r in caplog.records)
        snapshot = client.get_metrics_snapshot()
        assert snapshot is not None
        assert snapshot.fleet is not None
        assert snapshot.fleet["fallbacks"] == 1
        assert snapshot.global_metrics.requests == snapshot.global_metrics.successes == calls + 20
    finally:
        client.close()


@pytest.mark.parametrize("kind", ["restart", "pause"])
async def test_async_client_calls_never_fail_because_of_redis(
    own_redis_server: RedisServer, api: str, kind: str
) -> None:
    down, up = outage(own_redis_server, kind)
    client = AsyncFinOpsClient(base_url=api, max_retries=0, shared_state=shared(own_redis_server))

    async def call_until(done: Callable[[FleetStats], bool]) -> None:
        deadline = time.monotonic() + 15.0
        while not done(stats_of(client)) and time.monotonic() < deadline:
            assert (await client.get_health()).status == "ok"
            await asyncio.sleep(0.005)

    try:
        await call_until(lambda s: s.syncs >= 3)
        down()
        await call_until(lambda s: s.fallbacks >= 1)
        up()
        await call_until(lambda s: s.resyncs >= 1)
        stats = stats_of(client)
        assert (stats.state_source, stats.fallbacks, stats.resyncs) == ("redis", 1, 1)
        assert stats.last_fallback_seconds is not None
    finally:
        await client.aclose()
