"""Batched, duplicate-safe, retrying writer for the time-series tables.

A batch is binary-COPied into a session-local staging table and moved into the real table with
``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` in one transaction: COPY is fast (binary, no per-row round
trip) but cannot skip duplicates on its own, and the staging step lets a re-delivered message be a no-op.
Transient errors (server restart, lost connection) are retried with backoff on a fresh connection until the
batch commits, so nothing handed to :meth:`TimeSeriesWriter.write` is lost; a missing partition on the plain
path is created on the spot.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.types.json import Jsonb

from domain.messages import DeadLetter, DeviceEvent, Position, SensorReading
from store.db import retrying
from store.partitions import ensure_partitions

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TableSpec(Generic[T]):
    """How one message type maps onto one time-series table."""

    table: str
    columns: tuple[str, ...]
    pg_types: tuple[str, ...]
    to_row: Callable[[T], tuple[Any, ...]]
    # The statement moving the staged batch into the table ({stage}, {table}, {columns} are filled in);
    # it must skip rows that are already stored and report the inserted count as its rowcount.
    insert: str = "INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} ON CONFLICT DO NOTHING"
    # Optional statement run in the same transaction, reading the staged batch (e.g. latest positions).
    after_insert: str | None = None

    @property
    def time_index(self) -> int:
        """Position of the ``time`` column in a row."""
        return self.columns.index("time")


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Outcome of one committed batch."""

    rows: int
    inserted: int
    attempts: int

    @property
    def duplicates(self) -> int:
        """Rows that were already stored (re-deliveries)."""
        return self.rows - self.inserted


_ONE_TICK = timedelta(microseconds=1)


def _utc_midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _position_row(p: Position) -> tuple[Any, ...]:
    return (p.device_id, p.time, p.received_at, p.lon, p.lat, p.speed_kmh, p.heading_deg, p.altitude_m,
            p.accuracy_m, p.battery_pct, p.source, p.backlog)


POSITIONS: TableSpec[Position] = TableSpec(
    table="positions",
    columns=("device_id", "time", "received_at", "lon", "lat", "speed_kmh", "heading_deg", "altitude_m",
             "accuracy_m", "battery_pct", "source", "backlog"),
    pg_types=("text", "timestamptz", "timestamptz", "float8", "float8", "float4", "float4", "float4",
              "float4", "float4", "text", "bool"),
    to_row=_position_row,
    # A late or re-delivered fix never moves the current position backwards in device time. The row's
    # stored_at and written_xid (what the live map follows) are stamped by a trigger (migration 0016).
    after_insert="""
        INSERT INTO latest_positions (device_id, time, lon, lat, speed_kmh, heading_deg, battery_pct, source)
        SELECT DISTINCT ON (device_id) device_id, time, lon, lat, speed_kmh, heading_deg, battery_pct, source
        FROM {stage} ORDER BY device_id, time DESC
        ON CONFLICT (device_id) DO UPDATE SET
            time = excluded.time, lon = excluded.lon, lat = excluded.lat, speed_kmh = excluded.speed_kmh,
            heading_deg = excluded.heading_deg, battery_pct = excluded.battery_pct, source = excluded.source
        WHERE latest_positions.time < excluded.time
    """,
)

DEVICE_EVENTS: TableSpec[DeviceEvent] = TableSpec(
    table="device_events",
    columns=("device_id", "time", "kind", "received_at", "detail"),
    pg_types=("text", "timestamptz", "text", "timestamptz", "jsonb"),
    to_row=lambda e: (e.device_id, e.time, e.kind, e.received_at, Jsonb(e.detail)),
)

SENSOR_READINGS: TableSpec[SensorReading] = TableSpec(
    table="sensor_readings",
    columns=("device_id", "time", "metric", "value", "received_at"),
    pg_types=("text", "timestamptz", "text", "float8", "timestamptz"),
    to_row=lambda r: (r.device_id, r.time, r.metric, r.value, r.received_at),
)


