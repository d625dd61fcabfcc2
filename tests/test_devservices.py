"""The service fixtures and ``devtools.devservices`` itself, including its private-server fallback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from devtools.devservices import (
    DATABASE_URL_VAR,
    MQTT_URL_VAR,
    free_port,
    port_open,
    postgres_answers,
    redact,
)
from domain.broker import BrokerAddress, parse_broker_url
from tests.support.mqtt import round_trip
from tests.support.postgres import PrivateCluster

REPO_ROOT = Path(__file__).resolve().parent.parent


def _current_database(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT current_database()").fetchone()
    assert row is not None
    return str(row[0])


def _public_tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return [str(name) for (name,) in rows]


def test_session_database_is_a_scratch_database(database_url: str) -> None:
    assert _current_database(database_url).startswith("cg_test_")
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS probe (n int)")
        conn.execute("INSERT INTO probe VALUES (1)")


def test_fresh_database_is_empty_and_separate(fresh_database_url: str, database_url: str) -> None:
    assert _current_database(fresh_database_url) != _current_database(database_url)
    assert _public_tables(fresh_database_url) == []


def test_mqtt_broker_round_trip(mqtt_url: str) -> None:
    assert round_trip(mqtt_url, b"hello") == b"hello"


def test_private_cluster_keeps_data_across_stop_and_start(private_postgres: PrivateCluster) -> None:
    url = private_postgres.url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (42)")

    private_postgres.stop()
    assert not port_open("127.0.0.1", private_postgres.port)
    private_postgres.start()
    private_postgres.restart()

    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT n FROM kept").fetchall() == [(42,)]


def test_redact_hides_passwords() -> None:
    assert redact("postgresql://u:secret@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert redact("mqtt://h:1883") == "mqtt://h:1883"


def test_mqtt_url_parsing() -> None:
    assert parse_broker_url("mqtt://a%40b:p%3Aw@broker:1884") == BrokerAddress("broker", 1884, "a@b", "p:w")
    assert parse_broker_url("mqtt://broker").port == 1883
    with pytest.raises(ValueError, match="mqtt://"):
        parse_broker_url("http://broker")


def test_unreachable_postgres_is_reported_quickly() -> None:
    assert not postgres_answers(f"postgresql://postgres@127.0.0.1:{free_port()}/x")


# The child proves both services work from the environment devservices gives it.
_CHILD = """
import json, os, psycopg
from tests.support.mqtt import round_trip
db, mqtt = os.environ["CAMPUSGUARD_DATABASE_URL"], os.environ["CAMPUSGUARD_MQTT_URL"]
with psycopg.connect(db) as conn:
    (name,) = conn.execute("SELECT current_database()").fetchone()
print(json.dumps({"db": db, "mqtt": mqtt, "dbname": name, "echo": round_trip(mqtt, b"via-child").decode()}))
raise SystemExit(7)
"""


@pytest.mark.slow
def test_run_starts_private_services_and_stops_them() -> None:
    unused_db, unused_mqtt = free_port(), free_port()
    env = {
        **os.environ,
        DATABASE_URL_VAR: f"postgresql://postgres@127.0.0.1:{unused_db}/x",
        MQTT_URL_VAR: f"mqtt://127.0.0.1:{unused_mqtt}",
    }
    with tempfile.TemporaryDirectory(prefix="cg-devservices-") as tmp:
        # Readable by the postgres/mosquitto accounts, so the servers live under the run dir itself.
        Path(tmp).chmod(0o755)
        run_dir = Path(tmp) / "run"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "devtools.devservices",
                "run",
                "--run-dir",
                str(run_dir),
                "--no-default-ports",
                "--",
                sys.executable,
                "-c",
                _CHILD,
            ],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 7, result.stderr
        seen = json.loads(result.stdout.strip().splitlines()[-1])
        assert seen["dbname"] == "campusguard"
        assert seen["echo"] == "via-child"
        assert "started private cluster" in result.stderr
        assert "started private broker" in result.stderr
        assert (run_dir / "postgres" / "data" / "PG_VERSION").exists()
        assert not (run_dir / "postgres" / "data" / "postmaster.pid").exists()

        db_port = conninfo_to_dict(seen["db"])["port"]
        mqtt_port = parse_broker_url(seen["mqtt"]).port
        assert int(str(db_port)) not in (unused_db, 5432)
        assert mqtt_port not in (unused_mqtt, 1883)
        assert not port_open("127.0.0.1", int(str(db_port)))
        assert not port_open("127.0.0.1", mqtt_port)
