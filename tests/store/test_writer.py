"""The batched COPY writer: duplicate-safe, keeps the current position right, survives a database restart."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from domain.messages import DeviceEvent, Position, SensorReading
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.writer import DEVICE_EVENTS, POSITIONS, SENSOR_READINGS, TimeSeriesWriter, WriteResult
from tests.support.postgres import PrivateCluster

NOW = datetime.now(UTC).replace(microsecond=0)


def fixes(device: str, count: int, start: datetime = NOW, step_s: float = 1.0) -> list[Position]:
    return [
        Position(device, start + timedelta(seconds=i * step_s), NOW, 8.54 + i * 1e-5, 47.37, "test",
                 speed_kmh=float(i % 60))
        for i in range(count)
    ]


def count(conn: psycopg.Connection, table: str = "positions") -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_redelivered_rows_are_not_stored_twice(migrated_url: str, conn: psycopg.Connection) -> None:
    batch = fixes("bus-1", 500)
    with TimeSeriesWriter(migrated_url, POSITIONS) as writer:
        first = writer.write(batch)
        second = writer.write(batch[250:] + fixes("bus-2", 10))
    assert (first.inserted, first.duplicates) == (500, 0)
    assert (second.inserted, second.duplicates) == (10, 250)
    assert count(conn) == 510


def test_duplicates_inside_one_batch_are_stored_once(migrated_url: str, conn: psycopg.Connection) -> None:
    batch = fixes("bus-1", 100)
    with TimeSeriesWriter(migrated_url, POSITIONS) as writer:
        result = writer.write(batch + batch[:40])
    assert result == WriteResult(rows=140, inserted=100, attempts=1)
    assert count(conn) == 100


def test_a_late_fix_does_not_move_the_current_position_back(migrated_url: str, conn: psycopg.Connection) -> None:
    recent = fixes("bus-1", 5, start=NOW)
    late = [Position("bus-1", NOW - timedelta(minutes=10), NOW, 9.0, 46.0, "test")]
    with TimeSeriesWriter(migrated_url, POSITIONS) as writer:
        writer.write(recent)
        writer.write(late)
    row = conn.execute("SELECT time, lon FROM latest_positions WHERE device_id = 'bus-1'").fetchone()
    assert row == (recent[-1].time, recent[-1].lon)
    assert count(conn) == 6  # the late fix is still stored, with its own device time


def test_rows_outside_the_prepared_partitions_get_one(migrated_url: str, conn: psycopg.Connection) -> None:
    old = fixes("bus-1", 3, start=NOW - timedelta(days=40)) + fixes("bus-1", 3, start=NOW - timedelta(days=90))
    with TimeSeriesWriter(migrated_url, POSITIONS) as writer:
        assert writer.write(old).inserted == 6
    assert count(conn) == 6


def test_device_events_and_sensor_readings(migrated_url: str, conn: psycopg.Connection) -> None:
    events = [DeviceEvent("pb-1", NOW, "offline", NOW, {"silent_s": 300}),
              DeviceEvent("pb-1", NOW, "offline", NOW, {"silent_s": 300})]
    readings = [SensorReading("temp-1", NOW + timedelta(seconds=i), "temperature_c", 20.0 + i, NOW)
                for i in range(10)]
    with TimeSeriesWriter(migrated_url, DEVICE_EVENTS) as ev, TimeSeriesWriter(migrated_url, SENSOR_READINGS) as sr:
        assert ev.write(events).inserted == 1
        assert sr.write(readings).inserted == 10
    assert conn.execute("SELECT detail FROM device_events").fetchone() == ({"silent_s": 300},)
    assert count(conn, "sensor_readings") == 10


def test_naive_times_are_refused_before_they_reach_the_database() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Position("bus-1", datetime(2026, 1, 1), NOW, 8.5, 47.3, "test")  # noqa: DTZ001


def _migrate(url: str) -> None:
    with psycopg.connect(url) as conn:
        migrate(conn, StorageBackend.AUTO, RetentionSettings())


def test_a_batch_written_while_the_database_is_down_lands_once_it_is_back(
    private_postgres: PrivateCluster,
) -> None:
    _migrate(private_postgres.url)
    writer = TimeSeriesWriter(private_postgres.url, POSITIONS, max_wait_s=120)
    writer.write(fixes("bus-1", 10))  # the writer now holds an open connection
    private_postgres.stop()
    results: list[WriteResult] = []
    worker = threading.Thread(target=lambda: results.append(writer.write(fixes("bus-2", 1000))))
    worker.start()
    time.sleep(1.0)  # the write is now retrying against a stopped server
    assert worker.is_alive() and not results
    private_postgres.start()
    worker.join(timeout=120)
    writer.close()
    assert results and results[0].inserted == 1000 and results[0].attempts > 1
    with psycopg.connect(private_postgres.url) as conn:
        assert count(conn) == 1010


def test_a_restart_in_the_middle_of_a_copy_loses_nothing_and_duplicates_nothing(
    private_postgres: PrivateCluster,
) -> None:
    _migrate(private_postgres.url)
    batch = fixes("bus-1", 300_000, step_s=0.01)
    writer = TimeSeriesWriter(private_postgres.url, POSITIONS, max_wait_s=120)
    results: list[WriteResult] = []
    worker = threading.Thread(target=lambda: results.append(writer.write(batch)))
    worker.start()
    with psycopg.connect(private_postgres.url, autocommit=True) as watcher:
        for _ in range(2000):  # bounded wait until the COPY or the INSERT of the batch is running
            busy = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                " AND (query LIKE 'COPY%%' OR query LIKE 'INSERT INTO \"positions\"%%')").fetchone()
            if busy and busy[0]:
                break
            time.sleep(0.005)
        else:
            pytest.fail("the batch never reached the server")
    private_postgres.restart()
    worker.join(timeout=180)
    writer.close()
    assert results, "the write did not finish"
    assert results[0].attempts >= 2
    assert results[0].inserted == len(batch)
    with psycopg.connect(private_postgres.url) as conn:
        assert count(conn) == len(batch)
