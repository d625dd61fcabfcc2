"""One bus's day, planned in advance: depot → stops on schedule → school → depot, with its scripted role.

Pure and deterministic: the site, the local date, the role and a seeded RNG go in, a :class:`TripPlan` comes
out. Normal buses drive at 82-92 % of the route's limit, slow to 85 % of a school zone's limit and to 20 km/h
in turns, accelerate at 1 m/s² and brake at 1.5 m/s², dwell 15-35 s at each stop and hold there until
shortly before its scheduled time (a bus ahead of its timetable waits; one leaving early strands riders).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from campusguard.simulate.kinematics import FloatArray, Track, chain, drive, hold, turn_points
from campusguard.simulate.model import Role
from campusguard.simulate.paths import Point, approach, departure, detour, inside_intervals, route_points
from domain.site import Bus, School
from geo.projection import LocalProjection

KMH = 1 / 3.6
TURN_KMH = 20.0
ZONE_SHARE = 0.85
"""Normal drivers keep to this share of a school zone's limit."""
SPEEDER_OVER_KMH = 25.0
"""The speeding bus drives this much above a school zone's limit."""
DETOUR_MIN_GAP_M = 600.0
"""The deviating bus detours between two stops at least this far apart, so it is off route for minutes."""
TRAFFIC_KMH = 10.0
PACE_FLOOR = 0.55
"""A driver ahead of the timetable eases off to no less than this share of their usual speed."""
LATE_EXTRA_S = (420.0, 540.0)
"""The late bus loses 7-9 minutes at one stop, then crawls in traffic: well past the 5-minute threshold."""


@dataclass(frozen=True, slots=True)
class Zone:
    """A school zone (campus grown by the geo rules' buffer) in local metres, with its limit."""

    polygon: Any
    limit_kmh: float


@dataclass(frozen=True, slots=True)
class StopCall:
    """When the bus was scheduled at a stop, reached it and left it."""

    stop_id: str
    scheduled: dt.datetime
    arrived: dt.datetime
    departed: dt.datetime


@dataclass(frozen=True, slots=True, eq=False)
class TripPlan:
    """A bus's trip on one local date: its track on the clock of ``depart``, and the scripted moments."""

    bus_id: str
    role: Role
    depart: dt.datetime
    track: Track
    calls: tuple[StopCall, ...]
    route_end: dt.datetime
    depot_arrival: dt.datetime | None
    child_check_at: dt.datetime | None
    silent_from: dt.datetime | None
    detour: tuple[dt.datetime, dt.datetime] | None

    @property
    def end(self) -> dt.datetime:
        """When the trip's last movement ends (parked at the depot, or at the route's end without one)."""
        return self.depart + dt.timedelta(seconds=self.track.duration)

    def at(self, when: dt.datetime) -> tuple[float, float, float, float]:
        """Return (x, y, speed m/s, heading) at a time; before and after the trip the bus stands at its ends."""
        return self.track.at((when - self.depart).total_seconds())

    def times(self, seconds: FloatArray) -> list[dt.datetime]:
        """Turn track seconds into UTC times."""
        return [self.depart + dt.timedelta(seconds=float(s)) for s in seconds]


def school_zones(schools: Sequence[School], projection: LocalProjection, buffer_m: float) -> list[Zone]:
    """Return every school's zone in metres, as the geo rules draw it."""
    return [Zone(shapely.buffer(projection.to_metres(s.campus.shape()), buffer_m), float(s.school_zone_speed_kmh))
            for s in schools]


def stop_alongs(bus: Bus, line: shapely.LineString, projection: LocalProjection) -> list[float]:
    """Return each stop's distance along the route line (metres)."""
    return [float(line.project(shapely.Point(projection.point(*s.location)))) for s in bus.route.stops]


