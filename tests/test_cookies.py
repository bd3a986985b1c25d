"""Cookies still work after the client skips cookie parsing for responses that set none."""

from __future__ import annotations

import httpx
import pytest
from finops_api_client import AsyncFinOpsClient, FinOpsClient
from pytest_httpserver import HTTPServer

# Every test here runs over both ways a hop is sent (conftest.send_path).
pytestmark = pytest.mark.usefixtures("send_path")

PAGE = {"success": True, "data": [], "nextCursor": None, "timestamp": "2026-11-29T10:00:00Z"}


def test_set_cookie_is_kept_and_sent_back(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[int] = []
    original = httpx.Cookies.extract_cookies

    def counting(self: httpx.Cookies, response: httpx.Response) -> None:
        parsed.append(response.status_code)
        original(self, response)

    monkeypatch.setattr(httpx.Cookies, "extract_cookies", counting)
    httpserver.expect_ordered_request("/api/resources").respond_with_json(PAGE)
    httpserver.expect_ordered_request("/api/resources").respond_with_json(PAGE, headers={"Set-Cookie": "session=s1"})
    httpserver.expect_ordered_request("/api/resources").respond_with_json(PAGE)
    with FinOpsClient(httpserver.url_for(""), api_key="k") as client:
        client.get_resources()
        assert parsed == []  # no Set-Cookie: the cookie jar was not consulted
        client.get_resources()
        assert parsed == [200]
        client.get_resources()
    assert "session" not in httpserver.log[1][0].headers.get("Cookie", "")
    assert httpserver.log[2][0].headers.get("Cookie") == "session=s1"


async def test_set_cookie_is_kept_async(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/api/resources").respond_with_json(PAGE, headers={"Set-Cookie": "session=a1"})
    httpserver.expect_ordered_request("/api/resources").respond_with_json(PAGE)
    async with AsyncFinOpsClient(httpserver.url_for(""), api_key="k") as client:
        await client.get_resources()
        await client.get_resources()
    assert httpserver.log[1][0].headers.get("Cookie") == "session=a1"
