"""`make demo` works end to end and never shows its API key (issue 4 point 8, issue 5 security)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_and_leaks_no_secret() -> None:
    canary = f"CANARY-demo-{uuid.uuid4().hex}"
    env = {**os.environ, "DEMO_API_KEY": canary, "DEMO_LOG_LEVEL": "DEBUG", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    steps = (
        "push 10,000 resources",
        "items stored twice: 0",
        "dry run:",
        "CircuitOpenError",
        "breaker: open -> half_open",
        "(all)",
    )
    for step in steps:
        assert step in out, f"demo output lacks {step!r}"
    assert canary not in out
    assert canary[-12:] not in out
