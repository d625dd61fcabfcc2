"""JT/T 808 frames as spooled by the TCP listener, decoded in the writer into typed messages.

The envelope's payload is one raw frame as it came off the wire (or, for a sub-packaged message, every
package's frame one after the other); its topic is written by the listener (:func:`envelope_topic`): the
terminal's number, the alarm bits that rose with each location (the listener remembers the last alarm word of
each terminal, so a press held down for a minute of reports is one press), and the listener's verdict on a
frame it refused. The codec is :mod:`ingest.protocols.jt808`; this module only turns its values into
messages.

A location becomes a Fix when the terminal has a fix (status bit 1) and the position is sound; its additional
items mileage (0x01), tachograph speed (0x03), signal strength (0x30) and satellites (0x31) become readings.
The emergency bit (alarm bit 0) rising becomes a ButtonPress ``sos`` whatever the fix; every other rising
alarm bit a DeviceAlarm. The items of a blind-area backfill (0x0704 of type 1) are Fixes marked ``backlog``.
Registration, authentication, heartbeat, logout and the terminal general response are signs of life.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from ingest.decoders.common import Limits, check_heading, check_position, check_speed, check_window, require_utc
from ingest.messages import (
    SOURCE_JT808,
    ButtonPress,
    Decoded,
    DeviceAlarm,
    Fix,
    Heartbeat,
    OriginReason,
    Reading,
    Rejection,
    RejectReason,
)
from ingest.protocols import jt808
from ingest.protocols.jt808 import FrameError, MsgId

NAME: Final = SOURCE_JT808
TOPIC_FILTERS: Final[tuple[str, ...]] = ()  # TCP only
TOPIC_PREFIX: Final = "jt808/"
PANIC_ACTION: Final = "sos"

_SIGNS_OF_LIFE: Final = {MsgId.REGISTER: "registration", MsgId.AUTHENTICATE: "authentication",
                         MsgId.HEARTBEAT: "heartbeat", MsgId.LOGOUT: "logout",
                         MsgId.TERMINAL_RESPONSE: "general_response"}


def envelope_topic(phone: str, rising: list[int] | None = None, verdict: Rejection | None = None) -> str:
    """Write an envelope's topic: ``jt808/<number>``, the rising alarm bits per location, any verdict; a line each."""
    lines = [TOPIC_PREFIX + phone, ",".join(f"{bits:x}" for bits in rising or [])]
    if verdict is not None:
        lines.append(f"{verdict.reason.value} {verdict.message}".replace("\n", " "))
    return "\n".join(lines)


def decode(topic: str, payload: bytes, received_at: datetime, limits: Limits) -> list[Decoded]:
    """Decode one spooled JT/T 808 envelope; raises Rejection."""
    require_utc(received_at)
    head, _, rest = topic.partition("\n")
    marks, _, verdict = rest.partition("\n")
    if verdict:
        reason, _, message = verdict.partition(" ")
        known = {r.value: r for r in (*RejectReason, *OriginReason)}
        raise Rejection(known.get(reason, RejectReason.UNSUPPORTED_MESSAGE), message)
    try:
        frame = read_message(payload)
        rising = [int(mark, 16) for mark in marks.split(",")] if marks else []
    except FrameError as error:
        raise Rejection(RejectReason.WRONG_TYPE, error.message) from None
    except ValueError:
        raise Rejection(RejectReason.WRONG_TYPE, f"alarm marks {marks[:40]!r} are not hex words") from None
    phone = frame.header.phone
    if head != TOPIC_PREFIX + phone:
        raise Rejection(RejectReason.WRONG_TYPE, f"the frame is terminal {phone}'s, the topic says {head[:40]!r}")
    try:
        return _messages(frame, rising, received_at, limits)
    except FrameError as error:
        raise Rejection(RejectReason.WRONG_TYPE, error.message) from None


def read_message(payload: bytes) -> jt808.Frame:
    """Parse a payload's frame, or join its sub-packages; raises FrameError."""
    raw, garbage, rest = jt808.split_frames(payload)
    if garbage or rest or not raw:
        raise FrameError("bad_delimiter", "the payload is not whole 0x7E-delimited frames")
    frames = [jt808.parse_frame(f) for f in raw]
    if len(frames) == 1 and frames[0].header.packages is None:
        return frames[0]
    return jt808.reassemble(frames)


