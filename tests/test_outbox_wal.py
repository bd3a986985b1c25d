"""The outbox file's checkpoints: run on a thread of their own, the WAL kept bounded, the thread stopped."""

from __future__ import annotations

import gc
import logging
import os
import signal
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
    At most the mark, one push's record and its settles' rewritten pages (a mark of 16 MiB
    here, the store's own is 128 MiB)."""
    store._checkpoints.close()
    store._checkpoints = WalCheckpointer(tmp_path / "outbox.db", 30.0, every=4 * MIB, high_water=16 * MIB)
    write = 60 * 150_000
    largest = 0
    for r in range(24):  # 216 MB in all
        batch = chunks(f"r{r}", 60, 150_000)
        store.record(batch, "me")
        for c in batch:
            store.settle(c.key)
        store.flush()
        largest = max(largest, (tmp_path / "outbox.db-wal").stat().st_size)
    assert largest <= 16 * MIB + 2 * write


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


def outbox_file(tmp_path: Path) -> Path:
    SQLiteOutbox(tmp_path / "outbox.db").close()
    return tmp_path / "outbox.db"


def test_wrote_asks_for_a_checkpoint_every_so_many_bytes(tmp_path: Path) -> None:
    checkpointer = WalCheckpointer(outbox_file(tmp_path), busy_timeout=1.0, every=100)
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
    checkpointer = WalCheckpointer(outbox_file(tmp_path), busy_timeout=1.0)
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


def test_the_thread_never_creates_a_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Only the store creates the outbox file (0600): a thread for a file that is not there fails."""
    checkpointer = WalCheckpointer(tmp_path / "outbox.db", busy_timeout=0.1)
    with caplog.at_level(logging.WARNING, logger="resilience.outbox"):
        checkpointer.request()
        assert checkpointer.wait_idle(30)
    checkpointer.close()
    assert not (tmp_path / "outbox.db").exists()
    assert [r.message for r in caplog.records] == ["the outbox's checkpoint thread stopped"]


def test_a_store_never_closed_stops_its_thread_when_it_is_gone(tmp_path: Path) -> None:
    before = len(checkpoint_threads())
    s = SQLiteOutbox(tmp_path / "outbox.db")
    s.record(chunks("a", 1, 10), "me")
    s.flush()
    assert len(checkpoint_threads()) == before + 1
    del s
    gc.collect()
    assert len(checkpoint_threads()) == before


def test_a_thread_that_cannot_start_fails_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """No thread to be had: the write that asked succeeds, nobody waits, the writer's own
    checkpoints take over."""

    class NoThread(threading.Thread):
        def start(self) -> None:
            raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading, "Thread", NoThread)  # the module reads threading.Thread when it starts one
    s = SQLiteOutbox(tmp_path / "outbox.db")
    try:
        with caplog.at_level(logging.WARNING, logger="resilience.outbox"):
            s.record(chunks("a", 20, MIB), "me")
            s.flush()
        assert s._checkpoints.wait_idle(0)
        assert not s._checkpoints.running
        assert s.stats().pending_chunks == 20
        assert [r.message for r in caplog.records] == ["the outbox's checkpoint thread could not start"]
    finally:
        s.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() only")
def test_a_forked_child_starts_over_though_a_parent_thread_held_the_lock(tmp_path: Path) -> None:
    """The child gets copies of the locks, possibly held by a thread it does not have: it
    starts over with fresh ones (without, its first request would hang)."""
    checkpointer = WalCheckpointer(outbox_file(tmp_path), busy_timeout=1.0)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with checkpointer._lock:
            held.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(30)
    try:
        pid = os.fork()
        if pid == 0:  # the child: one request, then out, whatever happens
            ok = False
            try:
                checkpointer.request()
                ok = checkpointer.wait_idle(30)
            finally:
                os._exit(0 if ok else 1)
        deadline = 300  # x 0.1 s of polling: a hung child is killed, not waited for forever
        status = None
        while deadline and status is None:
            done, code = os.waitpid(pid, os.WNOHANG)
            status = code if done else None
            if status is None:
                deadline -= 1
                release.wait(0.1)
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        assert status is not None
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        release.set()
        holder.join()
        checkpointer.close()
