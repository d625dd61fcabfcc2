"""The priority lane's process: panics stored and announced with the bulk lane stopped; bulk processes niced.

Real Mosquitto and PostgreSQL. The lane runs in this process for the first test (nothing of the bulk side runs
at all), and as the supervisor starts it, beside a niced receiver and writer, for the second.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import psycopg
import pytest

from ingest.priority import PriorityLane
from ingest.spool import PartitionedSpool
from ingest.supervisor import PRIORITY, commands
from store.channels import PANIC_CHANNEL
from tests.support.ingest import forget_session, ingest_settings, prepare_database, publish, scalar, wait_for
from tests.support.mqtt import PrivateBroker

PRESS = ("zigbee2mqtt/antelope-park/office_panic_1", json.dumps({"action": "single", "battery": 95}).encode())


@pytest.fixture
def db(fresh_database_url: str) -> str:
    prepare_database(fresh_database_url)
    return fresh_database_url


@pytest.fixture
def announced(db: str) -> Iterator[list[dict[str, object]]]:
    """Collect what is announced on the panic channel while the test runs."""
    heard: list[dict[str, object]] = []
    listening, done = threading.Event(), threading.Event()

    def listen() -> None:
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute(f"LISTEN {PANIC_CHANNEL}")
            listening.set()
            while not done.is_set():
                heard.extend(json.loads(n.payload) for n in conn.notifies(timeout=0.2))

    thread = threading.Thread(target=listen)
    thread.start()
    assert listening.wait(10)
    yield heard
    done.set()
    thread.join(timeout=10)


def test_the_exclusive_layout_runs_the_priority_lane_apart() -> None:
    assert PRIORITY in commands(2, False, shared=False)
    assert "ingest-priority" in commands(2, False, shared=False)[PRIORITY]
    assert PRIORITY not in commands(2, False, shared=False, priority=False)
    assert PRIORITY not in commands(2, False, shared=True)  # a shared worker keeps both lanes


def test_a_panic_is_stored_announced_and_spooled_with_the_bulk_lane_stopped(
        db: str, private_mqtt: PrivateBroker, tmp_path: Path, announced: list[dict[str, object]]) -> None:
    settings = ingest_settings(db, private_mqtt.url, tmp_path)
    lane = PriorityLane(settings, partitions=2)
    thread = threading.Thread(target=lane.run)
    thread.start()
    try:
        wait_for(lane.mqtt.connected.is_set, 20, "the priority lane's connection")
        # No receiver, no writer: nothing drains the bulk lane or the spools.
        publish(settings.mqtt_url, [PRESS])
        wait_for(lambda: bool(announced), 20, "the press announced")
        assert announced[0]["device_id"] == "antelope-park-office-panic-1"
        assert scalar(db, "SELECT count(*) FROM device_events WHERE kind = 'panic'") == 1
    finally:
        lane.stop()
        thread.join(timeout=60)
        forget_session(settings.mqtt_url, f"{settings.ingest.client_id}-rx-p")
    # Acknowledged only once durable: the envelope waits in a writer's spool, which records it again if the
    # fast path had failed (the database key makes that a no-op here).
    spools = PartitionedSpool(tmp_path / "spool", 2)
    try:
        assert spools.depth() == 1
    finally:
        spools.close()


def _heard(announced: list[dict[str, object]], seconds: float) -> bool:
    try:
        wait_for(lambda: bool(announced), seconds, "a press")
    except AssertionError:
        return False
    return True


def _niceness_is(pid: int, niceness: int) -> bool:
    return os.getpriority(os.PRIO_PROCESS, pid) == niceness


def _children(pid: int) -> dict[str, int]:
    """Name the supervisor's children by role (receiver, priority, writer) from their command lines."""
    found: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue  # exited between the two reads
            role = {b"ingest-receiver": "receiver", b"ingest-priority": "priority"}.get(argv[3], "writer")
            found[role] = int(child)
    return found


def test_bulk_processes_are_niced_and_a_press_still_arrives(
        db: str, private_mqtt: PrivateBroker, tmp_path: Path, announced: list[dict[str, object]]) -> None:
    client_id = f"cg-test-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, CAMPUSGUARD_MODE="production", CAMPUSGUARD_DATABASE_URL=db,
               CAMPUSGUARD_MQTT_URL=private_mqtt.url, CAMPUSGUARD_DATA_DIR=str(tmp_path),
               CAMPUSGUARD_SECRET_KEY=secrets.token_hex(32), CAMPUSGUARD_ADMIN_PASSWORD=secrets.token_urlsafe(16),
               CAMPUSGUARD_INGEST__CLIENT_ID=client_id, CAMPUSGUARD_INGEST__METRICS_PORT="0",
               CAMPUSGUARD_INGEST__BULK_NICE="7")
    process = subprocess.Popen([sys.executable, "-m", "campusguard", "ingest", "--workers", "1", "--no-http"],
                               env=env)
    try:
        wait_for(lambda: len(_children(process.pid)) == 3, 60, "the receiver, the priority lane and the writer")
        children = _children(process.pid)
        base = os.getpriority(os.PRIO_PROCESS, process.pid)
        # Niceness is read again until each child has applied it (it does so as it starts, before any thread).
        for role in ("writer", "receiver"):
            wait_for(partial(_niceness_is, children[role], min(base + 7, 19)), 60, f"the {role}'s niceness")
        assert os.getpriority(os.PRIO_PROCESS, children["priority"]) == base
        # The press reaches the fast path through the priority process (pressed again until its lane subscribed).
        for _ in range(60):
            publish(private_mqtt.url, [PRESS])
            if _heard(announced, 1.0):
                break
        assert announced[0]["device_id"] == "antelope-park-office-panic-1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=90)  # each child drains for up to 60 s
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        for suffix in ("-rx", "-rx-p"):
            forget_session(private_mqtt.url, f"{client_id}{suffix}")
