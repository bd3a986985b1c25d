"""Cursor pagination, written once: which page comes next, and when the walk ends."""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import Any

from ._errors import APIResponseValidationError
from ._operation import Operation, PageSpec

__all__: list[str] = []  # internal: the pagination procedure behind iter_*


def _spec(op: Operation) -> PageSpec:
    return op.page if op.page is not None else PageSpec()


def page_items(op: Operation, page: Any) -> Iterable[Any]:
    items: Iterable[Any] = getattr(page, _spec(op).items_attr)
    return items


def page_walk(op: Operation) -> Generator[str | None, Any, None]:
    """Yields the cursor of each page to fetch (``None`` first) and is sent each page
    fetched; ends after the last page. A repeated cursor is a server bug that would loop
    forever: a typed error."""
    spec = _spec(op)
    seen: set[str] = set()
    cursor: str | None = None
    while True:
        page = yield cursor
        cursor = getattr(page, spec.next_attr, None)
        if not isinstance(cursor, str) or not cursor:
            return
        if cursor in seen:
            raise APIResponseValidationError(
                f"pagination cursor repeated ({op.operation_id})", status_code=200, operation=op.operation_id
            )
        seen.add(cursor)
