"""OpenTelemetryHook's outbox and fleet gauges read from the clients built with it, through real
clients (sync and async) read with the SDK's in-memory reader: a real SQLite outbox holding the
chunks of a failed push, a real fleet whose redis-server is down (a fallback counted), per client
origin, never the outbox file's path nor the Redis URL, and no client kept alive by the hook."""

from __future__ import annotations

import asyncio
import gc
import threading
import uuid
import weakref
from pathlib import Path
from typing import Any

import pytest
from finops_api_client import AsyncFinOpsClient, FinOpsClient
from pytest_httpserver import HTTPServer

from resilience import FleetSettings, RedisSharedState
from tests.redis_server import RedisServer, own_redis_server
from tests.support import Driver, FakeTime, resources
from tests.test_otel import HEALTH, Telemetry

__all__ = ["own_redis_server"]

DEPTH, SIZE, AGE, DEAD = (
    "resilience.client.outbox.depth",
    "resilience.client.outbox.size",
    "resilience.client.outbox.oldest_age",
    "resilience.client.outbox.dead_letters",
)
FALLBACKS = "resilience.client.fleet.fallbacks"


@pytest.fixture
def otel() -> Any:
    t = Telemetry()
    yield t
    t.tracer_provider.shutdown()
    t.meter_provider.shutdown()


def gauge(otel: Telemetry, name: str) -> dict[frozenset[tuple[str, Any]], float]:
    """The gauge's points now, by attributes (empty when it reports nothing)."""
    metric = otel.metrics().get(name)
    points = [] if metric is None else metric.data.data_points
    return {frozenset((p.attributes or {}).items()): p.value for p in points}


def origin_of(server: HTTPServer) -> frozenset[tuple[str, Any]]:
    return frozenset({("server.address", server.host), ("server.port", server.port)})


def failing_push(server: HTTPServer, code: int) -> None:
    server.clear()
    server.expect_request("/api/resources", method="POST").respond_with_json({"success": False}, status=code)


async def test_each_clients_outbox_is_reported_under_its_origin(
    driver: Driver, httpserver: HTTPServer, otel: Telemetry, ft: FakeTime, tmp_path: Path
) -> None:
    folder = tmp_path / "secret-folder"
    folder.mkdir()
    failing_push(httpserver, 503)
    driver.open(
        httpserver.url_for(""),
        outbox=folder / "outbox.db",
        wall_clock=ft.wall,
        max_retries=0,
        enable_circuit_breaker=False,
        metrics_hooks=[otel.hook],
    )
    assert gauge(otel, DEPTH) == {(k := origin_of(httpserver)): 0}  # bound, nothing pending yet
    await driver.post_resources(resources(700), chunk_size=500)
    ft.advance(30)
    stats = driver.client.outbox.stats()  # type: ignore[union-attr]
    assert (stats.pending_chunks, stats.dead_letters) == (2, 0)
    assert gauge(otel, DEPTH) == {k: 2}
    assert gauge(otel, SIZE) == {k: stats.bytes}
    assert stats.bytes > 700 * 100
    assert gauge(otel, AGE) == {k: 30}
    assert gauge(otel, DEAD) == {k: 0}
    assert [otel.metrics()[n].unit for n in (DEPTH, SIZE, AGE, DEAD)] == ["{message}", "By", "s", "{message}"]

    failing_push(httpserver, 422)  # refused for good on replay: both chunks dead letters
    replayed: Any = driver.client.outbox.replay()  # type: ignore[union-attr]
    if driver.is_async:
        await replayed
    assert gauge(otel, DEPTH) == {k: 0}
    assert gauge(otel, DEAD) == {k: 2}
    assert gauge(otel, AGE) == {k: 0}
    shown = repr([otel.metrics()[n].data.data_points for n in (DEPTH, SIZE, AGE, DEAD)])
    assert "secret-folder" not in shown
    assert "outbox.db" not in shown


async def test_a_client_without_an_outbox_or_fleet_reports_no_such_gauge(
    driver: Driver, httpserver: HTTPServer, otel: Telemetry
) -> None:
    httpserver.expect_request("/api/health").respond_with_json(HEALTH)
    driver.open(httpserver.url_for(""), metrics_hooks=[otel.hook])
    await driver.call("get_health")
    assert [n for n in (DEPTH, SIZE, AGE, DEAD, FALLBACKS) if gauge(otel, n)] == []


