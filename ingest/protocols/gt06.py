"""The GT06 tracker protocol (Concox and the many trackers that copy it): framing, decoding and acknowledgements.

A frame, all integers big-endian::

    78 78 | len (1) | protocol (1) | content (len - 5) | serial (2) | CRC-ITU (2) | 0D 0A
    79 79 | len (2) | protocol (1) | content (len - 5) | serial (2) | CRC-ITU (2) | 0D 0A

``len`` counts the protocol number, the content, the serial and the check; the check is CRC-ITU
(CRC-16/X-25) over ``len`` through ``serial``. The terminal sends login (0x01) first and waits for its
acknowledgement, then locations (0x12, 0x22), status/heartbeats (0x13) and alarms (0x16, 0x26); the server
answers login, status and alarms with the same protocol number and the serial echoed.

Everything here is a pure function over bytes: :func:`split_frames` cuts a byte stream into frames,
:func:`parse_frame` checks one, :func:`decode_message` reads its content into a typed message, and
:func:`response_for` builds the acknowledgement. Errors are :class:`Gt06Error` with a :class:`Fault`.

Times: the standard says the terminal's date-time is UTC. Some firmwares send local time instead; give such a
terminal's offset as ``utc_offset`` (Beijing time is ``timedelta(hours=8)``). It defaults to 0, i.e. UTC.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Final

START_SHORT: Final = b"\x78\x78"
START_LONG: Final = b"\x79\x79"
STOP: Final = b"\x0d\x0a"
MAX_LENGTH: Final = 1024
"""The largest ``len`` accepted by default; a GT06 frame of ours is under 64, a 0x7979 info transfer a few hundred."""
_MIN_LENGTH: Final = 5  # protocol, serial and check with no content
_LATLON_UNIT: Final = 30000.0 * 60.0  # coordinates come in 1/30000 of a minute


class Protocol(IntEnum):
    """The protocol numbers decoded here."""

    LOGIN = 0x01
    LOCATION = 0x12
    STATUS = 0x13
    ALARM = 0x16
    LOCATION_2 = 0x22  # later Concox firmwares: location with ACC, upload mode and re-upload flag
    ALARM_2 = 0x26  # later Concox firmwares: the alarm packet under another number, same layout as 0x16


ACKNOWLEDGED: Final = frozenset({Protocol.LOGIN, Protocol.STATUS, Protocol.ALARM, Protocol.ALARM_2})
"""The protocols the terminal waits an answer for; it retransmits them until it has one."""


class Fault(StrEnum):
    """What is wrong with a frame; a listener counts and dead-letters by it."""

    CRC = "crc"  # the error check does not match: damaged on the way
    TRUNCATED = "truncated"  # fewer bytes than the length field or the message's layout says
    MALFORMED = "malformed"  # no start or stop marker where one must be, or a length below the minimum
    OVERSIZED = "oversized"  # a length field over the limit: never buffer what a stranger claims is coming
    UNSUPPORTED = "unsupported"  # a protocol number not decoded here
    OUT_OF_RANGE = "out_of_range"  # an IMEI that is not BCD digits


class Gt06Error(ValueError):
    """A frame or message that cannot be taken, with the :class:`Fault` and a message for the operator."""

    def __init__(self, fault: Fault, message: str) -> None:
        """Keep the fault apart from the text so that callers can count by it."""
        super().__init__(f"{fault.value}: {message}")
        self.fault = fault
        self.message = message


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1  # 0x8408 is 0x1021 reflected
        table.append(crc)
    return tuple(table)


_CRC_TABLE: Final = _crc_table()


def crc_itu(data: bytes) -> int:
    """CRC-ITU as GT06 uses it (CRC-16/X-25): poly 0x1021 reflected, init 0xFFFF, xorout 0xFFFF."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


# ---------------------------------------------------------------------------------------------- framing


@dataclass(frozen=True, slots=True)
class Split:
    """What :func:`split_frames` found in a buffer: whole frames, skipped garbage, and the rest to keep."""

    frames: tuple[bytes, ...]
    garbage: tuple[bytes, ...]
    rest: bytes
    oversized: int = 0  # how many start markers announced a length over the limit (each skipped as garbage)


def _header(buffer: bytes, at: int) -> tuple[int, int] | None:
    """Return (header size, len) of the frame starting at ``at``, or None when the header is not all here."""
    if buffer[at:at + 2] == START_SHORT:
        return (3, buffer[at + 2]) if len(buffer) >= at + 3 else None
    return (4, int.from_bytes(buffer[at + 2:at + 4], "big")) if len(buffer) >= at + 4 else None