def detour_gap(alongs: Sequence[float]) -> int | None:
    """Return the index of the stop that starts the longest gap, if it is long enough to detour in."""
    gaps = [(alongs[i + 1] - alongs[i], i) for i in range(len(alongs) - 1)]
    best = max(gaps, default=(0.0, -1))
    return best[1] if best[0] >= DETOUR_MIN_GAP_M else None


def zone_stretch_m(line: shapely.LineString, zones: Sequence[Zone]) -> float:
    """Return the longest piece of the route inside one school zone: room to speed in."""
    return max((b - a for z in zones for a, b in inside_intervals(line, z.polygon)), default=0.0)


def scheduled_service(bus: Bus, day: dt.date) -> bool:
    """Whether the bus runs its timetable on a local date: a service window holding the schedule covers it."""
    if not bus.service_windows:
        return True
    first, last = bus.route.stops[0].scheduled, bus.route.stops[-1].scheduled
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]
    return any(w.start <= first and last <= w.end and weekday in {str(d) for d in w.days} for w in bus.service_windows)


class _Builder:
    """Accumulates legs on the trip's clock (seconds since departure)."""

    def __init__(self, zones: Sequence[Zone], base: float, role: Role) -> None:
        self.zones, self.base, self.role = zones, base, role
        self.tracks: list[Track] = []
        self.now = 0.0

    def cap(self, points: Sequence[Point], top: float, speeding: bool = False) -> Any:
        line = shapely.LineString(points)
        spans = [(a, b, z.limit_kmh) for z in self.zones if line.intersects(z.polygon)
                 for a, b in inside_intervals(line, z.polygon)]
        turns = turn_points(points)

        def cap(s: FloatArray) -> FloatArray:
            v = np.full(len(s), top)
            for a, b, limit in spans:
                zone = (limit + SPEEDER_OVER_KMH) * KMH if speeding else limit * ZONE_SHARE * KMH
                inside = (s >= a) & (s <= b)
                v[inside] = max(zone, top) if speeding else np.minimum(v[inside], zone)
            for at in turns:
                v[np.abs(s - at) <= 12.0] = np.minimum(v[np.abs(s - at) <= 12.0], TURN_KMH * KMH)
            return v
        return cap

    def drive(self, points: Sequence[Point], top: float | None = None, speeding: bool = False) -> float:
        if len(points) < 2:
            return self.now
        track = drive(points, self.cap(points, top or self.base, speeding))
        self.tracks.append(track)
        self.now += track.duration
        return self.now

    def drive_paced(self, points: Sequence[Point], target_s: float, speeding: bool = False) -> float:
        """Drive a leg at the pace that keeps to the timetable.

        Drivers ahead of it ease off rather than wait minutes at every stop (long holds would also drag
        down the live ETAs' recent speed).
        """
        if len(points) < 2:
            return self.now
        fast = drive(points, self.cap(points, self.base, speeding))
        if fast.duration < target_s:
            top = max(self.base * fast.duration / target_s, self.base * PACE_FLOOR)
            fast = drive(points, self.cap(points, top, speeding))
        self.tracks.append(fast)
        self.now += fast.duration
        return self.now

    def hold(self, point: Point, seconds: float) -> float:
        heading = float(self.tracks[-1].heading[-1]) if self.tracks else 0.0
        self.tracks.append(hold(point[0], point[1], seconds, heading))
        self.now += max(seconds, 0.001)
        return self.now


