"""Live arrival times per stop for one bus, computed the way the geo stage computes them.

The geo service keeps each bus's trip state in memory only, so the API rebuilds it: the bus's plan comes from
the stored site (through the geo package's own :func:`~geo.routes.plan_bus`), and the fixes of the current
service window are fed through :func:`~geo.rules.schedule.step_schedule`, the rule that raises late-running
alerts. :func:`~geo.rules.schedule.stop_etas` then gives the same projections the rules judge lateness on, as
of the newest fix. Everything here is pure: the router reads the rows and the fixes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from domain.messages import Position
from domain.site.models import Bus, School
from geo.config import GeoRules
from geo.events import StopEta
from geo.facts import FixFacts
from geo.fences import NOWHERE
from geo.projection import LocalProjection
from geo.routes import BusPlan, plan_bus
from geo.rules.schedule import NO_TRIP, ScheduleState, step_schedule, stop_etas


@dataclass(frozen=True, slots=True)
class LiveEtas:
    """The current trip of a bus (if it is on one) and each stop's arrival, reached or projected."""

    trip_date: dt.date | None
    window_start: dt.datetime | None
    stops: tuple[StopEta, ...]


def plan_from_rows(bus: Mapping[str, Any]) -> tuple[BusPlan, LocalProjection]:
    """Plan a bus from :func:`store.queries.bus_detail`'s row, validated by the site file's own models."""
    stops = [{"id": s["id"], "name": s["name"], "location": [s["lon"], s["lat"]], "scheduled": s["scheduled"]}
             for s in bus["stops"]]
    depot = [bus["depot_lon"], bus["depot_lat"]] if bus["depot_lon"] is not None else None
    # The plan needs no tracker, but the model wants one: the ids stand in, with our own schema's source.
    trackers = [{"id": t, "source": "campusguard"} for t in bus["trackers"]] or [
        {"id": bus["id"], "source": "campusguard"}]
    site_bus = Bus.model_validate({
        "id": bus["id"], "name": bus["name"], "trackers": trackers,
        "route": {"path": bus["route"], "corridor_m": bus["corridor_m"], "speed_limit_kmh": bus["speed_limit_kmh"],
                  "stops": stops, "depot": depot},
        "service_windows": bus["service_windows"],
    })
    school = School.model_validate({"id": bus["school_id"], "name": bus["school_name"], "timezone": bus["timezone"],
                                    "campus": bus["campus"], "hours": bus["hours"]})
    # A projection centred on the route itself: no site-wide origin is needed for one bus, and it is exact here.
    west, south, east, north = (float(v) for v in shapely.bounds(site_bus.route.path.shape()))
    projection = LocalProjection((west + east) / 2, (south + north) / 2)
    return plan_bus(site_bus, school, projection), projection


def window_start(plan: BusPlan, latest: dt.datetime) -> dt.datetime | None:
    """Return when the scheduled service window holding ``latest`` began (UTC), or None outside every one."""
    service = plan.service(latest)
    if service is None or service[1] not in plan.scheduled_windows:
        return None
    day, index = service
    start = plan.windows[index].start if plan.windows else dt.time(0, 0)
    return dt.datetime.combine(day, start, tzinfo=plan.zone).astimezone(dt.UTC)


def live_etas(plan: BusPlan, fixes: Sequence[Position], rules: GeoRules, projection: LocalProjection) -> LiveEtas:
    """Feed a trip's fixes (oldest first) through the schedule rule; return each stop's arrival as of the last."""
    if not fixes:
        return LiveEtas(None, None, ())
    x, y = projection.forward(np.array([p.lon for p in fixes]), np.array([p.lat for p in fixes]))
    points = shapely.points(x, y)
    along = shapely.line_locate_point(plan.line_m, points)
    distance = shapely.distance(plan.line_m, points)
    state: ScheduleState = NO_TRIP
    for i, fix in enumerate(fixes):
        facts = FixFacts(float(x[i]), float(y[i]), NOWHERE, float(distance[i]), float(along[i]))
        state, _ = step_schedule(state, plan, facts, fix, plan.service(fix.time), rules, plan.bus_id)
    if state.trip is None:
        return LiveEtas(None, None, ())
    return LiveEtas(state.trip[0], window_start(plan, fixes[-1].time), tuple(stop_etas(plan, state, rules)))
