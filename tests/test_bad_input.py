"""The bad-input catalogue (issue 5): one test each; a typed error with a clear message,
and nothing (or nothing more) sent."""

from __future__ import annotations

import math
import socket
import threading
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from finops_api_client import FinOpsClient
from pytest_httpserver import HTTPServer

from resilience import (
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    RequestValidationError,
    ResponseTooLargeError,
    RetryPolicy,
)
from tests.support import resource

GOOD = resource(1)
INGEST_OK = {"success": True, "accepted": 1, "rejected": [], "timestamp": "2026-11-29T10:00:00Z"}


def client_for(server: HTTPServer, **kw: Any) -> FinOpsClient:
    kw.setdefault("api_key", "k")
    kw.setdefault("sleep", lambda s: None)
    return FinOpsClient(server.url_for(""), **kw)


def item(**changes: Any) -> dict[str, Any]:
    """A copy of ``GOOD`` with ``changes``; a change to ``KeyError`` removes the field."""
    out = dict(GOOD)
    for k, v in changes.items():
        if v is KeyError:
            out.pop(k)
        else:
            out[k] = v
    return out


CATALOGUE = [
    ("nan cost", [item(currentCost=math.nan)], "item 0, field 'currentCost': must be a finite number"),
    ("infinite cost", [GOOD, item(currentCost=math.inf)], "item 1, field 'currentCost': must be a finite number"),
    ("negative infinity", [item(currentCost=-math.inf)], "must be a finite number"),
    ("missing required", [item(region=KeyError)], "item 0, field 'region': is required"),
    ("wrong type", [item(resourceId=123)], "item 0, field 'resourceId': must be a string, got int"),
    ("wrong scalar", [item(currentCost="lots")], "field 'currentCost': must be a number, got str"),
    ("bool is no number", [item(currentCost=True)], "must be a number, got bool"),
    ("oversized string", [item(resourceId="x" * 257)], "must be at most 256 characters long, got 257"),
    ("bad nested value", [item(tags={"env": 5})], "field 'tags.env': must be a string"),
    ("bad date-time", [item(timestamp="yesterday")], "must be an RFC 3339 date-time"),
    ("empty batch", [], "at least 1 item"),
]


@pytest.mark.parametrize(("case", "items", "message"), CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_bad_items_are_refused_before_sending(
    httpserver: HTTPServer, case: str, items: list[dict[str, Any]], message: str
) -> None:
    httpserver.expect_request("/api/resources", method="POST").respond_with_json(INGEST_OK)
    with client_for(httpserver) as client, pytest.raises(RequestValidationError) as info:
        client.post_resources(items)
    assert message in str(info.value)
    assert httpserver.log == [], "something was sent"


def test_unknown_enum_value(httpserver: HTTPServer) -> None:
    bad = {"optimizationId": "o", "resourceId": "r", "optimizationType": "DELETE", "estimatedSavings": 1.0}
    with client_for(httpserver) as client, pytest.raises(RequestValidationError) as info:
        client.post_optimizations([bad])
    assert "field 'optimizationType': must be one of 'RIGHTSIZE'" in str(info.value)
    assert "got 'DELETE'" in str(info.value)
    assert httpserver.log == []


def test_bad_item_deep_in_a_large_batch_sends_nothing(httpserver: HTTPServer) -> None:
    items = [item(resourceId=f"r-{i}") for i in range(1200)]
    items[700]["currentCost"] = math.nan
    with client_for(httpserver) as client, pytest.raises(RequestValidationError) as info:
        client.post_resources(items)
    assert info.value.index == 700
    assert info.value.field == "currentCost"
    assert httpserver.log == []


def test_not_a_list(httpserver: HTTPServer) -> None:
    with client_for(httpserver) as client, pytest.raises(RequestValidationError, match="takes a list of items"):
        client.post_resources(GOOD)  # type: ignore[arg-type]
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ("<html><body>Bad gateway</body></html>", "text/html", "not valid JSON (content-type text/html)"),
        ('{"status": "ok", "timest', "application/json", "not valid JSON"),
        (
            '{"status": "sideways", "timestamp": "2026-11-29T10:00:00Z"}',
            "application/json",
            "at status: must be one of",
        ),
        ('{"status": "ok"}', "application/json", "at timestamp: is required"),
        ("[1, 2]", "application/json", "must be an object"),
    ],
    ids=["html", "truncated", "bad-enum", "missing-field", "wrong-shape"],
)
def test_non_json_or_schema_breaking_responses(
    httpserver: HTTPServer, body: str, content_type: str, message: str
) -> None:
    httpserver.expect_request("/api/health").respond_with_data(body, content_type=content_type)
    with client_for(httpserver) as client, pytest.raises(APIResponseValidationError) as info:
        client.get_health()
    assert message in str(info.value)
    assert info.value.status_code == 200


