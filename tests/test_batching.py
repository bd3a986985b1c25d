"""Batched ingest through the facade, sync and async: chunks, idempotency keys, server-side
rejections, progress, ambiguous failures and the circuit breaker opening mid-batch.

The invariant behind every test: each item of a call is in exactly one group (accepted,
rejected, not_delivered, outcome_unknown), and the SDK never reports as accepted an item the
server did not store, nor as not_delivered an item the server stored.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from finops_api_client.api.resources import post_resources as generated_post_resources
from finops_api_client.client import AuthenticatedClient
from finops_api_client.models import ResourceInventory
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from reference_backend import FaultPlan, ReferenceBackend
from resilience import (
    APIStatusError,
    BatchProgress,
    BatchResult,
    CircuitBreakerConfig,
    CircuitOpenError,
    ConfigurationError,
    RejectedItem,
    RequestValidationError,
)
from tests.support import Driver, FakeTime, resource, resource_id, resources

API_KEY = "sk-test-batching-1c2d"


# --------------------------------------------------------------------------- helpers


def open_driver(mode: str, url: str, ft: FakeTime, **kwargs: Any) -> Driver:
    """A client of the ``mode`` with this module's key, recording what it sends."""
    return Driver(mode, ft).open(url, record=True, api_key=API_KEY, **kwargs)


def assert_partition(result: BatchResult) -> None:
    """Every index of the call in exactly one group."""
    groups = (
        list(result.accepted)
        + [r.index for r in result.rejected]
        + result.not_delivered_indexes()
        + result.outcome_unknown_indexes()
    )
    assert sorted(groups) == list(range(result.total))


def assert_truthful(result: BatchResult, stored: set[str]) -> None:
    """Accepted items are stored; not-delivered items are not."""
    assert_partition(result)
    assert all(resource_id(i) in stored for i in result.accepted), "reported accepted but not stored"
    wrongly = [i for i in result.not_delivered_indexes() if resource_id(i) in stored]
    assert not wrongly, f"reported not_delivered but stored: {wrongly[:5]}..."


def body_ids(request: httpx.Request) -> list[str]:
    return [item["resourceId"] for item in json.loads(request.content)]


@pytest.fixture(scope="module")
def _server() -> Iterator[ReferenceBackend]:
    with ReferenceBackend(api_key=API_KEY, require_auth=True) as b:
        yield b


@pytest.fixture
def backend(_server: ReferenceBackend) -> ReferenceBackend:
    _server.reset()
    return _server


# --------------------------------------------------------------------------- chunks and keys


async def test_chunks_with_distinct_idempotency_keys(mode: str, backend: ReferenceBackend, ft: FakeTime) -> None:
    d = open_driver(mode, backend.url, ft)
    try:
        result = await d.post_resources(resources(1234))
    finally:
        await d.close()
    assert result.ok
    assert result.total == 1234
    assert result.chunks == 3
    assert result.accepted == tuple(range(1234))
    assert (result.rejected, result.not_delivered, result.outcome_unknown) == ((), (), ())
    assert_partition(result)
    posts = d.posts()
    assert len(posts) == 3
    by_first = {body_ids(p)[0]: p for p in posts}
    assert {k: len(body_ids(p)) for k, p in by_first.items()} == {"r-0000": 500, "r-0500": 500, "r-1000": 234}
    for first, request in by_first.items():  # each chunk is a contiguous slice of the caller's list
        start = int(first[2:])
        assert body_ids(request) == [resource_id(i) for i in range(start, start + len(body_ids(request)))]
    keys = [p.headers.get("idempotency-key") for p in posts]
    assert all(keys)
    assert len(set(keys)) == 3
    stats = backend.stats()
    assert stats.items_stored == 1234
    assert stats.item_writes == 1234
    assert stats.requests_by_operation["post_resources"] == 3
    assert sorted(backend.stored_ids("resources")) == [resource_id(i) for i in range(1234)]


async def test_chunk_size_honoured(mode: str, backend: ReferenceBackend, ft: FakeTime) -> None:
    d = open_driver(mode, backend.url, ft)
    try:
        result = await d.post_resources(resources(1234), chunk_size=100)
    finally:
        await d.close()
    assert result.ok
    assert result.chunks == 13
    assert sorted(len(body_ids(p)) for p in d.posts()) == [34] + [100] * 12
    assert len({p.headers["idempotency-key"] for p in d.posts()}) == 13


