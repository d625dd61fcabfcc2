"""JT/T 808 (2013 and 2019), the protocol of Chinese school-bus and road-transport terminals: pure functions.

A message on the wire is ``0x7E | header | body | check code | 0x7E`` where, between the delimiters, 0x7E is
sent as ``0x7D 0x02`` and 0x7D as ``0x7D 0x01``, and the check code is the XOR of every header and body byte.

Header (big-endian throughout): message id (WORD), body attributes (WORD: bits 0-9 body length, 10-12
encryption, 13 sub-packaged, 14 the 2019 version flag), then in 2013 the terminal's phone number as 6 BCD
bytes (12 digits) and in 2019 a protocol version byte and 10 BCD bytes (20 digits), the message serial
(WORD), and, for a sub-packaged message, the package total and this package's index (WORDs, index from 1).

Nothing here does I/O: the listener frames bytes with :func:`split_frames`, parses with :func:`parse_frame`,
answers with the ``encode_*`` functions; the worker's decoder reads the same frames again from the spool.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Final

FLAG: Final = 0x7E
ESCAPE: Final = 0x7D
BEIJING: Final = timedelta(hours=8)  # terminal times are Beijing time (UTC+8), with no offset on the wire
MAX_BODY: Final = 0x3FF  # ten bits of body length
LOCATION_BASE_BYTES: Final = 28
BATCH_NORMAL: Final = 0  # 0x0704 type 0: a batch of current fixes (正常位置批量汇报)
BATCH_BACKFILL: Final = 1  # 0x0704 type 1: fixes kept while out of signal, uploaded late (盲区补报)


class FrameError(ValueError):
    """A frame that cannot be read, with a stable reason (``bad_check_code``, ``truncated``, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        """Keep the reason apart from the text so that callers can count by reason."""
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class MsgId(IntEnum):
    """The message ids campusguard reads or writes."""

    TERMINAL_RESPONSE = 0x0001
    HEARTBEAT = 0x0002
    LOGOUT = 0x0003
    REGISTER = 0x0100
    AUTHENTICATE = 0x0102
    LOCATION = 0x0200
    QUERY_ANSWER = 0x0201
    BATCH_LOCATION = 0x0704
    PLATFORM_RESPONSE = 0x8001
    REGISTER_ANSWER = 0x8100
    QUERY_LOCATION = 0x8201


class Result(IntEnum):
    """The result byte of the platform general response (0x8001)."""

    OK = 0
    FAILURE = 1
    MESSAGE_ERROR = 2
    NOT_SUPPORTED = 3
    ALARM_CONFIRMED = 4


class RegisterResult(IntEnum):
    """The result byte of the registration answer (0x8100)."""

    OK = 0
    VEHICLE_REGISTERED = 1
    NO_SUCH_VEHICLE = 2
    TERMINAL_REGISTERED = 3
    NO_SUCH_TERMINAL = 4


# Alarm word bits (JT/T 808-2013 table 24, the same bits in 2019) by the name a device event carries.
ALARM_BITS: Final[dict[int, str]] = {
    0: "emergency", 1: "overspeed", 2: "fatigue_driving", 3: "danger_warning", 4: "gnss_fault",
    5: "gnss_antenna_cut", 6: "gnss_antenna_short", 7: "power_undervoltage", 8: "power_off", 9: "lcd_fault",
    10: "tts_fault", 11: "camera_fault", 12: "ic_card_fault", 13: "overspeed_warning", 14: "fatigue_warning",
    18: "driving_overtime", 19: "parking_overtime", 20: "area_in_out", 21: "route_in_out",
    22: "route_time_wrong", 23: "route_deviation", 24: "vss_fault", 25: "fuel_abnormal", 26: "stolen",
    27: "illegal_ignition", 28: "illegal_movement", 29: "collision", 30: "rollover", 31: "illegal_door_open",
}
EMERGENCY_BIT: Final = 1 << 0


@dataclass(frozen=True, slots=True)
class Header:
    """A message header; ``version`` is None for 2013 and the protocol version byte (1 = 2019) otherwise."""

    msg_id: int
    phone: str
    serial: int
    version: int | None = None
    encryption: int = 0
    packages: tuple[int, int] | None = None  # (total, index), index from 1


@dataclass(frozen=True, slots=True)
class Frame:
    """One message, unescaped and checked."""

    header: Header
    body: bytes


@dataclass(frozen=True, slots=True)
class Location:
    """A location information body (0x0200, and each item of 0x0704 and 0x0201)."""

    alarm: int
    status: int
    lat: float  # signed: south is negative
    lon: float  # signed: west is negative
    altitude_m: int
    speed_kmh: float
    direction: int
    time: datetime  # UTC
    extra: dict[int, bytes]

    @property
    def positioned(self) -> bool:
        """Status bit 1: the receiver has a fix (0 means the coordinates are stale or zero)."""
        return bool(self.status & 0b10)

    @property
    def mileage_km(self) -> float | None:
        """Additional item 0x01, the odometer in 1/10 km."""
        raw = self.extra.get(0x01)
        return struct.unpack(">I", raw)[0] / 10 if raw is not None and len(raw) == 4 else None

    @property
    def tachograph_kmh(self) -> float | None:
        """Additional item 0x03, the speed from the tachograph in 1/10 km/h."""
        raw = self.extra.get(0x03)
        return struct.unpack(">H", raw)[0] / 10 if raw is not None and len(raw) == 2 else None

    @property
    def signal(self) -> int | None:
        """Additional item 0x30, the mobile network's signal strength."""
        raw = self.extra.get(0x30)
        return raw[0] if raw is not None and len(raw) == 1 else None

    @property
    def satellites(self) -> int | None:
        """Additional item 0x31, GNSS satellites in view."""
        raw = self.extra.get(0x31)
        return raw[0] if raw is not None and len(raw) == 1 else None

    @property
    def overspeed_detail(self) -> dict[str, int] | None:
        """Additional item 0x11: where the overspeed was (0 none, 1 circle, 2 rectangle, 3 polygon, 4 route)."""
        raw = self.extra.get(0x11)
        if raw is None or len(raw) not in (1, 5):
            return None
        detail = {"position_type": raw[0]}
        if len(raw) == 5:
            detail["area_id"] = struct.unpack(">I", raw[1:])[0]
        return detail


@dataclass(frozen=True, slots=True)
class Authentication:
    """A terminal authentication body (0x0102); IMEI and software version only in 2019."""

    code: str
    imei: str | None = None
    software: str | None = None


@dataclass(frozen=True, slots=True)
class Registration:
    """A terminal registration body (0x0100): where the vehicle is registered, which terminal, which plate."""

    province: int
    city: int
    maker: str
    model: str
    terminal_id: str
    plate_color: int
    plate: str


# --- framing -------------------------------------------------------------------------------------------------


def escape(data: bytes) -> bytes:
    """Escape 0x7D, then 0x7E (the order matters: an escaped 0x7E's 0x7D must not be escaped again)."""
    return data.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")


def unescape(data: bytes) -> bytes:
    """Undo :func:`escape`; a 0x7D followed by anything but 0x01 or 0x02 is an error."""
    out = bytearray()
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == ESCAPE:
            if i + 1 >= len(data) or data[i + 1] not in (1, 2):
                raise FrameError("bad_escape", f"0x7D at byte {i} is not followed by 0x01 or 0x02")
            out.append(0x7D if data[i + 1] == 1 else 0x7E)
            i += 2
        else:
            out.append(byte)
            i += 1
    return bytes(out)


def check_code(data: bytes) -> int:
    """Compute the XOR of every byte."""
    code = 0
    for byte in data:
        code ^= byte
    return code


def split_frames(buffer: bytes) -> tuple[list[bytes], bytes, bytes]:
    """Cut a byte stream into whole frames: (frames with their 0x7E, bytes outside any frame, the rest).

    The rest is an unfinished frame (from its opening 0x7E) to keep for more bytes. Bytes before an opening
    0x7E are garbage; two 0x7E in a row are an empty frame and skipped, as the second may open the next frame.
    """
    frames: list[bytes] = []
    garbage = bytearray()
    i = 0
    while True:
        start = buffer.find(b"\x7e", i)
        if start < 0:
            garbage += buffer[i:]
            return frames, bytes(garbage), b""
        garbage += buffer[i:start]
        end = buffer.find(b"\x7e", start + 1)
        if end < 0:
            return frames, bytes(garbage), buffer[start:]
        if end == start + 1:
            i = end  # 0x7E 0x7E: the second opens the next frame
            continue
        frames.append(buffer[start:end + 1])
        i = end + 1


def parse_frame(frame: bytes) -> Frame:
    """Read one delimited frame: unescape, verify the check code, read the header; raises FrameError."""
    if len(frame) < 2 or frame[0] != FLAG or frame[-1] != FLAG:
        raise FrameError("bad_delimiter", "a frame starts and ends with 0x7E")
    data = unescape(frame[1:-1])
    if len(data) < 13:
        raise FrameError("truncated", f"{len(data)} bytes between the delimiters, a header alone is 12 or more")
    content, code = data[:-1], data[-1]
    if check_code(content) != code:
        raise FrameError("bad_check_code", f"check code is 0x{code:02X}, the bytes XOR to 0x{check_code(content):02X}")
    msg_id, attributes = struct.unpack_from(">HH", content)
    length = attributes & MAX_BODY
    encryption = (attributes >> 10) & 0b111
    split = bool(attributes & (1 << 13))
    if attributes & (1 << 14):
        if len(content) < 17:
            raise FrameError("truncated", "a 2019 header is 17 bytes or more")
        version: int | None = content[4]
        phone = bcd_to_digits(content[5:15])
        offset = 15
    else:
        version = None
        phone = bcd_to_digits(content[4:10])
        offset = 10
    serial = struct.unpack_from(">H", content, offset)[0]
    offset += 2
    packages = None
    if split:
        if len(content) < offset + 4:
            raise FrameError("truncated", "a sub-packaged header carries the package total and index")
        total, index = struct.unpack_from(">HH", content, offset)
        if not 1 <= index <= total:
            raise FrameError("bad_package", f"package {index} of {total}")
        packages = (total, index)
        offset += 4
    body = content[offset:]
    if len(body) != length:
        reason = "truncated" if len(body) < length else "bad_length"
        raise FrameError(reason, f"the header says {length} body bytes, the frame holds {len(body)}")
    return Frame(Header(msg_id, phone, serial, version, encryption, packages), body)


def encode_frame(header: Header, body: bytes) -> bytes:
    """Write a whole frame: header, body, check code, escaped and delimited."""
    if len(body) > MAX_BODY:
        raise ValueError(f"a body is at most {MAX_BODY} bytes; sub-package longer ones")
    attributes = len(body) | (header.encryption << 10)
    if header.packages is not None:
        attributes |= 1 << 13
    if header.version is not None:
        attributes |= 1 << 14
        head = struct.pack(">HHB", header.msg_id, attributes, header.version) + digits_to_bcd(header.phone, 10)
    else:
        head = struct.pack(">HH", header.msg_id, attributes) + digits_to_bcd(header.phone, 6)
    head += struct.pack(">H", header.serial)
    if header.packages is not None:
        head += struct.pack(">HH", *header.packages)
    content = head + body
    return b"\x7e" + escape(content + bytes([check_code(content)])) + b"\x7e"


def reassemble(parts: list[Frame]) -> Frame:
    """Join the packages of one sub-packaged message (any order) into one frame with the whole body."""
    if not parts or parts[0].header.packages is None:
        raise FrameError("bad_package", "no sub-packages to join")
    total = parts[0].header.packages[0]
    by_index = {p.header.packages[1]: p for p in parts if p.header.packages is not None}
    if sorted(by_index) != list(range(1, total + 1)):
        raise FrameError("bad_package", f"packages {sorted(by_index)} of {total}")
    first = by_index[1].header
    body = b"".join(by_index[i].body for i in range(1, total + 1))
    return Frame(Header(first.msg_id, first.phone, first.serial, first.version, first.encryption), body)


# --- field types -----------------------------------------------------------------------------------------------


def bcd_to_digits(data: bytes) -> str:
    """Read BCD digits; a terminal number keeps no leading zeros (``013800138000`` is ``13800138000``)."""
    text = data.hex()
    if not text.isdigit():
        raise FrameError("bad_bcd", f"{text} is not BCD")
    return text.lstrip("0") or "0"


def digits_to_bcd(digits: str, size: int) -> bytes:
    """Write digits as ``size`` BCD bytes, left-padded with zeros."""
    if not digits.isdigit() or len(digits) > size * 2:
        raise ValueError(f"{digits!r} does not fit {size} BCD bytes")
    return bytes.fromhex(digits.rjust(size * 2, "0"))


def bcd_time(data: bytes) -> datetime:
    """Read YYMMDDhhmmss in Beijing time as UTC."""
    text = data.hex()
    if len(data) != 6 or not text.isdigit():
        raise FrameError("bad_time", f"time {text} is not six BCD bytes")
    try:
        local = datetime.strptime("20" + text, "%Y%m%d%H%M%S")  # noqa: DTZ007 - Beijing time, offset below
    except ValueError:
        raise FrameError("bad_time", f"time {text} is not a calendar time") from None
    return (local - BEIJING).replace(tzinfo=UTC)


def time_to_bcd(time: datetime) -> bytes:
    """Write an aware time as Beijing-time YYMMDDhhmmss."""
    return bytes.fromhex((time.astimezone(UTC) + BEIJING).strftime("%y%m%d%H%M%S"))


def _text(data: bytes) -> str:
    # STRING fields are GBK; padding is NUL (or, from some makers, spaces).
    return data.rstrip(b"\x00 ").decode("gbk", errors="replace")


# --- bodies ----------------------------------------------------------------------------------------------------


def parse_location(body: bytes) -> Location:
    """Read a location information body (JT/T 808 table 23) and its additional items (table 27)."""
    if len(body) < LOCATION_BASE_BYTES:
        raise FrameError("truncated", f"a location is 28 bytes or more, this one {len(body)}")
    alarm, status, lat, lon, altitude, speed, direction = struct.unpack_from(">IIIIHHH", body)
    time = bcd_time(body[22:28])
    extra: dict[int, bytes] = {}
    i = LOCATION_BASE_BYTES
    while i < len(body):
        if i + 2 > len(body):
            raise FrameError("truncated", f"additional item at byte {i} has no length")
        item, size = body[i], body[i + 1]
        if i + 2 + size > len(body):
            raise FrameError("truncated", f"additional item 0x{item:02X} says {size} bytes, fewer follow")
        extra[item] = body[i + 2:i + 2 + size]
        i += 2 + size
    south, west = bool(status & (1 << 2)), bool(status & (1 << 3))
    return Location(alarm, status, (-lat if south else lat) / 1e6, (-lon if west else lon) / 1e6,
                    struct.unpack(">h", struct.pack(">H", altitude))[0], speed / 10, direction, time, extra)


def encode_location(location: Location) -> bytes:
    """Write a location information body (for tests and the simulator)."""
    status = location.status & ~0b1100
    status |= (1 << 2 if location.lat < 0 else 0) | (1 << 3 if location.lon < 0 else 0)
    body = struct.pack(">IIIIhHH", location.alarm, status, round(abs(location.lat) * 1e6),
                       round(abs(location.lon) * 1e6), location.altitude_m, round(location.speed_kmh * 10),
                       location.direction) + time_to_bcd(location.time)
    for item, value in sorted(location.extra.items()):
        body += bytes([item, len(value)]) + value
    return body


def parse_batch(body: bytes) -> tuple[int, list[Location]]:
    """Read a batch upload (0x0704): (type, locations); type 0 normal, 1 blind-area backfill (盲区补报)."""
    if len(body) < 3:
        raise FrameError("truncated", "a batch upload starts with a count and a type")
    count, kind = struct.unpack_from(">HB", body)
    locations = []
    i = 3
    for n in range(count):
        if i + 2 > len(body):
            raise FrameError("truncated", f"batch item {n + 1} of {count} is missing")
        size = struct.unpack_from(">H", body, i)[0]
        if i + 2 + size > len(body):
            raise FrameError("truncated", f"batch item {n + 1} says {size} bytes, fewer follow")
        locations.append(parse_location(body[i + 2:i + 2 + size]))
        i += 2 + size
    if i != len(body):
        raise FrameError("bad_length", f"{len(body) - i} bytes after the batch's {count} items")
    return kind, locations


def parse_query_answer(body: bytes) -> tuple[int, Location]:
    """Read a position query answer (0x0201): (the serial of the 0x8201 it answers, the location)."""
    if len(body) < 2:
        raise FrameError("truncated", "a query answer starts with the serial it answers")
    return struct.unpack_from(">H", body)[0], parse_location(body[2:])


def parse_authentication(body: bytes, version: int | None) -> Authentication:
    """Read an authentication (0x0102): the code alone in 2013; length, code, IMEI, software in 2019."""
    if version is None:
        return Authentication(_text(body))
    if not body or len(body) != 1 + body[0] + 15 + 20:
        raise FrameError("bad_length", "a 2019 authentication is length, code, IMEI (15) and version (20)")
    size = body[0]
    return Authentication(_text(body[1:1 + size]), _text(body[1 + size:16 + size]), _text(body[16 + size:]))


def parse_registration(body: bytes, version: int | None) -> Registration:
    """Read a registration (0x0100); 2013's maker, model and id are 5, 20, 7 bytes, 2019's 11, 30, 30."""
    maker, model, ident = (5, 20, 7) if version is None else (11, 30, 30)
    fixed = 4 + maker + model + ident + 1
    if len(body) < fixed:
        raise FrameError("truncated", f"a registration is {fixed} bytes and the plate, this one {len(body)}")
    province, city = struct.unpack_from(">HH", body)
    i = 4
    fields = []
    for size in (maker, model, ident):
        fields.append(_text(body[i:i + size]))
        i += size
    return Registration(province, city, fields[0], fields[1], fields[2], body[i], _text(body[i + 1:]))


def parse_terminal_response(body: bytes) -> tuple[int, int, int]:
    """Read a terminal general response (0x0001): (answered serial, answered message id, result)."""
    if len(body) != 5:
        raise FrameError("bad_length", "a general response is 5 bytes")
    serial, msg_id, result = struct.unpack(">HHB", body)
    return serial, msg_id, result


def platform_response(serial: int, msg_id: int, result: Result) -> bytes:
    """Body of the platform general response (0x8001)."""
    return struct.pack(">HHB", serial, msg_id, result)


def register_answer(serial: int, result: RegisterResult, code: str | None) -> bytes:
    """Body of the registration answer (0x8100): the code only on success."""
    body = struct.pack(">HB", serial, result)
    return body + code.encode("ascii") if result == RegisterResult.OK and code is not None else body


def authentication_body(code: str, version: int | None, imei: str = "", software: str = "") -> bytes:
    """Write an authentication body (for tests and the simulator)."""
    raw = code.encode("ascii")
    if version is None:
        return raw
    return bytes([len(raw)]) + raw + imei.encode("ascii").ljust(15, b"\0") + software.encode("ascii").ljust(20, b"\0")
