"""The SDK's compiled validator agrees with jsonschema (Draft 2020-12, formats checked) on the
contract's item schemas, for hypothesis-generated items near and across every bound.

Items sometimes carry a field the schema does not name: the schemas allow them, and so do both.
Known, deliberate differences are left out of the comparison: the SDK refuses non-finite
numbers (JSON cannot carry them) and integers past 64 bits (orjson cannot send them, and few
JSON readers read them exactly); jsonschema treats ``1.0`` as an integer too, as the SDK does.
"""

from __future__ import annotations

from typing import Any

import jsonschema  # type: ignore[import-untyped]  # a test-only oracle
import pytest
from finops_api_client._contract import OPERATIONS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience import compile_schema
from resilience._validation import Invalid, SchemaCheck

ITEM_SCHEMAS = {op: spec.item_schema for op, spec in OPERATIONS.items() if spec.batch}
FORMAT_CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER

texts = st.one_of(
    st.text(max_size=5),
    st.text(min_size=60, max_size=70),
    st.sampled_from(["", "x" * 128, "x" * 129, "x" * 256, "x" * 257, "USD", "usd", "EURO", "LOW", "HIGH", "SEVERE"]),
    st.sampled_from(["2025-01-15T08:00:00Z", "2025-01-15T08:00:00+01:00", "2025-01-15T08:00Z", "2025-13-01T00:00:00Z"]),
    st.sampled_from(["2025-01-15", "2025-02-30", "20250115", "2025-W03-1"]),
    st.sampled_from(["RIGHTSIZE", "TERMINATE", "DELETE", "PENDING", "APPROVED", "CRITICAL"]),
)
numbers = st.one_of(
    st.integers(min_value=-5, max_value=5),
    st.floats(min_value=-2, max_value=2, allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 0.0, 1, 1.0, -0.0001, 1.0001, 10**6]),
)
scalars = st.one_of(texts, numbers, st.booleans(), st.none())
values = st.one_of(scalars, st.dictionaries(st.text(max_size=3), st.one_of(texts, numbers), max_size=3))


