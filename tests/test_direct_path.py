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
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from resilience import APIStatusError, TokenProviderAuth
from resilience._direct import build_request
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


# -- the request, built without httpx's merges --------------------------------------------

_names = st.sampled_from(["X-Trace", "Accept", "User-Agent", "Content-Type", "Host", "Content-Length", "x-api-key"])
_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)


def _same(a: httpx.Request, b: httpx.Request) -> None:
    assert (a.method, a.url, a.headers.raw, a.content, a.extensions) == (
        b.method,
        b.url,
        b.headers.raw,
        b.content,
        b.extensions,
    )
    assert isinstance(a.stream, httpx.ByteStream)
    assert isinstance(b.stream, httpx.ByteStream)
    assert list(a.stream) == list(b.stream)


@settings(max_examples=150, deadline=None)
@given(
    method=st.sampled_from(["get", "GET", "POST", "PUT", "PATCH", "DELETE"]),
    client_headers=st.dictionaries(_names, _values, max_size=3),
    headers=st.none() | st.dictionaries(_names, _values, max_size=3),
    params=st.none() | st.dictionaries(st.sampled_from(["limit", "cursor", "a b"]), st.integers(0, 9) | _values),
    content=st.none() | st.binary(max_size=8),
    path=st.sampled_from(["/api/resources", "/api/x?keep=1"]),
)
def test_the_request_is_the_one_httpx_builds(
    method: str,
    client_headers: dict[str, str],
    headers: dict[str, str] | None,
    params: dict[str, Any] | None,
    content: bytes | None,
    path: str,
) -> None:
    http = httpx.Client(base_url="http://127.0.0.1:8080/root", headers=client_headers)
    url = httpx.URL("http://127.0.0.1:8080" + path)
    kw: dict[str, Any] = {}
    for key, value in (("params", params), ("headers", headers), ("content", content)):
        if value is not None:
            kw[key] = value
    _same(build_request(http, method, url, kw, {"op": 1}), http.build_request(method, url, extensions={"op": 1}, **kw))


@pytest.mark.parametrize("case", ["cookie", "json", "params", "timeout"])
def test_what_only_httpx_builds_is_left_to_it(case: str) -> None:
    http = httpx.Client(base_url="http://127.0.0.1:8080", timeout=3.0)
    url = httpx.URL("http://127.0.0.1:8080/api/resources")
    kw: dict[str, Any] = {}
    ext: dict[str, Any] = {"op": 1}
    if case == "cookie":
        http.cookies.set("s", "c1", domain="127.0.0.1")
    elif case == "json":
        kw["json"] = {"a": 1}
    elif case == "params":
        http.params = httpx.QueryParams({"tenant": "t1"})
    else:
        ext["timeout"] = {"connect": 1.0, "read": 1.0, "write": 1.0, "pool": 1.0}
    built = build_request(http, "POST", url, kw, dict(ext))
    _same(built, http.build_request("POST", url, extensions=dict(ext), **kw))
    assert built.headers.get("cookie") == ("s=c1" if case == "cookie" else None)
