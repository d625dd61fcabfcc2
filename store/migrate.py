"""Ordered, checksummed schema migrations, with the TimescaleDB or plain-PostgreSQL path chosen once.

Migration files live in ``store/migrations`` as ``NNNN_name.sql`` (both paths), ``NNNN_name.timescale.sql``
or ``NNNN_name.plain.sql`` (one path). Planning which files apply is pure; applying them is the only I/O.
The chosen path is recorded with every applied version, so a database never mixes the two.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from importlib import resources

import psycopg
from psycopg import sql

from store.config import RetentionSettings, StorageBackend
from store.partitions import prepare_partitions

log = logging.getLogger(__name__)

PARTITION_MARKER = "/*@partition_by_time*/"
_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+?)(?:\.(?P<flavor>timescale|plain))?\.sql$")
# Any constant works; it only has to be the same in every process that migrates this database.
_ADVISORY_LOCK = 0x63616D70


class Flavor(StrEnum):
    """The storage path a database was migrated with."""

    TIMESCALE = "timescale"
    PLAIN = "plain"


class MigrationError(RuntimeError):
    """The schema cannot be brought up to date; the message says why."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file, ready to run on a given path."""

    version: int
    name: str
    sql: str
    checksum: str


@dataclass(frozen=True, slots=True)
class MigrateResult:
    """What a migrate run did."""

    flavor: Flavor
    applied: tuple[int, ...]
    already_applied: tuple[int, ...]


def plan(flavor: Flavor) -> list[Migration]:
    """List the migrations for one path in version order, with the plain path's partition clause filled in."""
    chosen: dict[int, tuple[str, str]] = {}
    for entry in resources.files("store.migrations").iterdir():
        match = _FILE.match(entry.name)
        if match is None:
            continue
        file_flavor = match["flavor"]
        if file_flavor is not None and file_flavor != flavor.value:
            continue
        version = int(match["version"])
        if version in chosen and file_flavor is None:
            continue  # the path-specific file wins over a shared one of the same version
        chosen[version] = (match["name"], entry.read_text(encoding="utf-8"))
    migrations = []
    for version in sorted(chosen):
        name, text = chosen[version]
        if flavor is Flavor.PLAIN:
            text = text.replace(PARTITION_MARKER, "PARTITION BY RANGE (time)")
        checksum = hashlib.sha256(text.encode()).hexdigest()
        migrations.append(Migration(version, name, text, checksum))
    return migrations


def migrate(
    conn: psycopg.Connection, backend: StorageBackend, retention: RetentionSettings
) -> MigrateResult:
    """Bring the schema up to date and register retention; safe to run concurrently and repeatedly."""
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK,))
    try:
        _ensure_version_table(conn)
        flavor = _choose_flavor(conn, backend)
        applied_rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
        applied = {int(version): str(checksum) for version, checksum in applied_rows}
        done, already = [], []
        for migration in plan(flavor):
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} changed after it was applied; "
                        "write a new migration instead of editing an applied one"
                    )
                already.append(migration.version)
                continue
            with conn.transaction():
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, flavor, checksum, applied_at)"
                    " VALUES (%s, %s, %s, %s, now())",
                    (migration.version, migration.name, flavor.value, migration.checksum),
                )
            log.info("applied migration %04d_%s (%s)", migration.version, migration.name, flavor)
            done.append(migration.version)
        apply_retention(conn, flavor, retention)
        if flavor is Flavor.PLAIN:
            # A migrated database must take writes at once, before the first maintenance pass.
            prepare_partitions(conn, datetime.now(UTC))
        return MigrateResult(flavor, tuple(done), tuple(already))
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK,))


def current_flavor(conn: psycopg.Connection) -> Flavor:
    """Read the path a migrated database uses."""
    row = conn.execute("SELECT flavor FROM schema_migrations ORDER BY version LIMIT 1").fetchone()
    if row is None:
        raise MigrationError("the database has not been migrated; run `campusguard db migrate`")
    return Flavor(row[0])


def _ensure_version_table(conn: psycopg.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL, flavor text NOT NULL,"
        " checksum text NOT NULL, applied_at timestamptz NOT NULL)"
    )


def _choose_flavor(conn: psycopg.Connection, backend: StorageBackend) -> Flavor:
    row = conn.execute("SELECT flavor FROM schema_migrations ORDER BY version LIMIT 1").fetchone()
    if row is not None:
        recorded = Flavor(row[0])
        if backend is not StorageBackend.AUTO and backend.value != recorded.value:
            raise MigrationError(
                f"the database was migrated on the {recorded} path; it cannot switch to {backend}"
            )
        log.info("storage path: %s (recorded at first migration)", recorded)
        return recorded
    if backend is StorageBackend.PLAIN:
        log.info("storage path: plain PostgreSQL (configured)")
        return Flavor.PLAIN
    available = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    if available is None:
        if backend is StorageBackend.TIMESCALE:
            raise MigrationError("storage_backend=timescale but the timescaledb extension is not installed")
        log.info("storage path: plain PostgreSQL (no timescaledb extension on this server)")
        return Flavor.PLAIN
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error as exc:
        # Installed but not preloaded (shared_preload_libraries) is the usual reason.
        if backend is StorageBackend.TIMESCALE:
            raise MigrationError(f"cannot enable timescaledb: {exc}") from exc
        log.warning("storage path: plain PostgreSQL (timescaledb present but unusable: %s)", exc)
        return Flavor.PLAIN
    log.info("storage path: TimescaleDB")
    return Flavor.TIMESCALE


def retention_by_table(retention: RetentionSettings) -> dict[str, timedelta]:
    """Map each time-series table to how long it keeps data."""
    return {
        "positions": timedelta(days=retention.positions_days),
        "device_events": timedelta(days=retention.device_events_days),
        "sensor_readings": timedelta(days=retention.sensor_readings_days),
        "detections": timedelta(days=retention.detections_days),
        "dead_letters": timedelta(days=retention.dead_letters_days),
    }


def apply_retention(conn: psycopg.Connection, flavor: Flavor, retention: RetentionSettings) -> None:
    """Record the configured retention, and on TimescaleDB (re)register changed retention policies."""
    for table, keep in retention_by_table(retention).items():
        conn.execute("UPDATE retention_policies SET keep = %s WHERE table_name = %s", (keep, table))
        if flavor is not Flavor.TIMESCALE:
            continue
        registered = conn.execute(
            "SELECT (config->>'drop_after')::interval FROM timescaledb_information.jobs"
            " WHERE proc_name = 'policy_retention' AND hypertable_name = %s",
            (table,),
        ).fetchone()
        if registered is not None and registered[0] == keep:
            continue
        with conn.transaction():
            conn.execute(
                sql.SQL("SELECT remove_retention_policy({}, if_exists => true)").format(sql.Literal(table))
            )
            conn.execute(
                sql.SQL("SELECT add_retention_policy({}, drop_after => {})").format(
                    sql.Literal(table), sql.Literal(keep)
                )
            )
        log.info("retention for %s: %s", table, keep)
