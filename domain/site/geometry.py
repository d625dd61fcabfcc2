"""GeoJSON geometry for the site file, checked with shapely, plus a local metre projection.

Coordinates are WGS-84 ``[lon, lat]`` in that order, as GeoJSON has them. Distances in the cross-tree
checks need metres; pyproj is not a dependency, so :func:`metre_projection` uses a local equirectangular
approximation around a reference point, which is accurate to well under a metre over the few kilometres
that one school's buses and devices span.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any, Literal

import shapely
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError
from shapely.validation import explain_validity

EARTH_RADIUS_M = 6_371_008.8
"""Mean earth radius (IUGG); the equirectangular approximation needs no more precision than this."""


def located_error(message: str, *at: str | int) -> PydanticCustomError:
    """Return a validation error that points ``at`` a place below the validator's own location.

    Pydantic places a validator's error at the field or model it validates; a check over a whole list (stop
    times increase) knows the offending element better. ``validate.py`` appends ``ctx["at"]`` to the loc.
    """
    # Braces in the message would be read as template fields by pydantic-core.
    safe = message.replace("{", "(").replace("}", ")")
    return PydanticCustomError("site_rule", safe, {"at": tuple(at)})


def _check_lon_lat(point: tuple[float, float]) -> tuple[float, float]:
    lon, lat = point
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise located_error(f"longitude {lon} is outside [-180, 180] (coordinates are [lon, lat])", 0)
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise located_error(f"latitude {lat} is outside [-90, 90] (coordinates are [lon, lat])", 1)
    return point


GeoPoint = Annotated[tuple[float, float], AfterValidator(_check_lon_lat)]
"""A WGS-84 position as ``(lon, lat)``."""


def _check_ring(ring: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    if len(ring) < 4:
        raise PydanticCustomError(
            "site_rule", "a polygon ring needs at least 4 positions (3 corners plus the closing one)"
        )
    if ring[0] != ring[-1]:
        raise PydanticCustomError(
            "site_rule", "the polygon ring is not closed: its last position must repeat the first"
        )
    return ring


LinearRing = Annotated[tuple[GeoPoint, ...], AfterValidator(_check_ring)]


class Polygon(BaseModel):
    """A GeoJSON Polygon: an outer ring and optional holes, each closed, together a valid shape."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Annotated[Literal["Polygon"], Field(description='GeoJSON geometry type, always "Polygon".')]
    coordinates: Annotated[
        tuple[LinearRing, ...],
        Field(min_length=1, description="Outer ring first, then holes; each ring a closed list of [lon, lat]."),
    ]

    @field_validator("coordinates")
    @classmethod
    def _valid_shape(cls, rings: tuple[tuple[tuple[float, float], ...], ...]) -> Any:
        shape = shapely.Polygon(rings[0], rings[1:])
        if not shape.is_valid:
            # explain_validity names the defect and where, e.g. "Self-intersection[-96.7 40.8]".
            raise PydanticCustomError(
                "site_rule", "the polygon is not valid: " + explain_validity(shape).replace("{", "(")
            )
        return rings

    def shape(self) -> shapely.Polygon:
        """Return the shapely polygon (lon/lat degrees)."""
        return shapely.Polygon(self.coordinates[0], self.coordinates[1:])


class LineString(BaseModel):
    """A GeoJSON LineString of at least two distinct positions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Annotated[Literal["LineString"], Field(description='GeoJSON geometry type, always "LineString".')]
    coordinates: Annotated[
        tuple[GeoPoint, ...], Field(min_length=2, description="The positions in order, each [lon, lat].")
    ]

    @field_validator("coordinates")
    @classmethod
    def _not_degenerate(cls, points: tuple[tuple[float, float], ...]) -> Any:
        if len(set(points)) < 2:
            raise PydanticCustomError("site_rule", "a line needs at least two distinct positions")
        return points

    def shape(self) -> shapely.LineString:
        """Return the shapely line (lon/lat degrees)."""
        return shapely.LineString(self.coordinates)


def metre_projection(origin: tuple[float, float]) -> Callable[[Any], Any]:
    """Return a function that maps a shapely geometry in lon/lat to metres around ``origin``.

    Equirectangular about the origin: fine for distances of a few kilometres away from the poles, which is
    all the site checks measure (stop to route, device to campus).
    """
    lon0, lat0 = origin
    kx = math.radians(1.0) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    ky = math.radians(1.0) * EARTH_RADIUS_M

    def project(geometry: Any) -> Any:
        return shapely.transform(geometry, lambda xy: (xy - (lon0, lat0)) * (kx, ky))

    return project
