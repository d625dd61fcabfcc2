"""The bytes a JT/T 808 (2019) terminal and a GT06 tracker send for a simulated report: pure functions.

JT/T 808 uses ingest's codec for framing (``ingest.protocols.jt808``: escaping and the check code are the
standard's, golden-tested there); the bodies are laid out here from the standard's tables: registration
(0x0100, 2019 field sizes), authentication (0x0102), location (0x0200) with ACC on, the fix bit, and the
additional items satellites (0x31) and signal strength (0x30), and a batch upload (0x0704) whose type 1 is
the blind-area backfill (盲区补报).

GT06 is written out byte by byte here (only the frame's length and CRC-ITU come from ingest's ``build_frame``),
so that the tests decoding these frames with ingest's own decoder check one reading of the protocol against
another: login (0x01) with the terminal's time-zone word, location 0x22 with its ACC, upload mode and
re-upload flag, and the alarm packet (0x16) that carries an SOS.
"""

from __future__ import annotations

import struct
from datetime import datetime, timedelta
from typing import Final

from campusguard.simulate.model import SimFix
from ingest.protocols import gt06, jt808
from ingest.protocols.jt808 import Header, Location, MsgId

VERSION_2019: Final = 1
STATUS_ACC_ON: Final = 1 << 0
STATUS_POSITIONED: Final = 1 << 1
MAX_BATCH: Final = 20
"""Items per 0x0704: 20 locations of 34 bytes (+2 each) stay well under the 1,023-byte body limit."""
_GT06_UNIT: Final = 30000.0 * 60.0  # GT06 coordinates are 1/30000 of a minute
_GT06_CELL: Final = struct.pack(">HBH", 460, 0, 0x2795) + (0x1F43).to_bytes(3, "big")  # China Mobile, one cell
GT06_SOS: Final = 0x01


# --- JT/T 808 ----------------------------------------------------------------------------------------------


def jt808_frame(phone: str, serial: int, msg_id: int, body: bytes) -> bytes:
    """Write one 2019 frame from this terminal."""
    return jt808.encode_frame(Header(msg_id, phone, serial, VERSION_2019), body)


def jt808_registration(plate: str, terminal_id: str) -> bytes:
    """Write a 2019 registration body: province and city codes, maker, model, terminal id, plate colour, plate."""
    return (struct.pack(">HH", 44, 300) + b"CGSIM".ljust(11, b"\0") + b"JT/T 794 simulated".ljust(30, b"\0")
            + terminal_id.encode("ascii")[:30].ljust(30, b"\0") + b"\x02" + plate.encode("gbk"))


def jt808_location(fix: SimFix | None, time: datetime, alarm: int = 0, where: tuple[float, float] | None = None,
                   ) -> Location:
    """Build a location: from a fix, or (an SOS with no fix) at ``where`` if known, else without a position."""
    if fix is not None:
        return Location(alarm, STATUS_ACC_ON | STATUS_POSITIONED, fix.lat, fix.lon, round(fix.altitude_m),
                        round(fix.speed_kmh, 1), round(fix.heading_deg) % 360, time.replace(microsecond=0),
                        {0x30: bytes([24]), 0x31: bytes([11])})
    lon, lat = where if where is not None else (0.0, 0.0)
    status = STATUS_ACC_ON | (STATUS_POSITIONED if where is not None else 0)
    return Location(alarm, status, lat, lon, 0, 0.0, 0, time.replace(microsecond=0), {0x31: bytes([0])})


def jt808_batch(locations: list[Location], backfill: bool) -> bytes:
    """Write a batch upload (0x0704) body: count, type (1 = blind-area backfill), then each item with its length."""
    if not 1 <= len(locations) <= MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} locations, not {len(locations)}")
    body = struct.pack(">HB", len(locations), jt808.BATCH_BACKFILL if backfill else jt808.BATCH_NORMAL)
    for location in locations:
        item = jt808.encode_location(location)
        body += struct.pack(">H", len(item)) + item
    return body


def jt808_answer(frame: bytes) -> tuple[int, int, int, bytes]:
    """Read the platform's answer: (message id, the serial it answers, result, the rest of the body)."""
    parsed = jt808.parse_frame(frame)
    body = parsed.body
    if parsed.header.msg_id == MsgId.PLATFORM_RESPONSE and len(body) == 5:
        serial, _, result = struct.unpack(">HHB", body)
        return parsed.header.msg_id, serial, result, b""
    if parsed.header.msg_id == MsgId.REGISTER_ANSWER and len(body) >= 3:
        serial, result = struct.unpack_from(">HB", body)
        return parsed.header.msg_id, serial, result, body[3:]
    return parsed.header.msg_id, -1, -1, body


# --- GT06 ----------------------------------------------------------------------------------------------------


def gt06_login(imei: str, serial: int, utc_offset: timedelta) -> bytes:
    """Write a login: the IMEI as 8 BCD bytes (a leading 0), the type id, and the time-zone word."""
    minutes = int(utc_offset.total_seconds() // 60)
    hours, rest = divmod(abs(minutes), 60)
    word = ((hours * 100 + rest) << 4) | (0x08 if minutes < 0 else 0)
    content = bytes.fromhex(imei.rjust(16, "0")) + struct.pack(">HH", 0x3622, word)
    return gt06.build_frame(gt06.Protocol.LOGIN, content, serial)


def _gt06_gps(time: datetime, lat: float, lon: float, speed_kmh: float, course: float, positioned: bool,
              utc_offset: timedelta) -> bytes:
    # The date-time is the terminal's clock: UTC as the protocol says, or local time on units set that way.
    clock = (time + utc_offset).replace(tzinfo=None)
    flags = round(course) % 360 | (0x1000 if positioned else 0)
    flags |= 0x0400 if lat >= 0 else 0  # bit 10: north
    flags |= 0x0800 if lon < 0 else 0  # bit 11: west
    return (bytes([clock.year - 2000, clock.month, clock.day, clock.hour, clock.minute, clock.second, 0xC0 | 9])
            + struct.pack(">IIBH", round(abs(lat) * _GT06_UNIT), round(abs(lon) * _GT06_UNIT),
                          min(255, round(speed_kmh)), flags))


def gt06_location(fix: SimFix, serial: int, utc_offset: timedelta, reupload: bool) -> bytes:
    """Write a location 0x22: GPS, the cell, ACC on, upload mode 0 (by interval), the re-upload flag."""
    content = (_gt06_gps(fix.time, fix.lat, fix.lon, fix.speed_kmh, fix.heading_deg, True, utc_offset)
               + _GT06_CELL + bytes([1, 0, 1 if reupload else 0]))
    return gt06.build_frame(gt06.Protocol.LOCATION_2, content, serial)


def gt06_sos(time: datetime, where: tuple[float, float] | None, serial: int, utc_offset: timedelta) -> bytes:
    """Write an alarm packet (0x16) carrying SOS, with the last position when there is one."""
    lon, lat = where if where is not None else (0.0, 0.0)
    gps = _gt06_gps(time, lat, lon, 0.0, 0.0, where is not None, utc_offset)
    # LBS length 9 (itself and the 8 cell bytes); terminal info: GPS tracking on, alarm bits 100 = SOS;
    # voltage level 4, GSM signal 3, alarm SOS, language Chinese (0x01).
    status = bytes([0x40 | (0b100 << 3), 4, 3, GT06_SOS, 0x01])
    return gt06.build_frame(gt06.Protocol.ALARM, gps + bytes([9]) + _GT06_CELL + status, serial)
