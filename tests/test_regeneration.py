"""A contract change in openapi.yaml becomes working facade methods with `make generate` alone.

The repository is copied to a temp dir once, the copy's openapi.yaml (and nothing else) is
changed, the copy is regenerated, and fresh interpreters (the copy first on sys.path) call the
new methods against a real HTTP server, every exchange then checked against the changed spec.
Nothing under resilience/ may need to change.

The change adds ``get_savings`` (a new tag, a plain GET), and a ``labels`` tag with the other
shapes an operation can take: a cursor-paginated list, a batch POST with its own ``maxItems``,
a PATCH taking an Idempotency-Key (and a camelCase query parameter), a PUT whose body repeats
the path parameter, a DELETE answering 204 without a body and a PUT of a list body answering
204, on a camelCase path parameter (``/api/labels/{labelId}``); and a new optional field on
ResourceInventory. Each new method runs through retries (a 503 once), chunking and pagination,
with both the sync and the async client.
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

import pytest
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

LABEL_ITEM = "PATCH /api/labels/{labelId}"


def _errors(**extra: str) -> dict[str, Any]:
    refs = {**ERROR_REFS, **extra}
    return {code: {"$ref": f"#/components/responses/{refs[code]}"} for code in sorted(refs)}


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def add_get_savings(spec: dict[str, Any]) -> None:
    spec["tags"].append({"name": "savings", "description": "Realised savings."})
    spec["components"]["schemas"]["SavingsSummary"] = {
        "type": "object",
        "required": ["totalSavings", "currency"],
        "properties": {"totalSavings": {"type": "number"}, "currency": {"type": "string"}},
    }
    spec["paths"]["/api/savings"] = {
        "get": {
            "operationId": "get_savings",
            "summary": "Savings summary",
            "tags": ["savings"],
            "responses": {"200": {"description": "Savings so far.", "content": _json("SavingsSummary")}, **_errors()},
        }
    }


def add_labels(spec: dict[str, Any]) -> None:
    """A new tag with a list, a batch POST (maxItems 3), PATCH, PUT and DELETE (204), and a
    new optional ResourceInventory field."""
    spec["tags"].append({"name": "labels", "description": "Cost allocation labels."})
    schemas = spec["components"]["schemas"]
    schemas["ResourceInventory"]["properties"]["costCenter"] = {"type": "string", "minLength": 1, "maxLength": 64}
    name = {"type": "string", "minLength": 1, "maxLength": 128}
    color = {"type": "string", "pattern": "^#[0-9a-f]{6}$"}
    schemas["Label"] = {
        "type": "object",
        "required": ["labelId", "name"],
        "properties": {"labelId": {"type": "string", "minLength": 1, "maxLength": 64}, "name": name, "color": color},
    }
    schemas["LabelPatch"] = {"type": "object", "properties": {"name": name, "color": color}}
    schemas["LabelPage"] = {
        "type": "object",
        "required": ["success", "data", "timestamp"],
        "properties": {
            "success": {"type": "boolean"},
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Label"}},
            "nextCursor": {"type": ["string", "null"]},
            "timestamp": {"type": "string", "format": "date-time"},
        },
    }
    idempotency_key = {"$ref": "#/components/parameters/IdempotencyKey"}
    spec["paths"]["/api/labels"] = {
        "get": {
            "operationId": "get_labels",
            "summary": "List labels",
            "tags": ["labels"],
            "parameters": [{"$ref": "#/components/parameters/Limit"}, {"$ref": "#/components/parameters/Cursor"}],
            "responses": {"200": {"description": "One page of labels.", "content": _json("LabelPage")}, **_errors()},
        },
        "post": {
            "operationId": "post_labels",
            "summary": "Create a batch of labels",
            "tags": ["labels"],
            "parameters": [idempotency_key],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 3,
                            "items": {"$ref": "#/components/schemas/Label"},
                        }
                    }
                },
            },
            "responses": {
                "200": {"description": "Batch processed.", "content": _json("IngestResult")},
                **_errors(**{"413": "PayloadTooLarge", "422": "UnprocessableEntity"}),
            },
        },
    }
    answer = {"200": {"description": "The label.", "content": _json("Label")}, **_errors(**{"404": "NotFound"})}
    spec["paths"]["/api/labels/{labelId}"] = {
        "parameters": [
            {"name": "labelId", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        ],
        "patch": {
            "operationId": "patch_label",
            "summary": "Change a label",
            "tags": ["labels"],
            "parameters": [
                idempotency_key,
                {"name": "notifyOwners", "in": "query", "required": False, "schema": {"type": "boolean"}},
            ],
            "requestBody": {"required": True, "content": _json("LabelPatch")},
            "responses": answer,
        },
        "put": {
            "operationId": "put_label",
            "summary": "Replace a label",
            "tags": ["labels"],
            "requestBody": {"required": True, "content": _json("Label")},
            "responses": answer,
        },
        "delete": {
            "operationId": "delete_label",
            "summary": "Delete a label",
            "tags": ["labels"],
            "responses": {"204": {"description": "Deleted; no body."}, **_errors(**{"404": "NotFound"})},
        },
    }
    spec["paths"]["/api/labels/{labelId}/aliases"] = {
        "put": {
            "operationId": "put_label_aliases",
            "summary": "Replace the aliases of a label",
            "tags": ["labels"],
            "parameters": [
                {"name": "labelId", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"type": "array", "maxItems": 10, "items": {"type": "string", "minLength": 1}}
                    }
                },
            },
            "responses": {"204": {"description": "Replaced; no body."}, **_errors(**{"404": "NotFound"})},
        }
    }


def change_contract(spec_path: Path) -> None:
    spec: dict[str, Any] = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    add_get_savings(spec)
    add_labels(spec)
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository copied, its openapi.yaml changed, and regenerated by the copy's codegen."""
    repo = tmp_path_factory.mktemp("regen") / "repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(*IGNORED))
    change_contract(repo / "openapi.yaml")
    gen = subprocess.run([sys.executable, "codegen/generate.py"], cwd=repo, capture_output=True, text=True, check=False)
    assert gen.returncode == 0, f"generate.py failed on the copy:\n{gen.stdout}\n{gen.stderr}"
    return repo


