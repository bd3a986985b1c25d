"""Bounds that hold outside the lab's fault model: the deadline against a server dripping its
body, the size cap against a decompression bomb, the typed errors against deeply nested JSON.
Sync and async alike (``driver``)."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import tracemalloc
import zlib
from types import TracebackType
from typing import Self

import pytest
from pytest_httpserver import HTTPServer

from resilience import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    HealthReport,
    InternalServerError,
    ResponseTooLargeError,
    RetryPolicy,
)
from tests.support import NOW, Driver

# Every test here runs over both ways a hop is sent (conftest.send_path).
pytestmark = pytest.mark.usefixtures("send_path")

HEALTH = b'{"status":"ok","timestamp":"%s"}' % NOW.encode()

# -- 5. the deadline bounds the whole call, body included ------------------------------------


class RawServer:
    """A raw socket server on a thread (it allocates next to nothing, so tracemalloc measures
    the client). Each connection gets the status line and headers at once, then the body: at
    once, or one byte every ``drip`` seconds (real time). ``done`` is set once a whole body went
    out; a client hanging up ends the answer."""

    def __init__(self, body: bytes, *, drip: float | None = None, chunked: bool = False, headers: bytes = b"") -> None:
        self.body, self.drip, self.chunked = body, drip, chunked
        framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % len(body)
        self.head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + headers + framing + b"\r\n\r\n"
        self.done = threading.Event()
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self._sock.settimeout(0.05)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.recv(65536)
                    conn.sendall(self.head)
                    if self.drip is None:
                        conn.sendall(self.body)
                    elif not self._drip(conn):
                        continue
                except OSError:
                    continue  # the client hung up
                self.done.set()

    def _drip(self, conn: socket.socket) -> bool:
        for i in range(len(self.body)):
            if self._stop.wait(self.drip):
                return False
            byte = self.body[i : i + 1]
            conn.sendall(b"1\r\n" + byte + b"\r\n" if self.chunked else byte)
        if self.chunked:
            conn.sendall(b"0\r\n\r\n")
        return True


#: 16 bytes: 4 s of drip at one byte every 0.25 s, each byte well within the 1 s read timeout.
DRIP = b'{"status":"ok"}\n'


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_the_deadline_cuts_off_a_dripping_body(driver: Driver, chunked: bool) -> None:
    with RawServer(DRIP, drip=0.25, chunked=chunked) as server:
        driver.open(server.url, clock=time.monotonic, timeout=1.0, retry_policy=RetryPolicy(deadline=1.0))
        with pytest.raises(APITimeoutError) as info:
            await driver.call("get_health")
        cut_short = not server.done.is_set()
    assert cut_short, "the client waited for the whole drip: the deadline did not bound the body"
    assert info.value.operation == "get_health"
    assert "timed out" in str(info.value)


async def test_without_a_deadline_a_slow_body_is_read_whole(driver: Driver) -> None:
    """No deadline: only the per-phase timeouts apply, and each byte comes within them."""
    with RawServer(HEALTH, drip=0.01) as server:
        driver.open(server.url, clock=time.monotonic, timeout=1.0)
        health = await driver.call("get_health")
        # The server thread marks itself done after its last byte: the client may parse the
        # answer a moment before that (a race the test must not lose under load).
        finished = server.done.wait(5)
    assert health.status.value == "ok"
    assert finished


# -- 6. no decompression bomb ----------------------------------------------------------------

CAP = 1024 * 1024


def gzip_of_zeros(size: int) -> bytes:
    """The gzip of ``size`` zero bytes, built a block at a time (never holding them)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1024 * 1024)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    parts.append(packer.flush())
    return b"".join(parts)


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    """A single gzip bomb (64 KiB that decode to 64 MiB) and a stacked one (a few KiB that
    decode to 64 MiB once both layers are undone)."""
    single = gzip_of_zeros(64 * 1024 * 1024)
    return {"gzip": single, "gzip, gzip": gzip.compress(single, 9)}


@pytest.mark.parametrize("encoding", ["gzip", "gzip, gzip"])
async def test_a_decompression_bomb_is_refused_within_a_small_multiple_of_the_cap(
    driver: Driver, bombs: dict[str, bytes], encoding: str
) -> None:
    body = bombs[encoding]
    with RawServer(body, headers=b"Content-Encoding: %s\r\n" % encoding.encode()) as server:
        driver.open(server.url, max_retries=0, max_response_bytes=CAP)
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLargeError, match=f"exceeds {CAP} bytes"):
                await driver.call("get_health")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert len(body) < CAP  # the bomb itself is within the cap: only its decoded size is not
    assert peak < 4 * CAP, f"peak {peak} bytes while refusing a {len(body)}-byte {encoding!r} bomb"