def split_frames(buffer: bytes, max_length: int = MAX_LENGTH) -> Split:
    """Cut whole frames off the front of a received byte stream; keep the unfinished tail as ``rest``.

    Bytes before a start marker are garbage; so is a start marker whose length is over ``max_length`` or
    below the minimum, or whose frame does not end in 0D 0A: the search resumes one byte after it, so a
    frame hidden behind a false start is still found. The CRC is not checked here (:func:`parse_frame`
    does), so that a damaged frame reaches the dead letters rather than vanishing. ``rest`` never holds
    more than one frame of ``max_length``.
    """
    frames: list[bytes] = []
    garbage: list[bytes] = []
    oversized = 0
    pos = 0
    skipped_from = 0
    while True:
        starts = [i for i in (buffer.find(START_SHORT, pos), buffer.find(START_LONG, pos)) if i >= 0]
        if not starts:
            # Keep a last byte that may be the first half of a start marker.
            keep = len(buffer) - 1 if buffer[-1:] in (b"\x78", b"\x79") else len(buffer)
            keep = max(keep, pos)
            if keep > skipped_from:
                garbage.append(buffer[skipped_from:keep])
            return Split(tuple(frames), tuple(garbage), buffer[keep:], oversized)
        at = min(starts)
        header = _header(buffer, at)
        if header is None:
            break
        size, length = header
        if length > max_length or length < _MIN_LENGTH:
            oversized += length > max_length
            pos = at + 1
            continue
        end = at + size + length + len(STOP)
        if len(buffer) < end:
            break
        if buffer[end - 2:end] != STOP:
            pos = at + 1
            continue
        if at > skipped_from:
            garbage.append(buffer[skipped_from:at])
        frames.append(buffer[at:end])
        pos = skipped_from = end
    if at > skipped_from:
        garbage.append(buffer[skipped_from:at])
    return Split(tuple(frames), tuple(garbage), buffer[at:], oversized)


@dataclass(frozen=True, slots=True)
class Frame:
    """One checked frame: its protocol number, information content and serial, and which start it had."""

    protocol: int
    content: bytes
    serial: int
    extended: bool  # the 0x7979 form, with a two-byte length


def parse_frame(raw: bytes, max_length: int = MAX_LENGTH) -> Frame:
    """Check one whole frame (start, length, stop, CRC) and return its parts; raises :class:`Gt06Error`."""
    if len(raw) < 2 and (START_SHORT.startswith(raw) or START_LONG.startswith(raw)):
        raise Gt06Error(Fault.TRUNCATED, f"{len(raw)} bytes end inside the start marker")
    if raw[:2] not in (START_SHORT, START_LONG):
        raise Gt06Error(Fault.MALFORMED, f"a frame starts with 78 78 or 79 79, not {raw[:2].hex(' ') or 'nothing'}")
    extended = raw[:2] == START_LONG
    size = 4 if extended else 3
    if len(raw) < size:
        raise Gt06Error(Fault.TRUNCATED, f"{len(raw)} bytes end inside the header")
    length = int.from_bytes(raw[2:size], "big")
    if length > max_length:
        raise Gt06Error(Fault.OVERSIZED, f"length {length} is over the limit of {max_length}")
    if length < _MIN_LENGTH:
        raise Gt06Error(Fault.MALFORMED, f"length {length} is below the minimum of {_MIN_LENGTH}")
    whole = size + length + len(STOP)
    if len(raw) < whole:
        raise Gt06Error(Fault.TRUNCATED, f"the length says {whole} bytes in all, only {len(raw)} came")
    if len(raw) > whole:
        raise Gt06Error(Fault.MALFORMED, f"{len(raw) - whole} bytes follow the frame's announced end")
    if raw[-2:] != STOP:
        raise Gt06Error(Fault.MALFORMED, f"a frame ends with 0D 0A, not {raw[-2:].hex(' ')}")
    checked = raw[2:size + length - 2]
    expected = int.from_bytes(raw[size + length - 2:size + length], "big")
    actual = crc_itu(checked)
    if actual != expected:
        raise Gt06Error(Fault.CRC, f"the frame's CRC-ITU is {expected:04X}, its bytes give {actual:04X}")
    return Frame(raw[size], raw[size + 1:size + length - 4], int.from_bytes(raw[size + length - 4:size + length - 2],
                                                                           "big"), extended)


def build_frame(protocol: int, content: bytes, serial: int, extended: bool = False) -> bytes:
    """Build a whole frame with its length and CRC (what a terminal sends, or an acknowledgement)."""
    length = 1 + len(content) + 2 + 2
    body = (length.to_bytes(2, "big") if extended else bytes([length])) + bytes([protocol]) + content
    body += serial.to_bytes(2, "big")
    return (START_LONG if extended else START_SHORT) + body + crc_itu(body).to_bytes(2, "big") + STOP


