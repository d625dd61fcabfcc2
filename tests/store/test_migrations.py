"""Migrations on plain PostgreSQL: ordered, recorded, idempotent, tamper-evident and concurrent-safe."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from store.config import RetentionSettings, StorageBackend
from store.maintenance import maintain
from store.migrate import Flavor, MigrationError, current_flavor, migrate, plan
from store.partitions import ensure_partitions


def test_plan_picks_one_file_per_version_for_each_path() -> None:
    plain = plan(Flavor.PLAIN)
    timescale = plan(Flavor.TIMESCALE)
    assert [m.version for m in plain] == [m.version for m in timescale] == sorted(m.version for m in plain)
    assert "PARTITION BY RANGE (time)" in plain[1].sql
    assert ") PARTITION BY RANGE (time);" not in timescale[1].sql and ") PARTITION BY RANGE (time);" in plain[1].sql
    assert "create_hypertable" in timescale[2].sql and "cg_ensure_partitions" in plain[2].sql


def test_fresh_database_migrates_on_the_plain_path(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        result = migrate(conn, StorageBackend.AUTO, RetentionSettings())
        assert result.flavor is Flavor.PLAIN
        assert result.applied == tuple(m.version for m in plan(Flavor.PLAIN))
        recorded = conn.execute("SELECT version, flavor FROM schema_migrations ORDER BY version").fetchall()
        assert recorded == [(v, "plain") for v in result.applied]
        partitioned = {r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid").fetchall()}
        assert partitioned == {"positions", "device_events", "sensor_readings", "detections", "incident_events",
                               "dead_letters"}
        brin = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING brin%'").fetchall()}
        assert partitioned <= brin  # every partitioned table (and so each of its partitions) has BRIN on time
        # Migrating leaves the partitions for today in place, so the first write needs no maintenance pass.
        today = conn.execute("SELECT to_regclass('positions_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD'))")
        assert today.fetchone() != (None,)
        assert current_flavor(conn) is Flavor.PLAIN


def test_second_migrate_applies_nothing(migrated_url: str) -> None:
    with psycopg.connect(migrated_url) as conn:
        again = migrate(conn, StorageBackend.AUTO, RetentionSettings())
    assert again.applied == ()
    assert again.already_applied == tuple(m.version for m in plan(Flavor.PLAIN))


def test_an_edited_applied_migration_is_refused(migrated_url: str) -> None:
    with psycopg.connect(migrated_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 2")
        with pytest.raises(MigrationError, match="0002_timeseries changed after it was applied"):
            migrate(conn, StorageBackend.AUTO, RetentionSettings())


def test_switching_path_after_the_first_migration_is_refused(migrated_url: str) -> None:
    with psycopg.connect(migrated_url) as conn, pytest.raises(MigrationError, match="cannot switch"):
        migrate(conn, StorageBackend.TIMESCALE, RetentionSettings())


def test_timescale_requested_without_the_extension_is_a_clear_error(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn, pytest.raises(MigrationError, match="not installed"):
        migrate(conn, StorageBackend.TIMESCALE, RetentionSettings())


def test_concurrent_migrations_apply_each_version_once(fresh_database_url: str) -> None:
    def run() -> tuple[int, ...]:
        with psycopg.connect(fresh_database_url) as conn:
            return migrate(conn, StorageBackend.PLAIN, RetentionSettings()).applied

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: run(), range(4)))
    applied = [r for r in results if r]
    assert len(applied) == 1
    assert sorted(sum(results, ())) == sorted(applied[0])


def test_configured_retention_is_recorded(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        migrate(conn, StorageBackend.AUTO, RetentionSettings(positions_days=30, detections_days=7))
        keep = dict(conn.execute("SELECT table_name, keep FROM retention_policies").fetchall())
    assert keep["positions"] == timedelta(days=30)
    assert keep["detections"] == timedelta(days=7)
    assert keep["sensor_readings"] == timedelta(days=RetentionSettings().sensor_readings_days)


def test_maintenance_creates_partitions_ahead_and_drops_expired_ones(conn: psycopg.Connection) -> None:
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    old = now - timedelta(days=200)
    assert ensure_partitions(conn, "positions", old, old + timedelta(hours=1)) == 1
    conn.execute("INSERT INTO positions (device_id, time, received_at, lon, lat, source)"
                 " VALUES ('bus-1', %s, %s, 8.5, 47.3, 'test')", (old, old))
    report = maintain(conn, now)
    assert report.flavor is Flavor.PLAIN
    assert report.partitions_dropped == 1
    assert conn.execute("SELECT count(*) FROM positions").fetchone() == (0,)
    children = {r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'positions'::regclass").fetchall()}
    assert "positions_p20261130" in children  # seven days ahead
    assert f"positions_p{old:%Y%m%d}" not in children
    assert maintain(conn, now).partitions_created == 0