def valid(prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values the property's schema accepts, bounds included."""
    if "enum" in prop:
        return st.sampled_from(prop["enum"])
    kind = prop.get("type")
    if kind == "string":
        if prop.get("format") == "date-time":
            return st.sampled_from(["2025-01-15T08:00:00Z", "2025-01-15T08:00:00.5+01:00", "2024-02-29T23:59:59-05:00"])
        if prop.get("format") == "date":
            return st.sampled_from(["2025-01-15", "2025-12-31", "2024-02-29"])
        if "pattern" in prop:
            return st.sampled_from(["USD", "EUR", "GBP"])
        lo, hi = prop.get("minLength", 0), prop.get("maxLength", 20)
        return st.one_of(st.text(st.characters(codec="utf-8"), min_size=lo, max_size=min(hi, 20)), st.just("z" * hi))
    if kind in ("number", "integer"):
        lo, hi = prop.get("minimum", -1e6), prop.get("maximum", 1e6)
        return st.one_of(st.floats(min_value=lo, max_value=hi), st.sampled_from([lo, hi]))
    if kind == "object":
        extra = prop.get("additionalProperties")
        inner = valid(extra) if isinstance(extra, dict) else values
        return st.dictionaries(st.text(min_size=1, max_size=3), inner, max_size=3)
    return values


def invalid_ish(prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values just across a bound or format, or of another kind (some happen to be valid)."""
    edge: list[Any] = ["NOPE", "usd", "2025-01-15T08:00Z", "2025-02-30", "20250115T080000Z", True, None]
    if "maxLength" in prop:
        edge.append("y" * (prop["maxLength"] + 1))
    if "minimum" in prop:
        edge.append(prop["minimum"] - 0.001)
    if "maximum" in prop:
        edge.append(prop["maximum"] + 0.001)
    return st.one_of(st.sampled_from(edge), values)


@st.composite
def items_for(draw: st.DrawFn, schema: dict[str, Any]) -> dict[str, Any]:
    props = schema["properties"]
    names = draw(st.lists(st.sampled_from(sorted(props)), unique=True))
    out = {name: draw(valid(props[name])) for name in {*names, *schema.get("required", [])}}
    if draw(st.integers(0, 3)) == 0:  # a quarter get a field the schema does not name: it allows them
        unknown = draw(st.text(alphabet="abcdefghijXYZ_", min_size=1, max_size=8).filter(lambda k: k not in props))
        out[unknown] = draw(st.one_of(st.integers(-(2**63), 2**64 - 1), st.text(max_size=5), st.none()))
    if draw(st.booleans()):  # half the items get one field spoiled, or a required one dropped
        name = draw(st.sampled_from(sorted(props)))
        if name in schema.get("required", []) and draw(st.integers(0, 4)) == 0:
            out.pop(name, None)
        else:
            out[name] = draw(invalid_ish(props[name]))
    return out


def sdk_accepts(schema: dict[str, Any], item: Any) -> bool:
    """As the client checks a request item: fields the schema does not name pass (and are told)."""
    try:
        compile_schema(schema, on_unknown=lambda path, key, known: None)(item, "")
    except Invalid:
        return False
    return True


def reference_accepts(schema: dict[str, Any], item: Any) -> bool:
    return bool(jsonschema.Draft202012Validator(schema, format_checker=FORMAT_CHECKER).is_valid(item))


def test_sdk_validator_agrees_with_jsonschema() -> None:
    verdicts: list[bool] = []

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
    @given(data=st.data())
    def agree(data: st.DataObject) -> None:
        op = data.draw(st.sampled_from(sorted(ITEM_SCHEMAS)))
        schema = ITEM_SCHEMAS[op]
        item = data.draw(items_for(schema))
        verdict = sdk_accepts(schema, item)
        assert verdict == reference_accepts(schema, item), (op, item)
        verdicts.append(verdict)

    agree()
    # Agreement must cover valid items as well as invalid ones to mean anything.
    assert 0.2 < sum(verdicts) / len(verdicts) < 0.9, sum(verdicts)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(data=st.data())
def test_strict_mode_only_adds_the_unknown_field_rule(data: st.DataObject) -> None:
    op = data.draw(st.sampled_from(sorted(ITEM_SCHEMAS)))
    schema = ITEM_SCHEMAS[op]
    item = {k: v for k, v in data.draw(items_for(schema)).items() if k in schema["properties"]}
    extra = data.draw(st.text(min_size=1, max_size=4).filter(lambda k: k not in schema["properties"]))
    item_with_typo = {**item, extra: "x"}
    strict = compile_schema(schema, forbid_unknown=True)
    with pytest.raises(Invalid):
        strict(item_with_typo, "")
    if sdk_accepts(schema, item):
        with pytest.raises(Invalid) as info:  # valid but for the typo: the typo is what is named
            strict(item_with_typo, "")
        assert info.value.path == extra


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(data=st.data())
def test_the_whole_batch_check_names_the_first_item_jsonschema_refuses(data: st.DataObject) -> None:
    """The fast path (one call for the lot, a walk only on refusal) finds the same first bad
    item as checking each item with jsonschema would."""
    op = data.draw(st.sampled_from(sorted(ITEM_SCHEMAS)))
    schema = ITEM_SCHEMAS[op]
    items = data.draw(st.lists(items_for(schema), min_size=1, max_size=12))
    check = compile_schema(schema, on_unknown=lambda path, key, known: None)
    assert isinstance(check, SchemaCheck)
    bad = check.first_bad(items)
    refused = [i for i, item in enumerate(items) if not reference_accepts(schema, item)]
    assert (bad[0] if bad is not None else None) == (refused[0] if refused else None), (op, items)
