"""Geofences: the model, GeoJSON (RFC 7946) in and out, fences derived from a site, and the STRtree index.

A fence keeps its geometry in lon/lat (what GeoJSON and the map speak); the :class:`FenceIndex` holds the
same shapes projected to metres and answers, for a whole batch of points at once, which fences contain each
point and which lie within the hysteresis band of it: one STRtree ``dwithin`` query plus one vectorised
``intersects`` over the candidate pairs, so thousands of fences cost a tree walk, not a loop; a coarse
raster (:mod:`geo.cover`) first sets aside the points that no fence is anywhere near.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
import shapely

from domain.site import Site
from geo.config import GeoRules
from geo.cover import CoverGrid
from geo.projection import LocalProjection

FenceKind = Literal["campus", "school_zone", "restricted", "depot", "custom"]
FENCE_KINDS: frozenset[str] = frozenset(get_args(FenceKind))
SPEED_ZONE_KINDS: frozenset[str] = frozenset({"campus", "school_zone"})
"""Fences whose speed limit overrides the route's."""


@dataclass(frozen=True, slots=True)
class Fence:
    """A named area: polygon or multipolygon in WGS-84 lon/lat."""

    id: str
    kind: FenceKind
    name: str
    geometry: Any
    school_id: str | None = None
    speed_limit_kmh: float | None = None


def fences_from_site(site: Site, rules: GeoRules, projection: LocalProjection) -> list[Fence]:
    """Derive each school's campus and school zone and each distinct depot as fences."""
    fences: list[Fence] = []
    depots: set[tuple[float, float]] = set()
    for entry in site.iter_schools():
        school = entry.school
        campus = school.campus.shape()
        limit = float(school.school_zone_speed_kmh)
        fences.append(Fence(f"{school.id}/campus", "campus", school.name, campus, school.id, limit))
        zone = projection.to_lonlat(shapely.buffer(projection.to_metres(campus), rules.school_zone_buffer_m))
        fences.append(Fence(f"{school.id}/zone", "school_zone", f"{school.name} school zone", zone, school.id, limit))
        fences.extend(Fence(area.id, "restricted", area.name, area.polygon.shape(), school.id)
                      for area in school.restricted_areas)
        for bus in school.buses:
            depot = bus.route.depot
            if depot is not None and depot not in depots:
                depots.add(depot)
                fences.append(depot_fence(depot, rules, projection, school.id))
    return fences


def depot_id(depot: tuple[float, float]) -> str:
    """Return the id of the depot fence at a point; buses sharing a depot share its fence."""
    return f"depot/{depot[0]:.6f},{depot[1]:.6f}"


def depot_fence(depot: tuple[float, float], rules: GeoRules, projection: LocalProjection, school_id: str) -> Fence:
    """Return a circular depot fence of ``rules.depot_radius_m`` around a point."""
    x, y = projection.point(*depot)
    circle = projection.to_lonlat(shapely.buffer(shapely.Point(x, y), rules.depot_radius_m, quad_segs=16))
    return Fence(depot_id(depot), "depot", "Bus depot", circle, school_id)


def fences_to_geojson(fences: Iterable[Fence]) -> dict[str, Any]:
    """Return a GeoJSON FeatureCollection, polygons wound counter-clockwise as RFC 7946 asks."""
    features = [
        {
            "type": "Feature",
            "id": f.id,
            "geometry": json.loads(shapely.to_geojson(shapely.orient_polygons(f.geometry))),
            "properties": {"kind": f.kind, "name": f.name, "school_id": f.school_id,
                           "speed_limit_kmh": f.speed_limit_kmh},
        }
        for f in fences
    ]
    return {"type": "FeatureCollection", "features": features}


