"""Batches outside the lab's fault model, sync and async: a gateway's 5xx after the backend
stored, a server whose accounting does not add up, an exception or interruption mid-batch,
``settled`` and a resume given other items.

Exactly-once is checked on the reference backend, which deduplicates by Idempotency-Key:
``item_writes`` counts every item it stored, so after resuming it equals the item count.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from reference_backend import FaultPlan, ReferenceBackend
from resilience import (
    APIError,
    APIResponseValidationError,
    AsyncAPIClient,
    BatchInterruptedError,
    BatchResult,
    BatchSpec,
    ChunkFailure,
    CircuitBreakerConfig,
    CircuitOpenError,
    ClientConfig,
    ConfigurationError,
    DryRun,
    InternalServerError,
    Operation,
    RejectedItem,
    SyncAPIClient,
    default_async_transport,
)
from tests.support import Driver, FakeTime, base, resource, resource_id, resources

API_KEY = "sk-test-hardening-7e3a"
NOW = "2025-01-15T08:00:00Z"


@pytest.fixture(scope="module")
def _server() -> Iterator[ReferenceBackend]:
    with ReferenceBackend(api_key=API_KEY, require_auth=True) as b:
        yield b


@pytest.fixture
def backend(_server: ReferenceBackend) -> ReferenceBackend:
    _server.reset()
    return _server


# --------------------------------------------------------------------------------------------------- helpers


class Trip:
    """What the test transports share: every POST they see, and which one trips (1-based)."""

    def __init__(self, at: int, make: Callable[[], BaseException], *, after_store: bool = True) -> None:
        self.at, self.make, self.after_store = at, make, after_store
        self.posts: list[httpx.Request] = []

    def count(self, request: httpx.Request) -> bool:
        if request.method != "POST":
            return False
        self.posts.append(request)
        return len(self.posts) == self.at

    def keys(self) -> list[str]:
        return [p.headers["idempotency-key"] for p in self.posts]


class SyncTrip(httpx.BaseTransport):
    """The real transport, but the trip's POST raises (after the backend answered, or before sending)."""

    def __init__(self, trip: Trip) -> None:
        self.trip, self.inner = trip, httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        trips = self.trip.count(request)
        if trips and not self.trip.after_store:
            raise self.trip.make()
        response = self.inner.handle_request(request)
        if trips:
            response.read()
            response.close()
            raise self.trip.make()
        return response

    def close(self) -> None:
        self.inner.close()


class AsyncTrip(httpx.AsyncBaseTransport):
    """:class:`SyncTrip` for the async client, over the default async transport."""

    def __init__(self, trip: Trip, *, hang: asyncio.Event | None = None) -> None:
        self.trip, self.inner, self.hang = trip, default_async_transport(), hang

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        trips = self.trip.count(request)
        if trips and not self.trip.after_store:
            raise self.trip.make()
        response = await self.inner.handle_async_request(request)
        if trips:
            await response.aread()
            await response.aclose()
            if self.hang is not None:  # the answer never comes: wait here until cancelled
                self.hang.set()
                await asyncio.Event().wait()
            raise self.trip.make()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def open_driver(mode: str, url: str, trip: Trip | None = None, **kwargs: Any) -> Driver:
    """A client of the ``mode`` (one chunk at a time, so the trip hits a known chunk)."""
    if trip is not None:
        kwargs["transport"] = SyncTrip(trip) if mode == "sync" else AsyncTrip(trip)
    kwargs.setdefault("batch_concurrency", 1)
    return Driver(mode, FakeTime()).open(url, api_key=API_KEY, **kwargs)


CLIENT_OPTIONS = ("max_retries", "enable_circuit_breaker", "validate_responses", "circuit_breaker_config")


async def post(mode: str, url: str, items: list[dict[str, Any]], trip: Trip | None = None, **kwargs: Any) -> Any:
    """``post_resources`` on a fresh client, closed afterwards; what it raises propagates."""
    client_kwargs = {k: kwargs.pop(k) for k in CLIENT_OPTIONS if k in kwargs}
    d = open_driver(mode, url, trip, **client_kwargs)
    try:
        return await d.post_resources(items, **kwargs)
    finally:
        await d.close()


