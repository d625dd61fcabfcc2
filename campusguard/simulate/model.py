"""Typed, frozen messages between the simulator's stages: plan → reports → encoded messages → transports.

A :class:`SimFix` or :class:`SimPress` is what a simulated device *would* say, in our own terms (UTC times,
WGS-84 lon/lat, km/h); ``protocols.py`` turns it into the exact bytes a real device of its ``source`` sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


def _require_utc(name: str, value: datetime) -> None:
    # Every time crossing a stage is aware UTC; a naive one here is a bug in the planner.
    if value.tzinfo is None or value.utcoffset() != timedelta(0):
        raise ValueError(f"{name} must be timezone-aware UTC, got {value.isoformat()}")


class Role(StrEnum):
    """What the scenario scripts a bus to do on its trip."""

    NORMAL = "normal"
    LATE = "late"
    DEVIATING = "deviating"
    SPEEDING = "speeding"
    SILENT = "silent"
    NO_CHILD_CHECK = "no_child_check"


@dataclass(frozen=True, slots=True)
class DeviceRef:
    """A simulated device as the site file knows it: our id, its school and how it speaks."""

    id: str
    school_id: str
    source: str
    external_id: str | None


@dataclass(frozen=True, slots=True)
class SimFix:
    """One position report of a tracker, at the device's own time."""

    device: DeviceRef
    time: datetime
    lon: float
    lat: float
    speed_kmh: float
    heading_deg: float
    accuracy_m: float
    altitude_m: float
    battery_pct: float | None

    def __post_init__(self) -> None:
        """Refuse naive times."""
        _require_utc("time", self.time)


@dataclass(frozen=True, slots=True)
class SimPress:
    """A button action: a panic on a panic button, or a driver's ``child_check`` on a bus tracker."""

    device: DeviceRef
    time: datetime
    action: str
    lon: float | None = None
    lat: float | None = None

    def __post_init__(self) -> None:
        """Refuse naive times."""
        _require_utc("time", self.time)


SimReport = SimFix | SimPress
"""Anything a simulated device reports."""


@dataclass(frozen=True, slots=True)
class MqttMessage:
    """A message ready for the broker."""

    topic: str
    payload: bytes
    qos: int


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """An OsmAnd request ready for the HTTP listener: a GET of ``/?{query}``."""

    query: str


Outgoing = MqttMessage | HttpRequest
"""What a transport sends."""
