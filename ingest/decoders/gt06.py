"""GT06 over TCP: one spooled raw frame in, ingest messages out (the codec is ``ingest/protocols/gt06.py``).

A GT06 frame names its terminal only in the login, so the TCP session that spools a frame writes the IMEI
it logged in with into the envelope's topic: ``gt06/{imei}``, or ``gt06/{imei}/{minutes}`` for a terminal
whose clock runs at that offset from UTC instead of on UTC (480 for Beijing time; see :func:`topic_for`).
A second line, when the session refused the bytes (a frame before login, garbage), carries its verdict.

- login: a :class:`Heartbeat` (a sign of life, with the model and the time zone set on the terminal);
- location (0x12, 0x22): a :class:`Fix` when the terminal has a fix (marked ``backlog`` when 0x22's re-upload
  flag says it was kept and sent late); without one, a :class:`Heartbeat`, so the
  tracker counts as alive but the bus is not moved to a stale or zero position;
- status (0x13): a :class:`Heartbeat` with the terminal's bits, and a coarse battery level (the 0..6 voltage
  level as a percentage);
- alarm (0x16, 0x26): a :class:`ButtonPress` ``sos`` for SOS (a panic on every device), a :class:`DeviceAlarm`
  for every other alarm (``overspeed``, ``power_cut``, ``shock``, ``fence_in``...), with the :class:`Fix`
  beside it when it has one. The press never depends on the fix: an invalid fix, or a date-time that is not
  one, leaves the press without a position, or timed at arrival and known again by the frame's digest.

A frame whose CRC fails, that is cut short or malformed, or of a protocol not decoded here is refused with a
reason and a message naming the fault, and lands in the dead letters.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final, TypeVar

from ingest.decoders.common import (
    Limits,
    check_heading,
    check_position,
    check_size,
    check_speed,
    check_window,
    require_utc,
)
from ingest.messages import ButtonPress, Decoded, DeviceAlarm, Fix, Heartbeat, OriginReason, Rejection, RejectReason
from ingest.protocols.gt06 import (
    Alarm,
    AlarmReport,
    Fault,
    Gps,
    Gt06Error,
    Location,
    Login,
    Status,
    TerminalAlarm,
    decode_message,
    parse_frame,
)

NAME: Final = "gt06"
TOPIC_FILTERS: Final[tuple[str, ...]] = ()  # TCP only: never subscribed to on the broker
VIA_GT06: Final = "gt06-tcp"
"""The ``Envelope.source`` of what the GT06 TCP listener spools."""

_TOPIC: Final = re.compile(r"gt06/(\d{15,16})(?:/([+-]?\d{1,4}))?")
_MAX_OFFSET_MIN: Final = 14 * 60
_FAULT_REASONS: Final = {
    Fault.CRC: RejectReason.BAD_ENCODING,
    Fault.TRUNCATED: RejectReason.MISSING_FIELD,
    Fault.MALFORMED: RejectReason.BAD_ENCODING,
    Fault.OVERSIZED: RejectReason.OVERSIZED,
    Fault.UNSUPPORTED: RejectReason.UNSUPPORTED_MESSAGE,
    Fault.OUT_OF_RANGE: RejectReason.OUT_OF_RANGE,
}
_TERMINAL_ALARMS: Final = {
    TerminalAlarm.SOS: Alarm.SOS,
    TerminalAlarm.POWER_CUT: Alarm.POWER_CUT,
    TerminalAlarm.SHOCK: Alarm.SHOCK,
    TerminalAlarm.LOW_BATTERY: Alarm.LOW_BATTERY,
}

T = TypeVar("T")


def topic_for(imei: str, utc_offset: timedelta = timedelta(0), verdict: Rejection | None = None) -> str:
    """Write the envelope topic for a frame from a terminal (whole minutes of offset), with any verdict."""
    minutes = int(utc_offset.total_seconds() // 60)
    head = f"gt06/{imei}" if minutes == 0 else f"gt06/{imei}/{minutes}"
    if verdict is None:
        return head
    return head + "\n" + f"{verdict.reason.value} {verdict.message}".replace("\n", " ")


def _parse_topic(topic: str) -> tuple[str, timedelta]:
    head, _, verdict = topic.partition("\n")
    if verdict:
        reason, _, message = verdict.partition(" ")
        known = {r.value: r for r in (*RejectReason, *OriginReason)}
        raise Rejection(known.get(reason, RejectReason.UNSUPPORTED_MESSAGE), message)
    match = _TOPIC.fullmatch(head)
    if match is None:
        raise Rejection(RejectReason.UNKNOWN_TOPIC, f"expected gt06/{{imei}}[/{{utc offset minutes}}]: {head[:80]}")
    minutes = int(match.group(2) or 0)
    if abs(minutes) > _MAX_OFFSET_MIN:
        raise Rejection(RejectReason.UNKNOWN_TOPIC, f"a clock offset of {minutes} minutes is beyond any time zone")
    return match.group(1), timedelta(minutes=minutes)


def decode(topic: str, payload: bytes, received_at: datetime, limits: Limits) -> list[Decoded]:
    """Decode one whole GT06 frame spooled by the TCP session, or raise Rejection."""
    require_utc(received_at)
    imei, utc_offset = _parse_topic(topic)
    check_size(len(payload), limits)
    try:
        message = decode_message(parse_frame(payload), utc_offset)
    except Gt06Error as error:
        raise rejection_for(error) from None
    if isinstance(message, Login):
        if message.imei != imei:
            raise Rejection(RejectReason.WRONG_TYPE, f"login IMEI {message.imei} is not the session's {imei}")
        zone = None if message.timezone is None else int(message.timezone.total_seconds() // 60)
        detail = {"message": "login", "type_id": message.type_id, "timezone_min": zone}
        return [Heartbeat(NAME, imei, received_at, None, received_at, MappingProxyType(detail))]
    if isinstance(message, Location):
        return [_location(imei, message, received_at, limits)]
    if isinstance(message, Status):
        return [Heartbeat(NAME, imei, received_at, battery_pct(message.voltage_level), received_at,
                          MappingProxyType({"message": "status", **_status_detail(message)}))]
    return _alarm(imei, message, payload, received_at, limits)


def rejection_for(error: Gt06Error) -> Rejection:
    """Turn a codec error into the dead letter's reason, the fault named in its message."""
    return Rejection(_FAULT_REASONS[error.fault], f"GT06 {error.fault.value}: {error.message}")


