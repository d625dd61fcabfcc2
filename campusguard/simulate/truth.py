"""What really happened: the simulator's ground truth, each situation with its incident type, subject and span.

The plan knows which bus runs late, deviates, speeds, goes silent or skips its check; the runner knows which
buttons it pressed. :func:`plan_truth` reads a service day's situations off the trips (from their tracks, not
from their roles, so a normal bus that happens to run late counts too), in true time: what a device's
skewed clock says is not the truth. Times are when the situation became true in the rules' own terms (a stop
late by more than the threshold is late from scheduled + threshold on), so a detection delay measured from
``start`` is the product's delay, not the rule's definition.

Camera scenes have their truth beside their clips (``camera_scenes.py``: read off the actors' paths, dated
from the moment the vision worker opens the clip), in the same :class:`Truth` with the camera as subject.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import shapely

from campusguard.simulate.district import BusEntry, DistrictPlan
from campusguard.simulate.model import Role
from campusguard.simulate.trips import KMH, TripPlan
from geo.config import GeoRules


@dataclass(frozen=True, slots=True)
class Truth:
    """One situation that happened: the incident type it should raise, its subject, its school and span."""

    type: str
    subject: str
    """The bus id for a bus's situations (any of its trackers' evidence counts), the button's device id."""
    school_id: str
    start: dt.datetime
    end: dt.datetime | None
    """None when it is still true at the end of the run."""
    critical: bool = False


def _late(entry: BusEntry, trip: TripPlan, rules: GeoRules) -> Iterator[Truth]:
    # A bus is late once it is at or before a stop more than the threshold past that stop's time: it reached
    # the stop that late, or was still standing there (the late bus is held up at one of its stops).
    threshold = dt.timedelta(minutes=rules.late_threshold_min)
    for call in trip.calls[:-1]:
        if call.departed - call.scheduled > threshold:
            yield Truth("late_arrival", entry.bus.id, entry.school.id, call.scheduled + threshold, trip.route_end)
            return  # one late run per trip: the alert stage follows the bus (one incident)
    last = trip.calls[-1]
    if last.arrived - last.scheduled > threshold:
        yield Truth("late_arrival", entry.bus.id, entry.school.id, last.scheduled + threshold, trip.route_end)


def _speeding(plan: DistrictPlan, entry: BusEntry, trip: TripPlan, rules: GeoRules) -> Iterator[Truth]:
    track = trip.track
    over = np.zeros(len(track.t), dtype=bool)
    for zone in plan.zones:
        inside = shapely.contains_xy(zone.polygon, track.x, track.y)
        over |= inside & (track.speed > (zone.limit_kmh + rules.overspeed_tolerance_kmh) * KMH)
    start = None
    for i, flag in enumerate([*over.tolist(), False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if track.t[i - 1] - track.t[start] > rules.overspeed_s:
                a, b = trip.times(track.t[[start, i - 1]])
                yield Truth("overspeed", entry.bus.id, entry.school.id, a, b)
            start = None


def trip_truth(plan: DistrictPlan, entry: BusEntry, trip: TripPlan, rules: GeoRules | None = None) -> list[Truth]:
    """Return every situation of one bus's trip."""
    rules = rules or plan.rules
    found = [*_late(entry, trip, rules), *_speeding(plan, entry, trip, rules)]
    if trip.detour is not None:
        found.append(Truth("route_deviated", entry.bus.id, entry.school.id, trip.detour[0], trip.detour[1]))
    if trip.silent_from is not None:
        found.append(Truth("device_offline", entry.bus.id, entry.school.id, trip.silent_from, None))
    if entry.role is Role.NO_CHILD_CHECK and trip.depot_arrival is not None:
        due = trip.depot_arrival + dt.timedelta(minutes=rules.child_check_minutes)
        found.append(Truth("child_check_missed", entry.bus.id, entry.school.id, due, None, critical=True))
    return found


def plan_truth(plan: DistrictPlan, day: dt.datetime, rules: GeoRules | None = None) -> list[Truth]:
    """Return the situations of every bus's trip on the local day holding ``day``, by start."""
    found = [t for entry, trip in plan.trips_around(day) for t in trip_truth(plan, entry, trip, rules)]
    return sorted(found, key=lambda t: (t.start, t.subject))


def panic_truth(presses: Iterable[tuple[str, str, dt.datetime, str]]) -> list[Truth]:
    """Return a truth per button press: (device id, school id, time, action); a drill is its own type."""
    return [Truth("drill" if action == "drill" else "panic", device, school, when, None, critical=True)
            for device, school, when, action in presses]
