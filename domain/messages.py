"""Domain messages shared by every stage: typed, frozen, timezone-aware, WGS-84 lon/lat.

This is a leaf module: it imports nothing from the project, so any stage can depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class Position:
    """One GPS fix of a device, at the device's own time."""

    device_id: str
    time: datetime
    received_at: datetime
    lon: float
    lat: float
    source: str
    speed_kmh: float | None = None
    heading_deg: float | None = None
    altitude_m: float | None = None
    accuracy_m: float | None = None
    battery_pct: float | None = None
    backlog: bool = False  # uploaded late from the device's store (a blind-area backfill), not live

    def __post_init__(self) -> None:
        """Refuse naive times and coordinates outside WGS-84 ranges."""
        _require_aware("time", self.time)
        _require_aware("received_at", self.received_at)
        if not (-180.0 <= self.lon <= 180.0 and -90.0 <= self.lat <= 90.0):
            raise ValueError(f"coordinates out of range: lon={self.lon} lat={self.lat}")


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """Something a device reported or that happened to it (offline, back online, low battery)."""

    device_id: str
    time: datetime
    kind: str
    received_at: datetime
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse naive times."""
        _require_aware("time", self.time)
        _require_aware("received_at", self.received_at)


@dataclass(frozen=True, slots=True)
class SensorReading:
    """One measurement of one metric by a sensor."""

    device_id: str
    time: datetime
    metric: str
    value: float
    received_at: datetime

    def __post_init__(self) -> None:
        """Refuse naive times."""
        _require_aware("time", self.time)
        _require_aware("received_at", self.received_at)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Input that ingest refused, kept whole with the reason, so nothing disappears unexplained."""

    time: datetime
    source: str
    topic: str
    reason: str
    message: str
    payload: bytes

    def __post_init__(self) -> None:
        """Refuse naive times."""
        _require_aware("time", self.time)


@dataclass(frozen=True, slots=True)
class PanicPressed:
    """A panic button, badge or phone SOS: the one message that must never wait or be lost."""

    device_id: str
    school_id: str | None
    time: datetime
    received_at: datetime
    action: str
    source: str
    lon: float | None = None
    lat: float | None = None
    # The payload's digest when the device gave no time (the time is the arrival): a re-delivered copy arrives
    # at another time, so the store knows it by this instead of by the key.
    digest: str | None = field(default=None, compare=False)
    # It may be a copy of a press already received (re-delivered by the broker, or from a retired session).
    maybe_copy: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        """Refuse naive times."""
        _require_aware("time", self.time)
        _require_aware("received_at", self.received_at)
