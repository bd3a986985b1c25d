"""A new operation in openapi.yaml becomes a working facade method with `make generate` alone.

The repository is copied to a temp dir, ``get_savings`` is added to the copy's openapi.yaml,
the copy is regenerated, and a fresh interpreter (the copy first on sys.path) calls the new
method against a real HTTP server. Nothing under resilience/ may need to change.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
IGNORED = (
    ".venv",
    ".git",
    "__pycache__",
    "*.pyc",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "*.egg-info",
    "dist",
    "build",
)

ERROR_REFS = {
    "400": "BadRequest",
    "401": "Unauthorized",
    "403": "Forbidden",
    "429": "TooManyRequests",
    "500": "InternalServerError",
    "503": "ServiceUnavailable",
}


def add_get_savings(spec_path: Path) -> None:
    spec: dict[str, Any] = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    spec["tags"].append({"name": "savings", "description": "Realised savings."})
    spec["components"]["schemas"]["SavingsSummary"] = {
        "type": "object",
        "required": ["totalSavings", "currency"],
        "properties": {"totalSavings": {"type": "number"}, "currency": {"type": "string"}},
    }
    responses: dict[str, Any] = {
        "200": {
            "description": "Savings so far.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SavingsSummary"}}},
        }
    }
    responses.update({code: {"$ref": f"#/components/responses/{name}"} for code, name in ERROR_REFS.items()})
    spec["paths"]["/api/savings"] = {
        "get": {
            "operationId": "get_savings",
            "summary": "Savings summary",
            "tags": ["savings"],
            "responses": responses,
        }
    }
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")


CLIENT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import httpx
    from pytest_httpserver import HTTPServer

    import finops_api_client, resilience
    from finops_api_client import FinOpsClient
    from finops_api_client.models import SavingsSummary
    from resilience import OpenAPIContract

    class Recording(httpx.HTTPTransport):
        def __init__(self):
            super().__init__()
            self.seen = []

        def handle_request(self, request):
            self.seen.append({k: request.extensions.get(k) for k in ("operation_id", "route_template")})
            return super().handle_request(request)

    server = HTTPServer()
    server.start()
    try:
        server.expect_oneshot_request("/api/savings", method="GET").respond_with_json(
            {"totalSavings": 1234.5, "currency": "EUR"}
        )
        transport = Recording()
        with FinOpsClient(server.url_for("/"), api_key="k", transport=transport, max_retries=0) as client:
            result = client.get_savings()
        server.check_assertions()
        validated = OpenAPIContract.from_path(sys.argv[1]).assert_all_valid(server.log)
    finally:
        server.stop()
    assert isinstance(result, SavingsSummary), type(result)
    print(json.dumps({
        "package": finops_api_client.__file__,
        "resilience": resilience.__file__,
        "total_savings": result.total_savings,
        "currency": result.currency,
        "seen": transport.seen,
        "validated_operation": validated[0][0].operation_id,
    }))
    """
)


def resilience_files(root: Path) -> set[str]:
    base = root / "resilience"
    return {
        p.relative_to(base).as_posix()
        for p in base.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def test_new_operation_needs_only_regeneration(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(*IGNORED))
    add_get_savings(copy / "openapi.yaml")

    gen = subprocess.run([sys.executable, "codegen/generate.py"], cwd=copy, capture_output=True, text=True, check=False)
    assert gen.returncode == 0, f"generate.py failed on the copy:\n{gen.stdout}\n{gen.stderr}"
    package = copy / "generated" / "finops_api_client"
    assert (package / "api" / "savings" / "get_savings.py").is_file()
    assert (package / "models" / "savings_summary.py").is_file()

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(copy / "generated"), str(copy)]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    run = subprocess.run(
        [sys.executable, "-c", CLIENT_SCRIPT, str(copy / "openapi.yaml")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 0, f"the regenerated client failed:\n{run.stdout}\n{run.stderr}"
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(report["package"]).is_relative_to(package), "the copy's package must be the one imported"
    assert Path(report["resilience"]).is_relative_to(copy / "resilience")
    assert report["total_savings"] == 1234.5
    assert report["currency"] == "EUR"
    assert report["seen"] == [{"operation_id": "get_savings", "route_template": "/api/savings"}]
    assert report["validated_operation"] == "get_savings"

    # resilience/ is generic: adding an operation must not have touched it.
    original, copied = resilience_files(ROOT), resilience_files(copy)
    assert copied == original
    changed = [
        name
        for name in sorted(original)
        if not filecmp.cmp(ROOT / "resilience" / name, copy / "resilience" / name, shallow=False)
    ]
    assert not changed, f"files under resilience/ differ after regeneration: {changed}"