def assert_partition(result: BatchResult) -> None:
    groups = (
        list(result.accepted)
        + [r.index for r in result.rejected]
        + result.not_delivered_indexes()
        + result.outcome_unknown_indexes()
    )
    assert sorted(groups) == list(range(result.total))


def spans(failures: tuple[ChunkFailure, ...]) -> list[tuple[int, int]]:
    return [(f.start, f.stop) for f in failures]


def assert_stored_once(backend: ReferenceBackend, n: int) -> None:
    stats = backend.stats()
    assert stats.item_writes == n, f"{stats.item_writes} item writes for {n} items"
    assert sorted(backend.stored_ids("resources")) == [resource_id(i) for i in range(n)]


def ingest_answer(accepted: Any, rejected: Any, success: Any = True) -> dict[str, Any]:
    return {"success": success, "accepted": accepted, "rejected": rejected, "timestamp": NOW}


# --------------------------------------------------------------- 1. a gateway's 5xx after the backend stored


async def test_gateway_504_after_store_is_outcome_unknown_and_resume_stores_once(
    mode: str, backend: ReferenceBackend
) -> None:
    backend.set_fault_plan(FaultPlan(seed=1, rate=1.0, kinds=["504_after_store"], methods=["POST"]))
    items = resources(10)
    trip = Trip(at=0, make=RuntimeError)  # never trips: records the keys on the wire
    kw: dict[str, Any] = {"max_retries": 1, "enable_circuit_breaker": False}
    first = await post(mode, backend.url, items, trip, **kw)
    again = await post(mode, backend.url, items, trip, resume=first, **kw)  # the gateway still answers 504
    backend.set_fault_plan(None)
    last = await post(mode, backend.url, items, trip, resume=again, **kw)

    assert_stored_once(backend, 10)  # the SDK used to store these 10 items three times
    assert first.not_delivered == ()
    assert spans(first.outcome_unknown) == [(0, 10)]
    failure = first.outcome_unknown[0]
    assert isinstance(failure.error, InternalServerError)
    assert failure.error.status_code == 504
    assert spans(again.outcome_unknown) == [(0, 10)]
    assert again.outcome_unknown[0].idempotency_key == failure.idempotency_key
    assert last.ok
    assert last.settled
    assert set(trip.keys()) == {failure.idempotency_key}  # every attempt of every call, one key
    assert backend.stats().duplicate_deliveries_deduped == len(trip.posts) - 1


@pytest.mark.parametrize(("status", "unknown"), [(500, True), (502, True), (503, True), (504, True), (501, False)])
async def test_5xx_answer_to_a_chunk_may_have_stored(
    mode: str, httpserver: HTTPServer, status: int, unknown: bool
) -> None:
    httpserver.expect_request("/api/resources", method="POST").respond_with_data("upstream", status=status)
    result = await post(mode, base(httpserver), resources(4), max_retries=0)
    assert result.accepted == ()
    assert spans(result.outcome_unknown if unknown else result.not_delivered) == [(0, 4)]
    assert spans(result.not_delivered if unknown else result.outcome_unknown) == []
    assert all(f.idempotency_key for f in result.outcome_unknown + result.not_delivered)


@pytest.mark.parametrize("then", ["status_499", "circuit_open"])
async def test_an_earlier_attempts_504_keeps_the_chunk_unknown(mode: str, httpserver: HTTPServer, then: str) -> None:
    answers = [504, 499]  # the 504 came after the backend stored; the retry's 499 is not the whole story
    httpserver.expect_request("/api/resources", method="POST").respond_with_handler(
        lambda request: Response("", status=answers.pop(0) if answers else 499)
    )
    kw: dict[str, Any] = {"max_retries": 1}
    if then == "circuit_open":  # the 504 opens the circuit: the retry is refused without a socket
        kw["circuit_breaker_config"] = CircuitBreakerConfig(failure_threshold=1, recovery_timeout=30.0)
    result = await post(mode, base(httpserver), resources(4), **kw)
    assert result.not_delivered == ()
    assert spans(result.outcome_unknown) == [(0, 4)]
    error = result.outcome_unknown[0].error
    assert isinstance(error, CircuitOpenError) if then == "circuit_open" else getattr(error, "status_code", 0) == 499


