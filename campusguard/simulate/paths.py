"""Where a bus drives off its route: from the depot to the first stop, back again, and a scripted detour.

All in local metres. The legs to and from the depot must stay out of the route's corridor until the first
stop: the geo rules start a trip at the first fix inside the corridor, so a leg that crossed the route
half-way along would start the trip there, mark the stops before it as passed and then read as a deviation.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import shapely
from shapely import ops

Point = tuple[float, float]

APPROACH_M = 300.0
"""A bus reaches its first stop along the route's own direction, from this far behind it."""
CLEARANCE_M = 40.0
"""Margin kept beyond the corridor on the legs to and from the depot."""
DETOUR_OFFSET_M = 300.0
"""How far the deviating bus strays from its route: well beyond any corridor in the site model (2 km is the
cap, 50-60 m the usual width)."""


def _unit(a: Point, b: Point) -> Point:
    length = math.hypot(b[0] - a[0], b[1] - a[1]) or 1.0
    return (b[0] - a[0]) / length, (b[1] - a[1]) / length


def approach(depot: Point, route: Sequence[Point], corridor_m: float) -> list[Point]:
    """Return a path from the depot to the route's first point that meets the corridor only at its end.

    The bus comes in along the route's first segment, from :data:`APPROACH_M` behind it; from the depot to
    there it takes the shortest of a few street-like paths (straight, one corner of an L, or around the
    corners of the route's bounding box) that stays clear of the corridor. When none does (a depot on the
    route itself), the one crossing the least of it.
    """
    first = route[0]
    ux, uy = _unit(route[0], route[1])
    entry = (first[0] - ux * APPROACH_M, first[1] - uy * APPROACH_M)
    obstacle = shapely.LineString(route).buffer(corridor_m + CLEARANCE_M)
    minx, miny, maxx, maxy = obstacle.bounds
    pad = APPROACH_M
    corners = [(minx - pad, miny - pad), (maxx + pad, miny - pad), (maxx + pad, maxy + pad), (minx - pad, maxy + pad)]
    waypoints = [(depot[0], entry[1]), (entry[0], depot[1]), *corners]
    candidates: list[list[Point]] = [[depot, entry]]
    candidates += [[depot, w, entry] for w in waypoints]
    candidates += [[depot, a, b, entry] for a, b in itertools.permutations(waypoints, 2)]

    def cost(path: list[Point]) -> tuple[float, float]:
        line = shapely.LineString(path)
        return float(line.intersection(obstacle).length), float(line.length)

    best = min(candidates, key=cost)
    return [*_dedupe(best), first]


def departure(depot: Point, route: Sequence[Point], corridor_m: float) -> list[Point]:
    """Return a path from the route's last point back to the depot (the approach to the reversed route)."""
    return list(reversed(approach(depot, list(reversed(route)), corridor_m)))


def detour(route: shapely.LineString, start_m: float, end_m: float, side: int) -> list[Point]:
    """Return a path leaving the route at ``start_m`` and rejoining it at ``end_m``.

    In between it runs parallel, :data:`DETOUR_OFFSET_M` away; ``side`` is +1 for the left of the direction
    of travel, -1 for the right.
    """
    stretch = ops.substring(route, start_m, end_m)
    parallel = shapely.offset_curve(stretch, side * DETOUR_OFFSET_M, join_style="mitre")
    coords = [tuple(c) for c in shapely.get_coordinates(parallel)]
    a = tuple(shapely.get_coordinates(route.interpolate(start_m))[0])
    b = tuple(shapely.get_coordinates(route.interpolate(end_m))[0])
    return _dedupe([(a[0], a[1]), *((c[0], c[1]) for c in coords), (b[0], b[1])])


def route_points(route: shapely.LineString, start_m: float, end_m: float) -> list[Point]:
    """Return the route's vertices between two distances along it, end points included."""
    part = ops.substring(route, start_m, end_m)
    return _dedupe([(float(x), float(y)) for x, y in shapely.get_coordinates(part)])


def inside_intervals(route: shapely.LineString, area: object) -> list[tuple[float, float]]:
    """Return the (from, to) distances along the route that lie inside ``area`` (a polygon in metres)."""
    found = []
    part = route.intersection(area)
    for piece in getattr(part, "geoms", [part]):
        if piece.is_empty or piece.length <= 0:
            continue
        ends = shapely.get_coordinates(piece)
        a = float(route.project(shapely.Point(ends[0])))
        b = float(route.project(shapely.Point(ends[-1])))
        found.append((min(a, b), max(a, b)))
    return sorted(found)


def _dedupe(points: Sequence[Point]) -> list[Point]:
    out: list[Point] = []
    for p in points:
        if not out or math.hypot(p[0] - out[-1][0], p[1] - out[-1][1]) > 0.5:
            out.append(p)
    return out
