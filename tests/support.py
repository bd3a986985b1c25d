"""Shared test helpers: fake time, the sync/async driver, contract-valid items, small utilities."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Self

import httpx
from finops_api_client import AsyncFinOpsClient, FinOpsClient
from pytest_httpserver import HTTPServer

from resilience import BatchResult, default_async_transport

API_KEY = "sk-test-5f1c9e2a7b"
TOKEN = "tok-test-3d8a6b1f0c"
BASIC = ("alice", "pw-s3cr3t-9x")
NOW = "2025-01-15T08:00:00+00:00"
#: The fake wall clock's reading at the fake monotonic clock's start.
WALL = 1_750_000_000.0
MODES = ("sync", "async")


class FakeTime:
    """A fake monotonic clock, and a wall clock moving with it, advanced only by the fake
    sleeps or by ``advance`` (thread-safe). ``asleep`` still yields to the event loop once."""

    def __init__(self, start: float = 1000.0) -> None:
        self.start = start
        self.now = start
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[float], None] | None = None
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL + self.elapsed

    @property
    def elapsed(self) -> float:
        """Fake seconds since the start."""
        return self.now - self.start

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        if self.on_sleep is not None:
            self.on_sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)


class SyncRecorder(httpx.BaseTransport):
    """Innermost sync transport: records what goes on the wire, then sends it."""

    def __init__(self, requests: list[httpx.Request]) -> None:
        self.wrapped = httpx.HTTPTransport()
        self.requests = requests

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.wrapped.handle_request(request)

    def close(self) -> None:
        self.wrapped.close()


class AsyncRecorder(httpx.AsyncBaseTransport):
    """Innermost async transport: records what goes on the wire, then sends it with the default transport."""

    def __init__(self, requests: list[httpx.Request]) -> None:
        self.wrapped = default_async_transport()
        self.requests = requests

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.wrapped.handle_async_request(request)

    async def aclose(self) -> None:
        await self.wrapped.aclose()


class Driver:
    """One test body for sync and async (``mode``): ``await d.call(name, ...)`` calls the sync
    client directly (blocking is fine: the servers run on their own threads) or awaits the async
    one; ``await d.send(transport, request)`` does the same one layer down, on a transport.

    ``open`` builds the facade of the mode with the fake time wired in; ``async with`` on the
    opened driver enters and leaves the client's own ``with`` / ``async with``.
    """

    def __init__(self, mode: str, ft: FakeTime | None = None) -> None:
        assert mode in MODES, mode
        self.mode = mode
        self.ft = ft if ft is not None else FakeTime()
        self.requests: list[httpx.Request] = []
        self._client: FinOpsClient | AsyncFinOpsClient | None = None
        self._closed = False
        self._entered = False

    @property
    def is_async(self) -> bool:
        return self.mode == "async"

    # -- the facade ------------------------------------------------------------------------

    def open(self, base_url: str | None = None, *, record: bool = False, **kwargs: Any) -> Self:
        """Build the client (``base_url`` None: from the environment). ``record``: an innermost
        transport appends every request sent on the wire to ``self.requests``."""
        assert self._client is None, "one client per driver"
        kwargs.setdefault("clock", self.ft.clock)
        if self.is_async:
            if record:
                kwargs["transport"] = AsyncRecorder(self.requests)
            self._client = AsyncFinOpsClient(base_url, asleep=self.ft.asleep, **kwargs)
        else:
            if record:
                kwargs["transport"] = SyncRecorder(self.requests)
            self._client = FinOpsClient(base_url, sleep=self.ft.sleep, **kwargs)
        return self

    @property
    def client(self) -> FinOpsClient | AsyncFinOpsClient:
        assert self._client is not None, "Driver.open() first"
        return self._client

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """The client's method ``name``, awaited on the async client."""
        result = getattr(self.client, name)(*args, **kwargs)
        if self.is_async:
            result = await result
        return result

    async def collect(self, name: str, *args: Any, **kwargs: Any) -> list[Any]:
        """Every item of the iterator method ``name`` (``iter_resources``...)."""
        iterator = getattr(self.client, name)(*args, **kwargs)
        if self.is_async:
            return [item async for item in iterator]
        return list(iterator)

    async def post_resources(self, items: Any, **kwargs: Any) -> BatchResult:
        result: BatchResult = await self.call("post_resources", items, **kwargs)
        return result

    def posts(self) -> list[httpx.Request]:
        """The POSTs recorded on the wire (``open(record=True)``)."""
        return [r for r in self.requests if r.method == "POST"]

    async def close(self) -> None:
        """Close the client with ``close()`` / ``aclose()`` (once; later calls do nothing)."""
        if self._client is None or self._closed:
            return
        self._closed = True
        if isinstance(self._client, AsyncFinOpsClient):
            await self._client.aclose()
        else:
            self._client.close()

    async def __aenter__(self) -> Self:
        """Enter the opened client's own context manager (``with`` / ``async with``)."""
        if isinstance(self._client, AsyncFinOpsClient):
            await self._client.__aenter__()
        elif self._client is not None:
            self._client.__enter__()
        self._entered = self._client is not None
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._closed:
            return
        if not self._entered:
            await self.close()
            return
        self._closed = True
        if isinstance(self._client, AsyncFinOpsClient):
            await self._client.__aexit__(exc_type, exc, tb)
        elif self._client is not None:
            self._client.__exit__(exc_type, exc, tb)

    # -- a transport -----------------------------------------------------------------------

    async def send(self, transport: Any, request: httpx.Request) -> httpx.Response:
        """One logical call through ``transport``: ``handle_request`` or ``handle_async_request``."""
        if self.is_async:
            response: httpx.Response = await transport.handle_async_request(request)
        else:
            response = transport.handle_request(request)
        return response

    async def read(self, response: httpx.Response) -> bytes:
        return await response.aread() if self.is_async else response.read()


