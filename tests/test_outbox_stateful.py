"""The SQLite outbox's state machine against a model: record, claim, settle, fail, expire a
lease, pass the retention, dead-letter, requeue, purge (hypothesis stateful)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from resilience import NewChunk, OutboxFullError, SQLiteOutbox
from resilience._outbox import KEY_EXPIRED

LEASE, RETENTION, MAX_ATTEMPTS, CAP = 10.0, 100.0, 2, 200
OWNERS = st.sampled_from(["a", "b"])


@attrs.define
class Row:
    seq: int
    size: int
    created: float
    attempts: int = 0
    dead: bool = False
    reason: str | None = None
    owner: str | None = None
    expires: float | None = None

    def free(self, now: float) -> bool:
        return self.expires is None or self.expires <= now


class OutboxMachine(RuleBasedStateMachine):
    @initialize()
    def open(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.now = 1000.0
        self.store = SQLiteOutbox(
            Path(self.dir.name) / "o.db",
            lease=LEASE,
            retention=RETENTION,
            max_attempts=MAX_ATTEMPTS,
            max_bytes=CAP,
            wall_clock=lambda: self.now,
        )
        self.rows: dict[str, Row] = {}
        self.seq = 0

    def teardown(self) -> None:
        if hasattr(self, "store"):
            self.store.close()
            self.dir.cleanup()

    def keys(self) -> list[str]:
        return sorted(self.rows)

    @rule(sizes=st.lists(st.integers(1, 60), min_size=1, max_size=3), owner=OWNERS)
    def record(self, sizes: list[int], owner: str) -> None:
        chunks = []
        for size in sizes:
            self.seq += 1
            chunks.append(NewChunk(f"k{self.seq}", "post_resources", "/api/resources", b"x" * size, 1))
        held = sum(r.size for r in self.rows.values())
        if held + sum(sizes) > CAP:
            try:
                self.store.record(chunks, owner)
            except OutboxFullError:
                return
            raise AssertionError("the cap was passed")
        self.store.record(chunks, owner)
        for c in chunks:
            self.rows[c.key] = Row(self.seq, len(c.body), self.now, owner=owner, expires=self.now + LEASE)

    @rule(owner=OWNERS, limit=st.integers(1, 4))
    def claim(self, owner: str, limit: int) -> None:
        for r in self.rows.values():
            if not r.dead and r.created <= self.now - RETENTION and r.free(self.now):
                r.dead, r.reason, r.owner, r.expires = True, KEY_EXPIRED, None, None
        free = [(r.created, r.seq, k) for k, r in self.rows.items() if not r.dead and r.free(self.now)]
        expected = [k for _, _, k in sorted(free)[:limit]]
        got = [c.key for c in self.store.claim(owner, limit)]
        assert sorted(got) == sorted(expected)
        for k in got:
            self.rows[k].owner, self.rows[k].expires = owner, self.now + LEASE

    @precondition(lambda self: bool(self.rows))
    @rule(data=st.data())
    def settle(self, data: Any) -> None:
        key = data.draw(st.sampled_from(self.keys()))
        self.store.settle(key)
        del self.rows[key]

    @precondition(lambda self: bool(self.rows))
    @rule(data=st.data(), sent=st.booleans())
    def release(self, data: Any, sent: bool) -> None:
        key = data.draw(st.sampled_from(self.keys()))
        r = self.rows[key]
        self.store.release(key, "boom" if sent else None)
        if not sent:
            r.owner = r.expires = None
        elif not r.dead:
            r.attempts += 1
            r.owner = r.expires = None
            if r.attempts >= MAX_ATTEMPTS:
                r.dead, r.reason = True, f"failed {MAX_ATTEMPTS} times, last: boom"

    @precondition(lambda self: bool(self.rows))
    @rule(data=st.data())
    def dead_letter(self, data: Any) -> None:
        key = data.draw(st.sampled_from(self.keys()))
        self.store.dead_letter(key, "poison")
        r = self.rows[key]
        r.dead, r.reason, r.owner, r.expires = True, "poison", None, None

    @rule(seconds=st.sampled_from([1.0, LEASE, RETENTION / 2]))
    def advance(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def requeue(self) -> None:
        dead = [r for r in self.rows.values() if r.dead]
        assert self.store.requeue() == len(dead)
        for r in dead:
            r.dead, r.reason, r.attempts = False, None, 0

    @rule()
    def purge(self) -> None:
        dead = [k for k, r in self.rows.items() if r.dead]
        assert self.store.purge() == len(dead)
        for k in dead:
            del self.rows[k]

    @invariant()
    def agrees(self) -> None:
        if not hasattr(self, "store"):
            return
        stats = self.store.stats()
        pending = [r for r in self.rows.values() if not r.dead]
        assert stats.pending_chunks == len(pending)
        assert stats.bytes == sum(r.size for r in self.rows.values())
        assert {(d.key, d.reason) for d in self.store.dead_letters()} == {
            (k, r.reason) for k, r in self.rows.items() if r.dead
        }
        oldest = min((r.created for r in pending), default=None)
        assert stats.oldest_age == (0.0 if oldest is None else self.now - oldest)


OutboxMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestOutboxStateMachine = OutboxMachine.TestCase
