"""Positions per second through the geo stage against 5,000 fences and 500 routes, with baselines.

All three work on the same synthetic region (a 60 km square around Lincoln, NE) in the same run, on one
core: the engine's vectorised path (a coarse raster, then one STRtree query for fence membership and
hysteresis band of the fixes near any fence; distance from and along each fix's own route as array
arithmetic, equal to GEOS's to the bit), PostGIS answering the same questions with a
GiST-indexed ``ST_DWithin`` lateral join (``ST_Intersects`` on what it finds) plus
``ST_Distance``/``ST_LineLocatePoint`` (query and fetch time only; loading the points table is not counted;
JIT off and one worker, its fastest single-core setting here), and a naive loop over every fence per point.
The full rule pipeline is measured the way production runs it: the fixes encoded as the ingest writers publish
them on the internal feed (``store.feed``, 500 per message), then decoded and evaluated by the geo service's own
``GeoService.evaluate`` (the batch engine, every rule, device-time ticks, events built for the store; only the
MQTT and database I/O around it left out). Whether PostGIS and the engine agree is printed too.
PostGIS is skipped with a note when the extension is missing.
Run: ``.venv/bin/python -m bench.geo`` (``--short``: the reduced sizes ``make test`` runs).
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import shapely
from psycopg import sql

from bench import report
from bench.report import Figure, bench_settings
from domain.messages import Position
from geo.config import GeoRules
from geo.engine import GeoEngine
from geo.fences import Fence
from geo.projection import LocalProjection
from geo.routes import BusPlan
from geo.service import GeoService
from store.feed import decode, encode, feed_items


@dataclass(frozen=True, slots=True)
class Sizes:
    """The region (fences, routes) and how many positions each measurement takes."""

    fences: int
    routes: int
    positions: int
    postgis_positions: int
    naive_positions: int
    per_fix_positions: int


FULL = Sizes(fences=5_000, routes=500, positions=200_000, postgis_positions=50_000, naive_positions=200,
             per_fix_positions=50_000)
SHORT = Sizes(fences=500, routes=50, positions=5_000, postgis_positions=2_000, naive_positions=50,
              per_fix_positions=2_000)
FEED_MESSAGE = 500  # fixes per internal feed message, about what one writer batch carries per shard
HALF_SIZE_M = 30_000.0
ORIGIN = (-96.67, 40.8)


def _region(sizes: Sizes, seed: int = 11) -> tuple[LocalProjection, list[Fence], list[BusPlan]]:
    rng = random.Random(seed)
    proj = LocalProjection(*ORIGIN)
    fences = []
    for i in range(sizes.fences):
        cx, cy = rng.uniform(-HALF_SIZE_M, HALF_SIZE_M), rng.uniform(-HALF_SIZE_M, HALF_SIZE_M)
        box = shapely.box(cx - rng.uniform(50, 200), cy - rng.uniform(50, 200), cx + rng.uniform(50, 200),
                          cy + rng.uniform(50, 200))
        fences.append(Fence(f"f{i}", "school_zone" if i % 2 else "campus", f"fence {i}", proj.to_lonlat(box),
                            f"s{i}", 30.0))
    plans = []
    for i in range(sizes.routes):
        x, y = rng.uniform(-HALF_SIZE_M, HALF_SIZE_M), rng.uniform(-HALF_SIZE_M, HALF_SIZE_M)
        points = [(x, y)]
        for _ in range(6):
            x, y = x + rng.uniform(-1500, 1500), y + rng.uniform(-1500, 1500)
            points.append((x, y))
        line = shapely.LineString(points)
        plans.append(BusPlan(f"bus{i}", f"s{i}", ZoneInfo("UTC"), line, float(line.length), 60.0,
                             50.0, (), None, shapely.MultiPoint(points[:1]), (), frozenset({0})))
    return proj, fences, plans


def _positions(proj: LocalProjection, plans: list[BusPlan], count: int, seed: int = 5) -> list[Position]:
    rng = np.random.default_rng(seed)
    bus = rng.integers(0, len(plans), count)
    share = rng.uniform(0, 1, count)
    lines = np.array([plans[b].line_m for b in bus.tolist()], dtype=object)
    on_route = shapely.line_interpolate_point(lines, share, normalized=True)
    xy = shapely.get_coordinates(on_route) + rng.normal(0, 40, (count, 2))
    lon, lat = proj.inverse(xy[:, 0], xy[:, 1])
    start = datetime(2025, 3, 10, 13, 0, tzinfo=UTC)
    speed = rng.uniform(0, 60, count)
    return [Position(f"bus{b}-gps", start + timedelta(milliseconds=i), start, float(x), float(y), "bench",
                     speed_kmh=float(s))
            for i, (b, x, y, s) in enumerate(zip(bus.tolist(), lon.tolist(), lat.tolist(), speed.tolist(),
                                                 strict=True))]


@dataclass(frozen=True, slots=True)
class _Offline:
    """What a geo service is given; nothing here is connected to (evaluate does no I/O)."""

    database_url: str = "postgresql://unused"
    mqtt_url: str = "mqtt://127.0.0.1:1"
    site_file: Path | None = None
    geo_shards: int = 1


def _per_fix_rate(engine: GeoEngine, positions: list[Position]) -> float:
    """Run the geo service's loop as it was before the batch path: one fix at a time, scalar geometry."""
    states: dict[str, Any] = {}
    started = time.perf_counter()
    for p in positions:
        subject = engine.subject_of(p.device_id)
        state, _ = engine.evaluate(states.get(subject) or engine.new_state(p.device_id), p)
        states[subject], _ = engine.tick(state, p.time)
    return len(positions) / (time.perf_counter() - started)


