"""GT06 end to end: a tracker over real TCP, the real worker (receiver and writer in one) and PostgreSQL.

The example district's bus-01 tracker is made a GT06 tracker (IMEI 868120301234567). It logs in, reports a
fix, presses SOS with no fix yet (one panic, raised through the fast path), and a stranger's IMEI is counted
as unregistered and never answered. Frames are built with the codec's own ``build_frame``; the golden bytes
are in test_gt06_frames.py.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from campusguard.settings import Settings
from devtools.devservices import free_port
from ingest.protocols import gt06
from ingest.worker import Worker
from tests.support.ingest import ingest_settings, prepare_database, running_worker, scalar, wait_for
from tests.support.mqtt import PrivateBroker

IMEI = "868120301234567"
DEVICE = "bus-01-gps"


@pytest.fixture
def db(fresh_database_url: str) -> str:
    prepare_database(fresh_database_url)
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute("UPDATE devices SET source = 'gt06', external_id = %s WHERE id = %s", (IMEI, DEVICE))
    return fresh_database_url


@pytest.fixture
def worker(db: str, private_mqtt: PrivateBroker, tmp_path: Path) -> Iterator[Worker]:
    settings: Settings = ingest_settings(db, private_mqtt.url, tmp_path, gt06_enabled=True, gt06_port=free_port(),
                                         feed_geo=False)
    with running_worker(settings) as running:
        wait_for(lambda: all(listener.started for listener in running.tcp), 20, "the GT06 listener")
        yield running


def login(imei: str, serial: int) -> bytes:
    return gt06.build_frame(gt06.Protocol.LOGIN, bytes.fromhex("0" + imei), serial)


def gps(at: datetime, lat: float, lon: float, positioned: bool = True) -> bytes:
    """Date-time, GPS info (12 bytes, 9 satellites), lat/lon in 1/30000 minute, speed, course and status."""
    flags = 0x0400 | (0x1000 if positioned else 0) | 90  # north, east, course 90
    return (bytes([at.year - 2000, at.month, at.day, at.hour, at.minute, at.second, 0xC9])
            + struct.pack(">IIBH", round(abs(lat) * 60 * 30000), round(abs(lon) * 60 * 30000), 36, flags))


CELL = bytes.fromhex("01CC00 2795 0E2A4B")  # MCC 460, MNC 0, LAC 10133, cell 928331


def exchange(sock: socket.socket, frame: bytes) -> bytes:
    sock.sendall(frame)
    return sock.recv(64)


def count(url: str, query: str, *params: object) -> int:
    value = scalar(url, query, *params)
    assert isinstance(value, int)
    return value


def test_login_report_and_sos_reach_the_database(worker: Worker, db: str) -> None:
    port = worker.tcp[0].port
    now = datetime.now(UTC).replace(microsecond=0)
    tracker = socket.create_connection(("127.0.0.1", port), timeout=10)
    answer = gt06.parse_frame(exchange(tracker, login(IMEI, 1)))
    assert (answer.protocol, answer.serial) == (gt06.Protocol.LOGIN, 1)  # acknowledged once spooled
    fix = gt06.build_frame(gt06.Protocol.LOCATION, gps(now - timedelta(seconds=30), 40.791, -96.631) + CELL, 2)
    tracker.sendall(fix)  # a location is not acknowledged in GT06
    # SOS before the first fix: all-zero time, not positioned; alarm/language 0x01 0x01.
    no_fix = bytes(6) + b"\xc0" + bytes(11)
    sos = gt06.build_frame(gt06.Protocol.ALARM_2, no_fix + b"\x09" + CELL + bytes([0x61, 0x02, 0x01, 0x01, 0x01]), 3)
    acknowledged = gt06.parse_frame(exchange(tracker, sos))
    assert (acknowledged.protocol, acknowledged.serial) == (gt06.Protocol.ALARM_2, 3)
    tracker.close()

    stranger = socket.create_connection(("127.0.0.1", port), timeout=10)
    stranger.sendall(login("868120309999999", 1))
    stranger.settimeout(2)
    try:
        answered = stranger.recv(64)  # b"" when the listener closes the connection
    except (TimeoutError, ConnectionError):
        answered = b""
    assert answered == b"", "a stranger's login was answered"
    stranger.close()

    wait_for(lambda: count(db, "SELECT count(*) FROM positions WHERE device_id = %s", DEVICE) == 1, 30, "the fix")
    lat = scalar(db, "SELECT lat FROM positions WHERE device_id = %s", DEVICE)
    assert lat == pytest.approx(40.791, abs=1e-5)
    wait_for(lambda: count(db, "SELECT count(*) FROM device_events WHERE kind = 'panic' AND device_id = %s",
                           DEVICE) == 1, 30, "the SOS as a panic")
    wait_for(lambda: count(db, "SELECT count(*) FROM unregistered_devices WHERE external_id = '868120309999999'")
             == 1, 30, "the stranger counted")
