"""Validation shared by every decoder: payload size and encoding, JSON objects, typed fields, times, ranges.

Each helper either returns a clean value or raises :class:`~ingest.messages.Rejection` with the reason an
operator will see in the dead letters. Nothing here does I/O.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from ingest.messages import Rejection, RejectReason

JsonObject = dict[str, object]
"""A decoded JSON object."""

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_MS_ABOVE: Final = 1e12  # epoch seconds pass 1e12 only in the year 33658, so bigger values are milliseconds
_MAX_TIME_TEXT: Final = 64
_NUMBER_TEXT: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")

# Sensor metrics we know a physical range for; binary ones are 0 or 1. Unknown metrics pass with any finite value.
METRIC_RANGES: Final[dict[str, tuple[float, float]]] = {
    "temperature_c": (-80.0, 150.0),
    "humidity_pct": (0.0, 100.0),
    "pressure_hpa": (300.0, 1100.0),
}
BINARY_METRICS: Final = frozenset({"smoke", "door_open", "water_leak", "motion", "tamper"})


@dataclass(frozen=True, slots=True)
class Limits:
    """What a payload may weigh and how far its device time may stray from when we received it."""

    max_payload_bytes: int = 16384
    max_future: timedelta = timedelta(minutes=5)
    max_age: timedelta = timedelta(days=7)


def _reject(reason: RejectReason, message: str) -> Rejection:
    return Rejection(reason, message)


def require_utc(received_at: datetime) -> None:
    """Refuse a naive or non-UTC ``received_at``: that is a bug in the caller, so ValueError, not a Rejection."""
    if received_at.tzinfo is UTC:  # what every listener stamps: skip building an offset to compare
        return
    if received_at.tzinfo is None or received_at.utcoffset() != timedelta(0):
        raise ValueError(f"received_at must be timezone-aware UTC, got {received_at.isoformat()}")


def check_size(size: int, limits: Limits) -> None:
    """Refuse a payload over the size limit, before anything is parsed."""
    if size > limits.max_payload_bytes:
        raise _reject(RejectReason.OVERSIZED, f"payload is {size} bytes, the limit is {limits.max_payload_bytes}")


def decode_utf8(payload: bytes) -> str:
    """Return the payload as text; it must be UTF-8."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _reject(RejectReason.BAD_ENCODING, f"payload is not UTF-8 (byte {error.start})") from None


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} does not fit a double")
    return value


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


# Two decoders, built once (json.loads with hooks builds a decoder and its scanner on every call). The strict one
# calls back into Python for every float to refuse those beyond a double; the fast one parses floats in C, which
# turns them into infinity silently, so it only reads text where no number can overflow: no exponent (an e, a
# sign perhaps, a digit) and no run of more digits than a double's 309. Anything else (rare: GPS fixes are short
# decimals) takes the strict one, so both give the same verdict. NaN and Infinity reach parse_constant in either.
_STRICT_JSON: Final = json.JSONDecoder(parse_float=_finite_float, parse_constant=_no_constants)
_FAST_JSON: Final = json.JSONDecoder(parse_constant=_no_constants)
_EXPONENT: Final = re.compile(r"[eE][-+]?[0-9]")
_DOUBLE_DIGITS: Final = 309
_LONG_DIGITS: Final = re.compile(rf"[0-9]{{{_DOUBLE_DIGITS}}}")


def _may_overflow(text: str) -> bool:
    return _EXPONENT.search(text) is not None or (len(text) >= _DOUBLE_DIGITS and _LONG_DIGITS.search(text) is not None)


