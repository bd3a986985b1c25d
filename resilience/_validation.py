"""Contract checks on jsonschema-rs: one fast call for the verdict, a walk only to name a failure.

:func:`compile_schema` compiles an operation's schema once (JSON Schema 2020-12, formats
checked). Validating is one ``is_valid`` call, for a whole batch at once; only a refusal pays
for locating its first error (``iter_errors``) and wording it as the SDK always has: the
dotted field path, ``must be ...``, never more than 40 characters of the bad value. Numbers
must be finite (the library sees a NaN as ``null``: we say what it was), ``bool`` is not a
number. Fields a schema does not name are allowed, as the contract allows them; a key-set
difference against the named properties finds them, to warn of a likely typo.
"""

from __future__ import annotations

import difflib
import itertools
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import jsonschema_rs

from ._errors import RequestValidationError
from ._json import describe as _describe
from ._json import first_problem, first_unencodable
from ._json import join as _join
from ._redact import SECRET_KEY_PATTERN

__all__ = ["Invalid", "compile_schema"]


class Invalid(Exception):  # noqa: N818 - internal signal, turned into RequestValidationError
    """Raised by a compiled validator: ``path`` is the dotted location, ``message`` the reason."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '<root>'}: {message}")
        self.path = path
        self.message = message


Validator = Callable[[Any, str], None]
UnknownField = Callable[[str, str, Sequence[str]], None]

_TYPE_NAMES: Final = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
    "null": "null",
}
_logger = logging.getLogger("resilience.client")
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def _at(value: Any, steps: Sequence[str | int]) -> Any:
    """The Python value at a jsonschema-rs instance path (the library's copy of it has lost
    what JSON cannot say: a NaN became ``null``)."""
    for step in steps:
        value = value[step]
    return value


def _path(base: str, steps: Sequence[str | int]) -> str:
    for step in steps:
        base = _join(base, step)
    return base


def _wording(kind: Any, value: Any) -> str:
    """Today's message for one jsonschema-rs error kind about ``value``."""
    name, spec = kind.name, kind.value
    if name == "type":
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        types = [spec] if isinstance(spec, str) else list(spec)
        expected = " or ".join(_TYPE_NAMES.get(t, t) for t in types)
        return f"must be {expected}, got {type(value).__name__} {_describe(value)}"
    if name == "required":
        return "is required"
    if name == "enum":
        return f"must be one of {', '.join(repr(a) for a in spec)}, got {_describe(value)}"
    if name == "const":
        return f"must be {spec!r}, got {_describe(value)}"
    comparisons = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if name in comparisons:
        return f"must be {comparisons[name]} {spec}, got {value!r}"
    counted = {"minLength": ("at least", "characters long"), "maxLength": ("at most", "characters long")}
    counted |= {"minItems": ("at least", "items"), "maxItems": ("at most", "items")}
    if name in counted:
        bound, unit = counted[name]
        verb = "have" if unit == "items" else "be"
        return f"must {verb} {bound} {spec} {unit}, got {len(value)}"
    if name == "pattern":
        return f"must match pattern {spec!r}, got {_describe(value)}"
    if name == "format":
        what = f"an RFC 3339 {spec}" if spec in ("date", "date-time") else f"a valid {spec}"
        return f"must be {what}, got {_describe(value)}"
    return f"breaks the schema's {name!r} rule"


