"""The TCP listener's bounds, over real TCP with a real spool: connection cap, buffer limit, idle timeout.

No database: nothing here authenticates, so the JT/T 808 session never asks for one; what is refused is in the
spool, on its way to the dead letters.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.decoders import Limits
from ingest.directory import Directory
from ingest.panic import PanicDispatcher
from ingest.protocols import jt808
from ingest.protocols.jt808 import Header, MsgId, Result
from ingest.spool import Spool
from ingest.tcp.listener import ListenerLimits, TcpListener
from ingest.tcp.protocol import ProtocolContext, protocol_for
from tests.support.ingest import wait_for

PHONE = "13912345678"


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    spool = Spool(tmp_path / "spool.sqlite")
    yield spool
    spool.close()


def serve(spool: Spool, limits: ListenerLimits) -> TcpListener:
    protocol = protocol_for("jt808", ProtocolContext([Directory({})], Limits(), "postgresql://unused"))
    listener = TcpListener(protocol, "127.0.0.1", 0, spool=spool, panics=PanicDispatcher("postgresql://unused"),
                           on_spooled=threading.Event(), limits=limits)
    listener.start()
    wait_for(lambda: listener.started, 10, "the listener")
    return listener


def closed_by_peer(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


def verdicts(spool: Spool) -> list[str]:
    return [s.envelope.topic.split("\n")[2].split(" ")[0] for s in spool.peek(100)]


def test_bad_frames_are_dead_lettered_and_the_connection_kept(spool: Spool) -> None:
    listener = serve(spool, ListenerLimits())
    try:
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as sock:
            report = jt808.encode_frame(Header(MsgId.LOCATION, PHONE, 7), bytes(28))
            broken = report[:-2] + bytes([report[-2] ^ 1]) + b"\x7e"
            sock.sendall(b"HELLO" + broken + report)
            answer = jt808.parse_frame(sock.recv(4096))
            assert answer.body == jt808.platform_response(7, MsgId.LOCATION, Result.FAILURE)
            wait_for(lambda: spool.depth() == 3, 10, "three envelopes")
            assert verdicts(spool) == ["bad_encoding", "bad_encoding", "not_authenticated"]
            sock.sendall(jt808.encode_frame(Header(MsgId.HEARTBEAT, PHONE, 8), b""))
            assert jt808.parse_frame(sock.recv(4096)).header.msg_id == MsgId.PLATFORM_RESPONSE  # still open
    finally:
        listener.stop()


def test_an_unfinished_frame_over_the_limit_is_refused_and_the_connection_closed(spool: Spool) -> None:
    listener = serve(spool, ListenerLimits(buffer_bytes=2048))
    try:
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as sock:
            sock.sendall(b"\x7e" + b"\x01" * 10_000)
            assert closed_by_peer(sock)
        wait_for(lambda: spool.depth() == 1, 10, "the refused bytes")
        assert verdicts(spool) == ["oversized"]
        assert len(spool.peek(1)[0].envelope.payload) == 2048
    finally:
        listener.stop()


def test_connection_cap_and_idle_timeout(spool: Spool) -> None:
    listener = serve(spool, ListenerLimits(max_connections=1, idle_s=0.5))
    try:
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as first:
            wait_for(lambda: listener.connections == 1, 5, "the first connection")
            with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as second:
                assert closed_by_peer(second)
            assert closed_by_peer(first)  # silent for idle_s
        wait_for(lambda: listener.connections == 0, 5, "both gone")
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as third:
            third.sendall(jt808.encode_frame(Header(MsgId.HEARTBEAT, PHONE, 1, 1), b""))
            assert jt808.parse_frame(third.recv(4096)).header.version == 1  # answered in the terminal's version
    finally:
        listener.stop()