def response_for(frame: Frame) -> bytes | None:
    """Build the acknowledgement a frame calls for (login, status, alarm) in the form it came in, else None."""
    if frame.protocol not in ACKNOWLEDGED:
        return None
    return build_frame(frame.protocol, b"", frame.serial, frame.extended)


# ---------------------------------------------------------------------------------------------- messages


class Alarm(IntEnum):
    """The alarm byte of status and alarm packets ("alarm/language", its first byte).

    0x00-0x05 are the GT06 protocol's own table; the rest are codes later Concox protocol documents add for
    the same byte (vendors differ here: check a tracker's own document). Codes not listed here are kept as
    numbers (``alarm_0x..`` in the decoder).
    """

    NORMAL = 0x00
    SOS = 0x01
    POWER_CUT = 0x02
    SHOCK = 0x03
    FENCE_IN = 0x04
    FENCE_OUT = 0x05
    OVERSPEED = 0x06
    LOW_EXTERNAL_BATTERY = 0x0E
    POWER_OFF = 0x11
    TAMPER = 0x13
    LOW_BATTERY = 0x19


class TerminalAlarm(IntEnum):
    """Bits 3-5 of the terminal information byte: the alarm state the terminal is in."""

    NORMAL = 0b000
    SHOCK = 0b001
    POWER_CUT = 0b010
    LOW_BATTERY = 0b011
    SOS = 0b100


@dataclass(frozen=True, slots=True)
class Login:
    """Login (0x01): the terminal's IMEI, and in newer firmwares its type and configured time zone."""

    imei: str
    type_id: int | None  # the "type identification code", a model number; absent in the original layout
    timezone: timedelta | None  # the time zone set on the terminal (GMT,E,8# and the like), when it says


@dataclass(frozen=True, slots=True)
class Gps:
    """The GPS block of location and alarm packets."""

    time: datetime | None  # aware UTC, the terminal's ``utc_offset`` taken off; None if not a calendar time
    satellites: int  # low nibble of the GPS info byte
    lat: float  # degrees, south negative; as sent, so possibly off the globe (the decoder checks)
    lon: float  # degrees, west negative
    speed_kmh: int
    course: int  # degrees clockwise from north, 10 bits (0-1023 as sent; 0-359 when sane)
    positioned: bool  # the terminal has a fix; without it the coordinates are the last ones or zero
    differential: bool  # differential positioning rather than real-time GPS


@dataclass(frozen=True, slots=True)
class Cell:
    """The serving cell (LBS): mobile country and network codes, location area code and cell id."""

    mcc: int
    mnc: int
    lac: int
    cell_id: int


@dataclass(frozen=True, slots=True)
class TerminalInfo:
    """The terminal information byte of status and alarm packets."""

    oil_cut: bool  # bit 7: oil and electricity disconnected (the relay cut the engine)
    gps_tracking: bool  # bit 6
    alarm: int  # bits 3-5, a :class:`TerminalAlarm` value
    charging: bool  # bit 2
    acc: bool  # bit 1: ignition on
    defence: bool  # bit 0: armed

    @classmethod
    def from_byte(cls, value: int) -> TerminalInfo:
        """Read the bits."""
        return cls(bool(value & 0x80), bool(value & 0x40), (value >> 3) & 0b111, bool(value & 0x04),
                   bool(value & 0x02), bool(value & 0x01))


@dataclass(frozen=True, slots=True)
class Status:
    """What status (0x13) and alarm packets say of the terminal itself."""

    info: TerminalInfo
    voltage_level: int  # 0 (no power) .. 6 (very high)
    gsm_signal: int  # 0 (no signal) .. 4 (strong)
    alarm: int  # an :class:`Alarm` value
    language: int  # 0x01 Chinese, 0x02 English


@dataclass(frozen=True, slots=True)
class Location:
    """A location packet (0x12 GPS + LBS, or 0x22 with ACC and the re-upload flag)."""

    protocol: int
    gps: Gps
    cell: Cell | None
    acc: bool | None = None  # 0x22 only
    upload_mode: int | None = None  # 0x22 only: why it was sent (interval, distance, turn, ...)
    reupload: bool | None = None  # 0x22 only: a stored fix sent late (blind area), not a real-time one


@dataclass(frozen=True, slots=True)
class AlarmReport:
    """An alarm packet (0x16 or 0x26): the fix, the cell and the terminal's status with the alarm type."""

    protocol: int
    gps: Gps
    cell: Cell | None
    status: Status


Message = Login | Location | Status | AlarmReport
"""Anything :func:`decode_message` returns."""


