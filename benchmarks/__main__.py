"""Entry point: ``python -m benchmarks [--smoke] [--only ROW ...] [--profile WHAT]``."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path

from ._clients import configure_sdk_logging
from ._measure import RowResult
from ._profile import PROFILES, profile
from ._report import load_average, machine_info, render_markdown, render_text
from ._rows import ROWS, Counts
from ._server import ServerError, pin_current_process, start_server

RESULTS = Path(__file__).with_name("RESULTS.md")
SMOKE_RESULTS = Path(tempfile.gettempdir()) / "finops-bench-smoke-RESULTS.md"
ROW_NAMES = {
    "sync": ("sync overhead", "old design"),
    "async": ("async",),
    "bulk": ("bulk ingest",),
    "failfast": ("fail fast",),
    "threads": ("threads",),
    "memory": ("memory",),
    "ingest": ("bulk ingest, in process",),
    "read": ("bulk read, in process",),
    "aiohttp": ("async vs aiohttp",),
    "stdlib": ("sync vs stdlib",),
    "otel": ("otel hook",),
    "fleet": ("fleet probes", "fleet cost", "fleet fallback"),
    "outbox": ("ingest with outbox", "outbox replay"),
}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--smoke", action="store_true", help="every row with tiny counts (< 30 s); RESULTS.md untouched")
    p.add_argument("--rounds", type=int, default=None, help="rounds per row (default: 7, smoke: 2)")
    p.add_argument("--only", nargs="+", choices=sorted(ROWS), help="run only these row groups")
    p.add_argument("--output", type=Path, default=None, help="where to write the markdown results")
    p.add_argument(
        "--server",
        choices=("auto", "stdlib"),
        default="auto",
        help="auto: nginx (stdlib fallback in smoke mode when nginx is missing); stdlib: force the fallback",
    )
    p.add_argument("--profile", choices=PROFILES, help="cProfile the FinOpsClient loop of a row instead")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    counts = Counts.smoke() if args.smoke else Counts.full()
    if args.rounds is not None:
        counts = replace(counts, rounds=max(1, args.rounds))
    command = "python -m benchmarks" + (" --smoke" if args.smoke else "")
    configure_sdk_logging()
    pinning = pin_current_process()
    load_at_start = load_average()
    t0 = time.perf_counter()
    try:
        server = start_server(smoke=args.smoke, pin=not pinning.startswith("not"), kind=args.server)
    except ServerError as exc:
        print(f"benchmarks: cannot start the server: {exc}", file=sys.stderr)
        return 2
    rows: list[RowResult] = []
    failed = False
    with server:
        print(f"server: {server.kind} {server.version} at {server.url}; {pinning}", flush=True)
        if args.profile:
            print(profile(server, args.profile, rounds=counts.rounds))
            return 0
        for key in args.only or list(ROWS):
            started = time.perf_counter()
            print(f"running {' + '.join(ROW_NAMES[key])} ...", flush=True)
            try:
                rows += ROWS[key](server, counts)
            except Exception as exc:
                failed = True
                traceback.print_exc()
                rows += [RowResult(name, "", error=f"{type(exc).__name__}: {exc}") for name in ROW_NAMES[key]]
            print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
    elapsed = time.perf_counter() - t0
    print()
    print(render_text(rows))
    complete = not args.smoke and not args.only and args.server == "auto"
    target = args.output or (RESULTS if complete else SMOKE_RESULTS)
    md = render_markdown(
        rows, machine_info(server.kind, server.version, pinning, load_at_start), command, counts.rounds, elapsed
    )
    target.write_text(md)
    missed = sum(1 for r in rows for c in r.checks if not c.met)
    print(f"\n{missed} target(s) missed; results written to {target} ({elapsed:.0f} s in all)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