async def test_resume_resends_not_delivered_chunks_under_their_keys(mode: str, backend: ReferenceBackend) -> None:
    trip = Trip(at=2, make=lambda: httpx.ConnectError("refused"), after_store=False)
    items = resources(30)
    first = await post(mode, backend.url, items, trip, chunk_size=10, max_retries=0)
    assert spans(first.not_delivered) == [(10, 20)]
    assert first.accepted == tuple(range(10)) + tuple(range(20, 30))
    planned = first.not_delivered[0].idempotency_key
    assert planned == trip.keys()[1]
    resumed = await post(mode, backend.url, items, trip, resume=first)
    assert resumed.ok
    assert trip.keys()[3:] == [planned]  # the original key: a key never stored costs the server nothing
    assert_stored_once(backend, 30)


# ----------------------------------------------------------------- 2. the server's own accounting is checked

DISHONEST = {
    "accepted_short": ingest_answer(4, []),
    "accepted_over": ingest_answer(6, []),
    "success_false": ingest_answer(5, [], success=False),
    "index_outside": ingest_answer(4, [{"index": 5, "reason": "x"}]),
    "index_negative": ingest_answer(4, [{"index": -1, "reason": "x"}]),
    "index_not_int": ingest_answer(4, [{"index": "1", "reason": "x"}]),
    "index_twice": ingest_answer(3, [{"index": 1, "reason": "x"}, {"index": 1, "reason": "y"}]),
    "malformed_then_valid": ingest_answer(3, ["junk", {"index": 2, "reason": "bad", "id": "r-0007"}]),
}


#: Answers the response schema already refuses (with validate_responses=True, the default).
SCHEMA_BREAKS = frozenset({"index_negative", "index_not_int", "malformed_then_valid"})


@pytest.mark.parametrize("validate", [True, False], ids=["validated", "unvalidated"])
@pytest.mark.parametrize("case", list(DISHONEST))
async def test_dishonest_accounting_is_outcome_unknown(
    mode: str, httpserver: HTTPServer, case: str, validate: bool
) -> None:
    def handler(request: Request) -> Response:
        items = json.loads(request.data)
        honest = ingest_answer(len(items), [])
        body = DISHONEST[case] if items[0]["resourceId"] == "r-0005" else honest  # the 2nd chunk lies
        return Response(json.dumps(body), status=200, content_type="application/json")

    httpserver.expect_request("/api/resources", method="POST").respond_with_handler(handler)
    result = await post(mode, base(httpserver), resources(10), chunk_size=5, validate_responses=validate)
    assert result.accepted == (0, 1, 2, 3, 4)  # never "accepted" for the chunk that does not add up
    assert result.rejected == ()
    assert spans(result.outcome_unknown) == [(5, 10)]
    failure = result.outcome_unknown[0]
    assert failure.idempotency_key
    assert isinstance(failure.error, APIResponseValidationError)
    why = "contract" if validate and case in SCHEMA_BREAKS else "accounting"
    assert why in str(failure.error)
    assert_partition(result)
    if case == "malformed_then_valid":  # a malformed rejection does not hide the ones after it
        assert failure.rejected == (RejectedItem(index=7, reason="bad", id="r-0007"),)
        assert "rejected[0]" in str(failure.error)
    assert not result.settled


async def test_honest_rejections_still_map_back(mode: str, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/resources", method="POST").respond_with_json(
        ingest_answer(4, [{"index": 2, "reason": "dup", "id": "r-0002"}])
    )
    result = await post(mode, base(httpserver), resources(5))
    assert result.accepted == (0, 1, 3, 4)
    assert result.rejected == (RejectedItem(index=2, reason="dup", id="r-0002"),)
    assert result.outcome_unknown == ()
    assert result.settled
    assert not result.ok


