"""The geo stage: a site's fences and bus plans, and the per-subject rule pipeline over fixes.

``GeoEngine.evaluate(state, position)`` runs every rule for one fix and returns the new state with the
events; ``evaluate_batch`` does the same for many fixes, computing the geometry for all of them at once
(one STRtree query for the fixes near any fence, route distances as array arithmetic in
:mod:`geo.route_table`) before running the rules fix by fix in arrival order.

State is kept per *subject*: the bus for a bus's trackers (so two trackers on one bus feed one state and
do not raise everything twice), the person for a phone, else the device. A fix not newer than the last
fix processed for its subject changes nothing: device time decides, so a late or replayed fix can never
create a crossing. The engine itself holds no per-device state; callers keep the states.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import repeat
from operator import attrgetter
from typing import cast

import numpy as np
import numpy.typing as npt
import shapely

from domain.messages import Position
from domain.site import Site
from geo.config import GeoRules
from geo.events import GeoEvent, StopEta
from geo.facts import FixFacts
from geo.fences import Fence, FenceIndex, Membership, fences_from_site
from geo.projection import LocalProjection
from geo.route_table import RouteTable
from geo.routes import BusPlan, plan_bus
from geo.rules.child_check import (
    UNKNOWN_CHECK,
    ChildCheckConfirmation,
    ChildCheckState,
    confirm_child_check,
    step_child_check,
    tick_child_check,
)
from geo.rules.fence import NO_FENCES, FenceState, step_fences
from geo.rules.route import OFF_TRIP, RouteState, step_route
from geo.rules.schedule import NO_TRIP, ScheduleState, step_schedule, stop_etas
from geo.rules.speed import step_after_hours, step_overspeed, zone_limit
from geo.rules.stops import NOT_STOPPED, StopState, step_stop
from geo.rules.sustained import IDLE, Sustained

_SPEED_SPAN_S = 5.0
"""A derived speed spans at least this long: over one second, 5 m of GPS jitter would read 18 km/h."""
_STOP_FENCE_KINDS = frozenset({"campus", "school_zone", "depot"})
_DEVICE, _LON, _LAT = attrgetter("device_id"), attrgetter("lon"), attrgetter("lat")


@dataclass(frozen=True, slots=True)
class DeviceGeoState:
    """Everything the rules remember about one subject; bounded whatever the length of its track."""

    subject_id: str
    last_time: datetime | None = None
    speed_ref: tuple[datetime, float, float] | None = None
    """An earlier fix (time, x, y) to derive speed from when the device reports none."""
    fences: FenceState = NO_FENCES
    route: RouteState = OFF_TRIP
    overspeed: Sustained = IDLE
    after_hours: Sustained = IDLE
    stop: StopState = NOT_STOPPED
    schedule: ScheduleState = NO_TRIP
    child_check: ChildCheckState = UNKNOWN_CHECK
    timetable: tuple[object, ...] | None = None
    """The bus plan's timetable the route and schedule states were built against (see :meth:`GeoEngine._apply`)."""


@dataclass(frozen=True, slots=True)
class BatchFacts:
    """The spatial facts of a batch of fixes as columns; :meth:`at` gives one fix's :class:`FixFacts`."""

    subjects: list[str]
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    fences: list[Membership]
    route_distance_m: npt.NDArray[np.float64]
    """NaN for fixes of devices not on a bus."""
    along_m: npt.NDArray[np.float64]
    expected_stop: npt.NDArray[np.bool_]

    def at(self, i: int) -> FixFacts:
        """Return the facts of the ``i``-th fix."""
        distance = float(self.route_distance_m[i])
        if math.isnan(distance):
            return FixFacts(float(self.x[i]), float(self.y[i]), self.fences[i])
        return FixFacts(float(self.x[i]), float(self.y[i]), self.fences[i], distance, float(self.along_m[i]),
                        bool(self.expected_stop[i]))


