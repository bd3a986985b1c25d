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
