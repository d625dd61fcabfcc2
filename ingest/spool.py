"""A local durable spool: what a worker has accepted but not yet committed to the database.

A message is acknowledged to the broker (or answered 200 over HTTP) only after it is in the spool, and it
leaves the spool only after the database has committed it, so a database outage, a broker restart or a
SIGKILL of the worker loses nothing: on restart the worker replays what the spool still holds. Replays are
harmless because every time-series table is keyed by device time.

SQLite in WAL mode with ``synchronous=FULL`` gives crash- and power-loss-safe appends; appends are grouped by
the caller so one fsync covers many messages.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message as received, before decoding: where it came from, when, and its raw bytes."""

    source: str
    topic: str
    payload: bytes
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Spooled:
    """An envelope with its position in the spool."""

    seq: int
    envelope: Envelope


class Spool:
    """A FIFO of envelopes on disk, safe for one appending thread and one draining thread."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the spool file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL,"
            " topic TEXT NOT NULL, payload BLOB NOT NULL, received_at REAL NOT NULL)"
        )

    def append(self, envelopes: Sequence[Envelope]) -> None:
        """Durably append envelopes; when this returns they survive a crash."""
        if not envelopes:
            return
        rows = [(e.source, e.topic, e.payload, e.received_at.timestamp()) for e in envelopes]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO spool (source, topic, payload, received_at) VALUES (?, ?, ?, ?)", rows
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def peek(self, limit: int) -> list[Spooled]:
        """Return up to ``limit`` of the oldest envelopes, without removing them."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, source, topic, payload, received_at FROM spool ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [
            Spooled(seq, Envelope(source, topic, bytes(payload), datetime.fromtimestamp(received, UTC)))
            for seq, source, topic, payload, received in rows
        ]

    def remove_through(self, seq: int) -> None:
        """Forget every envelope up to and including ``seq``: they are committed downstream."""
        with self._lock:
            self._db.execute("DELETE FROM spool WHERE seq <= ?", (seq,))

    def depth(self) -> int:
        """Count the envelopes waiting."""
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM spool").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