RENAMED = Operation(
    "post_things",
    "POST",
    "/api/things",
    idempotency_header="Idempotency-Key",
    item_schema={"type": "object"},
    requires_auth=False,
    batch=BatchSpec(max_items=5, accepted_field="stored", rejected_field="refused"),
)


@pytest.mark.parametrize(
    ("answer", "honest"),
    [
        ({"stored": 4, "refused": [{"index": 1, "reason": "no"}]}, True),
        ({"stored": 3, "accepted": 4, "refused": [{"index": 1, "reason": "no"}]}, False),
    ],
)
async def test_accounting_reads_the_operations_accepted_field(mode: str, answer: dict[str, Any], honest: bool) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    config = ClientConfig(base_url="http://127.0.0.1:9", validate_responses=False)
    items = [{"n": i} for i in range(5)]

    def make_kwargs() -> dict[str, Any]:
        return {"method": "post", "url": "/api/things"}

    def parse(data: Any) -> Any:
        return data

    if mode == "sync":
        with SyncAPIClient(config, transport=transport) as client:
            result = client._ingest(RENAMED, items, make_kwargs, parse)
    else:
        async with AsyncAPIClient(config, transport=transport) as aclient:
            result = await aclient._ingest(RENAMED, items, make_kwargs, parse)
    if honest:
        assert (result.accepted, [r.index for r in result.rejected]) == ((0, 2, 3, 4), [1])
    else:
        assert result.accepted == ()
        assert spans(result.outcome_unknown) == [(0, 5)]
        assert "stored 3 + refused 1 != 5" in str(result.outcome_unknown[0].error)


# -------------------------------------------------------------------------- 4. an exception escaping a batch


def assert_interrupted_at_chunk_2(result: BatchResult | None, trip: Trip) -> None:
    """Chunk 1 (items 0-9) accepted, chunk 2 on the wire, the rest never sent."""
    assert result is not None
    assert result.accepted == tuple(range(10))
    assert spans(result.outcome_unknown) == [(10, 20)]
    assert result.outcome_unknown[0].idempotency_key == trip.keys()[1]
    assert spans(result.not_delivered) == [(20, 30), (30, 40), (40, 50)]
    planned = [f.idempotency_key for f in result.not_delivered]
    assert all(planned)
    assert len(set(planned) | set(trip.keys())) == 5
    assert len(trip.posts) == 2, "nothing more was sent"
    assert not result.settled
    assert_partition(result)


async def resume_stores_once(mode: str, backend: ReferenceBackend, items: list[dict[str, Any]], partial: Any) -> None:
    """Resuming the partial result stores every item exactly once, every chunk under its key."""
    trip = Trip(at=0, make=RuntimeError)
    resumed = await post(mode, backend.url, items, trip, resume=partial)
    assert resumed.ok
    assert resumed.settled
    expected = [
        f.idempotency_key for f in sorted(partial.outcome_unknown + partial.not_delivered, key=lambda f: f.start)
    ]
    assert trip.keys() == expected
    assert_stored_once(backend, len(items))


@pytest.mark.parametrize(
    "make",
    [lambda: RuntimeError("boom"), RecursionError, httpx.RequestNotRead],
    ids=["RuntimeError", "RecursionError", "RequestNotRead"],
)
async def test_exception_from_below_leaves_a_resumable_result(
    mode: str, backend: ReferenceBackend, make: Callable[[], BaseException]
) -> None:
    trip = Trip(at=2, make=make)  # raised after the backend stored chunk 2
    items = resources(50)
    with pytest.raises(BatchInterruptedError) as info:
        await post(mode, backend.url, items, trip, chunk_size=10)
    err = info.value
    assert isinstance(err, APIError)
    assert type(err.__cause__) is type(make())
    assert_interrupted_at_chunk_2(err.result, trip)
    assert backend.stats().item_writes == 20
    await resume_stores_once(mode, backend, items, err.result)


