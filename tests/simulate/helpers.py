"""Shared for the simulator tests: the example district planned once, and measures over a trip's track."""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import shapely

from campusguard.simulate.district import DistrictPlan
from campusguard.simulate.model import Role
from campusguard.simulate.trips import TripPlan
from domain.site import load_site
from tests.support.ingest import EXAMPLE

DAY = dt.date(2024, 5, 29)  # a Wednesday: every bus runs its timetable


@functools.cache
def district(seed: int = 1) -> DistrictPlan:
    return DistrictPlan(load_site(EXAMPLE), seed=seed)


def bus_with(plan: DistrictPlan, role: Role) -> str:
    return next(bus for bus, r in plan.roles.items() if r is role)


def speeding_span(plan: DistrictPlan, trip: TripPlan) -> tuple[dt.datetime, dt.datetime, float]:
    """Return the longest run of samples over a school zone's limit inside that zone: (from, to, seconds)."""
    track = trip.track
    over = np.zeros(len(track.t), dtype=bool)
    for zone in plan.zones:
        inside = shapely.contains_xy(zone.polygon, track.x, track.y)
        over |= inside & (track.speed * 3.6 > zone.limit_kmh)
    best = (0, 0)
    start = None
    for i, flag in enumerate([*over, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            best = max(best, (i - 1, start), key=lambda span: span[0] - span[1])
            start = None
    end_i, start_i = best
    times = trip.times(track.t[[start_i, end_i]])
    return times[0], times[1], float(track.t[end_i] - track.t[start_i])
