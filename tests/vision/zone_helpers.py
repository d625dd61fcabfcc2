"""Builders shared by the zone-rule tests: a site camera and school, and observations in a 1000 x 1000 frame."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from domain.site import Camera, School
from vision.messages import Box, Observation, TrackedObject, VisionEvent
from vision.rules import EMPTY_STATE, RuleParams, ZoneState, evaluate
from vision.zones import CameraRules, compile_camera

SIZE = 1000
CAMERA_ID = "north-cam-yard"
WEDNESDAY_10AM = dt.datetime(2024, 3, 13, 15, 0, tzinfo=dt.UTC)
"""10:00 in Chicago (CDT) on a Wednesday: school hours."""
WEDNESDAY_10PM = dt.datetime(2024, 3, 14, 3, 0, tzinfo=dt.UTC)
"""22:00 in Chicago on the same Wednesday: after hours."""

ZONES: list[dict[str, Any]] = [
    {"name": "Store", "kind": "restricted", "polygon": [[0.0, 0.0], [0.3, 0.0], [0.3, 0.3], [0.0, 0.3]]},
    {"name": "Gate", "kind": "gate", "polygon": [[0.4, 0.4], [0.6, 0.4], [0.6, 1.0], [0.4, 1.0]]},
    {"name": "Yard", "kind": "general", "polygon": [[0.7, 0.0], [1.0, 0.0], [1.0, 0.3], [0.7, 0.3]]},
    {"name": "Cooking", "kind": "kitchen", "polygon": [[0.0, 0.6], [0.3, 0.6], [0.3, 1.0], [0.0, 1.0]]},
]


def school(hours: Iterable[dict[str, Any]] | None = None, timezone: str = "America/Chicago") -> School:
    """A school with weekday hours 07:30-15:30 unless told otherwise."""
    return School.model_validate({
        "id": "north", "name": "North Elementary", "timezone": timezone,
        "campus": {"type": "Polygon", "coordinates": [[[-96.7, 40.8], [-96.69, 40.8], [-96.69, 40.81],
                                                        [-96.7, 40.8]]]},
        "hours": list(hours) if hours is not None else
        [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "07:30", "end": "15:30"}],
    })


def camera(zones: list[dict[str, Any]] | None = None, place_kind: str = "playground") -> Camera:
    """A camera with the test zones unless told otherwise."""
    return Camera.model_validate({
        "id": CAMERA_ID, "name": "North yard", "rtsp_url": "rtsp://10.0.0.1/yard", "location": [-96.695, 40.805],
        "place_kind": place_kind, "zones": ZONES if zones is None else zones,
    })


def rules(zones: list[dict[str, Any]] | None = None, place_kind: str = "playground") -> CameraRules:
    """Compiled rules of :func:`camera` at :func:`school`."""
    return compile_camera(camera(zones, place_kind), school())


def person(track_id: int, x: float, y: float, lying: bool | None = None) -> TrackedObject:
    """A person whose foot point is at normalised (x, y)."""
    fx, fy = x * SIZE, y * SIZE
    return TrackedObject(track_id, "person", 0.9, Box(fx - 20, fy - 120, fx + 20, fy), WEDNESDAY_10AM, lying)


def thing(label: str, track_id: int, x: float, y: float) -> TrackedObject:
    """A hand-held object (or an animal) whose box centre is at normalised (x, y)."""
    cx, cy = x * SIZE, y * SIZE
    return TrackedObject(track_id, label, 0.8, Box(cx - 10, cy - 10, cx + 10, cy + 10), WEDNESDAY_10AM)


def obs(seconds: float, *objects: TrackedObject, start: dt.datetime = WEDNESDAY_10AM) -> Observation:
    """An observation ``seconds`` after ``start``."""
    return Observation(CAMERA_ID, start + dt.timedelta(seconds=seconds), SIZE, SIZE, tuple(objects))


def run(
    camera_rules: CameraRules, stream: Iterable[Observation], params: RuleParams | None = None,
    state: ZoneState = EMPTY_STATE,
) -> tuple[ZoneState, list[VisionEvent]]:
    """Feed a whole stream; return the last state and every event."""
    params = params or RuleParams()
    events: list[VisionEvent] = []
    for observation in stream:
        state, found = evaluate(camera_rules, params, state, observation)
        events.extend(found)
    return state, events


def at(seconds: float, start: dt.datetime = WEDNESDAY_10AM) -> dt.datetime:
    """The instant ``seconds`` after ``start``."""
    return start + dt.timedelta(seconds=seconds)


def steps(start: float, stop: float, every: float = 1.0) -> list[float]:
    """Times from ``start`` up to and including ``stop``, ``every`` seconds apart."""
    count = round((stop - start) / every)
    return [start + index * every for index in range(count + 1)]