def resource_id(n: int) -> str:
    return f"r-{n:04d}"


def resource(n: int, **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "resourceId": resource_id(n),
        "resourceType": ("ec2", "rds", "s3")[n % 3],
        "region": ("us-east-1", "eu-west-1")[n % 2],
        "accountId": f"acct-{n % 4}",
        "currentCost": round(1.5 + n * 0.25, 2),
        "currency": "USD",
        "utilizationMetrics": {"cpu": 0.5},
        "tags": {"env": "test"},
        "timestamp": NOW,
    }
    item.update(overrides)
    return item


def resources(n: int) -> list[dict[str, Any]]:
    """``resource(0)`` .. ``resource(n - 1)``."""
    return [resource(i) for i in range(n)]


def optimization(n: int, **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "optimizationId": f"opt-{n}",
        "resourceId": f"r-{n:04d}",
        "optimizationType": ("RIGHTSIZE", "TERMINATE", "SCHEDULE")[n % 3],
        "estimatedSavings": 10.0 * n,
        "riskLevel": ("LOW", "MEDIUM", "HIGH")[n % 3],
        "confidenceScore": 0.9,
        "status": "PENDING",
    }
    item.update(overrides)
    return item


def anomaly(n: int, **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "anomalyId": f"anom-{n}",
        "anomalyType": "spike",
        "severity": ("LOW", "HIGH", "CRITICAL")[n % 3],
        "actualCost": 100.0 + n,
        "expectedCost": 80.0,
    }
    item.update(overrides)
    return item


def forecast(n: int, **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "budgetId": f"bud-{n}",
        "budgetType": "monthly",
        "budgetAmount": 1000.0,
        "forecastAmount": 900.0 + n,
        "periodStart": "2026-12-01",
        "periodEnd": "2026-12-31",
    }
    item.update(overrides)
    return item


def layers(client: Any) -> list[Any]:
    """The transport stack, outermost first, following ``.inner``."""
    out = []
    t = client._transport
    while t is not None:
        out.append(t)
        t = getattr(t, "inner", None)
    return out


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def page(items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"success": True, "data": items or [], "nextCursor": None, "timestamp": "2025-01-15T08:00:00Z"}


def base(httpserver: HTTPServer) -> str:
    return f"http://{httpserver.host}:{httpserver.port}"


@contextlib.contextmanager
def loopback_server() -> Iterator[HTTPServer]:
    """A pytest-httpserver on a free loopback port, stopped on exit (another port: another origin)."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()
