"""Rows per second into ``positions``: the batched binary-COPY writer against one INSERT per row.

Both write the same kind of rows into a freshly migrated scratch database on the same server, in the same
run. The writer's figure includes everything it does for safety (staging, duplicate skipping, updating the
latest position); a raw COPY straight into the table is printed too, as the ceiling.
Run: ``make bench`` or ``python -m devtools.devservices run -- .venv/bin/python -m bench.store_write``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from bench.report import Figure, bench_settings
from domain.messages import Position
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.writer import POSITIONS, TimeSeriesWriter

WRITER_ROWS = 200_000
NAIVE_ROWS = 20_000
BATCH = 5_000
DEVICES = 200


def _positions(count: int, prefix: str) -> list[Position]:
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


def _writer_rate(url: str) -> float:
    rows = _positions(WRITER_ROWS, "writer")
    with TimeSeriesWriter(url, POSITIONS) as writer:
        writer.write(rows[:BATCH])  # connect and create the staging table outside the timing
        started = time.perf_counter()
        for i in range(BATCH, len(rows), BATCH):
            writer.write(rows[i:i + BATCH])
        elapsed = time.perf_counter() - started
    return (len(rows) - BATCH) / elapsed


def _raw_copy_rate(url: str) -> float:
    rows = [POSITIONS.to_row(p) for p in _positions(WRITER_ROWS, "raw")]
    columns = sql.SQL(", ").join(map(sql.Identifier, POSITIONS.columns))
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        for i in range(0, len(rows), BATCH):
            with conn.transaction(), conn.cursor() as cur, cur.copy(
                sql.SQL("COPY positions ({}) FROM STDIN (FORMAT BINARY)").format(columns)
            ) as copy:
                copy.set_types(list(POSITIONS.pg_types))
                for row in rows[i:i + BATCH]:
                    copy.write_row(row)
        return len(rows) / (time.perf_counter() - started)


def _naive_rate(url: str) -> float:
    rows = [POSITIONS.to_row(p) for p in _positions(NAIVE_ROWS, "naive")]
    statement = sql.SQL("INSERT INTO positions ({}) VALUES ({}) ON CONFLICT DO NOTHING").format(
        sql.SQL(", ").join(map(sql.Identifier, POSITIONS.columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(POSITIONS.columns)),
    )
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        for i in range(0, len(rows), BATCH):
            with conn.transaction():
                for row in rows[i:i + BATCH]:
                    conn.execute(statement, row)
        return len(rows) / (time.perf_counter() - started)


def run() -> list[Figure]:
    """Measure and return the figures."""
    settings = bench_settings()
    with _scratch(settings.database_url) as url:
        writer = _writer_rate(url)
        raw = _raw_copy_rate(url)
        naive = _naive_rate(url)
    return [
        Figure("COPY writer (dedupe + latest position)", writer, "rows/s", "one INSERT per row", naive),
        Figure("raw binary COPY, no dedupe (ceiling)", raw, "rows/s", "one INSERT per row", naive),
    ]


def main() -> None:
    """Print the figures."""
    for figure in run():
        print(figure.line())


if __name__ == "__main__":
    main()
