"""Maintenance runs the way production calls it: the web process's schedule and ``campusguard db maintain``.

Before, both failed at once (``can't change 'autocommit' now``: the pass asked the database's flavour in a
transaction, then switched to autocommit), so only ``db migrate`` ever maintained: old partitions stayed and
snapshots with unblurred faces outlived their retention. Each test seeds both and checks they are gone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from campusguard.runtime import maintenance_pass
from campusguard.settings import Mode, Settings
from store.partitions import ensure_partitions

REPO = Path(__file__).resolve().parents[2]


def seed_expired(url: str) -> datetime:
    """An expired positions partition with a row, and a snapshot past the detections' retention."""
    now = datetime.now(UTC)
    old = now - timedelta(days=400)
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_partitions(conn, "positions", old, old + timedelta(hours=1))
        conn.execute("INSERT INTO positions (device_id, time, received_at, lon, lat, source)"
                     " VALUES ('bus-1', %s, %s, 116.4, 39.9, 'test')", (old, old))
        conn.execute("INSERT INTO org_units (id, kind, name, path, depth) VALUES ('c', 'city', 'C', '/c/', 0)")
        conn.execute("INSERT INTO devices (id, kind, name, source) VALUES ('cam-1', 'camera', 'Gate', 'campusguard')")
        for at in (old, now):
            conn.execute("INSERT INTO snapshots (camera_id, time, kind, width, height, faces, jpeg_blurred,"
                         " jpeg_original) VALUES ('cam-1', %s, 'intrusion', 1, 1, 1, 'b', 'o')", (at,))
    return old


def assert_maintained(url: str, old: datetime) -> None:
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM positions").fetchone() == (0,)
        assert conn.execute("SELECT to_regclass(%s)", (f"positions_p{old:%Y%m%d}",)).fetchone() == (None,)
        kept = conn.execute("SELECT time FROM snapshots").fetchall()
    assert len(kept) == 1 and kept[0][0] > old  # the recent one stays


def test_the_web_process_schedule_maintains(migrated_url: str, tmp_path: Path) -> None:
    old = seed_expired(migrated_url)
    settings = Settings(mode=Mode.DEMO, database_url=migrated_url, data_dir=tmp_path)
    maintenance_pass(settings)  # what APScheduler runs every rollup_refresh_seconds
    assert_maintained(migrated_url, old)


def test_the_command_maintains(migrated_url: str, tmp_path: Path) -> None:
    old = seed_expired(migrated_url)
    env = dict(os.environ, CAMPUSGUARD_MODE="demo", CAMPUSGUARD_DATABASE_URL=migrated_url,
               CAMPUSGUARD_DATA_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "campusguard", "db", "maintain"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 dropped" in done.stdout
    assert_maintained(migrated_url, old)


@pytest.mark.parametrize("in_transaction", [False, True])
def test_a_connection_in_any_state_is_refused_or_served_clearly(migrated_url: str, in_transaction: bool) -> None:
    from store.maintenance import maintain

    with psycopg.connect(migrated_url) as conn:
        if in_transaction:
            conn.execute("SELECT 1")
            with pytest.raises(ValueError, match="idle"):
                maintain(conn, datetime.now(UTC))
        else:
            assert maintain(conn, datetime.now(UTC)).partitions_created >= 0
