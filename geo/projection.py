"""A local metre projection: WGS-84 lon/lat onto the tangent plane of the ellipsoid at a regional origin.

Every distance the rules measure (fence hysteresis, route corridors, stop radii) goes through this module,
never through degrees. pyproj is not a dependency, so the projection is done here with numpy:

1. lon/lat (on the WGS-84 ellipsoid, height 0) to earth-centred earth-fixed (ECEF) x, y, z;
2. an exact rotation into east/north/up about the origin;
3. drop "up": (east, north) in metres.

Step 3 is the only approximation. The projection is the orthographic one of the ellipsoid onto its tangent
plane, so it is exact at the origin, keeps directions from it, and shortens lengths radial to the origin
by the factor ``cos(c)``, where ``c`` is a point's angular distance from the origin; tangential lengths
keep their scale. The relative distance error is therefore at most ``c**2 / 2``:

=================  =========================  ================================
from the origin    worst relative error       on a 150 m school-zone buffer
=================  =========================  ================================
10 km              1.2e-6 (1.2 mm per km)     0.2 mm
50 km              3.1e-5 (3 cm per km)       5 mm
200 km             4.9e-4 (0.5 m per km)      7 cm
=================  =========================  ================================

(:func:`max_relative_error` computes it; ``tests/geo/test_projection.py`` checks it against Vincenty's
geodesic on the ellipsoid.) A school district fits well inside 50 km; a province-wide site should be split
into regions, each with its own origin, when its extent passes a few hundred kilometres.

The inverse is exact in closed form: the point of the ellipsoid under a plane point is a quadratic along
the "up" axis, and on the ellipsoid surface geodetic latitude is ``atan2(z, (1 - e**2) * p)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

WGS84_A = 6_378_137.0
"""WGS-84 semi-major axis, metres."""
WGS84_F = 1 / 298.257223563
"""WGS-84 flattening."""
WGS84_E2 = WGS84_F * (2 - WGS84_F)
"""First eccentricity squared."""
WGS84_B = WGS84_A * (1 - WGS84_F)
"""Semi-minor axis, metres."""

FloatArray = npt.NDArray[np.float64]


def max_relative_error(distance_from_origin_m: float) -> float:
    """Return the worst relative length error of the projection this far from its origin (``c**2 / 2``)."""
    c = distance_from_origin_m / WGS84_B
    return 1.0 - math.cos(c)


class LocalProjection:
    """East/north metres on the tangent plane of the WGS-84 ellipsoid at ``(lon0, lat0)``."""

    __slots__ = ("_east", "_north", "_origin", "_up", "lat0", "lon0")

    def __init__(self, lon0: float, lat0: float) -> None:
        """Build the rotation for an origin given in degrees."""
        self.lon0 = lon0
        self.lat0 = lat0
        phi, lam = math.radians(lat0), math.radians(lon0)
        sp, cp, sl, cl = math.sin(phi), math.cos(phi), math.sin(lam), math.cos(lam)
        self._origin = _ecef_scalar(lon0, lat0)
        self._east = (-sl, cl, 0.0)
        self._north = (-sp * cl, -sp * sl, cp)
        self._up = (cp * cl, cp * sl, sp)

    def __repr__(self) -> str:
        """Name the origin."""
        return f"LocalProjection(lon0={self.lon0!r}, lat0={self.lat0!r})"

    def forward(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Project arrays of lon/lat degrees to (east, north) metres."""
        phi = np.radians(np.asarray(lat, dtype=np.float64))
        lam = np.radians(np.asarray(lon, dtype=np.float64))
        sin_phi, cos_phi = np.sin(phi), np.cos(phi)
        n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sin_phi * sin_phi)
        dx = n * cos_phi * np.cos(lam) - self._origin[0]
        dy = n * cos_phi * np.sin(lam) - self._origin[1]
        dz = n * (1.0 - WGS84_E2) * sin_phi - self._origin[2]
        east = self._east[0] * dx + self._east[1] * dy
        north = self._north[0] * dx + self._north[1] * dy + self._north[2] * dz
        return east, north

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        """Project one point; plain floats, because numpy costs microseconds per call on scalars."""
        x, y, z = _ecef_scalar(lon, lat)
        dx, dy, dz = x - self._origin[0], y - self._origin[1], z - self._origin[2]
        east = self._east[0] * dx + self._east[1] * dy
        north = self._north[0] * dx + self._north[1] * dy + self._north[2] * dz
        return east, north

    def inverse(self, east: npt.ArrayLike, north: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Return the lon/lat degrees of the ellipsoid points that project to (east, north)."""
        e = np.asarray(east, dtype=np.float64)
        n = np.asarray(north, dtype=np.float64)
        q = [self._origin[i] + e * self._east[i] + n * self._north[i] for i in range(3)]
        w = (1 / WGS84_A**2, 1 / WGS84_A**2, 1 / WGS84_B**2)
        # Solve |Q + t*U|_ellipsoid = 1 for the root near t = 0; the form -2C / (B + sqrt(...)) avoids
        # the cancellation that the textbook root would suffer, since C is tiny for points near the surface.
        a = sum(w[i] * self._up[i] ** 2 for i in range(3))
        b = 2 * sum(w[i] * q[i] * self._up[i] for i in range(3))
        c = sum(w[i] * q[i] ** 2 for i in range(3)) - 1.0
        t = -2 * c / (b + np.sqrt(b * b - 4 * a * c))
        x, y, z = (q[i] + t * self._up[i] for i in range(3))
        lon = np.degrees(np.arctan2(y, x))
        lat = np.degrees(np.arctan2(z, (1 - WGS84_E2) * np.hypot(x, y)))
        return lon, lat

    def to_metres(self, geometry: Any) -> Any:
        """Project a shapely geometry (or array of them) from lon/lat to metres."""
        return shapely.transform(geometry, self._forward_xy)

    def to_lonlat(self, geometry: Any) -> Any:
        """Map a shapely geometry (or array of them) from metres back to lon/lat."""
        return shapely.transform(geometry, self._inverse_xy)

    def _forward_xy(self, coords: FloatArray) -> FloatArray:
        east, north = self.forward(coords[:, 0], coords[:, 1])
        return np.column_stack((east, north))

    def _inverse_xy(self, coords: FloatArray) -> FloatArray:
        lon, lat = self.inverse(coords[:, 0], coords[:, 1])
        return np.column_stack((lon, lat))


def _ecef_scalar(lon: float, lat: float) -> tuple[float, float, float]:
    phi, lam = math.radians(lat), math.radians(lon)
    sin_phi, cos_phi = math.sin(phi), math.cos(phi)
    n = WGS84_A / math.sqrt(1.0 - WGS84_E2 * sin_phi * sin_phi)
    return n * cos_phi * math.cos(lam), n * cos_phi * math.sin(lam), n * (1.0 - WGS84_E2) * sin_phi
