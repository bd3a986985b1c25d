"""The crash test (issue 12, point 8): cron-like jobs pushing 20,000 resources each for the sync
and the async client through injected faults, with an outbox, SIGKILLed at 20 seeded moments;
then a fresh process replays until nothing is pending. The backend (deduplicating by
Idempotency-Key) must hold every item exactly once. The harness is ``tests/outbox_crash.py``;
``make outbox-soak`` runs 1,000 moments."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.outbox_crash import CrashFigures, run_moments

MOMENTS = 20
ITEMS = 20_000


def test_killed_jobs_lose_nothing_and_store_nothing_twice(tmp_path: Path) -> None:
    def run(mode: str) -> CrashFigures:
        folder = tmp_path / mode
        folder.mkdir()
        return run_moments(folder, mode=mode, moments=MOMENTS, items_per_moment=ITEMS // MOMENTS, seed=20261201)

    with ThreadPoolExecutor(2) as pool:  # the two runs wait on their children: side by side
        figures = dict(zip(("sync", "async"), pool.map(run, ("sync", "async")), strict=True))
    for mode, f in figures.items():
        assert f.items == ITEMS, mode
        assert f.paused == f.planned_pauses >= 1, (mode, f)  # seeded moments killed mid-push by construction
        assert f.after_record >= f.paused, (mode, f)
        assert (f.lost, f.stored_twice, f.dead_letters) == (0, 0, 0), (mode, f)