def locations_of(frame: jt808.Frame) -> list[jt808.Location]:
    """List the locations a message carries: one for 0x0200 and 0x0201, each item of 0x0704, none otherwise."""
    if frame.header.msg_id == MsgId.LOCATION:
        return [jt808.parse_location(frame.body)]
    if frame.header.msg_id == MsgId.QUERY_ANSWER:
        return [jt808.parse_query_answer(frame.body)[1]]
    if frame.header.msg_id == MsgId.BATCH_LOCATION:
        return jt808.parse_batch(frame.body)[1]
    return []


def _messages(frame: jt808.Frame, rising: list[int], received_at: datetime, limits: Limits) -> list[Decoded]:
    phone, msg_id = frame.header.phone, frame.header.msg_id
    if frame.header.encryption:
        raise Rejection(RejectReason.UNSUPPORTED_MESSAGE, f"message 0x{msg_id:04X} has an encrypted body")
    if msg_id in _SIGNS_OF_LIFE:
        return [Heartbeat(NAME, phone, received_at, None, received_at, {"jt808": _SIGNS_OF_LIFE[MsgId(msg_id)]})]
    if msg_id not in (MsgId.LOCATION, MsgId.QUERY_ANSWER, MsgId.BATCH_LOCATION):
        raise Rejection(RejectReason.UNSUPPORTED_MESSAGE, f"message 0x{msg_id:04X} is not read")
    # A batch of type 1 is a blind-area backfill (盲区补报): fixes the terminal kept while it had no signal.
    backlog = msg_id == MsgId.BATCH_LOCATION and jt808.parse_batch(frame.body)[0] == jt808.BATCH_BACKFILL
    out: list[Decoded] = []
    for n, location in enumerate(locations_of(frame)):
        out += _location(phone, location, rising[n] if n < len(rising) else 0, received_at, limits, backlog)
    return out


def _location(phone: str, location: jt808.Location, rising: int, received_at: datetime,
              limits: Limits, backlog: bool = False) -> list[Decoded]:
    try:
        time = check_window(location.time, received_at, limits, "time")
    except Rejection:
        if not rising & jt808.EMERGENCY_BIT:
            raise
        time = received_at  # a press is never lost to its terminal's clock
    where: tuple[float, float] | None = None
    if location.positioned:
        try:
            where = check_position(location.lat, location.lon)
        except Rejection:
            where = None
    out: list[Decoded] = []
    if where is not None:
        speed = check_speed(location.speed_kmh) if location.speed_kmh <= 400 else None
        heading = check_heading(float(location.direction)) if location.direction <= 360 else None
        altitude = float(location.altitude_m) if -1000 <= location.altitude_m <= 50000 else None
        out.append(Fix(NAME, phone, time, where[1], where[0], speed, heading, altitude, None, None, received_at,
                       backlog))
        for metric, value in (("mileage_km", location.mileage_km), ("tachograph_speed_kmh", location.tachograph_kmh),
                              ("signal_strength", location.signal), ("satellites", location.satellites)):
            if value is not None:
                out.append(Reading(NAME, phone, time, metric, float(value), received_at))
    if rising & jt808.EMERGENCY_BIT:
        lat, lon = where if where is not None else (None, None)
        out.append(ButtonPress(NAME, phone, time, PANIC_ACTION, lon, lat, None, received_at))
    for bit, name in jt808.ALARM_BITS.items():
        if bit and rising & (1 << bit):
            detail: dict[str, object] = {"alarm_word": location.alarm}
            if bit == 1 and location.overspeed_detail is not None:
                detail |= location.overspeed_detail
            if where is not None:
                detail |= {"lat": where[0], "lon": where[1], "speed_kmh": location.speed_kmh}
            out.append(DeviceAlarm(NAME, phone, time, name, received_at, detail))
    if not out:
        out.append(Heartbeat(NAME, phone, received_at, None, received_at, {"jt808": "location_without_fix"}))
    return out
