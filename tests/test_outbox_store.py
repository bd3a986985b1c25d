"""The SQLite outbox on its own: records, leases, retention, the cap, dead letters, and bad files."""

from __future__ import annotations

import multiprocessing
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from resilience import (
    ConfigurationError,
    NewChunk,
    Outbox,
    OutboxFullError,
    OutboxUnusableError,
    SQLiteOutbox,
)
from resilience._outbox import KEY_EXPIRED
from resilience._outbox_sqlite import new_owner
from tests.support import FakeTime


def chunk(n: int, size: int = 10) -> NewChunk:
    return NewChunk(f"key-{n}", "post_resources", "/api/resources", b"x" * size, 3)


@pytest.fixture
def store(tmp_path: Path, ft: FakeTime) -> Iterator[SQLiteOutbox]:
    s = SQLiteOutbox(tmp_path / "outbox.db", wall_clock=ft.wall, lease=60, retention=3600, max_attempts=3)
    yield s
    s.close()


def test_the_store_is_an_outbox(store: SQLiteOutbox) -> None:
    assert isinstance(store, Outbox)


def test_recorded_chunks_are_leased_to_the_recorder_then_released_to_anyone(store: SQLiteOutbox) -> None:
    store.record([chunk(1), chunk(2)], "me")
    assert store.claim("other", 10) == []  # leased by the recording call
    store.release("key-1", None)
    claimed = store.claim("other", 10)
    assert [c.key for c in claimed] == ["key-1"]
    assert claimed[0].body == b"x" * 10
    assert claimed[0].items == 3
    assert claimed[0].attempts == 0
    s = store.stats()
    assert (s.pending_chunks, s.pending_items, s.dead_letters, s.bytes) == (2, 6, 0, 20)


def test_claim_is_oldest_first_and_settle_forgets(store: SQLiteOutbox, ft: FakeTime) -> None:
    for n in range(5):
        store.record([chunk(n)], "me")
        store.release(f"key-{n}", None)
        ft.advance(1)
    assert store.stats().oldest_age == pytest.approx(5)
    assert [c.key for c in store.claim("r", 2)] == ["key-0", "key-1"]
    assert [c.key for c in store.claim("r", 10)] == ["key-2", "key-3", "key-4"]
    store.settle("key-0")
    assert store.stats().pending_chunks == 4


def test_an_expired_lease_is_claimable_again(store: SQLiteOutbox, ft: FakeTime) -> None:
    store.record([chunk(1)], "dead-process")
    assert store.claim("me", 10) == []
    ft.advance(61)
    assert [c.key for c in store.claim("me", 10)] == ["key-1"]


def test_failures_count_until_the_chunk_is_a_dead_letter(store: SQLiteOutbox) -> None:
    store.record([chunk(1)], "me")
    store.release("key-1", None)  # not sent: not an attempt
    for _ in range(3):
        assert store.dead_letters() == []
        (c,) = store.claim("me", 1)
        store.release(c.key, "APIConnectionError: refused")
    (dead,) = store.dead_letters()
    assert dead.key == "key-1"
    assert dead.attempts == 3
    assert dead.reason == "failed 3 times, last: APIConnectionError: refused"
    assert store.claim("me", 1) == []


def test_a_chunk_older_than_the_retention_is_a_dead_letter_never_replayed(store: SQLiteOutbox, ft: FakeTime) -> None:
    store.record([chunk(1), chunk(2)], "me")
    store.release("key-1", None)
    store.release("key-2", None)
    ft.advance(1800)
    store.record([chunk(3)], "me")
    store.release("key-3", None)
    ft.advance(1800)
    assert [c.key for c in store.claim("me", 10)] == ["key-3"]
    assert {(d.key, d.reason) for d in store.dead_letters()} == {("key-1", KEY_EXPIRED), ("key-2", KEY_EXPIRED)}


def test_requeue_and_purge_dead_letters(store: SQLiteOutbox) -> None:
    store.record([chunk(1), chunk(2), chunk(3)], "me")
    for n in (1, 2, 3):
        store.dead_letter(f"key-{n}", "refused by the server: 400")
    assert store.requeue(["key-1"]) == 1
    assert [c.key for c in store.claim("me", 10)] == ["key-1"]
    assert store.purge(["key-2"]) == 1
    assert [d.key for d in store.dead_letters()] == ["key-3"]
    assert store.purge() == 1
    assert store.stats().dead_letters == 0
    assert store.stats().bytes == 10  # key-1 only


