"""Bus plans: each bus's route projected to metres, its stops placed along it, its service windows.

Linear referencing happens here once per bus: every stop gets its distance along the route line, so a fix
projected onto the line (``shapely.line_locate_point``) tells which stops are behind and ahead of the bus.
Scheduled times stay local wall-clock times; :meth:`BusPlan.schedule_on` turns them into UTC for a date in
the school's timezone (zoneinfo), so a trip on a DST-change day gets the right instants.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import shapely

from domain.site import Bus, School
from geo.fences import depot_id
from geo.projection import LocalProjection

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class PlannedStop:
    """A stop with its position in metres and its distance along the route."""

    id: str
    name: str
    x: float
    y: float
    along_m: float
    scheduled: dt.time


@dataclass(frozen=True, slots=True)
class ServiceWindow:
    """A weekly window in local time."""

    weekdays: frozenset[int]
    start: dt.time
    end: dt.time

    def contains(self, local: dt.datetime) -> bool:
        """Return whether a local datetime falls in the window."""
        return local.weekday() in self.weekdays and self.start <= local.time() < self.end


@dataclass(frozen=True, slots=True)
class BusPlan:
    """Everything the rules need about one bus, in metres and local times."""

    bus_id: str
    school_id: str
    zone: ZoneInfo
    line_m: Any
    length_m: float
    corridor_m: float
    speed_limit_kmh: float
    stops: tuple[PlannedStop, ...]
    depot_fence_id: str | None
    allowed_m: Any
    """Stops and depot as a multipoint in metres: stopping near these is expected."""
    windows: tuple[ServiceWindow, ...]
    scheduled_windows: frozenset[int]
    """Indices of the windows the stop schedule falls in (the other windows run unscheduled trips)."""
    timetable: tuple[object, ...] = ()
    """The stop times and windows as the site file gave them: when a reloaded site changes them, a trip
    judged against the old ones is over (the engine starts the next afresh)."""

    def service(self, when: dt.datetime) -> tuple[dt.date, int] | None:
        """Return (local date, window index) of the service window holding ``when``, or None outside all.

        A bus without service windows is taken as always in service (window 0): no after-hours rule, and
        its schedule runs daily.
        """
        local = when.astimezone(self.zone)
        if not self.windows:
            return local.date(), 0
        for index, window in enumerate(self.windows):
            if window.contains(local):
                return local.date(), index
        return None

    def schedule_on(self, day: dt.date) -> tuple[dt.datetime, ...]:
        """Return the stops' scheduled instants (UTC) on a local date."""
        return tuple(
            dt.datetime.combine(day, stop.scheduled, tzinfo=self.zone).astimezone(dt.UTC) for stop in self.stops
        )


def plan_bus(bus: Bus, school: School, projection: LocalProjection) -> BusPlan:
    """Project a bus's route and place its stops along it."""
    route = bus.route
    line = projection.to_metres(route.path.shape())
    stops = []
    for stop in route.stops:
        x, y = projection.point(*stop.location)
        stops.append(PlannedStop(stop.id, stop.name, x, y, float(shapely.line_locate_point(line, shapely.Point(x, y))),
                                 stop.scheduled))
    places = [(s.x, s.y) for s in stops]
    if route.depot is not None:
        places.append(projection.point(*route.depot))
    windows = tuple(
        ServiceWindow(frozenset(_WEEKDAYS.index(str(d)) for d in w.days), w.start, w.end) for w in bus.service_windows
    )
    first, last = route.stops[0].scheduled, route.stops[-1].scheduled
    scheduled = (frozenset(i for i, w in enumerate(windows) if w.start <= first and last <= w.end)
                 if windows else frozenset({0}))
    return BusPlan(
        bus_id=bus.id,
        school_id=school.id,
        zone=school.zone(),
        line_m=line,
        length_m=float(line.length),
        corridor_m=route.corridor_m,
        speed_limit_kmh=float(route.speed_limit_kmh),
        stops=tuple(stops),
        depot_fence_id=None if route.depot is None else depot_id(route.depot),
        allowed_m=shapely.MultiPoint(places),
        windows=windows,
        scheduled_windows=scheduled,
        timetable=(tuple(stop.scheduled for stop in stops), windows),
    )