def plan_trip(bus: Bus, school: School, day: dt.date, role: Role, rng: random.Random,
              projection: LocalProjection, zones: Sequence[Zone]) -> TripPlan | None:
    """Plan the bus's trip on a local date, or None when it runs no timetable that day."""
    if not scheduled_service(bus, day):
        return None
    route = bus.route
    tz = school.zone()
    scheduled = [dt.datetime.combine(day, s.scheduled, tzinfo=tz).astimezone(dt.UTC) for s in route.stops]
    line = projection.to_metres(route.path.shape())
    coords: list[Point] = [(float(x), float(y)) for x, y in shapely.get_coordinates(line)]
    alongs = stop_alongs(bus, line, projection)
    build = _Builder(zones, route.speed_limit_kmh * KMH * rng.uniform(0.82, 0.92), role)
    depot = projection.point(*route.depot) if route.depot is not None else None
    start = route_points(line, 0.0, alongs[0])[0] if alongs[0] > 0 else coords[0]
    if depot is not None:
        build.drive(approach(depot, coords, route.corridor_m))
        if alongs[0] > 0.5:
            build.drive(route_points(line, 0.0, alongs[0]))
    # Leave the depot so as to reach the first stop 1-2.5 minutes early, as drivers do.
    depart = scheduled[0] - dt.timedelta(seconds=build.now + rng.uniform(60.0, 150.0))
    if depot is None:
        build.hold(start, 0.0)

    def rel(when: dt.datetime) -> float:
        return (when - depart).total_seconds()

    gap = detour_gap(alongs) if role is Role.DEVIATING else None
    late_at = max(1, len(alongs) // 3) if role is Role.LATE else None
    calls: list[StopCall] = []
    detour_span: tuple[float, float] | None = None
    silent_from: float | None = None
    for i, stop in enumerate(route.stops):
        arrived = build.now
        point = tuple(shapely.get_coordinates(line.interpolate(alongs[i]))[0])
        wait = max(rng.uniform(15.0, 35.0), rel(scheduled[i]) - rng.uniform(0.0, 45.0) - build.now)
        if i == late_at:
            wait += rng.uniform(*LATE_EXTRA_S)
        build.hold((point[0], point[1]), wait)
        calls.append(StopCall(stop.id, scheduled[i], depart + dt.timedelta(seconds=arrived),
                              depart + dt.timedelta(seconds=build.now)))
        if role is Role.SILENT and i == len(alongs) // 2:
            silent_from = build.now + 20.0
        if i + 1 == len(alongs):
            break
        a, b = alongs[i], alongs[i + 1]
        if i == gap:
            left = build.now
            path = [*route_points(line, a, a + 40.0), *detour(line, a + 40.0, b - 40.0, rng.choice((1, -1))),
                    *route_points(line, b - 40.0, b)]
            build.drive(path, top=min(build.base, 35.0 * KMH))
            detour_span = (left, build.now)
        elif late_at is not None and i == late_at:
            build.drive(route_points(line, a, b), top=TRAFFIC_KMH * KMH)
        else:
            target = rel(scheduled[i + 1]) - rng.uniform(0.0, 45.0) - build.now
            build.drive_paced(route_points(line, a, b), target, speeding=role is Role.SPEEDING)
    if line.length - alongs[-1] > 5.0:
        build.drive(route_points(line, alongs[-1], float(line.length)), speeding=role is Role.SPEEDING)
    route_end = build.now
    end_point = coords[-1]
    build.hold(end_point, rng.uniform(120.0, 240.0))  # unloading at school
    depot_arrival = child_check = None
    if depot is not None:
        depot_arrival = build.drive(departure(depot, coords, route.corridor_m))
        if role is not Role.NO_CHILD_CHECK:
            # The silent bus's driver does the walk-through too; the press waits in the tracker's buffer
            # with its fixes until the uplink is back (``reports.backlog``).
            child_check = depot_arrival + rng.uniform(60.0, 300.0)

    def at(seconds: float | None) -> dt.datetime | None:
        return None if seconds is None else depart + dt.timedelta(seconds=seconds)

    return TripPlan(bus.id, role, depart, chain(build.tracks), tuple(calls), depart + dt.timedelta(seconds=route_end),
                    at(depot_arrival), at(child_check), at(silent_from),
                    None if detour_span is None else (depart + dt.timedelta(seconds=detour_span[0]),
                                                      depart + dt.timedelta(seconds=detour_span[1])))