async def test_clients_of_two_origins_each_report_their_own_outbox(
    mode: str, otel: Telemetry, ft: FakeTime, tmp_path: Path
) -> None:
    """Two clients, two outboxes, two servers: each figure under its own origin; an outbox that a
    third client of the same origin shares is counted once."""
    servers = [HTTPServer(), HTTPServer()]
    clients: list[Any] = []
    try:
        for s in servers:
            s.start()
            failing_push(s, 503)
        kw: dict[str, Any] = {"wall_clock": ft.wall, "max_retries": 0, "metrics_hooks": [otel.hook]}
        kw["enable_circuit_breaker"] = False
        make = AsyncFinOpsClient if mode == "async" else FinOpsClient
        for i, s in enumerate(servers):
            clients.append(make(s.url_for(""), outbox=tmp_path / f"o{i}.db", **kw))
        store = clients[0].outbox.store
        clients.append(make(servers[0].url_for(""), outbox=store, **kw))  # shares the first one's outbox
        for client, n in zip(clients, (1, 3, 2), strict=True):
            result = client.post_resources(resources(n * 10), chunk_size=10)
            if mode == "async":
                await result
        assert gauge(otel, DEPTH) == {origin_of(servers[0]): 3, origin_of(servers[1]): 3}
    finally:
        for client in clients:
            if isinstance(client, AsyncFinOpsClient):
                await client.aclose()
            else:
                client.close()
        for s in servers:
            s.stop()


async def test_the_hook_keeps_no_client_alive(
    mode: str, httpserver: HTTPServer, otel: Telemetry, tmp_path: Path
) -> None:
    failing_push(httpserver, 503)
    make = AsyncFinOpsClient if mode == "async" else FinOpsClient
    client: Any = make(httpserver.url_for(""), outbox=tmp_path / "o.db", max_retries=0, metrics_hooks=[otel.hook])
    result = client.post_resources(resources(3))
    if mode == "async":
        await result
        await client.aclose()
    else:
        client.close()
    assert gauge(otel, DEPTH) == {}  # closed: its outbox file closed, nothing read
    ref = weakref.ref(client)
    del client, result
    gc.collect()
    assert ref() is None


async def test_a_live_client_gone_stops_being_reported(
    mode: str, httpserver: HTTPServer, otel: Telemetry, tmp_path: Path
) -> None:
    """Not closed, only dropped: the hook's weak references let it go, and its figures with it."""
    from resilience import SQLiteOutbox

    store = SQLiteOutbox(tmp_path / "o.db")  # the user's: stays open when the client goes
    make = AsyncFinOpsClient if mode == "async" else FinOpsClient
    client: Any = make(httpserver.url_for(""), outbox=store, metrics_hooks=[otel.hook])
    assert gauge(otel, DEPTH) == {origin_of(httpserver): 0}
    del client
    gc.collect()
    assert gauge(otel, DEPTH) == {}
    store.close()


def fallbacks(d: Driver) -> int:
    stats = d.client.fleet_stats()
    assert stats is not None
    return stats.fallbacks


async def test_a_fleet_whose_redis_is_down_reports_its_fallback(
    driver: Driver, own_redis_server: RedisServer, httpserver: HTTPServer, otel: Telemetry
) -> None:
    httpserver.expect_request("/api/health").respond_with_json(HEALTH)
    own_redis_server.stop()  # a real server's port, now refusing: the fleet falls back to local state
    settings = FleetSettings(sync_interval=0.02, namespace=f"t{uuid.uuid4().hex}", timeout=0.5)
    d = driver.open(
        httpserver.url_for(""),
        max_retries=0,
        shared_state=RedisSharedState(own_redis_server.url, settings),
        metrics_hooks=[otel.hook],
    )
    assert (await d.call("get_health")).status == "ok"  # the async client's sync task starts here
    for _ in range(1000):  # up to 10 s for the task's first sync: a wait, not a timed assertion
        if fallbacks(d) > 0:
            break
        await asyncio.sleep(0.01)
    assert fallbacks(d) == 1
    assert gauge(otel, FALLBACKS) == {origin_of(httpserver): 1}
    assert otel.metrics()[FALLBACKS].unit == "{fallback}"
    shown = repr(otel.metrics()[FALLBACKS].data.data_points)
    assert str(own_redis_server.port) not in shown  # the API's origin, not Redis's


def test_clients_bound_while_the_reader_collects(otel: Telemetry, tmp_path: Path) -> None:
    """Eight threads build clients (each binding its outbox) while another collects over and
    over: no collection fails, and every client is reported afterwards."""
    n = 8
    start = threading.Barrier(n + 1)
    clients: list[FinOpsClient] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def build(i: int) -> None:
        start.wait()
        c = FinOpsClient(f"http://127.0.0.{i + 1}:1", outbox=tmp_path / f"o{i}.db", metrics_hooks=[otel.hook])
        clients.append(c)  # list.append: atomic

    def collect() -> None:
        start.wait()
        while not done.is_set():
            try:
                gauge(otel, DEPTH)
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=build, args=(i,)) for i in range(n)]
    reader = threading.Thread(target=collect)
    for t in [*threads, reader]:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join()
    try:
        assert errors == []
        assert sorted(dict(k)["server.address"] for k in gauge(otel, DEPTH)) == [f"127.0.0.{i + 1}" for i in range(n)]
    finally:
        for c in clients:
            c.close()
