"""Commands made at run time from the contract: ``list KIND``, ``push KIND`` and one per other operation.

Each generated ``finops_api_client`` ships ``OPERATIONS``: one :class:`resilience.Operation` per
operation of ``openapi.yaml``. A paginated GET is a ``list`` kind, a batch POST a ``push``
kind (KIND: the operation id without its verb, ``get_resources`` -> ``resources``), and every
other operation but the health check is a command of its own, its path parameters arguments and
its query parameters and body fields options. A new operation in the spec gets its command with
no edit here.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import click

from resilience import DryRun, Operation

from ._app import Settings, guarded, pass_settings, stdout
from ._output import OUTPUTS, write_items, write_one

__all__ = ["add_contract_commands", "kind_of", "snake"]

#: Friendlier flags for a boolean body field that defaults to true: ``--reject`` for ``approved``.
_NEGATIONS = {"approved": "reject"}
_HTTP_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})
_CLICK_TYPES: dict[str, click.ParamType[Any]] = {"integer": click.INT, "number": click.FLOAT, "boolean": click.BOOL}


def snake(name: str) -> str:
    """The Python name the generated client gives a wire name (``resourceType`` -> ``resource_type``)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).replace("-", "_").lower()


def kebab(name: str) -> str:
    return snake(name).replace("_", "-")


def kind_of(op: Operation) -> str:
    """The KIND of a list or batch operation: its id without the verb, in kebab case."""
    verb, _, rest = op.operation_id.partition("_")
    return kebab(rest or verb)


class _JsonType(click.ParamType):  # type: ignore[type-arg]
    name = "JSON"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError as exc:
            self.fail(f"not JSON: {exc.msg}", param, ctx)


_JSON = _JsonType()


def _param_type(schema: Mapping[str, Any]) -> click.ParamType[Any]:
    if "enum" in schema:
        return click.Choice([str(v) for v in schema["enum"]], case_sensitive=False)
    kind = schema.get("type")
    return _CLICK_TYPES.get(kind if isinstance(kind, str) else "", click.STRING)


def _help(schema: Mapping[str, Any]) -> str:
    return str(schema.get("description") or "")


def _operations() -> dict[str, Operation]:
    from finops_api_client._contract import OPERATIONS

    return dict(OPERATIONS)


def _columns(op: Operation) -> list[str]:
    """The item fields of a page, the required first: the table's and the CSV's columns."""
    try:
        items = op.response["properties"][op.page.items_attr if op.page else "data"]["items"]
        required = [name for name in items.get("required", []) if name in items.get("properties", {})]
        return required + [name for name in items.get("properties", {}) if name not in required]
    except (KeyError, TypeError):
        return []


def _list_command(ops: list[Operation]) -> click.Command:
    by_kind = {kind_of(op): op for op in ops}
    filters: dict[str, tuple[str, Mapping[str, Any]]] = {}
    params: list[click.Parameter] = [click.Argument(["kind"], type=click.Choice(sorted(by_kind)), metavar="KIND")]
    applies: dict[str, list[str]] = {}
    for op in ops:
        for wire, schema in op.params.items():
            if wire in ("cursor", "limit"):
                continue
            applies.setdefault(kebab(wire), []).append(kind_of(op))
            filters.setdefault(kebab(wire), (wire, schema))
    for option, (_wire, schema) in filters.items():
        where = ", ".join(applies[option])
        params.append(
            click.Option([f"--{option}"], type=_param_type(schema), help=f"{_help(schema)} ({where})".strip())
        )
    params += [
        click.Option(["--max", "max_items"], type=click.IntRange(min=1), metavar="N", help="At most N items."),
        click.Option(["--output", "-o"], type=click.Choice(OUTPUTS), help="Default: table on a terminal, else ndjson."),
    ]
    kinds = ", ".join(sorted(by_kind))

    @pass_settings
    @guarded
    def run(settings: Settings, /, kind: str, max_items: int | None, output: str | None, **given: Any) -> None:
        op = by_kind[kind]
        kwargs: dict[str, Any] = {}
        for option, value in given.items():
            if value is None:
                continue
            wire = filters[option.replace("_", "-")][0]
            if wire not in op.params:
                raise click.UsageError(f"--{kebab(wire)} does not filter {kind}")
            kwargs[snake(wire)] = value
        if max_items is not None and "limit" in op.params:
            kwargs["limit"] = min(max_items, int(op.params["limit"].get("maximum", max_items)))
        name = op.operation_id
        walk = getattr(settings.client(), f"iter_{name[4:] if name.startswith('get_') else name}")
        items = _capped((item.to_dict() for item in walk(**kwargs)), max_items)
        chosen = output or ("table" if sys.stdout.isatty() else "ndjson")
        write_items(items, _columns(op), chosen)

    return click.Command(
        "list",
        callback=run,
        params=params,
        help=f"List every item of KIND ({kinds}), following pages; streams any number of items. "
        "Filters apply to the kinds that have them.",
        short_help="List the items of a kind, following pages.",
    )


