"""JT/T 808 end to end: a terminal over real TCP, the real worker (receiver and writer in one) and PostgreSQL.

The example district's bus-01 tracker is made a JT/T 808 terminal (number 13912345678). It registers,
reports before authenticating (refused, dead-lettered with its number), authenticates with the code it was
given, reports, backfills a tunnel, holds its emergency button down over two reports (one panic), retransmits
a report (no second row), and has its connection killed mid-frame (what was acknowledged is stored).
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
from ingest.protocols import jt808
from ingest.protocols.jt808 import Header, Location, MsgId, RegisterResult, Result
from ingest.worker import Worker
from store.terminal_repo import revoke_codes
from tests.support.ingest import ingest_settings, prepare_database, running_worker, scalar, wait_for
from tests.support.mqtt import PrivateBroker

PHONE = "13912345678"
DEVICE = "bus-01-gps"


@pytest.fixture
def db(fresh_database_url: str) -> str:
    prepare_database(fresh_database_url)
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute("UPDATE devices SET source = 'jt808', external_id = %s WHERE id = %s", (PHONE, DEVICE))
    return fresh_database_url


@pytest.fixture
def settings(db: str, private_mqtt: PrivateBroker, tmp_path: Path) -> Settings:
    return ingest_settings(db, private_mqtt.url, tmp_path, jt808_enabled=True, jt808_port=free_port(),
                           feed_geo=False)


@pytest.fixture
def worker(settings: Settings) -> Iterator[Worker]:
    with running_worker(settings) as running:
        wait_for(lambda: all(listener.started for listener in running.tcp), 20, "the JT/T 808 listener")
        yield running


class Terminal:
    """A JT/T 808 (2019) terminal on a blocking socket."""

    def __init__(self, port: int, phone: str = PHONE) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.phone = phone
        self.serial = 0
        self._buffer = b""

    def frame(self, msg_id: int, body: bytes) -> bytes:
        self.serial += 1
        return jt808.encode_frame(Header(msg_id, self.phone, self.serial, 1), body)

    def send(self, msg_id: int, body: bytes) -> jt808.Frame:
        self.sock.sendall(self.frame(msg_id, body))
        return self.answer()

    def answer(self) -> jt808.Frame:
        while True:
            frames, _, rest = jt808.split_frames(self._buffer)
            if frames:
                self._buffer = b"".join(frames[1:]) + rest
                return jt808.parse_frame(frames[0])
            data = self.sock.recv(4096)
            assert data, "the platform closed the connection"
            self._buffer += data

    def close(self) -> None:
        self.sock.close()


def location(time: datetime, lat: float, lon: float, alarm: int = 0, positioned: bool = True) -> bytes:
    return jt808.encode_location(Location(alarm, 0b10 if positioned else 0, lat, lon, 350, 36.5, 90,
                                          time.replace(microsecond=0), {0x31: b"\x09"}))


def result_of(answer: jt808.Frame) -> Result:
    assert answer.header.msg_id == MsgId.PLATFORM_RESPONSE
    return Result(answer.body[4])


def count(url: str, query: str, *params: object) -> int:
    value = scalar(url, query, *params)
    assert isinstance(value, int)
    return value


def test_register_authenticate_report_backfill_and_sos(worker: Worker, settings: Settings, db: str) -> None:
    port = worker.tcp[0].port
    now = datetime.now(UTC)
    bus = Terminal(port)
    registration = (struct.pack(">HH", 44, 300) + b"CGBUS".ljust(11, b"\0") + b"JT-2019".ljust(30, b"\0")
                    + b"T000002".ljust(30, b"\0") + b"\x02" + "粤B12345".encode("gbk"))
    answer = bus.send(MsgId.REGISTER, registration)
    assert answer.header.msg_id == MsgId.REGISTER_ANSWER and answer.body[2] == RegisterResult.OK
    code = answer.body[3:].decode("ascii")
    assert len(code) == 32
    # Only the code's hash is kept.
    assert count(db, "SELECT count(*) FROM jt808_auth_codes WHERE phone = %s AND code_hash <> %s",
                 PHONE, code.encode()) == 1

    # A report before authentication: refused, answered failure, dead-lettered with the number; no row.
    assert result_of(bus.send(MsgId.LOCATION, location(now - timedelta(seconds=90), 40.79, -96.63))) == Result.FAILURE
    assert result_of(bus.send(MsgId.AUTHENTICATE, jt808.authentication_body("wrong", 1))) == Result.FAILURE
    assert result_of(bus.send(MsgId.AUTHENTICATE, jt808.authentication_body(code, 1, "860000000000001",
                                                                             "V1.0.0"))) == Result.OK

    report = location(now - timedelta(seconds=60), 40.791, -96.631)
    assert result_of(bus.send(MsgId.LOCATION, report)) == Result.OK
    assert result_of(bus.send(MsgId.LOCATION, report)) == Result.OK  # a retransmission: no second row
    tunnel = [location(now - timedelta(minutes=30, seconds=s), 40.78 + s / 1e4, -96.62) for s in (20, 10)]
    batch = struct.pack(">HB", 2, 1) + b"".join(struct.pack(">H", len(item)) + item for item in tunnel)
    assert result_of(bus.send(MsgId.BATCH_LOCATION, batch)) == Result.OK
    # The emergency button: pressed with no fix, still held in the next report (with a fix), then released.
    sos = location(now - timedelta(seconds=30), 0, 0, alarm=1, positioned=False)
    assert result_of(bus.send(MsgId.LOCATION, sos)) == Result.OK
    held = location(now - timedelta(seconds=25), 40.792, -96.632, alarm=1)
    assert result_of(bus.send(MsgId.LOCATION, held)) == Result.OK
    assert result_of(bus.send(MsgId.HEARTBEAT, b"")) == Result.OK
    # Killed mid-frame: the first report is acknowledged, the second never finishes.
    last = bus.frame(MsgId.LOCATION, location(now - timedelta(seconds=20), 40.793, -96.633))
    cut = bus.frame(MsgId.LOCATION, location(now - timedelta(seconds=15), 40.794, -96.634))
    bus.sock.sendall(last + cut[: len(cut) // 2])
    assert result_of(bus.answer()) == Result.OK
    bus.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, not FIN
    bus.close()

    # A number the site file does not list gets no code and is counted as unregistered.
    stranger = Terminal(port, "13800000000")
    refused = stranger.send(MsgId.REGISTER, registration)
    assert refused.body[2] == RegisterResult.NO_SUCH_TERMINAL
    stranger.close()

    def stored() -> bool:
        return count(db, "SELECT count(*) FROM positions WHERE device_id = %s", DEVICE) == 5
    wait_for(stored, 30, "five positions")
    wait_for(lambda: count(db, "SELECT count(*) FROM dead_letters") >= 1, 20, "the refused report")
    wait_for(lambda: count(db, "SELECT count(*) FROM unregistered_devices WHERE external_id = '13800000000'") == 1,
             20, "the unknown number counted")
    times = scalar(db, "SELECT array_agg(time ORDER BY time) FROM positions WHERE device_id = %s", DEVICE)
    assert isinstance(times, list)
    assert times[0] == (now - timedelta(minutes=30, seconds=20)).replace(microsecond=0)  # the backfill, oldest
    assert count(db, "SELECT count(*) FROM positions WHERE device_id = %s AND received_at - time > interval '20 min'",
                 DEVICE) == 2
    assert count(db, "SELECT count(*) FROM device_events WHERE kind = 'panic' AND device_id = %s", DEVICE) == 1
    assert scalar(db, "SELECT detail->>'action' FROM device_events WHERE kind = 'panic'") == "sos"
    assert scalar(db, "SELECT reason FROM dead_letters") == "not_authenticated"
    topic = scalar(db, "SELECT topic FROM dead_letters")
    assert isinstance(topic, str) and PHONE in topic
    assert count(db, "SELECT count(*) FROM sensor_readings WHERE metric = 'satellites'") == 5

    # Revoked: the code no longer authenticates, and the terminal may register again.
    with psycopg.connect(db, autocommit=True) as conn:
        assert revoke_codes(conn, PHONE, "test") == 1
    again = Terminal(port)
    assert result_of(again.send(MsgId.AUTHENTICATE, jt808.authentication_body(code, 1))) == Result.FAILURE
    assert again.send(MsgId.REGISTER, registration).body[2] == RegisterResult.OK
    again.close()


def test_a_used_code_holds_the_number(worker: Worker, settings: Settings, db: str) -> None:
    port = worker.tcp[0].port
    bus = Terminal(port)
    body = struct.pack(">HH", 44, 300) + bytes(11 + 30 + 30) + b"\x02"
    code = bus.send(MsgId.REGISTER, body).body[3:].decode()
    # Registering again before the code is used replaces it (the first answer may have been lost).
    code = bus.send(MsgId.REGISTER, body).body[3:].decode()
    assert result_of(bus.send(MsgId.AUTHENTICATE, jt808.authentication_body(code, 1))) == Result.OK
    bus.close()
    thief = Terminal(port)
    assert thief.send(MsgId.REGISTER, body).body[2] == RegisterResult.TERMINAL_REGISTERED
    thief.close()
