"""The OsmAnd listener refuses what is too big as it reads it: the real receiver process, over real TCP.

A gigabyte is offered from a generator (never held by the test), once with its Content-Length and once
chunked; the listener answers 413 long before the end, its process's resident memory barely moves, and a
fix and an SOS sent right after are taken (the SOS through the panic fast path into the database).
"""

from __future__ import annotations

import os
import secrets
import select
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools.devservices import free_port
from domain.site.validate import load_site
from tests.support.ingest import EXAMPLE, prepare_database, scalar, wait_for
from tests.support.mqtt import PrivateBroker

GIB = 1 << 30
BLOCK = b"0" * 65536  # one block, sent over and over: the test never holds more
# Resident memory may move this much: allocator noise of a few requests, not a body's worth.
RSS_SLACK_KB = 4 * 1024


@dataclass(frozen=True, slots=True)
class Receiver:
    """The receiver process under test: its pid and OsmAnd port."""

    pid: int
    port: int

    def rss_kb(self) -> int:
        """Resident memory of the process, in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def db(fresh_database_url: str) -> str:
    prepare_database(fresh_database_url)
    return fresh_database_url


@pytest.fixture
def receiver(db: str, private_mqtt: PrivateBroker, tmp_path: Path) -> Iterator[Receiver]:
    """The production receiver (``campusguard ingest-receiver --http``), as the supervisor starts it."""
    port = free_port()
    env = dict(os.environ, CAMPUSGUARD_MODE="production", CAMPUSGUARD_DATABASE_URL=db,
               CAMPUSGUARD_MQTT_URL=private_mqtt.url, CAMPUSGUARD_DATA_DIR=str(tmp_path),
               CAMPUSGUARD_SECRET_KEY=secrets.token_hex(32), CAMPUSGUARD_ADMIN_PASSWORD=secrets.token_urlsafe(16),
               CAMPUSGUARD_INGEST__CLIENT_ID=f"cg-test-{uuid.uuid4().hex[:8]}", CAMPUSGUARD_INGEST__WORKERS="1",
               CAMPUSGUARD_INGEST__METRICS_PORT="0", CAMPUSGUARD_INGEST__HTTP_PORT=str(port))
    process = subprocess.Popen([sys.executable, "-m", "campusguard", "ingest-receiver", "--partitions", "1",
                                "--http"], env=env)
    try:
        wait_for(lambda: process.poll() is not None or _listening(port), 60, "the OsmAnd listener")
        assert process.poll() is None, "the receiver exited"
        yield Receiver(process.pid, port)
    finally:
        process.terminate()
        process.wait(timeout=60)


def exchange(port: int, head: bytes, body: Iterable[bytes] = ()) -> tuple[int, int]:
    """Send a request's head, then its body until the server answers; return (status, body bytes sent)."""
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        try:
            for chunk in body:
                if select.select([sock], [], [], 0)[0]:
                    break  # answered before the body ended: what a refusal while reading looks like
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it closed on us; its answer came first
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass  # the rest of our body, unread, resets the connection after the answer
    assert answer.startswith(b"HTTP/1.1 "), answer[:80]
    return int(answer.split(b" ", 2)[1]), sent


def gigabyte() -> Iterator[bytes]:
    for _ in range(GIB // len(BLOCK)):
        yield BLOCK


def gigabyte_chunked() -> Iterator[bytes]:
    for block in gigabyte():
        yield b"%x\r\n%b\r\n" % (len(block), block)
    yield b"0\r\n\r\n"


def osmand_id(device_id: str) -> str:
    """The example district's OsmAnd id of a tracker."""
    trackers = [t for e in load_site(EXAMPLE).iter_schools() for b in e.school.buses for t in b.trackers]
    found = next(t.external_id for t in trackers if t.id == device_id)
    assert found is not None
    return found


def get(port: int, query: str) -> int:
    status, _ = exchange(port, f"GET /?{query} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    return status


def post_head(extra: str) -> bytes:
    return f"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n{extra}\r\n\r\n".encode()


def test_a_gigabyte_is_refused_while_read_and_the_listener_keeps_serving(receiver: Receiver, db: str) -> None:
    device = osmand_id("bus-04-osmand")
    now = int(time.time())
    fix = f"id={device}&lat=40.79&lon=-96.63&timestamp={now}&speed=10"
    # Warm both paths first, so the baseline holds what serving them costs once.
    assert get(receiver.port, fix) == 200
    assert exchange(receiver.port, post_head("Content-Length: 5000"), [b"0" * 5000])[0] == 413
    time.sleep(0.5)
    baseline = receiver.rss_kb()

    status, sent = exchange(receiver.port, post_head(f"Content-Length: {GIB}"), gigabyte())
    assert status == 413 and sent < GIB // 4
    status, sent = exchange(receiver.port, post_head("Transfer-Encoding: chunked"), gigabyte_chunked())
    assert status == 413 and sent < GIB // 4
    # The URL is bounded too (OsmAnd sends its fields as query parameters): over the limit, 414; far over,
    # refused by the HTTP parser before the application sees it; too many parameters, 400.
    assert get(receiver.port, f"id={device}&pad={'x' * 5000}") == 414
    assert get(receiver.port, f"id={device}&pad={'x' * (1 << 20)}") == 400
    assert get(receiver.port, "&".join(f"p{n}=1" for n in range(65)) + f"&id={device}") == 400

    grown = receiver.rss_kb() - baseline
    assert grown < RSS_SLACK_KB, f"the receiver grew by {grown} KiB"
    assert get(receiver.port, f"id={device}&lat=40.791&lon=-96.631&timestamp={now + 1}") == 200
    assert get(receiver.port, f"id={device}&alarm=sos&timestamp={now + 2}") == 200
    wait_for(lambda: scalar(db, "SELECT count(*) FROM device_events WHERE kind = 'panic'") == 1, 20,
             "the SOS through the fast path")
    assert scalar(db, "SELECT device_id FROM device_events WHERE kind = 'panic'") == "bus-04-osmand"
