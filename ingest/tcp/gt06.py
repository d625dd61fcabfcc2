"""GT06 sessions for the TCP listener: login first, every frame spooled raw, answered only once it is taken.

A connection's first frame must be a login (0x01) from an IMEI the site file lists (source ``gt06``, the
IMEI as ``external_id``); it is answered and the session takes that terminal's frames from then on. A login
from an unknown IMEI is spooled (so the writer lists it among the unregistered devices), never answered, and
the connection closed: the terminal keeps retrying, and an installer sees its IMEI on the operations page.
Any other frame before a login is refused: dead-lettered as ``not_authenticated``, not answered, and the
connection closed so that the terminal reconnects and logs in.

Every frame after the login is spooled raw under ``gt06/{imei}`` (``gt06/{imei}/{minutes}`` for a unit whose
site record sets ``clock_offset_min``: many are sold set to Beijing time, the protocol says UTC) and, for
login, status and alarms, answered with the protocol number and serial echoed: the listener writes the answers
only once the spool has the frames, so a terminal retransmits whatever was not taken. A frame that fails its
CRC is spooled too (the writer dead-letters it with the reason) but not answered. An SOS alarm goes to the
panic fast path at once; GT06 sends one alarm packet per press, and its retransmissions carry the same device
time (or, without one, the same bytes), so the store raises it once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from domain.messages import PanicPressed
from ingest.decoders import gt06 as decoder
from ingest.messages import OriginReason, Rejection, RejectReason
from ingest.protocols import gt06
from ingest.route import panics_in
from ingest.spool import Envelope
from ingest.tcp.protocol import Outcome, ProtocolContext, register

log = logging.getLogger(__name__)

_ALARMS = frozenset({gt06.Protocol.ALARM, gt06.Protocol.ALARM_2})


class Gt06Protocol:
    """The protocol as the listener sees it."""

    name = "gt06"

    def __init__(self, context: ProtocolContext) -> None:
        """Keep the context (the directory to know IMEIs by, the limits)."""
        self.context = context

    def split(self, buffer: bytes) -> tuple[list[bytes], bytes, bytes]:
        """Cut at 78 78 / 79 79 starts with their lengths and 0D 0A stops."""
        split = gt06.split_frames(buffer)
        return list(split.frames), b"".join(split.garbage), split.rest

    def session(self, peer: str) -> Gt06Session:
        """Start a connection's state: not logged in."""
        return Gt06Session(self, peer)

    def forget(self, terminal: str) -> None:
        """Nothing to forget: GT06 has no authentication code."""

    def close(self) -> None:
        """Nothing to close: GT06 logins need no database."""

    def known(self, imei: str) -> bool:
        """Tell whether the site file lists this IMEI as a GT06 terminal."""
        return self.context.directory[0].lookup(decoder.NAME, imei) is not None

    def clock_offset(self, imei: str) -> timedelta:
        """Read how far the terminal's clock runs ahead of UTC, from its site record (UTC unless it says)."""
        device = self.context.directory[0].lookup(decoder.NAME, imei)
        return timedelta(minutes=device.clock_offset_min if device is not None else 0)


class Gt06Session:
    """One terminal connection."""

    def __init__(self, protocol: Gt06Protocol, peer: str) -> None:
        """Start before login."""
        self.protocol = protocol
        self.peer = peer
        self.imei: str | None = None  # set by an accepted login
        self.offset = timedelta(0)  # the terminal's clock ahead of UTC, from its site record, set at login

    @property
    def terminal(self) -> str | None:
        """The IMEI this connection logged in as."""
        return self.imei

    def refuse(self, data: bytes, rejection: Rejection, received_at: datetime) -> Envelope:
        """Dead-letter bytes the listener or this session refused."""
        return Envelope(decoder.VIA_GT06, decoder.topic_for(self.imei or "?", verdict=rejection), data, received_at)

    async def handle(self, frames: list[bytes], garbage: bytes, received_at: datetime) -> Outcome:
        """Handle one read's frames in order; stop at the first that closes the connection."""
        envelopes: list[Envelope] = []
        replies: list[bytes] = []
        panics: list[PanicPressed] = []
        if garbage.strip(b"\0\r\n "):
            envelopes.append(self.refuse(garbage[:1024], Rejection(
                RejectReason.BAD_ENCODING, f"{len(garbage)} bytes outside GT06 frames"), received_at))
        for raw in frames:
            try:
                frame = gt06.parse_frame(raw)
            except gt06.Gt06Error:
                # Spooled as it came: the writer's decoder gives the reason. Not answered, so it is sent again.
                envelopes.append(Envelope(decoder.VIA_GT06, decoder.topic_for(self.imei or "?"), raw, received_at))
                continue
            if frame.protocol == gt06.Protocol.LOGIN:
                if not self._login(frame, raw, received_at, envelopes, replies):
                    return Outcome(tuple(envelopes), tuple(panics), tuple(replies), close=True)
                continue
            if self.imei is None:
                envelopes.append(self.refuse(raw, Rejection(
                    OriginReason.NOT_AUTHENTICATED,
                    f"protocol 0x{frame.protocol:02X} before login (peer {self.peer})"), received_at))
                return Outcome(tuple(envelopes), tuple(panics), tuple(replies), close=True)
            envelope = Envelope(decoder.VIA_GT06, decoder.topic_for(self.imei, self.offset), raw, received_at)
            envelopes.append(envelope)
            reply = gt06.response_for(frame)
            if reply is not None:
                replies.append(reply)
            if frame.protocol in _ALARMS:
                panics += self._panics(envelope)
        return Outcome(tuple(envelopes), tuple(panics), tuple(replies))

    def _login(self, frame: gt06.Frame, raw: bytes, received_at: datetime, envelopes: list[Envelope],
               replies: list[bytes]) -> bool:
        try:
            login = gt06.decode_message(frame)
        except gt06.Gt06Error as error:
            envelopes.append(self.refuse(raw, decoder.rejection_for(error), received_at))
            return False
        assert isinstance(login, gt06.Login)
        envelopes.append(Envelope(decoder.VIA_GT06, decoder.topic_for(login.imei), raw, received_at))
        if not self.protocol.known(login.imei):
            log.warning("gt06 login of unknown IMEI %s from %s refused", login.imei, self.peer)
            self.imei = None
            return False
        log.info("gt06 login of %s from %s", login.imei, self.peer)
        self.imei = login.imei
        self.offset = self.protocol.clock_offset(login.imei)
        reply = gt06.response_for(frame)
        assert reply is not None
        replies.append(reply)
        return True

    def _panics(self, envelope: Envelope) -> list[PanicPressed]:
        try:
            decoded = decoder.decode(envelope.topic, envelope.payload, envelope.received_at,
                                     self.protocol.context.limits)
        except Rejection:
            return []  # the writer dead-letters it with the reason
        return panics_in(decoded, self.protocol.context.directory[0])


@register(Gt06Protocol.name)
def _factory(context: ProtocolContext) -> Gt06Protocol:
    return Gt06Protocol(context)
