"""The keys of ``device_events.detail``: written here for the geo stage, read here for the alert stage.

Every stage stores its events in one table; what the alert stage needs from any of them is where the event
happened and whose it is. Those facts are read once, here (:func:`event_place`), and cross to the alert stage as
typed fields of :class:`store.incident_repo.PendingEvent`, so no stage probes another's dictionary keys. The
rest of the detail stays as the producing stage wrote it: rules match on it and titles quote it.

Where an event happened, first found wins: the fix a geo event was decided on (``position``), a position the
device reported with the event (``lon``/``lat``, an OwnTracks SOS), then the device's installed place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from domain.messages import DeviceEvent, Position

GEO_PREFIX = "geo."
SUBJECT = "subject_id"  # the bus or person a geo event is about (one subject may have several trackers)
POSITION = "position"  # the fix a geo event was decided on: {"device_id", "time", "lon", "lat", ...}
LON, LAT = "lon", "lat"  # a position the device reported with the event itself


@dataclass(frozen=True, slots=True)
class GeoRecord:
    """A geo event as the geo stage hands it to the store: whose, when, the fix it was decided on, its fields."""

    kind: str  # "fence_entered": stored as "geo.fence_entered"
    device_id: str  # stored under this device: the tracker of the fix, or the button that confirmed a check
    subject_id: str
    time: datetime
    position: Position
    fields: Mapping[str, Any] = field(default_factory=dict)  # the event's own values (fence id, delay, ...)


def geo_event(record: GeoRecord, received_at: datetime) -> DeviceEvent:
    """Write a geo record as the tracker's device event; times become ISO text, nested values plain JSON."""
    detail = dict(record.fields) | {SUBJECT: record.subject_id, "time": record.time,
                                    POSITION: asdict(record.position)}
    return DeviceEvent(record.device_id, record.time, GEO_PREFIX + record.kind, received_at,
                       json.loads(json.dumps(detail, default=str)))


def event_place(kind: str, detail: Any, device_lon: float | None, device_lat: float | None,
                device_id: str) -> tuple[float | None, float | None, str]:
    """Read where an event happened and whose it is: (lon, lat, subject), by the rule in the module docstring.

    Never raises: a detail that is not what a stage writes (not an object, a position that is not numbers)
    places the event at its device, so one bad row cannot stop the alert stage from reading the rows after it.
    """
    if not isinstance(detail, Mapping):
        detail = {}
    lon, lat = device_lon, device_lat
    if _number(detail.get(LON)) and _number(detail.get(LAT)):
        lon, lat = float(detail[LON]), float(detail[LAT])
    position = detail.get(POSITION)
    if isinstance(position, Mapping) and _number(position.get(LON)) and _number(position.get(LAT)):
        lon, lat = float(position[LON]), float(position[LAT])
    subject = detail.get(SUBJECT) if kind.startswith(GEO_PREFIX) else None
    return lon, lat, subject if isinstance(subject, str) else device_id


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
