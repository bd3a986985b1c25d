"""A small compiled validator for the JSON-Schema subset OpenAPI contracts use.

Compiled once per schema into nested closures, so validating a batch of dicts costs a few
microseconds an item. Knows: type (incl. lists with "null"), enum, const, required,
properties, additionalProperties, items, min/maxItems, min/maxLength, pattern, minimum,
maximum, exclusiveMinimum/Maximum, format date / date-time. Numbers must be finite: NaN and
infinities are rejected, never coerced. ``bool`` is not a number or an integer.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["Invalid", "compile_schema"]


class Invalid(Exception):  # noqa: N818 - internal signal, turned into RequestValidationError
    """Raised by a compiled validator: ``path`` is the dotted location, ``message`` the reason."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '<root>'}: {message}")
        self.path = path
        self.message = message


Validator = Callable[[Any, str], None]

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
    "null": "null",
}


def _is_type(value: Any, name: str) -> bool:
    if name == "string":
        return isinstance(value, str) and _is_text(value)
    if name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return True
        return isinstance(value, float) and value.is_integer()
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "object":
        return isinstance(value, Mapping)
    if name == "array":
        return isinstance(value, list | tuple)
    if name == "null":
        return value is None
    return True


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# RFC 3339 section 5.6, strictly: fromisoformat alone also takes ISO 8601 forms such as
# "20250115T080000Z", "2025-01-15T08:00Z" or week dates, which servers reject.
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _check_date_time(value: str) -> bool:
    if not _DATE_TIME.fullmatch(value):
        return False
    text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    try:
        _dt.datetime.fromisoformat(text.replace("t", "T"))
    except ValueError:
        return False
    return True


