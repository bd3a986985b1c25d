"""The durable outbox's public face: the ``Outbox`` protocol, its records and its errors.

A batch call with an outbox records every chunk (body, operation, Idempotency-Key, creation
time) before the first is sent; a definite answer settles a chunk, anything else leaves it
pending for :meth:`ClientOutbox.replay`. :class:`~resilience.SQLiteOutbox` is the default store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import attrs

from ._errors import APIError, ConfigurationError

__all__ = [
    "DeadLetter",
    "NewChunk",
    "Outbox",
    "OutboxError",
    "OutboxFullError",
    "OutboxStats",
    "OutboxUnusableError",
    "ReplayReport",
    "StoredChunk",
]

#: The dead-letter reason of a chunk older than the server's idempotency-key retention.
KEY_EXPIRED = "key expired, outcome unknown: reconcile"


class OutboxError(APIError):
    """Something about the outbox itself (not the API) went wrong."""


class OutboxUnusableError(OutboxError, ConfigurationError):
    """The outbox cannot be used: a missing or read-only folder, a file that is not an outbox
    (or is corrupt: it is never overwritten), or one written by a newer schema version.
    Raised when the client is built."""


class OutboxFullError(OutboxError):
    """The outbox holds its cap of bytes: the batch call was refused before anything was
    recorded or sent. Replay (or purge dead letters) to make room."""


@attrs.frozen(slots=True)
class NewChunk:
    """One chunk of a batch call, recorded before it is sent."""

    key: str  # its Idempotency-Key, unique in the outbox
    operation: str
    url: str
    body: bytes
    items: int


@attrs.frozen(slots=True)
class StoredChunk:
    """A pending chunk as claimed (leased) for sending."""

    key: str
    operation: str
    url: str
    body: bytes = attrs.field(repr=False)
    items: int
    created: float
    attempts: int


@attrs.frozen(slots=True)
class DeadLetter:
    """A chunk given up on, and why; :meth:`Outbox.requeue` or :meth:`Outbox.purge` it."""

    key: str
    operation: str
    items: int
    created: float
    attempts: int
    reason: str


@attrs.frozen(slots=True)
class OutboxStats:
    """How much the outbox holds now. ``oldest_age``: seconds since the oldest pending chunk
    was recorded (0 when none)."""

    pending_chunks: int = 0
    pending_items: int = 0
    dead_letters: int = 0
    bytes: int = 0
    oldest_age: float = 0.0

    def gauges(self) -> dict[str, float]:
        """The values as gauges (depth, items, dead letters, bytes, oldest age), for exporters."""
        return {
            "outbox_pending_chunks": float(self.pending_chunks),
            "outbox_pending_items": float(self.pending_items),
            "outbox_dead_letters": float(self.dead_letters),
            "outbox_bytes": float(self.bytes),
            "outbox_oldest_age_seconds": self.oldest_age,
        }


@attrs.frozen(slots=True)
class ReplayReport:
    """What one replay did: chunks and items accepted, rejected (items refused one by one),
    dead-lettered, and still pending after it."""

    chunks_accepted: int = 0
    items_accepted: int = 0
    items_rejected: int = 0
    chunks_dead: int = 0
    items_dead: int = 0
    chunks_pending: int = 0
    items_pending: int = 0


@runtime_checkable
class Outbox(Protocol):
    """A durable store of chunks: pass an object of your own as ``outbox=`` to replace SQLite.

    Every method is one short local transaction; ``claim`` must never hand one chunk to two
    owners whose leases both run."""

    def record(self, chunks: Sequence[NewChunk], owner: str) -> None:
        """Store every chunk at once, leased to ``owner``; :class:`OutboxFullError` (nothing
        stored) when they would pass the cap."""

    def claim(self, owner: str, limit: int) -> list[StoredChunk]:
        """Lease up to ``limit`` pending chunks, oldest first, whose lease is free or expired;
        chunks past the retention go to the dead letters first."""

    def settle(self, key: str) -> None:
        """A definite answer: forget the chunk."""

    def release(self, key: str, error: str | None) -> None:
        """Pending again, its lease dropped: after a failed attempt (``error``), one attempt
        more, and past the maximum a dead letter; ``None``: it was not sent."""

    def dead_letter(self, key: str, reason: str) -> None:
        """Give the chunk up, saying why."""

    def stats(self) -> OutboxStats:
        """Depth, dead letters, bytes, oldest age."""

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest first."""

    def requeue(self, keys: Sequence[str] | None = None) -> int:
        """Dead letters (these, or all) pending again with no attempts; how many."""

    def purge(self, keys: Sequence[str] | None = None) -> int:
        """Delete dead letters (these, or all); how many."""

    def close(self) -> None:
        """Release the store."""
