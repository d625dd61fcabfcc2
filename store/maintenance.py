"""Periodic upkeep of the time-series tables on the path that needs it.

On TimescaleDB the extension's own background jobs compress, drop old chunks and refresh the continuous
aggregates, so there is nothing to do. On plain PostgreSQL this module does the same work: it creates the
partitions for the coming days and drops partitions past their retention. On both
paths it deletes camera snapshots past the detections' retention. The app
runs it on a schedule; ``campusguard db maintain`` runs it once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from store.migrate import Flavor, current_flavor
from store.partitions import PARTITIONED_TABLES, prepare_partitions
from store.vision_repo import delete_expired_snapshots

log = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What one maintenance pass changed."""

    flavor: Flavor
    partitions_created: int
    partitions_dropped: int
    snapshots_deleted: int = 0


def maintain(conn: psycopg.Connection, now: datetime) -> MaintenanceReport:
    """Run one maintenance pass as of ``now`` (an aware UTC datetime) on an idle connection.

    Each statement commits on its own (autocommit), so a long step holds no lock on what it already did and
    one failing step keeps the others; the connection is left in autocommit. A connection inside a transaction
    is refused rather than committed behind its owner's back.
    """
    if conn.info.transaction_status is not psycopg.pq.TransactionStatus.IDLE:
        raise ValueError("maintenance needs an idle connection, not one inside a transaction")
    conn.autocommit = True  # before the first statement: psycopg refuses the switch once a transaction began
    flavor = current_flavor(conn)
    # Snapshots are a plain table on both paths (pictures do not compress in chunks); they follow the
    # detections' retention.
    snapshots = delete_expired_snapshots(conn, now, _keep(conn, "detections"))
    if flavor is Flavor.TIMESCALE:
        return MaintenanceReport(flavor, 0, 0, snapshots)
    created = prepare_partitions(conn, now)
    dropped = 0
    for table in PARTITIONED_TABLES:
        row = conn.execute("SELECT cg_drop_expired_partitions(%s, %s)", (table, now)).fetchone()
        dropped += int(row[0]) if row else 0
    if created or dropped:
        log.info("maintenance: %d partitions created, %d dropped", created, dropped)
    return MaintenanceReport(flavor, created, dropped, snapshots)


def _keep(conn: psycopg.Connection, table: str) -> timedelta:
    row = conn.execute("SELECT keep FROM retention_policies WHERE table_name = %s", (table,)).fetchone()
    return row[0] if row else timedelta(days=30)
