"""The fast path (resilience._direct) takes the decisions httpx.Client.send takes, and is
taken only when nothing of httpx's client machinery could change the outcome.

Every test runs sync and async (``mode``) and over both paths (``send_path``) against real
loopback servers (pytest-httpserver), and asserts the same observable result on both.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer

from resilience import APIStatusError, TokenProviderAuth
from tests.support import Driver, page, resource

API_KEY = "direct-key-7f3a"


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The requests that went through ``httpx.Client.send`` / ``AsyncClient.send``."""
    seen: list[str] = []
    sync_send, async_send = httpx.Client.send, httpx.AsyncClient.send

    def counting(self: httpx.Client, request: httpx.Request, **kw: Any) -> httpx.Response:
        seen.append(request.url.path)
        return sync_send(self, request, **kw)

    async def counting_async(self: httpx.AsyncClient, request: httpx.Request, **kw: Any) -> httpx.Response:
        seen.append(request.url.path)
        return await async_send(self, request, **kw)

    monkeypatch.setattr(httpx.Client, "send", counting)
    monkeypatch.setattr(httpx.AsyncClient, "send", counting_async)
    return seen


async def test_a_plain_get_skips_httpx_send_and_sends_the_same_request(
    driver: Driver, send_path: str, sends: list[str], httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request("/api/resources").respond_with_json(page([resource(1)]))
    driver.open(httpserver.url_for(""), api_key=API_KEY)
    with caplog.at_level(logging.INFO, logger="httpx"):
        items = await driver.collect("iter_resources")
    assert [i.resource_id for i in items] == [resource(1)["resourceId"]]
    assert sends == ([] if send_path == "direct" else ["/api/resources"])
    (sent, _), *rest = httpserver.log
    assert rest == []
    assert sent.headers["X-API-Key"] == API_KEY
    assert sent.headers["X-Request-ID"]
    assert sent.headers["Accept-Encoding"] == "gzip, deflate"
    assert sent.headers["User-Agent"].startswith("finops")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "httpx"]  # httpx's own line, once
    assert line.startswith(f"HTTP Request: GET {httpserver.url_for('/api/resources')}?")
    assert line.endswith(' 200 OK"')


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_followed_once_through_httpx_rules(
    driver: Driver, send_path: str, sends: list[str], httpserver: HTTPServer, other_origin: HTTPServer, status: int
) -> None:
    """Same origin: the credential goes along; the next hop to another origin gets none."""
    target = other_origin.url_for("/elsewhere")
    httpserver.expect_request("/api/resources").respond_with_data("", status=status, headers={"Location": "/api/moved"})
    httpserver.expect_request("/api/moved").respond_with_data("", status=status, headers={"Location": target})
    other_origin.expect_request("/elsewhere").respond_with_json(page([resource(2)]))
    driver.open(httpserver.url_for(""), api_key=API_KEY)
    items = await driver.collect("iter_resources")
    assert [i.resource_id for i in items] == [resource(2)["resourceId"]]
    assert [r.path for r, _ in httpserver.log] == ["/api/resources", "/api/moved"]
    assert [r.headers.get("X-API-Key") for r, _ in httpserver.log] == [API_KEY, API_KEY]
    (hop, _), *rest = other_origin.log
    assert rest == []
    assert "X-API-Key" not in hop.headers
    assert "Authorization" not in hop.headers
    assert sends == ([] if send_path == "direct" else ["/api/resources"])


async def test_a_redirect_not_followed_is_the_same_status_error(
    driver: Driver, send_path: str, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/api/resources").respond_with_data("", status=302, headers={"Location": "/x"})
    driver.open(httpserver.url_for(""), api_key=API_KEY)
    driver.client.httpx_client.follow_redirects = False
    with pytest.raises(APIStatusError) as caught:
        await driver.collect("iter_resources")
    assert caught.value.status_code == 302
    assert [r.path for r, _ in httpserver.log] == ["/api/resources"]


async def test_an_event_hook_is_never_skipped(
    driver: Driver, send_path: str, sends: list[str], httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/api/resources").respond_with_json(page([]))
    driver.open(httpserver.url_for(""), api_key=API_KEY)
    hooked: list[str | None] = []

    def hook(request: httpx.Request) -> None:
        hooked.append(request.headers.get("X-API-Key"))

    async def ahook(request: httpx.Request) -> None:
        hook(request)

    driver.client.httpx_client.event_hooks["request"].append(ahook if driver.is_async else hook)
    assert await driver.collect("iter_resources") == []
    assert hooked == [API_KEY]
    assert sends == ["/api/resources"]  # through httpx, whichever path is preferred


async def test_an_auth_with_its_own_flow_keeps_it(
    driver: Driver, send_path: str, sends: list[str], httpserver: HTTPServer
) -> None:
    """A token provider's 401 replay is its own flow's: it goes through httpx on both paths."""
    tokens = iter(["tok-1", "tok-2"])
    httpserver.expect_ordered_request("/api/resources").respond_with_data("", status=401)
    httpserver.expect_ordered_request("/api/resources").respond_with_json(page([]))
    driver.open(httpserver.url_for(""), auth=TokenProviderAuth(lambda: next(tokens)))
    assert await driver.collect("iter_resources") == []
    assert [r.headers.get("Authorization") for r, _ in httpserver.log] == ["Bearer tok-1", "Bearer tok-2"]
    assert sends == ["/api/resources"]


async def test_a_set_cookie_is_kept_and_sent_back(
    driver: Driver, send_path: str, sends: list[str], httpserver: HTTPServer
) -> None:
    httpserver.expect_ordered_request("/api/resources").respond_with_json(page([]), headers={"Set-Cookie": "s=c1"})
    httpserver.expect_ordered_request("/api/resources").respond_with_json(page([]))
    driver.open(httpserver.url_for(""), api_key=API_KEY)
    await driver.collect("iter_resources")
    await driver.collect("iter_resources")
    assert [r.headers.get("Cookie") for r, _ in httpserver.log] == [None, "s=c1"]
    assert sends == ([] if send_path == "direct" else ["/api/resources"] * 2)