def _deflate(data: bytes, wbits: int) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", gzip.compress(HEALTH)),
        ("gzip, gzip", gzip.compress(gzip.compress(HEALTH))),
        ("deflate", _deflate(HEALTH, zlib.MAX_WBITS)),  # zlib-wrapped, as RFC 9110 says
        ("deflate", _deflate(HEALTH, -zlib.MAX_WBITS)),  # raw, as some servers send it
        ("deflate, gzip", gzip.compress(_deflate(HEALTH, zlib.MAX_WBITS))),
        ("identity", HEALTH),
        ("x-unknown", HEALTH),  # a coding the client does not know passes through, as in httpx
    ],
    ids=["gzip", "gzip-gzip", "deflate-zlib", "deflate-raw", "deflate-gzip", "identity", "unknown"],
)
async def test_compressed_answers_still_decode(
    driver: Driver, httpserver: HTTPServer, encoding: str, body: bytes
) -> None:
    httpserver.expect_request("/api/health").respond_with_data(
        body, headers={"Content-Encoding": encoding}, content_type="application/json"
    )
    driver.open(httpserver.url_for(""), max_retries=0, max_response_bytes=CAP)
    health = await driver.call("get_health")
    assert health.status.value == "ok"


async def test_too_many_stacked_codings_are_refused(driver: Driver, httpserver: HTTPServer) -> None:
    body = HEALTH
    for _ in range(8):
        body = gzip.compress(body)
    httpserver.expect_request("/api/health").respond_with_data(
        body, headers={"Content-Encoding": ", ".join(["gzip"] * 8)}, content_type="application/json"
    )
    driver.open(httpserver.url_for(""), max_retries=0)
    with pytest.raises(APIResponseValidationError, match="8 stacked content codings") as info:
        await driver.call("get_health")
    assert info.value.status_code == 200


async def test_a_corrupt_gzip_body_is_a_typed_error(driver: Driver, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/health").respond_with_data(
        b"\x1f\x8b not gzip at all", headers={"Content-Encoding": "gzip"}, content_type="application/json"
    )
    driver.open(httpserver.url_for(""), max_retries=0)
    with pytest.raises(APIConnectionError, match="DecodingError"):
        await driver.call("get_health")
    report = await driver.call("health_check")
    assert not report.healthy
    assert report.error is not None


# -- 7. deep JSON ----------------------------------------------------------------------------

DEPTH = 100_000
DEEP_ARRAY = b"[" * DEPTH + b"]" * DEPTH
DEEP_OBJECT = b'{"a":' * DEPTH + b"1" + b"}" * DEPTH  # 600 kB: under any size limit
DEEP = pytest.mark.parametrize("deep", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])


@DEEP
@pytest.mark.parametrize(
    ("status", "error"),
    [(200, APIResponseValidationError), (401, AuthenticationError), (503, InternalServerError)],
)
async def test_deep_json_is_a_typed_error(
    driver: Driver, httpserver: HTTPServer, deep: bytes, status: int, error: type[Exception]
) -> None:
    httpserver.expect_request("/api/health").respond_with_data(deep, status=status, content_type="application/json")
    driver.open(httpserver.url_for(""), max_retries=0)
    with pytest.raises(error) as info:
        await driver.call("get_health")
    assert getattr(info.value, "status_code", None) == status
    assert getattr(info.value, "server_message", None) is None


@DEEP
@pytest.mark.parametrize("status", [200, 401, 503])
async def test_health_check_never_raises_on_deep_json(
    driver: Driver, httpserver: HTTPServer, deep: bytes, status: int
) -> None:
    httpserver.expect_request("/api/health").respond_with_data(deep, status=status, content_type="application/json")
    driver.open(httpserver.url_for(""), max_retries=0)
    report = await driver.call("health_check")
    assert isinstance(report, HealthReport)
    assert not report.healthy
    assert report.http_status == status
    assert report.status is None


@DEEP
async def test_health_check_never_raises_on_a_deep_fallback_listing(
    driver: Driver, httpserver: HTTPServer, deep: bytes
) -> None:
    """No health endpoint (404): the fallback listing answers 2xx, which is reachable enough,
    whatever its body."""
    httpserver.expect_request("/api/health").respond_with_data("", status=404)
    httpserver.expect_request("/api/resources").respond_with_data(deep, content_type="application/json")
    driver.open(httpserver.url_for(""), max_retries=0)
    report = await driver.call("health_check")
    assert report.http_status == 200
    assert report.endpoint is not None
    assert report.endpoint.endswith("/api/resources")
