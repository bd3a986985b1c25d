"""Records of a file or stdin (JSON array, NDJSON or CSV), streamed one at a time with their line.

Nothing here holds more than one record (at most ``cap`` bytes) in memory, however large the
input: a JSON array is decoded record by record, NDJSON and CSV line by line, and a line or
record longer than ``cap`` is refused as soon as the cap is passed (a 2 GiB line is not read).
A problem with the whole input (empty, truncated, not the format, a CSV header without a
required column) is :class:`BadInput`; a problem with one record is yielded as :class:`Problem`.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import json
from collections.abc import Iterator, Mapping
from typing import IO, Any, Final, Literal

import attrs

__all__ = ["DEFAULT_CAP", "FORMATS", "BadInput", "Problem", "Source", "read_records"]

Format = Literal["json", "ndjson", "csv"]
FORMATS: Final = ("auto", "json", "ndjson", "csv")
#: The largest record (or line) read, in bytes: a backend takes no more in one request anyway.
DEFAULT_CAP: Final = 1024 * 1024
_BLOCK: Final = 64 * 1024


class BadInput(Exception):  # noqa: N818 - a user-facing refusal, not a program error
    """The input as a whole is refused: ``line`` is where it went wrong (0: the whole of it)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


@attrs.frozen(slots=True)
class Problem:
    """One bad record: its line, the field (``""``: the record itself) and why."""

    line: int
    field: str
    message: str


class Source:
    """A binary stream read in lines and blocks, with the first bytes sniffable and every byte
    read optionally copied to ``spool`` (stdin is read once: the copy is read the second time)."""

    def __init__(self, stream: IO[bytes], spool: IO[bytes] | None = None) -> None:
        self._stream = stream
        self._spool = spool
        self._pushed = b""

    def _take(self, data: bytes) -> bytes:
        if self._spool is not None and data:
            self._spool.write(data)
        return data

    def peek(self) -> bytes:
        """The first non-blank bytes (up to a block), left in place."""
        while len(self._pushed) < _BLOCK:
            data = self._take(self._stream.read(_BLOCK))
            self._pushed += data
            if not data or self._pushed.strip():
                break
        return self._pushed.lstrip()[:16]

    def read(self, size: int) -> bytes:
        if self._pushed:
            data, self._pushed = self._pushed[:size], self._pushed[size:]
            return data
        return self._take(self._stream.read(size))

    def readline(self, limit: int) -> bytes:
        if self._pushed:
            cut = self._pushed.find(b"\n", 0, limit)
            end = limit if cut < 0 else cut + 1
            line, self._pushed = self._pushed[:end], self._pushed[end:]
            if line.endswith(b"\n") or len(line) >= limit:
                return line
            return line + self.readline(limit - len(line))
        return self._take(self._stream.readline(limit))


def sniff(source: Source, name: str) -> Format:
    """The format of ``name`` by its extension, else by its first byte."""
    lower = name.lower()
    for ext, fmt in ((".csv", "csv"), (".ndjson", "ndjson"), (".jsonl", "ndjson")):
        if lower.endswith(ext):
            return fmt  # type: ignore[return-value]
    head = source.peek()
    if head.startswith(b"["):
        return "json"
    if head.startswith(b"{"):
        return "ndjson"
    return "csv"


def _lines(source: Source, cap: int) -> Iterator[tuple[int, bytes]]:
    number = 0
    while True:
        line = source.readline(cap + 1)
        if not line:
            return
        number += 1
        if len(line) > cap:
            raise BadInput(number, f"a line longer than {cap:,} bytes: refused before reading the rest of it")
        yield number, line


def _text(number: int, line: bytes) -> str:
    try:
        return line.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(number, f"not UTF-8 text (byte {exc.start})") from None


def _ndjson(source: Source, cap: int) -> Iterator[tuple[int, Any] | Problem]:
    for number, line in _lines(source, cap):
        text = _text(number, line).strip()
        if not text:
            continue
        try:
            yield number, json.loads(text)
        except json.JSONDecodeError as exc:
            yield Problem(number, "", f"not valid JSON: {exc.msg} (column {exc.colno})")


