"""The outbox file's checkpoints: run on a thread of their own, the WAL kept bounded, the thread stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from resilience import NewChunk, SQLiteOutbox
from resilience._outbox_wal import CHECKPOINT_EVERY, HIGH_WATER_PAGES, PAGE_SIZE, WalCheckpointer

MIB = 1024 * 1024
THREAD = "finops-outbox-checkpoint"


def chunks(tag: str, n: int, size: int) -> list[NewChunk]:
    body = b"x" * size
    return [NewChunk(f"{tag}-{i}", "post_resources", "/api/resources", body, 1) for i in range(n)]


def checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteOutbox]:
    s = SQLiteOutbox(tmp_path / "outbox.db")
    yield s
    s.close()


def test_what_a_push_wrote_reaches_the_file_without_the_writer_checkpointing(
    store: SQLiteOutbox, tmp_path: Path
) -> None:
    """20 MiB recorded is far below the writer's own threshold (128 MiB), yet it is copied
    into the outbox file: by the checkpoint thread, while the writer went on."""
    assert HIGH_WATER_PAGES * PAGE_SIZE > 5 * CHECKPOINT_EVERY
    store.record(chunks("a", 20, MIB), "me")
    assert store._checkpoints.wait_idle(30)
    assert (tmp_path / "outbox.db").stat().st_size >= 20 * MIB


def test_a_writer_that_never_pauses_keeps_the_wal_under_its_high_water_mark(
    store: SQLiteOutbox, tmp_path: Path
) -> None:
    """Record and settle back to back, never leaving the checkpoint thread a pause to catch
    up in: a large write waits for it past the mark, so the WAL starts over, not grows on.
    At most the mark, one push's record and its settles' rewritten pages."""
    write = 200 * 150_000
    largest = 0
    for r in range(16):  # 480 MB in all, in chunks of a push's size
        batch = chunks(f"r{r}", 200, 150_000)
        store.record(batch, "me")
        for c in batch:
            store.settle(c.key)
        store.flush()
        largest = max(largest, (tmp_path / "outbox.db-wal").stat().st_size)
    assert largest <= HIGH_WATER_PAGES * PAGE_SIZE + 2 * write


def test_past_its_high_water_mark_the_wal_is_checkpointed_before_the_next_write(
    store: SQLiteOutbox, tmp_path: Path
) -> None:
    """A checkpointer never asked by the writes (``every`` too large) is still waited for
    once the WAL is past its mark: the next write starts the WAL over."""
    store._checkpoints.close()
    store._checkpoints = WalCheckpointer(tmp_path / "outbox.db", 5.0, every=1 << 40, high_water=2 * MIB)
    store.record(chunks("a", 8, MIB), "me")
    assert (tmp_path / "outbox.db").stat().st_size < MIB  # still in the WAL only
    store.record(chunks("b", 1, 10), "me")
    assert (tmp_path / "outbox.db").stat().st_size >= 8 * MIB


def test_no_thread_before_a_write_and_none_after_close(tmp_path: Path) -> None:
    before = len(checkpoint_threads())
    s = SQLiteOutbox(tmp_path / "outbox.db")
    s.stats()
    s.dead_letters()
    assert not s._checkpoints.running
    assert len(checkpoint_threads()) == before
    s.record(chunks("a", 1, 10), "me")
    s.flush()
    assert s._checkpoints.running
    s.close()
    assert not s._checkpoints.running
    assert len(checkpoint_threads()) == before


def test_a_checkpoint_thread_that_cannot_open_the_file_gives_way(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A thread that fails is reported once, and the writer's own checkpoints take over:
    nobody waits for it."""
    checkpointer = WalCheckpointer(tmp_path / "gone" / "outbox.db", busy_timeout=0.1)
    with caplog.at_level(logging.WARNING, logger="resilience.outbox"):
        checkpointer.request()
        assert checkpointer.wait_idle(30)
    assert not checkpointer.running
    assert [r.message for r in caplog.records] == ["the outbox's checkpoint thread stopped"]
    checkpointer.request()  # no new thread, nothing to wait for
    assert checkpointer.wait_idle(0)
    assert not checkpointer.running
    checkpointer.close()


def test_wrote_asks_for_a_checkpoint_every_so_many_bytes(tmp_path: Path) -> None:
    checkpointer = WalCheckpointer(tmp_path / "outbox.db", busy_timeout=1.0, every=100)
    try:
        checkpointer.wrote(60)
        assert not checkpointer.running  # 60 of 100 bytes: not yet
        checkpointer.wrote(60)
        assert checkpointer.running
        assert checkpointer.wait_idle(30)
    finally:
        checkpointer.close()
    assert not checkpointer.running


def test_a_thread_that_is_gone_without_a_word_is_started_again(tmp_path: Path) -> None:
    """As in a child process after ``fork()``: the object says a thread runs, none does."""
    checkpointer = WalCheckpointer(tmp_path / "outbox.db", busy_timeout=1.0)
    gone = threading.Thread(target=lambda: None)
    gone.start()
    gone.join()
    checkpointer._thread = gone
    try:
        checkpointer.request()
        assert checkpointer.running
        assert checkpointer.wait_idle(30)
    finally:
        checkpointer.close()
