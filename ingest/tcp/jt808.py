"""JT/T 808 (2013 and 2019) sessions for the TCP listener: registration, authentication, reports, answers.

A connection must authenticate (0x0102 with the code its registration, 0x0100, was answered with in 0x8100)
before anything it reports is taken: a report before that is answered 0x8001 result 1 (failure) and
dead-lettered as ``not_authenticated`` with the terminal's number in its topic, so an installer sees which
terminal is misconfigured. Only terminals the site file lists (source ``jt808``, the number as
``external_id``) are given a code; an unknown number is answered 0x8100 result 4 (no such terminal) and
counted as unregistered. The authentication frame itself is never spooled: it carries the code.

Every report is spooled raw and answered (0x8001 result 0) only once the spool took it. The emergency alarm
bit goes to the panic fast path on its rising edge: this process remembers each terminal's last alarm word,
so a terminal that keeps the bit set report after report raises one panic. A sub-packaged message is held
until its last package, spooled whole, and then every package is answered.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from domain.messages import PanicPressed
from ingest.decoders import jt808 as decoder
from ingest.messages import SOURCE_JT808, OriginReason, Rejection, RejectReason
from ingest.protocols import jt808
from ingest.protocols.jt808 import Frame, FrameError, Header, MsgId, RegisterResult, Result
from ingest.route import VIA_JT808, panics_in
from ingest.spool import Envelope
from ingest.tcp.protocol import Outcome, ProtocolContext, register
from store.terminal_repo import Issued, check_code, code_digest, issue_code

log = logging.getLogger(__name__)

DB_WAIT_S = 5.0  # registration and authentication wait this long for the database, the terminal about as long
# Registration and authentication take pooled connections: a new connection per terminal was most of the cost of
# a fleet reconnecting at once (5,000 terminals took 39.5 s to connect; bench/trackers.py). A handful suffices:
# each check is one short statement, and asyncio.to_thread runs only a few at a time anyway.
DB_POOL_SIZE = 4
MAX_PENDING_BYTES = 65536  # sub-packages held per connection while a message is incomplete
_ENCODING_ERRORS = frozenset({"bad_check_code", "bad_escape", "bad_bcd"})
_REPORTS = frozenset({MsgId.LOCATION, MsgId.BATCH_LOCATION, MsgId.QUERY_ANSWER})


class Jt808Protocol:
    """The protocol as the listener sees it; holds what outlives a connection (each terminal's alarm word)."""

    name = "jt808"

    def __init__(self, context: ProtocolContext) -> None:
        """Keep the context; alarm words start unknown (all clear)."""
        self.context = context
        self.alarm_words: dict[str, int] = {}
        # The code each terminal last authenticated with (its digest), believed while the database is down, so
        # that a terminal reconnecting during an outage is not refused (and its reports with it).
        self._verified: dict[str, bytes] = {}
        # Opened on first use, so that building the protocol (tests, a listener never connected to) needs no database.
        self._pool = ConnectionPool(context.database_url, min_size=1, max_size=DB_POOL_SIZE, open=False,
                                    kwargs={"connect_timeout": 5, "autocommit": True},
                                    check=ConnectionPool.check_connection, name="jt808-auth")
        self._pool_lock = threading.Lock()
        self._pool_open = False

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        with self._pool_lock:
            if not self._pool_open:
                self._pool.open(wait=False)
                self._pool_open = True
        with self._pool.connection(timeout=DB_WAIT_S) as conn:
            yield conn

    def close(self) -> None:
        """Close the connection pool (the listener stopped)."""
        with self._pool_lock:
            if self._pool_open:
                self._pool.close()
                self._pool_open = False

    def split(self, buffer: bytes) -> tuple[list[bytes], bytes, bytes]:
        """Cut at 0x7E delimiters."""
        return jt808.split_frames(buffer)

    def session(self, peer: str) -> Jt808Session:
        """Start a connection's state."""
        return Jt808Session(self, peer)

    def forget(self, terminal: str) -> None:
        """Forget the code a terminal last authenticated with: revoked, it must not pass during an outage."""
        self._verified.pop(terminal, None)

    def issue(self, phone: str) -> tuple[RegisterResult, str | None]:
        """Give a listed terminal a new code (blocking: run it off the loop)."""
        if self.context.directory[0].lookup(SOURCE_JT808, phone) is None:
            return RegisterResult.NO_SUCH_TERMINAL, None
        code = secrets.token_hex(16)
        with self._connection() as conn:
            issued = issue_code(conn, phone, code)
        return (RegisterResult.OK, code) if issued == Issued.ISSUED else (RegisterResult.TERMINAL_REGISTERED, None)

    def verify(self, phone: str, code: str) -> bool:
        """Check a terminal's code (blocking: run it off the loop)."""
        if self.context.directory[0].lookup(SOURCE_JT808, phone) is None:
            return False
        try:
            with self._connection() as conn:
                ok = check_code(conn, phone, code)
        except (psycopg.OperationalError, PoolTimeout):
            ok = self._verified.get(phone) == code_digest(code)
            log.warning("jt808: database unreachable; %s %s by the code it last used", phone,
                        "authenticated" if ok else "refused")
            return ok
        if ok:
            self._verified[phone] = code_digest(code)
        else:
            self._verified.pop(phone, None)  # revoked or replaced
        return ok


@dataclass(slots=True)
class _Batch:
    envelopes: list[Envelope] = field(default_factory=list)
    replies: list[bytes] = field(default_factory=list)
    alarm_words: dict[str, int] = field(default_factory=dict)


class Jt808Session:
    """One terminal connection."""

    def __init__(self, protocol: Jt808Protocol, peer: str) -> None:
        """Start unauthenticated."""
        self.protocol = protocol
        self.peer = peer
        self.phone: str | None = None  # set by a successful authentication
        self._serial = 0
        self._parts: dict[tuple[int, str, int], list[tuple[bytes, Frame]]] = {}

    @property
    def terminal(self) -> str | None:
        """The number this connection authenticated as."""
        return self.phone

    def refuse(self, data: bytes, rejection: Rejection, received_at: datetime) -> Envelope:
        """Dead-letter bytes the listener or this session refused."""
        return Envelope(VIA_JT808, decoder.envelope_topic(self.phone or "?", None, rejection), data, received_at)

    async def handle(self, frames: list[bytes], garbage: bytes, received_at: datetime) -> Outcome:
        """Handle one read's frames in order."""
        batch = _Batch()
        if garbage.strip(b"\0\r\n "):
            batch.envelopes.append(self.refuse(garbage[:1024], Rejection(
                RejectReason.BAD_ENCODING, f"{len(garbage)} bytes outside 0x7E-delimited frames"), received_at))
        panics: list[PanicPressed] = []
        for raw in frames:
            panics += await self._frame(raw, received_at, batch)
        words = batch.alarm_words

        def commit() -> None:
            self.protocol.alarm_words.update(words)  # only once the reports that raised them are spooled

        return Outcome(tuple(batch.envelopes), tuple(panics), tuple(batch.replies), commit=commit if words else None)

    async def _frame(self, raw: bytes, received_at: datetime, batch: _Batch) -> list[PanicPressed]:
        try:
            frame = jt808.parse_frame(raw)
        except FrameError as error:
            reason = RejectReason.BAD_ENCODING if error.reason in _ENCODING_ERRORS else RejectReason.WRONG_TYPE
            batch.envelopes.append(self.refuse(raw[:2048], Rejection(reason, str(error)), received_at))
            return []
        header = frame.header
        if header.packages is not None:
            whole = self._collect(raw, frame, received_at, batch)
            if whole is None:
                return []
            raws, frame = whole
            payload = b"".join(raws)
            serials = [f.header.serial for _, f in self._parts.pop(self._part_key(header))]
        else:
            payload, serials = raw, [header.serial]
        return await self._message(frame, payload, serials, received_at, batch)

    @staticmethod
    def _part_key(header: Header) -> tuple[int, str, int]:
        assert header.packages is not None
        # Packages of one message carry consecutive serials: the first's serial names the message.
        return header.msg_id, header.phone, header.serial - header.packages[1] + 1

    def _collect(self, raw: bytes, frame: Frame, received_at: datetime,
                 batch: _Batch) -> tuple[list[bytes], Frame] | None:
        key = self._part_key(frame.header)
        parts = self._parts.setdefault(key, [])
        if all(f.header.packages != frame.header.packages for _, f in parts):
            parts.append((raw, frame))  # a retransmitted package is kept once
        held = sum(len(r) for p in self._parts.values() for r, _ in p)
        if held > MAX_PENDING_BYTES:
            dropped = self._parts.pop(key)
            batch.envelopes.append(self.refuse(b"".join(r for r, _ in dropped)[:2048], Rejection(
                RejectReason.OVERSIZED, f"sub-packages held passed {MAX_PENDING_BYTES} bytes"), received_at))
            return None
        assert frame.header.packages is not None
        if len(parts) < frame.header.packages[0]:
            return None
        parts.sort(key=lambda p: p[1].header.packages or (0, 0))
        try:
            return [r for r, _ in parts], jt808.reassemble([f for _, f in parts])
        except FrameError as error:
            self._parts.pop(key)
            batch.envelopes.append(self.refuse(b"".join(r for r, _ in parts)[:2048],
                                               Rejection(RejectReason.WRONG_TYPE, str(error)), received_at))
            return None

    def _answer(self, header: Header, msg_id: int, body: bytes) -> bytes:
        self._serial = (self._serial + 1) & 0xFFFF
        return jt808.encode_frame(Header(msg_id, header.phone, self._serial, header.version), body)

    def _respond(self, header: Header, serials: list[int], result: Result) -> list[bytes]:
        return [self._answer(header, MsgId.PLATFORM_RESPONSE, jt808.platform_response(s, header.msg_id, result))
                for s in serials]

    async def _message(self, frame: Frame, payload: bytes, serials: list[int], received_at: datetime,
                       batch: _Batch) -> list[PanicPressed]:
        header = frame.header
        phone = header.phone
        if header.msg_id == MsgId.REGISTER:
            registered, code = await asyncio.to_thread(self.protocol.issue, phone)
            log.info("jt808 registration of %s from %s: %s", phone, self.peer, registered.name)
            batch.envelopes.append(Envelope(VIA_JT808, decoder.envelope_topic(phone), payload, received_at))
            batch.replies.append(self._answer(header, MsgId.REGISTER_ANSWER,
                                              jt808.register_answer(header.serial, registered, code)))
            return []
        if header.msg_id == MsgId.AUTHENTICATE:
            try:
                code = jt808.parse_authentication(frame.body, header.version).code
            except FrameError:
                code = ""
            ok = bool(code) and await asyncio.to_thread(self.protocol.verify, phone, code)
            log.log(logging.INFO if ok else logging.WARNING, "jt808 authentication of %s from %s: %s",
                    phone, self.peer, "accepted" if ok else "refused")
            self.phone = phone if ok else None
            batch.replies += self._respond(header, serials, Result.OK if ok else Result.FAILURE)
            return []  # never spooled: it carries the code
        if self.phone != phone:
            batch.envelopes.append(Envelope(VIA_JT808, decoder.envelope_topic(phone, None, Rejection(
                OriginReason.NOT_AUTHENTICATED,
                f"terminal {phone} sent 0x{header.msg_id:04X} before authenticating (peer {self.peer})")),
                payload, received_at))
            batch.replies += self._respond(header, serials, Result.FAILURE)
            return []
        if header.msg_id == MsgId.LOGOUT:
            self.phone = None
        rising: list[int] = []
        result = Result.OK
        if header.encryption:
            result = Result.NOT_SUPPORTED  # spooled: the writer dead-letters it as unsupported
        elif header.msg_id in _REPORTS:
            try:
                rising = self._rising(phone, decoder.locations_of(frame), batch)
            except FrameError:
                result = Result.MESSAGE_ERROR  # spooled all the same: the writer dead-letters it with its reason
        elif header.msg_id not in (MsgId.HEARTBEAT, MsgId.LOGOUT, MsgId.TERMINAL_RESPONSE):
            result = Result.NOT_SUPPORTED
        envelope = Envelope(VIA_JT808, decoder.envelope_topic(phone, rising), payload, received_at)
        batch.envelopes.append(envelope)
        if header.msg_id != MsgId.TERMINAL_RESPONSE:  # a response is not answered
            batch.replies += self._respond(header, serials, result)
        if not any(word & jt808.EMERGENCY_BIT for word in rising):
            return []
        try:
            decoded = decoder.decode(envelope.topic, payload, received_at, self.protocol.context.limits)
        except Rejection:
            return []
        return panics_in(decoded, self.protocol.context.directory[0])

    def _rising(self, phone: str, locations: list[jt808.Location], batch: _Batch) -> list[int]:
        """Find the alarm bits each location raises over the one before (this read's, then the remembered)."""
        last = batch.alarm_words.get(phone, self.protocol.alarm_words.get(phone, 0))
        rising = []
        for location in locations:
            rising.append(location.alarm & ~last)
            last = location.alarm
        batch.alarm_words[phone] = last
        return rising


@register(Jt808Protocol.name)
def _factory(context: ProtocolContext) -> Jt808Protocol:
    return Jt808Protocol(context)
