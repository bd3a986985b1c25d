"""Failures that say what happened: a connection error names the host and port it tried and
why (refused, name resolution, TLS, which timeout), sync and async."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from pytest_httpserver import HTTPServer

from resilience import APIConnectionError, APITimeoutError, ConfigurationError
from tests.support import Driver, unused_port


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()


async def test_refused_connection_names_host_port_and_reason(driver: Driver) -> None:
    port = unused_port()
    async with driver.open(f"http://127.0.0.1:{port}", max_retries=0) as d:
        with pytest.raises(APIConnectionError) as info:
            await d.call("get_resources")
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "connection refused" in str(info.value)


async def test_read_timeout_names_host_port_and_which_timeout(driver: Driver, silent_server: int) -> None:
    async with driver.open(f"http://127.0.0.1:{silent_server}", max_retries=0, timeout=0.3) as d:
        with pytest.raises(APITimeoutError) as info:
            await d.call("get_resources")
    assert f"127.0.0.1:{silent_server}" in str(info.value)
    assert "read timeout" in str(info.value)


async def test_tls_to_a_plain_http_server_says_tls(driver: Driver, httpserver: HTTPServer) -> None:
    async with driver.open(f"https://127.0.0.1:{httpserver.port}", max_retries=0) as d:
        with pytest.raises(APIConnectionError) as info:
            await d.call("get_resources")
    assert f"127.0.0.1:{httpserver.port}" in str(info.value)
    assert "TLS" in str(info.value)


async def test_name_resolution_failure_says_so(driver: Driver) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known") from socket.gaierror(
            -2, "Name or service not known"
        )

    async with driver.open("https://finops.invalid", max_retries=0, transport=httpx.MockTransport(handler)) as d:
        with pytest.raises(APIConnectionError) as info:
            await d.call("get_resources")
    assert "finops.invalid:443" in str(info.value)
    assert "name resolution failed" in str(info.value)


class ControlCharAuth(httpx.Auth):
    """A custom auth whose header value holds a control character (a credential pasted with one)."""

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:  # type: ignore[override]
        request.headers["X-Token"] = "canary-7f3e9a\nx"
        yield request


async def test_an_invalid_header_from_a_custom_auth_is_a_configuration_error(
    driver: Driver, httpserver: HTTPServer
) -> None:
    """Nothing was sent: a ``ConfigurationError`` that quotes no value (the header may hold a
    credential), not a connection failure, and never a backend failure for the breaker."""
    async with driver.open(f"http://127.0.0.1:{httpserver.port}", auth=ControlCharAuth(), max_retries=0) as d:
        for _ in range(7):  # more than the breaker's failure threshold
            with pytest.raises(ConfigurationError) as info:
                await d.call("get_resources")
            chain: list[BaseException] = []
            link: BaseException | None = info.value
            while link is not None:
                chain.append(link)
                link = link.__cause__ or link.__context__
            assert all("canary-7f3e9a" not in str(e) for e in chain)
            assert "not valid HTTP" in str(info.value)
        assert d.client.circuit_breaker is not None
        assert d.client.circuit_breaker.state.value == "closed"
    assert len(httpserver.log) == 0