def test_keyboard_interrupt_is_reraised_with_the_result(mode: str, backend: ReferenceBackend) -> None:
    # asyncio.run, not the suite's loop: a KeyboardInterrupt leaving a task stops its event loop.
    trip = Trip(at=2, make=KeyboardInterrupt)
    items = resources(50)
    with pytest.raises(KeyboardInterrupt) as info:
        asyncio.run(post(mode, backend.url, items, trip, chunk_size=10))
    assert_interrupted_at_chunk_2(info.value.result, trip)  # type: ignore[attr-defined]
    asyncio.run(resume_stores_once(mode, backend, items, info.value.result))  # type: ignore[attr-defined]


async def test_cancelled_batch_carries_the_result(backend: ReferenceBackend) -> None:
    hang = asyncio.Event()
    trip = Trip(at=2, make=RuntimeError)
    items = resources(50)
    d = Driver("async", FakeTime()).open(
        backend.url, api_key=API_KEY, batch_concurrency=1, transport=AsyncTrip(trip, hang=hang)
    )
    try:
        task = asyncio.ensure_future(d.post_resources(items, chunk_size=10))
        await hang.wait()  # chunk 2 stored, its answer not yet back
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
    finally:
        await d.close()
    assert_interrupted_at_chunk_2(info.value.result, trip)  # type: ignore[attr-defined]
    await resume_stores_once("async", backend, items, info.value.result)  # type: ignore[attr-defined]


async def test_client_closed_mid_batch(backend: ReferenceBackend) -> None:
    items = resources(50)
    d = open_driver("sync", backend.url)
    client = d.client

    def close_after_first(progress: Any) -> None:
        client.close()  # what another thread may do: the next chunk meets a closed client

    try:
        with pytest.raises(BatchInterruptedError) as info:
            await d.post_resources(items, chunk_size=10, progress=close_after_first)
    finally:
        await d.close()
    assert isinstance(info.value.__cause__, RuntimeError)
    result = info.value.result
    assert result is not None
    assert result.accepted == tuple(range(10))
    assert spans(result.outcome_unknown + result.not_delivered) == [(10, 20), (20, 30), (30, 40), (40, 50)]
    await resume_stores_once("sync", backend, items, result)


async def test_progress_callback_exception_stops_the_batch(mode: str, backend: ReferenceBackend) -> None:
    trip = Trip(at=0, make=RuntimeError)
    items = resources(50)
    seen: list[int] = []

    def progress(event: Any) -> None:
        seen.append(event.done)
        if len(seen) == 2:
            raise ValueError("the caller's bug")

    with pytest.raises(BatchInterruptedError) as info:
        await post(mode, backend.url, items, trip, chunk_size=10, progress=progress)
    err = info.value
    assert isinstance(err, APIError)
    assert isinstance(err.__cause__, ValueError)
    assert len(trip.posts) == 2, "no further chunk is sent"
    result = err.result
    assert result is not None
    assert result.accepted == tuple(range(20))
    assert result.outcome_unknown == ()
    assert spans(result.not_delivered) == [(20, 30), (30, 40), (40, 50)]
    assert all(isinstance(f.error, BatchInterruptedError) for f in result.not_delivered)
    await resume_stores_once(mode, backend, items, result)


# --------------------------------------------------------------------------------------------------- settled


def test_settled_means_nothing_left_to_resume() -> None:
    rejected = (RejectedItem(2, "dup"),)
    failure = ChunkFailure(2, 3, "k", APIError("x"))
    assert BatchResult("op", 3, accepted=(0, 1, 2)).settled
    done = BatchResult("op", 3, accepted=(0, 1), rejected=rejected)
    assert done.settled
    assert not done.ok
    assert not BatchResult("op", 3, accepted=(0, 1), not_delivered=(failure,)).settled
    assert not BatchResult("op", 3, accepted=(0, 1), outcome_unknown=(failure,)).settled
    dry = DryRun("op", "POST", "/x", 3, ((0, 3),))
    assert BatchResult("op", 3, dry_run=dry).settled  # nothing to send: a resume loop ends at once
    assert not BatchResult("op", 3, dry_run=dry).ok  # and nothing was stored


