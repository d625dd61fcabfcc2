"""Scale-out on one machine: 3 ingest workers and 2 API replicas split the load, and a SIGKILL loses nothing.

The processes are the production ones (``campusguard ingest --workers 3``, two ``campusguard serve``,
``campusguard alerts``) against one PostgreSQL and one Mosquitto. Every fix has its own (device, time), so
"stored rows equal the published set" proves no loss and no duplicates at once. Which worker stored what comes
from each worker's own Prometheus counter (``campusguard_ingest_outcomes_total{outcome="stored"}``). The live
feed of *both* replicas must carry every incident the panics raise: the replicas share nothing but PostgreSQL,
so that proves the fan-out runs through LISTEN/NOTIFY.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from command_ui.deps import SESSION_COOKIE
from devtools.devservices import free_port
from tests.scale.cluster import Processes, campusguard_env, free_port_run, ingest_outcome, worker_pids
from tests.support.ingest import ReliablePublisher, prepare_database, scalar, wait_for
from tests.support.mqtt import PrivateBroker

pytestmark = pytest.mark.slow

log = logging.getLogger(__name__)

PASSWORD = "a long enough password"
OFFICER = "daniel-lindqvist"  # district_admin of the whole city: every school's incidents are in scope
WORKERS, VICTIM = 3, 1
DEVICES = 30
PER_PHASE = 6000
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
# Buttons at four schools: four separate panic incidents (the rule merges presses at one place only).
PANIC_TOPICS = ("zigbee2mqtt/antelope-park/office_panic_1", "zigbee2mqtt/holdrege/office_panic_1",
                "zigbee2mqtt/salt-creek/office_panic_1", "zigbee2mqtt/walton-road/office_panic_1")


def fixes(first: int, count: int) -> list[tuple[str, bytes]]:
    """GPS fixes ``first`` .. ``first + count``, each with its own (device, time)."""
    out = []
    for n in range(first, first + count):
        body = {"ts": (START + timedelta(seconds=n // DEVICES)).isoformat(), "lat": 40.8 + n * 1e-7,
                "lon": -96.69, "speed_kmh": 30.0}
        out.append((f"campusguard/v1/antelope-park-es/gps/scale-{n % DEVICES}", json.dumps(body).encode()))
    return out


def expected_keys(total: int) -> set[tuple[str, datetime]]:
    """The (device, time) of every fix :func:`fixes` makes up to ``total``."""
    return {(f"scale-{n % DEVICES}", START + timedelta(seconds=n // DEVICES)) for n in range(total)}


def stored(url: str) -> int:
    """Rows in ``positions``."""
    value = scalar(url, "SELECT count(*) FROM positions")
    assert isinstance(value, int)
    return value


def panic_incidents(url: str) -> set[int]:
    """Ids of the panic incidents raised so far."""
    with psycopg.connect(url, autocommit=True) as conn:
        return {int(row[0]) for row in conn.execute("SELECT id FROM incidents WHERE type = 'panic'").fetchall()}


@pytest.fixture
def district(fresh_database_url: str) -> str:
    """The example district with everyone's password set, and DEVICES extra trackers to publish from."""
    prepare_database(fresh_database_url, PASSWORD)
    with psycopg.connect(fresh_database_url) as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO devices (id, school_id, kind, name, source) VALUES (%s, 'antelope-park-es',"
                        " 'bus_tracker', %s, 'campusguard')", [(f"scale-{i}", f"Scale {i}") for i in range(DEVICES)])
    return fresh_database_url


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Child processes logging under the test's temp dir, all stopped after the test."""
    group = Processes(tmp_path)
    try:
        yield group
    finally:
        group.close()


def sign_in(port: int) -> str:
    """Sign in to one replica over HTTP; returns the session cookie."""
    response = httpx.post(f"http://127.0.0.1:{port}/api/v1/auth/login",
                          json={"username": OFFICER, "password": PASSWORD}, timeout=10)
    assert response.status_code == 200, response.text
    return response.cookies[SESSION_COOKIE]


def open_feed(port: int, cookie: str) -> ClientConnection:
    """Open the live websocket of one replica, signed in."""
    return connect(f"ws://127.0.0.1:{port}/api/v1/live?after=0",
                   additional_headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, open_timeout=10)


def incidents_seen(feed: ClientConnection, wanted: set[int], seconds: float) -> set[int]:
    """Read the feed until it has carried every incident id in ``wanted`` (or the guard runs out)."""
    seen: set[int] = set()
    deadline = time.monotonic() + seconds
    while not wanted <= seen and time.monotonic() < deadline:
        try:
            message: dict[str, Any] = json.loads(feed.recv(timeout=max(0.1, deadline - time.monotonic())))
        except (TimeoutError, ConnectionClosed):
            break
        if message["type"] == "incident":
            seen.add(int(message["incident"]["id"]))
    return seen