@pytest.mark.parametrize("size", [501, 0, -1, True, 2.5])
async def test_bad_chunk_size(mode: str, backend: ReferenceBackend, ft: FakeTime, size: Any) -> None:
    d = open_driver(mode, backend.url, ft)
    try:
        with pytest.raises(ConfigurationError):
            await d.post_resources(resources(10), chunk_size=size)
    finally:
        await d.close()
    assert backend.stats().requests_total == 0


async def test_progress_is_monotonic(mode: str, backend: ReferenceBackend, ft: FakeTime) -> None:
    events: list[BatchProgress] = []
    d = open_driver(mode, backend.url, ft)
    try:
        result = await d.post_resources(resources(1234), chunk_size=200, progress=events.append)
    finally:
        await d.close()
    assert result.ok
    assert len(events) == 7
    done = [e.done for e in events]
    assert done == sorted(done)
    assert len(set(done)) == len(done)
    assert done[-1] == 1234
    assert [e.chunks_done for e in events] == list(range(1, 8))
    last = events[-1]
    assert (last.total, last.accepted, last.rejected, last.failed, last.chunks_total) == (1234, 1234, 0, 0, 7)


# --------------------------------------------------------------------------- server-side rejections


async def test_server_rejection_maps_to_caller_index(mode: str, httpserver: HTTPServer, ft: FakeTime) -> None:
    def handler(request: Request) -> Response:
        items = json.loads(request.data)
        rejected = []
        if items[0]["resourceId"] == "r-0500":  # the 2nd chunk, whatever the arrival order
            rejected = [{"index": 3, "reason": "dup", "id": items[3]["resourceId"]}]
        body = {
            "success": True,
            "accepted": len(items) - len(rejected),
            "rejected": rejected,
            "timestamp": "2025-01-15T08:00:00Z",
        }
        return Response(json.dumps(body), status=200, content_type="application/json")

    httpserver.expect_request("/api/resources", method="POST").respond_with_handler(handler)
    d = open_driver(mode, f"http://{httpserver.host}:{httpserver.port}", ft)
    try:
        result = await d.post_resources(resources(1234))
    finally:
        await d.close()
    assert result.rejected == (RejectedItem(index=503, reason="dup", id="r-0503"),)
    assert 503 not in result.accepted
    assert len(result.accepted) == 1233
    assert not result.ok
    assert result.summary()["rejected"] == 1
    assert_partition(result)


@pytest.mark.parametrize(
    ("operation", "item", "field"),
    [
        ("post_resources", resource(1, timestamp="2025-01-15T08:00Z"), "timestamp"),
        ("post_resources", resource(1, timestamp="20250115T080000Z"), "timestamp"),
        ("post_resources", resource(1, timestamp="2025-01-15T08:00:00,5+00:00"), "timestamp"),
        (
            "post_budget_forecasts",
            {"budgetId": "b", "budgetType": "m", "budgetAmount": 1, "forecastAmount": 1, "periodStart": "2025-W03-1"},
            "periodStart",
        ),
    ],
    ids=["no-seconds", "basic-format", "comma-fraction", "week-date"],
)
async def test_client_refuses_non_rfc3339_dates(
    mode: str, backend: ReferenceBackend, ft: FakeTime, operation: str, item: dict[str, Any], field: str
) -> None:
    first = resource(0) if operation == "post_resources" else {**item, "periodStart": "2025-01-01", "budgetId": "a"}
    d = open_driver(mode, backend.url, ft)
    try:
        with pytest.raises(RequestValidationError) as info:
            await d.call(operation, [first, item])
    finally:
        await d.close()
    assert (info.value.index, info.value.field) == (1, field)
    assert backend.stats().requests_total == 0


# --------------------------------------------------------------------------- ambiguous failures


