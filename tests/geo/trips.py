"""Synthesised bus tracks: drive legs at a speed, wait, with seeded GPS noise, in the engine's projection."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from domain.messages import Position
from geo.projection import LocalProjection


class Trip:
    """Build a track fix by fix: ``drive_to`` points at a speed, ``wait`` in place."""

    def __init__(self, projection: LocalProjection, device_id: str, start: datetime, lon: float, lat: float,
                 interval_s: float = 5.0, noise_m: float = 3.0, seed: int = 7) -> None:
        self.projection = projection
        self.device_id = device_id
        self.time = start
        self.x, self.y = projection.point(lon, lat)
        self.interval = interval_s
        self.noise = noise_m
        self.rng = random.Random(seed)
        self.fixes: list[Position] = []

    def _fix(self, speed_kmh: float) -> None:
        x = self.x + self.rng.gauss(0, self.noise)
        y = self.y + self.rng.gauss(0, self.noise)
        lon, lat = self.projection.inverse([x], [y])
        reported = max(0.0, speed_kmh + self.rng.gauss(0, 0.5)) if speed_kmh > 0 else 0.0
        self.fixes.append(Position(self.device_id, self.time, self.time, float(lon[0]), float(lat[0]), "test",
                                   speed_kmh=reported))

    def wait(self, seconds: float) -> Trip:
        end = self.time + timedelta(seconds=seconds)
        while self.time + timedelta(seconds=self.interval) <= end:
            self.time += timedelta(seconds=self.interval)
            self._fix(0.0)
        return self

    def wait_until(self, when: datetime) -> Trip:
        return self.wait(max(0.0, (when - self.time).total_seconds()))

    def drive_to(self, lon: float, lat: float, speed_kmh: float) -> Trip:
        tx, ty = self.projection.point(lon, lat)
        return self.drive_xy(tx, ty, speed_kmh)

    def drive_xy(self, tx: float, ty: float, speed_kmh: float) -> Trip:
        step = speed_kmh / 3.6 * self.interval
        while True:
            dx, dy = tx - self.x, ty - self.y
            left = math.hypot(dx, dy)
            if left <= step:
                self.x, self.y = tx, ty
                self.time += timedelta(seconds=self.interval * left / step)
                self._fix(speed_kmh)
                return self
            self.x += dx / left * step
            self.y += dy / left * step
            self.time += timedelta(seconds=self.interval)
            self._fix(speed_kmh)

    def offset(self, lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
        """Return the lon/lat some metres east and north of a point."""
        x, y = self.projection.point(lon, lat)
        out_lon, out_lat = self.projection.inverse([x + east_m], [y + north_m])
        return float(out_lon[0]), float(out_lat[0])
