"""The outbox crash harness: cron-like child jobs SIGKILLed at seeded moments, then a fresh replay.

Each child job does what the README tells a cron job to do: replay the outbox, push its own
resources (one batch call), done. The parent serves the reference backend (deduplicating by
Idempotency-Key, with a seeded fault plan) on a loopback port, kills each child with SIGKILL
at a seeded moment, and in the end a fresh process replays until nothing is pending. Used by
``tests/test_outbox_crash.py`` (20 moments in ``make test``) and ``benchmarks/outbox_soak.py``
(``make outbox-soak``, 1,000). Run as ``python -m tests.outbox_crash child ...`` for a child.

A job killed before its batch call recorded anything has handed nothing over: nothing of its
items is on the server or in the outbox; the final process pushes them (as a cron job reading
its source again would). Every other item must end on the server exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

API_KEY = "crash-key"
LEASE = 10.0  # seconds a chunk is leased
STEP = LEASE + 1.0  # each later process sees the wall clock this much further: earlier leases expired
ROOT = Path(__file__).resolve().parent.parent


@attrs.frozen
class CrashFigures:
    """What a run of kill moments ended with."""

    moments: int
    kills: int  # children killed while still running
    after_record: int  # of those, killed after their batch call was on disk (mid-push)
    paused: int  # killed while paused after a seeded chunk: mid-push by construction
    planned_pauses: int  # the moments the seed chose to be such pauses
    items: int
    lost: int
    stored_twice: int
    dead_letters: int
    replay_rounds: int


# -- the child ----------------------------------------------------------------------------------


def _items(ranges: list[tuple[int, int]]) -> list[dict[str, Any]]:
    from tests.support import resource

    return [resource(n) for a, b in ranges for n in range(a, b)]


def _client_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    from resilience import SQLiteOutbox

    offset = args.moment * STEP
    store = SQLiteOutbox(args.outbox, lease=LEASE, max_attempts=10**6, wall_clock=lambda: time.time() + offset)
    return {
        "api_key": API_KEY,
        "allow_insecure_http": True,
        "outbox": store,
        "timeout": 0.25,
        "enable_circuit_breaker": False,
        "max_retries": 2,
    }


def _child_sync(args: argparse.Namespace, ranges: list[tuple[int, int]]) -> dict[str, Any]:
    from finops_api_client import FinOpsClient

    with FinOpsClient(args.url, sleep=lambda s: None, **_client_kwargs(args)) as client:
        outbox = client.outbox
        assert outbox is not None
        print("ready", flush=True)
        rounds = 0
        while True:
            rounds += 1
            report = outbox.replay()
            if not args.replay_only or report.chunks_pending == 0 or rounds >= 200:
                break
        if ranges:
            client.post_resources(_items(ranges), chunk_size=args.chunk_size, progress=_pause_after(args.pause_after))
        return {
            "rounds": rounds,
            "stats": attrs.asdict(outbox.stats()),
            "dead": [d.reason for d in outbox.dead_letters()],
        }


async def _child_async(args: argparse.Namespace, ranges: list[tuple[int, int]]) -> dict[str, Any]:
    from finops_api_client import AsyncFinOpsClient

    async def no_wait(seconds: float) -> None:
        await asyncio.sleep(0)

    async with AsyncFinOpsClient(args.url, asleep=no_wait, **_client_kwargs(args)) as client:
        outbox = client.outbox
        assert outbox is not None
        print("ready", flush=True)
        rounds = 0
        while True:
            rounds += 1
            report = await outbox.replay()
            if not args.replay_only or report.chunks_pending == 0 or rounds >= 200:
                break
        if ranges:
            await client.post_resources(
                _items(ranges), chunk_size=args.chunk_size, progress=_pause_after(args.pause_after)
            )
        return {
            "rounds": rounds,
            "stats": attrs.asdict(outbox.stats()),
            "dead": [d.reason for d in outbox.dead_letters()],
        }


def _pause_after(chunks: int) -> Callable[[Any], None]:
    """A progress callback that, after ``chunks`` chunks, says "paused" and blocks (the thread,
    or the whole event loop with the other chunks in flight) until the parent kills it."""

    def progress(event: Any) -> None:
        if event.chunks_done == chunks:
            print("paused", flush=True)
            threading.Event().wait()  # until the parent's SIGKILL: no time involved

    return progress


def _report(rounds: int, stats: Any, dead: list[Any]) -> dict[str, Any]:
    return {"rounds": rounds, "stats": attrs.asdict(stats), "dead": [d.reason for d in dead]}


def child_main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--outbox", required=True)
    p.add_argument("--mode", choices=["sync", "async"], required=True)
    p.add_argument("--moment", type=int, required=True)
    p.add_argument("--ranges", default="[]")
    p.add_argument("--chunk-size", type=int, default=100)
    p.add_argument("--replay-only", action="store_true")
    p.add_argument("--pause-after", type=int, default=-1, help="block after this many chunks, to be killed")
    args = p.parse_args(argv)
    ranges = [tuple(r) for r in json.loads(args.ranges)]
    run = _child_sync if args.mode == "sync" else None
    out = run(args, ranges) if run is not None else asyncio.run(_child_async(args, ranges))
    print("done " + json.dumps(out), flush=True)


# -- the parent ---------------------------------------------------------------------------------


def _spawn(url: str, outbox: Path, mode: str, moment: int, ranges: list[tuple[int, int]], *extra: str) -> Any:
    cmd = [sys.executable, "-m", "tests.outbox_crash", "child", "--url", url, "--outbox", str(outbox)]
    cmd += ["--mode", mode, "--moment", str(moment), "--ranges", json.dumps(ranges), *extra]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _in_outbox(outbox: Path) -> set[str]:
    """The resource ids in the outbox's chunks (pending or dead), read by a plain connection."""
    if not outbox.exists():
        return set()
    db = sqlite3.connect(outbox, timeout=10)
    try:
        return {item["resourceId"] for (body,) in db.execute("SELECT body FROM chunks") for item in json.loads(body)}
    finally:
        db.close()


