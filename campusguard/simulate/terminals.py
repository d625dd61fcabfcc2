"""Simulated JT/T 808 terminals and GT06 trackers on real TCP connections, one thread each.

A terminal behaves as the real ones do, because that is what the ingest listeners must cope with:

- **JT/T 808 (2019)**: on its first connection it registers (0x0100) and keeps the authentication code the
  platform answers (0x8100) for every later connection, where it authenticates (0x0102) first. A refused
  code (revoked) is forgotten and the terminal registers again. Each report (0x0200) waits for the platform's
  general response (0x8001); whatever is not acknowledged, and every fix taken while the terminal has no
  signal (a tunnel), is kept in the terminal's store and uploaded once it can as batches (0x0704) of type 1,
  the blind-area backfill (盲区补报). An SOS press sets alarm bit 0 in the next few reports (a terminal keeps
  it set until the press is handled); ingest must raise it once.
- **GT06**: logs in (0x01) with its IMEI and time zone, sends locations (0x22, never acknowledged by the
  protocol), and an SOS as an alarm packet (0x16, acknowledged). Fixes taken in a tunnel, or while the
  connection is down, are sent later with 0x22's re-upload flag set.

A terminal that cannot connect waits (doubling up to 30 s) and keeps storing, as a terminal out of coverage
does. Nothing here blocks the simulation's clock: the runner only queues reports.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from campusguard.simulate import tracker_frames as frames
from campusguard.simulate.flash import Flash
from campusguard.simulate.model import DeviceRef, SimFix, SimPress, SimReport
from ingest.protocols import gt06, jt808
from ingest.protocols.jt808 import Location, MsgId, RegisterResult, Result

log = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 5.0
MAX_BACKOFF_S = 30.0
MAX_STORED = 20_000
"""Fixes a terminal keeps while it cannot send (JT/T 794 asks for at least 10,000)."""
SOS_HELD_REPORTS = 3
"""Reports that carry the emergency bit after a press: the platform must raise it once, not three times."""


@dataclass(frozen=True, slots=True)
class Tunnel:
    """Where a bus has no signal: every ``every_s`` seconds of device time, ``length_s`` of blind area."""

    every_s: float = 1200.0
    length_s: float = 90.0

    def covers(self, at: datetime) -> bool:
        """Tell whether a fix at ``at`` is taken inside the tunnel."""
        return at.timestamp() % self.every_s < self.length_s


class _Link:
    """A blocking TCP connection with a receive buffer and a connect backoff."""

    def __init__(self, address: tuple[str, int], name: str) -> None:
        self.address = address
        self.name = name
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.retry_at = 0.0
        self.backoff = 1.0

    def open(self) -> bool:
        if self.sock is not None:
            return True
        if time.monotonic() < self.retry_at:
            return False
        try:
            self.sock = socket.create_connection(self.address, timeout=ANSWER_TIMEOUT_S)
        except OSError as error:
            self.fail(f"connect: {error}")
            return False
        self.buffer = b""
        self.backoff = 1.0
        return True

    def fail(self, why: str) -> None:
        log.info("%s: %s; trying again in %.0f s", self.name, why, self.backoff)
        self.close()
        self.retry_at = time.monotonic() + self.backoff
        self.backoff = min(MAX_BACKOFF_S, self.backoff * 2)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class TerminalThread(threading.Thread):
    """A queue of reports drained by one terminal; counts what it sent, stored and was refused."""

    def __init__(self, device: DeviceRef, address: tuple[str, int], tunnel: Tunnel | None) -> None:
        super().__init__(name=f"sim-{device.source}-{device.id}", daemon=True)
        self.device = device
        self.tunnel = tunnel
        self.link = _Link(address, f"{device.source} {device.external_id}")
        self.inbox: queue.Queue[SimReport | None] = queue.Queue()
        self.counts: Counter[str] = Counter()
        self.idle = threading.Event()
        self.blind = False  # in the tunnel now: nothing goes out, not even the store

    def run(self) -> None:
        """Drain the inbox until told to stop (None); upload stored fixes whenever idle."""
        while True:
            try:
                item = self.inbox.get(timeout=1.0)
            except queue.Empty:
                self.idle.set()
                self.flush()
                continue
            self.idle.clear()
            if item is None:
                self._drain()
                self.goodbye()
                self.link.close()
                return
            try:
                self.take(item)
            except (OSError, ValueError) as error:  # a refused answer or a dropped link: stored, retried
                self.link.fail(str(error))

    def _drain(self, seconds: float = 10.0) -> None:
        # The run is ending: a terminal in signal gets a few tries to send what it holds.
        deadline = time.monotonic() + seconds
        while self.has_stored() and not self.blind and time.monotonic() < deadline:
            self.flush()
            if self.has_stored():
                time.sleep(0.2)

    def has_stored(self) -> bool:
        """Tell whether fixes wait in the terminal's store."""
        return False

    def take(self, report: SimReport) -> None:
        """Send (or store) one report."""
        raise NotImplementedError

    def flush(self) -> None:
        """Upload what the terminal stored, when it can."""

    def goodbye(self) -> None:
        """Say goodbye at the end of the run, if the protocol has a way."""


