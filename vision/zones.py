"""A camera's zones and its school's hours, compiled once for the zone rules.

:func:`compile_camera` turns a site :class:`~domain.site.devices.Camera` and its
:class:`~domain.site.models.School` into a frozen :class:`CameraRules`: each zone a shapely polygon in
normalised 0..1 image coordinates with its kind and thresholds, the camera's place kind, and the school's
weekly hours with its timezone. Everything here is pure: :func:`after_hours` is judged from the time it is
given (the frame's), never from a clock.

Where an object *is* is one point, normalised by the observation's width and height: a person's (or an
animal's) foot point, the bottom centre of its box, because that is where it stands on the floor the zone was
drawn on (the top of a tall person's box may reach over a zone they are nowhere near); a hand-held object's
(a knife, a phone) box centre, because it is held in the air, not standing. The point is clamped to the image,
since a tracker's predicted box may run past the frame's edge.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from shapely.geometry import Polygon

from domain.site.common import SchoolHours
from domain.site.devices import Camera, PlaceKind
from domain.site.models import School
from vision.messages import Observation, TrackedObject

ZoneKind = Literal["restricted", "kitchen", "gate", "crowd", "general"]

STANDING_LABELS = frozenset({"person", "cat", "dog", "bird"})
"""Labels located by their foot point; every other label by its box centre."""

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class ZoneRule:
    """One zone: its name, kind, polygon (normalised image coordinates) and its own thresholds, if any."""

    name: str
    kind: ZoneKind
    polygon: Polygon
    max_people: int | None = None
    loiter_s: int | None = None
    hours: tuple[SchoolHours, ...] | None = None
    """When people are expected here (local time); None: the school's hours."""

    def contains(self, point: tuple[float, float]) -> bool:
        """Return whether a normalised point is inside the zone or on its edge."""
        return bool(shapely.intersects_xy(self.polygon, point[0], point[1]))


@dataclass(frozen=True, slots=True)
class CameraRules:
    """Everything the zone rules need to know about one camera, compiled from the site file."""

    camera_id: str
    place_kind: PlaceKind
    zones: tuple[ZoneRule, ...]
    hours: tuple[SchoolHours, ...]
    """The school's weekly hours, local wall-clock times in ``timezone``."""
    timezone: ZoneInfo

    def zone(self, name: str) -> ZoneRule:
        """Return the zone with that name."""
        for zone in self.zones:
            if zone.name == name:
                return zone
        raise KeyError(name)


def compile_camera(camera: Camera, school: School) -> CameraRules:
    """Compile a site camera and the school it belongs to into the rules' view of it."""
    zones = []
    for zone in camera.zones:
        polygon = Polygon(zone.polygon)
        if not polygon.is_valid:
            # A self-crossing outline (corners listed out of order) would make containment meaningless;
            # buffer(0) repairs it into the area a reader of the site file most likely meant.
            polygon = polygon.buffer(0)
        shapely.prepare(polygon)  # many point tests per frame against the same polygon
        zones.append(ZoneRule(zone.name, zone.kind, polygon, zone.max_people, zone.loiter_s, zone.hours))
    return CameraRules(camera.id, camera.place_kind, tuple(zones), school.hours, school.zone())


def after_hours(rules: CameraRules, at: dt.datetime) -> bool:
    """Return whether ``at`` (timezone-aware) falls outside every school-hours window, in the school's time."""
    return outside(rules.hours, rules.timezone, at)


def zone_closed(rules: CameraRules, zone: ZoneRule, at: dt.datetime) -> bool:
    """Return whether ``at`` falls outside the zone's own hours (the school's when it has none)."""
    return outside(zone.hours if zone.hours is not None else rules.hours, rules.timezone, at)


def outside(hours: tuple[SchoolHours, ...], timezone: ZoneInfo, at: dt.datetime) -> bool:
    """Return whether ``at`` (timezone-aware) falls outside every weekly window, in local time at ``timezone``.

    Converting the instant to local time first makes the answer right across DST changes: the windows are
    wall-clock times. A window holds from its start up to, not including, its end.
    """
    if at.utcoffset() is None:
        raise ValueError("at must be timezone-aware")
    local = at.astimezone(timezone)
    day, time = _WEEKDAYS[local.weekday()], local.time()
    return not any(day in window.days and window.start <= time < window.end for window in hours)


def object_point(obj: TrackedObject, obs: Observation) -> tuple[float, float]:
    """Return where an object is, normalised to 0..1: foot point for people and animals, else box centre."""
    x, y = obj.box.foot if obj.label in STANDING_LABELS else obj.box.center
    width, height = max(obs.width, 1), max(obs.height, 1)
    return (min(max(x / width, 0.0), 1.0), min(max(y / height, 0.0), 1.0))


def zones_at(rules: CameraRules, point: tuple[float, float]) -> tuple[ZoneRule, ...]:
    """Return the zones holding a normalised point, in the site file's order."""
    return tuple(zone for zone in rules.zones if zone.contains(point))


def locate(rules: CameraRules, obs: Observation) -> tuple[tuple[ZoneRule, ...], ...]:
    """Return, for each object of the observation in order, the zones its point is in."""
    if not obs.objects or not rules.zones:
        return tuple(() for _ in obs.objects)
    points = np.array([object_point(obj, obs) for obj in obs.objects], dtype=float)
    # One vectorised test per zone for all objects: a scalar shapely call per object and zone costs tens of
    # microseconds each, which adds up at several cameras times several frames a second.
    inside = [shapely.intersects_xy(zone.polygon, points[:, 0], points[:, 1]) for zone in rules.zones]
    return tuple(
        tuple(zone for zone, mask in zip(rules.zones, inside, strict=True) if mask[index])
        for index in range(len(obs.objects))
    )