async def test_close_after_store_is_outcome_unknown_and_replay_dedupes(
    mode: str, backend: ReferenceBackend, ft: FakeTime
) -> None:
    backend.set_fault_plan(FaultPlan(seed=1, rate=1.0, kinds=["close_after_store"], methods=["POST"]))
    items = resources(20)
    d = open_driver(mode, backend.url, ft, max_retries=0)
    try:
        result = await d.post_resources(items)
    finally:
        await d.close()
    assert_truthful(result, set(backend.stored_ids("resources")))
    assert result.accepted == ()
    assert result.not_delivered == ()
    assert len(result.outcome_unknown) == 1
    failure = result.outcome_unknown[0]
    assert list(failure.indexes) == list(range(20))
    assert failure.idempotency_key
    assert backend.stats().items_stored == 20  # the server did store them

    # Replay the chunk with its key through the generated endpoint: answered from the cache.
    backend.set_fault_plan(None)
    replay = [ResourceInventory.from_dict(items[i]) for i in failure.indexes]
    api = AuthenticatedClient(base_url=backend.url, token=API_KEY, prefix="", auth_header_name="X-API-Key")
    with api:
        response = generated_post_resources.sync_detailed(
            client=api, body=replay, idempotency_key=failure.idempotency_key
        )
        assert response.status_code == 200
        assert response.headers.get("idempotent-replayed") == "true"
        other = generated_post_resources.sync_detailed(
            client=api, body=replay[:1], idempotency_key=failure.idempotency_key
        )
        assert other.status_code == 422  # same key, other body: refused, nothing stored
    stats = backend.stats()
    assert stats.duplicate_deliveries_deduped == 1
    assert stats.item_writes == 20
    assert stats.items_stored == 20


async def test_close_after_store_retried_with_same_key(mode: str, backend: ReferenceBackend, ft: FakeTime) -> None:
    # Seed 12 faults 3 of the first 6 POSTs: no chunk can use up its 4 attempts, whatever the order.
    plan = FaultPlan(seed=12, rate=0.5, kinds=["close_after_store"], methods=["POST"])
    backend.set_fault_plan(plan)
    d = open_driver(mode, backend.url, ft, max_retries=3)
    try:
        result = await d.post_resources(resources(1234))
    finally:
        await d.close()
    faults = plan.injected.get("close_after_store", 0)
    assert faults == 3
    assert result.ok
    assert result.accepted == tuple(range(1234))
    stats = backend.stats()
    assert stats.items_stored == 1234
    assert stats.item_writes == 1234  # nothing stored twice
    assert stats.duplicate_deliveries_deduped == faults  # every retry reused its chunk's key
    posts = d.posts()
    assert len(posts) == 3 + faults
    assert len({p.headers["idempotency-key"] for p in posts}) == 3
    assert len(ft.sleeps) == faults


async def test_close_before_response_never_misreported(mode: str, backend: ReferenceBackend, ft: FakeTime) -> None:
    backend.set_fault_plan(FaultPlan(seed=1, rate=1.0, kinds=["close_before_response"], methods=["POST"]))
    d = open_driver(mode, backend.url, ft, max_retries=0)
    try:
        result = await d.post_resources(resources(120), chunk_size=50)
    finally:
        await d.close()
    assert backend.stored_ids("resources") == []
    assert result.accepted == ()
    assert result.rejected == ()
    # Sent, then the connection closed: the client cannot know; either failure group is honest here.
    assert sorted(result.not_delivered_indexes() + result.outcome_unknown_indexes()) == list(range(120))
    assert all(f.idempotency_key for f in result.not_delivered + result.outcome_unknown)
    assert_truthful(result, set())


MIXED = [
    "close_after_store",
    "close_before_response",
    "close_mid_response",
    "truncated_json",
    "schema_break",
    "503_burst",
    "html_error",
    "status_520",
]


@pytest.mark.parametrize("seed", [1, 11])
@pytest.mark.parametrize("retries", [0, 2])
async def test_mixed_faults_never_misreported(
    mode: str, backend: ReferenceBackend, ft: FakeTime, seed: int, retries: int
) -> None:
    plan = FaultPlan(seed=seed, rate=0.7, kinds=MIXED, methods=["POST"])
    backend.set_fault_plan(plan)
    d = open_driver(mode, backend.url, ft, max_retries=retries, enable_circuit_breaker=False)
    try:
        result = await d.post_resources(resources(200), chunk_size=20)
    finally:
        await d.close()
    assert plan.injected.get("close_after_store", 0) >= 1
    stored = set(backend.stored_ids("resources"))
    assert_truthful(result, stored)
    stats = backend.stats()
    assert stats.item_writes == len(stored)  # no item stored twice
    for failure in result.outcome_unknown:
        assert failure.idempotency_key


# --------------------------------------------------------------------------- breaker mid-batch


