"""Redirects and close(): a write never follows a redirect to another origin, DEBUG logging
changes nothing, a redirect loop is a typed error at once, and close() ends everything.

Every test runs sync and async (``mode``) against real loopback servers, stopped by the test:
pytest-httpserver, the reference backend, or :class:`RawServer` (which counts connections).
Time is fake (``FakeTime``): no test waits on a backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer

from reference_backend import FaultPlan, ReferenceBackend
from resilience import (
    APIConnectionError,
    APIError,
    ClientClosedError,
    CrossOriginRedirectError,
    LoggingTransport,
    RedirectLoopError,
    RetryPolicy,
    SwitchableAuth,
    build_transport,
    default_async_transport,
)
from resilience._stack import ResilienceStack
from tests.support import Driver, loopback_server, page, resource, resource_id, resources

# Every test here runs over both ways a hop is sent (conftest.send_path).
pytestmark = pytest.mark.usefixtures("send_path")

API_KEY = "redirect-key-5c1e"
INGESTED_2 = {"success": True, "accepted": 2, "rejected": [], "timestamp": "2025-01-15T08:00:00Z"}
INGESTED_1 = {"success": True, "accepted": 1, "rejected": [], "timestamp": "2025-01-15T08:00:00Z"}

Answer = Callable[[str, str], tuple[int, dict[str, str], bytes]]


class RawServer:
    """HTTP/1.1 on a loopback socket, a thread per connection, keep-alive; counts the
    connections it accepted and the requests it read (request bodies framed by
    Content-Length or chunked). ``answer(method, target)`` gives status, headers and body.

    ``close_after_answer``: each connection is closed right after its first answer without a
    ``Connection: close`` header (as some proxies do); the close is corked to the answer, so
    it reaches the client together with it.
    """

    def __init__(self, answer: Answer, *, close_after_answer: bool = False) -> None:
        self.answer = answer
        self.close_after_answer = close_after_answer
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.connections = 0
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self.connections += 1
                self._sockets.append(conn)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while True:
                line = reader.readline()
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (header := reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                self._skip_body(reader, headers)
                with self._lock:
                    self.requests.append((method, target))
                status, extra, body = self.answer(method, target)
                head = [f"HTTP/1.1 {status} Answer", f"Content-Length: {len(body)}"]
                head += [f"{name}: {value}" for name, value in extra.items()]
                data = ("\r\n".join(head) + "\r\n\r\n").encode() + body
                if self.close_after_answer:
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
                    conn.sendall(data)
                    conn.shutdown(socket.SHUT_WR)  # flushes the answer and the FIN together
                    return
                conn.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            reader.close()
            conn.close()

    @staticmethod
    def _skip_body(reader: Any, headers: dict[str, str]) -> None:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(reader.readline().split(b";")[0], 16)
                reader.read(size + 2)  # the chunk and its CRLF (the last: the final CRLF)
                if size == 0:
                    return
        length = int(headers.get("content-length", "0"))
        if length:
            reader.read(length)

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for conn in sockets:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(5)
        for thread in threads:
            thread.join(5)


@contextlib.contextmanager
def raw_server(answer: Answer, *, close_after_answer: bool = False) -> Iterator[RawServer]:
    server = RawServer(answer, close_after_answer=close_after_answer)
    try:
        yield server
    finally:
        server.stop()


def json_body(data: Any) -> tuple[dict[str, str], bytes]:
    return {"Content-Type": "application/json"}, json.dumps(data).encode()


@pytest.fixture
def home() -> Iterator[HTTPServer]:
    with loopback_server() as server:
        yield server


def origin_of(server: HTTPServer) -> str:
    return f"http://{server.host}:{server.port}"


# -- 3. a write never follows a redirect to another origin -----------------------------------------


async def test_a_chunk_redirected_to_another_origin_is_not_delivered_and_resumes(
    driver: Driver, other_origin: HTTPServer
) -> None:
    """The home backend answers the POST with a 307 to another origin that would say
    "accepted": the SDK refuses to follow, nothing reaches that origin, the chunk is not
    delivered (the home stored nothing), and resuming once the redirect is gone stores it."""
    other_origin.expect_request("/api/resources").respond_with_json(INGESTED_2)
    plan = FaultPlan(
        seed=1,
        rate=1.0,
        kinds=["redirect_other_origin"],
        methods=["POST"],
        redirect_host="127.0.0.1",
        redirect_port=other_origin.port,
    )
    items = resources(2)
    with ReferenceBackend(api_key=API_KEY, require_auth=True, fault_plan=plan) as backend:
        driver.open(backend.url, api_key=API_KEY)
        result = await driver.post_resources(items)

        assert other_origin.log == [], "the write reached the other origin"
        assert backend.stored_ids("resources") == []
        assert result.accepted == ()
        assert [(f.start, f.stop) for f in result.not_delivered] == [(0, 2)]
        error = result.not_delivered[0].error
        assert isinstance(error, CrossOriginRedirectError)
        assert error.origin == origin_of(other_origin)
        assert "another origin" in str(error)
        assert API_KEY not in str(error)

        backend.set_fault_plan(None)
        resumed = await driver.post_resources(items, resume=result)
        assert resumed.ok
        assert sorted(backend.stored_ids("resources")) == [resource_id(0), resource_id(1)]
        assert backend.stats().item_writes == 2
    assert other_origin.log == []


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (307, "not_delivered"),  # "send it there instead": the home did not act on it
        (308, "not_delivered"),
        (301, "outcome_unknown"),  # httpx would follow with a GET: the home may have acted
        (302, "outcome_unknown"),
        (303, "outcome_unknown"),  # "see the result there": the home acted
    ],
)
async def test_no_redirect_of_a_write_reaches_another_origin(
    driver: Driver, home: HTTPServer, other_origin: HTTPServer, status: int, state: str
) -> None:
    home.expect_request("/api/resources", method="POST").respond_with_data(
        "", status=status, headers={"Location": other_origin.url_for("/api/resources")}
    )
    other_origin.expect_request("/api/resources").respond_with_json(INGESTED_2)
    driver.open(origin_of(home), api_key=API_KEY)
    result = await driver.post_resources(resources(2))
    assert other_origin.log == [], "a request reached the other origin"
    assert len(home.log) == 1
    failures = result.not_delivered if state == "not_delivered" else result.outcome_unknown
    assert [(f.start, f.stop) for f in failures] == [(0, 2)], result
    assert isinstance(failures[0].error, CrossOriginRedirectError)


def layer_stack() -> ResilienceStack:
    return ResilienceStack(auth=SwitchableAuth(), policy=RetryPolicy(), budget=None, breakers=None, metrics=None)


def sync_request(transport: httpx.BaseTransport, method: str, url: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client(transport=transport, follow_redirects=True) as client:
        return client.request(method, url, **kwargs)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "GET"])
async def test_the_stack_refuses_every_write_method_to_another_origin(
    mode: str, home: HTTPServer, other_origin: HTTPServer, method: str
) -> None:
    """An httpx client over ``build_transport``: a write redirected (307) to another origin
    raises before anything is sent there; a GET follows as before, without credentials."""
    home.expect_request("/x", method=method).respond_with_data(
        "", status=307, headers={"Location": other_origin.url_for("/y")}
    )
    other_origin.expect_request("/y").respond_with_json({"ok": True})
    kwargs: dict[str, Any] = {"content": b'{"a":1}', "headers": {"X-API-Key": API_KEY}}
    url = home.url_for("/x")
    stack = layer_stack()
    outcome: httpx.Response | Exception
    try:
        if mode == "async":
            t = build_transport(default_async_transport(), stack, home_origin=origin_of(home), per_call=False)
            async with httpx.AsyncClient(transport=t, follow_redirects=True) as ac:
                outcome = await ac.request(method, url, **kwargs)
        else:
            t = build_transport(httpx.HTTPTransport(), stack, home_origin=origin_of(home), per_call=False)
            outcome = sync_request(t, method, url, **kwargs)
    except httpx.TransportError as exc:
        outcome = exc
    if method == "GET":
        assert isinstance(outcome, httpx.Response)
        assert outcome.status_code == 200
        assert len(other_origin.log) == 1
        assert "x-api-key" not in other_origin.log[0][0].headers
        return
    assert isinstance(outcome, httpx.TransportError), outcome
    assert isinstance(getattr(outcome, "error", None), CrossOriginRedirectError)
    assert other_origin.log == []
    assert len(home.log) == 1


# -- 12. DEBUG logging changes nothing ----------------------------------------------------------------


@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO])
async def test_a_same_origin_write_redirect_works_with_debug_logging(
    driver: Driver, home: HTTPServer, caplog: pytest.LogCaptureFixture, level: int
) -> None:
    home.expect_request("/api/resources", method="POST").respond_with_data(
        "", status=307, headers={"Location": home.url_for("/api/landing")}
    )
    home.expect_request("/api/landing", method="POST").respond_with_json(INGESTED_1)
    caplog.set_level(level, logger="resilience.http")
    driver.open(origin_of(home), api_key=API_KEY)
    result = await driver.post_resources([resource(1)])
    assert result.ok, result
    assert [entry[0].path for entry in home.log] == ["/api/resources", "/api/landing"]
    assert home.log[1][0].get_data() == home.log[0][0].get_data()  # the same body, both hops
    lines = [r.getMessage() for r in caplog.records if r.name == "resilience.http"]
    if level == logging.DEBUG:
        requests = [line for line in lines if line.startswith("request POST")]
        assert len(requests) == 2
        assert all(resource_id(1) in line for line in requests), requests  # the hop's body too
        assert [line.split()[3] for line in lines if line.startswith("response")] == ["status=307", "status=200"]
    else:
        assert lines == []
    assert all(API_KEY not in line for line in lines)


async def test_the_logging_layer_reads_no_body_the_request_has_not_made_readable(
    driver: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    """A request built around a stream (as httpx builds a redirect hop) has no readable
    content: the DEBUG line says nothing of its body and the inner transport gets it whole."""
    received: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request.content)
        return httpx.Response(200)

    caplog.set_level(logging.DEBUG, logger="resilience.http")
    layer = LoggingTransport(httpx.MockTransport(handler))
    hop = httpx.Request("POST", "https://api.test/api/resources", stream=httpx.ByteStream(b'{"n":1}'))
    response = await driver.send(layer, hop)
    assert response.status_code == 200
    assert received == [b'{"n":1}']
    lines = [r.getMessage() for r in caplog.records if r.name == "resilience.http"]
    assert len(lines) == 2
    assert lines[0].rsplit("body=", 1)[1] == ""  # not read: nothing said of it


# -- 14. a redirect loop is a typed error, at once ----------------------------------------------------


@pytest.mark.parametrize("close_after_answer", [False, True], ids=["keep-alive", "closing-server"])
async def test_a_redirect_loop_is_a_typed_error_without_retries(driver: Driver, close_after_answer: bool) -> None:
    """Every answer redirects to itself. The call ends after the 20 redirects httpx follows,
    with an error that says so, and without a retry or a backoff, in both modes; also when
    the server closes each connection after its answer (async used to stumble on those
    closed connections and back off for seconds)."""

    def answer(method: str, target: str) -> tuple[int, dict[str, str], bytes]:
        return 307, {"Location": "/api/resources"}, b""

    with raw_server(answer, close_after_answer=close_after_answer) as server:
        driver.open(server.url, api_key=API_KEY)
        with pytest.raises(APIConnectionError) as info:
            await driver.call("get_resources")
        assert isinstance(info.value, RedirectLoopError), repr(info.value)
        assert "redirect loop" in str(info.value)
        assert "get_resources" in str(info.value)
        assert isinstance(info.value.__cause__, httpx.TooManyRedirects)
        assert driver.ft.sleeps == []
        assert len(server.requests) == 21  # the call and its 20 redirects, once
        snapshot = driver.client.get_metrics_snapshot()
        assert snapshot is not None
        assert snapshot.global_metrics.requests == 1


# -- 13. close() with calls in flight -----------------------------------------------------------------

#: One call per kind: its first answer is held until close() returned, then it needs one more
#: request: a redirect hop, or a retry.
CURSORS = ["redirect-1", "retry-1", "redirect-2", "retry-2"]


def close_answer(method: str, target: str) -> tuple[int, dict[str, str], bytes]:
    if target.startswith("/api/landing"):
        return (200, *json_body(page()))
    if "cursor=redirect" in target:
        return 307, {"Location": "/api/landing"}, b""
    return (503, *json_body({"error": {"code": "unavailable", "message": "try again"}}))


class SyncHold(httpx.BaseTransport):
    """The network transport, but an answer to ``/api/resources`` is read and then held until
    ``release``: the call is answered and still in flight."""

    def __init__(self) -> None:
        self.real = httpx.HTTPTransport()
        self.arrived = threading.Semaphore(0)
        self.release = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.real.handle_request(request)
        if request.url.path == "/api/resources":
            response.read()
            self.arrived.release()
            self.release.wait(10)
        return response

    def close(self) -> None:
        self.real.close()


class AsyncHold(httpx.AsyncBaseTransport):
    """:class:`SyncHold` for the async client, over the SDK's default async transport."""

    def __init__(self) -> None:
        self.real = default_async_transport()
        self.arrived = 0
        self.all_arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.real.handle_async_request(request)
        if request.url.path == "/api/resources":
            await response.aread()
            self.arrived += 1
            if self.arrived == len(CURSORS):
                self.all_arrived.set()
            await asyncio.wait_for(self.release.wait(), 10)
        return response

    async def aclose(self) -> None:
        await self.real.aclose()