def _capped(items: Iterable[Any], limit: int | None) -> Iterator[Any]:
    for n, item in enumerate(items):
        if limit is not None and n >= limit:
            return
        yield item


def _operation_command(op: Operation, name: str, client_method: str) -> click.Command:
    """One operation as a command: path parameters are arguments, the rest options."""
    params: list[click.Parameter] = []
    body = op.body if isinstance(op.body, Mapping) else {}
    path_names = re.findall(r"{([^}]+)}", op.route)
    for wire in path_names:
        params.append(click.Argument([snake(wire)], metavar=kebab(wire).upper()))
    for wire, schema in op.params.items():
        if wire not in path_names:
            params.append(click.Option([f"--{kebab(wire)}", snake(wire)], type=_param_type(schema)))
    fields: dict[str, str] = {}
    if op.body is not None and "properties" not in body:  # a list or a scalar: given whole, as JSON
        params.append(click.Option(["--body", "body"], type=_JSON, required=True, help="The body, as JSON."))
    for wire, schema in body.get("properties", {}).items():
        py = f"body_{snake(wire)}"
        fields[py] = wire
        if schema.get("type") == "boolean":
            default = bool(schema.get("default", False))
            if default and wire in _NEGATIONS:
                flag = f"--{_NEGATIONS[wire]}"
                params.append(click.Option([flag, py], flag_value=False, default=True, help=f"Set {wire} to false."))
            else:
                params.append(click.Option([f"--{kebab(wire)}/--no-{kebab(wire)}", py], default=default))
        else:
            required = wire in body.get("required", [])
            params.append(click.Option([f"--{kebab(wire)}", py], type=_param_type(schema), required=required))
    params.append(click.Option(["--dry-run"], is_flag=True, help="Validate and show what would be sent; send nothing."))
    params.append(
        click.Option(["--output", "-o"], type=click.Choice(["table", "json"]), help="Default: table on a tty.")
    )

    @pass_settings
    @guarded
    def run(settings: Settings, /, dry_run: bool, output: str | None, **given: Any) -> None:
        method = getattr(settings.client(dry_run=dry_run), client_method)
        accepted = inspect.signature(method).parameters
        kwargs: dict[str, Any] = {}
        for key, value in given.items():
            arg = snake(fields[key]) if key in fields else key
            if key in fields and f"body_{arg}" in accepted:  # the generated name of a body field a parameter shadows
                arg = f"body_{arg}"
            if value is not None:
                kwargs[arg] = value
        result = method(**kwargs)
        chosen = output or ("table" if sys.stdout.isatty() else "json")
        if isinstance(result, DryRun):
            stdout().print(f"dry run: would send {result.method} {result.route} {result.body_preview}", highlight=False)
            return
        if result is None:  # an answer without a body (204)
            return
        data = result.to_dict() if hasattr(result, "to_dict") else result
        write_one(data, chosen)

    return click.Command(name, callback=run, params=params, help=f"{_summary(op)} ({op.method} {op.route}).")


def _summary(op: Operation) -> str:
    """The spec's summary of ``op``: the first line of the generated method's docstring."""
    from finops_api_client import FinOpsClient

    doc = inspect.getdoc(getattr(FinOpsClient, op.operation_id, None)) or ""
    return doc.splitlines()[0].rstrip(".") if doc else op.operation_id.replace("_", " ")


def add_contract_commands(group: click.Group) -> None:
    """Add ``list``, ``push`` and a command per other operation of the contract to ``group``."""
    from ._push import push_command

    ops = _operations()
    pages = [op for op in ops.values() if op.page is not None]
    batches = [op for op in ops.values() if op.batch is not None]
    if pages:
        group.add_command(_list_command(pages))
    if batches:
        group.add_command(push_command({kind_of(op): op for op in batches}))
    others = [op for op in ops.values() if op.page is None and op.batch is None and op.operation_id != "get_health"]
    verbs = [op.operation_id.split("_")[0] for op in others]
    for op, verb in zip(others, verbs, strict=True):
        # a verb of its own names the command (approve_optimization: approve); an HTTP verb or a
        # shared one does not (get_savings: get-savings, put_label and put_label_aliases)
        alone = verbs.count(verb) == 1 and verb not in _HTTP_VERBS and verb not in group.commands
        name = verb if alone else kebab(op.operation_id)
        group.add_command(_operation_command(op, name, op.operation_id))


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
