"""The batch path's shortcuts change no answer.

Array route measures are GEOS's to the bit, the cover raster lets every near point through, and a batch's
facts are the one-fix facts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.messages import Position
from domain.site import load_site
from geo.cover import CoverGrid
from geo.engine import GeoEngine
from geo.fences import Fence, FenceIndex
from geo.projection import LocalProjection
from geo.route_table import RouteTable
from geo.routes import BusPlan

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "district.yaml"
PROJ = LocalProjection(-96.67, 40.8)


def plan(vertices: npt.ArrayLike, places: npt.ArrayLike, bus_id: str = "b") -> BusPlan:
    line = shapely.LineString(vertices)
    return BusPlan(bus_id, "s", ZoneInfo("UTC"), line, float(line.length), 50.0, 50.0, (), None,
                   shapely.MultiPoint(np.asarray(places, dtype=float).reshape(-1, 2)), (), frozenset())


def geos_measures(table: RouteTable, rows: npt.NDArray[np.intp], x: npt.NDArray[np.float64],
                  y: npt.NDArray[np.float64]) -> tuple[list[float], list[float], list[float]]:
    points = shapely.points(x, y)
    with np.errstate(all="ignore"):  # GEOS's answers as they are, whatever floating flags they raise
        place = shapely.distance(table.places[rows], points)
        return (shapely.distance(table.lines[rows], points).tolist(),
                shapely.line_locate_point(table.lines[rows], points).tolist(),
                np.where(np.isnan(place), np.inf, place).tolist())  # an empty multipoint: NaN in GEOS, inf here


# Coarse integer coordinates make the awkward cases common: repeated vertices (zero-length segments),
# points on vertices and segments, and points equally far from two segments (which one GEOS picks decides
# the distance along).
coarse = st.integers(-4, 4).map(float)
# Micrometres: a segment of 1e-154 m, whose squared length underflows, has its own test below.
fine = st.floats(-500.0, 500.0, allow_nan=False).map(lambda v: round(v, 6))
coordinate = st.one_of(coarse, fine)
vertex = st.tuples(coordinate, coordinate)


@settings(max_examples=300, deadline=None)
@given(routes=st.lists(st.lists(vertex, min_size=2, max_size=8), min_size=1, max_size=4),
       places=st.lists(st.lists(vertex, max_size=4), min_size=4, max_size=4),
       fixes=st.lists(st.tuples(st.integers(0, 3), coordinate, coordinate), min_size=1, max_size=30))
def test_route_measures_are_geos_to_the_bit(
    routes: list[list[tuple[float, float]]], places: list[list[tuple[float, float]]],
    fixes: list[tuple[int, float, float]],
) -> None:
    table = RouteTable([plan(r, places[i]) for i, r in enumerate(routes)])
    rows = np.array([row % len(routes) for row, _, _ in fixes], dtype=np.intp)
    x = np.array([fx for _, fx, _ in fixes])
    y = np.array([fy for _, _, fy in fixes])
    distance, along, place = table.measure(rows, x, y)
    assert (distance.tolist(), along.tolist(), place.tolist()) == geos_measures(table, rows, x, y)


def test_many_random_fixes_and_long_routes_agree_with_geos() -> None:
    # Up to 2,000 vertices, whose blocks of array work hold a few fixes each.
    rng = np.random.default_rng(3)
    plans = []
    for i, count in enumerate([2, 3, 7, 20, 65, 300, 2000]):
        vertices = np.cumsum(rng.normal(0, 400, (count, 2)), axis=0)
        if i % 2:
            vertices = np.round(vertices / 100) * 100  # repeated and collinear vertices, ties
        plans.append(plan(vertices, vertices[rng.integers(0, count, 1 + i)], f"b{i}"))
    table = RouteTable(plans)
    rows = rng.integers(0, len(plans), 40_000).astype(np.intp)
    x, y = rng.uniform(-6000, 6000, (2, len(rows)))
    on_line = shapely.get_coordinates(shapely.line_interpolate_point(table.lines[rows], rng.uniform(0, 1, len(rows)),
                                                                     normalized=True))
    x[::3], y[::3] = on_line[::3, 0], on_line[::3, 1]
    x[1::7], y[1::7] = np.round(x[1::7] / 100) * 100, np.round(y[1::7] / 100) * 100
    distance, along, place = table.measure(rows, x, y)
    assert (distance.tolist(), along.tolist(), place.tolist()) == geos_measures(table, rows, x, y)


def test_zero_length_and_vanishing_segments() -> None:
    # A repeated first vertex ties with the next segment for a point before the start: the first one wins.
    table = RouteTable([plan([(0, 0), (0, 0), (1, 0), (1, 0), (2, 0)], [(5, 5)]),
                        plan([(0.0, 0.0), (0.0, 2.2e-311)], [])])  # its squared length underflows to 0
    rows = np.array([0, 0, 0, 0, 0, 1, 1, 1], dtype=np.intp)
    x = np.array([-1.0, 0.0, 1.0, 1.5, 3.0, 0.0, 0.0, 1.0])  # (GEOS raises for some points on the vanishing
    y = np.array([0.0, 0.0, 0.0, 1.0, 0.0, 1.0, -1.0, 1.0])  # segment; it would here too, as it did before)
    distance, along, place = table.measure(rows, x, y)
    assert (distance.tolist(), along.tolist(), place.tolist()) == geos_measures(table, rows, x, y)


@settings(max_examples=100, deadline=None)
@given(boxes=st.lists(st.tuples(fine, fine, st.floats(1.0, 300.0), st.floats(1.0, 300.0)), min_size=1, max_size=20),
       points=st.lists(st.tuples(st.floats(-900.0, 900.0), st.floats(-900.0, 900.0)), min_size=1, max_size=40),
       band=st.floats(0.0, 50.0))
def test_the_cover_raster_lets_every_near_point_through(
    boxes: list[tuple[float, float, float, float]], points: list[tuple[float, float]], band: float
) -> None:
    shapes = [shapely.box(x, y, x + w, y + h) for x, y, w, h in boxes]
    x, y = np.array(points).T
    candidates = set(CoverGrid(shapely.bounds(np.array(shapes)), band).maybe_near(x, y).tolist())
    near = {i for i, p in enumerate(shapely.points(x, y)) if any(shapely.dwithin(s, p, band) for s in shapes)}
    assert near <= candidates


def test_the_batch_index_agrees_with_brute_force_on_scattered_fences() -> None:
    rng = np.random.default_rng(8)
    centres = rng.uniform(-20_000, 20_000, (400, 2))
    fences = [Fence(f"f{i}", "custom", "", PROJ.to_lonlat(shapely.buffer(shapely.Point(cx, cy), rng.uniform(20, 400))))
              for i, (cx, cy) in enumerate(centres)]
    index = FenceIndex(fences, PROJ)
    x, y = rng.uniform(-21_000, 21_000, (2, 20_000))
    near_fence = rng.integers(0, len(centres), 5000)
    x[:5000] = centres[near_fence, 0] + rng.normal(0, 300, 5000)
    y[:5000] = centres[near_fence, 1] + rng.normal(0, 300, 5000)
    batch, _ = index.classify(x, y, 15.0)
    tree = shapely.STRtree(index.shapes_m)
    for i, point in enumerate(shapely.points(x, y)):
        near = tree.query(point, predicate="dwithin", distance=15.0)
        inside = near[shapely.intersects(index.shapes_m[near], point)]
        assert batch[i].near == {fences[f].id for f in near}
        assert batch[i].inside == {fences[f].id for f in inside}


def test_batch_facts_are_the_one_fix_facts() -> None:
    engine = GeoEngine.from_site(load_site(EXAMPLE))
    rng = np.random.default_rng(4)
    devices = [*sorted(engine.subjects), "stranger"]
    anywhere = next(iter(engine.plans.values())).line_m  # people and strangers wander near some route
    lines = [engine.plans[engine.subject_of(d)].line_m if engine.subject_of(d) in engine.plans else anywhere
             for d in devices]
    start = datetime(2025, 3, 10, 13, 0, tzinfo=UTC)
    positions = []
    for i in range(3000):
        at = int(rng.integers(0, len(devices)))
        x, y = shapely.get_coordinates(shapely.line_interpolate_point(lines[at], rng.uniform(0, 1),
                                                                      normalized=True))[0]
        lon, lat = engine.projection.inverse([x + rng.normal(0, 60)], [y + rng.normal(0, 60)])
        time = start + timedelta(seconds=i)
        positions.append(Position(devices[at], time, time, float(lon[0]), float(lat[0]), "test"))
    batch = engine.facts(positions)
    for i, position in enumerate(positions):
        one, many = engine.fix_facts(engine.subject_of(position.device_id), position), batch.at(i)
        assert (one.fences, one.expected_stop) == (many.fences, many.expected_stop)
        # Scalar and array projections may differ in the last bit; nothing else may.
        for a, b in [(one.x, many.x), (one.y, many.y), (one.route_distance_m, many.route_distance_m),
                     (one.along_m, many.along_m)]:
            assert (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-6)
