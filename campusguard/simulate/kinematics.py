"""Driving a polyline like a vehicle: speed caps along the way, bounded acceleration and braking, 1 s samples.

The speed profile is the classic two-pass one: a forward pass limits how fast the vehicle can have sped up
since the last slow point, a backward pass how fast it may go and still brake for the next one. Time follows
from distance over speed, and the track is sampled once a second of its own clock. Coordinates are metres in
a local east/north plane; nothing here knows about lon/lat or time zones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

FloatArray = npt.NDArray[np.float64]
CapFn = Callable[[FloatArray], FloatArray]
"""Speed cap in m/s at each distance (metres) along the polyline."""

STEP_M = 2.0
"""Resolution of the speed profile: fine enough for braking into a stop, coarse enough to plan a district fast."""
MIN_SPEED = 0.5
"""A cap never drops below this (m/s): a zero cap would make the time to cross it infinite."""


@dataclass(frozen=True, slots=True, eq=False)
class Track:
    """A motion sampled on its own clock: seconds from its start, position, speed and heading."""

    t: FloatArray
    x: FloatArray
    y: FloatArray
    speed: FloatArray
    """m/s."""
    heading: FloatArray
    """Degrees, 0 = north, clockwise."""

    @property
    def duration(self) -> float:
        """Seconds from the first sample to the last."""
        return float(self.t[-1])

    def at(self, seconds: float) -> tuple[float, float, float, float]:
        """Return (x, y, speed, heading) at a time on the track's clock, clamped to its ends."""
        t = self.t
        x = float(np.interp(seconds, t, self.x))
        y = float(np.interp(seconds, t, self.y))
        speed = float(np.interp(seconds, t, self.speed))
        # Headings are not interpolated: halfway between 350 and 10 degrees is not 180.
        index = min(int(np.searchsorted(t, seconds, side="right")) - 1, len(t) - 1)
        return x, y, speed, float(self.heading[max(index, 0)])


def drive(points: Sequence[tuple[float, float]], cap: CapFn, accel: float = 1.0, decel: float = 1.5) -> Track:
    """Drive from the first point to the last, from standstill to standstill, under ``cap``."""
    line = shapely.LineString(points)
    length = float(line.length)
    count = max(math.ceil(length / STEP_M), 1)
    s = np.linspace(0.0, length, count + 1)
    step = length / count
    v = np.maximum(cap(s), MIN_SPEED)
    v[0] = v[-1] = 0.0
    for i in range(count):  # how fast it can be, having sped up from behind
        v[i + 1] = min(v[i + 1], math.sqrt(v[i] * v[i] + 2 * accel * step))
    for i in range(count - 1, -1, -1):  # how fast it may be, to brake for what is ahead
        v[i] = min(v[i], math.sqrt(v[i + 1] * v[i + 1] + 2 * decel * step))
    elapsed = np.concatenate(([0.0], np.cumsum(step / np.maximum((v[:-1] + v[1:]) / 2, 1e-6))))
    total = float(elapsed[-1])
    t = np.append(np.arange(0.0, total, 1.0), total)
    along = np.interp(t, elapsed, s)
    xy = shapely.get_coordinates(shapely.line_interpolate_point(line, along))
    ahead = shapely.get_coordinates(shapely.line_interpolate_point(line, np.minimum(along + 1.0, length)))
    behind = shapely.get_coordinates(shapely.line_interpolate_point(line, np.maximum(along - 1.0, 0.0)))
    heading = np.degrees(np.arctan2(ahead[:, 0] - behind[:, 0], ahead[:, 1] - behind[:, 1])) % 360.0
    return Track(t, xy[:, 0].copy(), xy[:, 1].copy(), np.interp(t, elapsed, v), heading)


def hold(x: float, y: float, seconds: float, heading: float) -> Track:
    """Stand still for ``seconds`` (at least a moment, so that every track has two samples)."""
    seconds = max(seconds, 0.001)
    t = np.append(np.arange(0.0, seconds, 1.0), seconds)
    return Track(t, np.full(len(t), x), np.full(len(t), y), np.zeros(len(t)), np.full(len(t), heading))


def chain(tracks: Sequence[Track]) -> Track:
    """Join tracks end to end on one clock; each starts where the previous ended."""
    ts, xs, ys, vs, hs = [], [], [], [], []
    offset = 0.0
    for index, track in enumerate(tracks):
        skip = 1 if index else 0  # the first sample repeats the previous track's last
        ts.append(track.t[skip:] + offset)
        xs.append(track.x[skip:])
        ys.append(track.y[skip:])
        vs.append(track.speed[skip:])
        hs.append(track.heading[skip:])
        offset += track.duration
    return Track(np.concatenate(ts), np.concatenate(xs), np.concatenate(ys), np.concatenate(vs), np.concatenate(hs))


def turn_points(points: Sequence[tuple[float, float]], min_turn_deg: float = 30.0) -> list[float]:
    """Return the distance along the polyline of every vertex that turns by more than ``min_turn_deg``."""
    found = []
    along = 0.0
    for (x0, y0), (x1, y1), (x2, y2) in zip(points, points[1:], points[2:], strict=False):
        along += math.hypot(x1 - x0, y1 - y0)
        turn = math.degrees(math.atan2(y2 - y1, x2 - x1) - math.atan2(y1 - y0, x1 - x0))
        if abs((turn + 180.0) % 360.0 - 180.0) > min_turn_deg:
            found.append(along)
    return found
