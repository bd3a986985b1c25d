"""The README's usage example and its stand-alone backend commands run as written."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from finops_api_client import FinOpsClient

from reference_backend import ReferenceBackend

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def test_usage_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    example = next(b for b in blocks if "FinOpsClient(" in b and "post_resources" in b)
    with ReferenceBackend(api_key="readme-key", require_auth=True) as backend:
        backend.add_items(
            "optimizations",
            [{"optimizationId": "opt-1", "resourceId": "r", "optimizationType": "RIGHTSIZE", "estimatedSavings": 1.0}],
        )
        code = example.replace('"https://finops.example.com"', repr(backend.url)).replace(
            'api_key="..."', 'api_key="readme-key"'
        )
        namespace: dict[str, object] = {}
        exec(compile(code, "README.md", "exec"), namespace)
        assert backend.stats().items_stored >= 2  # the resource and the optimization
        assert backend.stored_ids("resources") == ["i-123"]


def readme_shell_block() -> list[list[str]]:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.S)
    block = next(b for b in blocks if "-m reference_backend" in b)
    return [shlex.split(line, comments=True) for line in block.splitlines()]


@pytest.fixture
def readme_backend() -> Iterator[tuple[str, dict[str, str], list[list[str]]]]:
    """The stand-alone backend started exactly as the README says (port 0 for 5002: a free one),
    its URL as ``FINOPS_API_URL``, the README's ``export`` lines, and its other commands."""
    commands = [words for words in readme_shell_block() if words]
    serve = next(words for words in commands if words[1:3] == ["-m", "reference_backend"])
    assert serve[0] == ".venv/bin/python"
    argv = [sys.executable, *serve[1:]]
    argv[argv.index("--port") + 1] = "0"
    exports = dict(words[1].split("=", 1) for words in commands if words[0] == "export")
    others = [words for words in commands if words is not serve and words[0] != "export"]
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert " on http://127.0.0.1:" in line, line + (process.stderr.read() if process.stderr else "")
        port = line.split(" on http://127.0.0.1:", 1)[1].split()[0]
        yield f"http://localhost:{port}", exports, others
        process.send_signal(signal.SIGINT)  # the README's Ctrl-C
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_standalone_backend_serves_a_bare_client(
    readme_backend: tuple[str, dict[str, str], list[list[str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, exports, _ = readme_backend
    assert set(exports) == {"FINOPS_API_KEY"}
    for name in [n for n in os.environ if n.startswith("FINOPS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FINOPS_API_URL", url)  # the README's default, http://localhost:5002, on the free port
    for name, value in exports.items():
        monkeypatch.setenv(name, value)
    with FinOpsClient() as client:
        assert client.get_resources().data
        assert [r.resource_id for r in client.iter_resources()]
        assert client.get_optimizations().data
        assert client.get_anomalies().data
        assert client.get_budget_forecasts().data


def test_readme_client_command_prints_the_demo_resources(
    readme_backend: tuple[str, dict[str, str], list[list[str]]],
) -> None:
    url, exports, others = readme_backend
    (command,) = others
    assert command[:2] == [".venv/bin/python", "-c"]
    env = {"PATH": os.environ.get("PATH", ""), **exports, "FINOPS_API_URL": url}  # only what the README names
    done = subprocess.run(
        [sys.executable, *command[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "i-0a1b2c3d4e5f60001" in done.stdout