def fences_from_geojson(document: Mapping[str, Any], default_kind: FenceKind = "restricted") -> list[Fence]:
    """Read fences from a GeoJSON FeatureCollection of Polygon/MultiPolygon features; raise ValueError."""
    if document.get("type") != "FeatureCollection":
        raise ValueError("expected a GeoJSON FeatureCollection")
    fences: list[Fence] = []
    for index, feature in enumerate(document.get("features", ())):
        where = f"features[{index}]"
        properties = feature.get("properties") or {}
        fence_id = feature.get("id", properties.get("id"))
        if not isinstance(fence_id, str | int) or fence_id == "":
            raise ValueError(f"{where}: a fence needs an id (the feature's id or properties.id)")
        geometry = feature.get("geometry") or {}
        if geometry.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError(f"{where}: a fence is a Polygon or MultiPolygon, not {geometry.get('type')!r}")
        shape = shapely.from_geojson(json.dumps(geometry))
        coords = shapely.get_coordinates(shape)
        if not (np.all(np.abs(coords[:, 0]) <= 180) and np.all(np.abs(coords[:, 1]) <= 90)):
            raise ValueError(f"{where}: coordinates are [lon, lat] in degrees (RFC 7946)")
        if not shape.is_valid:
            raise ValueError(f"{where}: the polygon is not valid: {shapely.is_valid_reason(shape)}")
        kind = properties.get("kind", default_kind)
        if kind not in FENCE_KINDS:
            raise ValueError(f"{where}: unknown kind {kind!r}; one of {sorted(FENCE_KINDS)}")
        limit = properties.get("speed_limit_kmh")
        fences.append(Fence(str(fence_id), kind, str(properties.get("name", fence_id)), shape,
                            properties.get("school_id"), None if limit is None else float(limit)))
    return fences


@dataclass(frozen=True, slots=True)
class Membership:
    """Which fences hold one point: ``inside`` the polygon, and ``near`` (inside or within the band)."""

    inside: frozenset[str]
    near: frozenset[str]


NOWHERE = Membership(frozenset(), frozenset())
_QUERY_POINTS = 512
"""Points made and queried at a time. Shapely points are garbage-collected objects: made by the ten thousand
at once, they outlive collections of the young generation and push the collector into full passes over the
whole heap; a few hundred at a time die young."""


