"""Items written as they come: a table on a terminal, JSON, NDJSON or CSV; never all held at once."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Final

from rich.table import Table

from ._app import stdout

__all__ = ["OUTPUTS", "write_items", "write_one"]

OUTPUTS: Final = ("table", "json", "ndjson", "csv")
#: Rows per table printed: a listing of any length goes out in tables of this many rows.
TABLE_ROWS: Final = 50


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping | list):
        return _dumps(value)
    return str(value)


def _table(rows: list[Mapping[str, Any]], columns: list[str], header: bool) -> Table:
    table = Table(show_header=header, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    return table


def write_items(items: Iterable[Mapping[str, Any]], columns: list[str], output: str) -> int:
    """Write ``items`` to stdout in ``output``, streaming; returns how many."""
    out = sys.stdout
    count = 0
    if output == "table":
        console, block = stdout(), []
        for item in items:
            block.append(item)
            count += 1
            if len(block) == TABLE_ROWS:
                console.print(_table(block, columns, header=count == TABLE_ROWS))
                block = []
        if block or count == 0:
            console.print(_table(block, columns, header=count <= TABLE_ROWS))
        console.print(f"{count:,} item(s)", style="dim", highlight=False)
        return count
    if output == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for item in items:
            writer.writerow([_cell(item.get(c)) for c in columns])
            count += 1
        return count
    if output == "json":
        out.write("[")
        for item in items:
            out.write(("," if count else "") + "\n" + _dumps(item))
            count += 1
        out.write("\n]\n" if count else "]\n")
        return count
    for item in items:
        out.write(_dumps(item) + "\n")
        count += 1
    return count


def write_one(data: Any, output: str) -> None:
    """One answer: a two-column table on a terminal, else JSON."""
    if output == "table" and isinstance(data, Mapping):
        table = Table(show_header=False, box=None)
        for key, value in data.items():
            table.add_row(str(key), _cell(value))
        stdout().print(table)
        return
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
