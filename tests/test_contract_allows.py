"""What the contract allows, the SDK sends: a field the schema does not name is allowed by it
(no ``additionalProperties: false``), so it is sent, and stored by the backend; one that looks
like a typo of a named field is logged with the likely intended name."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from reference_backend import ReferenceBackend
from resilience import compile_schema
from tests.support import Driver, resource

API_KEY = "sk-test-contract-allows"


@pytest.fixture
def backend() -> Any:
    with ReferenceBackend(api_key=API_KEY) as b:
        yield b


async def test_a_field_the_contract_does_not_name_is_sent(driver: Driver, backend: ReferenceBackend) -> None:
    items = [resource(1, costCenter="cc-42"), resource(2)]
    async with driver.open(backend.url, api_key=API_KEY, record=True) as d:
        result = await d.post_resources(items)
    assert result.ok
    assert b'"costCenter":"cc-42"' in d.posts()[0].content


async def test_a_likely_typo_is_sent_with_a_warning_naming_the_field_meant(
    driver: Driver, backend: ReferenceBackend, caplog: pytest.LogCaptureFixture
) -> None:
    items = [resource(i, resourceID=f"typo-{i}") for i in range(3)]
    with caplog.at_level(logging.WARNING, logger="resilience"):
        async with driver.open(backend.url, api_key=API_KEY) as d:
            result = await d.post_resources(items)
            again = await d.post_resources(items)
    assert result.ok
    assert again.ok
    warnings = [r.getMessage() for r in caplog.records if "not in the contract" in r.getMessage()]
    assert warnings == [
        "post_resources: field 'resourceID' is not in the contract, did you mean 'resourceId'? (sent as is)"
    ]


def test_unknown_fields_pass_as_the_schema_allows_and_are_told() -> None:
    told: list[tuple[str, str]] = []
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"type": "integer"}, "nested": {"type": "object", "properties": {"b": {"type": "string"}}}},
    }
    check = compile_schema(schema, on_unknown=lambda path, key, known: told.append((path, key)))
    check({"a": 1, "x": 2, "nested": {"b": "s", "y": 3}}, "")
    assert told == [("", "x"), ("nested", "y")]
    closed = compile_schema({**schema, "additionalProperties": False}, on_unknown=lambda *a: None)
    with pytest.raises(Exception, match="is not a known field"):
        closed({"a": 1, "x": 2}, "")
    with pytest.raises(Exception, match="keys must be strings of valid Unicode"):
        check({"a": 1, "\ud800": 2}, "")