class GeoEngine:
    """Fences, bus plans and the rules; immutable once built, safe to share."""

    def __init__(
        self, fences: Sequence[Fence], plans: Sequence[BusPlan], subjects: Mapping[str, str],
        projection: LocalProjection, rules: GeoRules,
    ) -> None:
        """Index the fences; ``subjects`` maps device id to subject (bus id, person id)."""
        self.rules = rules
        self.projection = projection
        self.index = FenceIndex(fences, projection)
        self.plans = {plan.bus_id: plan for plan in plans}
        self._plan_rows = {bus_id: row for row, bus_id in enumerate(self.plans)}
        self._routes = RouteTable(list(self.plans.values()))
        self.subjects = dict(subjects)
        self._kinds = {f.id: f.kind for f in fences}

    @classmethod
    def from_site(cls, site: Site, rules: GeoRules | None = None, extra_fences: Sequence[Fence] = ()) -> GeoEngine:
        """Build from a site: campuses, school zones, depots and bus routes, plus extra (restricted) fences."""
        rules = rules or GeoRules()
        projection = _site_projection(site)
        plans, subjects = [], {}
        for entry in site.iter_schools():
            for bus in entry.school.buses:
                plans.append(plan_bus(bus, entry.school, projection))
                subjects.update({tracker.id: bus.id for tracker in bus.trackers})
        for person_entry in site.iter_people():
            if person_entry.person.tracker is not None:
                subjects[person_entry.person.tracker.id] = person_entry.person.id
        fences = [*fences_from_site(site, rules, projection), *extra_fences]
        return cls(fences, plans, subjects, projection, rules)

    def subject_of(self, device_id: str) -> str:
        """Return the subject whose state a device's fixes feed."""
        return self.subjects.get(device_id, device_id)

    def new_state(self, device_id: str) -> DeviceGeoState:
        """Return the initial state for a device's subject."""
        return DeviceGeoState(self.subject_of(device_id))

    def evaluate(self, state: DeviceGeoState, position: Position) -> tuple[DeviceGeoState, list[GeoEvent]]:
        """Run every rule for one fix of the subject of ``state``."""
        if state.last_time is not None and position.time <= state.last_time:
            return state, []
        return self._apply(state, position, self.fix_facts(state.subject_id, position))

    def fix_facts(self, subject_id: str, position: Position) -> FixFacts:
        """Compute one fix's spatial facts with scalar GEOS calls: what :meth:`facts` gives for it in a batch."""
        x, y = self.projection.point(position.lon, position.lat)
        fences = self.index.classify_point(x, y, self.rules.hysteresis_m)
        plan = self.plans.get(subject_id)
        if plan is None:
            return FixFacts(x, y, fences)
        point = shapely.Point(x, y)
        expected = float(shapely.distance(plan.allowed_m, point)) <= self.rules.stop_allowance_m or any(
            self._kinds.get(f) in _STOP_FENCE_KINDS for f in fences.inside)
        return FixFacts(x, y, fences, float(shapely.distance(plan.line_m, point)),
                        float(shapely.line_locate_point(plan.line_m, point)), expected)

    def evaluate_batch(
        self, states: Mapping[str, DeviceGeoState], positions: Sequence[Position], *, tick: bool = False
    ) -> tuple[dict[str, DeviceGeoState], list[GeoEvent]]:
        """Run the rules for many fixes in arrival order; states are keyed by subject, missing ones created.

        With ``tick``, each fix's device time also lets deadlines pass for its subject (:meth:`tick`), as the
        geo service needs: a child check falls due while the bus still reports.
        """
        batch = self.facts(positions)
        out = dict(states)
        events: list[GeoEvent] = []
        for i, position in enumerate(positions):
            subject = batch.subjects[i]
            state = out.get(subject) or DeviceGeoState(subject)
            state, found = self._apply(state, position, batch.at(i))
            events.extend(found)
            if tick:
                state, due = self.tick(state, position.time)
                events.extend(due)
            out[subject] = state
        return out, events

    def facts(self, positions: Sequence[Position]) -> BatchFacts:
        """Compute the spatial facts of many fixes with vectorised queries, as columns."""
        count = len(positions)
        # map() with C-level getters: the only per-fix Python work left is reading the fixes themselves.
        devices = list(map(_DEVICE, positions))
        subjects = cast(list[str], list(map(self.subjects.get, devices, devices)))  # get(d, d) never gives None
        x, y = self.projection.forward(np.fromiter(map(_LON, positions), np.float64, count),
                                       np.fromiter(map(_LAT, positions), np.float64, count))
        memberships, in_place = self.index.classify(x, y, self.rules.hysteresis_m, _STOP_FENCE_KINDS)
        plan_row = np.fromiter(map(self._plan_rows.get, subjects, repeat(-1)), np.intp, count)
        rows = np.flatnonzero(plan_row >= 0)
        distance = np.full(count, np.nan)
        along = np.full(count, np.nan)
        if len(rows):
            distance[rows], along[rows], place = self._routes.measure(plan_row[rows], x[rows], y[rows])
            in_place[rows] |= place <= self.rules.stop_allowance_m
        return BatchFacts(subjects, x, y, memberships, distance, along, in_place)

    def tick(self, state: DeviceGeoState, now: datetime) -> tuple[DeviceGeoState, list[GeoEvent]]:
        """Let device time pass (``now`` from any fix): raises child checks whose deadline has gone by."""
        child, events = tick_child_check(state.child_check, now, state.subject_id)
        return (state if child is state.child_check else replace(state, child_check=child)), list(events)

    def confirm_child_check(
        self, state: DeviceGeoState, confirmation: ChildCheckConfirmation
    ) -> tuple[DeviceGeoState, list[GeoEvent]]:
        """Apply a driver's walk-through confirmation to the bus's state."""
        child, events = confirm_child_check(state.child_check, confirmation, state.subject_id)
        return replace(state, child_check=child), list(events)

    def etas(self, state: DeviceGeoState) -> list[StopEta]:
        """Return the live arrival projection for each stop of the bus's current trip."""
        plan = self.plans.get(state.subject_id)
        return [] if plan is None else stop_etas(plan, state.schedule, self.rules)

    def _apply(
        self, state: DeviceGeoState, position: Position, facts: FixFacts
    ) -> tuple[DeviceGeoState, list[GeoEvent]]:
        if state.last_time is not None and position.time <= state.last_time:
            return state, []
        rules, subject = self.rules, state.subject_id
        speed, speed_ref = self._speed(state, position, facts)
        fences, fence_events = step_fences(state.fences, facts.fences, position, subject, self._kinds, rules.dwell_s)
        events: list[GeoEvent] = [*fence_events]
        plan = self.plans.get(subject)
        if plan is None:
            return replace(state, last_time=position.time, speed_ref=speed_ref, fences=fences), events
        prior_route, prior_schedule = state.route, state.schedule
        if state.timetable is not None and state.timetable != plan.timetable:
            # The site file was reloaded with another timetable (``make demo`` lays a new service day every
            # cycle): the trip it judged is over. Keeping its "route finished in this window" and its stops
            # reached would skip the next trip in the same window, or judge it against the old times.
            prior_route, prior_schedule = replace(prior_route, finished=None), NO_TRIP
        service = plan.service(position.time)
        in_service = service is not None
        route, found_route = step_route(
            prior_route, facts, position, plan.corridor_m, plan.length_m, service, rules, subject
        )
        limit = zone_limit(facts.fences, self.index.by_id, plan.speed_limit_kmh)
        overspeed, found_speed = step_overspeed(state.overspeed, speed, limit, position, in_service, rules, subject)
        after, found_after = step_after_hours(state.after_hours, speed, position, in_service, rules, subject)
        stop, found_stop = step_stop(state.stop, facts, position, in_service, rules, subject)
        schedule, found_late = step_schedule(prior_schedule, plan, facts, position, service, rules, subject)
        depot = plan.depot_fence_id
        at_depot = depot is not None and depot in facts.fences.inside
        away = depot is not None and depot not in facts.fences.near
        child, found_child = step_child_check(state.child_check, at_depot, away, position, rules, subject)
        events += [*found_route, *found_speed, *found_after, *found_stop, *found_late, *found_child]
        return DeviceGeoState(subject, position.time, speed_ref, fences, route, overspeed, after, stop, schedule,
                              child, plan.timetable), events

    def _speed(
        self, state: DeviceGeoState, position: Position, facts: FixFacts
    ) -> tuple[float | None, tuple[datetime, float, float] | None]:
        ref = state.speed_ref
        if ref is None:
            return position.speed_kmh, (position.time, facts.x, facts.y)
        seconds = (position.time - ref[0]).total_seconds()
        if seconds < _SPEED_SPAN_S:
            return position.speed_kmh, ref
        derived = None
        if seconds <= self.rules.max_gap_s:
            derived = math.hypot(facts.x - ref[1], facts.y - ref[2]) / seconds * 3.6
        speed = position.speed_kmh if position.speed_kmh is not None else derived
        return speed, (position.time, facts.x, facts.y)


def _site_projection(site: Site) -> LocalProjection:
    """Centre the projection on the middle of everything the site places (campuses and routes)."""
    coords = [shapely.get_coordinates(e.school.campus.shape()) for e in site.iter_schools()]
    coords += [shapely.get_coordinates(b.route.path.shape()) for e in site.iter_schools() for b in e.school.buses]
    if not coords:
        return LocalProjection(0.0, 0.0)
    allxy = np.concatenate(coords)
    lon0 = (float(allxy[:, 0].min()) + float(allxy[:, 0].max())) / 2
    lat0 = (float(allxy[:, 1].min()) + float(allxy[:, 1].max())) / 2
    return LocalProjection(lon0, lat0)
