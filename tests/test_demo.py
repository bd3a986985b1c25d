"""`make demo` works end to end, reads well, installs only what it needs and never shows its API key."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import pty
import re
import subprocess
import sys
import tomllib
import uuid
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from resilience import BatchProgress

ROOT = Path(__file__).resolve().parent.parent
CANARY = f"CANARY-demo-{uuid.uuid4().hex}"
TRANSITION = re.compile(r"\b(?:closed|open|half_open|forced_open) -> (?:closed|open|half_open|forced_open)\b")
OUTCOMES = re.compile(r"accepted [\d,]+  rejected [\d,]+  not delivered [\d,]+  outcome unknown [\d,]+")


def demo_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "DEMO_API_KEY": CANARY, "PYTHONPATH": str(ROOT), **extra}


@pytest.fixture(scope="module")
def demo_output() -> str:
    """One run of the demo, its output read through a pipe (not a terminal), logs at DEBUG."""
    done = subprocess.run(
        [sys.executable, "-m", "demo"],
        cwd=ROOT,
        env=demo_env(DEMO_LOG_LEVEL="DEBUG"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    return out


def test_demo_runs_and_leaks_no_secret(demo_output: str) -> None:
    steps = (
        "push 10,000 resources",
        "items stored twice: 0",
        "dry run:",
        "CircuitOpenError",
        "breaker: open -> half_open",
        "(all)",
    )
    for step in steps:
        assert step in demo_output, f"demo output lacks {step!r}"
    assert CANARY not in demo_output
    assert CANARY[-12:] not in demo_output


def test_each_breaker_transition_is_printed_once(demo_output: str) -> None:
    reported = re.findall(r"circuit breaker: \w+, (\d+) transitions", demo_output)
    assert len(reported) == 1, demo_output[-2000:]
    printed = [line for line in demo_output.splitlines() if TRANSITION.search(line)]
    assert len(printed) == int(reported[0]), "\n".join(printed)
    assert "circuit breaker 'http" not in demo_output  # the breaker's own log line would repeat the hook's


def test_summaries_are_readable_lines(demo_output: str) -> None:
    # The demo's own lines; the SDK's DEBUG log lines (headers and all) are not its to shape.
    lines = [x for x in demo_output.splitlines() if not x.startswith("   log ")]
    for label in ("first pass:", "resumed:", "optimizations:", "anomalies:", "forecasts:"):
        line = next((x for x in lines if x.strip().startswith(label)), None)
        assert line is not None, f"no {label!r} line"
        assert OUTCOMES.search(line), line
    own = "\n".join(lines)
    assert "{'" not in own  # no raw dict (or mapping repr)
    assert "['" not in own  # no raw list
    assert "DryRun(" not in own
    assert re.search(r"faults injected: \w+ \d+", own), own


def test_the_resume_pass_shows_progress(demo_output: str) -> None:
    first = re.findall(r"first pass \[[#.]+\] +([\d,]+)/([\d,]+) items", demo_output)
    resume = re.findall(r"resume +\[[#.]+\] +([\d,]+)/([\d,]+) items", demo_output)
    assert first, demo_output[-3000:]
    assert first[-1] == ("10,000", "10,000")
    assert resume, "the resume pass printed no progress"
    done, total = resume[-1]
    assert done == total
    assert int(total.replace(",", "")) < 10_000  # only what the first pass left


def screen(raw: str) -> list[str]:
    """What a terminal shows: text overwrites from the cursor, CR goes back to column 0,
    ESC[2K blanks the line, LF starts the next one (the pty turns LF into CR LF)."""
    rows: list[list[str]] = [[]]
    col = 0
    for token in re.split(r"(\x1b\[2K|\r|\n)", raw):
        row = rows[-1]
        if token == "\r":
            col = 0
        elif token == "\n":
            rows.append([])
            col = 0
        elif token == "\x1b[2K":
            row.clear()
        else:
            row[col : col + len(token)] = list(token)
            col += len(token)
    return ["".join(r) for r in rows]


def run_on_terminal(env: dict[str, str]) -> str:
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "demo"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=follower,
        )
    finally:
        os.close(follower)
    chunks: list[bytes] = []
    try:
        with contextlib.suppress(OSError):  # EIO once the demo has exited and the terminal is gone
            while data := os.read(leader, 65536):
                chunks.append(data)
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
        returncode = process.wait()
    out = b"".join(chunks).decode("utf-8", "replace")
    assert returncode == 0, out[-3000:]
    return out


def test_on_a_terminal_log_lines_never_break_the_progress_line() -> None:
    shown = screen(run_on_terminal(demo_env(DEMO_LOG_LEVEL="WARNING")))
    logs = [line for line in shown if "log resilience." in line]
    assert logs, "\n".join(shown)  # the injected faults make the retry layer log while progress runs
    for line in logs:
        assert line.startswith("   log resilience."), line
        assert not re.search(r"\[[#.]+\] +[\d,]+/", line), line
    assert any(re.search(r"first pass \[#+\] +10,000/10,000 items", line) for line in shown), "\n".join(shown)
    assert any(re.search(r"resume +\[#+\] +([\d,]+)/\1 items", line) for line in shown), "\n".join(shown)
    assert CANARY not in "\n".join(shown)


def test_console_redraws_the_progress_line_below_each_log_line() -> None:
    from demo._console import Console, ConsoleHandler

    stream = io.StringIO()
    console = Console(stream, tty=True, width=200)
    show = console.progress_printer("first pass")
    logger = logging.getLogger("demo-test-console")
    logger.propagate = False
    logger.addHandler(ConsoleHandler(console))
    try:
        show(BatchProgress("post_resources", 1000, 500, 500, 0, 0, 1, 2))
        logger.warning("retrying in 0.1s")
        console.line("a line of its own")
        show(BatchProgress("post_resources", 1000, 1000, 1000, 0, 0, 2, 2))
        console.line("after")
    finally:
        logger.handlers.clear()
    shown = screen(stream.getvalue())
    assert shown[0] == "retrying in 0.1s"
    assert shown[1] == "a line of its own"
    assert shown[2].startswith("   first pass [############]  1,000/1,000 items")
    assert shown[3:] == ["after", ""]


def test_console_prints_whole_progress_lines_when_not_a_terminal() -> None:
    from demo._console import Console

    stream = io.StringIO()
    show = Console(stream, tty=False).progress_printer("resume")
    for n in range(1, 9):
        show(BatchProgress("post_resources", 800, 100 * n, 100 * n, 0, 0, n, 8))
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert [re.search(r"([\d,]+)/800 items", x).group(1) for x in lines] == ["200", "400", "600", "800"]  # type: ignore[union-attr]


def test_make_demo_installs_the_runtime_dependencies_only(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    plan = subprocess.run(
        ["make", "-n", "demo", f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    installs = [line for line in plan.splitlines() if "pip install" in line and "--upgrade pip" not in line]
    assert installs, plan
    assert all(line.rstrip().endswith("-e .") for line in installs), plan
    assert "dev" not in "\n".join(installs)
    announced = next(line for line in plan.splitlines() if "runtime dependencies only" in line)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for dependency in project["dependencies"]:
        assert Requirement(dependency).name in announced, announced
    assert "not the dev tools" in announced


def runtime_closure() -> set[str]:
    """The distributions finops-sdk needs at run time: its dependencies, without extras, and theirs."""
    seen: set[str] = set()
    todo = ["finops-sdk"]
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def imported_by(code: str) -> set[str]:
    probe = f"import json, sys{code}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=demo_env(), capture_output=True, text=True, timeout=60, check=True
    )
    return {name.split(".")[0] for name in json.loads(done.stdout)}


def test_demo_and_backend_import_only_the_runtime_dependencies() -> None:
    # What the interpreter loads by itself (site hooks such as setuptools' _distutils_hack) is not
    # ours, nor what a runtime dependency loads of what it finds installed (httpx imports click,
    # rich and pygments for its own CLI when the dev tools brought them).
    tops = imported_by(", demo.__main__, reference_backend.__main__") - imported_by(", httpx, attrs, tenacity, aiohttp")
    owners = metadata.packages_distributions()
    allowed = runtime_closure()
    ours = {"demo", "reference_backend", "resilience", "finops_api_client"}
    foreign = {
        top: owners[top]
        for top in tops - ours - set(sys.stdlib_module_names)
        if top in owners and not {d.lower().replace("_", "-") for d in owners[top]} & allowed
    }
    assert not foreign, f"imported from outside the runtime dependencies: {foreign}"