def battery_pct(voltage_level: int) -> float | None:
    """Read the 0 (no power) .. 6 (very high) voltage level as a coarse percentage; None beyond 6."""
    return round(voltage_level * 100 / 6, 1) if voltage_level <= 6 else None


def alarm_action(code: int) -> str:
    """Name an alarm code: ``sos``, ``overspeed``..., or ``alarm_0x..`` for codes not in the tables."""
    try:
        return Alarm(code).name.lower()
    except ValueError:
        return f"alarm_0x{code:02x}"


def _status_detail(status: Status) -> dict[str, object]:
    info = status.info
    return {"oil_cut": info.oil_cut, "gps_tracking": info.gps_tracking, "charging": info.charging,
            "acc": info.acc, "defence": info.defence, "terminal_alarm": info.alarm,
            "voltage_level": status.voltage_level, "gsm_signal": status.gsm_signal,
            "alarm": alarm_action(status.alarm), "language": status.language}


def _fix(imei: str, gps: Gps, battery: float | None, received_at: datetime, limits: Limits,
         backlog: bool = False) -> Fix:
    if gps.time is None:
        raise Rejection(RejectReason.OUT_OF_RANGE, "the fix's date-time is not a calendar time")
    time = check_window(gps.time, received_at, limits, "date-time")
    lat, lon = check_position(gps.lat, gps.lon)
    return Fix(NAME, imei, time, lon, lat, check_speed(float(gps.speed_kmh)), check_heading(float(gps.course)),
               None, None, battery, received_at, backlog)


def _location(imei: str, location: Location, received_at: datetime, limits: Limits) -> Fix | Heartbeat:
    if location.gps.positioned:
        # 0x22's re-upload flag: a fix the terminal kept while it could not send, uploaded late.
        return _fix(imei, location.gps, None, received_at, limits, bool(location.reupload))
    detail: dict[str, object] = {"message": "location", "positioned": False, "satellites": location.gps.satellites}
    if location.cell is not None:
        cell = location.cell
        detail.update(mcc=cell.mcc, mnc=cell.mnc, lac=cell.lac, cell_id=cell.cell_id)
    return Heartbeat(NAME, imei, received_at, None, received_at, MappingProxyType(detail))


def _lenient(parse: Callable[[], T]) -> T | None:
    # With an alarm in hand, a bad fix or time is dropped rather than costing the alarm.
    try:
        return parse()
    except Rejection:
        return None


def _alarm(imei: str, report: AlarmReport, payload: bytes, received_at: datetime,
           limits: Limits) -> list[Decoded]:
    status = report.status
    code = status.alarm
    if code == Alarm.NORMAL and status.info.alarm in _TERMINAL_ALARMS:
        # The alarm byte says normal but the terminal information bits carry the alarm: older firmwares.
        code = _TERMINAL_ALARMS[TerminalAlarm(status.info.alarm)]
    battery = battery_pct(status.voltage_level)
    fix = _lenient(lambda: _fix(imei, report.gps, battery, received_at, limits)) if report.gps.positioned else None
    result: list[Decoded] = [fix] if fix is not None else []
    if code == Alarm.NORMAL:
        if fix is None:
            quiet = {"message": "alarm", **_status_detail(status)}
            result.append(Heartbeat(NAME, imei, received_at, battery, received_at, MappingProxyType(quiet)))
        return result
    time = _lenient(lambda: check_window(report.gps.time, received_at, limits, "date-time")
                    if report.gps.time is not None else None)
    # A fix refused for its time alone still places the press.
    where = _lenient(lambda: check_position(report.gps.lat, report.gps.lon)) if report.gps.positioned else None
    lat, lon = where if where is not None else (None, None)
    if code == Alarm.SOS:
        # Timed at arrival, a retransmitted copy would get another key; the frame's digest (serial included) is
        # the same in every copy, so the store knows it again.
        digest = hashlib.sha256(payload).hexdigest()[:32] if time is None else None
        result.append(ButtonPress(NAME, imei, time or received_at, "sos", lon, lat, battery, received_at, digest))
        return result
    detail: dict[str, object] = {"protocol": report.protocol, "code": code, **_status_detail(status)}
    if where is not None:
        detail |= {"lat": lat, "lon": lon, "speed_kmh": report.gps.speed_kmh}
    result.append(DeviceAlarm(NAME, imei, time or received_at, alarm_action(code), received_at,
                              MappingProxyType(detail)))
    return result
