"""The fleet retry budget against a real redis-server: RetryBudget's token bucket counted across
workers, leases that never overdraw it, and the local budget while Redis is out of reach."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from finops_api_client import AsyncFinOpsClient
from pytest_httpserver import HTTPServer

from resilience import FleetRetryBudget, FleetSettings, FleetSync, RedisSharedState, RetryBudget
from tests.redis_server import RedisServer, redis_server
from tests.support import unused_port

__all__ = ["redis_server"]


def worker(url: str, namespace: str, *, percent: float, min_per_second: float) -> tuple[FleetSync, FleetRetryBudget]:
    """A worker's fleet sync and budget, synced by hand (no thread: ``attach`` is never called)."""
    sync = FleetSync(
        RedisSharedState(url, FleetSettings(namespace=namespace, lease=2, timeout=2.0)), home_origin="http://api"
    )
    return sync, sync.budget(RetryBudget(percent=percent, min_per_second=min_per_second))


@pytest.fixture
def fleet(redis_server: RedisServer) -> Iterator[list[tuple[FleetSync, FleetRetryBudget]]]:
    namespace = f"t{uuid.uuid4().hex}"
    workers = [worker(redis_server.url, namespace, percent=0.2, min_per_second=0.0) for _ in range(3)]
    yield workers
    for sync, _ in workers:
        sync.close()


def drain(budget: RetryBudget) -> int:
    taken = 0
    while budget.try_withdraw():
        taken += 1
    return taken


def test_deposits_anywhere_fund_retries_everywhere_and_the_fleet_never_overdraws(
    fleet: list[tuple[FleetSync, FleetRetryBudget]],
) -> None:
    (_, a), (_, b), (_, c) = fleet
    for _ in range(50):
        a.deposit()  # only worker a makes calls: 20% of 50 = 10 retries for the whole fleet
    taken = 0
    for _ in range(6):  # several sync rounds: each tops its lease up to what it used
        for sync, budget in fleet:
            sync.sync_once()
            taken += drain(budget)
    assert taken == 10
    assert b.fleet_known
    assert c.balance() == 0.0


def test_a_lone_worker_gets_the_same_budget_as_locally(redis_server: RedisServer) -> None:
    sync, budget = worker(redis_server.url, f"t{uuid.uuid4().hex}", percent=0.2, min_per_second=1.0)
    local = RetryBudget(percent=0.2, min_per_second=1.0)
    try:
        for _ in range(40):
            budget.deposit()
            local.deposit()
        taken = 0
        for _ in range(8):
            sync.sync_once()
            taken += drain(budget)
        assert taken == drain(local) == 18  # 20% of 40 + 1/s over 10 s
    finally:
        sync.close()


def test_unused_lease_goes_back_to_the_fleet(fleet: list[tuple[FleetSync, FleetRetryBudget]]) -> None:
    (sa, a), (sb, b), _ = fleet
    for _ in range(100):
        a.deposit()  # 20 retries in all
    a._want = 18  # as after a burst of retries: a asks for a large lease ...
    sa.sync_once()
    sb.sync_once()
    assert drain(b) == 2  # ... so b gets what is left
    sa.sync_once()  # a used none of it: it keeps settings.lease (2) and gives 16 back
    sb.sync_once()  # b, refused after draining, asks for twice as many
    assert drain(b) == 4
    assert b.balance() == 12.0  # what the fleet has left


def test_while_redis_is_out_of_reach_the_local_budget_decides() -> None:
    sync, budget = worker(f"redis://127.0.0.1:{unused_port()}/0", "t", percent=0.0, min_per_second=0.3)
    try:
        sync.sync_once()  # refused at once: the local budget takes over
        assert not budget.fleet_known
        assert sync.stats().fallbacks == 1
        assert drain(budget) == 3  # the local RetryBudget: 0.3/s over 10 s
    finally:
        sync.close()


async def test_the_async_client_without_a_breaker_still_syncs_its_budget(
    redis_server: RedisServer, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/api/health").respond_with_json({"status": "ok", "timestamp": "2025-01-15T08:00:00Z"})
    fs = FleetSettings(namespace=f"t{uuid.uuid4().hex}", sync_interval=0.02, timeout=2.0)
    client = AsyncFinOpsClient(
        base_url=httpserver.url_for("/").rstrip("/"),
        enable_circuit_breaker=False,
        shared_state=RedisSharedState(redis_server.url, fs),
    )
    try:
        await client.get_health()  # the first deposit starts the sync task on this loop
        for _ in range(300):
            stats = client.fleet_stats()
            if stats is not None and stats.syncs:
                break
            await asyncio.sleep(0.01)
        budget = client._stack.budget
        assert isinstance(budget, FleetRetryBudget)
        assert budget.fleet_known
    finally:
        await client.aclose()
