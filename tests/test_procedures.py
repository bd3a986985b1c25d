"""The core written once: the I/O-free procedures with scripted replies (no server, no
clock), and the defects that sync/async drift and untyped plumbing used to cause, each
through both drivers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

import httpx
import pytest
from finops_api_client import AsyncFinOpsClient, FinOpsClient
from finops_api_client._contract import OPERATIONS

from resilience import (
    EXT_OPERATION,
    CallRecord,
    Operation,
    RetryBudget,
    RetryPolicy,
    call_record_of,
)
from resilience._call import CallContext, call_flow
from resilience._pages import page_walk
from resilience._steps import PAUSE, Send, Sleep, drive_async, drive_sync
from tests.support import FakeTime, page, resource

BASE = "https://api.example.com"
OK_PAGE = page()
INGESTED = {"success": True, "accepted": 1, "rejected": [], "timestamp": "2025-01-15T08:00:00Z"}
POST_OP = Operation("post_things", "POST", "/api/things", idempotency_header="Idempotency-Key")
GET_OP = Operation("get_thing", "GET", "/api/things/{thingId}")


def request(op: Operation, url: str = f"{BASE}/api/things") -> httpx.Request:
    return httpx.Request(op.method, url, extensions={EXT_OPERATION: op})


# -- the call procedure, scripted ----------------------------------------------------------
def test_call_flow_yields_each_attempt_and_wait_and_returns_the_answer() -> None:
    ctx = CallContext(RetryPolicy(max_retries=3), None, None, clock=lambda: 0.0, wall_clock=lambda: 0.0)
    req = request(POST_OP)
    flow = call_flow(req, ctx)
    step = next(flow)
    assert isinstance(step, Send)
    assert step.request is req
    key = req.headers["Idempotency-Key"]
    step = flow.send(httpx.Response(503, headers={"Retry-After": "2"}))
    assert step == Sleep(2.0)  # Retry-After, not the computed backoff
    step = flow.send(None)
    assert isinstance(step, Send)
    assert step.request.headers["Idempotency-Key"] == key  # the same key on the retry
    with pytest.raises(StopIteration) as done:
        flow.send(httpx.Response(200))
    assert done.value.value.status_code == 200
    record = call_record_of(req)
    assert (record.attempts, record.retries) == (2, 1)


def test_call_flow_does_not_retry_a_write_without_its_operations_key() -> None:
    ctx = CallContext(RetryPolicy(max_retries=3))
    unkeyed = Operation("post_once", "POST", "/api/once")
    flow = call_flow(request(unkeyed, f"{BASE}/api/once"), ctx)
    next(flow)
    with pytest.raises(StopIteration) as done:
        flow.send(httpx.Response(503))
    assert done.value.value.status_code == 503


def test_call_flow_marks_a_possibly_delivered_failure_and_re_raises_it() -> None:
    ctx = CallContext(RetryPolicy(max_retries=0))
    req = request(POST_OP)
    flow = call_flow(req, ctx)
    next(flow)
    with pytest.raises(httpx.ReadTimeout):
        flow.throw(httpx.ReadTimeout("slow"))
    assert call_record_of(req).maybe_delivered is True


def test_call_flow_in_testing_mode_pauses_instead_of_sleeping() -> None:
    from resilience import as_testing

    ctx = CallContext(RetryPolicy(max_retries=2))
    with as_testing(attempts=3):
        flow = call_flow(request(GET_OP, f"{BASE}/api/things/1"), ctx)
        next(flow)
        assert flow.send(httpx.Response(502)) is PAUSE


def test_page_walk_ends_on_no_cursor_and_refuses_a_repeated_one() -> None:
    class Page:
        def __init__(self, cursor: object) -> None:
            self.next_cursor = cursor

    walk = page_walk(GET_OP)
    assert next(walk) is None
    assert walk.send(Page("c1")) == "c1"
    with pytest.raises(StopIteration):
        walk.send(Page(None))
    walk = page_walk(GET_OP)
    next(walk)
    walk.send(Page("c1"))
    with pytest.raises(Exception, match="cursor repeated"):
        walk.send(Page("c1"))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_both_drivers_run_one_procedure_alike(mode: str) -> None:
    """The same scripted procedure through each driver: same sends, same sleeps, same value,
    and an exception from a send goes back into the procedure."""
    answers: list[Any] = [httpx.ConnectError("refused"), httpx.Response(200)]
    sent: list[str] = []
    slept: list[float] = []

    def procedure() -> Generator[Any, Any, str]:
        try:
            yield Send(httpx.Request("GET", f"{BASE}/a"))
        except httpx.ConnectError as exc:
            sent.append(type(exc).__name__)
        yield Sleep(0.5)
        response = yield Send(httpx.Request("GET", f"{BASE}/b"))
        return f"done {response.status_code}"

    def send(req: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    async def asend(req: httpx.Request) -> httpx.Response:
        return send(req)

    async def asleep(seconds: float) -> None:
        slept.append(seconds)

    if mode == "sync":
        value = drive_sync(procedure(), send, slept.append)
    else:
        value = asyncio.run(drive_async(procedure(), asend, asleep))
    assert value == "done 200"
    assert sent == ["ConnectError"]
    assert slept == [0.5]


# -- defects, each through both drivers -----------------------------------------------------
class Driver:
    """Builds the sync or async client and runs one of its calls to completion."""

    def __init__(self, mode: str, handler: Callable[[httpx.Request], httpx.Response], **options: Any) -> None:
        self.mode = mode
        self.ft = FakeTime()
        transport = httpx.MockTransport(handler)
        if mode == "sync":
            self.client: Any = FinOpsClient(BASE, transport=transport, sleep=self.ft.sleep, **options)
        else:
            self.client = AsyncFinOpsClient(BASE, transport=transport, asleep=self.ft.asleep, **options)

    def run(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.mode == "sync":
            try:
                return getattr(self.client, name)(*args, **kwargs)
            finally:
                self.client.close()

        async def go() -> Any:
            try:
                return await getattr(self.client, name)(*args, **kwargs)
            finally:
                await self.client.close()

        return asyncio.run(go())


class IOAuth(httpx.Auth):
    """An auth that does I/O the way httpx documents it: by overriding the sync and async
    flows (its plain ``auth_flow`` sends nothing)."""

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Token"] = "from-sync-io"
        yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await asyncio.sleep(0)
        request.headers["X-Token"] = "from-async-io"
        yield request


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_custom_auth_overriding_the_io_flows_sends_its_credential(mode: str) -> None:
    seen: list[str | None] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.headers.get("x-token"))
        return httpx.Response(200, json=OK_PAGE)

    Driver(mode, handler, auth=IOAuth()).run("get_resources")
    assert seen == [f"from-{mode}-io"]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("policy_retries", "given", "attempts"), [(5, 3, 4), (5, 0, 1), (1, None, 2)])
def test_max_retries_applies_even_with_a_retry_policy(
    mode: str, policy_retries: int, given: int | None, attempts: int
) -> None:
    """``max_retries`` given is applied over the policy's, even when it equals the default 3;
    not given (``None``) leaves the policy's own."""
    calls: list[int] = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503)

    d = Driver(mode, handler, retry_policy=RetryPolicy(max_retries=policy_retries), max_retries=given)
    assert d.client.retry_policy.max_retries == (policy_retries if given is None else given)
    with pytest.raises(Exception, match="503"):
        d.run("get_resources")
    assert len(calls) == attempts