class FenceIndex:
    """Fences projected to metres in an STRtree, queried a batch of points at a time."""

    def __init__(self, fences: Sequence[Fence], projection: LocalProjection) -> None:
        """Project and index the fences; ids must be unique."""
        ids = [f.id for f in fences]
        if len(set(ids)) != len(ids):
            raise ValueError("fence ids must be unique")
        self.fences = tuple(fences)
        self.by_id = {f.id: f for f in fences}
        self.projection = projection
        self._ids = np.array(ids, dtype=object)
        self._kinds = np.array([f.kind for f in fences], dtype=object)
        self.shapes_m = projection.to_metres(np.array([f.geometry for f in fences], dtype=object))
        shapely.prepare(self.shapes_m)
        self._tree = shapely.STRtree(self.shapes_m)
        self._id_list = ids
        self._alone_near = np.empty(len(ids), dtype=object)
        self._alone_near[:] = [Membership(frozenset(), frozenset((i,))) for i in ids]
        self._alone_inside = np.empty(len(ids), dtype=object)
        self._alone_inside[:] = [Membership(m.near, m.near) for m in self._alone_near]
        self._covers: dict[float, CoverGrid] = {}
        self._kind_masks: dict[frozenset[str], npt.NDArray[np.bool_]] = {}

    def __len__(self) -> int:
        """Return the number of fences."""
        return len(self.fences)

    def classify(
        self, x: npt.ArrayLike, y: npt.ArrayLike, band_m: float, flag_kinds: frozenset[str] = frozenset(),
        points: Any = None,
    ) -> tuple[list[Membership], npt.NDArray[np.bool_]]:
        """Return, for each projected point, the fences containing it and those within ``band_m`` of it.

        Also returns whether each point is inside a fence of one of ``flag_kinds``; ``points`` may pass the
        shapely points of (x, y) when the caller has them already. Only points in a cell of the
        :class:`~geo.cover.CoverGrid` go to the tree (and get a shapely point made for them).
        """
        xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        result = [NOWHERE] * len(xs)
        flagged = np.zeros(len(xs), dtype=bool)
        if len(self.fences) == 0 or len(xs) == 0:
            return result, flagged
        band = max(band_m, 1e-9)
        near = self._cover(band).maybe_near(xs, ys)
        if len(near) == 0:
            return result, flagged
        found = [self._query(near[at:at + _QUERY_POINTS], xs, ys, points, band)
                 for at in range(0, len(near), _QUERY_POINTS)]
        point_at = np.concatenate([f[0] for f in found])
        if len(point_at) == 0:
            return result, flagged
        fence_at = np.concatenate([f[1] for f in found])
        inside = np.concatenate([f[2] for f in found])
        if flag_kinds:
            hit = inside & self._kind_mask(flag_kinds)[fence_at]
            flagged[point_at[hit]] = True
        return self._memberships(len(xs), point_at, fence_at, inside), flagged

    def _query(
        self, at: npt.NDArray[np.intp], xs: npt.NDArray[np.float64], ys: npt.NDArray[np.float64], points: Any,
        band: float,
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        """Return (point, fence, inside) for the points ``at`` and the fences within ``band`` of them."""
        candidates = shapely.points(xs[at], ys[at]) if points is None else np.asarray(points)[at]
        point_at, fence_at = self._tree.query(candidates, predicate="dwithin", distance=band)
        return at[point_at], fence_at, shapely.intersects(self.shapes_m[fence_at], candidates[point_at])

    def _memberships(
        self, count: int, point_at: npt.NDArray[np.intp], fence_at: npt.NDArray[np.intp],
        inside: npt.NDArray[np.bool_],
    ) -> list[Membership]:
        """Return each of ``count`` points' Membership from (point, fence, inside) pairs grouped by point."""
        result = np.full(count, NOWHERE, dtype=object)
        starts = np.flatnonzero(np.diff(point_at, prepend=-1))
        sizes = np.diff(starts, append=len(point_at))
        # Most points near a fence are near exactly one: their answers are built once per fence, and shared
        # (Memberships are immutable), so they are filled in with array indexing, not a Python loop.
        alone = starts[sizes == 1]
        result[point_at[alone]] = np.where(inside[alone], self._alone_inside[fence_at[alone]],
                                           self._alone_near[fence_at[alone]])
        ids = self._id_list
        for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
            end = start + size
            near = fence_at[start:end].tolist()
            within = fence_at[start:end][inside[start:end]].tolist()
            result[point_at[start]] = Membership(frozenset(ids[f] for f in within), frozenset(ids[f] for f in near))
        listed: list[Membership] = result.tolist()
        return listed

    def _cover(self, band_m: float) -> CoverGrid:
        """Return the cover raster for a band, built on first use (the engine asks for one band only).

        A cache filled lazily: two threads racing on a first use build the same raster twice, nothing worse.
        """
        cover = self._covers.get(band_m)
        if cover is None:
            cover = self._covers[band_m] = CoverGrid(shapely.bounds(self.shapes_m), band_m)
        return cover

    def _kind_mask(self, kinds: frozenset[str]) -> npt.NDArray[np.bool_]:
        """Return which fences are of one of ``kinds``, built on first use."""
        mask = self._kind_masks.get(kinds)
        if mask is None:
            mask = self._kind_masks[kinds] = np.isin(self._kinds, list(kinds))
        return mask

    def classify_point(self, x: float, y: float, band_m: float) -> Membership:
        """Classify one projected point."""
        if not self.fences:
            return NOWHERE
        point = shapely.Point(x, y)
        found = self._tree.query(point, predicate="dwithin", distance=max(band_m, 1e-9))
        if len(found) == 0:
            return NOWHERE
        near = self._ids[found]
        return Membership(frozenset(near[shapely.intersects(self.shapes_m[found], point)]), frozenset(near))

