"""Each device port of ingest is switched on its own: ``--no-http`` no longer silences JT/T 808 and GT06.

The supervisor's command lines are checked as data, and ``campusguard ingest`` is run as an operator runs it
(supervisor, receiver, writer) with every listener enabled in its settings: what listens is what was asked for.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from devtools.devservices import free_port
from ingest.supervisor import NO_PORTS, RECEIVER, DevicePorts, commands
from tests.support.ingest import prepare_database, wait_for
from tests.support.mqtt import PrivateBroker


def test_the_process_hosting_the_ports_is_told_each_one() -> None:
    exclusive = commands(2, DevicePorts(http=False), shared=False)
    assert exclusive[RECEIVER][-3:] == ["--no-http", "--jt808", "--gt06"]
    assert all(exclusive[i][-3:] == NO_PORTS.flags() for i in (0, 1))  # writers receive nothing
    shared = commands(2, DevicePorts(jt808=False), shared=True)
    assert shared[0][-3:] == ["--http", "--no-jt808", "--gt06"]
    assert shared[1][-3:] == ["--no-http", "--no-jt808", "--no-gt06"]
    assert commands(1, False, shared=False)[RECEIVER][-3:] == NO_PORTS.flags()


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.mark.parametrize(("flag", "expected"), [("--no-http", {"jt808", "gt06"}), ("--no-jt808", {"http", "gt06"}),
                                                ("--no-gt06", {"http", "jt808"})])
def test_ingest_serves_exactly_the_ports_asked_for(fresh_database_url: str, private_mqtt: PrivateBroker,
                                                   tmp_path: Path, flag: str, expected: set[str]) -> None:
    prepare_database(fresh_database_url)
    ports = {"http": free_port(), "jt808": free_port(), "gt06": free_port()}
    env = dict(os.environ, CAMPUSGUARD_MODE="production", CAMPUSGUARD_DATABASE_URL=fresh_database_url,
               CAMPUSGUARD_MQTT_URL=private_mqtt.url, CAMPUSGUARD_DATA_DIR=str(tmp_path),
               CAMPUSGUARD_SECRET_KEY=secrets.token_hex(32), CAMPUSGUARD_ADMIN_PASSWORD=secrets.token_urlsafe(16),
               CAMPUSGUARD_INGEST__CLIENT_ID=f"cg-test-{uuid.uuid4().hex[:8]}", CAMPUSGUARD_INGEST__METRICS_PORT="0",
               CAMPUSGUARD_INGEST__HTTP_PORT=str(ports["http"]), CAMPUSGUARD_INGEST__JT808_ENABLED="true",
               CAMPUSGUARD_INGEST__JT808_PORT=str(ports["jt808"]), CAMPUSGUARD_INGEST__GT06_ENABLED="true",
               CAMPUSGUARD_INGEST__GT06_PORT=str(ports["gt06"]))
    process = subprocess.Popen([sys.executable, "-m", "campusguard", "ingest", "--workers", "1", flag], env=env)
    try:
        wait_for(lambda: process.poll() is not None or all(listening(ports[p]) for p in expected), 60,
                 f"the {', '.join(sorted(expected))} listeners")
        assert process.poll() is None, "ingest exited"
        # The listeners start together on the receiver; the one not asked for is not among them.
        assert {p for p, port in ports.items() if listening(port)} == expected
    finally:
        process.terminate()
        try:
            # The supervisor gives each child 60 s to drain, then kills it: wait past that, never leak the process.
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
