"""A basemap generated from a site: streets, blocks, parks, water and landmarks, all named, with no tile server.

A command centre on a closed network (and every demo and test) still needs streets under its buses. They are
derived from what the site file already knows, deterministically for a seed:

- every straight stretch of a bus route is an arterial street, named from its stops ("A St & Franklin St" says
  the bus is on A St), continued a block beyond where the buses turn, because real streets do not end there;
- a grid of local streets fills the district, aligned with the routes, each named from a stop's cross street
  where one stands on it, else from a pool in the site's language (``basemap_names``); it stops at campuses;
- a school's address names the street in front of it; a depot is a landmark;
- blocks are what the streets leave; a few become parks, a creek meanders across, and civic landmarks (hospital,
  police and fire stations, library, post office) stand in seeded blocks.

Everything is computed in metres on a local tangent plane (``projection``) and returned in WGS-84 as the typed
features of ``basemap_model``. The generator is pure: the same input and seed give the same map, byte for byte.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import shapely
import shapely.affinity
from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from domain.site import Site
from geo.basemap_model import (
    Basemap,
    BasemapInput,
    CampusInput,
    FeatureKind,
    LonLat,
    MapFeature,
    RouteInput,
    StopInput,
)
from geo.basemap_names import NamePool, address_street, language_of, stem, stop_streets
from geo.projection import LocalProjection

_PAD_M = 700.0  # the map reaches this far beyond the outermost campus, route or depot
NEAR_CAMPUS_M, NEAR_ROUTE_M = 1200.0, 500.0  # how far the streets reach from a campus, and from a route
_ON_STREET_M = 25.0  # a stop this close to a street's line stands on it
_SAME_LINE_DEG, _SAME_LINE_M = 2.0, 8.0  # route stretches this close in angle and offset are one street
_WIDTH_M = {"arterial": 9.0, "local": 5.0}  # half-widths: what a street takes out of the blocks
_LANDMARKS = ("hospital", "police", "fire_station", "library", "post_office")
__all__ = ["GENERATOR_VERSION", "NEAR_CAMPUS_M", "NEAR_ROUTE_M", "Basemap", "BasemapInput", "CampusInput",
           "FeatureKind", "LonLat", "MapFeature", "RouteInput", "StopInput", "generate_basemap"]
GENERATOR_VERSION = 2
"""Bumped whenever the same input and seed would give another map: caches and ETags key on it."""


@dataclass(frozen=True, slots=True)
class _Street:
    """A street in metres: its line, its name and its class (arterial or local)."""

    line: LineString
    name: str
    detail: str


def generate_basemap(site: Site | BasemapInput, seed: int = 0) -> Basemap:
    """Generate the basemap of a whole site for a seed (a scope's part of it: ``geo.basemap_clip``)."""
    given = BasemapInput.from_site(site) if isinstance(site, Site) else site
    points = [*(p for c in given.campuses for p in c.outline), *(p for r in given.routes for p in r.path),
              *(r.depot for r in given.routes if r.depot)]
    if not points:
        return Basemap((), (0.0, 0.0, 0.0, 0.0))
    # The plane's origin is the whole degree nearest the site's middle, not the middle itself: the grid is laid
    # from it, so a school added elsewhere moves no street (a tangent plane is true to 1e-4 that far out).
    proj = LocalProjection(round(sum(p[0] for p in points) / len(points)),
                           round(sum(p[1] for p in points) / len(points)))
    # Seeded by the seed alone, not by the input: what is invented must not change with who looks or what else
    # the site holds (the grid takes its own seeded draws, see _Builder).
    rng = random.Random(f"{seed}")  # noqa: S311 - a map, not a secret
    names = [c.name for c in given.campuses] + [s.name for r in given.routes for s in r.stops]
    pool = NamePool(language_of(names + [c.address or "" for c in given.campuses]), rng, seed=seed)
    return _Builder(given, proj, rng, pool).build()


class _Builder:
    """One generation: the steps share the projection, the grid's frame, the seeded random and the names."""

    def __init__(self, given: BasemapInput, proj: LocalProjection, rng: random.Random, pool: NamePool) -> None:
        self.given, self.proj, self.rng, self.pool = given, proj, rng, pool
        self.campuses = [proj.to_metres(Polygon(c.outline)) for c in given.campuses]
        self.routes = [proj.to_metres(LineString(r.path)) for r in given.routes if len(r.path) >= 2]
        self.stops = [(s.name, proj.to_metres(Point(s.at))) for r in given.routes for s in r.stops]
        self.depots = list(dict.fromkeys(r.depot for r in given.routes if r.depot))
        pool.taken.update(part for name, _ in self.stops for part in stop_streets(name))
        # Whole half-degrees: a route added elsewhere, a little off the others, does not turn every street.
        self.angle = math.radians(round(math.degrees(_dominant_angle(self.routes)) * 2) / 2)
        # The grid's own draws, from the seed only (the shared rng's draws depend on what came before them).
        self.grid_rng = random.Random(f"{pool.seed}:grid")  # noqa: S311 - a map, not a secret
        self.spacing = self.grid_rng.uniform(280.0, 360.0)
        everything = shapely.union_all([*self.campuses, *self.routes,
                                        *(proj.to_metres(Point(d)) for d in self.depots)])
        lo_u, lo_v, hi_u, hi_v = shapely.bounds(self._to_grid(everything)).tolist()
        self.frame_uv = box(lo_u - _PAD_M, lo_v - _PAD_M, hi_u + _PAD_M, hi_v + _PAD_M)
        self.frame = self._from_grid(self.frame_uv)
        # The settled area: near campuses, routes and depots. A city's schools may lie kilometres apart in
        # villages; a grid over the fields between them would be megabytes of invented streets.
        self.area = shapely.union_all([*(c.buffer(NEAR_CAMPUS_M) for c in self.campuses),
                                       *(r.buffer(NEAR_ROUTE_M) for r in self.routes),
                                       *(proj.to_metres(Point(d)).buffer(NEAR_ROUTE_M) for d in self.depots)])
        self.area = self.area.intersection(self.frame).simplify(20)

    def build(self) -> Basemap:
        streets = self._streets()
        water = self._creek()
        roads = shapely.union_all([s.line.buffer(_WIDTH_M[s.detail], cap_style="flat") for s in streets])
        blocks = [b for b in _parts(self.area.difference(shapely.union_all([roads, water.buffer(4)])))
                  if b.area > 2500]
        parks, blocks = self._parks(blocks, streets)
        pond = max(parks, key=lambda p: p[1].area, default=None)
        named_blocks, places = self._neighbourhoods(blocks)
        features = [*places, *self._landmarks(blocks, streets)]
        waters = [MapFeature("water", self.pool.kind("river", self.pool.stem()), water, 1, "river")
                  for water in [water.intersection(self.area)] if not water.is_empty]
        if pond is not None:
            waters.append(MapFeature("water", self.pool.kind("pond", pond[0]),
                                     pond[1].centroid.buffer(min(45.0, math.sqrt(pond[1].area) / 5)), 2, "pond"))
        everything = [
            *named_blocks,
            *(MapFeature("park", self.pool.kind("park", n), p, 2) for n, p in parks),
            *waters,
            *(MapFeature("street", s.name, s.line, 1 if s.detail == "arterial" else 2, s.detail) for s in streets),
            *features,
        ]
        in_degrees = tuple(MapFeature(f.kind, f.name, self.proj.to_lonlat(f.geometry), f.rank, f.detail)
                           for f in everything)
        west, south, east, north = shapely.bounds(self.proj.to_lonlat(self.frame)).tolist()
        return Basemap(in_degrees, (west, south, east, north))

    # --- streets -------------------------------------------------------------------------------------------

    def _streets(self) -> list[_Street]:
        arterials = self._arterials()
        taken = {s.name for s in arterials}
        for campus, given in zip(self.campuses, self.given.campuses, strict=True):
            street = address_street(given.address)
            if street and street not in taken:
                taken.add(street)
                arterials.append(self._in_front_of(campus, street))
        return arterials + self._grid(arterials, taken)

    def _arterials(self) -> list[_Street]:
        """Each straight stretch of the routes, stretches on one line merged, named by the stops on it."""
        lines: list[tuple[float, tuple[float, float], list[LineString]]] = []
        for route in self.routes:
            for a, b in zip(route.coords[:-1], route.coords[1:], strict=True):
                segment = LineString([a, b])
                if segment.length < 1:
                    continue
                theta = math.atan2(b[1] - a[1], b[0] - a[0]) % math.pi
                middle = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
                for known in lines:
                    turn = abs(known[0] - theta) % math.pi
                    # How far this stretch's middle lies from the known line, across it.
                    off = abs((middle[0] - known[1][0]) * math.sin(known[0])
                              - (middle[1] - known[1][1]) * math.cos(known[0]))
                    if min(turn, math.pi - turn) < math.radians(_SAME_LINE_DEG) and off < _SAME_LINE_M:
                        known[2].append(segment)
                        break
                else:
                    lines.append((theta, middle, [segment]))
        streets: list[_Street] = []
        for theta, _, segments in lines:
            direction = (math.cos(theta), math.sin(theta))
            ends = [p for s in segments for p in s.coords]
            along = [p[0] * direction[0] + p[1] * direction[1] for p in ends]
            first, last = ends[along.index(min(along))], ends[along.index(max(along))]
            reach = self.spacing * 1.5  # a street runs on past the turn where the buses leave it
            line = LineString([(first[0] - direction[0] * reach, first[1] - direction[1] * reach),
                               (last[0] + direction[0] * reach, last[1] + direction[1] * reach)])
            name = self._name_from_stops(line)
            streets.extend(_Street(piece, name, "arterial") for piece in
                           _parts(line.intersection(self.area.buffer(self.spacing)))
                           if isinstance(piece, LineString) and piece.length > 1)
        return streets

    def _name_from_stops(self, line: LineString) -> str:
        votes = Counter(part for name, at in self.stops if line.distance(at) <= _ON_STREET_M
                        for part in stop_streets(name))
        # The street a stretch's stops share is the one it runs along; the rest are its cross streets.
        for name, _ in sorted(votes.items(), key=lambda item: (-item[1], item[0])):
            return name
        return self.pool.street()

    def _in_front_of(self, campus: Polygon, name: str) -> _Street:
        """Lay a street along a campus's front (its south side in the grid), for an address no route names."""
        lo_u, lo_v, hi_u, _ = shapely.bounds(self._to_grid(campus)).tolist()
        v = lo_v - 20.0
        line = self._from_grid(LineString([(lo_u - self.spacing, v), (hi_u + self.spacing, v)]))
        return _Street(line, name, "arterial")

    def _grid(self, arterials: list[_Street], taken: set[str]) -> list[_Street]:
        """Local streets on the grid, skipping lines an arterial already runs near, cut out of campuses."""
        lo_u, lo_v, hi_u, hi_v = self.frame_uv.bounds
        keep_out = shapely.union_all([c.buffer(15) for c in self.campuses]) if self.campuses else Polygon()
        arterial_uv = [self._to_grid(s.line) for s in arterials]
        streets = []
        for axis in (0, 1):
            lo, hi = (lo_v, hi_v) if axis == 0 else (lo_u, hi_u)
            # Lines stand at offset + k * spacing from the plane's origin, k their index: the same lines (and
            # names) whatever the frame's extent.
            offset = self.grid_rng.uniform(0, self.spacing)
            index = math.ceil((lo - offset) / self.spacing)
            at = offset + index * self.spacing
            while at < hi:
                uv = LineString([(lo_u, at), (hi_u, at)]) if axis == 0 else LineString([(at, lo_v), (at, hi_v)])
                # Only where an arterial runs along this line does it give way, not along its whole length:
                # a street in front of a school across the city must not take this one away here.
                beside = [_span(line, axis, self.spacing) for line in arterial_uv
                          if _runs_along(line, axis, at, self.spacing * 0.45)]
                line = self._from_grid(uv.difference(shapely.union_all(beside)) if beside else uv)
                for piece in _parts(line.intersection(self.area).difference(keep_out)):
                    if isinstance(piece, LineString) and piece.length > 60:
                        # Named piece by piece, from the stops near it: what stands far along the line is
                        # another town's business.
                        streets.append(_Street(piece, self._cross_name(piece, taken, axis, index), "local"))
                at += self.spacing
                index += 1
        return streets

    def _cross_name(self, line: LineString, taken: set[str], axis: int, index: int) -> str:
        """Name a grid line after a stop's cross street standing on this grid line, else a pooled one."""
        for name, at in self.stops:
            if line.distance(at) <= self.spacing * 0.5:
                for part in stop_streets(name):
                    if part not in taken:
                        taken.add(part)
                        return part
        self.pool.taken.update(taken)
        return self.pool.grid_street(axis, index)

    # --- water, parks, places, landmarks -------------------------------------------------------------------

    def _creek(self) -> Polygon:
        """Lay a creek meandering across the district, moved until it crosses no campus and no depot."""
        lo_u, lo_v, hi_u, hi_v = self.frame_uv.bounds
        avoid = shapely.union_all([*(c.buffer(60) for c in self.campuses),
                                   *(self.proj.to_metres(Point(d)).buffer(120) for d in self.depots)])
        creek = Polygon()
        for _ in range(12):
            base = self.rng.uniform(lo_v + 0.15 * (hi_v - lo_v), hi_v - 0.15 * (hi_v - lo_v))
            phase, wave = self.rng.uniform(0, math.tau), self.rng.uniform(150, 400)
            steps = max(2, int((hi_u - lo_u) / 80))
            uv = LineString([(lo_u + i * (hi_u - lo_u) / steps,
                              base + wave * math.sin(phase + i / steps * 3 * math.pi)
                              + 0.4 * wave * math.sin(phase * 2 + i / steps * 7 * math.pi)) for i in range(steps + 1)])
            creek = self._from_grid(uv).buffer(16.0)
            if avoid.is_empty or not creek.intersects(avoid):
                return creek
        # A city of many campuses may leave no way across: the creek then goes round them (it is cut where it
        # would have run through one), never over a school.
        return creek.difference(avoid)

    def _parks(self, blocks: list[Polygon], streets: list[_Street]) -> tuple[list[tuple[str, Polygon]], list[Polygon]]:
        """Make a few blocks away from campuses parks, each named after its nearest local street."""
        busy = shapely.union_all([*(c.buffer(30) for c in self.campuses), *(r.buffer(30) for r in self.routes)])
        candidates = [i for i, b in enumerate(blocks) if not b.intersects(busy) and b.area > 40_000]
        chosen = set(self.rng.sample(candidates, min(len(candidates), max(2, len(blocks) // 150))))
        locals_ = [s for s in streets if s.detail == "local"] or streets
        parks, named = [], set()
        for i in sorted(chosen):
            nearest = min(locals_, key=lambda s: s.line.distance(blocks[i])).name
            # Two parks on one street would share a name: the second is named from the pool instead.
            name = stem(nearest) if stem(nearest) not in named else self.pool.stem()
            named.add(name)
            parks.append((name, blocks[i]))
        return parks, [b for i, b in enumerate(blocks) if i not in chosen]

    def _neighbourhoods(self, blocks: list[Polygon]) -> tuple[list[MapFeature], list[MapFeature]]:
        """Blocks grouped into named neighbourhoods (cells of ten by ten blocks), and a label for each.

        A cell with few blocks (the edge of the map) is no neighbourhood of its own: its blocks join the nearest.
        """
        cell = self.spacing * 10
        cells: dict[tuple[int, int], list[Polygon]] = {}
        for block in blocks:
            u, v = self._to_grid(block.centroid).coords[0]
            cells.setdefault((int(u // cell), int(v // cell)), []).append(block)
        labels = [MapFeature("place", self.pool.place(), shapely.union_all(cells[key]).centroid, 1, "neighbourhood")
                  for key in sorted(cells) if len(cells[key]) >= 16]
        if not labels:
            return [MapFeature("block", "", block, 3) for block in blocks], []
        return [MapFeature("block", min(labels, key=lambda p: p.geometry.distance(block)).name, block, 3)
                for block in blocks], labels

    def _landmarks(self, blocks: list[Polygon], streets: list[_Street]) -> Iterator[MapFeature]:
        for depot in self.depots:
            at = self.proj.to_metres(Point(depot))
            nearest = min(streets, key=lambda s: s.line.distance(at))
            yield MapFeature("landmark", self.pool.kind("depot", stem(nearest.name)), at, 1, "depot")
        keep_out = shapely.union_all([c.buffer(50) for c in self.campuses]) if self.campuses else Polygon()
        free = [b for b in blocks if not b.intersects(keep_out)]
        for kind, block in zip(_LANDMARKS, self.rng.sample(free, min(len(free), len(_LANDMARKS))), strict=False):
            at = block.point_on_surface()
            nearest = min(streets, key=lambda s: s.line.distance(at))
            yield MapFeature("landmark", self.pool.kind(kind, stem(nearest.name)), at, 2, kind)

    # --- the grid's frame ----------------------------------------------------------------------------------

    def _to_grid(self, geometry: BaseGeometry) -> BaseGeometry:
        return shapely.affinity.rotate(geometry, -self.angle, origin=(0, 0), use_radians=True)

    def _from_grid(self, geometry: BaseGeometry) -> Any:
        return shapely.affinity.rotate(geometry, self.angle, origin=(0, 0), use_radians=True)


def _dominant_angle(routes: Iterable[LineString]) -> float:
    """Give the grid's rotation: the length-weighted mean direction of the routes' stretches, modulo a right angle."""
    x = y = 0.0
    for route in routes:
        for a, b in zip(route.coords[:-1], route.coords[1:], strict=True):
            length = math.dist(a, b)
            theta = math.atan2(b[1] - a[1], b[0] - a[0])
            x, y = x + length * math.cos(4 * theta), y + length * math.sin(4 * theta)
    return math.atan2(y, x) / 4 if x or y else 0.0


def _runs_along(line_uv: BaseGeometry, axis: int, at: float, within: float) -> bool:
    """Whether a street (in grid coordinates) runs along the grid line ``axis`` at ``at``, closer than ``within``."""
    lo_u, lo_v, hi_u, hi_v = line_uv.bounds
    if axis == 0:
        return bool(hi_v - lo_v < 1.0 and abs(lo_v - at) < within)
    return bool(hi_u - lo_u < 1.0 and abs(lo_u - at) < within)


def _span(line_uv: BaseGeometry, axis: int, spacing: float) -> Polygon:
    """Give the strip (grid coordinates) where a street runs along a grid line, half a block past its ends."""
    lo_u, lo_v, hi_u, hi_v = line_uv.bounds
    if axis == 0:
        return box(lo_u - spacing / 2, lo_v - spacing, hi_u + spacing / 2, hi_v + spacing)
    return box(lo_u - spacing, lo_v - spacing / 2, hi_u + spacing, hi_v + spacing / 2)


def _parts(geometry: BaseGeometry) -> list[Any]:
    """Give the single geometries of a (multi-part) geometry."""
    return list(shapely.get_parts(geometry))
