"""The contract checks both clients share: compiled validators per operation part, the checks
of parameters and items, JSON encoding of bodies, and the dry-run report.

A mixin of :class:`resilience._base._Core`, kept apart so each reads in one sitting.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ._batch import DryRun
from ._config import ClientConfig
from ._json import Unencodable, dumps, encode_slices
from ._operation import Operation
from ._redact import redact_body
from ._validation import Invalid, SchemaCheck, Validator, compile_schema, refusal, warn_unknown_field

__all__: list[str] = []

logger = logging.getLogger("resilience.client")


class ContractChecks:
    """What a client checks against its contract before anything is sent."""

    _UNSET: ClassVar[object] = None
    _config: ClientConfig
    _validators: dict[tuple[str, str], Validator]

    def _validator(self, op: Operation, part: str, schema: Any, *, request: bool) -> Validator:
        """The compiled check of one part of an operation. A request may carry fields the
        contract does not name (it allows them); one that looks like a typo of a named field
        is logged (:func:`warn_unknown_field`)."""
        key = (op.operation_id, part)
        v = self._validators.get(key)
        if v is None:
            tell = functools.partial(warn_unknown_field, op.operation_id, set()) if request else None
            v = self._validators[key] = compile_schema(schema, on_unknown=tell)
        return v

    def _item_validator(self, op: Operation) -> SchemaCheck:
        check = self._validator(op, "item", op.item_schema, request=True)
        assert isinstance(check, SchemaCheck), f"{op.operation_id} has no item schema"
        return check

    def _response_validator(self, op: Operation) -> Validator | None:
        if not self._config.validate_responses or op.response is None:
            return None
        return self._validator(op, "response", op.response, request=False)

    @staticmethod
    def _check(check: Validator, value: Any, *, at: str = "", index: int | None = None) -> None:
        try:
            check(value, at)
        except Invalid as exc:
            raise refusal(exc, index) from None

    @staticmethod
    def _check_items(check: SchemaCheck, items: list[dict[str, Any]], *, encoded_later: bool = False) -> None:
        """Every item at once: the first bad one raises, naming its index and field
        (``encoded_later``: :meth:`_encode_slices` looks for what JSON cannot carry)."""
        bad = check.first_bad(items, encoded_later=encoded_later)
        if bad is not None:
            raise refusal(bad[1], bad[0])

    @staticmethod
    def _encode_slices(items: Sequence[Any], bounds: Sequence[tuple[int, int]]) -> list[bytes]:
        """The body of each slice of ``items``; the first item JSON cannot carry raises,
        naming its index and field, as :meth:`_check_items` would have."""
        bodies, bad = encode_slices(items, bounds)
        if bad is not None:
            raise refusal(Invalid(bad[1].path, bad[1].message), bad[0])
        return bodies

    def _check_params(self, op: Operation, params: Mapping[str, Any]) -> None:
        for name, value in params.items():
            schema = op.params.get(name)
            if schema is None or value is None or value is self._UNSET:
                continue
            self._check(self._validator(op, f"param:{name}", schema, request=True), value, at=name)

    @staticmethod
    def _encode(body: Any) -> bytes:
        """The JSON of a body (:mod:`resilience._json`): what JSON cannot carry is refused."""
        try:
            return dumps(body)
        except Unencodable as exc:
            raise refusal(Invalid(exc.path, f"cannot be encoded as JSON: {exc.message}"), None) from None

    @staticmethod
    def _with_body(kwargs: Mapping[str, Any], body: bytes, op: Operation, key: str | None) -> dict[str, Any]:
        kw = dict(kwargs)
        kw.pop("json", None)
        kw["content"] = body
        headers = dict(kw.get("headers") or {})
        headers["Content-Type"] = "application/json"
        if key is not None and op.idempotency_header:
            headers[op.idempotency_header] = key
        kw["headers"] = headers
        return kw

    def _dry_run_report(self, op: Operation, item_count: int, chunks: list[tuple[int, int]], body: Any) -> DryRun:
        preview = redact_body(json.dumps(body, allow_nan=False, default=str)) if body is not None else ""
        report = DryRun(op.operation_id, op.method, op.route, item_count, tuple(chunks), preview)
        logger.info(
            "dry run: would send %s (%d item(s) in %d chunk(s)) body=%s", op.key, item_count, len(chunks), preview
        )
        return report
