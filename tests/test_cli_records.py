"""The streaming record readers of ``finops push`` agree with ``json`` and ``csv`` read whole, at
every block boundary, and give each record the line it starts on (hypothesis)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops_cli import _records
from finops_cli._records import BadInput, Problem, Source, read_records

text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False), text
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=8
)
records = st.lists(st.dictionaries(text, values, max_size=4), max_size=12)


def read_all(data: bytes, fmt: str, schema: dict[str, Any] | None = None) -> list[tuple[int, Any] | Problem]:
    return list(read_records(Source(io.BytesIO(data)), fmt, schema or {}, cap=1 << 20))  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(items=records, indent=st.sampled_from([None, 0, 1, 2]), block=st.integers(1, 64))
def test_a_json_array_streams_as_json_reads_it(items: list[dict[str, Any]], indent: int | None, block: int) -> None:
    data = json.dumps(items, indent=indent, ensure_ascii=False).encode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_records, "_BLOCK", block)  # every record crosses block boundaries
        got = read_all(data, "json")
    assert [r[1] for r in got if not isinstance(r, Problem)] == items
    text_lines = data.decode().split("\n")  # the reader counts \n only, as editors do
    for (line, item), _ in zip(got, items, strict=True):  # type: ignore[misc]
        if item and indent is not None:
            assert text_lines[line - 1].strip().startswith("{"), (line, text_lines)


@settings(max_examples=100, deadline=None)
@given(items=records, cut=st.integers(1, 400))
def test_a_truncated_json_array_is_refused_never_half_read(items: list[dict[str, Any]], cut: int) -> None:
    data = json.dumps(items).encode()
    if cut >= len(data):
        return
    with pytest.raises(BadInput):
        read_all(data[:cut], "json")


@settings(max_examples=100, deadline=None)
@given(items=records)
def test_ndjson_gives_every_record_its_line(items: list[dict[str, Any]]) -> None:
    data = "".join(json.dumps(item, ensure_ascii=False) + "\n\n" for item in items).encode()
    got = read_all(data, "ndjson")
    assert got == [(2 * n + 1, item) for n, item in enumerate(items)]


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(text.filter(lambda s: s.strip() != "" and "\x00" not in s), st.integers(0, 10**6)), max_size=10
    )
)
def test_csv_reads_typed_cells(rows: list[tuple[str, int]]) -> None:
    schema = {"properties": {"name": {"type": "string"}, "count": {"type": "integer"}}, "required": ["name"]}
    out = io.StringIO()
    writer = csv.writer(out)  # \r\n: a cell holding \r or \n is quoted
    writer.writerow(["name", "count"])
    writer.writerows(rows)
    got = [r for r in read_all(out.getvalue().encode(), "csv", schema) if not isinstance(r, Problem)]
    assert [r[1] for r in got] == [{"name": name, "count": count} for name, count in rows]
