"""The part of a site's generated basemap that one person sees: the whole map, clipped to their schools' area.

The map is generated once for the whole site (``geo.basemap``) and each scope gets its clip, so a guard and the
district officer read the same streets, with the same names, around the guard's school; and the guard's map
holds nothing beyond the area around their own campuses and routes (the same reach the generator settles).
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon

from geo.basemap import NEAR_CAMPUS_M, NEAR_ROUTE_M
from geo.basemap_model import Basemap, BasemapInput, MapFeature
from geo.projection import LocalProjection


def scope_area(part: BasemapInput) -> shapely.Geometry:
    """Give the area (WGS-84) a scope's map covers: near its campuses, routes and depots."""
    points = [*(p for c in part.campuses for p in c.outline), *(p for r in part.routes for p in r.path),
              *(r.depot for r in part.routes if r.depot)]
    if not points:
        return Polygon()
    proj = LocalProjection(sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))
    area = shapely.union_all([
        *(proj.to_metres(Polygon(c.outline)).buffer(NEAR_CAMPUS_M) for c in part.campuses),
        *(proj.to_metres(LineString(r.path)).buffer(NEAR_ROUTE_M) for r in part.routes if len(r.path) >= 2),
        *(proj.to_metres(Point(r.depot)).buffer(NEAR_ROUTE_M) for r in part.routes if r.depot)])
    return proj.to_lonlat(area)


def clip_basemap(whole: Basemap, part: BasemapInput) -> Basemap:
    """Give the features of ``whole`` within ``part``'s area, cut to it; what lies outside is dropped, name and all.

    The whole site's own view is clipped too: the generator lets a route's street run on a block past the
    settled area, and every scope's map ends at the same reach.
    """
    area = scope_area(part)
    if area.is_empty or not whole.features:
        return Basemap((), (0.0, 0.0, 0.0, 0.0))
    geometries = np.array([f.geometry for f in whole.features], dtype=object)
    shapely.prepare(area)
    near = shapely.intersects(area, geometries)
    cut = shapely.intersection(geometries[near], area)
    kept = [f for f, keep in zip(whole.features, near, strict=True) if keep]
    # A street cut by the area's edge may fall in pieces: each piece is a feature, as the generator gives them.
    features = tuple(MapFeature(f.kind, f.name, piece, f.rank, f.detail)
                     for f, g in zip(kept, cut, strict=True) for piece in shapely.get_parts(g)
                     if not piece.is_empty and shapely.get_dimensions(piece) == shapely.get_dimensions(f.geometry))
    west, south, east, north = whole.bounds
    lo_x, lo_y, hi_x, hi_y = shapely.bounds(area).tolist()
    return Basemap(features, (max(west, lo_x), max(south, lo_y), min(east, hi_x), min(north, hi_y)))