def parse_json_object(payload: bytes, limits: Limits) -> JsonObject:
    """Parse a size-checked UTF-8 JSON object; NaN, Infinity and numbers beyond a double are invalid JSON."""
    check_size(len(payload), limits)
    text = decode_utf8(payload)
    try:
        value = (_STRICT_JSON if _may_overflow(text) else _FAST_JSON).decode(text)
    except RecursionError:
        raise _reject(RejectReason.INVALID_JSON, "JSON nested too deeply") from None
    except ValueError as error:  # JSONDecodeError, our hooks, and Python's limit on integer digits
        raise _reject(RejectReason.INVALID_JSON, f"not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise _reject(RejectReason.NOT_AN_OBJECT, f"expected a JSON object, got {type(value).__name__}")
    return value


def _as_number(value: object, name: str) -> float:
    if type(value) is float and math.isfinite(value):  # most fields of most messages: settled in one test
        return value
    # bool is an int subclass in Python, and true is not a latitude.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _reject(RejectReason.WRONG_TYPE, f"{name} must be a number, got {_kind(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise _reject(RejectReason.OUT_OF_RANGE, f"{name} is too large") from None
    if not math.isfinite(number):
        raise _reject(RejectReason.OUT_OF_RANGE, f"{name} is not finite")
    return number


def _kind(value: object) -> str:
    names = {bool: "a boolean", str: "a string", dict: "an object", list: "an array", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


def optional_number(obj: JsonObject, key: str, name: str | None = None) -> float | None:
    """Return a number field, or None when it is absent or null."""
    value = obj.get(key)
    return None if value is None else _as_number(value, name or key)


def require_number(obj: JsonObject, key: str, name: str | None = None) -> float:
    """Return a number field that must be present."""
    value = optional_number(obj, key, name)
    if value is None:
        raise _reject(RejectReason.MISSING_FIELD, f"{name or key} is required")
    return value


def optional_str(obj: JsonObject, key: str, name: str | None = None) -> str | None:
    """Return a text field, or None when it is absent or null."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _reject(RejectReason.WRONG_TYPE, f"{name or key} must be a string, got {_kind(value)}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape: no database will store it
            raise _reject(RejectReason.BAD_ENCODING, f"{name or key} holds an unpaired surrogate") from None
    return value


def require_str(obj: JsonObject, key: str, name: str | None = None) -> str:
    """Return a text field that must be present."""
    value = optional_str(obj, key, name)
    if value is None:
        raise _reject(RejectReason.MISSING_FIELD, f"{name or key} is required")
    return value


def optional_bool(obj: JsonObject, key: str, name: str | None = None) -> bool | None:
    """Return a true/false field, or None when it is absent or null."""
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise _reject(RejectReason.WRONG_TYPE, f"{name or key} must be true or false, got {_kind(value)}")


def optional_object(obj: JsonObject, key: str, name: str | None = None) -> JsonObject | None:
    """Return a nested object field, or None when it is absent or null."""
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise _reject(RejectReason.WRONG_TYPE, f"{name or key} must be an object, got {_kind(value)}")


def require_object(obj: JsonObject, key: str, name: str | None = None) -> JsonObject:
    """Return a nested object field that must be present."""
    value = optional_object(obj, key, name)
    if value is None:
        raise _reject(RejectReason.MISSING_FIELD, f"{name or key} is required")
    return value


def number_from_text(text: str, name: str) -> float:
    """Parse a decimal number from text (query parameters); no NaN, infinities, hex or digit separators."""
    if len(text) > 64 or not _NUMBER_TEXT.fullmatch(text):
        raise _reject(RejectReason.WRONG_TYPE, f"{name} must be a decimal number, got {text[:32]!r}")
    try:
        return _finite_float(text)
    except ValueError:
        raise _reject(RejectReason.OUT_OF_RANGE, f"{name} does not fit a double") from None


def check_external_text(value: str, name: str, max_length: int = 128) -> str:
    """Refuse an empty, overlong or control-character id: it would become a key in our tables."""
    if not value.strip():
        raise _reject(RejectReason.MISSING_FIELD, f"{name} is empty")
    if len(value) > max_length:
        raise _reject(RejectReason.OUT_OF_RANGE, f"{name} is longer than {max_length} characters")
    if _CONTROL.search(value):
        raise _reject(RejectReason.WRONG_TYPE, f"{name} contains control characters")
    return value


def epoch_to_time(seconds: float, name: str) -> datetime:
    """Turn epoch seconds, or epoch milliseconds when above 1e12, into an aware UTC time."""
    if seconds > _EPOCH_MS_ABOVE:
        seconds /= 1000.0
    try:
        return EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise _reject(RejectReason.OUT_OF_RANGE, f"{name} {seconds:g} is beyond the calendar") from None


def iso_to_time(text: str, name: str) -> datetime:
    """Parse ISO-8601 text that carries its offset (``Z`` or ``+hh:mm``) into an aware UTC time."""
    if len(text) > _MAX_TIME_TEXT:
        raise _reject(RejectReason.WRONG_TYPE, f"{name} is too long for a time")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _reject(RejectReason.WRONG_TYPE, f"{name} is not an ISO-8601 time: {text[:40]!r}") from None
    if parsed.tzinfo is UTC:  # "Z" and "+00:00", most devices: already what we keep
        return parsed
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _reject(RejectReason.WRONG_TYPE, f"{name} has no timezone; a timezone is required (e.g. Z)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise _reject(RejectReason.OUT_OF_RANGE, f"{name} is beyond the calendar") from None


def parse_time_value(value: object, name: str) -> datetime:
    """Read a JSON time: epoch seconds or milliseconds as a number, or ISO-8601 text with an offset."""
    if isinstance(value, str):
        return iso_to_time(value, name)
    if value is None:
        raise _reject(RejectReason.MISSING_FIELD, f"{name} is required")
    return epoch_to_time(_as_number(value, name), name)


def check_window(time: datetime, received_at: datetime, limits: Limits, name: str) -> datetime:
    """Refuse a device time too far ahead of ``received_at`` or older than the age limit."""
    if time - received_at > limits.max_future:
        raise _reject(
            RejectReason.FUTURE_TIMESTAMP,
            f"{name} {time.isoformat()} is more than {limits.max_future} after receipt at {received_at.isoformat()}",
        )
    if received_at - time > limits.max_age:
        raise _reject(
            RejectReason.STALE_TIMESTAMP,
            f"{name} {time.isoformat()} is more than {limits.max_age} before receipt at {received_at.isoformat()}",
        )
    return time


def check_range(value: float, low: float, high: float, name: str) -> float:
    """Refuse a value outside ``[low, high]``."""
    if not low <= value <= high:
        raise _reject(RejectReason.OUT_OF_RANGE, f"{name} {value:g} is outside {low:g}..{high:g}")
    return value


def check_position(lat: float, lon: float) -> tuple[float, float]:
    """Refuse coordinates off the globe, and exactly 0,0: the "null island" a GPS reports without a fix."""
    check_range(lat, -90.0, 90.0, "latitude")
    check_range(lon, -180.0, 180.0, "longitude")
    if lat == 0.0 and lon == 0.0:
        raise _reject(RejectReason.OUT_OF_RANGE, "latitude 0, longitude 0 is a GPS without a fix, not a place")
    return lat, lon


def check_speed(kmh: float | None) -> float | None:
    """Refuse a speed outside 0..400 km/h."""
    return None if kmh is None else check_range(kmh, 0.0, 400.0, "speed (km/h)")


def check_heading(degrees: float | None) -> float | None:
    """Refuse a heading outside 0..360 degrees."""
    return None if degrees is None else check_range(degrees, 0.0, 360.0, "heading")


def check_battery(percent: float | None) -> float | None:
    """Refuse a battery level outside 0..100 percent."""
    return None if percent is None else check_range(percent, 0.0, 100.0, "battery (%)")


def check_accuracy(metres: float | None) -> float | None:
    """Refuse a negative accuracy radius."""
    return None if metres is None else check_range(metres, 0.0, math.inf, "accuracy (m)")


def check_altitude(metres: float | None) -> float | None:
    """Refuse an altitude below the Dead Sea's shore by far or above airliners by far: a unit or parsing bug."""
    return None if metres is None else check_range(metres, -1000.0, 50000.0, "altitude (m)")


def check_metric(metric: str, value: float) -> float:
    """Refuse a reading outside its metric's physical range; binary metrics are 0 or 1."""
    if metric in BINARY_METRICS and value not in (0.0, 1.0):
        raise _reject(RejectReason.OUT_OF_RANGE, f"{metric} is 0 or 1, got {value:g}")
    low, high = METRIC_RANGES.get(metric, (-math.inf, math.inf))
    return check_range(value, low, high, metric)
