"""What a bus's trackers say over an interval: noisy fixes on each tracker's grid, and the child-check press.

GPS noise is a few metres (Gaussian, 2.5 m per axis) with an occasional outlier (one fix in 300, 25-60 m off,
its reported accuracy none the wiser, as with multipath in a street canyon). Reported speed carries half a
km/h of noise, never below zero; a standing bus reports 0 and keeps its last heading.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
from collections.abc import Iterator

from campusguard.simulate.district import AFTER_TRIP_S, PARKED_EVERY_S, BusEntry, DistrictPlan, grid, press_for
from campusguard.simulate.model import DeviceRef, SimFix, SimReport
from campusguard.simulate.trips import TripPlan
from geo.projection import LocalProjection

NOISE_M = 2.5
OUTLIER_P = 1 / 300
OUTLIER_M = (25.0, 60.0)
ALTITUDE_M = 360.0
"""Lincoln, Nebraska sits at about 360 m; the example district is there."""


def noisy_fix(device: DeviceRef, when: dt.datetime, x: float, y: float, speed_mps: float, heading: float,
              projection: LocalProjection, rng: random.Random, battery: float | None) -> SimFix:
    """Return a fix at a true position, with GPS noise drawn from ``rng``."""
    dx, dy = rng.gauss(0.0, NOISE_M), rng.gauss(0.0, NOISE_M)
    if rng.random() < OUTLIER_P:
        angle, far = rng.uniform(0.0, 2 * math.pi), rng.uniform(*OUTLIER_M)
        dx, dy = far * math.cos(angle), far * math.sin(angle)
    lon, lat = projection.inverse([x + dx], [y + dy])
    speed = 0.0 if speed_mps < 0.05 else max(speed_mps * 3.6 + rng.gauss(0.0, 0.5), 0.0)
    return SimFix(device, when, round(float(lon[0]), 7), round(float(lat[0]), 7), round(speed, 1),
                  round(heading % 360.0, 1), round(rng.uniform(3.0, 6.0), 1),
                  round(ALTITUDE_M + rng.gauss(0.0, 1.5), 1), battery)


def silent(trip: TripPlan | None, when: dt.datetime) -> bool:
    """Whether the tracker of a silent bus has died by ``when`` (it stays dead for the rest of that day)."""
    return trip is not None and trip.silent_from is not None and when >= trip.silent_from


def bus_reports(plan: DistrictPlan, entry: BusEntry, start: dt.datetime, end: dt.datetime) -> Iterator[SimReport]:
    """Yield the reports of one bus's trackers with device times in (start, end]."""
    zone = entry.school.zone()
    for device in entry.devices:
        if device.source not in ("campusguard", "osmand", "owntracks", "jt808", "gt06"):
            continue  # a Zigbee2MQTT "tracker" sends no positions: nothing to simulate
        interval = plan.intervals.of(device.source)
        parked_every = max(round(PARKED_EVERY_S / interval), 1)
        # A phone has a battery; the bus's own trackers run off the bus.
        battery = 80.0 if device.source == "owntracks" else None
        for k, when in grid(start, end, interval, device.id):
            trip = plan.trip(entry.bus.id, when.astimezone(zone).date())
            if silent(trip, when):
                continue
            moving = trip is not None and trip.depart <= when <= trip.end
            if not moving and k % parked_every:
                continue
            x, y, speed, heading = trip.at(when) if trip is not None else _parked(plan, entry)
            rng = random.Random(f"{plan.seed}/{device.id}/{k}")  # noqa: S311 - a seeded simulation, not a secret
            yield noisy_fix(device, when, x, y, speed, heading, plan.projection, rng, battery)
    for day in {start.astimezone(zone).date(), end.astimezone(zone).date()}:
        trip = plan.trip(entry.bus.id, day)
        if (trip is not None and trip.child_check_at is not None and start < trip.child_check_at <= end
                and not silent(trip, trip.child_check_at)):
            x, y, _, _ = trip.at(trip.child_check_at)
            lon, lat = plan.projection.inverse([x], [y])
            press = press_for(entry, trip, round(float(lon[0]), 7), round(float(lat[0]), 7))
            if press is not None:
                yield press


def backlog(plan: DistrictPlan, entry: BusEntry, day: dt.date) -> list[SimReport]:
    """Return what the silent bus's tracker kept while its uplink was down on a local date, oldest first.

    The tracker went quiet at ``silent_from`` (its uplink, not its memory); when the link is back (the next
    service day, in a repeated run) it uploads everything it kept, the driver's walk-through among it, as
    fleet trackers do. The live run never sent any of it.
    """
    trip = plan.trip(entry.bus.id, day)
    if trip is None or trip.silent_from is None:
        return []
    heard = dataclasses.replace(trip, silent_from=None)
    plan._trips[(entry.bus.id, day)] = heard
    try:
        kept = list(bus_reports(plan, entry, trip.silent_from, trip.end + dt.timedelta(seconds=AFTER_TRIP_S)))
    finally:
        plan._trips[(entry.bus.id, day)] = trip
    return sorted(kept, key=lambda r: r.time)


def _parked(plan: DistrictPlan, entry: BusEntry) -> tuple[float, float, float, float]:
    # No timetable today (a weekend): the bus stands at its depot, or at its first stop without one.
    route = entry.bus.route
    x, y = plan.projection.point(*(route.depot or route.stops[0].location))
    return x, y, 0.0, 0.0
