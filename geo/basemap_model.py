"""The generated basemap's input and output: what any site gives the generator, and the named features it makes.

Input: campuses (name, outline, address) and bus routes (path, named stops, depot), read from a site file or from
the stored tables. Output: typed, frozen features in WGS-84, and their GeoJSON. The generator is ``geo.basemap``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from domain.site import Site

FeatureKind = Literal["street", "block", "park", "water", "landmark", "place"]
LonLat = tuple[float, float]


@dataclass(frozen=True, slots=True)
class CampusInput:
    """A school as the basemap sees it: a name, an outline and an address."""

    name: str
    outline: tuple[LonLat, ...]
    address: str | None = None


@dataclass(frozen=True, slots=True)
class StopInput:
    """A bus stop: its name and where it stands."""

    name: str
    at: LonLat


@dataclass(frozen=True, slots=True)
class RouteInput:
    """A bus route: the path it drives, its stops and its depot."""

    name: str
    path: tuple[LonLat, ...]
    stops: tuple[StopInput, ...] = ()
    depot: LonLat | None = None


@dataclass(frozen=True, slots=True)
class BasemapInput:
    """What the generator reads: any site's campuses and routes (the whole site, or the part a person sees)."""

    campuses: tuple[CampusInput, ...]
    routes: tuple[RouteInput, ...]

    @classmethod
    def from_site(cls, site: Site) -> BasemapInput:
        """Read a site file's schools and buses."""
        schools = [entry.school for entry in site.iter_schools()]
        return cls(
            campuses=tuple(CampusInput(s.name, tuple(s.campus.coordinates[0]), s.address) for s in schools),
            routes=tuple(RouteInput(b.name, tuple(b.route.path.coordinates),
                                    tuple(StopInput(st.name, st.location) for st in b.route.stops), b.route.depot)
                         for s in schools for b in s.buses))

    def digest(self) -> str:
        """Give a fingerprint of the input, for caching and for seeding the generator."""
        return hashlib.sha256(repr(self).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class MapFeature:
    """One thing on the basemap. ``rank`` 1 is labelled from district zoom, 2 from neighbourhood zoom."""

    kind: FeatureKind
    name: str
    geometry: BaseGeometry
    rank: int
    detail: str = ""  # a street's class (arterial, local), a landmark's kind (hospital, depot, ...)


@dataclass(frozen=True, slots=True)
class Basemap:
    """The generated map in WGS-84, and the box [west, south, east, north] it covers."""

    features: tuple[MapFeature, ...]
    bounds: tuple[float, float, float, float]

    def to_geojson(self) -> dict[str, Any]:
        """Give the map as a GeoJSON FeatureCollection, coordinates to 6 decimals (about 0.1 m)."""
        return {"type": "FeatureCollection", "bbox": [round(v, 6) for v in self.bounds], "features": [
            {"type": "Feature", "id": f"{f.kind}-{i}",
             "geometry": json.loads(shapely.to_geojson(shapely.transform(f.geometry, _round))),
             "properties": {"kind": f.kind, "name": f.name, "rank": f.rank, "detail": f.detail}}
            for i, f in enumerate(self.features)]}


def _round(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # Rounding, not shapely.set_precision: that snaps polygons to a grid and may fail on a block's sliver.
    return np.round(coords, 6)