async def test_resume_loop_on_settled_ends(mode: str, httpserver: HTTPServer) -> None:
    failed_once: set[str] = set()

    def handler(request: Request) -> Response:
        items = json.loads(request.data)
        first = items[0]["resourceId"]
        if first == "r-0005" and first not in failed_once:  # the 2nd chunk fails once, not retried
            failed_once.add(first)
            return Response("", status=520)
        rejected = [{"index": i, "reason": "dup"} for i, x in enumerate(items) if x["resourceId"] == "r-0003"]
        body = ingest_answer(len(items) - len(rejected), rejected)
        return Response(json.dumps(body), status=200, content_type="application/json")

    httpserver.expect_request("/api/resources", method="POST").respond_with_handler(handler)
    items = resources(10)
    d = open_driver(mode, base(httpserver), max_retries=0)
    try:
        result = await d.post_resources(items, chunk_size=5)
        passes = 1
        while not result.settled:
            assert passes < 3, "the resume loop does not end"
            result = await d.post_resources(items, resume=result)
            passes += 1
    finally:
        await d.close()
    assert passes == 2
    assert not result.ok  # item 3 stays rejected
    assert result.rejected == (RejectedItem(index=3, reason="dup"),)
    assert result.accepted == (0, 1, 2, 4, 5, 6, 7, 8, 9)


# ---------------------------------------------------------------------------------- resume= checks the items


@pytest.mark.parametrize(
    "change",
    ["swap_in_accepted_chunk", "swap_across_chunks", "edit_in_failed_chunk"],
)
async def test_resume_refuses_other_items(mode: str, backend: ReferenceBackend, change: str) -> None:
    trip = Trip(at=2, make=lambda: httpx.ConnectError("refused"), after_store=False)
    items = resources(30)
    d = open_driver(mode, backend.url, trip, max_retries=0)
    try:
        first = await d.post_resources(items, chunk_size=10)
        assert spans(first.not_delivered) == [(10, 20)]
        other = resources(30)
        if change == "swap_in_accepted_chunk":
            other[0], other[5] = other[5], other[0]
        elif change == "swap_across_chunks":
            other[5], other[15] = other[15], other[5]
        else:
            other[15] = resource(15, currentCost=99.0)
        with pytest.raises(ConfigurationError, match="not the items"):
            await d.post_resources(other, resume=first)
        assert len(trip.posts) == 3, "nothing sent"
        resumed = await d.post_resources(resources(30), resume=first)  # the same items, rebuilt
    finally:
        await d.close()
    assert resumed.ok
    assert_stored_once(backend, 30)


async def test_a_dry_run_says_so_and_is_not_a_failure(driver: Driver) -> None:
    """A dry run's result says it is one (summary, str) and leaves nothing to resume: a
    ``while not result.settled`` loop ends at once; nothing counts as failed."""
    async with driver.open("https://api.example.com", dry_run=True, record=True) as d:
        result = await d.post_resources(resources(1_200), chunk_size=500)
        loops = 0
        while not result.settled:  # a resume loop as the README writes it
            loops += 1
            result = await d.post_resources(resources(1_200), chunk_size=500, resume=result)
    assert loops == 0
    assert d.posts() == []
    summary = result.summary()
    assert summary["dry_run"] is True
    assert (summary["not_delivered"], summary["outcome_unknown"], summary["total"]) == (0, 0, 1_200)
    assert str(result) == "dry run of post_resources: would send 1,200 item(s) in 3 chunk(s); nothing was sent"
    assert not result.ok  # nothing was stored


async def test_a_result_reads_as_one_line(driver: Driver, backend: ReferenceBackend) -> None:
    async with driver.open(backend.url, api_key=API_KEY) as d:
        result = await d.post_resources(resources(20), chunk_size=10)
    assert str(result) == "post_resources: accepted 20  rejected 0  not delivered 0  outcome unknown 0  (2 chunk(s))"
    assert result.summary()["dry_run"] is False
