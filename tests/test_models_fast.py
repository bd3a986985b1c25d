"""The generated models' from_dict/to_dict: every model, from the spec, on valid, missing, wrong-typed and extra fields.

These pin what the models accept and refuse, so the faster model template (codegen/templates/model.py.jinja)
keeps it unchanged or stricter, never looser. Samples and expectations come from openapi.yaml itself:
a new schema is covered without touching this file.
"""

from __future__ import annotations

import copy
import datetime
import enum
import importlib
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs
import pytest
import yaml
from finops_api_client import models
from finops_api_client.types import UNSET

ROOT = Path(__file__).resolve().parent.parent
SPEC: dict[str, Any] = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
#: The object schemas, each generated as a model class of the same name.
OBJECTS = sorted(name for name, schema in SCHEMAS.items() if schema.get("type") == "object")
#: Refusals: what the models raise on input they cannot read (the type depends on the field's kind).
REFUSED = (TypeError, ValueError, KeyError, AttributeError)
#: Wrong-typed values, one of each JSON type plus look-alikes.
WRONG: list[Any] = [None, True, 7, 1.5, "text", "ab", [], {}, ["ab"], {"x": 1}]


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return resolve(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]])
    return schema


def kind(schema: dict[str, Any]) -> str:
    """How the generated models read a property of this schema."""
    s = resolve(schema)
    if "enum" in s:
        return "enum"
    if s.get("format") in ("date-time", "date"):
        return str(s["format"])
    if s.get("type") == "object":
        return "model" if s.get("properties") else "mapping"
    if s.get("type") == "array":
        return "list-" + kind(s["items"])
    return "plain"


def sample(schema: dict[str, Any]) -> Any:
    """A valid wire value of the schema whose typed round trip gives it back unchanged."""
    s = resolve(schema)
    if "enum" in s:
        return s["enum"][-1]
    if s.get("format") == "date-time":
        return "2026-03-04T05:06:07+00:00"
    if s.get("format") == "date":
        return "2026-03-04"
    kind_: Any = s.get("type")
    if isinstance(kind_, list):
        kind_ = kind_[0]
    if kind_ == "object":
        out = {name: sample(prop) for name, prop in s.get("properties", {}).items()}
        extra = s.get("additionalProperties")
        if isinstance(extra, dict):
            out["k1"] = sample(extra)
        elif extra is True:
            out["k1"] = {"nested": [1, "two"]}
        return out
    if kind_ == "array":
        return [sample(s["items"]), sample(s["items"])]
    if kind_ == "string":
        return "USD" if "pattern" in s else "s"
    scalars: dict[str, Any] = {"number": 1.5, "integer": 3, "boolean": True}
    return scalars[kind_]


def model(name: str) -> Any:
    return getattr(models, name)


def python_name(cls: Any, wire: str) -> str:
    """The attrs field of a wire name (the generator snake-cases it)."""
    snake = "".join("_" + c.lower() if c.isupper() else c for c in wire)
    assert snake in attrs.fields_dict(cls), f"{cls.__name__} has no field for {wire!r}"
    return snake


