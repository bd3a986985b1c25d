"""Tests of the in-memory reference backend, spoken to over real HTTP with httpx (not the SDK)."""

from __future__ import annotations

import base64
import email.utils
import http.client
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the repo root is not on sys.path unless pytest is told so
    sys.path.insert(0, str(ROOT))

from reference_backend import AMBIGUOUS_KINDS, FAULT_KINDS, STORES, FaultPlan, ReferenceBackend  # noqa: E402
from reference_backend._schemas import (  # noqa: E402
    BATCH_MAX_ITEMS,
    BATCH_MIN_ITEMS,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    LIMIT_DEFAULT,
    LIMIT_MAX,
    LIMIT_MIN,
    SCHEMAS,
    SUPPORTED_KEYWORDS,
)
from tests.support import anomaly, forecast, optimization, resource, resources  # noqa: E402

SPEC_PATH = ROOT / "openapi.yaml"


# --------------------------------------------------------------------------- helpers


def list_all(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        query = dict(params)
        if cursor is not None:
            query["cursor"] = cursor
        page = client.get(path, params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        items.extend(body["data"])
        cursor = body.get("nextCursor")
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert isinstance(body["error"]["message"], str)
    if code is not None:
        assert body["error"]["code"] == code
    return body


def wait_until(predicate: Any, timeout: float = 2.0) -> bool:
    """Poll (no fixed sleep) for state another server thread is about to reach."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return bool(predicate())


@pytest.fixture
def backend() -> Iterator[ReferenceBackend]:
    with ReferenceBackend() as server:
        yield server


@pytest.fixture
def client(backend: ReferenceBackend) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=backend.url, timeout=5) as http:
        yield http


# --------------------------------------------------------------------------- basics


def test_health(backend: ReferenceBackend, client: httpx.Client) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"]
    assert body["timestamp"].endswith("Z")
    backend.set_health_status("degraded")
    assert client.get("/api/health").json()["status"] == "degraded"
    assert backend.url.startswith("http://127.0.0.1:")
    assert backend.stats().requests_by_route["/api/health"] == 2


def test_keep_alive_serves_several_requests_on_one_connection(backend: ReferenceBackend) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=5)
    try:
        for _ in range(3):
            connection.request("GET", "/api/health")
            response = connection.getresponse()
            body = response.read()
            assert response.status == 200
            assert response.getheader("Connection") is None
            assert len(body) == int(response.getheader("Content-Length") or -1)
        assert connection.sock is not None
    finally:
        connection.close()


def test_unknown_route_and_method(client: httpx.Client) -> None:
    assert_error(client.get("/api/nope"), 404, "not_found")
    response = client.delete("/api/resources")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, POST"
    assert_error(client.get("/api/optimizations/opt-1/approve"), 405)


def test_stop_drops_keep_alive_connections() -> None:
    server = ReferenceBackend().start()
    with httpx.Client(base_url=server.url, timeout=2) as http:
        assert http.get("/api/health").status_code == 200
        server.stop()
        with pytest.raises(httpx.TransportError):
            http.get("/api/health")
    server.stop()  # twice is fine


# --------------------------------------------------------------------------- ingest and list


def test_post_then_list_with_pagination(backend: ReferenceBackend, client: httpx.Client) -> None:
    items = [resource(n) for n in range(25)]
    response = client.post("/api/resources", json=items)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["success"] is True
    assert result["accepted"] == 25
    assert result["rejected"] == []
    assert result["timestamp"].endswith("Z")

    first = client.get("/api/resources", params={"limit": 10}).json()
    assert [i["resourceId"] for i in first["data"]] == [f"r-{n:04d}" for n in range(10)]
    assert first["data"][0] == items[0]  # stored as posted
    assert isinstance(first["nextCursor"], str)

    listed = list_all(client, "/api/resources", limit=10)
    assert [i["resourceId"] for i in listed] == [i["resourceId"] for i in items]
    assert len(list_all(client, "/api/resources")) == 25  # default limit 100: one page
    last = client.get("/api/resources", params={"limit": 25}).json()
    assert last["nextCursor"] is None

    # A page boundary stays stable while new items arrive and old ones are updated.
    page1 = client.get("/api/resources", params={"limit": 20}).json()
    client.post("/api/resources", json=[resource(3, currentCost=99.0), resource(100)])
    page2 = client.get("/api/resources", params={"limit": 20, "cursor": page1["nextCursor"]}).json()
    assert [i["resourceId"] for i in page2["data"]] == [f"r-{n:04d}" for n in range(20, 25)] + ["r-0100"]
    assert backend.stored_ids("resources")[3] == "r-0003"
    assert backend.stored_items("resources")[3]["currentCost"] == 99.0


def test_list_filters(client: httpx.Client) -> None:
    items = resources(24)
    client.post("/api/resources", json=items)
    east = list_all(client, "/api/resources", region="us-east-1", limit=2)
    assert [i["resourceId"] for i in east] == [i["resourceId"] for i in items if i["region"] == "us-east-1"]
    assert 0 < len(east) < len(items)
    both = list_all(client, "/api/resources", resourceType="ec2", accountId="acct-0", limit=1)
    expected = {i["resourceId"] for i in items if i["resourceType"] == "ec2" and i["accountId"] == "acct-0"}
    assert {i["resourceId"] for i in both} == expected
    assert len(expected) == 2  # r-0000 and r-0012: both filters apply
    assert list_all(client, "/api/resources", region="mars-1") == []

    client.post("/api/optimizations", json=[optimization(n) for n in range(6)] + [{**optimization(6), "status": None}])
    client.post("/api/optimizations", json=[{k: v for k, v in optimization(7).items() if k != "status"}])
    high = list_all(client, "/api/optimizations", riskLevel="HIGH")
    assert [i["optimizationId"] for i in high] == ["opt-2", "opt-5"]
    pending = list_all(client, "/api/optimizations", status="PENDING", limit=3)
    assert len(pending) == 7  # an optimization without status counts as PENDING

    client.post("/api/anomalies", json=[anomaly(n) for n in range(6)])
    critical = list_all(client, "/api/anomalies", severity="CRITICAL")
    assert [i["anomalyId"] for i in critical] == ["anom-2", "anom-5"]

    client.post("/api/budgets/forecasts", json=[forecast(n) for n in range(3)])
    budgets = list_all(client, "/api/budgets/forecasts", limit=2)
    assert [i["budgetId"] for i in budgets] == ["bud-0", "bud-1", "bud-2"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "ten"},
        {"limit": "-5"},
        {"cursor": "not-a-cursor!"},
        {"cursor": base64.urlsafe_b64encode(b'{"o": -1, "f": "x"}').decode()},
    ],
)
def test_bad_list_parameters(client: httpx.Client, params: dict[str, str]) -> None:
    body = assert_error(client.get("/api/resources", params=params), 400)
    assert body["error"]["code"] in ("invalid_parameter", "invalid_cursor")


def test_bad_enum_filter_and_cursor_from_other_filters(client: httpx.Client) -> None:
    assert_error(client.get("/api/optimizations", params={"status": "DONE"}), 400, "invalid_parameter")
    assert_error(client.get("/api/anomalies", params={"severity": "low"}), 400, "invalid_parameter")
    client.post("/api/resources", json=[resource(n) for n in range(5)])
    cursor = client.get("/api/resources", params={"limit": 1}).json()["nextCursor"]
    response = client.get("/api/resources", params={"limit": 1, "cursor": cursor, "region": "us-east-1"})
    assert_error(response, 400, "invalid_cursor")


def test_per_item_rejection_reports_request_indexes(backend: ReferenceBackend, client: httpx.Client) -> None:
    items: list[Any] = [
        resource(0),  # 0 ok
        {k: v for k, v in resource(1).items() if k != "region"},  # 1 missing required
        resource(2, currentCost=-1),  # 2 below minimum
        resource(3, currentCost=True),  # 3 boolean is not a number
        resource(4, currency="usd"),  # 4 pattern
        resource(5, timestamp="yesterday"),  # 5 format
        "r-0006",  # 6 not an object
        resource(7, tags={"env": "x" * 257}),  # 7 maxLength in additionalProperties
        resource(8, resourceId=""),  # 8 empty id
        resource(9, utilizationMetrics={"cpu": "high"}),  # 9 wrong type in a map
        resource(10),  # 10 ok
        resource(11, currentCost=float("inf")),  # 11 sent as 1e400, which overflows to infinity
        resource(12, extra={"nested": [1.5, 2]}),  # 12 ok: extra properties are allowed
    ]
    text = json.dumps(items).replace("Infinity", "1e400")
    # 13: NaN is not JSON; Python-style encoders still send it.
    text = text[:-1] + ', {"resourceId": "r-0013", "resourceType": "t", "region": "r", "currentCost": NaN}]'
    response = client.post("/api/resources", content=text, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    result = response.json()
    rejected = {r["index"]: r for r in result["rejected"]}
    assert sorted(rejected) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13]
    assert result["accepted"] == 3
    assert "region" in rejected[1]["reason"]
    assert rejected[1]["id"] == "r-0001"
    assert "currentCost" in rejected[2]["reason"]
    assert "currentCost" in rejected[3]["reason"]
    assert "currency" in rejected[4]["reason"]
    assert "timestamp" in rejected[5]["reason"]
    assert "id" not in rejected[6]
    assert "tags.env" in rejected[7]["reason"]
    assert "id" not in rejected[8]
    assert "utilizationMetrics.cpu" in rejected[9]["reason"]
    assert "finite" in rejected[13]["reason"] or "number" in rejected[13]["reason"]
    assert backend.stored_ids("resources") == ["r-0000", "r-0010", "r-0012"]
    assert backend.stats().items_rejected == 11


def test_per_item_rejection_other_collections(client: httpx.Client) -> None:
    result = client.post(
        "/api/optimizations",
        json=[
            optimization(0, optimizationType="DELETE"),
            optimization(1, confidenceScore=1.5),
            optimization(2),
        ],
    ).json()
    assert [r["index"] for r in result["rejected"]] == [0, 1]
    result = client.post("/api/anomalies", json=[anomaly(0, severity="HUGE"), anomaly(1, actualCost="1")]).json()
    assert [r["index"] for r in result["rejected"]] == [0, 1]
    assert result["accepted"] == 0
    result = client.post("/api/budgets/forecasts", json=[forecast(0, periodEnd="2025-02-30"), forecast(1)]).json()
    assert [r["index"] for r in result["rejected"]] == [0]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"", 400, "invalid_json"),
        (b'{"resourceId": "r-1"}', 422, "invalid_body"),
        (b"[]", 422, "empty_batch"),
        (json.dumps([resource(n) for n in range(BATCH_MAX_ITEMS + 1)]).encode(), 413, "batch_too_large"),
    ],
)
def test_bad_bodies(backend: ReferenceBackend, client: httpx.Client, body: bytes, status: int, code: str) -> None:
    response = client.post("/api/resources", content=body, headers={"content-type": "application/json"})
    assert_error(response, status, code)
    assert backend.stats().items_stored == 0


def test_exactly_max_items_accepted_and_byte_limit() -> None:
    with ReferenceBackend(max_body_bytes=1000) as small, httpx.Client(base_url=small.url) as http:
        response = http.post("/api/resources", json=[resource(n) for n in range(50)])
        assert_error(response, 413, "payload_too_large")
    with ReferenceBackend() as server, httpx.Client(base_url=server.url) as http:
        response = http.post("/api/resources", json=[resource(n) for n in range(BATCH_MAX_ITEMS)])
        assert response.json()["accepted"] == BATCH_MAX_ITEMS


def test_chunked_request_body(backend: ReferenceBackend, client: httpx.Client) -> None:
    payload = json.dumps([resource(1), resource(2)]).encode()

    def chunks() -> Iterator[bytes]:
        yield payload[:10]
        yield payload[10:]

    response = client.post("/api/resources", content=chunks(), headers={"content-type": "application/json"})
    assert response.json()["accepted"] == 2


def test_non_ascii_and_lone_surrogates_round_trip(client: httpx.Client) -> None:
    text = '[{"resourceId": "r-\\ud800", "resourceType": "t", "region": "r", "tags": {"owner": "Zoë 数据"}}]'
    assert client.post("/api/resources", content=text.encode()).json()["accepted"] == 1
    page = client.get("/api/resources")
    assert page.status_code == 200
    assert page.json()["data"] == json.loads(text)


def test_upsert_and_duplicate_counters(backend: ReferenceBackend, client: httpx.Client) -> None:
    client.post("/api/resources", json=[resource(1), resource(2)])
    client.post("/api/resources", json=[resource(1, currentCost=5.0)])
    stats = backend.stats()
    assert stats.items_stored == 2
    assert stats.item_writes == 3
    assert stats.duplicate_items_without_key == 1
    assert stats["items_stored_by_kind"]["resources"] == 2
    assert backend.stored_items("resources")[0]["currentCost"] == 5.0
    with pytest.raises(KeyError):
        backend.stored_ids("widgets")
    backend.reset()
    assert backend.stats().items_stored == 0
    assert backend.stats().requests_total == 0


# --------------------------------------------------------------------------- auth


BASIC_USER = "alice"
BASIC_PASSWORD = "p:ss é:word"  # a ':' and non-ASCII in the password


@pytest.fixture
def secured() -> Iterator[ReferenceBackend]:
    with ReferenceBackend(
        api_key="key-123",
        bearer_token="tok-456",
        basic=(BASIC_USER, BASIC_PASSWORD),
        require_auth=True,
    ) as server:
        yield server


def _basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": "key-123"},
        {"Authorization": "Bearer tok-456"},
        {"Authorization": "bearer tok-456"},
        {"Authorization": _basic_header(BASIC_USER, BASIC_PASSWORD)},
    ],
)
def test_auth_accepted(secured: ReferenceBackend, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=secured.url, headers=headers) as http:
        assert http.get("/api/resources").status_code == 200
        assert http.post("/api/resources", json=[resource(1)]).status_code == 200


def test_auth_with_httpx_basic_auth(secured: ReferenceBackend) -> None:
    with httpx.Client(base_url=secured.url, auth=(BASIC_USER, BASIC_PASSWORD)) as http:
        assert http.get("/api/anomalies").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": "wrong"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Bearer"},
        {"Authorization": "Token key-123"},
        {"Authorization": _basic_header(BASIC_USER, "p:ss e:word")},
        {"Authorization": _basic_header(BASIC_USER, "p")},
        {"Authorization": _basic_header("bob", BASIC_PASSWORD)},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(b"alice:\xff\xfe").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Basic " + base64.b64encode(f"alice:{BASIC_PASSWORD}".encode("latin-1")).decode()},
    ],
)
def test_auth_rejected(secured: ReferenceBackend, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=secured.url, headers=headers) as http:
        response = http.get("/api/resources")
        assert_error(response, 401, "unauthorized")
        assert "Basic" in response.headers["www-authenticate"]
        assert_error(http.post("/api/resources", json=[resource(1)]), 401)
        assert http.get("/api/health").status_code == 200  # public
    assert secured.stored_ids("resources") == []
    assert secured.stats().auth_failures == 2


def test_credentials_not_checked_unless_required(backend: ReferenceBackend, client: httpx.Client) -> None:
    assert client.get("/api/resources", headers={"X-API-Key": "anything"}).status_code == 200


# --------------------------------------------------------------------------- idempotency


def test_idempotent_replay(backend: ReferenceBackend, client: httpx.Client) -> None:
    items = [resource(1), resource(2, currentCost=-1)]
    first = client.post("/api/resources", json=items, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 200
    assert "idempotent-replayed" not in first.headers
    writes = backend.stats().item_writes

    # Same key, same JSON value (other whitespace and key order): the stored answer, no new write.
    same_value = json.dumps([dict(reversed(list(i.items()))) for i in items], indent=2)
    second = client.post(
        "/api/resources",
        content=same_value,
        headers={"Idempotency-Key": "k-1", "content-type": "application/json"},
    )
    assert second.status_code == first.status_code
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    stats = backend.stats()
    assert stats.item_writes == writes == 1
    assert stats.duplicate_deliveries_deduped == 1
    assert stats.duplicate_items_without_key == 0

    conflict = client.post("/api/resources", json=[resource(3)], headers={"Idempotency-Key": "k-1"})
    assert_error(conflict, 422, "idempotency_key_reused")
    assert backend.stored_ids("resources") == ["r-0001"]
    assert backend.stats().idempotency_conflicts == 1

    # The same body under another key, or without one, is stored again.
    client.post("/api/resources", json=items, headers={"Idempotency-Key": "k-2"})
    client.post("/api/resources", json=items)
    stats = backend.stats()
    assert stats.item_writes == 3
    assert stats.duplicate_items_without_key == 2
    assert stats.duplicate_deliveries_deduped == 1


def test_idempotency_key_scoped_to_request_and_length(client: httpx.Client) -> None:
    client.post("/api/resources", json=[resource(1)], headers={"Idempotency-Key": "shared"})
    response = client.post("/api/anomalies", json=[resource(1)], headers={"Idempotency-Key": "shared"})
    assert_error(response, 422, "idempotency_key_reused")
    long_key = "k" * (IDEMPOTENCY_KEY_MAX_LENGTH + 1)
    assert_error(
        client.post("/api/resources", json=[resource(2)], headers={"Idempotency-Key": long_key}),
        400,
        "invalid_idempotency_key",
    )


def test_concurrent_retries_with_one_key_store_once(backend: ReferenceBackend) -> None:
    results: list[int] = []
    barrier = threading.Barrier(8)

    def send() -> None:
        with httpx.Client(base_url=backend.url, timeout=5) as http:
            barrier.wait()
            response = http.post("/api/resources", json=[resource(7)], headers={"Idempotency-Key": "race"})
            results.append(response.status_code)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 8
    stats = backend.stats()
    assert stats.item_writes == 1
    assert stats.duplicate_deliveries_deduped == 7


# --------------------------------------------------------------------------- approval


def test_approve_flow(backend: ReferenceBackend, client: httpx.Client) -> None:
    client.post("/api/optimizations", json=[optimization(1), optimization(2), optimization(3, optimizationId="o/3")])

    approved = client.post("/api/optimizations/opt-1/approve", json={"approved": True, "comment": "go"})
    assert approved.status_code == 200
    body = approved.json()
    assert body["optimizationId"] == "opt-1"
    assert body["status"] == "APPROVED"
    assert body["comment"] == "go"
    assert body["decidedAt"].endswith("Z")

    again = client.post("/api/optimizations/opt-1/approve", json={"approved": False})
    assert_error(again, 409, "already_decided")

    rejected = client.post("/api/optimizations/o%2F3/approve", json={"approved": False})
    assert rejected.json() == {**rejected.json(), "optimizationId": "o/3", "status": "REJECTED"}
    assert "comment" not in rejected.json()

    assert_error(client.post("/api/optimizations/nope/approve", json={"approved": True}), 404, "not_found")
    assert_error(client.post("/api/optimizations/opt-2/approve", json={"approved": "yes"}), 422)
    assert_error(client.post("/api/optimizations/opt-2/approve", json={}), 422)
    assert_error(client.post("/api/optimizations/opt-2/approve", json=[True]), 422)
    assert_error(client.post("/api/optimizations/opt-2/approve", content=b"nope"), 400)

    approved_ids = [i["optimizationId"] for i in list_all(client, "/api/optimizations", status="APPROVED")]
    assert approved_ids == ["opt-1"]
    pending_ids = [i["optimizationId"] for i in list_all(client, "/api/optimizations", status="PENDING")]
    assert pending_ids == ["opt-2"]
    stats = backend.stats()
    assert stats.decisions == 2
    assert stats.requests_by_route["/api/optimizations/{optimizationId}/approve"] == 8
    assert stats.requests_by_operation["approve_optimization"] == 8


def test_approve_replay_with_key_is_not_a_conflict(backend: ReferenceBackend, client: httpx.Client) -> None:
    client.post("/api/optimizations", json=[optimization(1)])
    headers = {"Idempotency-Key": "approve-1"}
    first = client.post("/api/optimizations/opt-1/approve", json={"approved": True}, headers=headers)
    second = client.post("/api/optimizations/opt-1/approve", json={"approved": True}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert backend.stats().decisions == 1


# --------------------------------------------------------------------------- outages


def test_outage_503(backend: ReferenceBackend, client: httpx.Client) -> None:
    backend.set_outage("503")
    for method, path in (("GET", "/api/health"), ("GET", "/api/resources"), ("POST", "/api/resources")):
        response = client.request(method, path, json=[resource(1)] if method == "POST" else None)
        assert_error(response, 503, "service_unavailable")
        assert response.headers["retry-after"] == "1"
    assert backend.stored_ids("resources") == []
    backend.set_outage(None)
    assert client.get("/api/health").status_code == 200
    assert backend.stats().outage_responses == {"503": 3}


def test_outage_refuse_closes_without_answer(backend: ReferenceBackend, client: httpx.Client) -> None:
    assert client.get("/api/health").status_code == 200  # a pooled keep-alive connection exists
    backend.set_outage("refuse")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get("/api/health")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.post("/api/resources", json=[resource(1)])
    raw = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=5)
    try:
        raw.request("GET", "/api/health")
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
            raw.getresponse()
    finally:
        raw.close()
    assert backend.stored_ids("resources") == []
    backend.set_outage(None)
    assert client.get("/api/health").status_code == 200
    assert backend.stats().outage_responses == {"refuse": 3}
    with pytest.raises(ValueError, match="outage mode"):
        backend.set_outage("down")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- faults


def _observe(kind: str, backend: ReferenceBackend, client: httpx.Client) -> None:
    """Send one POST under a plan that always injects ``kind`` and check what the client sees."""
    body = [resource(1), resource(2)]
    headers = {"Idempotency-Key": f"fault-{kind}"}
    if kind.startswith("close_"):
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/api/resources", json=body, headers=headers)
        return
    started = time.monotonic()
    response = client.post("/api/resources", json=body, headers=headers)
    status = response.status_code
    if kind == "503_burst":
        assert_error(response, 503, "service_unavailable")
    elif kind == "429_seconds":
        assert_error(response, 429, "rate_limited")
        assert response.headers["retry-after"] == "1"
    elif kind == "429_date":
        assert_error(response, 429, "rate_limited")
        when = email.utils.parsedate_to_datetime(response.headers["retry-after"]).timestamp()
        assert 0.0 < when - time.time() <= 2.0
    elif kind == "slow":
        assert status == 200
        assert time.monotonic() - started >= 0.05
    elif kind == "truncated_json":
        assert status == 200
        assert int(response.headers["content-length"]) == len(response.content)
        with pytest.raises(ValueError, match=r"."):
            json.loads(response.content)
    elif kind == "html_error":
        assert status == 502
        assert response.headers["content-type"].startswith("text/html")
        assert response.text.lstrip().lower().startswith("<!doctype html")
    elif kind == "schema_break":
        assert status == 200
        assert isinstance(response.json()["accepted"], str)
    elif kind == "504_after_store":
        assert status == 504
        assert response.headers["content-type"].startswith("text/html")
    elif kind in ("status_499", "status_520"):
        assert_error(response, int(kind[-3:]))
    elif kind == "redirect_other_origin":
        assert status == 307
        location = httpx.URL(response.headers["location"])
        assert location.host == "127.0.0.2"
        assert location.path == "/api/resources"
    else:  # pragma: no cover
        raise AssertionError(kind)


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_kind(kind: str, backend: ReferenceBackend, client: httpx.Client) -> None:
    backend.set_fault_plan(FaultPlan(seed=7, rate=1.0, kinds=[kind], slow_seconds=0.05))
    _observe(kind, backend, client)
    stats = backend.stats()
    assert stats.faults_injected == {kind: 1}
    stored = backend.stored_ids("resources") == ["r-0001", "r-0002"]
    assert stored is STORES[kind], f"{kind}: stored={stored}"
    assert stats.item_writes == (2 if STORES[kind] else 0)

    # The client retries with the same key once the fault is gone: a stored request is
    # answered from the idempotency cache, one that was not stored is processed now.
    backend.set_fault_plan(None)
    retry = client.post("/api/resources", json=[resource(1), resource(2)], headers={"Idempotency-Key": f"fault-{kind}"})
    assert retry.status_code == 200
    assert retry.json()["accepted"] == 2
    assert ("idempotent-replayed" in retry.headers) is STORES[kind]
    stats = backend.stats()
    assert stats.item_writes == 2
    assert stats.duplicate_items_without_key == 0
    assert stats.duplicate_deliveries_deduped == (1 if STORES[kind] else 0)


def test_503_burst_covers_the_next_two_requests(backend: ReferenceBackend, client: httpx.Client) -> None:
    plan = FaultPlan(seed=3, rate=1.0, kinds=["503_burst"])
    backend.set_fault_plan(plan)
    response = client.get("/api/health")
    assert response.status_code == 503
    plan.rate = 0.0  # no new bursts: the next two requests still belong to this one
    assert [client.get("/api/health").status_code for _ in range(3)] == [503, 503, 200]
    assert backend.stats().faults_injected == {"503_burst": 3}

    runs = FaultPlan(seed=11, rate=0.2, kinds=["503_burst", "slow"])
    decisions = [runs.decide("GET", "/api/resources") for _ in range(500)]
    run = 0
    for kind in [*decisions, None]:
        if kind == "503_burst":
            run += 1
        else:
            assert run % 3 == 0
            run = 0


def test_close_after_store_and_close_before_response(backend: ReferenceBackend, client: httpx.Client) -> None:
    backend.set_fault_plan(FaultPlan(seed=1, rate=1.0, kinds=["close_after_store"]))
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/api/resources", json=[resource(1)])
    assert backend.stored_ids("resources") == ["r-0001"]
    backend.set_fault_plan(FaultPlan(seed=1, rate=1.0, kinds=["close_before_response"]))
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/api/resources", json=[resource(2)])
    assert backend.stored_ids("resources") == ["r-0001"]
    backend.set_fault_plan(FaultPlan(seed=1, rate=1.0, kinds=["close_mid_response"]))
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/api/resources", json=[resource(3)])
    assert backend.stored_ids("resources") == ["r-0001", "r-0003"]
    # The approve endpoint: processed and decided although the client saw nothing.
    backend.add_items("optimizations", [optimization(1)])
    backend.set_fault_plan(FaultPlan(seed=1, rate=1.0, kinds=["close_after_store"]))
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/api/optimizations/opt-1/approve", json={"approved": True})
    assert backend.stored_items("optimizations")[0]["status"] == "APPROVED"


def test_slow_fault_outlives_a_client_timeout(backend: ReferenceBackend) -> None:
    backend.set_fault_plan(FaultPlan(seed=1, rate=1.0, kinds=["slow"], slow_seconds=0.3))
    with httpx.Client(base_url=backend.url, timeout=0.05) as http, pytest.raises(httpx.ReadTimeout):
        http.post("/api/resources", json=[resource(1)])
    assert wait_until(lambda: backend.stored_ids("resources") == ["r-0001"])


def test_faults_on_list_endpoints(backend: ReferenceBackend, client: httpx.Client) -> None:
    client.post("/api/resources", json=[resource(1)])
    backend.set_fault_plan(FaultPlan(seed=1, rate=1.0, kinds=["schema_break"]))
    assert isinstance(client.get("/api/resources").json()["data"], dict)
    assert client.get("/api/health").json()["status"] == 42
    backend.set_fault_plan(FaultPlan(seed=1, rate=1.0, kinds=["truncated_json"]))
    page = client.get("/api/resources")
    assert page.status_code == 200
    with pytest.raises(ValueError, match=r"."):
        page.json()


def test_fault_plan_method_and_route_filters(backend: ReferenceBackend, client: httpx.Client) -> None:
    plan = FaultPlan(seed=5, rate=1.0, kinds=["status_520"], methods=["post"])
    backend.set_fault_plan(plan)
    assert client.get("/api/resources").status_code == 200
    assert client.post("/api/resources", json=[resource(1)]).status_code == 520
    assert plan.decisions == 1
    assert plan.injected == {"status_520": 1}
    backend.set_fault_plan(FaultPlan(seed=5, rate=1.0, kinds=["status_499"], routes=["/api/anomalies"]))
    assert client.post("/api/resources", json=[resource(1)]).status_code == 200
    assert client.post("/api/anomalies", json=[anomaly(1)]).status_code == 499
    assert backend.stats().faults_injected == {"status_520": 1, "status_499": 1}


def test_fault_plan_is_deterministic() -> None:
    def run(seed: int) -> list[str | None]:
        plan = FaultPlan(seed=seed, rate=0.4)
        return [plan.decide("POST", "/api/resources") for _ in range(200)]

    assert run(42) == run(42)
    assert run(42) != run(43)
    assert set(run(42)) - {None} <= set(FAULT_KINDS)
    assert set(FAULT_KINDS) >= AMBIGUOUS_KINDS
    with pytest.raises(ValueError, match="unknown"):
        FaultPlan(seed=1, rate=1.0, kinds=["teapot"])
    with pytest.raises(ValueError, match="rate"):
        FaultPlan(seed=1, rate=1.5)


def test_fault_plan_passed_to_constructor() -> None:
    plan = FaultPlan(seed=2, rate=1.0, kinds=["html_error"])
    with ReferenceBackend(fault_plan=plan) as server, httpx.Client(base_url=server.url) as http:
        assert http.get("/api/resources").status_code == 502
        server.reset()
        assert server.fault_plan is None
        assert http.get("/api/resources").status_code == 200


# --------------------------------------------------------------------------- contract


def _spec() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    if not SPEC_PATH.exists():
        pytest.skip("openapi.yaml not present")
    spec: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
    return spec


_ANNOTATIONS = ("description", "title", "example", "examples")


def _strip(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip(v) for k, v in schema.items() if k not in _ANNOTATIONS}
    if isinstance(schema, list):
        return [_strip(v) for v in schema]
    return schema


def test_embedded_schemas_match_the_contract() -> None:
    spec = _spec()
    components = spec["components"]["schemas"]
    for name, schema in SCHEMAS.items():
        assert _strip(components[name]) == schema, f"reference_backend/_schemas.py is out of date for {name}"

    def keywords(node: Any) -> set[str]:
        if isinstance(node, dict):
            found = set()
            for key, value in node.items():
                found.add(key)
                found |= keywords(value) if key != "properties" else set().union(*map(keywords, value.values()))
            return found
        return set()

    assert set().union(*map(keywords, SCHEMAS.values())) <= SUPPORTED_KEYWORDS
    limit = spec["components"]["parameters"]["Limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (LIMIT_MIN, LIMIT_MAX, LIMIT_DEFAULT)
    key = spec["components"]["parameters"]["IdempotencyKey"]["schema"]
    assert key["maxLength"] == IDEMPOTENCY_KEY_MAX_LENGTH
    for path in ("/api/resources", "/api/optimizations", "/api/anomalies", "/api/budgets/forecasts"):
        body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert (body["minItems"], body["maxItems"]) == (BATCH_MIN_ITEMS, BATCH_MAX_ITEMS)


def test_responses_conform_to_the_contract(backend: ReferenceBackend, client: httpx.Client) -> None:
    spec = _spec()
    jsonschema = pytest.importorskip("jsonschema")

    def check(response: httpx.Response, schema_name: str) -> None:
        schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
        validator.validate(response.json())

    check(client.get("/api/health"), "HealthStatus")
    check(client.post("/api/resources", json=[resource(1), resource(2, region="")]), "IngestResult")
    check(client.post("/api/optimizations", json=[optimization(1)]), "IngestResult")
    check(client.post("/api/anomalies", json=[anomaly(1)]), "IngestResult")
    check(client.post("/api/budgets/forecasts", json=[forecast(1)]), "IngestResult")
    check(client.get("/api/resources", params={"limit": 1}), "ResourcePage")
    check(client.get("/api/optimizations"), "OptimizationPage")
    check(client.get("/api/anomalies"), "AnomalyPage")
    check(client.get("/api/budgets/forecasts"), "BudgetForecastPage")
    decision = client.post("/api/optimizations/opt-1/approve", json={"approved": True, "comment": "ok"})
    check(decision, "Approval")
    check(client.post("/api/optimizations/opt-1/approve", json={"approved": True}), "Error")
    check(client.get("/api/resources", params={"limit": 0}), "Error")
    backend.set_fault_plan(FaultPlan(seed=1, rate=1.0, kinds=["schema_break"]))
    with pytest.raises(jsonschema.ValidationError):
        check(client.post("/api/resources", json=[resource(3)]), "IngestResult")


# --------------------------------------------------------------------------- CLI


def test_cli_serves_until_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "reference_backend", "--port", "0", "--api-key", "cli-key", "--demo-data"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split(" on ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, timeout=5) as http:
            assert http.get("/api/health").status_code == 200
            assert http.get("/api/resources").status_code == 401
            page = http.get("/api/resources", headers={"X-API-Key": "cli-key"}).json()
            assert len(page["data"]) >= 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
