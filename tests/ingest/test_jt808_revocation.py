"""A revoked JT/T 808 terminal loses its live connection at once and must register again.

The revocation is committed in another process (the API, here a plain connection); ingest hears it on its
NOTIFY channel and closes the connection that authenticated with the code, instead of taking reports on it
until the terminal next reconnects.
"""

from __future__ import annotations

import socket
import struct

import psycopg

from ingest.protocols import jt808
from ingest.protocols.jt808 import MsgId, RegisterResult, Result
from ingest.worker import Worker
from store.terminal_repo import revoke_codes
from tests.ingest.test_jt808_e2e import PHONE, Terminal, db, result_of, settings, worker

__all__ = ["db", "settings", "worker"]

REGISTRATION = struct.pack(">HH", 44, 300) + bytes(11 + 30 + 30) + b"\x02"


def closed_by_peer(sock: socket.socket) -> bool:
    sock.settimeout(20)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_revoking_closes_the_live_connection(worker: Worker, db: str) -> None:
    port = worker.tcp[0].port
    bus = Terminal(port)
    answer = bus.send(MsgId.REGISTER, REGISTRATION)
    assert answer.body[2] == RegisterResult.OK
    code = answer.body[3:].decode()
    assert result_of(bus.send(MsgId.AUTHENTICATE, jt808.authentication_body(code, 1))) == Result.OK
    assert result_of(bus.send(MsgId.HEARTBEAT, b"")) == Result.OK
    with psycopg.connect(db, autocommit=True) as conn:
        assert revoke_codes(conn, PHONE, "test") == 1
    assert closed_by_peer(bus.sock)
    bus.close()
    again = Terminal(port)
    assert result_of(again.send(MsgId.AUTHENTICATE, jt808.authentication_body(code, 1))) == Result.FAILURE
    assert again.send(MsgId.REGISTER, REGISTRATION).body[2] == RegisterResult.OK
    again.close()