class CountingBudget(RetryBudget):
    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(clock=clock)
        self.deposits = 0

    def deposit(self) -> None:
        self.deposits += 1
        super().deposit()


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_same_origin_redirect_is_one_logical_call(mode: str, method: str) -> None:
    """A call answered by a same-origin 307 counts once in the metrics and makes one budget
    deposit; both hops carry the same request id (and, for a write, the same key)."""
    hops: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        hops.append(req)
        if len(hops) == 1:
            return httpx.Response(307, headers={"Location": f"{BASE}{req.url.raw_path.decode()}"})
        if method == "GET":
            return httpx.Response(200, json=OK_PAGE)
        return httpx.Response(200, json=INGESTED)

    ft = FakeTime()
    budget = CountingBudget(ft.clock)
    d = Driver(mode, handler, retry_budget=budget, api_key="k")
    client = d.client
    if method == "GET":
        d.run("get_resources")
    else:
        result = d.run("post_resources", [resource(1)])
        assert result.ok
    assert len(hops) == 2
    assert hops[0].headers["x-request-id"] == hops[1].headers["x-request-id"]
    if method == "POST":
        assert hops[0].headers["idempotency-key"] == hops[1].headers["idempotency-key"]
    snapshot = client.get_metrics_snapshot()
    assert snapshot.global_metrics.requests == 1
    assert snapshot.global_metrics.successes == 1
    assert budget.deposits == 1


def test_operations_are_typed_values_from_the_contract() -> None:
    """Codegen writes typed operations: route templates as in the spec (camelCase path
    parameters kept), the idempotency header, batch and page specs."""
    approve = OPERATIONS["approve_optimization"]
    assert approve.route == "/api/optimizations/{optimizationId}/approve"
    assert approve.idempotency_header == "Idempotency-Key"
    assert approve.sends_keyed_writes
    ingest = OPERATIONS["post_resources"]
    assert ingest.batch is not None
    assert ingest.batch.max_items == 500
    assert ingest.item_schema is not None
    listing = OPERATIONS["get_resources"]
    assert listing.page is not None
    assert listing.page.next_attr == "next_cursor"
    assert listing.batch is None
    assert OPERATIONS["get_health"].requires_auth is False
    assert all(isinstance(op, Operation) for op in OPERATIONS.values())
    assert isinstance(CallRecord(), CallRecord)