def _check_date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        _dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_text(value: str) -> bool:
    """Encodable as UTF-8: no lone surrogates (which JSON bodies cannot carry)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_logger = logging.getLogger("resilience.client")

UnknownField = Callable[[str, str, Sequence[str]], None]


def compile_schema(
    schema: Mapping[str, Any] | None, *, forbid_unknown: bool = False, on_unknown: UnknownField | None = None
) -> Validator:
    """Compile ``schema`` into a function ``(value, path) -> None`` raising :class:`Invalid`.

    ``forbid_unknown`` rejects keys an object schema does not name when it says nothing of
    ``additionalProperties`` (stricter than the contract). Without it such keys pass, as the
    contract allows; ``on_unknown(path, key, known_names)`` hears of each (a typo warning).
    """
    if not schema:
        return lambda value, path: None
    checks: list[Validator] = []

    types = schema.get("type")
    if isinstance(types, str):
        types = [types]
    if types:
        type_list = tuple(types)
        expected = " or ".join(_TYPE_NAMES.get(t, t) for t in type_list)

        def check_type(value: Any, path: str) -> None:
            for t in type_list:
                if _is_type(value, t):
                    return
            if isinstance(value, str) and "string" in type_list:
                raise Invalid(path, "must be valid Unicode text, got a string with a lone surrogate")
            raise Invalid(path, f"must be {expected}, got {type(value).__name__} {_describe(value)}")

        checks.append(check_type)
        if "number" in type_list or "integer" in type_list:

            def check_finite(value: Any, path: str) -> None:
                if isinstance(value, float) and not math.isfinite(value):
                    raise Invalid(path, f"must be a finite number, got {value!r}")

            checks.append(check_finite)

    if "enum" in schema:
        allowed = list(schema["enum"])
        shown = ", ".join(repr(a) for a in allowed)

        def check_enum(value: Any, path: str) -> None:
            if value not in allowed or isinstance(value, bool) != any(isinstance(a, bool) for a in allowed):
                if value is None and "null" in (types or ()):
                    return
                raise Invalid(path, f"must be one of {shown}, got {_describe(value)}")

        checks.append(check_enum)

    if "const" in schema:
        const = schema["const"]

        def check_const(value: Any, path: str) -> None:
            if value != const:
                raise Invalid(path, f"must be {const!r}, got {_describe(value)}")

        checks.append(check_const)

    lo, hi = schema.get("minimum"), schema.get("maximum")
    xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if any(b is not None for b in (lo, hi, xlo, xhi)):

        def check_bounds(value: Any, path: str) -> None:
            if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
                return
            if lo is not None and value < lo:
                raise Invalid(path, f"must be >= {lo}, got {value!r}")
            if hi is not None and value > hi:
                raise Invalid(path, f"must be <= {hi}, got {value!r}")
            if xlo is not None and value <= xlo:
                raise Invalid(path, f"must be > {xlo}, got {value!r}")
            if xhi is not None and value >= xhi:
                raise Invalid(path, f"must be < {xhi}, got {value!r}")

        checks.append(check_bounds)

    min_len, max_len, pattern = schema.get("minLength"), schema.get("maxLength"), schema.get("pattern")
    fmt = schema.get("format")
    if min_len is not None or max_len is not None or pattern or fmt in ("date", "date-time"):
        rx = re.compile(pattern) if pattern else None
        fmt_check = {"date": _check_date, "date-time": _check_date_time}.get(fmt or "")

        def check_string(value: Any, path: str) -> None:
            if not isinstance(value, str):
                return
            n = len(value)
            if min_len is not None and n < min_len:
                raise Invalid(path, f"must be at least {min_len} characters long, got {n}")
            if max_len is not None and n > max_len:
                raise Invalid(path, f"must be at most {max_len} characters long, got {n}")
            if rx is not None and not rx.search(value):
                raise Invalid(path, f"must match pattern {pattern!r}, got {_describe(value)}")
            if fmt_check is not None and not fmt_check(value):
                raise Invalid(path, f"must be an RFC 3339 {fmt}, got {_describe(value)}")

        checks.append(check_string)

    props: dict[str, Validator] = {
        k: compile_schema(v, forbid_unknown=forbid_unknown, on_unknown=on_unknown)
        for k, v in (schema.get("properties") or {}).items()
    }
    names = tuple(props)
    tell = on_unknown if props else None
    required = tuple(schema.get("required") or ())
    additional = schema.get("additionalProperties", not (forbid_unknown and props))
    if props or required or additional is not True:
        extra: Validator | None = (
            compile_schema(additional, forbid_unknown=forbid_unknown, on_unknown=on_unknown)
            if isinstance(additional, Mapping)
            else None
        )
        forbid = additional is False

        def check_object(value: Any, path: str) -> None:
            if not isinstance(value, Mapping):
                return
            for name in required:
                if name not in value:
                    raise Invalid(_join(path, name), "is required")
            for key, item in value.items():
                sub = props.get(key)
                if sub is not None:
                    sub(item, _join(path, key))
                elif forbid:
                    raise Invalid(_join(path, str(key)), "is not a known field")
                else:
                    if not isinstance(key, str) or not _is_text(key):
                        raise Invalid(path, f"keys must be strings of valid Unicode, got {_describe(key)}")
                    if extra is not None:
                        extra(item, _join(path, key))
                    if tell is not None:
                        tell(path, key, names)

        checks.append(check_object)

    items = schema.get("items")
    min_items, max_items = schema.get("minItems"), schema.get("maxItems")
    if items is not None or min_items is not None or max_items is not None:
        item_check = (
            compile_schema(items, forbid_unknown=forbid_unknown, on_unknown=on_unknown)
            if isinstance(items, Mapping)
            else None
        )

        def check_array(value: Any, path: str) -> None:
            if not isinstance(value, list | tuple):
                return
            n = len(value)
            if min_items is not None and n < min_items:
                raise Invalid(path, f"must have at least {min_items} items, got {n}")
            if max_items is not None and n > max_items:
                raise Invalid(path, f"must have at most {max_items} items, got {n}")
            if item_check is not None:
                for i, item in enumerate(value):
                    item_check(item, _join(path, i))

        checks.append(check_array)

    if len(checks) == 1:
        return checks[0]
    frozen = tuple(checks)

    def check_all(value: Any, path: str) -> None:
        for check in frozen:
            check(value, path)

    return check_all


def warn_unknown_field(operation: str, told: set[str], path: str, key: str, known: Sequence[str]) -> None:
    """A field the contract does not name is sent as the contract allows; one close to a
    named field is most likely a typo: a WARNING, once per operation and field."""
    if key in told:
        return
    told.add(key)
    near = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    near = near or [k for k in known if k.lower() == key.lower()]
    where = f"{path}.{key}" if path else key
    if near:
        _logger.warning("%s: field %r is not in the contract, did you mean %r? (sent as is)", operation, where, near[0])
    else:
        _logger.debug("%s: field %r is not in the contract (sent as is)", operation, where)
