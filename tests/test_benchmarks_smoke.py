"""The benchmark harness runs end to end in smoke mode; no timed assertions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROWS = (
    "sync overhead",
    "old design",
    "async",
    "bulk ingest",
    "fail fast",
    "threads",
    "memory",
    "bulk ingest, in process",
    "bulk read, in process",
    "async vs aiohttp",
    "sync vs stdlib",
    "otel hook",
    "fleet probes",
    "fleet cost",
    "fleet fallback",
    "ingest with outbox",
    "outbox replay",
)


def test_benchmarks_smoke_runs_every_row() -> None:
    results = ROOT / "benchmarks" / "RESULTS.md"
    before = results.read_bytes() if results.exists() else None
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    for row in ROWS:
        assert row in proc.stdout, f"row {row!r} missing from the output:\n{proc.stdout[-4000:]}"
    assert "ERROR" not in proc.stdout, proc.stdout[-4000:]
    after = results.read_bytes() if results.exists() else None
    assert after == before, "--smoke must not overwrite benchmarks/RESULTS.md"