def _need(content: bytes, size: int, what: str) -> None:
    if len(content) < size:
        raise Gt06Error(Fault.TRUNCATED, f"a {what} needs {size} bytes of content, this one has {len(content)}")


def _bcd_imei(raw: bytes) -> str:
    digits = raw.hex()
    if not digits.isdigit():
        raise Gt06Error(Fault.OUT_OF_RANGE, f"terminal id {raw.hex(' ')} is not BCD digits")
    # Eight bytes hold 16 digits; an IMEI has 15, sent with a leading 0.
    return digits[1:] if digits.startswith("0") else digits


def _login(content: bytes) -> Login:
    _need(content, 8, "login")
    type_id = timezone = None
    if len(content) >= 12:
        type_id = int.from_bytes(content[8:10], "big")
        word = int.from_bytes(content[10:12], "big")
        # Bits 15-4: the zone as hhmm in decimal (800 is GMT+8, 545 is GMT+5:45); bit 3: west of Greenwich.
        hhmm = word >> 4
        hours, minutes = divmod(hhmm, 100)
        if hours <= 14 and minutes < 60:
            timezone = timedelta(hours=hours, minutes=minutes) * (-1 if word & 0x08 else 1)
    return Login(_bcd_imei(content[:8]), type_id, timezone)


def _gps(content: bytes, utc_offset: timedelta) -> Gps:
    year, month, day, hour, minute, second, info = content[:7]
    try:
        time: datetime | None = datetime(2000 + year, month, day, hour, minute, second, tzinfo=UTC) - utc_offset
    except ValueError:
        time = None  # all zeros before the first fix on some firmwares; an alarm must survive it
    lat_raw, lon_raw, speed, flags = struct.unpack(">IIBH", content[7:18])
    lat, lon = lat_raw / _LATLON_UNIT, lon_raw / _LATLON_UNIT
    return Gps(
        time=time,
        satellites=info & 0x0F,
        lat=lat if flags & 0x0400 else -lat,  # bit 10: north
        lon=-lon if flags & 0x0800 else lon,  # bit 11: west
        speed_kmh=speed,
        course=flags & 0x03FF,
        positioned=bool(flags & 0x1000),
        differential=bool(flags & 0x2000),
    )


def _cell(raw: bytes) -> Cell:
    mcc, mnc, lac = struct.unpack(">HBH", raw[:5])
    return Cell(mcc, mnc, lac, int.from_bytes(raw[5:8], "big"))


def _location(protocol: int, content: bytes, utc_offset: timedelta) -> Location:
    # date-time 6, GPS info 1, lat 4, lon 4, speed 1, course/status 2 = 18; MCC 2, MNC 1, LAC 2, cell 3 = 8.
    _need(content, 18, "location")
    gps = _gps(content, utc_offset)
    cell = _cell(content[18:26]) if len(content) >= 26 else None
    if protocol == Protocol.LOCATION_2 and len(content) >= 29:
        return Location(protocol, gps, cell, bool(content[26]), content[27], bool(content[28]))
    return Location(protocol, gps, cell)


def _status(content: bytes) -> Status:
    _need(content, 5, "status")
    return Status(TerminalInfo.from_byte(content[0]), content[1], content[2], content[3], content[4])


def _alarm(protocol: int, content: bytes, utc_offset: timedelta) -> AlarmReport:
    # GPS 18, then the LBS length byte, then that many bytes of cell (9: itself, MCC 2, MNC 1, LAC 2, cell 3),
    # then terminal info 1, voltage 1, GSM 1, alarm/language 2.
    _need(content, 19, "alarm")
    gps = _gps(content, utc_offset)
    lbs_length = content[18]
    cell_end = 18 + max(lbs_length, 1)
    _need(content, cell_end + 5, "alarm")
    cell = _cell(content[19:27]) if lbs_length >= 9 else None
    return AlarmReport(protocol, gps, cell, _status(content[cell_end:cell_end + 5]))


def decode_message(frame: Frame, utc_offset: timedelta = timedelta(0)) -> Message:
    """Read a checked frame's content; ``utc_offset`` is the terminal's clock offset from UTC (see the module)."""
    if frame.protocol == Protocol.LOGIN:
        return _login(frame.content)
    if frame.protocol in (Protocol.LOCATION, Protocol.LOCATION_2):
        return _location(frame.protocol, frame.content, utc_offset)
    if frame.protocol == Protocol.STATUS:
        return _status(frame.content)
    if frame.protocol in (Protocol.ALARM, Protocol.ALARM_2):
        return _alarm(frame.protocol, frame.content, utc_offset)
    raise Gt06Error(Fault.UNSUPPORTED, f"protocol number 0x{frame.protocol:02X} is not decoded")