async def test_close_with_calls_in_flight_opens_no_connection(driver: Driver) -> None:
    """Four calls are answered and still in flight when ``close()`` runs; each then needs one
    more request (a redirect hop or a retry). After close() no connection is opened and no
    request is sent: each call ends with ``ClientClosedError``; so does every later call."""
    with raw_server(close_answer) as server:
        outcomes: list[Any]
        if driver.is_async:
            ahold = AsyncHold()
            driver.open(server.url, api_key=API_KEY, transport=ahold)
            tasks = [asyncio.ensure_future(driver.call("get_resources", cursor=c)) for c in CURSORS]
            await asyncio.wait_for(ahold.all_arrived.wait(), 10)
            await driver.close()
            connections, sent = server.connections, len(server.requests)
            ahold.release.set()
            outcomes = list(await asyncio.gather(*tasks, return_exceptions=True))
        else:
            hold = SyncHold()
            driver.open(server.url, api_key=API_KEY, transport=hold)
            with ThreadPoolExecutor(len(CURSORS)) as pool:
                futures = [pool.submit(driver.client.get_resources, cursor=c) for c in CURSORS]
                for _ in CURSORS:
                    assert hold.arrived.acquire(timeout=10)
                await driver.close()
                connections, sent = server.connections, len(server.requests)
                hold.release.set()
                outcomes = [f.exception(10) or f.result() for f in futures]
        assert sent == len(CURSORS)
        assert server.connections == connections, "a connection was opened after close()"
        assert len(server.requests) == sent, "a request was sent after close()"
        assert all(isinstance(o, ClientClosedError) for o in outcomes), outcomes
        with pytest.raises(ClientClosedError):
            await driver.call("get_resources")
        report = await driver.call("health_check")
        assert not report.healthy
        assert report.error is not None
        assert "closed" in report.error
        assert server.connections == connections
        assert len(server.requests) == sent


async def test_after_close_every_call_raises_client_closed_error(driver: Driver) -> None:
    """Not httpx's bare ``RuntimeError``: a ``ClientClosedError`` (an ``APIError``) from every
    kind of call; ``health_check()`` answers (not healthy, closed) without raising."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=page())

    driver.open("https://api.test", api_key=API_KEY, transport=httpx.MockTransport(handler))
    async with driver:
        await driver.call("get_resources")
    assert len(seen) == 1
    calls: list[Callable[[], Any]] = [
        lambda: driver.call("get_resources"),
        lambda: driver.collect("iter_resources"),
        lambda: driver.post_resources(resources(3)),
        lambda: driver.call("approve_optimization", "opt-1"),
    ]
    for call in calls:
        with pytest.raises(ClientClosedError) as info:
            await call()
        assert isinstance(info.value, APIError)
        assert "closed" in str(info.value)
    report = await driver.call("health_check")
    assert not report.healthy
    assert report.error is not None
    assert "closed" in report.error
    assert len(seen) == 1
    assert issubclass(ClientClosedError, APIError)