def test_three_workers_and_two_replicas_split_the_load_and_survive_a_sigkill(
    district: str, private_mqtt: PrivateBroker, processes: Processes, tmp_path: Path
) -> None:
    url = district
    metrics = free_port_run(WORKERS)
    replicas = [free_port(), free_port()]
    # The geo feed is off: geo is not under test, and on two shared cores its re-publishing only adds noise.
    env = campusguard_env(url, private_mqtt.url, tmp_path / "data", CAMPUSGUARD_INGEST__METRICS_PORT=str(metrics),
                          CAMPUSGUARD_INGEST__CLIENT_ID="cg-scale", CAMPUSGUARD_INGEST__SHARE_GROUP="cgscale",
                          CAMPUSGUARD_INGEST__FEED_GEO="false", CAMPUSGUARD_COOKIE_SECURE="false")
    supervisor = processes.start("ingest", ["ingest", "--workers", str(WORKERS), "--no-http"], env)
    for index, port in enumerate(replicas):
        processes.start(f"api-{index}", ["serve"], {**env, "CAMPUSGUARD_HTTP_PORT": str(port)})
    processes.start("alerts", ["alerts"], env)

    def worker_stored(index: int) -> float | None:
        return ingest_outcome(metrics + index, "stored")

    def health(port: int) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    with contextlib.ExitStack() as stack:
        try:
            wait_for(lambda: all(worker_stored(i) is not None for i in range(WORKERS)), 60, "3 workers' metrics")
            wait_for(lambda: all(health(port) for port in replicas), 60, "both replicas' /health")
            feeds = [stack.enter_context(open_feed(port, sign_in(port))) for port in replicas]
            time.sleep(1.0)  # the workers' SUBACKs: metrics answer a moment before the MQTT subscription is made
            fleet = ReliablePublisher(private_mqtt.url)
            began = time.monotonic()
            fleet.send(fixes(0, PER_PHASE))
            fleet.send((topic, json.dumps({"action": "hold", "battery": 90}).encode()) for topic in PANIC_TOPICS)
            # Mid-stream: every worker has stored some of its share, and the stream is still arriving.
            wait_for(lambda: all((worker_stored(i) or 0) > 0 for i in range(WORKERS)), 60, "each worker's first rows")
            before_kill = {i: worker_stored(i) or 0.0 for i in range(WORKERS)}
            victim = worker_pids(supervisor.pid)[VICTIM]
            os.kill(victim, signal.SIGKILL)
            at_kill = stored(url)
            fleet.send(fixes(PER_PHASE, PER_PHASE))
            # The supervisor brings the worker back under the same index: its MQTT session and its spool resume.
            wait_for(lambda: worker_pids(supervisor.pid).get(VICTIM, victim) != victim, 30, "the victim's restart")
            sent = fleet.wait_all()
            fleet.close()
            total = 2 * PER_PHASE
            wait_for(lambda: stored(url) == total, 90, f"{total} stored positions")
            elapsed = time.monotonic() - began
            after = {i: worker_stored(i) or 0.0 for i in range(WORKERS)}

            wait_for(lambda: len(panic_incidents(url)) == len(PANIC_TOPICS), 60, "the alert stage's incidents")
            raised = panic_incidents(url)
            carried = [incidents_seen(feed, raised, 60) for feed in feeds]
        except AssertionError as failure:
            logs = "\n".join(f"--- {name}\n{processes.tail(name)}" for name in processes.running)
            raise AssertionError(f"{failure}\n{logs}") from failure

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT device_id, time FROM positions").fetchall()
        panics = conn.execute("SELECT count(*) FROM device_events WHERE kind = 'panic'").fetchone()
    log.info("scale-out: %d fixes + %d panics in %.1f s (%.0f msg/s end to end, 3 workers); %d stored at the kill;"
             " stored per worker before the kill %s, at the end %s", total, len(PANIC_TOPICS), elapsed,
             sent / elapsed, at_kill, before_kill, after)
    # No loss, no duplicates: exactly the published (device, time) set, each once.
    assert sent == total + len(PANIC_TOPICS)
    assert len(rows) == total
    assert {(device, time_) for device, time_ in rows} == expected_keys(total)
    assert panics is not None and panics[0] == len(PANIC_TOPICS)
    # The load was split: every worker stored some before the kill; the survivors went on storing after it,
    # and the restarted victim (its counters start again at zero) drained its share from its session and spool.
    # (Measured, not asserted: on Mosquitto 2.0 the survivors store exactly their own thirds. The broker keeps
    # queueing the victim's share for its persistent session rather than moving it; docs/scaling.md.)
    assert all(before_kill[i] > 0 for i in range(WORKERS)), before_kill
    assert all(after[i] > before_kill[i] for i in range(WORKERS) if i != VICTIM), (before_kill, after)
    assert after[VICTIM] > 0, after
    # Both replicas' live feeds carried every panic incident.
    assert len(raised) == len(PANIC_TOPICS)
    assert carried == [raised, raised]
