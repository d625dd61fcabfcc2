"""Fence entry and exit: hysteresis, dwell, edge triggering, out-of-order fixes, GeoJSON and the index."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.messages import Position
from geo.config import GeoRules
from geo.engine import GeoEngine
from geo.events import FenceEntered, FenceExited, GeoEvent
from geo.fences import Fence, FenceIndex, fences_from_geojson, fences_to_geojson
from geo.projection import LocalProjection

ORIGIN = (-96.67, 40.8)
PROJ = LocalProjection(*ORIGIN)
T0 = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)
# A 200 m square fence centred on the origin; a fix at east offset e has signed distance e - 100 to its edge.
SQUARE = PROJ.to_lonlat(shapely.box(-100, -100, 100, 100))


def engine(dwell_s: float = 0.0, hysteresis_m: float = 15.0) -> GeoEngine:
    fence = Fence("yard", "restricted", "Yard", SQUARE)
    return GeoEngine([fence], [], {}, PROJ, GeoRules(dwell_s=dwell_s, hysteresis_m=hysteresis_m))


def fix(east_m: float, seconds: float, device: str = "phone-1") -> Position:
    lon, lat = PROJ.inverse([east_m], [0.0])
    time = T0 + timedelta(seconds=seconds)
    return Position(device, time, time, float(lon[0]), float(lat[0]), "test")


def run(eng: GeoEngine, fixes: list[Position]) -> list[GeoEvent]:
    state, events = eng.new_state("phone-1"), []
    for f in fixes:
        state, found = eng.evaluate(state, f)
        events += found
    return events


def kinds(events: list[GeoEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_enter_and_exit_are_edge_triggered() -> None:
    events = run(engine(), [fix(e, i) for i, e in enumerate([300, 50, 0, 20, 130, 300])])
    assert kinds(events) == ["FenceEntered", "FenceExited"]
    assert isinstance(events[0], FenceEntered) and events[0].position.time == T0 + timedelta(seconds=1)
    assert isinstance(events[1], FenceExited) and events[1].fence_kind == "restricted"


def test_exit_needs_the_fix_beyond_the_hysteresis_band() -> None:
    assert kinds(run(engine(), [fix(0, 0), fix(110, 1), fix(114, 2), fix(0, 3)])) == ["FenceEntered"]
    assert kinds(run(engine(), [fix(0, 0), fix(116, 1)])) == ["FenceEntered", "FenceExited"]


def test_dwell_delays_and_dates_the_transition_at_the_first_fix() -> None:
    events = run(engine(dwell_s=20), [fix(300, 0), fix(0, 5), fix(0, 15), fix(0, 25)])
    assert kinds(events) == ["FenceEntered"]
    assert events[0].time == T0 + timedelta(seconds=5)
    assert events[0].confirmed_by.time == T0 + timedelta(seconds=25)  # type: ignore[union-attr]
    assert run(engine(dwell_s=20), [fix(300, 0), fix(0, 5), fix(300, 15), fix(0, 20), fix(0, 30)]) == []


def test_a_fix_older_than_the_last_changes_nothing() -> None:
    eng = engine()
    state, _ = eng.evaluate(eng.new_state("phone-1"), fix(300, 10))
    after, events = eng.evaluate(state, fix(0, 5))
    assert after is state and events == []


def test_geojson_round_trip_and_errors() -> None:
    fence = Fence("a", "restricted", "Boiler room", SQUARE, "s1", None)
    back = fences_from_geojson(fences_to_geojson([fence]))
    assert back[0].id == "a" and back[0].kind == "restricted" and back[0].geometry.equals(SQUARE)
    with pytest.raises(ValueError, match="FeatureCollection"):
        fences_from_geojson({"type": "Feature"})
    bad = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "x", "geometry": {"type": "Point", "coordinates": [0, 0]}, "properties": {}}]}
    with pytest.raises(ValueError, match="Polygon"):
        fences_from_geojson(bad)


def test_index_batch_matches_per_point_and_brute_force() -> None:
    fences = [Fence(f"f{i}-{j}", "custom", "", PROJ.to_lonlat(shapely.box(i * 300, j * 300, i * 300 + 200,
                                                                           j * 300 + 200)))
              for i, j in itertools.product(range(10), range(10))]
    index = FenceIndex(fences, PROJ)
    xs = [x * 37.0 for x in range(80)]
    ys = [y * 41.0 % 3000 for y in range(80)]
    batch, _ = index.classify(xs, ys, 15.0)
    for x, y, m in zip(xs, ys, batch, strict=True):
        assert m == index.classify_point(x, y, 15.0)
        point = shapely.Point(x, y)
        assert m.inside == {f.id for f, g in zip(fences, index.shapes_m, strict=True) if g.intersects(point)}
        assert m.near == {f.id for f, g in zip(fences, index.shapes_m, strict=True) if g.distance(point) <= 15}


# Up to 14.99 m beyond the edge: at exactly 15 m, micrometres of projection round-off decide the side.
jitter = st.lists(st.floats(-15.0, 14.99), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(offsets=jitter, dwell=st.sampled_from([0.0, 10.0, 20.0]))
def test_jitter_inside_the_band_never_flaps(offsets: list[float], dwell: float) -> None:
    events = run(engine(dwell_s=dwell), [fix(100 + o, 5 * i) for i, o in enumerate(offsets)])
    assert kinds(events) in ([], ["FenceEntered"])


tracks = st.lists(st.floats(-50.0, 400.0), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(track=tracks, dwell=st.sampled_from([0.0, 10.0]))
def test_every_exit_follows_its_entry(track: list[float], dwell: float) -> None:
    names = kinds(run(engine(dwell_s=dwell), [fix(e, 5 * i) for i, e in enumerate(track)]))
    assert names == ["FenceEntered", "FenceExited"] * (len(names) // 2) + ["FenceEntered"] * (len(names) % 2)


@settings(max_examples=300, deadline=None)
@given(track=tracks, order=st.randoms(use_true_random=False))
def test_shuffled_arrival_creates_no_crossing_the_ordered_track_lacks(track: list[float], order: object) -> None:
    fixes = [fix(e, 5 * i) for i, e in enumerate(track)]
    offsets = {f.time: e for f, e in zip(fixes, track, strict=True)}
    shuffled = list(fixes)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    ordered = run(engine(), fixes)
    events = run(engine(), shuffled)
    # A late fix is dropped, so the shuffled feed is a time-ordered subsequence of the track; dropping fixes
    # can merge runs on one side of the fence but never split one. So each crossing it reports is one the
    # ordered track made too, between the last decisive fix (inside, or beyond the band) the shuffled feed
    # accepted before it and the fix that confirmed it.
    for event in events:
        since = _last_decisive_before(event.time, shuffled, offsets)
        assert any(type(o) is type(event) and since <= o.time <= event.time for o in ordered)
    assert len(events) <= len(ordered)


def _last_decisive_before(when: datetime, feed: list[Position], offsets: dict[datetime, float]) -> datetime:
    """The last fix before ``when`` that the engine accepted from ``feed`` and that was not in the band."""
    decisive, newest = [], None
    for f in feed:
        if newest is None or f.time > newest:
            newest = f.time
            # Band: outside the 100 m half-width by at most the 15 m hysteresis (15 m itself is round-off's).
            if not 100.0 < offsets[f.time] <= 115.0 + 1e-6:
                decisive.append(f.time)
    earlier = [t for t in decisive if t < when]
    return earlier[-1] if earlier else T0 - timedelta(days=1)


def test_a_late_fix_that_would_have_broken_a_dwell_counts_as_lost() -> None:
    # In time order the run inside is broken at 5 s, so 10 s of dwell is never met...
    ordered = [fix(0, 0), fix(300, 5), fix(0, 10), fix(300, 15)]
    assert run(engine(dwell_s=10), ordered) == []
    # ...but arriving after the 10 s fix, the 5 s one is too late to count (a confirmed state is never revised
    # by an older fix), so the engine saw 10 s inside, exactly as if the 5 s fix had been lost. So with dwell,
    # the time-ordered track with the same dwell is no bound for a shuffled feed; see the property below.
    late = [ordered[0], ordered[2], ordered[1], ordered[3]]
    assert kinds(run(engine(dwell_s=10), late)) == ["FenceEntered"]


@settings(max_examples=300, deadline=None)
@given(track=tracks, order=st.randoms(use_true_random=False), dwell=st.sampled_from([5.0, 10.0, 20.0]))
def test_shuffled_arrival_with_dwell_invents_no_crossing(track: list[float], order: object, dwell: float) -> None:
    fixes = [fix(e, 5 * i) for i, e in enumerate(track)]
    shuffled = list(fixes)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    accepted = [f for i, f in enumerate(shuffled) if all(f.time > g.time for g in shuffled[:i])]
    events = run(engine(dwell_s=dwell), shuffled)
    # Late fixes leave no trace: the shuffled feed gives exactly what its in-order fixes alone give.
    assert events == run(engine(dwell_s=dwell), accepted)
    # Dropping a fix may join two short runs into one that meets the dwell (the test above), so the bound is
    # the crossings the fixes themselves make, the time-ordered track without dwell: each crossing reported
    # follows one of those, after the last accepted fix that spoke against it and by the first fix of its
    # run. Those windows do not overlap, so there are never more crossings than the fixes make.
    raw = run(engine(), fixes)
    judge = engine()
    for event in events:
        against = [f.time for f in accepted if f.time < event.time and _speaks_against(judge, f, event)]
        since = against[-1] if against else T0 - timedelta(days=1)
        assert any(type(o) is type(event) and since < o.time <= event.time for o in raw)
    assert len(events) <= len(raw)


def _speaks_against(eng: GeoEngine, position: Position, event: GeoEvent) -> bool:
    """Whether a fix counts against ``event``: beyond the band for an entry, inside the fence for an exit."""
    seen = eng.fix_facts(position.device_id, position).fences
    return "yard" not in seen.near if isinstance(event, FenceEntered) else "yard" in seen.inside