def _engine_rates(engine: GeoEngine, positions: list[Position]) -> tuple[float, float]:
    engine.facts(positions[:1000])  # warm caches outside the timing
    started = time.perf_counter()
    engine.facts(positions)
    facts_rate = len(positions) / (time.perf_counter() - started)
    payloads = [payload for start in range(0, len(positions), FEED_MESSAGE)
                for payload in encode(feed_items(positions[start:start + FEED_MESSAGE], [], {}, 1)).values()]
    service = GeoService(_Offline(), engine, [0], "bench-geo")
    started = time.perf_counter()
    for payload in payloads:
        service.evaluate(decode(payload))
    return facts_rate, len(positions) / (time.perf_counter() - started)


def _naive_rate(engine: GeoEngine, positions: list[Position]) -> float:
    shapes = list(engine.index.shapes_m)
    sample = positions
    started = time.perf_counter()
    for p in sample:
        x, y = engine.projection.point(p.lon, p.lat)
        point = shapely.Point(x, y)
        inside = [f.id for f, g in zip(engine.index.fences, shapes, strict=True) if g.contains(point)]
        near = [f.id for f, g in zip(engine.index.fences, shapes, strict=True) if g.distance(point) <= 15.0]
        plan = engine.plans[engine.subject_of(p.device_id)]
        _ = (inside, near, plan.line_m.distance(point), plan.line_m.project(point))
    return len(sample) / (time.perf_counter() - started)


