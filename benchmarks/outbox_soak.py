"""The outbox soak (``make outbox-soak``, not in CI): the crash test at 1,000 kill moments.

The crash test's jobs, killed at 1,000 seeded moments per client (sync and async), then the
figures: kill moments, items, lost, stored twice. ``--moments N`` runs fewer."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.outbox_crash import CrashFigures, run_moments


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--moments", type=int, default=1000, help="kill moments per client (default 1000)")
    p.add_argument("--items", type=int, default=200, help="resources each job pushes (default 200)")
    p.add_argument("--seed", type=int, default=20261201)
    args = p.parse_args(argv)
    started = time.monotonic()

    def run(mode: str) -> CrashFigures:
        with tempfile.TemporaryDirectory() as tmp:
            return run_moments(
                Path(tmp),
                mode=mode,
                moments=args.moments,
                items_per_moment=args.items,
                seed=args.seed,
                tell=lambda line: print(line, flush=True),
            )

    with ThreadPoolExecutor(2) as pool:
        figures = dict(zip(("sync", "async"), pool.map(run, ("sync", "async")), strict=True))
    print(f"\noutbox soak, {time.monotonic() - started:.0f} s, seed {args.seed}")
    print("| client | kill moments | killed running | after the record | items | lost | stored twice | dead letters |")
    print("|---|---|---|---|---|---|---|---|")
    for mode, f in figures.items():
        row = [mode, f"{f.moments:,}", f"{f.kills:,}", f"{f.after_record:,}", f"{f.items:,}"]
        row += [str(f.lost), str(f.stored_twice), str(f.dead_letters)]
        print("| " + " | ".join(row) + " |")
    return 0 if all(f.lost == f.stored_twice == f.dead_letters == 0 for f in figures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
