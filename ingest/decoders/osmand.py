"""The OsmAnd protocol over HTTP (Traccar Client, port 5055): query or form parameters, or the JSON body.

Parameters, as Traccar's ``OsmAndProtocolDecoder`` reads them: ``id`` (or ``deviceid``), ``lat``, ``lon``,
``timestamp`` (epoch seconds, epoch milliseconds, ISO-8601 with offset, or ``yyyy-MM-dd HH:mm:ss`` taken as
UTC; absent means now), ``speed`` in KNOTS (Traccar Client sends ``Location.getSpeed() * 1.943844``),
``bearing`` or ``heading``, ``altitude``, ``accuracy``, ``batt`` (percent) and ``alarm`` (``sos`` from the
client's SOS shortcut). Empty values count as absent, as in Traccar. ``hdop`` and other extras are not used.

The JSON body (Traccar Client 9+, ``Content-Type: application/json``) is the background-geolocation SDK's
``{"device_id", "location": {"timestamp", "coords": {"latitude", "longitude", "speed" (m/s), "heading",
"altitude", "accuracy"}, "battery": {"level" (0..1), "is_charging"}, "is_moving", "event", "extras"}}``; the
SDK writes -1 for an unknown speed, heading, accuracy or battery level, and those become None.

A request with an ``alarm`` also gives a ButtonPress; then a bad or missing fix never costs the alarm.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Final, TypeVar
from urllib.parse import parse_qsl

from ingest.decoders.common import (
    JsonObject,
    Limits,
    check_accuracy,
    check_altitude,
    check_battery,
    check_external_text,
    check_heading,
    check_position,
    check_range,
    check_size,
    check_speed,
    check_window,
    decode_utf8,
    epoch_to_time,
    iso_to_time,
    number_from_text,
    optional_number,
    optional_object,
    optional_str,
    parse_json_object,
    require_number,
    require_object,
    require_str,
    require_utc,
)
from ingest.messages import SOURCE_OSMAND, ButtonPress, Decoded, Fix, Rejection, RejectReason

NAME: Final = SOURCE_OSMAND
TOPIC_FILTERS: Final[tuple[str, ...]] = ()  # HTTP only

KNOTS_TO_KMH: Final = 1.852
MPS_TO_KMH: Final = 3.6
_MAX_FIELDS: Final = 64
_EPOCH_TEXT: Final = re.compile(r"\d{1,16}(?:\.\d{1,9})?")
_PLAIN_UTC: Final = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_ALARM: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")
_FORM_TYPES: Final = frozenset({"", "application/x-www-form-urlencoded", "text/plain"})

T = TypeVar("T")


def decode(topic: str, payload: bytes, received_at: datetime, limits: Limits) -> list[Decoded]:
    """Decode a request body like any other payload (the topic is unused): JSON if it is an object, else a form."""
    content_type = "application/json" if payload.lstrip()[:1] == b"{" else None
    return decode_osmand_request("POST", "", content_type, payload, received_at, limits)


def decode_osmand_request(
    method: str, query: str, content_type: str | None, body: bytes, received_at: datetime, limits: Limits
) -> list[Decoded]:
    """Decode one OsmAnd HTTP request into a fix and/or an alarm press, or raise Rejection."""
    require_utc(received_at)
    if method.upper() not in ("GET", "POST"):
        raise Rejection(RejectReason.UNSUPPORTED_MESSAGE, f"OsmAnd requests are GET or POST, not {method[:10]}")
    check_size(len(query) + len(body), limits)
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type == "application/json":
        return _decode_json(parse_json_object(body, limits), received_at, limits)
    params = _params(query.removeprefix("?"))
    if not params and body:
        # Traccar reads the body as a form when the URL has no parameters.
        if media_type not in _FORM_TYPES:
            raise Rejection(RejectReason.UNSUPPORTED_MESSAGE, f"cannot read a {media_type[:40]} body")
        params = _params(decode_utf8(body))
    return _decode_params(params, received_at, limits)


def _params(text: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=_MAX_FIELDS)
    except UnicodeDecodeError:
        raise Rejection(RejectReason.BAD_ENCODING, "a percent-encoded parameter is not UTF-8") from None
    except ValueError:
        raise Rejection(RejectReason.OVERSIZED, f"more than {_MAX_FIELDS} parameters") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if not value:
            continue
        if not (key + value).isascii():
            try:
                (key + value).encode("utf-8")
            except UnicodeEncodeError:
                raise Rejection(RejectReason.BAD_ENCODING, "a parameter holds an unpaired surrogate") from None
        if params.get(key, value) != value:
            raise Rejection(RejectReason.WRONG_TYPE, f"parameter {key[:32]!r} is given twice with different values")
        params[key] = value
    return params


def _attempt(parse: Callable[[], T], lenient: bool) -> T | None:
    # With an alarm in hand, a malformed extra is dropped rather than costing the alarm.
    if not lenient:
        return parse()
    try:
        return parse()
    except Rejection:
        return None


def _number(params: Mapping[str, str], *keys: str) -> float | None:
    for key in keys:
        if key in params:
            return number_from_text(params[key], key)
    return None


def _text_time(text: str) -> datetime:
    if _EPOCH_TEXT.fullmatch(text):
        return epoch_to_time(float(text), "timestamp")
    if _PLAIN_UTC.fullmatch(text):
        try:
            return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            raise Rejection(RejectReason.OUT_OF_RANGE, f"timestamp {text!r} is not a calendar time") from None
    return iso_to_time(text, "timestamp")


def _alarm(value: str | None) -> str | None:
    if value is not None and not _ALARM.fullmatch(value):
        raise Rejection(RejectReason.WRONG_TYPE, f"alarm {value[:32]!r} is not a short word like sos")
    return value


def _decode_params(params: Mapping[str, str], received_at: datetime, limits: Limits) -> list[Decoded]:
    if not params:
        raise Rejection(RejectReason.MISSING_FIELD, "the request has no parameters")
    raw_id = params.get("id", params.get("deviceid"))
    if raw_id is None:
        raise Rejection(RejectReason.MISSING_FIELD, "id (or deviceid) is required")
    external_id = check_external_text(raw_id, "id")
    stamp = params.get("timestamp")
    time = received_at if stamp is None else check_window(_text_time(stamp), received_at, limits, "timestamp")
    alarm = _alarm(params.get("alarm"))
    lenient = alarm is not None

    def position() -> tuple[float, float]:
        lat, lon = _number(params, "lat"), _number(params, "lon")
        if lat is None or lon is None:
            raise Rejection(RejectReason.MISSING_FIELD, "lat and lon are required")
        return check_position(lat, lon)

    def speed() -> float | None:
        knots = _number(params, "speed")
        return check_speed(None if knots is None else knots * KNOTS_TO_KMH)

    where = _attempt(position, lenient)
    battery = _attempt(lambda: check_battery(_number(params, "batt")), lenient)
    result: list[Decoded] = []
    if where is not None:
        result.append(Fix(
            source=NAME,
            external_id=external_id,
            time=time,
            lon=where[1],
            lat=where[0],
            speed_kmh=_attempt(speed, lenient),
            heading_deg=_attempt(lambda: check_heading(_number(params, "bearing", "heading")), lenient),
            altitude_m=_attempt(lambda: check_altitude(_number(params, "altitude")), lenient),
            accuracy_m=_attempt(lambda: check_accuracy(_number(params, "accuracy")), lenient),
            battery_pct=battery,
            received_at=received_at,
        ))
    if alarm is not None:
        lat, lon = where if where is not None else (None, None)
        result.append(ButtonPress(NAME, external_id, time, alarm, lon, lat, battery, received_at))
    return result


def _known(value: float | None) -> float | None:
    # The geolocation SDK writes -1 for "not known".
    return None if value is None or value < 0 else value


def _decode_json(root: JsonObject, received_at: datetime, limits: Limits) -> list[Decoded]:
    external_id = check_external_text(require_str(root, "device_id"), "device_id")
    location = require_object(root, "location")
    stamp = iso_to_time(require_str(location, "timestamp", "location.timestamp"), "location.timestamp")
    time = check_window(stamp, received_at, limits, "location.timestamp")
    extras = optional_object(location, "extras", "location.extras") or {}
    alarm = _alarm(optional_str(location, "alarm", "location.alarm") or optional_str(extras, "alarm", "extras.alarm"))
    lenient = alarm is not None

    def battery() -> float | None:
        level = _known(optional_number(require_object(location, "battery"), "level", "battery.level"))
        # Rounded: 0.29 * 100 is 28.999999999999996 in binary floating point.
        return check_battery(None if level is None else round(check_range(level, 0.0, 1.0, "battery.level") * 100, 2))

    def position() -> tuple[float, float, JsonObject]:
        coords = require_object(location, "coords", "location.coords")
        lat, lon = check_position(require_number(coords, "latitude", "coords.latitude"),
                                  require_number(coords, "longitude", "coords.longitude"))
        return lat, lon, coords

    level = _attempt(battery, lenient) if location.get("battery") is not None else None
    found = _attempt(position, lenient)
    result: list[Decoded] = []
    if found is not None:
        lat, lon, coords = found

        def coord(key: str, check: Callable[[float | None], float | None], scale: float = 1.0) -> float | None:
            value = optional_number(coords, key, f"coords.{key}")
            value = value if key == "altitude" else _known(value)  # altitude may well be below zero
            return check(None if value is None else value * scale)

        result.append(Fix(
            source=NAME,
            external_id=external_id,
            time=time,
            lon=lon,
            lat=lat,
            speed_kmh=_attempt(lambda: coord("speed", check_speed, MPS_TO_KMH), lenient),
            heading_deg=_attempt(lambda: coord("heading", check_heading), lenient),
            altitude_m=_attempt(lambda: coord("altitude", check_altitude), lenient),
            accuracy_m=_attempt(lambda: coord("accuracy", check_accuracy), lenient),
            battery_pct=level,
            received_at=received_at,
        ))
    if alarm is not None:
        press_lat, press_lon = (found[0], found[1]) if found is not None else (None, None)
        result.append(ButtonPress(NAME, external_id, time, alarm, press_lon, press_lat, level, received_at))
    return result