class Jt808Terminal(TerminalThread):
    """A JT/T 808 (2019) terminal."""

    def __init__(self, device: DeviceRef, address: tuple[str, int], plate: str, tunnel: Tunnel | None = None,
                 flash: Flash | None = None) -> None:
        """Start with the code kept in ``flash`` from an earlier run, or none: the first connection registers."""
        super().__init__(device, address, tunnel)
        assert device.external_id is not None  # the site file requires the terminal's number
        self.phone = device.external_id
        self.plate = plate
        self.flash = flash or Flash(None)
        self.code = self.flash.code(self.phone)  # kept across connections and runs, as a terminal keeps it in flash
        self.authenticated = False
        self.serial = 0
        self.stored: list[Location] = []
        self.sos_left = 0
        self.where: tuple[float, float] | None = None

    def _exchange(self, msg_id: int, body: bytes, answer_id: int = MsgId.PLATFORM_RESPONSE) -> tuple[int, bytes]:
        sock = self.link.sock
        if sock is None:
            raise OSError("not connected")
        self.serial = (self.serial + 1) & 0xFFFF
        sock.sendall(frames.jt808_frame(self.phone, self.serial, msg_id, body))
        while True:
            found, _, rest = jt808.split_frames(self.link.buffer)
            for n, raw in enumerate(found):
                kind, serial, result, extra = frames.jt808_answer(raw)
                if kind == answer_id and serial == self.serial:
                    self.link.buffer = b"".join(found[n + 1:]) + rest
                    return result, extra
            self.link.buffer = rest
            data = sock.recv(4096)
            if not data:
                raise OSError("the platform closed the connection")
            self.link.buffer += data

    def _ready(self) -> bool:
        if self.link.sock is None:
            self.authenticated = False
        if self.authenticated:
            return True
        if not self.link.open():
            return False
        if self.code is None:
            result, extra = self._exchange(MsgId.REGISTER, frames.jt808_registration(self.plate, self.device.id),
                                           MsgId.REGISTER_ANSWER)
            if result != RegisterResult.OK:
                self.counts["registration_refused"] += 1
                self.link.fail(f"registration refused: {RegisterResult(result).name}")
                return False
            self.code = extra.decode("ascii")
            self.flash.keep(self.phone, self.code)
            self.counts["registered"] += 1
        body = jt808.authentication_body(self.code, frames.VERSION_2019, "86" + self.phone.rjust(13, "0")[-13:],
                                         "SIM-1.0")
        if self._exchange(MsgId.AUTHENTICATE, body)[0] != Result.OK:
            self.counts["authentication_refused"] += 1
            self.code = None  # revoked: register again, on a new connection, at once
            self.flash.keep(self.phone, None)
            self.link.close()
            log.info("jt808 %s: authentication refused; registering again", self.phone)
            return self._ready()
        self.authenticated = True
        return True

    def take(self, report: SimReport) -> None:
        """Report a fix (stored in a tunnel, the store uploaded first otherwise), or press the emergency button."""
        if isinstance(report, SimPress):
            self.sos_left = SOS_HELD_REPORTS
            where = (report.lon, report.lat) if report.lon is not None and report.lat is not None else self.where
            pressed = frames.jt808_location(None, report.time, jt808.EMERGENCY_BIT, where)
            if self.blind:
                self._store(pressed)  # uploaded with the backfill, as a terminal in a tunnel does
            else:
                self._report(pressed, live=True)
            self.counts["sos"] += 1
            return
        alarm = 0
        if self.sos_left:
            self.sos_left -= 1
            alarm = jt808.EMERGENCY_BIT
        self.where = (report.lon, report.lat)
        location = frames.jt808_location(report, report.time, alarm)
        self.blind = self.tunnel is not None and self.tunnel.covers(report.time)
        if self.blind:
            self._store(location)
            return
        self.flush()
        self._report(location, live=True)

    def has_stored(self) -> bool:
        """Tell whether locations wait for the backfill."""
        return bool(self.stored)

    def _store(self, location: Location) -> None:
        if len(self.stored) < MAX_STORED:
            self.stored.append(location)
            self.counts["stored"] += 1

    def _report(self, location: Location, live: bool) -> None:
        try:
            if self._ready() and self._exchange(MsgId.LOCATION, jt808.encode_location(location))[0] == Result.OK:
                self.counts["reports"] += 1
                return
        except (OSError, ValueError) as error:
            self.link.fail(str(error))
        if live:
            self._store(location)  # not acknowledged: kept for the backfill

    def flush(self) -> None:
        """Upload the store oldest first, a batch at a time, each dropped only once acknowledged."""
        while self.stored and not self.blind:
            try:
                if not self._ready():
                    return
                chunk = self.stored[:frames.MAX_BATCH]
                if self._exchange(MsgId.BATCH_LOCATION, frames.jt808_batch(chunk, backfill=True))[0] != Result.OK:
                    self.link.fail("backfill refused")
                    return
            except (OSError, ValueError) as error:
                self.link.fail(str(error))
                return
            del self.stored[:len(chunk)]
            self.counts["backfilled"] += len(chunk)

    def goodbye(self) -> None:
        """Log out (0x0003), as a terminal does when switched off."""
        if self.authenticated and self.link.sock is not None:
            with contextlib.suppress(OSError, ValueError):  # switched off either way
                self._exchange(MsgId.LOGOUT, b"")