def _dead_letter_row(d: DeadLetter) -> tuple[Any, ...]:
    digest = hashlib.sha256(d.topic.encode() + b"\0" + d.payload).digest()
    return (d.time, digest, d.source, d.topic, d.reason, d.message, d.payload)


DEAD_LETTERS: TableSpec[DeadLetter] = TableSpec(
    table="dead_letters",
    columns=("time", "digest", "source", "topic", "reason", "message", "payload"),
    pg_types=("timestamptz", "bytea", "text", "text", "text", "text", "bytea"),
    to_row=_dead_letter_row,
)


class TimeSeriesWriter(Generic[T]):
    """Writes batches of one message type; one instance per table and thread."""

    def __init__(self, url: str, spec: TableSpec[T], *, max_wait_s: float | None = None) -> None:
        """Prepare a writer; ``max_wait_s=None`` retries transient errors until the batch commits."""
        self._url = url
        self._spec = spec
        self._max_wait_s = max_wait_s
        self._conn: psycopg.Connection | None = None
        self._stage = sql.Identifier(f"stage_{spec.table}")

    def write(self, messages: Sequence[T]) -> WriteResult:
        """Commit ``messages``; returns once they are durable, retrying through outages."""
        rows = [self._spec.to_row(m) for m in messages]
        if not rows:
            return WriteResult(0, 0, 0)
        attempts = 0
        for attempt in retrying(self._max_wait_s):
            with attempt:
                attempts += 1
                try:
                    return WriteResult(len(rows), self._write_once(rows), attempts)
                except BaseException:
                    self._drop_connection()
                    raise
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def close(self) -> None:
        """Close the connection; the writer reconnects if used again."""
        self._drop_connection()

    def __enter__(self) -> TimeSeriesWriter[T]:
        """Use the writer as a context manager that closes its connection."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the connection."""
        self.close()

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._url, connect_timeout=5)
            columns = sql.SQL(", ").join(sql.Identifier(c) for c in self._spec.columns)
            with self._conn.transaction():
                # Session-local and emptied at each commit: concurrent writers never see each other's rows.
                create = sql.SQL(
                    "CREATE TEMP TABLE {} ON COMMIT DELETE ROWS AS SELECT {} FROM {} WITH NO DATA"
                )
                self._conn.execute(create.format(self._stage, columns, sql.Identifier(self._spec.table)))
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def _write_once(self, rows: list[tuple[Any, ...]]) -> int:
        try:
            return self._copy_and_insert(rows)
        except pg_errors.CheckViolation as exc:
            if "no partition" not in str(exc):
                raise
        # Plain PostgreSQL and a time outside the prepared partitions (late data, a fast clock): create the
        # partitions the batch needs. Chunks are whole days aligned on UTC midnight, so the distinct days of
        # the batch name every partition it touches, however many rows it has.
        days = sorted({_utc_midnight(row[self._spec.time_index]) for row in rows})
        conn = self._connection()
        with conn.transaction():
            created = sum(ensure_partitions(conn, self._spec.table, day, day + _ONE_TICK) for day in days)
        log.info("created %d partitions of %s for late or early data", created, self._spec.table)
        return self._copy_and_insert(rows)

    def _copy_and_insert(self, rows: list[tuple[Any, ...]]) -> int:
        conn = self._connection()
        spec = self._spec
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in spec.columns)
        with conn.transaction(), conn.cursor() as cur:
            copy_stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(self._stage, columns)
            with cur.copy(copy_stmt) as copy:
                copy.set_types(list(spec.pg_types))
                for row in rows:
                    copy.write_row(row)
            cur.execute(
                sql.SQL(spec.insert).format(  # our own constant templates, never input
                    table=sql.Identifier(spec.table), columns=columns, stage=self._stage
                )
            )
            inserted = cur.rowcount
            if spec.after_insert is not None:
                cur.execute(sql.SQL(spec.after_insert).format(stage=self._stage))
        return inserted
