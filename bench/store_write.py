"""Rows per second into ``positions``: the batched binary-COPY writer against one INSERT per row.

Both write the same kind of rows into a freshly migrated scratch database on the same server, in the same
run. The writer's figure includes everything it does for safety (staging, duplicate skipping, updating the
latest position); a raw COPY straight into the table is printed too, as the ceiling.
Run: ``make bench`` or ``python -m devtools.devservices run -- .venv/bin/python -m bench.store_write``
(``--short``: the reduced sizes ``make test`` runs).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from bench import report
from bench.report import Figure, bench_settings
from domain.messages import Position
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.writer import POSITIONS, TimeSeriesWriter


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much each measurement writes."""

    writer_rows: int
    naive_rows: int
    batch: int


FULL = Sizes(writer_rows=200_000, naive_rows=20_000, batch=5_000)
SHORT = Sizes(writer_rows=10_000, naive_rows=1_000, batch=1_000)
DEVICES = 200


def _positions(count: int, prefix: str) -> list[Position]:
    # Six hours back: inside the partitions a fresh database has (two days back) on any day, at any hour.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
    received = datetime.now(UTC)
    return [
        Position(f"{prefix}-{i % DEVICES:03d}", start + timedelta(seconds=i // DEVICES), received,
                 -96.7 + (i % 997) * 1e-5, 40.8 + (i % 991) * 1e-5, "bench", speed_kmh=float(i % 70),
                 heading_deg=float(i % 360), accuracy_m=5.0, battery_pct=80.0)
        for i in range(count)
    ]


@contextmanager
def _scratch(server_url: str) -> Iterator[str]:
    name = f"cg_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(server_url, dbname=name)
    try:
        with psycopg.connect(url) as conn:
            migrate(conn, StorageBackend.PLAIN, RetentionSettings())
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _writer_rate(url: str, sizes: Sizes) -> float:
    rows, batch = _positions(sizes.writer_rows, "writer"), sizes.batch
    with TimeSeriesWriter(url, POSITIONS) as writer:
        writer.write(rows[:batch])  # connect and create the staging table outside the timing
        started = time.perf_counter()
        for i in range(batch, len(rows), batch):
            writer.write(rows[i:i + batch])
        elapsed = time.perf_counter() - started
    return (len(rows) - batch) / elapsed


def _raw_copy_rate(url: str, sizes: Sizes) -> float:
    rows, batch = [POSITIONS.to_row(p) for p in _positions(sizes.writer_rows, "raw")], sizes.batch
    columns = sql.SQL(", ").join(map(sql.Identifier, POSITIONS.columns))
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        for i in range(0, len(rows), batch):
            with conn.transaction(), conn.cursor() as cur, cur.copy(
                sql.SQL("COPY positions ({}) FROM STDIN (FORMAT BINARY)").format(columns)
            ) as copy:
                copy.set_types(list(POSITIONS.pg_types))
                for row in rows[i:i + batch]:
                    copy.write_row(row)
        return len(rows) / (time.perf_counter() - started)


def _naive_rate(url: str, sizes: Sizes) -> float:
    rows, batch = [POSITIONS.to_row(p) for p in _positions(sizes.naive_rows, "naive")], sizes.batch
    statement = sql.SQL("INSERT INTO positions ({}) VALUES ({}) ON CONFLICT DO NOTHING").format(
        sql.SQL(", ").join(map(sql.Identifier, POSITIONS.columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(POSITIONS.columns)),
    )
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        for i in range(0, len(rows), batch):
            with conn.transaction():
                for row in rows[i:i + batch]:
                    conn.execute(statement, row)
        return len(rows) / (time.perf_counter() - started)


def run(short: bool = False) -> list[Figure]:
    """Measure and return the figures (``short``: the reduced sizes ``make test`` runs)."""
    sizes = SHORT if short else FULL
    settings = bench_settings()
    with _scratch(settings.database_url) as url:
        writer = _writer_rate(url, sizes)
        raw = _raw_copy_rate(url, sizes)
        naive = _naive_rate(url, sizes)
    return [
        Figure("COPY writer (dedupe + latest position)", writer, "rows/s", "one INSERT per row", naive),
        Figure("raw binary COPY, no dedupe (ceiling)", raw, "rows/s", "one INSERT per row", naive),
    ]


def main() -> None:
    """Print the figures."""
    report.main(run, __doc__)


if __name__ == "__main__":
    main()
