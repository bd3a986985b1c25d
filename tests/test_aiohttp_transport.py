"""The aiohttp inner transport's one-call read of a plain body: the httpx response it returns is
the same as one built from the bytes (read, closed, headers as sent), on a real loopback server."""

from __future__ import annotations

import httpx
import pytest
from pytest_httpserver import HTTPServer

from resilience import ResponseTooLargeError
from resilience._aiohttp import AiohttpTransport
from resilience._body import read_body_async
from tests.support import base

BODY = b'{"status":"ok","timestamp":"2026-11-29T10:00:00Z"}'


async def test_plain_body_comes_back_read_and_closed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/health").respond_with_data(
        BODY, content_type="application/json", headers={"X-Trace": "t-1"}
    )
    transport = AiohttpTransport()
    try:
        request = httpx.Request("GET", f"{base(httpserver)}/api/health")
        response = await transport.handle_async_request(request)
        assert response.is_stream_consumed
        assert response.is_closed
        assert response.content == BODY
        assert await response.aread() == BODY
        assert response.json() == {"status": "ok", "timestamp": "2026-11-29T10:00:00Z"}
        assert response.headers.get_list("content-length") == [str(len(BODY))]  # as sent, not added twice
        assert response.headers["x-trace"] == "t-1"
        assert response.headers["content-type"] == "application/json"
        assert response.reason_phrase == "OK"
        assert response.http_version == "HTTP/1.1"
        assert response.request is request
        await read_body_async(request, response, 1 << 20)  # nothing left to read; within the cap
        with pytest.raises(ResponseTooLargeError):  # the cap still holds for a body read already
            await read_body_async(request, response, len(BODY) - 1)
    finally:
        await transport.aclose()


async def test_plain_body_through_an_async_client(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/health").respond_with_data(BODY, content_type="application/json")
    async with httpx.AsyncClient(transport=AiohttpTransport(), base_url=base(httpserver)) as client:
        for _ in range(3):  # a kept-alive connection answers each time
            response = await client.get("/api/health")
            assert response.status_code == 200
            assert response.text == BODY.decode()


@pytest.mark.parametrize("streamed", [False, True], ids=["read-at-once", "streamed"])
async def test_headers_come_back_as_httpx_builds_them(httpserver: HTTPServer, streamed: bool) -> None:
    """Repeated and mixed-case headers, in order, as ``httpx.Response(headers=raw)`` holds them."""
    httpserver.expect_request("/h").respond_with_data(
        BODY if not streamed else BODY * 2,
        headers=[("Set-Cookie", "a=1"), ("X-Mixed-Case", "v"), ("set-cookie", "b=2")],
    )
    transport = AiohttpTransport(max_body=len(BODY))  # the doubled body streams
    try:
        response = await transport.handle_async_request(httpx.Request("GET", f"{base(httpserver)}/h"))
        await response.aread()
        raw = response.headers.raw
        assert raw == httpx.Response(200, headers=raw).headers.raw
        assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
        assert response.headers["x-mixed-case"] == "v"
        assert (b"X-Mixed-Case", b"v") in raw
        assert response.is_stream_consumed == (not streamed) or response.content == BODY * 2
    finally:
        await transport.aclose()


async def test_each_url_reaches_the_server_as_written(httpserver: HTTPServer) -> None:
    """URLs are parsed once and kept: each request still goes to its own path and query."""
    for path in ("/api/a", "/api/b c", "/api/\u20ac"):  # as the server decodes them
        httpserver.expect_request(path).respond_with_data(path)
    transport = AiohttpTransport()
    try:
        urls = [f"{base(httpserver)}{p}" for p in ("/api/a", "/api/b%20c", "/api/%E2%82%AC", "/api/a")]
        urls += [f"{base(httpserver)}/api/a?cursor=x%2Fy&limit=2"]
        for url in urls:
            response = await transport.handle_async_request(httpx.Request("GET", url))
            await response.aread()
            assert response.status_code == 200, url
    finally:
        await transport.aclose()
    sent = [(r.path, r.query_string) for r, _ in httpserver.log]
    assert sent == [
        ("/api/a", b""),
        ("/api/b c", b""),
        ("/api/\u20ac", b""),
        ("/api/a", b""),
        ("/api/a", b"cursor=x/y&limit=2"),  # yarl's normal form ("/" needs no escape in a query), as before
    ]
