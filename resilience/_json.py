"""JSON bodies on orjson, with the guarantees stdlib ``json`` gave us, and stricter ones.

:func:`dumps` refuses what JSON cannot carry instead of coercing it: NaN and infinities
(orjson writes them as ``null``), lone surrogates, keys that are not strings, integers past
64 bits, and objects with no JSON form (``datetime``, ``UUID``, dataclasses, ``Decimal``...:
the contract's date-times are strings, so a ``datetime`` is refused, as ``json.dumps`` did).
The refusal is an :class:`Unencodable` naming where the bad value sits. :func:`loads` takes
UTF-8 (with or without a BOM; another encoding ``json`` would have detected is decoded
first) and refuses ``NaN`` literals and nesting deeper than orjson's 1,024 levels.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from typing import Any, Final

import orjson

__all__: list[str] = []  # internal: the SDK's JSON encoder and decoder

#: Never let orjson give its own form to a datetime, a dataclass, or a subclass of a str,
#: int, dict or list: each goes to :func:`_default`, which refuses all but str and int ones.
_OPTIONS: Final = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
#: orjson's own nesting limit for encoding: deeper is refused.
MAX_DEPTH: Final = 254
_BOM: Final = b"\xef\xbb\xbf"


class Unencodable(ValueError):  # noqa: N818 - internal signal, turned into RequestValidationError
    """A value JSON cannot carry: ``path`` is its dotted location, ``message`` the reason."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '<root>'}: {message}")
        self.path = path
        self.message = message


def _default(value: Any) -> Any:
    """What a str or int subclass (a str-valued ``Enum``...) is sent as: its plain value,
    as ``json.dumps`` sent it. Anything else orjson hands here has no JSON form."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    raise TypeError(type(value).__name__)


def dumps(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON, or :class:`Unencodable` naming the first bad place.

    The fast path is one orjson call and a scan of its output for ``null``: only a body
    with a ``null`` in it (where a NaN may have been written) is checked again for
    non-finite numbers, and walked in Python only if it has one.
    """
    try:
        body = orjson.dumps(value, default=_default, option=_OPTIONS)
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise unencodable(value, str(exc)) from None
    if b"null" in body and not _finite(value):
        problem = first_problem(value)
        if problem is not None:
            raise Unencodable(*problem)
    return body


def _nothing(value: Any) -> None:
    return None


def _finite(value: Any) -> bool:
    """Whether ``value`` holds no NaN nor infinity: the stdlib's C encoder, which refuses
    them, asked only that (what orjson took is not asked again), far faster than a walk."""
    try:
        json.dumps(value, allow_nan=False, check_circular=False, default=_nothing)
    except (ValueError, TypeError, RecursionError):
        return False
    return True


def first_unencodable(items: Sequence[Any], stop: int, size: int = 500) -> tuple[int, Unencodable] | None:
    """The first of ``items[:stop]`` that :func:`dumps` refuses, with why: encoded ``size``
    at a time (the bodies are dropped: this checks before anything is sent)."""
    bounds = [(start, min(start + size, stop)) for start in range(0, stop, size)]
    return encode_slices(items, bounds, keep=False)[1]


def encode_slices(
    items: Sequence[Any], bounds: Sequence[tuple[int, int]], *, keep: bool = True
) -> tuple[list[bytes], tuple[int, Unencodable] | None]:
    """The body of each ``items[start:stop]`` in ``bounds`` (in order; dropped unless ``keep``),
    and the first item :func:`dumps` refuses, with why (then the bodies stop there)."""
    bodies: list[bytes] = []
    for start, stop in bounds:
        chunk = items[start:stop]
        try:
            body = dumps(chunk)
        except Unencodable as whole:
            for i, item in enumerate(chunk, start):
                try:
                    dumps(item)
                except Unencodable as exc:
                    return bodies, (i, exc)
            return bodies, _in_list(start, whole)  # each item alone passes: the list is one level too deep
        if keep:
            bodies.append(body)
    return bodies, None


def _in_list(start: int, whole: Unencodable) -> tuple[int, Unencodable]:
    """The item of a refused list (``[k]...`` in ``whole``'s path, the list starting at item
    ``start``) that JSON cannot carry only as a member of the list, and why."""
    match = re.match(r"\[(\d+)\]\.?", whole.path)
    if match is None:
        return start, whole
    rest = whole.path[match.end() :]
    return start + int(match.group(1)), Unencodable(rest, f"{whole.message} in the list of items it is sent in")


def unencodable(value: Any, reason: str = "") -> Unencodable:
    """Where ``value`` cannot be encoded (orjson's ``reason`` when the walk finds nothing)."""
    problem = first_problem(value)
    if problem is None:
        return Unencodable("", f"cannot be encoded as JSON: {reason or 'unknown reason'}")
    return Unencodable(*problem)


def join(path: str, key: str | int) -> str:
    """``path`` one step further: ``a.b``, ``a[3]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def describe(value: Any) -> str:
    """A value as an error message quotes it: its ``repr``, cut at 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_text(value: str) -> bool:
    """Encodable as UTF-8: no lone surrogates (which JSON bodies cannot carry)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _children(value: Any, path: str) -> Iterator[tuple[Any, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield item, join(path, key)
    else:
        for i, item in enumerate(value):
            yield item, join(path, i)


def first_problem(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first place in ``value`` (depth first, in order) JSON cannot carry, and why;
    ``None`` when it can all be sent. Iterative: any depth is a finding, not a RecursionError."""
    stack: list[Iterator[tuple[Any, str]]] = [iter(((value, path),))]
    containers: list[str] = []  # the path of each container the walk is in
    while stack:
        step = next(stack[-1], None)
        if step is None:
            stack.pop()
            if containers:
                containers.pop()
            continue
        item, where = step
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, str):
            if not _is_text(item):
                return where, "must be valid Unicode text, got a string with a lone surrogate"
        elif isinstance(item, int):
            if not -(2**63) <= item < 2**64:
                return where, "is an integer too large for JSON interchange (more than 64 bits)"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return where, f"must be a finite number, got {item!r}"
        elif isinstance(item, dict | list | tuple):
            if len(stack) > MAX_DEPTH:  # named by its outermost container, not a path of 254 steps
                return containers[min(1, len(containers) - 1)], f"is nested more than {MAX_DEPTH} levels deep"
            if isinstance(item, dict):
                for key in item:
                    if not isinstance(key, str) or not _is_text(key):
                        return where, f"keys must be strings of valid Unicode, got {describe(key)}"
            stack.append(_children(item, where))
            containers.append(where)
        else:
            return where, f"has no JSON form: got {type(item).__name__} {describe(item)}"
    return None


def loads(content: bytes | str) -> Any:
    """The value of a JSON document: ``ValueError`` for one that is not valid JSON (a
    ``NaN`` literal included) or is nested more than 1,024 levels deep."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        if not isinstance(content, bytes):
            raise
        if content.startswith(_BOM):
            return orjson.loads(content[3:])
        encoding = json.detect_encoding(content)
        if encoding == "utf-8":
            raise
        return orjson.loads(content.decode(encoding, "surrogatepass"))


def is_too_deep(exc: ValueError) -> bool:
    """Whether a :func:`loads` refusal was for nesting, not syntax."""
    return "recursion" in str(exc).lower() or "depth" in str(exc).lower()
