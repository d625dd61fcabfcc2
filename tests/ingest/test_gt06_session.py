"""GT06 on the TCP listener: login first, answers only after the spool took the frame, panics on the fast path."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator, Sequence

import pytest

from ingest.decoders import Limits
from ingest.decoders.gt06 import VIA_GT06, decode
from ingest.directory import DEFAULT_PANIC_ACTIONS, DeviceInfo, Directory
from ingest.messages import OriginReason, Rejection, RejectReason
from ingest.panic import PanicDispatcher
from ingest.spool import Envelope
from ingest.tcp.gt06 import Gt06Protocol, Gt06Session
from ingest.tcp.listener import ListenerLimits, TcpListener
from ingest.tcp.protocol import Outcome, ProtocolContext, protocol_for
from tests.ingest.helpers import LIMITS, RECEIVED_AT
from tests.ingest.test_gt06_frames import (
    IMEI,
    LOCATION,
    LOGIN,
    LOGIN_ACK,
    SOS,
    SOS_ACK,
    STATUS,
    STATUS_ACK,
)

TRACKER = DeviceInfo("bus-07-tracker", "school-3", "gps_tracker", "bus-07", None, DEFAULT_PANIC_ACTIONS)
DIRECTORY = Directory({("gt06", IMEI): TRACKER})


def context() -> ProtocolContext:
    return ProtocolContext([DIRECTORY], Limits(), database_url="")


def handle(session: Gt06Session, *frames: bytes, garbage: bytes = b"") -> Outcome:
    return asyncio.run(session.handle(list(frames), garbage, RECEIVED_AT))


def verdict(envelope: Envelope) -> Rejection:
    with pytest.raises(Rejection) as refused:
        decode(envelope.topic, envelope.payload, envelope.received_at, LIMITS)
    return refused.value


def test_registered_with_the_listener() -> None:
    assert isinstance(protocol_for("gt06", context()), Gt06Protocol)


def test_login_then_reports_each_spooled_and_answered_as_the_protocol_says() -> None:
    session = Gt06Protocol(context()).session("198.51.100.7")
    outcome = handle(session, LOGIN, LOCATION, STATUS, SOS)
    assert [e.payload for e in outcome.envelopes] == [LOGIN, LOCATION, STATUS, SOS]
    assert {(e.source, e.topic) for e in outcome.envelopes} == {(VIA_GT06, f"gt06/{IMEI}")}
    assert outcome.replies == (LOGIN_ACK, STATUS_ACK, SOS_ACK)  # a location is not answered
    assert not outcome.close
    [panic] = outcome.panics
    assert (panic.device_id, panic.school_id, panic.action, panic.source) == ("bus-07-tracker", "school-3", "sos",
                                                                              "gt06")
    assert session.imei == IMEI


def test_a_frame_before_login_is_refused_unanswered_and_the_connection_closed() -> None:
    outcome = handle(Gt06Protocol(context()).session("198.51.100.7"), SOS, LOGIN)
    [refused] = outcome.envelopes
    assert (outcome.replies, outcome.panics, outcome.close) == ((), (), True)
    rejection = verdict(refused)
    assert rejection.reason is OriginReason.NOT_AUTHENTICATED and "0x16 before login" in rejection.message


def test_an_unknown_imei_is_spooled_to_be_listed_but_never_answered() -> None:
    stranger = Gt06Protocol(ProtocolContext([Directory({})], Limits(), ""))
    outcome = handle(stranger.session("203.0.113.9"), LOGIN, LOCATION)
    assert [e.payload for e in outcome.envelopes] == [LOGIN]  # the writer counts it among unregistered devices
    assert (outcome.replies, outcome.close) == ((), True)


def test_a_damaged_frame_is_spooled_for_its_dead_letter_and_not_answered() -> None:
    session = Gt06Protocol(context()).session("198.51.100.7")
    handle(session, LOGIN)
    damaged = STATUS[:-4] + b"\x00\x00" + STATUS[-2:]
    outcome = handle(session, damaged, garbage=b"\xff\xfe\x00")
    assert outcome.replies == ()
    assert verdict(outcome.envelopes[0]).reason is RejectReason.BAD_ENCODING  # the garbage
    assert "crc" in verdict(outcome.envelopes[1]).message


# -------------------------------------------------------------------------------------------- over real TCP


class GatedSpool:
    """A spool that takes envelopes only when the test opens the gate, as a slow disk would."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.taken: list[Envelope] = []

    def append(self, envelopes: Sequence[Envelope]) -> None:
        self.gate.wait(10)
        self.taken.extend(envelopes)


@pytest.fixture
def served() -> Iterator[tuple[TcpListener, GatedSpool]]:
    spool = GatedSpool()
    listener = TcpListener(Gt06Protocol(context()), "127.0.0.1", 0, spool=spool,
                           panics=PanicDispatcher("postgresql://unused"),  # not started: submit only queues
                           on_spooled=threading.Event(), limits=ListenerLimits(idle_s=10))
    listener.start()
    for _ in range(500):
        if listener.started:
            break
        threading.Event().wait(0.01)
    yield listener, spool
    spool.gate.set()
    listener.stop()


def _receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def test_the_answer_waits_for_the_spool_and_a_split_frame_is_joined(served: tuple[TcpListener, GatedSpool]) -> None:
    listener, spool = served
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as sock:
        sock.sendall(LOGIN)
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(64)  # nothing is answered while the spool has not taken the login
        spool.gate.set()
        sock.settimeout(5)
        assert _receive(sock, len(LOGIN_ACK)) == LOGIN_ACK
        sock.sendall(SOS[:9])
        threading.Event().wait(0.1)
        sock.sendall(SOS[9:])
        assert _receive(sock, len(SOS_ACK)) == SOS_ACK
    assert [e.payload for e in spool.taken] == [LOGIN, SOS]


def test_a_connection_killed_mid_frame_was_never_answered_for_it(served: tuple[TcpListener, GatedSpool]) -> None:
    listener, spool = served
    spool.gate.set()
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as sock:
        sock.sendall(LOGIN + STATUS[:7])
        assert _receive(sock, len(LOGIN_ACK)) == LOGIN_ACK
    for _ in range(200):
        if listener.connections == 0:
            break
        threading.Event().wait(0.01)
    assert [e.payload for e in spool.taken] == [LOGIN]  # the half status was neither spooled nor answered
