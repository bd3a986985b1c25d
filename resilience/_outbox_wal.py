"""The outbox file's WAL copied into the file on a thread of its own, so that a push never waits for the disk.

In WAL mode every transaction appends to the ``-wal`` file; a checkpoint copies the pages
back into the database file, and with ``synchronous = NORMAL`` it is also where SQLite waits
for the disk (it syncs the WAL, then the file). Run by the committing connection, as SQLite
does by default every 1,000 pages (64 MiB with the outbox's pages), that wait landed in the
middle of a push, every second push or so: most of what recording cost. Here the connection
that writes checkpoints itself only past a high-water mark (a bound, should this thread fall
behind), and a daemon thread with its own connection runs a ``PASSIVE`` checkpoint (which
never blocks a writer) once enough has been written. The thread starts with the first write
and stops with :meth:`WalCheckpointer.close`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Final

__all__: list[str] = []  # internal: SQLiteOutbox's checkpoints

logger = logging.getLogger("resilience.outbox")

#: The outbox's page size (set on a new file: ``_outbox_sqlite``).
PAGE_SIZE: Final = 65536
#: Pages the WAL may grow to: past them the writing connection checkpoints itself, a large
#: write first waits for this thread (:meth:`WalCheckpointer.make_room`), and the file is
#: truncated back to this size when it starts over (128 MiB).
HIGH_WATER_PAGES: Final = 2048
#: Bytes written since the last background checkpoint that start the next one (16 MiB).
CHECKPOINT_EVERY: Final = 16 * 1024 * 1024


class WalCheckpointer:
    """Checkpoints ``path``'s WAL on a thread of its own, when :meth:`wrote` has been told of
    ``every`` bytes since the last one (or at once, by :meth:`request`); a WAL past
    ``high_water`` bytes is caught up with before a large write (:meth:`make_room`)."""

    def __init__(
        self,
        path: Path,
        busy_timeout: float,
        every: int = CHECKPOINT_EVERY,
        high_water: int = HIGH_WATER_PAGES * PAGE_SIZE,
    ) -> None:
        self._path, self._busy_timeout, self._every, self._high_water = path, busy_timeout, every, high_water
        self._wal = path.with_name(path.name + "-wal")
        self._closed = False
        self._failed = False  # the thread could not go on: the writer's own checkpoints take over
        self._start_over()
        _LIVE.add(self)

    def _start_over(self) -> None:
        """Fresh locks, no thread, nothing asked: at construction, and in a forked child (whose
        copies of the locks may be held by a thread it does not have)."""
        # Reentrant: close() may run as a finalizer on any thread, this one's included.
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._pending = 0  # bytes written since the last checkpoint was asked for
        self._asked = 0  # checkpoints asked for
        self._done = 0  # checkpoints run (or given up)
        self._thread: threading.Thread | None = None

    def make_room(self, timeout: float) -> None:
        """Before a record (the store's large write): should the WAL have outgrown the
        high-water mark (this thread behind a writer that never paused), wait for a checkpoint
        of all of it, so that the write starts the WAL over instead of growing it (at most
        ``timeout`` seconds; a checkpoint never waits for readers or writers)."""
        try:
            size = self._wal.stat().st_size
        except OSError:  # no WAL yet
            return
        if size <= self._high_water:
            return
        self.request()
        self.wait_idle(timeout)

    def wrote(self, size: int) -> None:
        """``size`` bytes were committed: a checkpoint is asked for every ``every`` bytes."""
        with self._lock:
            self._pending += size
            if self._pending < self._every:
                return
        self.request()

    def request(self) -> None:
        """Ask for a checkpoint now (the thread starts with the first request)."""
        with self._lock:
            if self._closed or self._failed:
                return
            self._pending = 0
            self._asked += 1
            if self._thread is None or not self._thread.is_alive():  # not yet (or it died unseen)
                thread = threading.Thread(target=self._run, name="finops-outbox-checkpoint", daemon=True)
                try:
                    thread.start()
                except RuntimeError:  # no thread to be had (a limit, or the interpreter exiting)
                    self._asked -= 1
                    self._failed = True
                    logger.warning("the outbox's checkpoint thread could not start", exc_info=True)
                    return
                self._thread = thread
            self._wake.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every checkpoint asked for has run; whether it did in ``timeout``."""
        with self._lock:
            return self._wake.wait_for(lambda: self._done >= self._asked or self._failed, timeout)

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop the thread (a checkpoint under way completes first)."""
        with self._lock:
            self._closed = True
            thread = self._thread
            self._wake.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        db: sqlite3.Connection | None = None
        try:
            uri = self._path.resolve().as_uri() + "?mode=rw"  # the store made the file: never create one
            db = sqlite3.connect(uri, uri=True, timeout=self._busy_timeout, isolation_level=None)
            while True:
                with self._lock:
                    self._wake.wait_for(lambda: self._closed or self._done < self._asked)
                    if self._closed:
                        return
                    target = self._asked
                try:  # PASSIVE: as far as readers allow, never waiting for a writer
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    logger.debug("outbox checkpoint not run", exc_info=True)
                with self._lock:
                    self._done = max(self._done, target)
                    self._wake.notify_all()
        except sqlite3.Error:  # the writing connection's own checkpoints take over
            logger.warning("the outbox's checkpoint thread stopped", exc_info=True)
        finally:
            with self._lock:
                self._failed = not self._closed
                self._done = self._asked
                self._wake.notify_all()
            if db is not None:
                db.close()


#: Every checkpointer of this process (weakly), to start over in a forked child.
_LIVE: weakref.WeakSet[WalCheckpointer] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for checkpointer in list(_LIVE):
        checkpointer._start_over()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