class Gt06Tracker(TerminalThread):
    """A GT06 tracker, its clock at ``utc_offset`` (UTC unless the site file says it runs on local time)."""

    def __init__(self, device: DeviceRef, address: tuple[str, int], utc_offset: timedelta = timedelta(0),
                 tunnel: Tunnel | None = None) -> None:
        """Start logged out."""
        super().__init__(device, address, tunnel)
        assert device.external_id is not None  # the IMEI
        self.imei = device.external_id
        self.utc_offset = utc_offset
        self.serial = 0
        self.logged_in = False
        self.stored: list[SimFix] = []
        self.where: tuple[float, float] | None = None

    def has_stored(self) -> bool:
        """Tell whether fixes wait to be re-uploaded."""
        return bool(self.stored)

    def _next(self) -> int:
        self.serial = (self.serial + 1) & 0xFFFF
        return self.serial

    def _ack(self, protocol: int, serial: int) -> None:
        sock = self.link.sock
        if sock is None:
            raise OSError("not connected")
        while True:
            split = gt06.split_frames(self.link.buffer)
            for n, raw in enumerate(split.frames):
                frame = gt06.parse_frame(raw)
                if frame.protocol == protocol and frame.serial == serial:
                    self.link.buffer = b"".join(split.frames[n + 1:]) + split.rest
                    return
            self.link.buffer = split.rest
            data = sock.recv(1024)
            if not data:
                raise OSError("the platform closed the connection")
            self.link.buffer += data

    def _ready(self) -> bool:
        if self.link.sock is None:
            self.logged_in = False
        if self.logged_in:
            return True
        if not self.link.open():
            return False
        serial = self._next()
        assert self.link.sock is not None
        self.link.sock.sendall(frames.gt06_login(self.imei, serial, self.utc_offset))
        self._ack(gt06.Protocol.LOGIN, serial)
        self.logged_in = True
        return True

    def take(self, report: SimReport) -> None:
        """Send a location (stored in a tunnel or while down), or an SOS alarm packet."""
        if isinstance(report, SimPress):
            where = (report.lon, report.lat) if report.lon is not None and report.lat is not None else self.where
            try:
                if self._ready():
                    serial = self._next()
                    assert self.link.sock is not None
                    self.link.sock.sendall(frames.gt06_sos(report.time, where, serial, self.utc_offset))
                    self._ack(gt06.Protocol.ALARM, serial)
                    self.counts["sos"] += 1
                    return
            except (OSError, ValueError) as error:
                self.link.fail(str(error))
            self.counts["sos_lost"] += 1
            return
        self.where = (report.lon, report.lat)
        self.blind = self.tunnel is not None and self.tunnel.covers(report.time)
        if self.blind:
            if len(self.stored) < MAX_STORED:
                self.stored.append(report)
                self.counts["stored"] += 1
            return
        self.flush()
        self._send(report, reupload=False)

    def _send(self, fix: SimFix, reupload: bool) -> bool:
        try:
            if self._ready():
                assert self.link.sock is not None
                self.link.sock.sendall(frames.gt06_location(fix, self._next(), self.utc_offset, reupload))
                self.counts["backfilled" if reupload else "reports"] += 1
                return True
        except (OSError, ValueError) as error:
            self.link.fail(str(error))
        if not reupload and len(self.stored) < MAX_STORED:
            self.stored.append(fix)
            self.counts["stored"] += 1
        return False

    def flush(self) -> None:
        """Send what was stored, flagged as re-uploads."""
        while self.stored and not self.blind:
            if not self._send(self.stored[0], reupload=True):
                return
            del self.stored[0]