def test_full_refuses_the_whole_call_and_records_nothing(tmp_path: Path) -> None:
    store = SQLiteOutbox(tmp_path / "o.db", max_bytes=100)
    store.record([chunk(1, 60)], "me")
    with pytest.raises(OutboxFullError, match="cap of 100"):
        store.record([chunk(2, 20), chunk(3, 30)], "me")
    assert store.stats().pending_chunks == 1
    store.close()


def test_the_file_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    first = SQLiteOutbox(path)
    first.record([chunk(1)], "me")
    first.close()
    again = SQLiteOutbox(path)
    assert again.stats().pending_chunks == 1
    again.close()


# -- bad input: a typed error when the store is opened; nothing is overwritten -------------------


def test_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(OutboxUnusableError, match="does not exist"):
        SQLiteOutbox(tmp_path / "nowhere" / "o.db")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutboxUnusableError, match="not writable"):
            SQLiteOutbox(folder / "o.db")
    finally:
        folder.chmod(0o700)


def test_a_file_that_is_not_sqlite_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"my precious notes\n" * 10)
    with pytest.raises(OutboxUnusableError, match="not an outbox") as info:
        SQLiteOutbox(path)
    assert isinstance(info.value, ConfigurationError)
    assert path.read_bytes() == b"my precious notes\n" * 10


def test_an_sqlite_file_of_something_else_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (name TEXT)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(OutboxUnusableError, match="not an outbox"):
        SQLiteOutbox(path)
    assert path.read_bytes() == before


def test_a_corrupt_outbox_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    SQLiteOutbox(path).close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the header stays, the schema page is garbage
    path.write_bytes(bytes(data))
    with pytest.raises(OutboxUnusableError):
        SQLiteOutbox(path)
    assert path.read_bytes() == bytes(data)


