"""The request schemas of ``openapi.yaml`` and a small validator for them.

The schemas are copied from ``components.schemas`` of the contract (descriptions left out) so
that the backend needs neither the file nor PyYAML at run time;
``tests/test_reference_backend.py`` checks that this copy still equals the contract.

The validator covers the JSON Schema subset the contract uses: ``type`` (a name or a list),
``enum``, ``required``, ``properties``, ``additionalProperties``, ``items``, ``minItems``,
``maxItems``, ``minLength``, ``maxLength``, ``pattern``, ``minimum``, ``maximum``,
``exclusiveMinimum``, ``exclusiveMaximum``, ``format`` (``date-time``, ``date``) and local
``$ref``. Every number anywhere in an item must be finite (JSON has no NaN or Infinity).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final

__all__ = [
    "BATCH_MAX_ITEMS",
    "BATCH_MIN_ITEMS",
    "IDEMPOTENCY_KEY_MAX_LENGTH",
    "LIMIT_DEFAULT",
    "LIMIT_MAX",
    "LIMIT_MIN",
    "SCHEMAS",
    "SUPPORTED_KEYWORDS",
    "first_error",
]

BATCH_MIN_ITEMS: Final = 1
BATCH_MAX_ITEMS: Final = 500
LIMIT_MIN: Final = 1
LIMIT_MAX: Final = 1000
LIMIT_DEFAULT: Final = 100
IDEMPOTENCY_KEY_MAX_LENGTH: Final = 255

_REF: Final = "#/components/schemas/"

SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "RiskLevel": {"type": "string", "enum": ["LOW", "MEDIUM", "HIGH", "CRITICAL"]},
    "OptimizationStatus": {"type": "string", "enum": ["PENDING", "APPROVED", "REJECTED"]},
    "OptimizationType": {
        "type": "string",
        "enum": ["RIGHTSIZE", "TERMINATE", "RESERVED_INSTANCE", "SAVINGS_PLAN", "STORAGE_TIER", "SCHEDULE"],
    },
    "Severity": {"type": "string", "enum": ["LOW", "MEDIUM", "HIGH", "CRITICAL"]},
    "ApprovalStatus": {"type": "string", "enum": ["APPROVED", "REJECTED"]},
    "ResourceInventory": {
        "type": "object",
        "required": ["resourceId", "resourceType", "region"],
        "properties": {
            "resourceId": {"type": "string", "minLength": 1, "maxLength": 256},
            "resourceType": {"type": "string", "minLength": 1, "maxLength": 64},
            "region": {"type": "string", "minLength": 1, "maxLength": 64},
            "accountId": {"type": "string", "maxLength": 64},
            "currentCost": {"type": "number", "minimum": 0},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "default": "USD"},
            "utilizationMetrics": {"type": "object", "additionalProperties": {"type": "number"}},
            "tags": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 256}},
            "timestamp": {"type": "string", "format": "date-time"},
        },
    },
    "CostOptimization": {
        "type": "object",
        "required": ["optimizationId", "resourceId", "optimizationType", "estimatedSavings"],
        "properties": {
            "optimizationId": {"type": "string", "minLength": 1, "maxLength": 128},
            "resourceId": {"type": "string", "minLength": 1, "maxLength": 256},
            "optimizationType": {"$ref": _REF + "OptimizationType"},
            "estimatedSavings": {"type": "number", "minimum": 0},
            "riskLevel": {"$ref": _REF + "RiskLevel"},
            "confidenceScore": {"type": "number", "minimum": 0, "maximum": 1},
            "status": {"$ref": _REF + "OptimizationStatus"},
            "accountId": {"type": "string"},
            "timestamp": {"type": "string", "format": "date-time"},
        },
    },
    "CostAnomaly": {
        "type": "object",
        "required": ["anomalyId", "anomalyType", "severity", "actualCost", "expectedCost"],
        "properties": {
            "anomalyId": {"type": "string", "minLength": 1, "maxLength": 128},
            "anomalyType": {"type": "string", "minLength": 1, "maxLength": 64},
            "severity": {"$ref": _REF + "Severity"},
            "actualCost": {"type": "number"},
            "expectedCost": {"type": "number"},
            "region": {"type": "string"},
            "rootCause": {"type": "string", "maxLength": 2000},
            "accountId": {"type": "string"},
            "detectedAt": {"type": "string", "format": "date-time"},
        },
    },
    "BudgetForecast": {
        "type": "object",
        "required": ["budgetId", "budgetType", "budgetAmount", "forecastAmount"],
        "properties": {
            "budgetId": {"type": "string", "minLength": 1, "maxLength": 128},
            "budgetType": {"type": "string", "minLength": 1, "maxLength": 64},
            "budgetAmount": {"type": "number", "minimum": 0},
            "forecastAmount": {"type": "number", "minimum": 0},
            "periodStart": {"type": "string", "format": "date"},
            "periodEnd": {"type": "string", "format": "date"},
            "parentBudgetId": {"type": "string"},
            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
            "accountId": {"type": "string"},
        },
    },
    "ApprovalRequest": {
        "type": "object",
        "required": ["approved"],
        "properties": {
            "approved": {"type": "boolean", "default": True},
            "comment": {"type": "string", "maxLength": 1000},
        },
    },
}

SUPPORTED_KEYWORDS: Final = frozenset(
    {
        "type",
        "enum",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "format",
        "$ref",
        # annotations, not checked
        "default",
        "description",
        "title",
        "example",
        "examples",
    }
)

_DATE_TIME: Final = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PATTERNS: dict[str, re.Pattern[str]] = {}


def first_error(instance: object, schema: Mapping[str, Any], path: str = "") -> str | None:
    """The first way ``instance`` breaks ``schema``, as ``"field.path: reason"``; ``None`` if valid."""
    ref = schema.get("$ref")
    if ref is not None:
        return first_error(instance, _resolve(ref), path)
    where = f"{path}: " if path else ""
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is_type(instance, name) for name in names):
            return f"{where}expected {' or '.join(names)}, got {_json_type(instance)}"
    elif isinstance(instance, float) and not math.isfinite(instance):
        return f"{where}number is not finite"
    enum = schema.get("enum")
    if enum is not None and not any(_json_equal(instance, choice) for choice in enum):
        return f"{where}must be one of {', '.join(map(str, enum))}"
    if isinstance(instance, str):
        return _string_error(instance, schema, where)
    if isinstance(instance, int | float) and not isinstance(instance, bool):
        return _number_error(instance, schema, where)
    if isinstance(instance, list):
        return _array_error(instance, schema, path, where)
    if isinstance(instance, dict):
        return _object_error(instance, schema, path, where)
    return None


def _resolve(ref: str) -> Mapping[str, Any]:
    if not ref.startswith(_REF) or ref[len(_REF) :] not in SCHEMAS:
        raise KeyError(f"unsupported $ref {ref!r}")
    return SCHEMAS[ref[len(_REF) :]]


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number" if math.isfinite(value) else "non-finite number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_type(value: object, name: str) -> bool:
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if name == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return _json_type(value) == name


def _json_equal(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _string_error(value: str, schema: Mapping[str, Any], where: str) -> str | None:
    min_length = schema.get("minLength")
    if min_length is not None and len(value) < min_length:
        return f"{where}must not be empty" if min_length == 1 else f"{where}shorter than {min_length}"
    max_length = schema.get("maxLength")
    if max_length is not None and len(value) > max_length:
        return f"{where}longer than {max_length} characters"
    pattern = schema.get("pattern")
    if pattern is not None:
        compiled = _PATTERNS.get(pattern)
        if compiled is None:
            compiled = _PATTERNS.setdefault(pattern, re.compile(pattern))
        if compiled.search(value) is None:
            return f"{where}does not match {pattern}"
    fmt = schema.get("format")
    if fmt == "date-time" and not _is_date_time(value):
        return f"{where}not an RFC 3339 date-time"
    if fmt == "date" and not _is_date(value):
        return f"{where}not an RFC 3339 full-date (YYYY-MM-DD)"
    return None


def _is_date_time(value: str) -> bool:
    if _DATE_TIME.match(value) is None:
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_date(value: str) -> bool:
    if _DATE.match(value) is None:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _number_error(value: float, schema: Mapping[str, Any], where: str) -> str | None:
    minimum = schema.get("minimum")
    if minimum is not None and value < minimum:
        return f"{where}must be >= {minimum}"
    maximum = schema.get("maximum")
    if maximum is not None and value > maximum:
        return f"{where}must be <= {maximum}"
    exclusive_minimum = schema.get("exclusiveMinimum")
    if exclusive_minimum is not None and value <= exclusive_minimum:
        return f"{where}must be > {exclusive_minimum}"
    exclusive_maximum = schema.get("exclusiveMaximum")
    if exclusive_maximum is not None and value >= exclusive_maximum:
        return f"{where}must be < {exclusive_maximum}"
    return None


def _array_error(value: list[Any], schema: Mapping[str, Any], path: str, where: str) -> str | None:
    min_items = schema.get("minItems")
    if min_items is not None and len(value) < min_items:
        return f"{where}fewer than {min_items} items"
    max_items = schema.get("maxItems")
    if max_items is not None and len(value) > max_items:
        return f"{where}more than {max_items} items"
    items = schema.get("items")
    for index, element in enumerate(value):
        sub_path = f"{path}[{index}]"
        error = first_error(element, items, sub_path) if items is not None else _non_finite(element, sub_path)
        if error is not None:
            return error
    return None


def _object_error(value: dict[str, Any], schema: Mapping[str, Any], path: str, where: str) -> str | None:
    for name in schema.get("required", ()):
        if name not in value:
            return f"{_join(path, name)}: required property missing"
    properties: Mapping[str, Any] = schema.get("properties", {})
    additional = schema.get("additionalProperties", True)
    for name, element in value.items():
        sub_path = _join(path, name)
        if name in properties:
            error = first_error(element, properties[name], sub_path)
        elif additional is False:
            error = f"{sub_path}: unknown property"
        elif isinstance(additional, Mapping):
            error = first_error(element, additional, sub_path)
        else:
            error = _non_finite(element, sub_path)
        if error is not None:
            return error
    return None


def _non_finite(value: object, path: str) -> str | None:
    """Values no schema constrains must still be representable in JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path}: number is not finite"
    if isinstance(value, list):
        for index, element in enumerate(value):
            error = _non_finite(element, f"{path}[{index}]")
            if error is not None:
                return error
    if isinstance(value, dict):
        for name, element in value.items():
            error = _non_finite(element, _join(path, name))
            if error is not None:
                return error
    return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
