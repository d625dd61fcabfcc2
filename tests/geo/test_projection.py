"""The local projection against Vincenty's inverse geodesic on the WGS-84 ellipsoid."""

from __future__ import annotations

import math

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.projection import WGS84_A, WGS84_B, WGS84_F, LocalProjection, max_relative_error


def vincenty_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance on WGS-84 (Vincenty 1975), accurate to well under a millimetre."""
    u1 = math.atan((1 - WGS84_F) * math.tan(math.radians(lat1)))
    u2 = math.atan((1 - WGS84_F) * math.tan(math.radians(lat2)))
    big_l = math.radians(lon2 - lon1)
    lam = big_l
    for _ in range(200):
        sin_lam, cos_lam = math.sin(lam), math.cos(lam)
        sin_sigma = math.hypot(math.cos(u2) * sin_lam,
                               math.cos(u1) * math.sin(u2) - math.sin(u1) * math.cos(u2) * cos_lam)
        if sin_sigma == 0:
            return 0.0
        cos_sigma = math.sin(u1) * math.sin(u2) + math.cos(u1) * math.cos(u2) * cos_lam
        sigma = math.atan2(sin_sigma, cos_sigma)
        sin_alpha = math.cos(u1) * math.cos(u2) * sin_lam / sin_sigma
        cos2_alpha = 1 - sin_alpha**2
        cos_2sm = cos_sigma - 2 * math.sin(u1) * math.sin(u2) / cos2_alpha if cos2_alpha else 0.0
        c = WGS84_F / 16 * cos2_alpha * (4 + WGS84_F * (4 - 3 * cos2_alpha))
        previous = lam
        lam = big_l + (1 - c) * WGS84_F * sin_alpha * (
            sigma + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1 + 2 * cos_2sm**2)))
        if abs(lam - previous) < 1e-13:
            break
    u_sq = cos2_alpha * (WGS84_A**2 - WGS84_B**2) / WGS84_B**2
    a = 1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq)))
    b = u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)))
    delta = b * sin_sigma * (cos_2sm + b / 4 * (cos_sigma * (-1 + 2 * cos_2sm**2) - b / 6 * cos_2sm * (
        -3 + 4 * sin_sigma**2) * (-3 + 4 * cos_2sm**2)))
    return WGS84_B * a * (sigma - delta)


offsets = st.floats(-0.4, 0.4)  # degrees: up to ~45 km from the origin


@settings(max_examples=300, deadline=None)
@given(lat0=st.floats(-70, 70), lon0=st.floats(-179, 179), a=st.tuples(offsets, offsets), b=st.tuples(offsets, offsets))
def test_distances_match_the_geodesic_within_the_documented_bound(
    lat0: float, lon0: float, a: tuple[float, float], b: tuple[float, float]
) -> None:
    proj = LocalProjection(lon0, lat0)
    p, q = (lon0 + a[0], lat0 + a[1]), (lon0 + b[0], lat0 + b[1])
    (x1, y1), (x2, y2) = proj.point(*p), proj.point(*q)
    planar = math.hypot(x2 - x1, y2 - y1)
    true = vincenty_m(*p, *q)
    reach = max(math.hypot(x1, y1), math.hypot(x2, y2))
    assert abs(planar - true) <= true * max_relative_error(reach) * 1.01 + 1e-3


def test_school_district_error_is_millimetres() -> None:
    proj = LocalProjection(-96.67, 40.8)
    p, q = (-96.75, 40.85), (-96.749, 40.851)  # 140 m apart, 8 km from the origin
    (x1, y1), (x2, y2) = proj.point(*p), proj.point(*q)
    assert abs(math.hypot(x2 - x1, y2 - y1) - vincenty_m(*p, *q)) < 0.001


def test_inverse_round_trips_and_vector_matches_scalar() -> None:
    proj = LocalProjection(-96.67, 40.8)
    lon = np.array([-96.9, -96.67, -96.4])
    lat = np.array([40.6, 40.8, 41.1])
    x, y = proj.forward(lon, lat)
    back_lon, back_lat = proj.inverse(x, y)
    assert np.allclose(back_lon, lon, atol=1e-10) and np.allclose(back_lat, lat, atol=1e-10)
    assert np.allclose([proj.point(a, b) for a, b in zip(lon, lat, strict=True)], np.column_stack((x, y)))
    square = shapely.box(-96.7, 40.7, -96.6, 40.8)
    assert shapely.equals_exact(proj.to_lonlat(proj.to_metres(square)), square, tolerance=1e-9)
