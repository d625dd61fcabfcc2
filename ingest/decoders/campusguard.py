"""Our own MQTT schema: ``campusguard/v1/{school}/{kind}/{device}`` with JSON payloads (see docs/mqtt.md).

Kinds are ``gps``, ``panic``, ``heartbeat`` and ``sensor``. The ``{device}`` level is our device id and becomes
the ``external_id``; ``{school}`` is checked by the pipeline against the device's school (``ingest/route.py``,
which knows the devices; a decoder does not).

A panic is decoded as leniently as safety asks: once the topic, the JSON object and ``ts`` are sound, a bad
or missing fix, battery or action never costs the press; they are dropped (or the action defaults) instead.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from types import MappingProxyType
from typing import Final

from ingest.decoders.common import (
    JsonObject,
    Limits,
    check_accuracy,
    check_altitude,
    check_battery,
    check_heading,
    check_metric,
    check_position,
    check_speed,
    check_window,
    optional_number,
    optional_str,
    parse_json_object,
    parse_time_value,
    require_number,
    require_object,
    require_str,
    require_utc,
)
from ingest.messages import SOURCE_CAMPUSGUARD, ButtonPress, Decoded, Fix, Heartbeat, Reading, Rejection, RejectReason

NAME: Final = SOURCE_CAMPUSGUARD
TOPIC_FILTERS: Final = ("campusguard/v1/+/+/+",)
KINDS: Final = frozenset({"gps", "panic", "heartbeat", "sensor"})

_SLUG: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_METRIC: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
# The site file's sensor kinds, accepted as metric names and stored under the unit-bearing metric.
METRIC_ALIASES: Final = {"temperature": "temperature_c", "humidity": "humidity_pct", "door": "door_open"}


def decode(topic: str, payload: bytes, received_at: datetime, limits: Limits) -> list[Decoded]:
    """Decode one message of our schema into messages, or raise Rejection."""
    require_utc(received_at)
    kind, device = _parse_topic(topic) if len(topic) <= CACHED_TOPIC_CHARS else _parse_topic.__wrapped__(topic)
    body = parse_json_object(payload, limits)
    time = check_window(parse_time_value(body.get("ts"), "ts"), received_at, limits, "ts")
    if kind == "gps":
        return [_gps(device, time, body, received_at)]
    if kind == "panic":
        return [_panic(device, time, body, received_at)]
    if kind == "heartbeat":
        battery = check_battery(optional_number(body, "batt"))
        detail = MappingProxyType({key: value for key, value in body.items() if key not in ("ts", "batt")})
        return [Heartbeat(NAME, device, time, battery, received_at, detail)]
    return list(_sensor(device, time, body, received_at))


# Topics are the publisher's to choose (up to 64 KiB each): only ordinary ones are remembered, so a client sending
# long made-up topics cannot fill a writer's memory with them (65,536 x 64 KiB).
CACHED_TOPIC_CHARS = 256


def topic_school(topic: str) -> str | None:
    """Return the ``{school}`` level of a topic of our schema, or None for any other topic."""
    return _topic_school(topic) if len(topic) <= CACHED_TOPIC_CHARS else _topic_school.__wrapped__(topic)


@functools.lru_cache(maxsize=65536)  # a topic names one device: the same few thousand topics, over and over
def _topic_school(topic: str) -> str | None:
    levels = topic.split("/")
    return levels[2] if len(levels) == 5 and levels[:2] == ["campusguard", "v1"] else None


@functools.lru_cache(maxsize=65536)  # as topic_school; a refused topic raises, and raising is never cached
def _parse_topic(topic: str) -> tuple[str, str]:
    levels = topic.split("/")
    if len(levels) != 5 or levels[0] != "campusguard":
        raise Rejection(RejectReason.UNKNOWN_TOPIC, f"expected campusguard/v1/{{school}}/{{kind}}/{{device}}: {topic}")
    _, version, school, kind, device = levels
    if version != "v1":
        raise Rejection(RejectReason.UNKNOWN_TOPIC, f"schema version {version!r} is not supported, only v1")
    if kind not in KINDS:
        raise Rejection(RejectReason.UNKNOWN_TOPIC, f"kind {kind!r} is not one of {', '.join(sorted(KINDS))}")
    for what, value in (("school", school), ("device", device)):
        if not _SLUG.fullmatch(value):
            raise Rejection(RejectReason.UNKNOWN_TOPIC, f"{what} {value!r} in the topic is not a lowercase slug id")
    return kind, device


def _gps(device: str, time: datetime, body: JsonObject, received_at: datetime) -> Fix:
    lat, lon = check_position(require_number(body, "lat"), require_number(body, "lon"))
    return Fix(
        source=NAME,
        external_id=device,
        time=time,
        lon=lon,
        lat=lat,
        speed_kmh=check_speed(optional_number(body, "speed_kmh")),
        heading_deg=check_heading(optional_number(body, "heading")),
        altitude_m=check_altitude(optional_number(body, "alt")),
        accuracy_m=check_accuracy(optional_number(body, "acc")),
        battery_pct=check_battery(optional_number(body, "batt")),
        received_at=received_at,
    )


def _panic(device: str, time: datetime, body: JsonObject, received_at: datetime) -> ButtonPress:
    # Never drop an SOS for its extras: a fix that is absent, half there or invalid is left out.
    lon: float | None = None
    lat: float | None = None
    try:
        if body.get("lat") is not None and body.get("lon") is not None:
            lat, lon = check_position(require_number(body, "lat"), require_number(body, "lon"))
    except Rejection:
        lat = lon = None
    try:
        battery = check_battery(optional_number(body, "batt"))
    except Rejection:
        battery = None
    try:
        action = optional_str(body, "action") or "panic"
    except Rejection:
        action = "panic"
    return ButtonPress(NAME, device, time, action, lon, lat, battery, received_at)


def _metric_name(name: str) -> str:
    metric = METRIC_ALIASES.get(name, name)
    if not _METRIC.fullmatch(metric):
        raise Rejection(RejectReason.WRONG_TYPE, f"metric {name[:40]!r} is not a lowercase name like temperature_c")
    return metric


def _sensor(device: str, time: datetime, body: JsonObject, received_at: datetime) -> list[Reading]:
    single = "metric" in body or "value" in body
    if single and "readings" in body:
        raise Rejection(RejectReason.WRONG_TYPE, "give either metric and value, or readings, not both")
    if single:
        pairs = [(require_str(body, "metric"), require_number(body, "value"))]
    elif "readings" in body:
        readings = require_object(body, "readings")
        if not readings:
            raise Rejection(RejectReason.MISSING_FIELD, "readings is empty")
        pairs = [(name, require_number(readings, name, f"readings.{name}")) for name in readings]
    else:
        raise Rejection(RejectReason.MISSING_FIELD, "a sensor message needs metric and value, or readings")
    result = []
    for name, value in pairs:
        metric = _metric_name(name)
        result.append(Reading(NAME, device, time, metric, check_metric(metric, value), received_at))
    return result