def test_a_newer_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    SQLiteOutbox(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(OutboxUnusableError, match="newer SDK"):
        SQLiteOutbox(path)


# -- two claimers on one file never lease one chunk ---------------------------------------------

N_CHUNKS = 400


def _claim_all(path: str, owner: str, out: list[str]) -> None:
    store = SQLiteOutbox(path)
    try:
        while True:
            got = store.claim(owner, 3)
            if not got:
                return
            out.extend(c.key for c in got)
    finally:
        store.close()


def _claim_in_process(path: str, owner: str, queue: multiprocessing.Queue[list[str]]) -> None:
    out: list[str] = []
    _claim_all(path, owner, out)
    queue.put(out)


def _fill(path: Path) -> None:
    store = SQLiteOutbox(path)
    store.record([chunk(n) for n in range(N_CHUNKS)], "recorder")
    for n in range(N_CHUNKS):
        store.release(f"key-{n}", None)
    store.close()


def test_threads_with_their_own_connections_never_claim_one_chunk_twice(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    _fill(path)
    results: list[list[str]] = [[] for _ in range(4)]
    threads = [threading.Thread(target=_claim_all, args=(str(path), f"t{i}", results[i])) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [k for r in results for k in r]
    assert sorted(every) == sorted(f"key-{n}" for n in range(N_CHUNKS))  # each once, none twice


def test_processes_never_claim_one_chunk_twice(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    _fill(path)
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[list[str]] = ctx.Queue()
    procs = [ctx.Process(target=_claim_in_process, args=(str(path), f"p{i}", queue)) for i in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    every = [k for r in results for k in r]
    assert sorted(every) == sorted(f"key-{n}" for n in range(N_CHUNKS))


def test_a_new_outbox_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """The bodies are the caller's data: the file (and SQLite's -wal and -shm beside it) 0600."""
    path = tmp_path / "o.db"
    store = SQLiteOutbox(path)
    store.record([chunk(1)], "me")
    for name in ("o.db", "o.db-wal", "o.db-shm"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
    store.close()


def test_free_orphans_frees_only_the_leases_of_gone_processes_on_this_host(store: SQLiteOutbox) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that ran on this host and is gone (reaped)
    host = socket.gethostname()
    store.record([chunk(1)], f"{host}:{dead.pid}:00000000")  # a push killed mid-call
    store.record([chunk(2)], new_owner())  # this process: alive
    store.record([chunk(3)], f"{host}:1:00000000")  # init: alive (another user's)
    store.record([chunk(4)], f"elsewhere:{dead.pid}:00000000")  # another host: never judged from here
    assert store.claim("replayer", 10) == []  # every lease still runs
    assert store.free_orphans() == 1
    assert [c.key for c in store.claim("replayer", 10)] == ["key-1"]
    assert store.free_orphans() == 0  # the freed chunk is leased to the replayer now, who runs


def rows_on_disk(path: Path) -> list[tuple[str, int]]:
    """What another process would read from the file now: (key, dead) of every row."""
    db = sqlite3.connect(path)
    try:
        return sorted(db.execute("SELECT key, dead FROM chunks").fetchall())
    finally:
        db.close()


def test_a_new_outbox_file_has_64_kib_pages(store: SQLiteOutbox) -> None:
    """Chunk bodies run to hundreds of KB: few overflow pages each to write and to free."""
    db = sqlite3.connect(store.path)
    try:
        assert db.execute("PRAGMA page_size").fetchone() == (65536,)
    finally:
        db.close()


def test_settled_chunks_are_deleted_with_the_next_transaction(store: SQLiteOutbox) -> None:
    store.record([chunk(i) for i in range(3)], "me")
    store.settle("key-0")
    store.settle("key-1")
    # Not yet on disk: a crash now leaves both pending (still leased to "me"), and their replay
    # under the same keys stores nothing twice.
    assert rows_on_disk(store.path) == [("key-0", 0), ("key-1", 0), ("key-2", 0)]
    assert store.stats().pending_chunks == 1  # every read deletes them first
    assert rows_on_disk(store.path) == [("key-2", 0)]


def test_settles_are_written_by_flush_close_or_the_64th(tmp_path: Path, ft: FakeTime) -> None:
    path = tmp_path / "o.db"
    s = SQLiteOutbox(path, wall_clock=ft.wall)
    s.record([chunk(i) for i in range(70)], "me")
    for i in range(63):
        s.settle(f"key-{i}")
    assert len(rows_on_disk(path)) == 70
    s.settle("key-63")  # the 64th: written at once
    assert len(rows_on_disk(path)) == 6
    s.settle("key-64")
    s.flush()
    assert len(rows_on_disk(path)) == 5
    s.settle("key-65")
    s.close()
    assert [k for k, _ in rows_on_disk(path)] == ["key-66", "key-67", "key-68", "key-69"]


def test_a_failed_transaction_keeps_the_settles_it_carried(store: SQLiteOutbox) -> None:
    store.record([chunk(0), chunk(1)], "me")
    store.settle("key-0")
    with pytest.raises(OutboxFullError):
        store.record([NewChunk("big", "post_things", "/api/things", b"x" * (store.max_bytes + 1), 1)], "me")
    assert rows_on_disk(store.path) == [("key-0", 0), ("key-1", 0)]  # rolled back with it, not lost
    store.flush()
    assert rows_on_disk(store.path) == [("key-1", 0)]


def _plans(store: SQLiteOutbox) -> list[str]:
    """The query plans of every statement the store runs that sums the stored bytes."""
    seen: list[str] = []
    store._db.set_trace_callback(lambda sql: seen.append(sql) if "LENGTH(BODY)" in sql.upper() else None)
    store.record([chunk(1, size=100)], "me")
    store.stats()
    store._db.set_trace_callback(None)
    assert len(seen) == 2
    return [str(store._db.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()) for sql in seen]


def test_the_bytes_held_are_summed_from_an_index_not_the_bodies(store: SQLiteOutbox) -> None:
    """Every record sums what the outbox holds (the cap): read from an index of the body
    sizes, not from each row's page, which a backlog of 256 MiB would make 100 MB of reads."""
    for plan in _plans(store):
        assert "chunks_by_size" in plan, plan


def test_an_outbox_file_without_the_added_indexes_gets_them_when_opened(tmp_path: Path) -> None:
    SQLiteOutbox(tmp_path / "outbox.db").close()
    db = sqlite3.connect(tmp_path / "outbox.db")
    db.execute("DROP INDEX chunks_by_size")
    db.execute("DROP INDEX chunks_pending")
    db.close()
    store = SQLiteOutbox(tmp_path / "outbox.db")
    try:
        for plan in _plans(store):
            assert "chunks_by_size" in plan, plan
        indexes = {n for (n,) in store._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"chunks_by_size", "chunks_pending"} <= indexes
    finally:
        store.close()


def test_stats_read_indexes_only_not_the_rows(store: SQLiteOutbox) -> None:
    """``stats()`` runs at every metrics collection: its pending count, items and oldest age,
    its dead letters and its bytes come from covering indexes, not from each row's page."""
    seen: list[str] = []
    store.record([chunk(1, size=100)], "me")
    store._db.set_trace_callback(lambda sql: seen.append(sql) if sql.lstrip().upper().startswith("SELECT") else None)
    store.stats()
    store._db.set_trace_callback(None)
    assert len(seen) == 3
    for sql in seen:
        plan = str(store._db.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall())
        assert "COVERING INDEX" in plan or "chunks_by_size" in plan, (sql, plan)
