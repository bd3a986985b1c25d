"""Regenerate the typed SDK from openapi.yaml: ``python codegen/generate.py [--out DIR]``.

1. Remove the output folder, run the pinned openapi-python-client with our config and
   template overrides (``--fail-on-warning``), post hooks running the pinned ruff isolated.
2. Write ``_contract.py``: what the templates cannot see (body bounds, item schemas with
   $refs inlined, batch and pagination hints, route templates) plus the stamp (spec sha256,
   generator version), and ``py.typed``.
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
from pathlib import Path
from typing import Any

import yaml

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


def build_contract(spec: dict[str, Any]) -> dict[str, Any]:
    ops: dict[str, Any] = {}
    for route, item in spec.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            op_id = op["operationId"]
            params = [_resolve(spec, p) for p in [*shared, *op.get("parameters", [])]]
            query = {p["name"]: _strip_docs(p.get("schema", {})) for p in params if p["in"] == "query"}
            path = {p["name"]: _strip_docs(p.get("schema", {})) for p in params if p["in"] == "path"}
            idem = next(
                (p["name"] for p in params if p["in"] == "header" and p["name"].lower() == "idempotency-key"),
                None,
            )
            body_schema = None
            body = op.get("requestBody")
            if body is not None:
                body = _resolve(spec, body)
                body_schema = _strip_docs(body.get("content", {}).get("application/json", {}).get("schema"))
            success_status = None
            success_schema = None
            for status, resp in sorted(op.get("responses", {}).items(), key=lambda kv: str(kv[0])):
                if str(status).startswith("2"):
                    resp = _resolve(spec, resp)
                    success_status = int(status)
                    success_schema = _strip_docs(resp.get("content", {}).get("application/json", {}).get("schema"))
                    break
            batch = None
            if body_schema is not None and body_schema.get("type") == "array":
                hint = op.get("x-batch", {})
                batch = {
                    "max_items": body_schema.get("maxItems"),
                    "min_items": body_schema.get("minItems", 1),
                    "accepted_field": hint.get("acceptedField", "accepted"),
                    "rejected_field": hint.get("rejectedField", "rejected"),
                    "index_field": hint.get("indexField", "index"),
                    "reason_field": hint.get("reasonField", "reason"),
                    "id_field": hint.get("idField", "id"),
                }
            pagination = None
            if method == "get" and "cursor" in query:
                hint = op.get("x-pagination", {})
                pagination = {
                    "cursor_param": hint.get("cursorParam", "cursor"),
                    "next_field": hint.get("nextField", "nextCursor"),
                    "items_field": hint.get("itemsField", "data"),
                }
            ops[op_id] = {
                "operation_id": op_id,
                "method": method.upper(),
                "route": route,
                "path_params": path,
                "query_params": query,
                "idempotency_header": idem,
                "body": body_schema,
                "success_status": success_status,
                "response": success_schema,
                "batch": batch,
                "pagination": pagination,
                "requires_auth": bool(op.get("security", spec.get("security", []))),
            }
    return dict(sorted(ops.items()))


def write_contract(spec_path: Path, out: Path) -> None:
    raw = spec_path.read_bytes()
    spec = yaml.safe_load(raw)
    contract = build_contract(spec)
    servers = spec.get("servers") or [{"url": "http://localhost:5002"}]
    text = (
        '"""Contract metadata from openapi.yaml, written by codegen/generate.py. Do not edit."""\n\n'
        "from typing import Any, Final\n\n"
        f"SPEC_SHA256: Final = {hashlib.sha256(raw).hexdigest()!r}\n"
        f"GENERATOR: Final = {'openapi-python-client ' + GENERATOR_VERSION!r}\n"
        f"API_TITLE: Final = {spec['info']['title']!r}\n"
        f"API_VERSION: Final = {str(spec['info']['version'])!r}\n"
        f"DEFAULT_BASE_URL: Final = {servers[0]['url']!r}\n\n"
        "OPERATIONS: Final[dict[str, dict[str, Any]]] = "
        f"{pprint.pformat(contract, width=110, sort_dicts=True)}\n"
    )
    (out / "_contract.py").write_text(text, encoding="utf-8")
    (out / "py.typed").write_text("", encoding="utf-8")


def generate(out: Path, spec_path: Path) -> None:
    installed = importlib.metadata.version("openapi-python-client")
    if installed != GENERATOR_VERSION:
        raise SystemExit(f"openapi-python-client {GENERATOR_VERSION} is pinned, {installed} is installed")
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
    cmd = [
        str(Path(bindir) / "openapi-python-client"),
        "generate",
        "--path",
        str(spec_path),
        "--config",
        str(ROOT / "codegen" / "config.yaml"),
        "--custom-template-path",
        str(ROOT / "codegen" / "templates"),
        "--meta",
        "none",
        "--output-path",
        str(out),
        "--fail-on-warning",
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "generated" / PACKAGE)
    parser.add_argument("--spec", type=Path, default=ROOT / "openapi.yaml")
    args = parser.parse_args()
    generate(args.out.resolve(), args.spec.resolve())
    print(f"generated {args.out}")


if __name__ == "__main__":
    main()