def run_client(copy: Path, script: str) -> dict[str, Any]:
    """Run ``script`` in a fresh interpreter importing the copy; its last line is a JSON report."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINOPS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(copy / "generated"), str(copy)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    run = subprocess.run(
        [sys.executable, "-c", script, str(copy / "openapi.yaml")],
        cwd=copy.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, f"the regenerated client failed:\n{run.stdout}\n{run.stderr}"
    report: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(report["package"]).is_relative_to(copy / "generated"), "the copy's package must be the one imported"
    assert Path(report["resilience"]).is_relative_to(copy / "resilience")
    return report


SAVINGS_SCRIPT = textwrap.dedent(
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
            op = resilience.operation_of(request)
            self.seen.append({"operation_id": op.operation_id, "route": op.route})
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
        validated = resilience.OpenAPIContract.from_path(sys.argv[1]).assert_all_valid(server.log)
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


def test_new_operation_needs_only_regeneration(copy: Path) -> None:
    package = copy / "generated" / "finops_api_client"
    assert (package / "api" / "savings" / "get_savings.py").is_file()
    assert (package / "models" / "savings_summary.py").is_file()
    report = run_client(copy, SAVINGS_SCRIPT)
    assert report["total_savings"] == 1234.5
    assert report["currency"] == "EUR"
    assert report["seen"] == [{"operation_id": "get_savings", "route": "/api/savings"}]
    assert report["validated_operation"] == "get_savings"


# The server side of the labels script: one stateful handler per route that records every
# exchange and answers 503 exactly once where a retry is to be shown (per client, so the sync
# and the async run each see it): page 2 of the list, the batch chunk holding item l4, and the
# first PATCH, PUT, DELETE and aliases PUT.
LABELS_SCRIPT = textwrap.dedent(
    """
    import asyncio, inspect, json, sys, threading, typing
    from pytest_httpserver import HTTPServer
    from werkzeug import Response

    import finops_api_client, resilience
    from finops_api_client import AsyncFinOpsClient, FinOpsClient
    from finops_api_client.models import Label, ResourceInventory

    NOW = "2024-05-01T00:00:00Z"
    LABELS = [{"labelId": f"l{i}", "name": f"Label {i}"} for i in range(1, 8)]
    PAGES = {None: (LABELS[0:2], "c2"), "c2": (LABELS[2:4], "c3"), "c3": (LABELS[4:5], None)}
    lock = threading.Lock()
    state = {"client": None, "failed": set(), "log": []}

    def reply(status, data=None):
        if data is None and status == 204:
            return Response(status=204)
        if status == 503:
            data = {"success": False, "error": {"code": "UNAVAILABLE", "message": "try again"}}
        return Response(json.dumps(data), status=status, content_type="application/json")

    def first_time(tag):
        with lock:
            tag = (state["client"], tag)
            if tag in state["failed"]:
                return False
            state["failed"].add(tag)
            return True

    def record(request, status):
        with lock:
            state["log"].append({
                "client": state["client"],
                "method": request.method,
                "path": request.path,
                "query": dict(request.args),
                "key": request.headers.get("Idempotency-Key"),
                "body": request.get_json(silent=True),
                "status": status,
            })

    def answer(request, status, data=None):
        record(request, status)
        return reply(status, data)

    def labels(request):
        if request.method == "GET":
            cursor = request.args.get("cursor")
            if cursor == "c2" and first_time("page-2"):
                return answer(request, 503)
            data, nxt = PAGES[cursor]
            return answer(request, 200, {"success": True, "data": data, "nextCursor": nxt, "timestamp": NOW})
        body = request.get_json()
        if any(item["labelId"] == "l4" for item in body) and first_time("chunk-l4"):
            return answer(request, 503)
        ids = [x["labelId"] for x in body]
        rejected = [{"index": i, "reason": "duplicate", "id": x} for i, x in enumerate(ids) if x == "l7"]
        accepted = len(body) - len(rejected)
        return answer(request, 200, {"success": True, "accepted": accepted, "rejected": rejected, "timestamp": NOW})

    def label(request):
        if first_time((request.method, request.path)):
            return answer(request, 503)
        if request.method == "DELETE" or request.path.endswith("/aliases"):
            return answer(request, 204)
        return answer(request, 200, {"labelId": "lbl-7", "name": request.get_json()["name"]})

    def resources(request):
        body = request.get_json()
        return answer(request, 200, {"success": True, "accepted": len(body), "rejected": [], "timestamp": NOW})

    def calls(client, aw):
        async def run():
            out = {}
            pages = client.iter_labels(limit=2)
            listed = [x async for x in pages] if aw else list(pages)
            out["listed"] = [x.label_id for x in listed]
            out["listed_types"] = sorted({type(x).__name__ for x in listed})
            items = [Label(label_id="l1", name="Label 1"), *LABELS[1:]]
            batch = await aw_(client.post_labels(items), aw)
            out["batch"] = {
                "accepted": list(batch.accepted),
                "rejected": [[r.index, r.reason, r.id] for r in batch.rejected],
                "chunks": batch.chunks,
                "ok_otherwise": not batch.not_delivered and not batch.outcome_unknown,
            }
            patched = await aw_(client.patch_label("lbl-7", name="Renamed", notify_owners=True), aw)
            out["patched"] = [type(patched).__name__, patched.label_id, patched.name]
            put = await aw_(client.put_label("lbl-7", "lbl-7", "Replaced", color="#00ff00"), aw)
            out["put"] = [type(put).__name__, put.name]
            deleted = await aw_(client.delete_label("lbl-7"), aw)
            out["deleted"] = repr(deleted)
            aliases = await aw_(client.put_label_aliases("lbl-7", ["ops", "platform"]), aw)
            out["aliases"] = repr(aliases)
            res = ResourceInventory(resource_id="i-1", resource_type="ec2", region="eu-west-1", cost_center="cc-42")
            out["resources_ok"] = (await aw_(client.post_resources([res]), aw)).ok
            metrics = client.get_performance_metrics()["endpoint_metrics"]
            out["metrics"] = {k: [v["request_count"], v["success_count"], v["retries"]] for k, v in metrics.items()}
            return out
        return run()

    async def aw_(value, aw):
        return await value if aw else value

    def hints(cls):
        out = {}
        for name in ("delete_label", "patch_label", "put_label", "put_label_aliases", "get_labels"):
            fn = getattr(cls, name)
            hint = typing.get_type_hints(fn)["return"]
            out[name] = sorted(getattr(a, "__name__", str(a)) for a in typing.get_args(hint) or (hint,))
            out[name + "_params"] = list(inspect.signature(fn).parameters)
        return out

    resilience.set_testing(True, attempts=4)  # no waits between retries
    slept = []
    server = HTTPServer()
    server.start()
    try:
        server.expect_request("/api/labels").respond_with_handler(labels)
        server.expect_request("/api/labels/lbl-7").respond_with_handler(label)
        server.expect_request("/api/labels/lbl-7/aliases", method="PUT").respond_with_handler(label)
        server.expect_request("/api/resources", method="POST").respond_with_handler(resources)
        url = server.url_for("/")
        reports = {}
        state["client"] = "sync"
        with FinOpsClient(url, api_key="k", sleep=slept.append) as client:
            reports["sync"] = asyncio.run(calls(client, False))

        async def run_async():
            async def asleep(s):
                slept.append(s)
            async with AsyncFinOpsClient(url, api_key="k", asleep=asleep) as client:
                return await calls(client, True)

        state["client"] = "async"
        reports["async"] = asyncio.run(run_async())
        server.check_assertions()
        validated = resilience.OpenAPIContract.from_path(sys.argv[1]).assert_all_valid(server.log)
    finally:
        server.stop()
    print(json.dumps({
        "package": finops_api_client.__file__,
        "resilience": resilience.__file__,
        "reports": reports,
        "log": state["log"],
        "slept": slept,
        "hints": {"sync": hints(FinOpsClient), "async": hints(AsyncFinOpsClient)},
        "validated": [[v.operation_id, r.status_code if r else None] for v, r in validated],
    }))
    """
)


@pytest.fixture(scope="module")
def labels_report(copy: Path) -> dict[str, Any]:
    return run_client(copy, LABELS_SCRIPT)


def _exchanges(report: dict[str, Any], client: str, method: str, path: str) -> list[dict[str, Any]]:
    return [x for x in report["log"] if x["client"] == client and x["method"] == method and x["path"] == path]


def test_new_shapes_generate_typed_methods(copy: Path, labels_report: dict[str, Any]) -> None:
    package = copy / "generated" / "finops_api_client"
    for name in ("get_labels", "post_labels", "patch_label", "put_label", "delete_label", "put_label_aliases"):
        assert (package / "api" / "labels" / f"{name}.py").is_file()
    contract = (package / "_contract.py").read_text(encoding="utf-8")
    assert "route='/api/labels/{labelId}'" in contract or 'route="/api/labels/{labelId}"' in contract
    for client in ("sync", "async"):
        hints = labels_report["hints"][client]
        assert hints["delete_label"] == ["NoneType"], "a 204 answer makes a method typed -> None"
        assert hints["put_label_aliases"] == ["DryRun", "NoneType"]
        assert hints["patch_label"] == ["DryRun", "Label"]
        assert hints["get_labels"] == ["LabelPage"]
        assert hints["put_label_aliases_params"] == ["self", "label_id", "body"]
        assert hints["put_label_params"][:4] == ["self", "label_id", "body_label_id", "name"]
        assert "notify_owners" in hints["patch_label_params"]


@pytest.mark.parametrize("client", ["sync", "async"])
def test_new_shapes_work_through_every_layer(labels_report: dict[str, Any], client: str) -> None:
    report = labels_report["reports"][client]
    assert labels_report["slept"] == [], "the testing switch means no retry waits"

    # Pagination: three pages walked, page 2 retried after its 503.
    assert report["listed"] == ["l1", "l2", "l3", "l4", "l5"]
    assert report["listed_types"] == ["Label"]
    pages = _exchanges(labels_report, client, "GET", "/api/labels")
    assert [(x["query"].get("cursor"), x["status"]) for x in pages] == [
        (None, 200),
        ("c2", 503),
        ("c2", 200),
        ("c3", 200),
    ]

    # Chunking by the operation's own maxItems (3): 7 items in 3 chunks, each its own key; the
    # chunk answered 503 is retried with the same key; l7's rejection maps back to index 6.
    assert report["batch"] == {
        "accepted": [0, 1, 2, 3, 4, 5],
        "rejected": [[6, "duplicate", "l7"]],
        "chunks": 3,
        "ok_otherwise": True,
    }
    posts = _exchanges(labels_report, client, "POST", "/api/labels")
    assert len(posts) == 4
    chunks: dict[tuple[str, ...], list[tuple[str | None, int]]] = {}
    for x in posts:
        chunks.setdefault(tuple(i["labelId"] for i in x["body"]), []).append((x["key"], x["status"]))
    assert sorted(chunks) == [("l1", "l2", "l3"), ("l4", "l5", "l6"), ("l7",)]
    retried = chunks[("l4", "l5", "l6")]
    assert [s for _, s in retried] == [503, 200]
    assert retried[0][0] == retried[1][0], "a retried chunk keeps its Idempotency-Key"
    keys = {k for attempts in chunks.values() for k, _ in attempts}
    assert None not in keys
    assert len(keys) == 3, "each chunk has its own key"

    # PATCH takes an Idempotency-Key, so its 503 is retried with the same key.
    assert report["patched"] == ["Label", "lbl-7", "Renamed"]
    patches = _exchanges(labels_report, client, "PATCH", "/api/labels/lbl-7")
    assert [x["status"] for x in patches] == [503, 200]
    assert patches[0]["key"] is not None
    assert patches[0]["key"] == patches[1]["key"]
    assert patches[0]["body"] == {"name": "Renamed"}
    assert patches[0]["query"] == {"notifyOwners": "true"}

    # PUT and DELETE are idempotent: retried after a 503; a 204 returns None.
    assert report["put"] == ["Label", "Replaced"]
    puts = _exchanges(labels_report, client, "PUT", "/api/labels/lbl-7")
    assert [x["status"] for x in puts] == [503, 200]
    assert puts[1]["body"] == {"labelId": "lbl-7", "name": "Replaced", "color": "#00ff00"}
    assert report["deleted"] == "None"
    assert [x["status"] for x in _exchanges(labels_report, client, "DELETE", "/api/labels/lbl-7")] == [503, 204]
    assert report["aliases"] == "None"
    aliases = _exchanges(labels_report, client, "PUT", "/api/labels/lbl-7/aliases")
    assert [(x["body"], x["status"]) for x in aliases] == [(["ops", "platform"], 503), (["ops", "platform"], 204)]

    # The new optional field is sent.
    assert report["resources_ok"] is True
    (resources,) = _exchanges(labels_report, client, "POST", "/api/resources")
    assert [x.get("costCenter") for x in resources["body"]] == ["cc-42"]

    # Metrics by the spec's route template, camelCase kept: [requests, successes, retries].
    assert report["metrics"] == {
        "GET /api/labels": [3, 3, 1],
        "POST /api/labels": [3, 3, 1],
        LABEL_ITEM: [1, 1, 1],
        "PUT /api/labels/{labelId}": [1, 1, 1],
        "DELETE /api/labels/{labelId}": [1, 1, 1],
        "PUT /api/labels/{labelId}/aliases": [1, 1, 1],
        "POST /api/resources": [1, 1, 0],
    }


def test_every_exchange_matches_the_changed_spec(labels_report: dict[str, Any]) -> None:
    validated = labels_report["validated"]
    assert len(validated) == len(labels_report["log"])
    assert {op for op, _ in validated} == {
        "get_labels",
        "post_labels",
        "patch_label",
        "put_label",
        "delete_label",
        "put_label_aliases",
        "post_resources",
    }
    assert ["delete_label", 204] in validated
    assert ["put_label_aliases", 204] in validated


def test_regenerated_package_typechecks(copy: Path, tmp_path: Path) -> None:
    """The new methods are typed as strictly as the checked-in ones (`make typecheck`)."""
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path), "generated/finops_api_client"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert run.returncode == 0, f"mypy --strict on the regenerated package:\n{run.stdout}\n{run.stderr}"


def files_under(root: Path, part: str) -> set[str]:
    base = root / part
    return {
        p.relative_to(base).as_posix()
        for p in base.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


@pytest.mark.parametrize("part", ["resilience", "codegen", "tests"])
def test_only_the_spec_changed(copy: Path, labels_report: dict[str, Any], part: str) -> None:
    """resilience/ is generic and codegen/ decides from the spec: changing the contract (and
    running the new client) touched neither, nor the tests."""
    original, copied = files_under(ROOT, part), files_under(copy, part)
    assert copied == original
    changed = [
        name for name in sorted(original) if not filecmp.cmp(ROOT / part / name, copy / part / name, shallow=False)
    ]
    assert not changed, f"files under {part}/ differ after regeneration: {changed}"
