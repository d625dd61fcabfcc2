"""Partitions of the time-series tables on the plain-PostgreSQL path: which tables, how far ahead, creating them.

TimescaleDB creates its chunks by itself; on plain PostgreSQL a row whose day has no partition is refused, so
migrations, the maintenance pass and the writer all create what they need through here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

PARTITIONED_TABLES = (
    "positions", "device_events", "sensor_readings", "detections", "incident_events", "dead_letters",
)
# Partitions exist this far ahead, so a clock that runs a little fast or a quiet week never finds none.
CREATE_AHEAD = timedelta(days=7)
CREATE_BEHIND = timedelta(days=2)


def prepare_partitions(conn: psycopg.Connection, now: datetime) -> int:
    """Create the partitions every table needs around ``now``; returns how many were new."""
    return sum(ensure_partitions(conn, table, now - CREATE_BEHIND, now + CREATE_AHEAD) for table in PARTITIONED_TABLES)


def ensure_partitions(conn: psycopg.Connection, table: str, start: datetime, end: datetime) -> int:
    """Create the partitions of ``table`` covering [start, end); returns how many were new."""
    row = conn.execute("SELECT cg_ensure_partitions(%s, %s, %s)", (table, start, end)).fetchone()
    return int(row[0]) if row else 0