def properties(name: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(model, wire name, schema) of every property of every object schema."""
    return [(name, prop, schema) for prop, schema in SCHEMAS[name].get("properties", {}).items()]


ALL_PROPERTIES = [p for name in OBJECTS for p in properties(name)]
REQUIRED = [(name, field) for name in OBJECTS for field in SCHEMAS[name].get("required", [])]
OPTIONAL = [(n, p) for n, p, _ in ALL_PROPERTIES if p not in SCHEMAS[n].get("required", [])]


def test_every_object_schema_is_a_model_class() -> None:
    assert len(OBJECTS) >= 15
    for name in OBJECTS:
        assert attrs.has(model(name)), name


@pytest.mark.parametrize("name", OBJECTS)
def test_round_trip_gives_the_wire_dict_back(name: str) -> None:
    wire = sample(SCHEMAS[name])
    obj = model(name).from_dict(wire)
    assert obj.to_dict() == wire
    assert model(name).from_dict(obj.to_dict()) == obj


@pytest.mark.parametrize(("name", "prop", "schema"), ALL_PROPERTIES, ids=[f"{n}.{p}" for n, p, _ in ALL_PROPERTIES])
def test_fields_are_typed(name: str, prop: str, schema: dict[str, Any]) -> None:
    obj = model(name).from_dict(sample(SCHEMAS[name]))
    value = getattr(obj, python_name(model(name), prop))
    expected: Any = {
        "enum": enum.Enum,
        "date-time": datetime.datetime,
        "date": datetime.date,
        "model": object,
        "mapping": object,
        "list-model": list,
        "plain": object,
    }[kind(schema)]
    assert isinstance(value, expected)
    if kind(schema) in ("model", "mapping"):
        assert attrs.has(type(value))
        assert value.to_dict() == sample(SCHEMAS[name])[prop]
    if kind(schema) == "list-model":
        assert all(attrs.has(type(v)) for v in value)
        assert len(value) == 2
    if kind(schema) == "plain":
        assert value == sample(SCHEMAS[name])[prop]


@pytest.mark.parametrize(("name", "prop"), REQUIRED, ids=[f"{n}.{p}" for n, p in REQUIRED])
def test_a_missing_required_field_raises_key_error_naming_it(name: str, prop: str) -> None:
    wire = sample(SCHEMAS[name])
    del wire[prop]
    with pytest.raises(KeyError) as caught:
        model(name).from_dict(wire)
    assert caught.value.args == (prop,)


@pytest.mark.parametrize(("name", "prop"), OPTIONAL, ids=[f"{n}.{p}" for n, p in OPTIONAL])
def test_a_missing_optional_field_is_unset_and_left_out(name: str, prop: str) -> None:
    wire = sample(SCHEMAS[name])
    del wire[prop]
    obj = model(name).from_dict(wire)
    assert getattr(obj, python_name(model(name), prop)) is UNSET
    assert obj.to_dict() == wire


@pytest.mark.parametrize("name", OBJECTS)
def test_extra_fields_are_kept_in_order_and_known_fields_win(name: str) -> None:
    wire = sample(SCHEMAS[name])
    extras = {"zExtra": [1, {"a": None}], "aExtra": "x", "mExtra": None}
    obj = model(name).from_dict({**wire, **extras})
    known = set(SCHEMAS[name].get("properties", {}))
    expected_extra = {k: v for k, v in {**wire, **extras}.items() if k not in known}
    assert obj.additional_properties == expected_extra
    assert list(obj.additional_properties) == list(expected_extra)
    assert obj.to_dict() == {**wire, **extras}
    for prop in known:
        assert prop not in obj
    if known:
        # An additional property named like a field does not override the field on the way out.
        prop = sorted(known)[0]
        obj[prop] = "shadow"
        assert obj.to_dict()[prop] == {**wire, **extras}[prop]


@pytest.mark.parametrize("name", OBJECTS)
def test_from_dict_neither_mutates_nor_aliases_its_input(name: str) -> None:
    wire = {**sample(SCHEMAS[name]), "zExtra": 1}
    before = copy.deepcopy(wire)
    obj = model(name).from_dict(wire)
    assert wire == before
    obj.additional_properties["added"] = 2
    del obj.additional_properties["zExtra"]
    assert wire == before
    wire["zExtra2"] = 3
    assert "zExtra2" not in obj


@pytest.mark.parametrize("name", OBJECTS)
def test_any_mapping_is_read(name: str) -> None:
    wire = {**sample(SCHEMAS[name]), "zExtra": 1}
    assert model(name).from_dict(MappingProxyType(wire)) == model(name).from_dict(wire)


@pytest.mark.parametrize("name", [n for n in OBJECTS if SCHEMAS[n].get("required")])
@pytest.mark.parametrize("bad", [None, 7, 1.5, "text", [], ["ab"]], ids=repr)
def test_a_non_mapping_is_refused(name: str, bad: Any) -> None:
    with pytest.raises(REFUSED):
        model(name).from_dict(bad)


#: Per kind of property, the wrong-typed values today's models accept, and what they read them as.
ACCEPTED: dict[str, dict[str, Any]] = {
    "plain": {"*": "as is"},
    "mapping": {"[]": {}, "{}": {}, "['ab']": {"a": "b"}, "{'x': 1}": {"x": 1}},
    "list-model": {"[]": [], "{}": []},
}


@pytest.mark.parametrize(("name", "prop", "schema"), ALL_PROPERTIES, ids=[f"{n}.{p}" for n, p, _ in ALL_PROPERTIES])
@pytest.mark.parametrize("bad", WRONG, ids=repr)
def test_wrong_typed_fields_are_refused_or_read_as_before(
    name: str, prop: str, schema: dict[str, Any], bad: Any
) -> None:
    cls = model(name)
    wire = {**sample(SCHEMAS[name]), prop: bad}
    accepted = ACCEPTED.get(kind(schema), {})
    if "*" in accepted:
        obj = cls.from_dict(wire)
        assert getattr(obj, python_name(cls, prop)) is bad
        assert obj.to_dict()[prop] is bad
    elif repr(bad) in accepted:
        value = getattr(cls.from_dict(wire), python_name(cls, prop))
        read = value.additional_properties if attrs.has(type(value)) else value
        assert read == accepted[repr(bad)]
    else:
        with pytest.raises(REFUSED):
            cls.from_dict(wire)


# The template on shapes openapi.yaml does not have (yet): a cycle of models, lists of enums, date-times and
# dates, an integer enum, a union with a typed member (stock template), models as additional properties.
SHAPES = """
Node:
  type: object
  required: [id]
  properties:
    id: {type: string}
    edges: {type: array, items: {$ref: '#/components/schemas/Edge'}}
    parent: {$ref: '#/components/schemas/Node'}
Edge:
  type: object
  required: [to, kinds]
  properties:
    to: {$ref: '#/components/schemas/Node'}
    kinds: {type: array, items: {$ref: '#/components/schemas/Severity'}}
    seen: {type: array, items: {type: string, format: date-time}}
    days: {type: array, items: {type: string, format: date}}
    labels: {type: array, items: {type: string}}
    level: {type: integer, enum: [1, 2, 3]}
    weight:
      oneOf:
        - {type: number}
        - {type: string, format: date-time}
Catalog:
  type: object
  properties:
    name: {type: string}
  additionalProperties: {$ref: '#/components/schemas/Node'}
"""


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The models generated from openapi.yaml plus SHAPES, imported as the package ``shapes_client``."""
    root = tmp_path_factory.mktemp("shapes")
    spec = copy.deepcopy(SPEC)
    spec["components"]["schemas"].update(yaml.safe_load(SHAPES))
    (root / "openapi.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "codegen" / "generate.py"),
            "--spec",
            str(root / "openapi.yaml"),
            "--out",
            str(root / "shapes_client"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("shapes_client.models")
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == "shapes_client" or m.startswith("shapes_client.")]:
            del sys.modules[name]


NODE: dict[str, Any] = {
    "id": "a",
    "edges": [
        {
            "to": {"id": "b", "parent": {"id": "c"}},
            "kinds": ["LOW", "CRITICAL"],
            "seen": ["2026-03-04T05:06:07+00:00"],
            "days": ["2026-03-04"],
            "labels": ["x", "y"],
            "level": 2,
            "weight": "2026-03-04T05:06:07+00:00",
            "zExtra": [1],
        },
        {"to": {"id": "d"}, "kinds": [], "weight": 1.5},
    ],
    "parent": {"id": "p", "edges": []},
}


def test_a_cycle_of_models_imports_and_round_trips(shapes: Any) -> None:
    node = shapes.Node.from_dict(NODE)
    assert node.to_dict() == NODE
    first = node.edges[0]
    assert isinstance(first, shapes.Edge)
    assert isinstance(first.to.parent, shapes.Node)
    assert first.kinds == [shapes.Severity.LOW, shapes.Severity.CRITICAL]
    assert first.level is shapes.EdgeLevel.VALUE_2
    assert first.seen == [datetime.datetime(2026, 3, 4, 5, 6, 7, tzinfo=datetime.UTC)]
    assert first.days == [datetime.date(2026, 3, 4)]
    assert first.weight == first.seen[0]
    assert node.edges[1].weight == 1.5
    assert first.additional_properties == {"zExtra": [1]}
    assert typing.get_type_hints(shapes.Edge)["to"] == shapes.Node


def test_models_as_additional_properties_are_typed(shapes: Any) -> None:
    wire = {"b": {"id": "1"}, "name": "n", "a": {"id": "2", "zExtra": True}}
    catalog = shapes.Catalog.from_dict(wire)
    assert catalog.name == "n"
    assert list(catalog.additional_properties) == ["b", "a"]
    assert isinstance(catalog["a"], shapes.Node)
    assert catalog["a"].additional_properties == {"zExtra": True}
    assert catalog.to_dict() == {"b": {"id": "1"}, "a": {"id": "2", "zExtra": True}, "name": "n"}
    with pytest.raises(KeyError):
        shapes.Catalog.from_dict({"a": {}})


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"kinds": ["BOGUS"]}, ValueError),
        ({"kinds": [["LOW"]]}, ValueError),
        ({"kinds": 5}, TypeError),
        ({"level": 7}, ValueError),
        ({"level": "2"}, ValueError),
        ({"seen": ["yesterday"]}, ValueError),
        ({"seen": 5}, TypeError),
        ({"days": ["2026-13-01"]}, ValueError),
        ({"to": "b"}, TypeError),
        ({"to": {}}, KeyError),
    ],
    ids=repr,
)
def test_shapes_refuse_what_they_cannot_read(shapes: Any, change: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        shapes.Edge.from_dict({"to": {"id": "b"}, "kinds": [], **change})


def test_an_unknown_enum_value_raises_what_the_enum_raises(shapes: Any) -> None:
    with pytest.raises(ValueError, match="BOGUS") as ours:
        shapes.Edge.from_dict({"to": {"id": "b"}, "kinds": ["BOGUS"]})
    with pytest.raises(ValueError, match="BOGUS") as enums:
        shapes.Severity("BOGUS")
    assert str(ours.value) == str(enums.value)
    assert shapes.Edge.from_dict({"to": {"id": "b"}, "kinds": [], "level": True}).level is shapes.EdgeLevel(True)