def _json_array(source: Source, cap: int) -> Iterator[tuple[int, Any] | Problem]:
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()
    buf, pos, line, eof = "", 0, 1, False

    def fill() -> None:
        nonlocal buf, pos, eof
        data = source.read(_BLOCK)
        eof = not data
        try:
            text = utf8.decode(data, final=eof)
        except UnicodeDecodeError:
            raise BadInput(line, "not UTF-8 text") from None
        buf, pos = buf[pos:] + text, 0

    def skip_blank() -> str:
        nonlocal pos, line
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                line += buf[pos] == "\n"
                pos += 1
            if pos < len(buf) or eof:
                return buf[pos] if pos < len(buf) else ""
            fill()

    if skip_blank() != "[":
        raise BadInput(line, "not a JSON array: expected '['")
    pos += 1
    first = True
    while True:
        char = skip_blank()
        if char == "":
            raise BadInput(line, "the JSON array is not closed: the file is truncated")
        if char == "]":
            pos += 1
            if skip_blank():
                raise BadInput(line, "more data after the end of the JSON array")
            return
        if not first:
            if char != ",":
                raise BadInput(line, f"expected ',' or ']' between records, got {char!r}")
            pos += 1
            if skip_blank() == "":
                raise BadInput(line, "the JSON array is not closed: the file is truncated")
        first = False
        start_line = line
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                if eof:
                    what = "truncated" if exc.pos >= len(buf) else f"malformed: {exc.msg}"
                    raise BadInput(start_line, f"the record starting here is {what}") from None
                if len(buf) - pos > cap:
                    raise BadInput(start_line, f"a record longer than {cap:,} bytes: refused") from None
                fill()
                continue
            if end < len(buf) or eof:
                break
            fill()  # a number may go on in the next block
        line += buf.count("\n", pos, end)
        pos = end
        yield start_line, value


def _cell(value: str, schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "object" in kinds or "array" in kinds:
        return json.loads(value)
    if "integer" in kinds:
        return int(value)
    if "number" in kinds:
        number = float(value)
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    if "boolean" in kinds:
        word = value.strip().lower()
        if word not in ("true", "false"):
            raise ValueError("expected true or false")
        return word == "true"
    return value


def _csv(source: Source, cap: int, schema: Mapping[str, Any]) -> Iterator[tuple[int, Any] | Problem]:
    numbered = _lines(source, cap)
    current = [0]

    def texts() -> Iterator[str]:
        for number, line in numbered:
            current[0] = number
            yield _text(number, line)

    reader = csv.reader(texts(), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise BadInput(0, "the file is empty: no records") from None
    except csv.Error as exc:
        raise BadInput(1, f"not a CSV header: {exc}") from None
    props: Mapping[str, Any] = schema.get("properties", {})
    columns = [h.strip() for h in header]
    unknown = [c for c in columns if c not in props]
    missing = [r for r in schema.get("required", []) if r not in columns]
    if missing:
        near = [difflib.get_close_matches(m, unknown, n=1) for m in missing]
        hints = "".join(f" ({m!r} is spelled {n[0]!r} here?)" for m, n in zip(missing, near, strict=True) if n)
        raise BadInput(1, f"the CSV header lacks the required column(s) {', '.join(missing)}{hints}")
    if unknown:
        hints = "".join(
            f" (did you mean {n[0]!r} for {u!r}?)"
            for u in unknown
            if (n := difflib.get_close_matches(u, list(props), 1))
        )
        raise BadInput(1, f"unknown CSV column(s) {', '.join(map(repr, unknown))}{hints}; known: {', '.join(props)}")
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Problem(current[0], "", f"not a CSV row: {exc}")
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            yield Problem(current[0], "", f"{len(row)} cell(s) where the header has {len(columns)}")
            continue
        record: dict[str, Any] = {}
        for column, cell in zip(columns, row, strict=True):
            if cell == "":
                continue  # an empty cell: the field is left out
            try:
                record[column] = _cell(cell, props.get(column, {}))
            except ValueError as exc:
                reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                yield Problem(current[0], column, f"cannot be read from {cell[:40]!r}: {reason}")
                break
        else:
            yield current[0], record


def read_records(
    source: Source, fmt: Format, schema: Mapping[str, Any], cap: int = DEFAULT_CAP
) -> Iterator[tuple[int, Any] | Problem]:
    """Every record of ``source`` as ``(line, value)``, or a :class:`Problem` for a bad one;
    :class:`BadInput` for what makes the whole input unusable."""
    if fmt == "csv":
        return _csv(source, cap, schema)
    if fmt == "json":
        return _json_array(source, cap)
    return _ndjson(source, cap)