def _closed(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` wherever an object names its
    properties and says nothing of others (the strict mode of :func:`compile_schema`)."""
    if isinstance(schema, Mapping):
        out = {k: _closed(v) for k, v in schema.items()}
        if "properties" in schema:
            out["properties"] = {k: _closed(v) for k, v in schema["properties"].items()}
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


class _Unknown:
    """Where fields a schema does not name may sit: an object that names its properties and
    leaves others open, and the named properties below it that do the same."""

    __slots__ = ("children", "items", "known", "names")

    def __init__(self, known: frozenset[str] | None, children: dict[str, _Unknown], items: _Unknown | None) -> None:
        self.known, self.children, self.items = known, children, items
        self.names = tuple(known or ())

    @classmethod
    def of(cls, schema: Any) -> _Unknown | None:
        """The scan for ``schema``; ``None`` when no unknown field can hide in it."""
        if not isinstance(schema, Mapping):
            return None
        props = schema.get("properties") or {}
        open_ = props and schema.get("additionalProperties", True) is True
        children = {k: c for k, v in props.items() if (c := cls.of(v)) is not None}
        items = cls.of(schema.get("items"))
        if not open_ and not children and items is None:
            return None
        return cls(frozenset(props) if open_ else None, children, items)

    def none_in(self, items: Sequence[Any], stop: int) -> bool:
        """Whether none of ``items[:stop]`` holds an unknown field, in one C loop of key-set
        checks when only the items' own fields can be unknown (``False``: scan them)."""
        known = self.known
        if known is None or self.children or self.items is not None:
            return False
        try:
            return all(map(known.issuperset, itertools.islice(items, stop)))
        except TypeError:  # an item that is no dict (with keys that cannot be hashed)
            return False

    def scan(self, value: Any, path: str, tell: UnknownField | None) -> Invalid | None:
        """Tell of each unknown field; the first one JSON cannot carry is the answer."""
        if isinstance(value, dict):
            known = self.known
            if known is not None and not known.issuperset(value):
                extra = value.keys() - known
                for key in extra if len(extra) == 1 else [k for k in value if k in extra]:
                    item = value[key]
                    # A plain scalar is the encoder's to check (a lone surrogate, a NaN, a big
                    # int); anything else may be what orjson would give a form of its own (a UUID).
                    if type(key) is not str or not key.isascii() or type(item) not in _SCALARS:
                        problem = first_problem({key: item}, path)
                        if problem is not None:
                            return Invalid(*problem)
                    if tell is not None:
                        tell(path, key, self.names)
            for key, child in self.children.items():
                if key in value:
                    found = child.scan(value[key], _join(path, key), tell)
                    if found is not None:
                        return found
        elif isinstance(value, list | tuple) and self.items is not None:
            for i, item in enumerate(value):
                found = self.items.scan(item, _join(path, i), tell)
                if found is not None:
                    return found
        return None


class SchemaCheck:
    """One compiled schema: call it with ``(value, path)`` to check one value (raises
    :class:`Invalid`), or :meth:`first_bad` to check a whole list of items at once."""

    __slots__ = ("_each", "_tell", "_unknown", "_whole")

    def __init__(self, schema: Mapping[str, Any], *, forbid_unknown: bool, on_unknown: UnknownField | None) -> None:
        if forbid_unknown:
            schema = _closed(schema)
        self._each = jsonschema_rs.validator_for(dict(schema), validate_formats=True)
        self._whole = jsonschema_rs.validator_for({"type": "array", "items": schema}, validate_formats=True)
        # Without a listener there is nothing to tell: the encoder refuses what JSON cannot carry.
        self._unknown = _Unknown.of(schema) if on_unknown is not None else None
        self._tell = on_unknown

    def __call__(self, value: Any, path: str = "") -> None:
        error = self._error(value, path)
        if error is not None:
            raise error

    def first_bad(self, items: Sequence[Any], *, encoded_later: bool = False) -> tuple[int, Invalid] | None:
        """The first item that breaks the schema (or holds an unknown field JSON cannot
        carry), with why. Valid items cost one call for the whole list, and a key-set
        difference each for the unknown-field scan. ``encoded_later``: the caller encodes
        every item before anything is sent (:func:`~resilience._json.encode_slices`), so
        what cannot be encoded is looked for here only before a bad item."""
        bad: tuple[int, Invalid] | None = None
        if not self._valid(self._whole, items):
            each = self._each
            for i, item in enumerate(items):  # the first refused item, still one fast call each
                if not self._valid(each, item):
                    error = self._located(item, "")
                    if error is not None:
                        bad = (i, error)
                        break
        stop = len(items) if bad is None else bad[0]
        unknown = self._unknown
        if unknown is not None and not unknown.none_in(items, stop):
            for i in range(stop):
                found = unknown.scan(items[i], "", self._tell)
                if found is not None:
                    bad, stop = (i, found), i
                    break
        if encoded_later and bad is None:
            return None
        late = first_unencodable(items, stop)  # a lone surrogate, a NaN where null is allowed...
        if late is not None:
            index, exc = late
            return index, Invalid(exc.path, exc.message)
        return bad

    def _error(self, value: Any, path: str) -> Invalid | None:
        if not self._valid(self._each, value):
            located = self._located(value, path)
            if located is not None:
                return located
        return self._unknown.scan(value, path, self._tell) if self._unknown is not None else None

    @staticmethod
    def _valid(validator: Any, value: Any) -> bool:
        try:
            return bool(validator.is_valid(value))
        except (ValueError, TypeError, RecursionError):  # a key that is no str, a type JSON has not
            return False

    def _located(self, value: Any, path: str) -> Invalid | None:
        """Why ``value`` was refused: the first schema error, else what JSON cannot carry."""
        problem = first_problem(value, path)
        try:
            error = next(iter(self._each.iter_errors(value)), None)
        except (ValueError, TypeError, RecursionError):
            error = None
        if error is None:
            return Invalid(*problem) if problem is not None else None
        steps = list(error.instance_path)
        kind = error.kind
        if kind.name == "required":
            return Invalid(_path(path, [*steps, kind.value]), "is required")
        if kind.name == "additionalProperties":
            return Invalid(_path(path, [*steps, next(iter(kind.value))]), "is not a known field")
        where = _path(path, steps)
        inside = (where + ".", where + "[")
        if problem is not None and (not where or problem[0] == where or problem[0].startswith(inside)):
            return Invalid(*problem)  # a NaN, a lone surrogate: JSON's limit is the clearer reason
        try:
            return Invalid(where, _wording(kind, _at(value, steps)))
        except (LookupError, TypeError):  # not where the library says: its own words
            return Invalid(where, str(error.message))


def compile_schema(
    schema: Mapping[str, Any] | None, *, forbid_unknown: bool = False, on_unknown: UnknownField | None = None
) -> Validator:
    """Compile ``schema`` into a function ``(value, path) -> None`` raising :class:`Invalid`
    (a :class:`SchemaCheck`, whose ``first_bad`` checks a list of items in one call).

    ``forbid_unknown`` rejects keys an object schema does not name when it says nothing of
    ``additionalProperties`` (stricter than the contract). Without it such keys pass, as the
    contract allows; ``on_unknown(path, key, known_names)`` hears of each (a typo warning).
    """
    if not schema:
        return lambda value, path: None
    return SchemaCheck(schema, forbid_unknown=forbid_unknown, on_unknown=on_unknown)


def refusal(exc: Invalid, index: int | None) -> RequestValidationError:
    """The typed error of a refused value; the message never quotes a secret-named field's value."""
    message = exc.message
    if exc.path and SECRET_KEY_PATTERN.search(exc.path):  # the validator quotes the bad value
        message = "has an invalid value (not shown: the field name marks it as secret)"
    return RequestValidationError(message, index=index, field=exc.path or None)


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
