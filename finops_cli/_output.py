"""Items written as they come: a table on a terminal, JSON, NDJSON or CSV; never all held at once."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Final

from rich import box
from rich.table import Table
from rich.text import Text

from ._app import stdout

__all__ = ["OUTPUTS", "write_items", "write_one"]

OUTPUTS: Final = ("table", "json", "ndjson", "csv")
#: Rows per table printed: a listing of any length goes out in tables of this many rows.
TABLE_ROWS: Final = 50
#: The widest a table column gets (longer values wrap).
MAX_WIDTH: Final = 40
#: The narrowest a column is squeezed to on a narrow terminal.
MIN_WIDTH: Final = 6


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping | list):
        return _dumps(value)
    return str(value)


def _widths(rows: list[Mapping[str, Any]], columns: list[str], room: int) -> list[int]:
    """Column widths from the first block of rows, kept for every later block (aligned): each
    column as wide as its widest value, then the widest narrowed first until they fit ``room``."""
    widths = [min(MAX_WIDTH, max([len(c)] + [len(_cell(r.get(c))) for r in rows])) for c in columns]
    room -= 2 * max(len(columns) - 1, 0)  # the padding between columns
    while sum(widths) > room and max(widths, default=0) > MIN_WIDTH:
        widths[widths.index(max(widths))] -= 1
    return widths


def _table(rows: list[Mapping[str, Any]], columns: list[str], header: bool, widths: list[int]) -> Table:
    table = Table(show_header=header, header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column, width in zip(columns, widths, strict=True):
        table.add_column(column, overflow="fold", width=width)
    for row in rows:
        table.add_row(*(Text(_cell(row.get(c))) for c in columns))  # a value is never markup
    return table


def write_items(items: Iterable[Mapping[str, Any]], columns: list[str], output: str) -> int:
    """Write ``items`` to stdout in ``output``, streaming; returns how many."""
    out = sys.stdout
    count = 0
    if output == "table":
        console, block = stdout(), []
        widths: list[int] | None = None
        for item in items:
            block.append(item)
            count += 1
            if len(block) == TABLE_ROWS:
                widths = widths or _widths(block, columns, console.width)
                console.print(_table(block, columns, count == TABLE_ROWS, widths))
                block = []
        if block or count == 0:
            console.print(_table(block, columns, count <= TABLE_ROWS, widths or _widths(block, columns, console.width)))
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
            table.add_row(Text(str(key)), Text(_cell(value)))
        stdout().print(table)
        return
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
