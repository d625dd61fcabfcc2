"""The TimescaleDB path on a real TimescaleDB engine (PGlite + TimescaleDB 2.x, see tools/pglite/).

Every TimescaleDB migration runs through the real migration runner; the writer, the maintenance pass and the
shared queries then run unchanged against the hypertables and continuous aggregates. The engine serves one
connection at a time, so each step opens and closes its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from devtools.pglite import start_pglite
from domain.messages import Position
from store.config import RetentionSettings, StorageBackend
from store.maintenance import maintain
from store.migrate import Flavor, migrate, plan
from store.writer import POSITIONS, TimeSeriesWriter

pytestmark = pytest.mark.timescale

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "district.yaml"
NOW = datetime.now(UTC).replace(microsecond=0)
TABLES = {"positions", "device_events", "sensor_readings", "detections", "incident_events", "dead_letters"}


@pytest.fixture(scope="module")
def ts_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with start_pglite(tmp_path_factory.mktemp("pglite"), conn_wait_ms=5000) as url:
        with psycopg.connect(url) as conn:
            result = migrate(conn, StorageBackend.TIMESCALE, RetentionSettings())
        assert result.flavor is Flavor.TIMESCALE
        assert result.applied == tuple(m.version for m in plan(Flavor.TIMESCALE))
        yield url


def rows(url: str, query: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params or None).fetchall()


def job_id(url: str, proc: str, table: str) -> int:
    found = rows(url, "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = %s AND hypertable_name = %s",
                 proc, table)
    assert len(found) == 1, f"expected one {proc} job on {table}"
    return int(found[0][0])  # type: ignore[call-overload]


def test_every_time_series_table_is_a_hypertable(ts_url: str) -> None:
    found = {r[0] for r in rows(ts_url, "SELECT hypertable_name FROM timescaledb_information.hypertables")}
    assert found == TABLES


def test_compression_is_segmented_by_device(ts_url: str) -> None:
    settings = {str(t): s for t, s in rows(
        ts_url, "SELECT hypertable::text, segmentby FROM timescaledb_information.hypertable_compression_settings")}
    assert settings["positions"] == "device_id"
    assert settings["detections"] == "camera_id"
    policies = {r[0] for r in rows(ts_url, "SELECT hypertable_name FROM timescaledb_information.jobs"
                                           " WHERE proc_name = 'policy_compression'")}
    assert policies == {"positions", "device_events", "sensor_readings", "detections"}


def test_retention_per_data_class_follows_the_settings(ts_url: str) -> None:
    def drop_after() -> dict[str, timedelta]:
        return {str(t): d for t, d in rows(
            ts_url, "SELECT hypertable_name, (config->>'drop_after')::interval FROM timescaledb_information.jobs"
                    " WHERE proc_name = 'policy_retention'")}  # type: ignore[misc]

    defaults = RetentionSettings()
    assert drop_after() == {"positions": timedelta(days=defaults.positions_days),
                            "device_events": timedelta(days=defaults.device_events_days),
                            "sensor_readings": timedelta(days=defaults.sensor_readings_days),
                            "detections": timedelta(days=defaults.detections_days),
                            "dead_letters": timedelta(days=defaults.dead_letters_days)}
    with psycopg.connect(ts_url) as conn:
        again = migrate(conn, StorageBackend.AUTO, RetentionSettings(positions_days=30))
    assert again.applied == () and again.flavor is Flavor.TIMESCALE
    assert drop_after()["positions"] == timedelta(days=30)
    with psycopg.connect(ts_url) as conn:
        migrate(conn, StorageBackend.AUTO, defaults)


def test_the_dropped_rollups_are_gone(ts_url: str) -> None:
    # Migration 0018: read by nothing; a rollup comes back with the query that needs it.
    views = rows(ts_url, "SELECT view_name FROM timescaledb_information.continuous_aggregates")
    assert views == []
    assert rows(ts_url, "SELECT count(*) FROM information_schema.columns"
                        " WHERE table_name = 'positions' AND column_name = 'step_m'") == [(0,)]


def test_the_writer_and_the_shared_queries_run_on_hypertables(ts_url: str) -> None:
    start = NOW - timedelta(hours=2)
    fixes = [Position("ts-bus", start + timedelta(seconds=10 * i), NOW, 8.54, 47.0 + i * 0.001, "test",
                      speed_kmh=36.0) for i in range(100)]
    with TimeSeriesWriter(ts_url, POSITIONS) as writer:
        assert writer.write(fixes).inserted == 100
        assert writer.write(fixes[:50]).inserted == 0
    with psycopg.connect(ts_url, autocommit=True) as conn:
        stored = conn.execute("SELECT count(*), max(speed_kmh) FROM positions WHERE device_id = 'ts-bus'").fetchone()
        latest = conn.execute("SELECT time FROM latest_positions WHERE device_id = 'ts-bus'").fetchone()
    assert stored == (100, 36.0)
    assert latest == (fixes[-1].time,)


def test_retention_and_compression_jobs_act_when_run(ts_url: str) -> None:
    old = NOW - timedelta(days=RetentionSettings().positions_days + 5)
    week_old = NOW - timedelta(days=10)
    with TimeSeriesWriter(ts_url, POSITIONS) as writer:
        writer.write([Position("ts-old", old, NOW, 8.5, 47.3, "test"),
                      Position("ts-week", week_old, NOW, 8.5, 47.3, "test")])
    retention = job_id(ts_url, "policy_retention", "positions")
    compression = job_id(ts_url, "policy_compression", "positions")
    with psycopg.connect(ts_url, autocommit=True) as conn:
        conn.execute(f"CALL run_job({retention})")
        conn.execute(f"CALL run_job({compression})")
        remaining = {r[0] for r in conn.execute(
            "SELECT device_id FROM positions WHERE device_id LIKE 'ts-%%'").fetchall()}
        compressed = conn.execute(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'positions'"
            " AND is_compressed").fetchone()
        assert maintain(conn, NOW).flavor is Flavor.TIMESCALE
    assert "ts-old" not in remaining and "ts-week" in remaining
    assert compressed is not None and compressed[0] >= 1
