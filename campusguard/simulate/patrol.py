"""A guard's phone reporting through OwnTracks while the guard walks the campus perimeter.

The walk is a pure function of time: round the campus outline drawn 12 m inside it, at 1.3 m/s, so that
GPS noise never carries the phone out of the campus fence's hysteresis band (15 m) and raises exits.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator

import shapely

from campusguard.simulate.district import grid
from campusguard.simulate.model import DeviceRef, SimFix
from campusguard.simulate.reports import noisy_fix
from domain.site import Person, School, Site
from geo.projection import LocalProjection

WALK_MPS = 1.3
INSET_M = 12.0
INTERVAL_S = 15.0


def pick_guard(site: Site, seed: int) -> tuple[Person, School] | None:
    """Pick one guard whose phone reports through OwnTracks (deterministic for a seed)."""
    found = [(p, s) for e in site.iter_schools() for s in (e.school,) for p in s.people
             if p.role == "guard" and p.tracker is not None and p.tracker.source == "owntracks"]
    found.sort(key=lambda ps: ps[0].id)
    return random.Random(f"guard/{seed}").choice(found) if found else None  # noqa: S311 - a seeded simulation, not a secret


class GuardPatrol:
    """One guard walking their campus, their phone reporting every :data:`INTERVAL_S` seconds."""

    def __init__(self, person: Person, school: School, projection: LocalProjection, seed: int) -> None:
        """Draw the walk around the campus."""
        tracker = person.tracker
        if tracker is None:
            raise ValueError(f"{person.id} has no phone tracker")
        self.device = DeviceRef(tracker.id, school.id, tracker.source, tracker.external_id)
        self.person = person
        self.projection = projection
        self.seed = seed
        campus = projection.to_metres(school.campus.shape())
        inner = shapely.buffer(campus, -INSET_M)
        self.ring = (inner if not inner.is_empty else campus).exterior

    def reports_between(self, start: dt.datetime, end: dt.datetime) -> Iterator[SimFix]:
        """Yield the phone's fixes with device times in (start, end]."""
        length = float(self.ring.length)
        for k, when in grid(start, end, INTERVAL_S, self.device.id):
            walked = (when.timestamp() * WALK_MPS) % length
            (x, y), (ax, ay) = shapely.get_coordinates(
                [self.ring.interpolate(walked), self.ring.interpolate((walked + 1.0) % length)])
            bearing = math.degrees(math.atan2(ax - x, ay - y)) % 360.0
            rng = random.Random(f"{self.seed}/{self.device.id}/{k}")  # noqa: S311 - a seeded simulation, not a secret
            # A phone's battery drains over the day; it is charged overnight.
            battery = round(95.0 - (when.timestamp() % 86400) / 86400 * 50.0)
            yield noisy_fix(self.device, when, x, y, WALK_MPS, bearing, self.projection, rng,
                            float(battery))
