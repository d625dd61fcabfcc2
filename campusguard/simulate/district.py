"""The whole district's plan: every bus's trips day by day, what each tracker reports, and the guard's phone.

Pure and deterministic: :meth:`DistrictPlan.reports_between` returns the same reports for the same seed and
interval however the interval is cut. Each tracker reports on its own grid of device times (epoch multiples
of its interval, shifted by a phase taken from its id, so trackers do not all speak in the same instant);
while its bus is parked it reports once a minute, as fleet trackers do with the ignition off. GPS noise is
drawn from an RNG seeded by (seed, tracker, grid index), never from shared state.
"""

from __future__ import annotations

import datetime as dt
import random
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import shapely

from campusguard.simulate.model import DeviceRef, Role, SimFix, SimPress, SimReport
from campusguard.simulate.scenario import site_roles
from campusguard.simulate.trips import TripPlan, plan_trip, school_zones
from domain.site import Bus, School, Site
from geo.config import GeoRules
from geo.projection import LocalProjection

PARKED_EVERY_S = 60.0
AFTER_TRIP_S = 15 * 60.0
"""A trip stays "active" this long after its end: the child check falls due ten minutes after arrival."""


@dataclass(frozen=True, slots=True)
class Intervals:
    """Seconds between fixes, per source: our trackers at 1 Hz, Traccar Client and phones less often."""

    campusguard: float = 1.0
    osmand: float = 5.0
    owntracks: float = 10.0
    jt808: float = 1.0  # JT/T 794 asks for a fix at least every second while driving
    gt06: float = 10.0
    guard: float = 15.0

    def of(self, source: str) -> float:
        """Return the interval of a bus tracker's source."""
        return float(getattr(self, source, self.campusguard))


@dataclass(frozen=True, slots=True)
class BusEntry:
    """A simulated bus with its school and its role."""

    bus: Bus
    school: School
    role: Role
    devices: tuple[DeviceRef, ...]


@dataclass
class DistrictPlan:
    """Everything the simulated district does, planned lazily one local day at a time."""

    site: Site
    seed: int = 1
    scenario: bool = True
    buses: frozenset[str] | None = None
    guards: bool = True
    intervals: Intervals = field(default_factory=Intervals)
    rules: GeoRules = field(default_factory=GeoRules)
    _trips: dict[tuple[str, dt.date], TripPlan | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        """Project the site, draw the zones and assign roles over the whole district."""
        schools = [e.school for e in self.site.iter_schools()]
        coords = np.concatenate([shapely.get_coordinates(s.campus.shape()) for s in schools]
                                + [shapely.get_coordinates(b.route.path.shape()) for s in schools for b in s.buses])
        self.projection = LocalProjection(float(coords[:, 0].min() + coords[:, 0].max()) / 2,
                                          float(coords[:, 1].min() + coords[:, 1].max()) / 2)
        self.zones = school_zones(schools, self.projection, self.rules.school_zone_buffer_m)
        self.roles: Mapping[str, Role] = site_roles(self.site, self.projection, self.zones, self.seed, self.scenario)
        self.entries = [BusEntry(b, s, self.roles[b.id], tuple(DeviceRef(t.id, s.id, t.source, t.external_id)
                                                                for t in b.trackers))
                        for s in schools for b in s.buses if self.buses is None or b.id in self.buses]
        from campusguard.simulate.patrol import GuardPatrol, pick_guard

        guard = pick_guard(self.site, self.seed) if self.guards else None
        self.guard = None if guard is None else GuardPatrol(guard[0], guard[1], self.projection, self.seed)

    def trip(self, bus_id: str, day: dt.date) -> TripPlan | None:
        """Return (planning once) a bus's trip on a local date."""
        key = (bus_id, day)
        if key not in self._trips:
            entry = next(e for e in self.entries if e.bus.id == bus_id)
            rng = random.Random(f"{self.seed}/{bus_id}/{day.isoformat()}")  # noqa: S311 - a seeded simulation, not a secret
            self._trips[key] = plan_trip(entry.bus, entry.school, day, entry.role, rng, self.projection, self.zones)
        return self._trips[key]

    def trips_around(self, when: dt.datetime) -> Iterator[tuple[BusEntry, TripPlan]]:
        """Yield each bus's trip of the local day holding ``when``."""
        for entry in self.entries:
            trip = self.trip(entry.bus.id, when.astimezone(entry.school.zone()).date())
            if trip is not None:
                yield entry, trip

    def run_start(self, now: dt.datetime, days_back: int = 6) -> dt.datetime:
        """Return when the most recent run that has begun by ``now`` starts (its first bus leaves the depot)."""
        for back in range(days_back + 1):
            day = now - dt.timedelta(days=back)
            departs = [t.depart for _, t in self.trips_around(day)]
            if departs and min(departs) <= now:
                return min(departs) - dt.timedelta(minutes=2)
        return now

    def next_activity(self, after: dt.datetime, horizon_days: int = 8) -> dt.datetime | None:
        """Return the first time at or after ``after`` when a bus is on a trip (or just back from one)."""
        for ahead in range(horizon_days):
            day = after + dt.timedelta(days=ahead)
            spans = [(t.depart, t.end + dt.timedelta(seconds=AFTER_TRIP_S)) for _, t in self.trips_around(day)]
            live = [max(a, after) for a, b in spans if b >= after]
            if live:
                return min(live)
        return None

    def reports_between(self, start: dt.datetime, end: dt.datetime) -> list[SimReport]:
        """Return every report with a device time in (start, end], in time order."""
        from campusguard.simulate.reports import bus_reports

        out: list[SimReport] = []
        for entry in self.entries:
            out.extend(bus_reports(self, entry, start, end))
        if self.guard is not None:
            out.extend(self.guard.reports_between(start, end))
        out.sort(key=lambda r: (r.time, r.device.id))
        return out


def grid(start: dt.datetime, end: dt.datetime, interval: float, device_id: str) -> Iterator[tuple[int, dt.datetime]]:
    """Yield (index, time) of a device's report grid in (start, end]."""
    phase = (zlib.crc32(device_id.encode()) % 1000) / 1000.0 * interval
    first = int((start.timestamp() - phase) // interval) + 1
    last = int((end.timestamp() - phase) // interval)
    for k in range(first, last + 1):
        yield k, dt.datetime.fromtimestamp(k * interval + phase, dt.UTC)


def press_for(entry: BusEntry, trip: TripPlan, lon: float, lat: float) -> SimPress | None:
    """Return the driver's walk-through confirmation, from the first tracker able to send a button action."""
    for device in entry.devices:
        if device.source in ("campusguard", "osmand") and trip.child_check_at is not None:
            return SimPress(device, trip.child_check_at, "child_check", lon, lat)
    return None


__all__ = ["BusEntry", "DistrictPlan", "Intervals", "SimFix", "grid", "press_for"]
