"""The plan alone: realistic speeds, the corridor kept, the scripted roles played, the same run for a seed."""

from __future__ import annotations

import datetime as dt

import numpy as np
import shapely

from campusguard.simulate.district import DistrictPlan
from campusguard.simulate.model import Role, SimFix, SimPress
from campusguard.simulate.scenario import BusFacts, assign_roles
from domain.site import load_site
from tests.simulate.helpers import DAY, bus_with, district, speeding_span
from tests.support.ingest import EXAMPLE


def test_every_role_goes_to_a_distinct_bus_and_the_same_seed_gives_the_same_roles() -> None:
    plan = district()
    scripted = [r for r in plan.roles.values() if r is not Role.NORMAL]
    assert sorted(scripted) == sorted(set(Role) - {Role.NORMAL})
    assert DistrictPlan(load_site(EXAMPLE), seed=1).roles == plan.roles
    assert all(r is Role.NORMAL for r in DistrictPlan(load_site(EXAMPLE), scenario=False).roles.values())


def test_roles_go_only_to_buses_that_can_play_them() -> None:
    facts = [BusFacts("a", 2, False, None, 0.0), BusFacts("b", 1, True, 3, 250.0)]
    roles = assign_roles(facts, seed=5)
    assert roles == {"a": Role.LATE, "b": Role.SPEEDING}


def test_speeds_and_accelerations_are_those_of_a_bus() -> None:
    plan = district()
    for entry in plan.entries:
        trip = plan.trip(entry.bus.id, DAY)
        assert trip is not None
        kmh = trip.track.speed * 3.6
        limit = entry.bus.route.speed_limit_kmh
        if entry.role is not Role.SPEEDING:
            assert kmh.max() <= limit, entry.bus.id
        assert kmh.max() >= 0.5 * limit, entry.bus.id  # it does get going
        accel = np.diff(trip.track.speed) / np.maximum(np.diff(trip.track.t), 1e-9)
        assert accel.max() <= 1.05 and accel.min() >= -1.6, entry.bus.id


def test_buses_keep_to_their_corridor_except_the_deviating_one() -> None:
    plan = district()
    for entry in plan.entries:
        trip = plan.trip(entry.bus.id, DAY)
        assert trip is not None
        line = plan.projection.to_metres(entry.bus.route.path.shape())
        on_route = (trip.track.t >= (trip.calls[0].arrived - trip.depart).total_seconds()) & (
            trip.track.t <= (trip.route_end - trip.depart).total_seconds())
        distance = shapely.distance(line, shapely.points(trip.track.x[on_route], trip.track.y[on_route]))
        if entry.role is Role.DEVIATING:
            assert trip.detour is not None
            assert distance.max() > entry.bus.route.corridor_m + 200
        else:
            assert distance.max() <= 1.0, entry.bus.id


def test_the_late_bus_is_late_against_the_timetable_and_the_others_are_not() -> None:
    plan = district()
    for entry in plan.entries:
        trip = plan.trip(entry.bus.id, DAY)
        assert trip is not None
        delays = [(c.arrived - c.scheduled).total_seconds() for c in trip.calls]
        early = [(c.scheduled - c.departed).total_seconds() for c in trip.calls[:-1]]
        assert max(early) < 180, entry.bus.id  # nobody leaves a stop early enough to strand riders
        if entry.role is Role.LATE:
            assert delays[-1] > 6 * 60
            assert sum(d > 5 * 60 for d in delays) >= 2
        else:
            assert max(delays) <= 60, entry.bus.id


def test_the_speeding_bus_is_over_the_school_zone_limit_for_longer_than_the_rule_waits() -> None:
    plan = district()
    speeder = bus_with(plan, Role.SPEEDING)
    trip = plan.trip(speeder, DAY)
    assert trip is not None
    assert speeding_span(plan, trip)[2] >= 14.0  # the rule confirms after 10 s
    for entry in plan.entries:
        other = plan.trip(entry.bus.id, DAY)
        if entry.role is not Role.SPEEDING and other is not None:
            assert speeding_span(plan, other)[2] < 1.0, entry.bus.id


def test_the_silent_tracker_stops_mid_route_and_the_no_check_bus_never_presses() -> None:
    plan = district()
    silent, skipper = bus_with(plan, Role.SILENT), bus_with(plan, Role.NO_CHILD_CHECK)
    trip = plan.trip(silent, DAY)
    assert trip is not None and trip.silent_from is not None
    assert trip.calls[0].arrived < trip.silent_from < trip.route_end
    day_start = trip.depart - dt.timedelta(minutes=5)
    reports = plan.reports_between(day_start, trip.end + dt.timedelta(hours=1))
    mine = [r for r in reports if r.device.id.startswith(f"{silent}-")]
    assert mine and max(r.time for r in mine) < trip.silent_from
    presses = [r for r in reports if isinstance(r, SimPress)]
    assert not [p for p in presses if p.device.id.startswith(f"{skipper}-")]
    pressed = {p.device.id.rsplit("-", 1)[0] for p in presses if p.action == "child_check"}
    others = {e.bus.id for e in plan.entries if e.role not in (Role.SILENT, Role.NO_CHILD_CHECK)}
    assert pressed == others  # the silent bus's driver presses too, but into a tracker that cannot send
    for p in presses:
        bus_trip = plan.trip(p.device.id.rsplit("-", 1)[0], DAY)
        assert bus_trip is not None and bus_trip.depot_arrival is not None
        assert dt.timedelta(0) < p.time - bus_trip.depot_arrival < dt.timedelta(minutes=10)


def test_reports_are_the_same_however_the_interval_is_cut_and_differ_by_seed() -> None:
    plan = district()
    trip = plan.trip(bus_with(plan, Role.DEVIATING), DAY)
    assert trip is not None
    a = trip.depart + dt.timedelta(minutes=10)
    whole = plan.reports_between(a, a + dt.timedelta(seconds=60))
    pieces = [r for s in range(0, 60, 7) for r in plan.reports_between(a + dt.timedelta(seconds=s),
                                                                       a + dt.timedelta(seconds=min(s + 7, 60)))]
    assert whole == pieces and len(whole) > 60
    other = district(seed=2).reports_between(a, a + dt.timedelta(seconds=60))
    assert [(r.lon, r.lat) for r in whole if isinstance(r, SimFix)] != [
        (r.lon, r.lat) for r in other if isinstance(r, SimFix)]


def test_gps_noise_is_a_few_metres_with_rare_outliers() -> None:
    plan = district()
    entry = next(e for e in plan.entries if e.role is Role.NORMAL and e.devices[0].source == "campusguard")
    trip = plan.trip(entry.bus.id, DAY)
    assert trip is not None
    fixes = [r for r in plan.reports_between(trip.depart, trip.end)
             if isinstance(r, SimFix) and r.device.id == entry.devices[0].id]
    xs, ys = plan.projection.forward([f.lon for f in fixes], [f.lat for f in fixes])
    truth = np.array([trip.at(f.time)[:2] for f in fixes])
    error = np.hypot(xs - truth[:, 0], ys - truth[:, 1])
    assert 1.5 < float(np.median(error)) < 5.0
    assert 0 < int((error > 20).sum()) < len(error) * 0.02