async def test_breaker_opening_mid_batch_stops_sending(mode: str, backend: ReferenceBackend, ft: FakeTime) -> None:
    backend.set_outage("503")
    config = CircuitBreakerConfig(failure_threshold=2, recovery_timeout=30.0)
    d = open_driver(mode, backend.url, ft, max_retries=0, circuit_breaker_config=config)
    try:
        result = await d.post_resources(resources(1000), chunk_size=100)
    finally:
        await d.close()
    assert result.accepted == ()
    assert_truthful(result, set())
    rejected_by_breaker = [f for f in result.not_delivered if isinstance(f.error, CircuitOpenError)]
    sent = list(result.outcome_unknown)  # a 503 to a POST: a backend behind a gateway may have stored it
    assert len(rejected_by_breaker) + len(sent) == 10
    assert rejected_by_breaker, "the breaker should have opened"
    assert all(isinstance(f.error, APIStatusError) and f.error.status_code == 503 for f in sent)
    # The backend saw exactly the chunks that did not fail with CircuitOpenError.
    assert backend.stats().requests_by_operation["post_resources"] == len(sent)
    assert len(d.posts()) == len(sent)
    sent_first_ids = {body_ids(p)[0] for p in d.posts()}
    assert sent_first_ids == {resource_id(f.start) for f in sent}
    if mode == "sync":
        assert [f.start for f in sent] == [0, 100]
        assert [f.start for f in rejected_by_breaker] == list(range(200, 1000, 100))


async def test_wait_for_recovery_rides_out_outage(mode: str, backend: ReferenceBackend, ft: FakeTime) -> None:
    backend.set_outage("503")
    config = CircuitBreakerConfig(failure_threshold=2, recovery_timeout=2.0)
    d = open_driver(mode, backend.url, ft, max_retries=3, circuit_breaker_config=config)
    breaker = d.client.circuit_breaker
    assert breaker is not None

    def end_outage_once_open(_: float) -> None:
        # The outage ends while the client waits, once the breaker has opened.
        if breaker.breaker.snapshot().state.value != "closed":
            backend.set_outage(None)

    ft.on_sleep = end_outage_once_open
    try:
        result = await d.post_resources(resources(1234), wait_for_recovery=5.0)
    finally:
        await d.close()
    assert result.ok, result.summary()
    assert result.accepted == tuple(range(1234))
    stats = backend.stats()
    assert stats.items_stored == 1234
    assert stats.item_writes == 1234
    assert stats.outage_responses.get("503", 0) >= 2
    assert sum(ft.sleeps) < 10.0
    assert backend.outage is None


async def test_wait_for_recovery_too_short_gives_up(backend: ReferenceBackend, ft: FakeTime) -> None:
    backend.set_outage("503")
    config = CircuitBreakerConfig(failure_threshold=2, recovery_timeout=30.0)
    d = open_driver("sync", backend.url, ft, max_retries=0, circuit_breaker_config=config)
    try:
        result = await d.post_resources(resources(300), chunk_size=100, wait_for_recovery=5.0)
    finally:
        await d.close()
    assert result.accepted == ()
    assert isinstance(result.not_delivered[-1].error, CircuitOpenError)
    assert sum(ft.sleeps) == 0  # a 30 s recovery does not fit in 5 s: no pointless wait
    assert_truthful(result, set())


# --------------------------------------------------------------------------- whole-call validation


async def test_unencodable_item_refused_before_anything_is_sent(
    mode: str, backend: ReferenceBackend, ft: FakeTime
) -> None:
    items = resources(1200)
    items[700]["resourceId"] = "r-\ud800"
    d = (
        open_driver(mode, backend.url, ft, batch_concurrency=1)
        if mode == "async"
        else open_driver(mode, backend.url, ft)
    )
    try:
        with pytest.raises(RequestValidationError) as info:
            await d.post_resources(items)
        assert backend.stats().requests_total == 0
        assert (info.value.index, info.value.field) == (700, "resourceId")
    finally:
        await asyncio.sleep(0.05)  # let any chunk still in flight finish before closing
        await d.close()


async def test_bad_item_late_in_list_sends_nothing(mode: str, backend: ReferenceBackend, ft: FakeTime) -> None:
    items = resources(1200)
    items[1100]["currentCost"] = -math.inf
    d = open_driver(mode, backend.url, ft)
    try:
        with pytest.raises(RequestValidationError) as info:
            await d.post_resources(items, chunk_size=100)
    finally:
        await d.close()
    assert (info.value.index, info.value.field) == (1100, "currentCost")
    assert backend.stats().requests_total == 0
    assert d.posts() == []
