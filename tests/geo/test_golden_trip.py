"""A recorded-style morning trip of bus-01 from examples/district.yaml, with everything going wrong once.

Synthesised fixes every 5 s with 3 m of seeded GPS noise: depot, deadhead to the first stop, the route
with a detour (deviation), an 8-minute breakdown between stops (unexpected stop, then late arrivals),
too fast through the school zone (overspeed), back to the depot and no walk-through (child check missed).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from domain.messages import Position
from domain.site import load_site
from geo.engine import DeviceGeoState, GeoEngine
from geo.events import GeoEvent
from geo.rules.child_check import ChildCheckConfirmation
from tests.geo.trips import Trip

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "district.yaml"
CHICAGO = ZoneInfo("America/Chicago")
DAY = date(2025, 3, 10)  # a Monday, the day after the DST change: CDT, UTC-5


def _local(clock: time) -> datetime:
    return datetime.combine(DAY, clock, tzinfo=CHICAGO).astimezone(UTC)


@pytest.fixture(scope="module")
def engine() -> GeoEngine:
    return GeoEngine.from_site(load_site(EXAMPLE))


def morning_trip(engine: GeoEngine) -> list[Position]:
    bus = next(b for e in load_site(EXAMPLE).iter_schools() for b in e.school.buses if b.id == "bus-01")
    depot, stops = bus.route.depot, bus.route.stops
    assert depot is not None
    t = Trip(engine.projection, "bus-01-gps", _local(time(7, 8)), *depot)
    t.wait(60).drive_to(-96.62, 40.819, 35).drive_to(-96.62, 40.795875, 35).drive_to(*stops[0].location, 30)
    for stop in stops[:4]:  # holding at each timepoint until its scheduled time
        t.drive_to(*stop.location, 30).wait(20).wait_until(_local(stop.scheduled))
    t.drive_to(-96.646, 40.8, 35)
    t.drive_to(*t.offset(-96.646, 40.8, 0, 200), 30).drive_to(*t.offset(-96.652, 40.8, 0, 200), 30)  # detour
    t.drive_to(-96.652, 40.8, 30)
    for stop in stops[4:6]:
        t.drive_to(*stop.location, 35).wait(20).wait_until(_local(stop.scheduled))
    t.drive_to(-96.671, 40.8, 35).wait(8 * 60)  # broken down between stops
    for stop in stops[6:9]:
        t.drive_to(*stop.location, 35).wait(20)
    t.drive_to(-96.6865, 40.8, 35).drive_to(-96.6895, 40.8, 45).drive_to(-96.69, 40.8, 15).wait(120)  # speeding
    t.drive_to(-96.6865, 40.8, 25).drive_to(-96.658, 40.8, 35).drive_to(*depot, 35)
    t.interval = 30.0
    t.wait(14 * 60)  # parked, tracker still reporting, nobody confirms the walk-through
    return t.fixes


def _run(engine: GeoEngine, fixes: list[Position]) -> tuple[DeviceGeoState, list[GeoEvent]]:
    state, events = engine.new_state("bus-01-gps"), []
    for fix in fixes:
        state, found = engine.evaluate(state, fix)
        events += found
        state, found = engine.tick(state, fix.time)
        events += found
    return state, events


def _summary(events: list[GeoEvent]) -> list[tuple[str, str]]:
    return [(type(e).__name__, str(getattr(e, "fence_id", getattr(e, "stop_id", "")))) for e in events]


EXPECTED = [
    ("FenceEntered", "depot/-96.658000,40.819000"),
    ("FenceExited", "depot/-96.658000,40.819000"),
    ("RouteDeviated", ""),
    ("RouteRejoined", ""),
    ("UnexpectedStop", ""),
    ("LateArrival", "bus-01-s7"),
    ("UnexpectedStopEnded", ""),
    ("LateArrival", "bus-01-s8"),
    ("LateArrival", "bus-01-s9"),
    ("OverspeedStarted", ""),
    ("FenceEntered", "antelope-park-es/zone"),
    ("OverspeedEnded", ""),
    ("FenceExited", "antelope-park-es/zone"),
    ("ChildCheckDue", ""),
    ("FenceEntered", "depot/-96.658000,40.819000"),
    ("ChildCheckMissed", ""),
]


def test_golden_trip_produces_exactly_the_expected_events(engine: GeoEngine) -> None:
    _, events = _run(engine, morning_trip(engine))
    assert _summary(events) == EXPECTED
    assert all(e.subject_id == "bus-01" for e in events)
    by_type = {type(e).__name__: e for e in events}
    overspeed = by_type["OverspeedStarted"]
    assert overspeed.limit_kmh == 30 and overspeed.zone_id == "antelope-park-es/zone"  # type: ignore[union-attr]
    deviated = by_type["RouteDeviated"]
    assert (deviated.confirmed_by.time - deviated.time).total_seconds() >= 60  # type: ignore[union-attr]
    stop = by_type["UnexpectedStop"]
    assert _local(time(7, 35)) < stop.time < _local(time(7, 37))
    late = next(e for e in events if type(e).__name__ == "LateArrival")
    assert late.delay_s > 300 and late.projected  # type: ignore[union-attr]


def test_live_etas_follow_the_trip(engine: GeoEngine) -> None:
    fixes = morning_trip(engine)
    cut = next(i for i, f in enumerate(fixes) if f.time >= _local(time(7, 30)))
    state, _ = _run(engine, fixes[:cut])
    etas = engine.etas(state)
    assert [e.stop_id for e in etas] == [f"bus-01-s{i}" for i in range(1, 11)]
    assert all(e.reached is not None for e in etas[:4]) and all(e.eta is not None for e in etas[4:])
    assert all(-180 < e.delay_s < 60 for e in etas)  # early at timepoints, then on time
    assert [e.eta for e in etas[4:]] == sorted(e.eta for e in etas[4:] if e.eta is not None)


def test_confirmed_walk_through_raises_no_miss(engine: GeoEngine) -> None:
    fixes = morning_trip(engine)
    state, events = engine.new_state("bus-01-gps"), []
    for fix in fixes:
        state, found = engine.evaluate(state, fix)
        events += found
        if found and type(found[0]).__name__ == "ChildCheckDue":
            state, found = engine.confirm_child_check(state, ChildCheckConfirmation("bus-01", fix.time, "driver"))
            events += found
        state, found = engine.tick(state, fix.time)
        events += found
    names = [type(e).__name__ for e in events]
    assert "ChildCheckMissed" not in names and names.count("ChildCheckCompleted") == 1


def test_batch_evaluation_matches_one_by_one(engine: GeoEngine) -> None:
    fixes = morning_trip(engine)
    one_state, one = _run(engine, fixes)
    states, batch = engine.evaluate_batch({}, fixes)
    assert one == batch  # the bus's own fixes tick its child check too
    assert states["bus-01"].schedule == one_state.schedule


def test_shuffled_arrival_never_adds_events(engine: GeoEngine) -> None:
    fixes = morning_trip(engine)
    _, ordered = engine.evaluate_batch({}, fixes)
    shuffled = list(fixes)
    random.Random(3).shuffle(shuffled)
    _, events = engine.evaluate_batch({}, shuffled)
    crossings = [(type(e).__name__, e.fence_id) for e in events if hasattr(e, "fence_id")]
    assert set(crossings) <= {(type(e).__name__, e.fence_id) for e in ordered if hasattr(e, "fence_id")}
