"""A body over the limit is refused while it arrives, and the server's memory does not grow with it.

The production process (``python -m campusguard serve``) on a real TCP port, sent a 300 MB login through a
raw socket from a generator, once with its ``Content-Length`` declared and once chunked: the 413 comes with
a JSON reason before the body is through, and the server's peak resident memory (``VmHWM``) stays where it
was (it grew by 600 MB when FastAPI read such a body whole).
"""

from __future__ import annotations

import json
import os
import secrets
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devtools.devservices import free_port
from tests.support.ingest import prepare_database
from tests.support.postgres import scratch_database

LOGIN = "/api/v1/auth/login"
HUGE = 300 * 1024 * 1024
PIECE = 64 * 1024
LIMIT = 1024 * 1024  # the default of CAMPUSGUARD_WEB__MAX_BODY_BYTES
GROWTH = 4 * 1024 * 1024
"""What the server's peak memory may grow by in all: buffers of a few requests, never the body."""


@dataclass(frozen=True, slots=True)
class Server:
    """The running server: its port and process id."""

    port: int
    pid: int


@pytest.fixture(scope="module")
def server(service_urls: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        prepare_database(db, "a long enough password")
        port = free_port()
        data = tmp_path_factory.mktemp("body-limit")
        env = dict(os.environ, CAMPUSGUARD_MODE="production", CAMPUSGUARD_DATABASE_URL=db,
                   CAMPUSGUARD_DATA_DIR=str(data), CAMPUSGUARD_SECRET_KEY=secrets.token_hex(32),
                   CAMPUSGUARD_ADMIN_PASSWORD=secrets.token_urlsafe(16), CAMPUSGUARD_HTTP_PORT=str(port))
        with (data / "serve.log").open("wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "campusguard", "serve"], env=env, stdout=log,
                                    stderr=subprocess.STDOUT)
        try:
            _wait_until_up(port, proc, data / "serve.log")
            yield Server(port, proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _wait_until_up(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server did not come up: {log.read_text(errors='replace')}")


def peak_memory(pid: int) -> int:
    """The process's peak resident memory so far, in bytes (``VmHWM`` of /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc")


def login_body(size: int) -> Iterator[bytes]:
    """A JSON login whose password runs to ``size`` bytes, one piece at a time: never whole in memory."""
    head = b'{"username": "ahmed-wang", "password": "'
    yield head
    filler = b"x" * PIECE
    left = size - len(head) - 2
    while left > 0:
        yield filler[:left]
        left -= PIECE
    yield b'"}'


def chunked(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """The same pieces in HTTP/1.1 chunked transfer coding."""
    for piece in pieces:
        yield b"%x\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back, and how much of the body had gone out by then."""

    status: int
    body: bytes
    sent: int


def send_streaming(port: int, headers: dict[str, str], pieces: Iterator[bytes]) -> Answer:
    """Send a POST piece by piece, stopping as soon as the server answers (or stops reading)."""
    head = f"POST {LOGIN} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        sent = 0
        for piece in pieces:
            if select.select([sock], [], [], 0)[0]:
                break  # the answer is in: the rest is never sent
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        return Answer(*_read_answer(sock), sent=sent)


def _read_answer(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data) < _expected(data):
            more = sock.recv(65536)
            if not more:
                break
            data += more
    except ConnectionResetError:
        pass  # the server closed on the unread body; what it answered first is read already
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), data[:200]
    return int(head.split()[1]), body


def _expected(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return len(data)


def test_a_declared_300_mb_body_is_refused_before_it_is_read(server: Server) -> None:
    before = peak_memory(server.pid)
    answer = send_streaming(server.port, {"Content-Type": "application/json", "Content-Length": str(HUGE)},
                            login_body(HUGE))
    assert answer.status == 413
    assert "limit" in json.loads(answer.body)["detail"]
    assert answer.sent < 64 * 1024 * 1024, "the server answered only after most of the body"
    assert peak_memory(server.pid) - before < GROWTH


def test_a_chunked_300_mb_body_is_cut_off_at_the_limit(server: Server) -> None:
    before = peak_memory(server.pid)
    answer = send_streaming(server.port, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                            chunked(login_body(HUGE)))
    assert answer.status == 413
    assert "limit" in json.loads(answer.body)["detail"]
    assert answer.sent < 64 * 1024 * 1024
    assert peak_memory(server.pid) - before < GROWTH


@pytest.mark.parametrize("transfer", ["length", "chunked"])
def test_a_body_within_the_limit_reaches_the_login(server: Server, transfer: str) -> None:
    # Just under the limit: read and validated (a password that long is refused by the login's own rules).
    pieces = login_body(LIMIT - 100)
    headers = {"Content-Type": "application/json"}
    if transfer == "length":
        headers["Content-Length"] = str(LIMIT - 100)
    else:
        headers["Transfer-Encoding"] = "chunked"
        pieces = chunked(pieces)
    answer = send_streaming(server.port, headers | {"Connection": "close"}, pieces)
    assert answer.status == 422, answer.body[:300]
    assert answer.sent >= LIMIT - 100
