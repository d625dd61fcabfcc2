"""A local durable spool: what a worker has accepted but not yet committed to the database.

A message is acknowledged to the broker (or answered 200 over HTTP) only after it is in the spool, and it
leaves the spool only after the database has committed it, so a database outage, a broker restart or a
SIGKILL of the worker loses nothing: on restart the worker replays what the spool still holds. Replays are
harmless because every time-series table is keyed by device time.

SQLite in WAL mode with ``synchronous=FULL`` gives crash- and power-loss-safe appends; appends are grouped by
the caller so one fsync covers many messages. A spool file may be shared by two processes (the receiver
appends, one writer drains): SQLite's file locks serialise them, and a busy timeout makes each wait its turn.

:class:`PartitionedSpool` spreads one receiver's envelopes over the writers' spools by device, so a device's
messages stay in one spool and in order; :func:`repartition` moves what spools left by a larger worker count
still hold into the spools of the new count, before any process opens them.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl

log = logging.getLogger(__name__)

# How long an append or a drain waits for the other process's transaction on the same file.
BUSY_TIMEOUT_S = 30.0
SPOOL_NAME = re.compile(r"^ingest-(\d+)\.sqlite$")
# ingest.route.VIA_OSMAND_HTTP (route imports this module, so the name is repeated; a test holds them equal).
VIA_OSMAND_HTTP = "osmand-http"
_MAX_FIELDS = 64  # as the OsmAnd decoder allows


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message as received, before decoding: where it came from, when, and its raw bytes."""

    source: str
    topic: str
    payload: bytes
    received_at: datetime
    # The broker sent it before (MQTT's DUP flag), or it was taken over from a retired session: it may be a
    # copy of a message already received. Only such a message is ever recognised as a copy by its content.
    maybe_copy: bool = False


class SpoolSink(Protocol):
    """Where a listener puts what it accepted: one spool, or the writers' spools partitioned by topic."""

    def append(self, envelopes: Sequence[Envelope]) -> None:
        """Durably append; when this returns the envelopes survive a crash."""


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
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL,"
            " topic TEXT NOT NULL, payload BLOB NOT NULL, received_at REAL NOT NULL,"
            " maybe_copy INTEGER NOT NULL DEFAULT 0)"
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(spool)")}
        if "maybe_copy" not in columns:  # a spool written before the column existed
            self._db.execute("ALTER TABLE spool ADD COLUMN maybe_copy INTEGER NOT NULL DEFAULT 0")

    def append(self, envelopes: Sequence[Envelope]) -> None:
        """Durably append envelopes; when this returns they survive a crash."""
        if not envelopes:
            return
        rows = [(e.source, e.topic, e.payload, e.received_at.timestamp(), int(e.maybe_copy)) for e in envelopes]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO spool (source, topic, payload, received_at, maybe_copy) VALUES (?, ?, ?, ?, ?)",
                    rows
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def peek(self, limit: int) -> list[Spooled]:
        """Return up to ``limit`` of the oldest envelopes, without removing them."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, source, topic, payload, received_at, maybe_copy FROM spool ORDER BY seq LIMIT ?",
                (limit,)).fetchall()
        return [
            Spooled(seq, Envelope(source, topic, bytes(payload), datetime.fromtimestamp(received, UTC),
                                  bool(maybe_copy)))
            for seq, source, topic, payload, received, maybe_copy in rows
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


def spool_path(directory: Path, index: int) -> Path:
    """Where writer ``index`` keeps its spool."""
    return directory / f"ingest-{index}.sqlite"


def partition_of(topic: str, partitions: int, source: str = "", payload: bytes = b"") -> int:
    """Pick the spool of an envelope by its device (crc32, the same in every process), so a device stays in order.

    An MQTT topic names one device. The TCP listeners' topics (``jt808/<number>``, ``gt06/<imei>``) add a line
    that varies from message to message (rising alarm bits, a verdict), so only the first line counts. An
    OsmAnd envelope's topic is the request's query, different in every request: its ``id`` (or ``deviceid``),
    else the body's, names the tracker. Without a recognisable id the first line is hashed, as before.
    """
    key = topic.partition("\n")[0]
    if source == VIA_OSMAND_HTTP:
        key = _osmand_device(key, payload) or key
    return zlib.crc32(key.encode()) % partitions


def _osmand_device(query: str, body: bytes) -> str | None:
    """Find the tracker an OsmAnd request names, as the decoder reads it: the query's id, else the body's."""
    found = _param_id(query)
    if found is None:
        text = body.decode("utf-8", "replace")
        if text.lstrip().startswith("{"):
            try:
                root = json.loads(text)
            except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
                return None
            device = root.get("device_id") if isinstance(root, dict) else None
            return device if isinstance(device, str) else None
        found = _param_id(text)
    return found


def _param_id(text: str) -> str | None:
    try:
        params = dict(parse_qsl(text, keep_blank_values=False, errors="replace", max_num_fields=_MAX_FIELDS))
    except ValueError:  # too many fields: the decoder refuses it too, so any spool will do
        return None
    return params.get("id", params.get("deviceid"))


class PartitionedSpool:
    """The receiver's view of the writers' spools: one append spreads the envelopes by device."""

    def __init__(self, directory: Path, partitions: int) -> None:
        """Open (or create) the ``partitions`` spool files in ``directory``."""
        self.spools = [Spool(spool_path(directory, i)) for i in range(partitions)]

    def append(self, envelopes: Sequence[Envelope]) -> None:
        """Durably append each envelope to its partition's spool; when this returns they survive a crash."""
        if len(self.spools) == 1:  # one writer: no device to hash for every message
            self.spools[0].append(envelopes)
            return
        parts: dict[int, list[Envelope]] = {}
        for envelope in envelopes:
            index = partition_of(envelope.topic, len(self.spools), envelope.source, envelope.payload)
            parts.setdefault(index, []).append(envelope)
        for index, part in parts.items():
            self.spools[index].append(part)

    def depth(self) -> int:
        """Count the envelopes waiting in every partition."""
        return sum(spool.depth() for spool in self.spools)

    def close(self) -> None:
        """Close every file."""
        for spool in self.spools:
            spool.close()


def repartition(directory: Path, partitions: int) -> int:
    """Move what spools numbered ``partitions`` and above hold into the live ones; returns how many moved.

    Run only while no ingest process has the spools open (the supervisor does, before it starts any): a worker
    count lowered from 3 to 2 would otherwise strand spool 2 until a worker 2 came back. Each envelope is
    appended to its new spool before it is removed from the old, so a crash in between replays it twice
    (harmless: every table is keyed) rather than losing it.
    """
    moved = 0
    if not directory.is_dir():
        return 0
    live = PartitionedSpool(directory, partitions)
    try:
        for path in sorted(directory.iterdir()):
            match = SPOOL_NAME.match(path.name)
            if match is None or int(match.group(1)) < partitions:
                continue
            old = Spool(path)
            try:
                while batch := old.peek(5000):
                    live.append([item.envelope for item in batch])
                    old.remove_through(batch[-1].seq)
                    moved += len(batch)
            finally:
                old.close()
            for suffix in ("", "-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
    finally:
        live.close()
    if moved:
        log.warning("ingest: moved %d spooled envelopes from retired workers' spools into %d partitions",
                    moved, partitions)
    return moved
