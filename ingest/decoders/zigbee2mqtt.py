"""Zigbee2MQTT device states on ``zigbee2mqtt/{friendly_name}``, and availability on ``.../availability``.

Zigbee2MQTT puts no device time in its messages, so every message is timed at receipt. A friendly name may
contain ``/`` (Zigbee2MQTT uses it for folders), so the external id is everything after ``zigbee2mqtt/``.
Topics under ``zigbee2mqtt/bridge/`` and command topics (``.../set``, ``.../get``) are not device states.

One state message can give several messages: a ButtonPress for a non-empty ``action``, Readings for
``temperature``, ``humidity``, ``smoke``, ``contact`` (false means the door is open), ``water_leak``,
``occupancy`` and ``tamper``, and a Heartbeat when it reports ``battery``, ``linkquality`` or ``voltage``.
When a message carries an action, a malformed extra field is dropped instead of refusing the press.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime
from functools import partial
from types import MappingProxyType
from typing import Final, TypeVar

from ingest.decoders.common import (
    JsonObject,
    Limits,
    check_battery,
    check_metric,
    check_range,
    check_size,
    decode_utf8,
    optional_bool,
    optional_number,
    optional_str,
    parse_json_object,
    require_str,
    require_utc,
)
from ingest.messages import SOURCE_ZIGBEE2MQTT, ButtonPress, Decoded, Heartbeat, Reading, Rejection, RejectReason

NAME: Final = SOURCE_ZIGBEE2MQTT
TOPIC_FILTERS: Final = ("zigbee2mqtt/#",)

_BASE: Final = "zigbee2mqtt"
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_MAX_NAME: Final = 255
_NUMERIC_READINGS: Final = {"temperature": "temperature_c", "humidity": "humidity_pct"}
# Zigbee2MQTT field -> (our metric, whether true means 0): a contact sensor reports contact=true when closed.
_BINARY_READINGS: Final = {
    "smoke": ("smoke", False),
    "water_leak": ("water_leak", False),
    "contact": ("door_open", True),
    "occupancy": ("motion", False),
    "tamper": ("tamper", False),
}
_AVAILABILITY: Final = frozenset({"online", "offline"})

T = TypeVar("T")


def decode(topic: str, payload: bytes, received_at: datetime, limits: Limits) -> list[Decoded]:
    """Decode one Zigbee2MQTT message into zero or more messages, or raise Rejection."""
    require_utc(received_at)
    name, availability = _parse_topic(topic)
    if availability:
        return [_availability(name, payload, received_at, limits)]
    return _state(name, parse_json_object(payload, limits), received_at, hashlib.sha256(payload).hexdigest()[:32])


def _parse_topic(topic: str) -> tuple[str, bool]:
    levels = topic.split("/")
    if len(levels) < 2 or levels[0] != _BASE:
        raise Rejection(RejectReason.UNKNOWN_TOPIC, f"expected zigbee2mqtt/{{friendly_name}}: {topic[:120]}")
    rest = levels[1:]
    if rest[0] == "bridge":
        raise Rejection(RejectReason.UNKNOWN_TOPIC, "zigbee2mqtt/bridge/... is the bridge's own, not a device state")
    if any(level in ("set", "get") for level in rest):
        raise Rejection(RejectReason.UNKNOWN_TOPIC, "a .../set or .../get topic is a command, not a device state")
    availability = len(rest) > 1 and rest[-1] == "availability"
    if availability:
        rest = rest[:-1]
    name = "/".join(rest)
    if "" in rest or len(name) > _MAX_NAME or _CONTROL.search(name):
        raise Rejection(RejectReason.UNKNOWN_TOPIC, f"not a usable friendly name: {name[:120]!r}")
    return name, availability


def _availability(name: str, payload: bytes, received_at: datetime, limits: Limits) -> Heartbeat:
    # Zigbee2MQTT publishes {"state": "online"} by default, plain online/offline with the legacy payload.
    check_size(len(payload), limits)
    text = decode_utf8(payload).strip()
    if text in _AVAILABILITY:
        state = text
    else:
        state = require_str(parse_json_object(payload, limits), "state")
        if state not in _AVAILABILITY:
            raise Rejection(RejectReason.OUT_OF_RANGE, f"availability state is online or offline, got {state[:20]!r}")
    return Heartbeat(NAME, name, received_at, None, received_at, MappingProxyType({"availability": state}))


def _read(parse: Callable[[], T], lenient: bool) -> T | None:
    if not lenient:
        return parse()
    try:
        return parse()
    except Rejection:
        return None


def _state(name: str, body: JsonObject, received_at: datetime, digest: str) -> list[Decoded]:
    # Zigbee2MQTT clears the action with "" (or null) right after publishing it: that is no press.
    action = optional_str(body, "action")
    lenient = bool(action)
    battery = _read(partial(_battery, body), lenient)
    result: list[Decoded] = []
    if action:
        result.append(ButtonPress(NAME, name, received_at, action, None, None, battery, received_at, digest))
    for key, metric in _NUMERIC_READINGS.items():
        number = _read(partial(_metric, body, key, metric), lenient)
        if number is not None:
            result.append(Reading(NAME, name, received_at, metric, number, received_at))
    for key, (metric, inverted) in _BINARY_READINGS.items():
        flag = _read(partial(optional_bool, body, key), lenient)
        if flag is not None:
            result.append(Reading(NAME, name, received_at, metric, float(flag != inverted), received_at))
    detail = _read(partial(_link_detail, body), lenient) or {}
    if battery is not None or detail:
        result.append(Heartbeat(NAME, name, received_at, battery, received_at, MappingProxyType(detail)))
    if not result and "action" not in body:
        raise Rejection(RejectReason.UNSUPPORTED_MESSAGE, "no field we use (action, battery, sensor values)")
    return result


def _battery(body: JsonObject) -> float | None:
    return check_battery(optional_number(body, "battery"))


def _metric(body: JsonObject, key: str, metric: str) -> float | None:
    value = optional_number(body, key)
    return None if value is None else check_metric(metric, value)


def _link_detail(body: JsonObject) -> dict[str, object]:
    detail: dict[str, object] = {}
    linkquality = optional_number(body, "linkquality")
    if linkquality is not None:
        detail["linkquality"] = check_range(linkquality, 0.0, 255.0, "linkquality")
    voltage = optional_number(body, "voltage")
    if voltage is not None:
        detail["voltage_mv"] = check_range(voltage, 0.0, 100000.0, "voltage (mV)")
    battery_low = optional_bool(body, "battery_low")
    if battery_low is not None:
        detail["battery_low"] = battery_low
    return detail