def run_moments(
    workdir: Path,
    *,
    mode: str,
    moments: int,
    items_per_moment: int,
    seed: int,
    max_delay: float = 0.6,
    fault_rate: float = 0.2,
    tell: Callable[[str], None] = lambda line: None,
) -> CrashFigures:
    """``moments`` child jobs, each killed at a seeded moment, then a fresh replay; figures."""
    from reference_backend import FAULT_KINDS, FaultPlan, ReferenceBackend
    from tests.support import resource_id

    rng = random.Random(seed)
    outbox = workdir / f"outbox-{mode}.db"
    plan = FaultPlan(seed=seed, rate=fault_rate, kinds=list(FAULT_KINDS), methods=["POST"], slow_seconds=0.3)
    kills = after_record = paused = planned = 0
    with ReferenceBackend(api_key=API_KEY, require_auth=True, fault_plan=plan) as backend:
        carried: list[tuple[int, int]] = []  # items a killed job never handed over: pushed by the final process
        for moment in range(moments):
            mine = (moment * items_per_moment, (moment + 1) * items_per_moment)
            chunks = -(-items_per_moment // 100)
            pause = rng.randrange(-chunks, chunks)
            extra = ["--pause-after", str(pause)] if pause > 0 else []
            planned += pause > 0
            child = _spawn(backend.url, outbox, mode, moment, [mine], *extra)
            assert child.stdout is not None
            ready = child.stdout.readline()
            if ready.strip() != "ready":
                _, err = child.communicate(timeout=60)
                raise RuntimeError(f"child {moment} did not start: {ready!r} {err[-2000:]}")
            delay = rng.uniform(0.0, max_delay)
            if pause > 0:  # half the moments: after a seeded chunk, the call on disk, the rest to go
                line = "ready"
                while line and line.strip() != "paused":
                    line = child.stdout.readline()
                paused += line.strip() == "paused"
            else:  # the other half: a seeded time after the start, anywhere in the job
                time.sleep(delay)
            running = child.poll() is None
            child.send_signal(signal.SIGKILL)
            child.communicate(timeout=60)
            there = set(backend.stored_ids("resources")) | _in_outbox(outbox)
            recorded = any(resource_id(n) in there for n in range(*mine))
            kills += running
            after_record += running and recorded
            if not recorded:
                carried.append(mine)
            if moment % 50 == 0:
                tell(f"{mode}: moment {moment}, {kills} kills, {after_record} after the record")
        final = _spawn(backend.url, outbox, mode, moments, carried, "--replay-only")
        out, err = final.communicate(timeout=600)
        if final.returncode != 0:
            raise RuntimeError(f"the final replay failed: {err[-3000:]}")
        report = json.loads(out.splitlines()[-1].removeprefix("done "))
        if carried:  # the last job's items, pushed by the final process: replay once more
            again = _spawn(backend.url, outbox, mode, moments + 1, [], "--replay-only")
            out, err = again.communicate(timeout=600)
            report = json.loads(out.splitlines()[-1].removeprefix("done "))
        stored = backend.stored_ids("resources")
        stats = backend.stats()
    expected = {resource_id(n) for n in range(moments * items_per_moment)}
    return CrashFigures(
        moments=moments,
        kills=kills,
        after_record=after_record,
        paused=paused,
        planned_pauses=planned,
        items=len(expected),
        lost=len(expected - set(stored)),
        stored_twice=stats.duplicate_items_without_key + (len(stored) - len(set(stored))),
        dead_letters=len(report["dead"]),
        replay_rounds=int(report["rounds"]),
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        child_main(sys.argv[2:])
    else:
        sys.exit("usage: python -m tests.outbox_crash child --url URL --outbox PATH --mode sync|async ...")
