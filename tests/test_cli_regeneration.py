"""A new operation in openapi.yaml gets its ``finops`` command with `make generate` alone.

The repository is copied and its spec changed as in test_regeneration.py (``get_savings``, and a
``labels`` tag with a list, a batch POST of at most 3 items, PATCH, PUT, DELETE and a PUT of a
list body), regenerated, then ``python -m finops_cli`` from the copy (finops_cli/ unchanged)
lists and pushes labels, shows the savings and deletes a label against a loopback server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.test_regeneration import copy

__all__ = ["copy"]  # the module-scoped regenerated copy this module uses

NOW = "2025-01-01T00:00:00Z"


def finops_from(copy: Path, url: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINOPS_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(copy / "generated"), str(copy)]),
        FINOPS_API_URL=url,
        FINOPS_API_KEY="sk-regen",
        FINOPS_CONFIG_FILE=str(copy / "no-config"),
        FINOPS_SHARED_CREDENTIALS_FILE=str(copy / "no-credentials"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "finops_cli", *args], input=stdin, capture_output=True, env=env, timeout=120, check=False
    )
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


def test_new_operations_get_their_commands(copy: Path, httpserver: HTTPServer) -> None:
    url = httpserver.url_for("/").rstrip("/")
    shown = finops_from(copy, url, "--help")
    assert shown.returncode == 0, shown.stderr
    for command in ("get-savings", "patch-label", "put-label", "delete-label", "put-label-aliases", "approve"):
        assert f"  {command} " in shown.stdout
    assert "labels" in finops_from(copy, url, "list", "--help").stdout
    assert "labels" in finops_from(copy, url, "push", "--help").stdout
    assert "--notify-owners" in finops_from(copy, url, "patch-label", "--help").stdout

    posted: list[list[dict[str, str]]] = []

    def ingest(request: Request) -> Response:
        posted.append(json.loads(request.data))
        body = {"success": True, "accepted": len(posted[-1]), "rejected": [], "timestamp": NOW}
        return Response(json.dumps(body), 200, content_type="application/json")

    page = {"success": True, "data": [{"labelId": "l1", "name": "team"}], "nextCursor": None, "timestamp": NOW}
    httpserver.expect_request("/api/labels", method="POST").respond_with_handler(ingest)
    httpserver.expect_request("/api/labels", method="GET").respond_with_json(page)
    httpserver.expect_request("/api/savings", method="GET").respond_with_json({"totalSavings": 12.5, "currency": "EUR"})
    httpserver.expect_request("/api/labels/l1", method="DELETE").respond_with_data("", status=204)
    httpserver.expect_request("/api/labels/l1", method="PUT").respond_with_json({"labelId": "l2", "name": "n"})

    labels = "".join(json.dumps({"labelId": f"l{n}", "name": f"label {n}"}) + "\n" for n in range(7))
    pushed = finops_from(copy, url, "push", "labels", "-", stdin=labels.encode())
    assert pushed.returncode == 0, pushed.stderr
    assert [len(chunk) for chunk in posted] == [3, 3, 1]  # the new operation's own maxItems
    listed = finops_from(copy, url, "list", "labels")
    assert [json.loads(line) for line in listed.stdout.splitlines()] == page["data"]
    savings = finops_from(copy, url, "get-savings")
    assert json.loads(savings.stdout) == {"totalSavings": 12.5, "currency": "EUR"}
    assert finops_from(copy, url, "delete-label", "l1").returncode == 0
    # a body field that repeats the path parameter (PUT /api/labels/{labelId} with labelId)
    put = finops_from(copy, url, "put-label", "l1", "--label-id", "l2", "--name", "n")
    assert put.returncode == 0, put.stderr
    sent = httpserver.log[-1][0]
    assert (sent.path, json.loads(sent.data)) == ("/api/labels/l1", {"labelId": "l2", "name": "n"})
