"""The typed description of one API operation, as codegen writes it from the spec.

Generated code builds one :class:`Operation` per operation and hands it to the client with
every call; the resilience layers read what they need from it (route template for metrics,
idempotency header for retries, schemas for validation, batch and page specs for the
procedures) and from nothing else. A request carries its operation in ``request.extensions``
under :data:`EXT_OPERATION`; :func:`operation_of` reads it back, typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs
import httpx

__all__ = ["EXT_OPERATION", "BatchSpec", "Operation", "PageSpec", "operation_of"]

#: The one ``request.extensions`` key the SDK reads: the request's :class:`Operation`.
EXT_OPERATION: Final = "resilience.operation"

_WRITE_METHODS: Final = frozenset({"POST", "PATCH"})


@attrs.frozen(slots=True)
class BatchSpec:
    """A POST whose body is a list: chunked by ``max_items``; the answer maps rejections back.

    ``*_field`` name the answer's fields (the spec's ``x-batch`` renames them).
    """

    max_items: int | None
    min_items: int = 1
    accepted_field: str = "accepted"
    rejected_field: str = "rejected"
    index_field: str = "index"
    reason_field: str = "reason"
    id_field: str = "id"


@attrs.frozen(slots=True)
class PageSpec:
    """A cursor-paginated GET: the generated page model's attributes holding the items and
    the next page's cursor (the spec's ``data`` and ``nextCursor``, renamed by ``x-pagination``)."""

    items_attr: str = "data"
    next_attr: str = "next_cursor"


@attrs.frozen(slots=True)
class Operation:
    """One operation of the contract.

    ``route`` is the spec's own path template (``/api/things/{thingId}``), the key of metrics
    and logs. ``idempotency_header`` is the header the operation accepts a key in (``None``:
    a POST or PATCH of this operation is never retried). ``body`` and ``item_schema`` are
    JSON Schemas with $refs inlined (``item_schema`` for a batch body's items);
    ``params`` maps each path and query parameter (wire name) to its schema.
    ``success_statuses`` are the documented 2xx; ``success_has_body`` is false for an answer
    like 204 that has none, and then ``response`` is ``None``.
    """

    operation_id: str
    method: str
    route: str
    idempotency_header: str | None = None
    params: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    body: Any = attrs.field(default=None, repr=False)
    item_schema: Any = attrs.field(default=None, repr=False)
    response: Any = attrs.field(default=None, repr=False)
    success_statuses: tuple[int, ...] = (200,)
    success_has_body: bool = True
    requires_auth: bool = True
    batch: BatchSpec | None = None
    page: PageSpec | None = None

    @property
    def key(self) -> str:
        """``METHOD /route/template``: how metrics and logs name this operation."""
        return f"{self.method} {self.route}"

    @property
    def sends_keyed_writes(self) -> bool:
        """A POST or PATCH that takes an idempotency key: safe to retry with the same key."""
        return self.idempotency_header is not None and self.method in _WRITE_METHODS


def operation_of(request: httpx.Request) -> Operation | None:
    """The operation a request was built for, ``None`` for one the SDK did not build."""
    op = request.extensions.get(EXT_OPERATION)
    return op if isinstance(op, Operation) else None


def route_key(request: httpx.Request) -> str:
    """The metrics key of a request: its operation's ``METHOD /route``, never the raw URL."""
    op = operation_of(request)
    return op.key if op is not None else f"{request.method} <unrouted>"
