"""What the ingest decoders produce: typed, frozen messages keyed by what the device calls itself.

Decoders do not know our device ids. Every message carries ``(source, external_id)`` exactly as the device
said it, and the pipeline maps that pair to one of our devices. Times are timezone-aware UTC, coordinates
WGS-84 lon/lat. A payload that cannot be decoded raises :class:`Rejection` with a machine-readable reason,
so that it lands in the dead letters with something an operator can act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

SOURCE_CAMPUSGUARD: Final = "campusguard"
SOURCE_OWNTRACKS: Final = "owntracks"
SOURCE_ZIGBEE2MQTT: Final = "zigbee2mqtt"
SOURCE_OSMAND: Final = "osmand"
SOURCE_JT808: Final = "jt808"
SOURCE_GT06: Final = "gt06"
SOURCES: Final = (SOURCE_CAMPUSGUARD, SOURCE_OWNTRACKS, SOURCE_ZIGBEE2MQTT, SOURCE_OSMAND)
"""The ``source`` values of payload formats (MQTT and HTTP), the same as the site file's."""
STREAM_SOURCES: Final = (SOURCE_JT808, SOURCE_GT06)
"""The ``source`` values of binary protocols over TCP (their frames are decoded from the spool alike)."""


class RejectReason(StrEnum):
    """Why a payload was refused; stable strings, counted and stored with the dead letter."""

    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    FUTURE_TIMESTAMP = "future_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    OVERSIZED = "oversized"
    UNKNOWN_TOPIC = "unknown_topic"
    UNSUPPORTED_MESSAGE = "unsupported_message"
    BAD_ENCODING = "bad_encoding"


class OriginReason(StrEnum):
    """Why a message was refused for where it came from rather than for what it says; no decoder gives these."""

    SCHOOL_MISMATCH = "school_mismatch"  # our schema's {school} is not the device's school (ingest/route.py)
    SOURCE_NOT_ALLOWED = "source_not_allowed"  # an OsmAnd request from outside ingest.http_allow
    NOT_AUTHENTICATED = "not_authenticated"  # a JT/T 808 report on a connection that has not authenticated


class Rejection(Exception):  # noqa: N818 - it is not an error of ours but a verdict on the input
    """A payload refused by a decoder or a listener, with the reason and a message for the operator."""

    def __init__(self, reason: RejectReason | OriginReason, message: str) -> None:
        """Keep the reason apart from the text so that callers can count by reason."""
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message


def _require_utc(name: str, value: datetime) -> None:
    # Naive or non-UTC times here are a bug in a decoder, not bad input: fail loudly, never as a Rejection.
    if value.tzinfo is UTC:  # the usual case, checked without building an offset for every message
        return
    if value.tzinfo is None or value.utcoffset() != timedelta(0):
        raise ValueError(f"{name} must be timezone-aware UTC, got {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class Fix:
    """One position fix, at the device's own time."""

    source: str
    external_id: str
    time: datetime
    lon: float
    lat: float
    speed_kmh: float | None
    heading_deg: float | None
    altitude_m: float | None
    accuracy_m: float | None
    battery_pct: float | None
    received_at: datetime
    # Stored on the device while it had no signal and uploaded afterwards (JT/T 808's 0x0704 type 1 盲区补报,
    # GT06's re-upload flag): a fact about the past, never the bus's present.
    backlog: bool = False

    def __post_init__(self) -> None:
        """Refuse times that are not aware UTC."""
        _require_utc("time", self.time)
        _require_utc("received_at", self.received_at)


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """A button action; the pipeline decides per device whether the action means panic."""

    source: str
    external_id: str
    time: datetime
    action: str
    lon: float | None
    lat: float | None
    battery_pct: float | None
    received_at: datetime
    # Set when the device gives no time of its own (the time is the arrival): the payload's digest, by which a
    # re-delivered copy of the press is known, since its arrival time differs (see store.ingest_repo).
    digest: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        """Refuse times that are not aware UTC."""
        _require_utc("time", self.time)
        _require_utc("received_at", self.received_at)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A sign of life, with the battery level when the device gave one and whatever else it said."""

    source: str
    external_id: str
    time: datetime
    battery_pct: float | None
    received_at: datetime
    detail: Mapping[str, object]

    def __post_init__(self) -> None:
        """Refuse times that are not aware UTC."""
        _require_utc("time", self.time)
        _require_utc("received_at", self.received_at)


@dataclass(frozen=True, slots=True)
class Reading:
    """One measurement of one metric (``temperature_c``, ``humidity_pct``, ``smoke``, ``door_open``...)."""

    source: str
    external_id: str
    time: datetime
    metric: str
    value: float
    received_at: datetime

    def __post_init__(self) -> None:
        """Refuse times that are not aware UTC."""
        _require_utc("time", self.time)
        _require_utc("received_at", self.received_at)


@dataclass(frozen=True, slots=True)
class DeviceAlarm:
    """An alarm a terminal raised itself (overspeed, power cut, antenna cut...), once per raising edge."""

    source: str
    external_id: str
    time: datetime
    alarm: str
    received_at: datetime
    detail: Mapping[str, object]

    def __post_init__(self) -> None:
        """Refuse times that are not aware UTC."""
        _require_utc("time", self.time)
        _require_utc("received_at", self.received_at)


Decoded = Fix | ButtonPress | Heartbeat | Reading | DeviceAlarm
"""Anything a decoder may return."""
