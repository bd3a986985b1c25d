"""The contract checks on jsonschema-rs: a valid batch costs one library call and nothing else of
it; only a refusal pays to locate its first error, named as before (index, field, words); the
formats the spec uses are checked as the hand-written validator checked them."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

import pytest
from finops_api_client._contract import OPERATIONS

from reference_backend import ReferenceBackend
from resilience import compile_schema
from resilience._validation import Invalid, SchemaCheck
from tests.support import Driver, resources

API_KEY = "sk-test-validation-fast-path"
POST_RESOURCES = OPERATIONS["post_resources"]


@pytest.fixture
def backend() -> Iterator[ReferenceBackend]:
    with ReferenceBackend(api_key=API_KEY) as b:
        yield b


class Spy:
    """Counts the calls to a jsonschema-rs validator's methods, and passes them on."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def is_valid(self, value: Any) -> bool:
        self.calls.append("is_valid")
        return bool(self.inner.is_valid(value))

    def iter_errors(self, value: Any) -> Any:
        self.calls.append("iter_errors")
        return self.inner.iter_errors(value)


def spied(client: Any) -> tuple[Spy, Spy]:
    check = client._item_validator(POST_RESOURCES)
    assert isinstance(check, SchemaCheck)
    whole, each = Spy(check._whole), Spy(check._each)
    check._whole, check._each = whole, each  # type: ignore[assignment]  # spies in their place
    return whole, each


async def test_a_valid_batch_costs_one_call_and_no_error_walk(driver: Driver, backend: ReferenceBackend) -> None:
    async with driver.open(backend.url, api_key=API_KEY) as d:
        whole, each = spied(d.client)
        result = await d.post_resources(resources(1200), chunk_size=300)
    assert result.ok
    assert whole.calls == ["is_valid"]
    assert each.calls == []


async def test_only_a_refused_batch_pays_to_locate_its_first_bad_item(
    driver: Driver, backend: ReferenceBackend
) -> None:
    items = resources(1200)
    items[1100]["region"] = ""
    items[1150]["currentCost"] = -1
    async with driver.open(backend.url, api_key=API_KEY) as d:
        whole, each = spied(d.client)
        with pytest.raises(Exception, match="item 1100, field 'region': must be at least 1 characters long") as info:
            await d.post_resources(items)
    assert (info.value.index, info.value.field) == (1100, "region")  # type: ignore[attr-defined]
    assert whole.calls == ["is_valid"]
    assert each.calls.count("iter_errors") == 1  # the bad item only: is_valid ruled out the rest
    assert backend.stats().requests_total == 0


async def test_a_typo_deep_in_a_batch_is_warned_once(
    driver: Driver, backend: ReferenceBackend, caplog: pytest.LogCaptureFixture
) -> None:
    items = resources(1000)
    items[999]["regoin"] = "eu-west-1"
    items[998]["regoin"] = "eu-west-1"
    with caplog.at_level(logging.WARNING, logger="resilience"):
        async with driver.open(backend.url, api_key=API_KEY) as d:
            result = await d.post_resources(items)
    assert result.ok
    told = [r.getMessage() for r in caplog.records if "not in the contract" in r.getMessage()]
    assert told == ["post_resources: field 'regoin' is not in the contract, did you mean 'region'? (sent as is)"]


SCHEMA: dict[str, Any] = POST_RESOURCES.item_schema or {}
BASE = {"resourceId": "r", "resourceType": "t", "region": "x"}


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2025-01-15T08:00:00Z", True),
        ("2025-01-15t08:00:00z", True),
        ("2025-01-15T08:00:00.5+01:00", True),
        ("2024-02-29T23:59:59-05:00", True),
        ("2025-01-15T08:00Z", False),  # ISO 8601 without seconds: not RFC 3339
        ("20250115T080000Z", False),
        ("2025-01-15T08:00:00", False),  # no offset
        ("2025-01-15 08:00:00Z", False),
        ("2025-13-01T00:00:00Z", False),
        ("2025-02-29T00:00:00Z", False),
        ("2025-01-15T24:00:00Z", False),
        ("yesterday", False),
    ],
)
def test_date_time_is_rfc_3339_as_before(value: str, ok: bool) -> None:
    check = compile_schema(SCHEMA)
    if ok:
        check({**BASE, "timestamp": value}, "")
        return
    with pytest.raises(Invalid) as info:
        check({**BASE, "timestamp": value}, "")
    assert (info.value.path, info.value.message) == ("timestamp", f"must be an RFC 3339 date-time, got {value!r}")


@pytest.mark.parametrize(
    ("value", "ok"),
    [("2025-01-15", True), ("2024-02-29", True), ("2025-02-30", False), ("20250115", False), ("2025-W03-1", False)],
)
def test_date_is_rfc_3339_as_before(value: str, ok: bool) -> None:
    schema = OPERATIONS["post_budget_forecasts"].item_schema or {}
    item = {"periodStart": value}
    check = compile_schema({**schema, "required": []})
    if ok:
        check(item, "")
        return
    with pytest.raises(Invalid, match="must be an RFC 3339 date") as info:
        check(item, "")
    assert info.value.path == "periodStart"


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"currentCost": math.nan}, "currentCost", "must be a finite number, got nan"),
        ({"currentCost": True}, "currentCost", "must be a number, got bool True"),
        ({"currentCost": -0.5}, "currentCost", "must be >= 0, got -0.5"),
        ({"currency": "usd"}, "currency", "must match pattern '^[A-Z]{3}$', got 'usd'"),
        ({"resourceId": "x" * 300}, "resourceId", "must be at most 256 characters long, got 300"),
        ({"tags": {"env": 5}}, "tags.env", "must be a string, got int 5"),
        ({"tags": []}, "tags", "must be an object, got list []"),
        ({"region": None}, "region", "must be a string, got NoneType None"),
    ],
)
def test_refusals_are_worded_as_before(change: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(Invalid) as info:
        compile_schema(SCHEMA)({**BASE, **change}, "")
    assert (info.value.path, info.value.message) == (path, message)


def test_a_value_is_quoted_at_most_forty_characters() -> None:
    with pytest.raises(Invalid) as info:
        compile_schema(SCHEMA)({**BASE, "currency": "Q" * 500}, "")
    assert info.value.message.endswith(", got '" + "Q" * 36 + "...")


def test_a_response_path_is_named_from_its_root() -> None:
    check = compile_schema(OPERATIONS["get_resources"].response)
    page = {"success": True, "timestamp": "2026-11-29T10:00:00Z", "data": [dict(BASE), {**BASE, "currentCost": "9"}]}
    with pytest.raises(Invalid) as info:
        check(page, "")
    assert (info.value.path, info.value.message) == ("data[1].currentCost", "must be a number, got str '9'")