@pytest.mark.parametrize("status", [418, 451, 499, 520, 599])
def test_undocumented_statuses(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/api/health").respond_with_data("nope", status=status)
    with client_for(httpserver, max_retries=0) as client, pytest.raises(APIStatusError) as info:
        client.get_health()
    assert info.value.status_code == status
    assert f"HTTP {status}" in str(info.value)


def _serve_huge(sock: socket.socket, chunked: bool, stop: threading.Event) -> None:
    """Answers every connection with a 50 MiB body from one pre-built block: the server side
    allocates nothing while the client is measured."""
    block = b"x" * 65536
    blocks = 800
    if chunked:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        piece = memoryview(b"%x\r\n" % len(block) + block + b"\r\n")
    else:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (
            len(block) * blocks
        )
        piece = memoryview(block)
    sock.settimeout(0.05)
    while not stop.is_set():
        try:
            conn, _ = sock.accept()
        except OSError:
            continue
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(head)
                for _ in range(blocks):
                    conn.sendall(piece)
            except OSError:
                pass  # the client hung up once it had enough: that is the point


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_huge_response_memory_stays_bounded(chunked: bool) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    stop = threading.Event()
    server = threading.Thread(target=_serve_huge, args=(sock, chunked, stop), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        with FinOpsClient(url, api_key="k", max_retries=0, max_response_bytes=1024 * 1024) as client:
            tracemalloc.start()
            try:
                with pytest.raises(ResponseTooLargeError, match="exceeds 1048576 bytes"):
                    client.get_health()
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    finally:
        stop.set()
        server.join()
        sock.close()
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes while refusing a 50 MiB body"


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections, reads, never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            conns.append(conn)

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    t.join()
    for c in conns:
        c.close()
    sock.close()


def test_server_that_never_answers_times_out(silent_server: str) -> None:
    client = FinOpsClient(silent_server, api_key="k", timeout=0.2, max_retries=0)
    with client, pytest.raises(APITimeoutError, match="timed out") as info:
        client.get_health()
    assert info.value.operation == "get_health"


@pytest.mark.parametrize(
    "url",
    ["", "ftp://example.com", "localhost:5002", "http://", "http://user:pw@host", "http://h/?q=1", "not a url"],
)
def test_invalid_base_urls(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        FinOpsClient(url, api_key="k")
    assert "base URL" in str(info.value) or "credentials" in str(info.value)
    assert "pw" not in str(info.value)


@pytest.mark.parametrize("value", ["soon", "-1", "1.5", "", "Wed, 99 Foo 2026 99:99:99 GMT", "9" * 400])
def test_malformed_retry_after_falls_back_to_backoff(httpserver: HTTPServer, value: str) -> None:
    sleeps: list[float] = []
    httpserver.expect_ordered_request("/api/health").respond_with_data(
        "{}", status=503, headers={"Retry-After": value}, content_type="application/json"
    )
    httpserver.expect_ordered_request("/api/health").respond_with_json(
        {"status": "ok", "timestamp": "2026-11-29T10:00:00Z"}
    )
    policy = RetryPolicy(max_retries=1, backoff_base=0.5, backoff_max=8.0, max_retry_after=60.0)
    with client_for(httpserver, sleep=sleeps.append, retry_policy=policy) as client:
        if value == "9" * 400:
            # A huge but well-formed delay is above the cap: no retry, the error carries it.
            with pytest.raises(APIStatusError) as info:
                client.get_health()
            assert info.value.status_code == 503
            assert sleeps == []
            return
        assert client.get_health().status.value == "ok"
    assert len(sleeps) == 1
    assert 0.0 <= sleeps[0] <= 0.5, "malformed Retry-After must fall back to jittered backoff"


def test_a_secret_looking_field_is_not_quoted_in_the_error(httpserver: HTTPServer) -> None:
    """tags are free-form: a tag named like a secret with a bad value must not be echoed."""
    secret = "sk-live-" + "9" * 300  # too long for a tag value: invalid, and must not be quoted
    with client_for(httpserver) as client, pytest.raises(RequestValidationError) as info:
        client.post_resources([item(tags={"apiKey": secret})])
    assert info.value.field == "tags.apiKey"
    assert "sk-live" not in str(info.value)
    assert "not shown" in str(info.value)
    assert httpserver.log == []
