"""Regenerate the typed SDK from openapi.yaml: ``python codegen/generate.py [--out DIR]``.

1. Remove the output folder, run the pinned openapi-python-client with our config and
   template overrides (``--fail-on-warning``), post hooks running the pinned ruff isolated.
   The templates import ``contract_kinds.jinja``, written for the run from the same
   :func:`build_contract` (batches, paginated operations, client options).
2. Write ``_contract.py``: one typed ``resilience.Operation`` per operation (route template,
   idempotency header, schemas with $refs inlined, batch and page specs, success statuses)
   plus the stamp (spec sha256, generator version), and ``py.typed``.
3. Compile every generated module: a template bug the generator and ruff let through (a
   duplicate argument) fails the run, not the first import.
Two runs give byte-identical output.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import pprint
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from openapi_python_client.strings import snake_case

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "finops_api_client"
GENERATOR_VERSION = "0.29.1"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _resolve(spec: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """Inline every local $ref (the contract has no recursive schemas; depth is capped)."""
    if depth > 40:
        raise SystemExit("schema nesting too deep (recursive $ref?)")
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise SystemExit(f"only local $refs are supported: {ref}")
            target: Any = spec
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            merged = {k: v for k, v in node.items() if k != "$ref"}
            resolved = _resolve(spec, target, depth + 1)
            return {**resolved, **merged} if merged else resolved
        return {k: _resolve(spec, v, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(spec, v, depth + 1) for v in node]
    return node


def _strip_docs(schema: Any) -> Any:
    """Keep what validation needs; descriptions and examples only bloat the module."""
    if isinstance(schema, dict):
        return {
            k: _strip_docs(v) for k, v in schema.items() if k not in ("description", "example", "examples", "title")
        }
    if isinstance(schema, list):
        return [_strip_docs(v) for v in schema]
    return schema


def _success(spec: dict[str, Any], op: dict[str, Any]) -> tuple[tuple[int, ...], Any]:
    """The documented 2xx statuses, and the JSON schema of the first one's body (``None``
    when it has none, as a 204)."""
    statuses: list[int] = []
    schema = None
    for status, resp in sorted(op.get("responses", {}).items(), key=lambda kv: str(kv[0])):
        if str(status).startswith("2") and str(status).isdigit():
            resp = _resolve(spec, resp)
            if not statuses:
                schema = _strip_docs(resp.get("content", {}).get("application/json", {}).get("schema"))
            statuses.append(int(status))
    return tuple(statuses) or (200,), schema


#: Per paginated operation, its cursor parameter's Python name (for the templates only).
cursors: dict[str, str] = {}


def _kind(method: str, query: dict[str, Any], body: Any, response: Any, op: dict[str, Any]) -> tuple[Any, Any]:
    """The one place batch and pagination are detected: ``(batch, page)`` specs as dicts.

    A POST whose body is an array is a batch (``x-batch`` renames the answer's fields); a GET
    with a ``cursor`` query parameter whose answer has the items and next-cursor fields is
    paginated (``x-pagination`` renames them)."""
    batch = None
    if method == "post" and body is not None and body.get("type") == "array":
        hint = op.get("x-batch", {})
        batch = {
            "max_items": body.get("maxItems"),
            "min_items": body.get("minItems", 1),
            "accepted_field": hint.get("acceptedField", "accepted"),
            "rejected_field": hint.get("rejectedField", "rejected"),
            "index_field": hint.get("indexField", "index"),
            "reason_field": hint.get("reasonField", "reason"),
            "id_field": hint.get("idField", "id"),
        }
    page = None
    hint = op.get("x-pagination", {})
    cursor = hint.get("cursorParam", "cursor")
    props = (response or {}).get("properties", {})
    items, nxt = hint.get("itemsField", "data"), hint.get("nextField", "nextCursor")
    if method == "get" and cursor in query and items in props and nxt in props:
        page = {"items_attr": snake_case(items), "next_attr": snake_case(nxt)}
        cursors[op["operationId"]] = snake_case(cursor)
    return batch, page


def build_contract(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per operation id, the keyword arguments of its ``resilience.Operation``."""
    ops: dict[str, dict[str, Any]] = {}
    for route, item in spec.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [_resolve(spec, p) for p in [*shared, *op.get("parameters", [])]]
            query = {p["name"]: _strip_docs(p.get("schema", {})) for p in params if p["in"] == "query"}
            path = {p["name"]: _strip_docs(p.get("schema", {})) for p in params if p["in"] == "path"}
            idem = next(
                (p["name"] for p in params if p["in"] == "header" and p["name"].lower() == "idempotency-key"),
                None,
            )
            body = None
            if op.get("requestBody") is not None:
                raw_body = _resolve(spec, op["requestBody"])
                body = _strip_docs(raw_body.get("content", {}).get("application/json", {}).get("schema"))
            statuses, response = _success(spec, op)
            batch, page = _kind(method, query, body, response, op)
            ops[op["operationId"]] = {
                "operation_id": op["operationId"],
                "method": method.upper(),
                "route": route,
                "idempotency_header": idem,
                "params": {**path, **query},
                "body": body,
                "item_schema": body.get("items") if batch is not None and body is not None else None,
                "response": response,
                "success_statuses": statuses,
                "success_has_body": response is not None,
                "requires_auth": bool(op.get("security", spec.get("security", []))),
                "batch": batch,
                "page": page,
            }
    return dict(sorted(ops.items()))


def _operation_source(fields: dict[str, Any]) -> str:
    parts = []
    for name, value in fields.items():
        if name == "batch" and value is not None:
            text = "BatchSpec(" + ", ".join(f"{k}={v!r}" for k, v in value.items()) + ")"
        elif name == "page" and value is not None:
            text = "PageSpec(" + ", ".join(f"{k}={v!r}" for k, v in value.items()) + ")"
        else:
            text = pprint.pformat(value, width=100, sort_dicts=True)
        parts.append(f"{name}={text}")
    return "Operation(" + ", ".join(parts) + ")"


def write_contract(spec_path: Path, out: Path) -> None:
    raw = spec_path.read_bytes()
    spec = yaml.safe_load(raw)
    contract = build_contract(spec)
    servers = spec.get("servers") or [{"url": "http://localhost:5002"}]
    entries = "".join(f"    {op_id!r}: {_operation_source(fields)},\n" for op_id, fields in contract.items())
    text = (
        '"""Contract metadata from openapi.yaml, written by codegen/generate.py. Do not edit."""\n\n'
        "from typing import Final\n\n"
        "from resilience import BatchSpec, Operation, PageSpec\n\n"
        f"SPEC_SHA256: Final = {hashlib.sha256(raw).hexdigest()!r}\n"
        f"GENERATOR: Final = {'openapi-python-client ' + GENERATOR_VERSION!r}\n"
        f"API_TITLE: Final = {spec['info']['title']!r}\n"
        f"API_VERSION: Final = {str(spec['info']['version'])!r}\n"
        f"DEFAULT_BASE_URL: Final = {servers[0]['url']!r}\n\n"
        f"OPERATIONS: Final[dict[str, Operation]] = {{\n{entries}}}\n"
    )
    (out / "_contract.py").write_text(text, encoding="utf-8")
    (out / "py.typed").write_text("", encoding="utf-8")
    # The contract ships inside the package: OpenAPIContract.from_package("finops_api_client").
    shutil.copyfile(spec_path, out / "openapi.yaml")


def _options() -> list[tuple[str, str, str, str]]:
    """The client options, from ``resilience.ClientConfig``'s fields: (name, type, default,
    help), written into every generated client constructor."""
    sys.path.insert(0, str(ROOT))
    import attrs

    from resilience import ClientConfig

    out = []
    for field in attrs.fields(ClientConfig):
        meta = field.metadata
        kind = str(meta.get("arg_type", field.type))
        default = meta.get("src") or repr(field.default)
        out.append((field.name, kind, default, str(meta.get("doc", ""))))
    return out


def write_kinds(templates: Path, spec: dict[str, Any]) -> None:
    """What the templates cannot see, as Jinja variables they import: which operations are
    batches and which paginated (decided once, by :func:`build_contract`), and the options."""
    contract = build_contract(spec)
    batches = sorted(k for k, v in contract.items() if v["batch"])
    pages = {k: (v["page"]["items_attr"], cursors[k]) for k, v in contract.items() if v["page"]}
    bodiless = sorted(k for k, v in contract.items() if not v["success_has_body"])
    text = (
        "{# written by codegen/generate.py for one run #}\n"
        f"{{% set BATCHES = {batches!r} %}}\n"
        f"{{% set PAGES = {pages!r} %}}\n"
        f"{{% set BODILESS = {bodiless!r} %}}\n"
        f"{{% set OPTIONS = {_options()!r} %}}\n"
    )
    (templates / "contract_kinds.jinja").write_text(text, encoding="utf-8")


def check_compiles(out: Path) -> None:
    """The generator and ruff accept code Python refuses (a duplicate argument, say): fail
    the run here, naming the file and line, not at the first import of the package."""
    for path in sorted(out.rglob("*.py")):
        try:
            compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise SystemExit(f"generated code does not compile: {exc.filename}:{exc.lineno}: {exc.msg}") from None


def generate(out: Path, spec_path: Path) -> None:
    installed = importlib.metadata.version("openapi-python-client")
    if installed != GENERATOR_VERSION:
        raise SystemExit(f"openapi-python-client {GENERATOR_VERSION} is pinned, {installed} is installed")
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
    templates = Path(tempfile.mkdtemp(prefix="finops-templates-"))
    shutil.copytree(ROOT / "codegen" / "templates", templates, dirs_exist_ok=True)
    write_kinds(templates, yaml.safe_load(spec_path.read_bytes()))
    cmd = [
        str(Path(bindir) / "openapi-python-client"),
        "generate",
        "--path",
        str(spec_path),
        "--config",
        str(ROOT / "codegen" / "config.yaml"),
        "--custom-template-path",
        str(templates),
        "--meta",
        "none",
        "--output-path",
        str(out),
        "--fail-on-warning",
    ]
    try:
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    finally:
        shutil.rmtree(templates, ignore_errors=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"openapi-python-client failed with exit code {result.returncode}")
    write_contract(spec_path, out)
    subprocess.run(
        [
            str(Path(bindir) / "ruff"),
            "format",
            "--isolated",
            "--no-cache",
            "--line-length",
            "120",
            "-q",
            str(out / "_contract.py"),
        ],
        check=True,
    )
    check_compiles(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "generated" / PACKAGE)
    parser.add_argument("--spec", type=Path, default=ROOT / "openapi.yaml")
    args = parser.parse_args()
    generate(args.out.resolve(), args.spec.resolve())
    print(f"generated {args.out}")


if __name__ == "__main__":
    main()
