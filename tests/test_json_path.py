"""JSON bodies on orjson keep the stdlib's guarantees, and add stricter ones: what JSON cannot
carry (NaN, infinities, lone surrogates, non-str keys, 64-bit overflow, objects with no JSON
form, nesting past the limit) is refused before anything is sent, naming the item and field;
nothing is coerced; answers are decoded strictly (a NaN literal is a typed error) but a BOM or
a UTF-16 body, which the stdlib read, still are."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import math
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from reference_backend import ReferenceBackend
from resilience import APIResponseValidationError, RequestValidationError
from resilience._json import Unencodable, dumps, loads
from tests.support import Driver, resource, resources

API_KEY = "sk-test-json-path"
HEALTH = {"status": "ok", "timestamp": "2026-11-29T10:00:00Z"}


@pytest.fixture
def backend() -> Iterator[ReferenceBackend]:
    with ReferenceBackend(api_key=API_KEY) as b:
        yield b


@dataclasses.dataclass
class Point:
    x: int


def deep_list(depth: int) -> list[Any]:
    out: list[Any] = []
    for _ in range(depth):
        out = [out]
    return out


#: (what is put in item 700 of 1200, the field named, words of the message)
CASES: dict[str, tuple[dict[str, Any], str | None, str]] = {
    "nan, a field the schema does not name": ({"score": math.nan}, "score", "must be a finite number, got nan"),
    "infinity, nested in an unnamed field": ({"extra": [1.0, -math.inf]}, "extra[1]", "must be a finite number"),
    "infinity in a named map": ({"utilizationMetrics": {"cpu": math.inf}}, "utilizationMetrics.cpu", "finite"),
    "a datetime where a date-time string goes": ({"timestamp": dt.datetime(2026, 1, 1)}, "timestamp", "datetime"),
    "a datetime in an unnamed field": ({"seenAt": dt.datetime(2026, 1, 1)}, "seenAt", "no JSON form"),
    "a UUID in an unnamed field": ({"ref": uuid.UUID(int=7)}, "ref", "no JSON form: got UUID"),
    "a dataclass in an unnamed field": ({"point": Point(1)}, "point", "no JSON form: got Point"),
    "a Decimal where a number goes": ({"currentCost": decimal.Decimal("1.5")}, "currentCost", "Decimal"),
    "a key that is no string": ({"tags": {1: "x"}}, "tags", "keys must be strings"),
    "a lone surrogate in a named value": ({"tags": {"env": "t\ud800"}}, "tags.env", "lone surrogate"),
    "a lone surrogate in a named string": ({"resourceId": "r-\udfff"}, "resourceId", "lone surrogate"),
    "a lone surrogate as an unnamed key": ({"\ud800": 1}, None, "keys must be strings of valid Unicode"),
    "an integer past 64 bits": ({"big": 2**64}, "big", "more than 64 bits"),
    "nesting past the limit": ({"deep": deep_list(100_000)}, "deep", "nested more than"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_what_json_cannot_carry_is_refused_before_anything_is_sent(
    driver: Driver, backend: ReferenceBackend, case: str
) -> None:
    change, field, words = CASES[case]
    items = resources(1200)
    items[700].update(change)
    async with driver.open(backend.url, api_key=API_KEY) as d:
        with pytest.raises(RequestValidationError) as info:
            await d.post_resources(items, chunk_size=100)
    assert (info.value.index, info.value.field) == (700, field)
    assert words in str(info.value)
    assert backend.stats().requests_total == 0, "a chunk was sent"


async def test_a_secret_named_field_that_cannot_be_sent_is_not_quoted(
    driver: Driver, backend: ReferenceBackend
) -> None:
    items = [resource(0, clientSecret=decimal.Decimal("31415926535"))]
    async with driver.open(backend.url, api_key=API_KEY) as d:
        with pytest.raises(RequestValidationError) as info:
            await d.post_resources(items)
    assert info.value.field == "clientSecret"
    assert "31415926535" not in str(info.value)
    assert "not shown" in str(info.value)
    assert backend.stats().requests_total == 0


class Kind(enum.StrEnum):
    EC2 = "ec2"


async def test_str_enums_and_plain_values_are_sent_as_json_sent_them(driver: Driver, backend: ReferenceBackend) -> None:
    item = resource(1, resourceType=Kind.EC2, note="Zoë 数据", empty=None, ratio=0.1)
    async with driver.open(backend.url, api_key=API_KEY, record=True) as d:
        result = await d.post_resources([item])
    assert result.ok
    body = d.posts()[0].content
    assert b'"resourceType":"ec2"' in body
    assert "Zoë 数据".encode() in body  # UTF-8, not \u escapes
    assert json.loads(body) == [{**item, "resourceType": "ec2"}]


def test_a_nan_is_found_where_orjson_wrote_null() -> None:
    assert dumps({"a": None, "b": [1, 2.5]}) == b'{"a":null,"b":[1,2.5]}'
    with pytest.raises(Unencodable) as info:
        dumps({"a": None, "b": [1, math.nan]})  # orjson alone writes [1,null]
    assert (info.value.path, info.value.message) == ("b[1]", "must be a finite number, got nan")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(value=json_values)
def test_what_the_stdlib_could_send_is_sent_the_same(value: Any) -> None:
    body = dumps(value)
    assert json.loads(body) == value
    assert loads(body) == value
    assert body == json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode() or (
        "e" in body.decode() or "." in body.decode()  # a float may be spelled otherwise (1e16, 1e+16)
    )


# -- answers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"status": "ok", "timestamp": "2026-11-29T10:00:00Z", "load": NaN}',
        b'{"status": "ok", "timestamp": "2026-11-29T10:00:00Z", "load": Infinity}',
        b'{"status": "ok", "timestamp": "2026-11-29T10:00:00Z", "note": "\xff\xfe"}',
    ],
    ids=["nan", "infinity", "not-utf8"],
)
async def test_an_answer_json_does_not_allow_is_a_typed_error(
    driver: Driver, httpserver: HTTPServer, body: bytes
) -> None:
    httpserver.expect_request("/api/health").respond_with_data(body, content_type="application/json")
    driver.open(httpserver.url_for(""), max_retries=0)
    with pytest.raises(APIResponseValidationError, match="not valid JSON") as info:
        await driver.call("get_health")
    assert info.value.status_code == 200


@pytest.mark.parametrize(
    "body",
    [b"\xef\xbb\xbf" + json.dumps(HEALTH).encode(), json.dumps(HEALTH).encode("utf-16")],
    ids=["utf-8-bom", "utf-16"],
)
async def test_answers_the_stdlib_read_are_still_read(driver: Driver, httpserver: HTTPServer, body: bytes) -> None:
    httpserver.expect_request("/api/health").respond_with_data(body, content_type="application/json")
    driver.open(httpserver.url_for(""), max_retries=0)
    health = await driver.call("get_health")
    assert health.status.value == "ok"


async def test_an_answer_nested_past_the_limit_says_so(driver: Driver, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/health").respond_with_data(
        b"[" * 2000 + b"]" * 2000, content_type="application/json"
    )
    driver.open(httpserver.url_for(""), max_retries=0)
    with pytest.raises(APIResponseValidationError, match="nested too deeply"):
        await driver.call("get_health")