def _postgis_rate(engine: GeoEngine, positions: list[Position], server_url: str) -> float | None:
    name = f"cg_bench_geo_{uuid.uuid4().hex[:8]}"
    admin_url = psycopg.conninfo.make_conninfo(server_url, dbname="postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with psycopg.connect(psycopg.conninfo.make_conninfo(server_url, dbname=name), autocommit=True) as conn:
            try:
                conn.execute("CREATE EXTENSION postgis")
            except psycopg.Error as missing:
                print(f"note: PostGIS is not available ({missing.diag.message_primary}); comparison skipped")
                return None
            return _postgis_query_rate(conn, engine, positions)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _postgis_query_rate(conn: psycopg.Connection, engine: GeoEngine, positions: list[Position]) -> float:
    # The same projected metres (planar, SRID 0) as the engine, so both answer exactly the same question.
    conn.execute("SET max_parallel_workers_per_gather = 0")  # one core, like the engine
    # JIT can only add its compile time here: the work is in PostGIS's C functions, which it does not touch.
    # Measured: the same rate on a quiet machine, up to 40% slower with JIT on a busy one.
    conn.execute("SET jit = off")
    conn.execute("CREATE TABLE fences (id text PRIMARY KEY, geom geometry NOT NULL)")
    conn.execute("CREATE TABLE routes (id text PRIMARY KEY, geom geometry NOT NULL)")
    conn.execute("CREATE TABLE points (id int PRIMARY KEY, route_id text NOT NULL, geom geometry NOT NULL)")
    with conn.cursor() as cur:
        with cur.copy("COPY fences (id, geom) FROM STDIN") as copy:
            for fence, shape in zip(engine.index.fences, engine.index.shapes_m, strict=True):
                copy.write_row((fence.id, shapely.to_wkb(shape, hex=True)))
        with cur.copy("COPY routes (id, geom) FROM STDIN") as copy:
            for plan in engine.plans.values():
                copy.write_row((plan.bus_id, shapely.to_wkb(plan.line_m, hex=True)))
        with cur.copy("COPY points (id, route_id, geom) FROM STDIN") as copy:
            for i, p in enumerate(positions):
                x, y = engine.projection.point(p.lon, p.lat)
                copy.write_row((i, engine.subject_of(p.device_id), f"POINT({x} {y})"))
    conn.execute("CREATE INDEX ON fences USING gist (geom)")
    conn.execute("ANALYZE")
    # One GiST probe per point for the band, and ST_Intersects only on what it found: the engine's own plan
    # (an STRtree dwithin query, then intersects on the pairs), rather than a second probe for "inside".
    query = """
        SELECT p.id, ST_Distance(r.geom, p.geom), ST_LineLocatePoint(r.geom, p.geom), f.inside, f.near
        FROM points p JOIN routes r ON r.id = p.route_id
        CROSS JOIN LATERAL (
            SELECT array_agg(f.id) FILTER (WHERE ST_Intersects(f.geom, p.geom)) AS inside, array_agg(f.id) AS near
            FROM fences f WHERE ST_DWithin(f.geom, p.geom, 15)
        ) f
    """
    conn.execute(query).fetchall()  # warm the cache
    started = time.perf_counter()
    rows = conn.execute(query).fetchall()
    rate = len(rows) / (time.perf_counter() - started)
    _check_agreement(engine, positions, rows)
    return rate


def _check_agreement(engine: GeoEngine, positions: list[Position], rows: list[tuple[Any, ...]]) -> None:
    """Say whether PostGIS and the engine gave the same answers (fence sets exactly, distances to 1 mm)."""
    facts = engine.facts(positions)
    differ = 0
    for i, distance, share, inside, near in rows:
        plan = engine.plans[facts.subjects[i]]
        same = (facts.fences[i].inside == frozenset(inside or ()) and facts.fences[i].near == frozenset(near or ())
                and abs(facts.route_distance_m[i] - distance) < 1e-3
                and abs(facts.along_m[i] - share * plan.length_m) < 1e-3)
        differ += not same
    print(f"note: PostGIS and the engine agree on {len(rows) - differ:,} of {len(rows):,} positions")


def run(short: bool = False) -> list[Figure]:
    """Measure and return the figures (``short``: the reduced sizes ``make test`` runs)."""
    sizes = SHORT if short else FULL
    proj, fences, plans = _region(sizes)
    subjects = {f"{p.bus_id}-gps": p.bus_id for p in plans}
    engine = GeoEngine(fences, plans, subjects, proj, GeoRules())
    positions = _positions(proj, plans, sizes.positions)
    facts_rate, rules_rate = _engine_rates(engine, positions)
    per_fix = _per_fix_rate(engine, positions[:sizes.per_fix_positions])
    naive = _naive_rate(engine, positions[:sizes.naive_positions])
    figures = [
        Figure("geo engine, spatial facts (vectorised STRtree)", facts_rate, "positions/s",
               "naive per-fence shapely loop", naive),
        Figure("geo service, all rules (feed to events)", rules_rate, "positions/s",
               "the same rules one fix at a time (the service before)", per_fix),
    ]
    postgis = _postgis_rate(engine, positions[:sizes.postgis_positions], bench_settings().database_url)
    if postgis is not None:
        figures += [
            Figure("geo engine, spatial facts (vectorised STRtree)", facts_rate, "positions/s",
                   "PostGIS GiST ST_DWithin/ST_Intersects lateral join", postgis),
            Figure("geo service, all rules (feed to events)", rules_rate, "positions/s",
                   "PostGIS GiST ST_DWithin/ST_Intersects lateral join", postgis),
        ]
    else:
        figures.append(Figure("geo service, all rules (feed to events)", rules_rate, "positions/s",
                              "naive per-fence shapely loop", naive))
    return figures


def main() -> None:
    """Print the figures."""
    report.main(run, __doc__)


if __name__ == "__main__":
    main()
