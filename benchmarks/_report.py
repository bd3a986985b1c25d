"""The printed table and ``benchmarks/RESULTS.md``: targets, per-variant figures, machine."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from ._measure import RowResult, Summary

__all__ = ["load_average", "machine_info", "render_markdown", "render_text"]

REPO = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev} (working tree has uncommitted changes)" if dirty else rev


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine_info(server_kind: str, server_version: str, pinning: str, load_at_start: str) -> list[tuple[str, str]]:
    return [
        ("Date (UTC)", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")),
        ("CPU", _cpu_model()),
        ("Cores", f"{os.cpu_count()} logical"),
        ("Pinning", pinning),
        ("Load average 1/5/15 min", f"{load_at_start} at start, {load_average()} at end (other work on the machine)"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
        (
            "Packages",
            ", ".join(
                f"{d} {_version(d)}"
                for d in ("httpx", "aiohttp", "httpx-aiohttp", "requests", "urllib3", "pybreaker", "tenacity")
            ),
        ),
        ("Server", f"{server_kind} {server_version}"),
        ("SDK revision", _git_revision()),
    ]


def _rate(s: Summary, value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _us(s: Summary) -> str:
    us = s.us_per_op()
    return f"{us:,.1f}" if us < 1000 else f"{us:,.0f}"


def _cpu(s: Summary) -> str:
    us = s.cpu_us
    if us is None:
        return "-"
    return f"{us:,.1f}" if us < 1000 else f"{us:,.0f}"


def render_text(rows: Sequence[RowResult]) -> str:
    lines: list[str] = []
    head = f"{'row':<14} {'check':<46} {'value':>10}  {'target':<18} result"
    lines += [head, "-" * len(head)]
    for row in rows:
        if row.error is not None:
            lines.append(f"{row.name:<14} {'ERROR: ' + row.error:<46}")
            continue
        for chk in row.checks:
            result = "met" if chk.met else "MISSED"
            lines.append(f"{row.name:<14} {chk.label:<46} {chk.shown:>10}  {chk.target:<18} {result}")
    details = [(row.name, c.detail) for row in rows for c in row.checks if c.detail]
    if details:
        lines.append("")
        lines += [f"{name}: {detail}" for name, detail in details]
    lines.append("")
    head2 = (
        f"{'row':<14} {'variant':<42} {'median':>10} {'min - max':>21} {'unit':<8} {'us/op':>8} "
        f"{'cpu us/op':>9} {'n/round':>8}"
    )
    lines += [head2, "-" * len(head2)]
    for row in rows:
        for s in row.summaries:
            span = f"{_rate(s, s.low)} - {_rate(s, s.high)}"
            lines.append(
                f"{row.name:<14} {s.name:<42} {_rate(s, s.median):>10} {span:>21} {s.unit:<8} {_us(s):>8} "
                f"{_cpu(s):>9} {s.n:>8,}"
            )
    notes = [(row.name, n) for row in rows for n in row.notes]
    if notes:
        lines.append("")
        lines += [f"{name}: {note}" for name, note in notes]
    return "\n".join(lines)


def render_markdown(
    rows: Sequence[RowResult], machine: Sequence[tuple[str, str]], command: str, rounds: int, elapsed: float
) -> str:
    out: list[str] = [
        "# Benchmark results",
        "",
        f"Produced by `{command}` (`make bench`) in {elapsed:.0f} s. Regenerate with the same command; "
        "`python -m benchmarks --smoke` runs every row with tiny counts and leaves this file alone.",
        "",
        "## Targets",
        "",
        "| Row | Check | Value | Target | Result | Detail |",
        "|---|---|---:|---|---|---|",
    ]
    for row in rows:
        if row.error is not None:
            out.append(f"| {row.name} | error: {row.error} | | | **ERROR** | |")
            continue
        for chk in row.checks:
            result = "met" if chk.met else "**MISSED**"
            out.append(f"| {row.name} | {chk.label} | {chk.shown} | {chk.target} | {result} | {chk.detail} |")
    out += [
        "",
        f"## Variants (median of {rounds} rounds, min - max)",
        "",
        "| Row | Variant | Median | Min - max | Unit | µs/op (median) | client CPU µs/op | Ops per round |",
        "|---|---|---:|---:|---|---:|---:|---:|",
    ]
    for row in rows:
        for s in row.summaries:
            out.append(
                f"| {row.name} | {s.name} | {_rate(s, s.median)} | {_rate(s, s.low)} - {_rate(s, s.high)} "
                f"| {s.unit} | {_us(s)} | {_cpu(s)} | {s.n:,} |"
            )
    out += ["", "## What each row measures", ""]
    for row in rows:
        out.append(f"- **{row.name}**: {row.measured}.")
        out += [f"  - {n}" for n in row.notes]
    out += [
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in machine],
        "",
        "## Method",
        "",
        f"- Every row: a warm-up, then {rounds} rounds; each round runs every variant once for a fixed number of",
        "  operations, in an order rotated by one each round. Figures are medians of the per-round rates, with the",
        "  min - max across rounds; ratios are ratios of medians of peers measured in the same run.",
        "- Server: nginx from `benchmarks/nginx.conf.template` (1 worker, keep-alive, access_log off, fixed",
        "  JSON bodies), on a free 127.0.0.1 port; client and server pinned to different CPUs where possible.",
        "- Every variant sends, reads and parses the JSON answer. FinOpsClient runs with every layer on:",
        "  API-key auth, circuit breaker, retries armed (max_retries=3), metrics, request ids, credential guard,",
        "  and its loggers at INFO into a discarding handler.",
        "- The machine is shared and noisy: compare ratios, not absolute rates, across runs. The client CPU",
        "  column (process CPU time of the client per operation, server excluded) is steadier than wall time",
        "  under load and shows where the client itself spends; targets are judged on wall-clock rates.",
        "- Where a target is missed: `python -m benchmarks --profile sync|sync-stub|async|bulk|failfast|layers`",
        "  (cProfile of the FinOpsClient loop, or a per-feature ablation over an in-process stub transport).",
        "",
    ]
    return "\n".join(out)
