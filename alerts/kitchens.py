"""Unattended cooking at the edges: which stove sensor pairs with which kitchen camera zone, and the watch loop.

**Pairing rule.** A cooking area is a camera zone of kind ``kitchen`` (site file: ``cameras[].zones[]``). The
same zone name on several cameras of one school is one area, watched by all of them: a person sighted in
that zone by any of them counts. A temperature sensor of the school (``sensors[]`` with ``kind:
temperature``) is over that area's stove when it has a ``location`` within :data:`PAIR_RADIUS_M` of one of
those cameras; a sensor within reach of two areas goes to the nearest camera only. A sensor without a
location, or with no kitchen camera near it, is not watched; an area with no sensor is not watched either.
A freezer probe near the kitchen camera pairs too, which is harmless: it never reaches the cooking threshold.

:func:`pair_kitchens` is pure; :func:`kitchens_from_database` reads the loaded site (``devices``), so the
alert service follows site reloads without a site file of its own. :class:`CookingMonitor` folds new
temperature readings and person sightings into the pure rule of :mod:`alerts.cross_modal` and returns the
signals :func:`~alerts.cross_modal.evaluate` emits; the alert service decides them like any other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from alerts.correlate import distance_m
from alerts.cross_modal import TEMPERATURE_METRIC, CookingState, CookingWatch, KitchenZone, evaluate, on_person
from alerts.cross_modal import on_reading as fold_reading
from domain.incident import Signal
from store.kitchen_repo import camera_zones, readings_since, temperature_sensors
from store.vision_repo import last_person_seen

PAIR_RADIUS_M = 25.0
"""A stove sensor this close to a kitchen camera is the one that camera's kitchen zone watches."""
ZONE_KIND = "kitchen"


@dataclass(frozen=True, slots=True)
class TemperatureSensor:
    """A site temperature sensor with a known position."""

    id: str
    school_id: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class KitchenView:
    """One camera's ``kitchen`` zone: which camera, where it hangs, and the zone's name."""

    camera_id: str
    school_id: str
    zone: str
    lon: float
    lat: float


def pair_kitchens(sensors: Iterable[TemperatureSensor], views: Iterable[KitchenView],
                  radius_m: float = PAIR_RADIUS_M) -> tuple[KitchenZone, ...]:
    """Pair stove sensors with kitchen camera zones by the rule in the module docstring; ordered by id."""
    views = list(views)
    areas: dict[tuple[str, str], list[KitchenView]] = {}
    for view in views:
        areas.setdefault((view.school_id, view.zone), []).append(view)
    members: dict[tuple[str, str], list[TemperatureSensor]] = {}
    for sensor in sensors:
        near = [(distance_m(sensor.lon, sensor.lat, v.lon, v.lat), v) for v in views
                if v.school_id == sensor.school_id]
        near = [(d, v) for d, v in near if d <= radius_m]
        if near:
            _, view = min(near, key=lambda pair: (pair[0], pair[1].camera_id, pair[1].zone))
            members.setdefault((view.school_id, view.zone), []).append(sensor)
    zones = []
    for (school_id, name), found in sorted(members.items()):
        stove = sorted(found, key=lambda s: s.id)
        zones.append(KitchenZone(
            id=f"{school_id}/{name}", name=name, school_id=school_id, sensor_ids=tuple(s.id for s in stove),
            # The stove is where its sensors are; with two sensors, the first one's place is close enough.
            lon=stove[0].lon, lat=stove[0].lat,
            camera_ids=tuple(sorted({v.camera_id for v in areas[(school_id, name)]}))))
    return tuple(zones)


def kitchens_from_database(conn: psycopg.Connection, radius_m: float = PAIR_RADIUS_M) -> tuple[KitchenZone, ...]:
    """Pair the loaded site's active temperature sensors and kitchen camera zones."""
    sensors = [TemperatureSensor(*row) for row in temperature_sensors(conn)]
    views = [KitchenView(*row) for row in camera_zones(conn, ZONE_KIND)]
    return pair_kitchens(sensors, views, radius_m)


class CookingMonitor:
    """Reads new readings and sightings since the last pass and runs the pure rule; one per alert service.

    State lives in memory. On start it is rebuilt from ``lookback`` of history, so a hot stretch that began
    within it gets the same signal id again and the alert service, which has already claimed that id, does
    not raise it twice.
    """

    def __init__(self, watch: CookingWatch, lookback: timedelta, refresh: timedelta = timedelta(minutes=5)) -> None:
        """Keep the thresholds; zones are read from the database on the first pass and every ``refresh``."""
        self.watch = watch
        self._lookback = lookback
        self._refresh = refresh
        self._zones_at: datetime | None = None
        self._state: CookingState = {}
        self._readings_since: datetime | None = None
        self._pending: tuple[CookingState, datetime] | None = None

    def poll(self, conn: psycopg.Connection, now: datetime) -> tuple[Signal, ...]:
        """Fold in what is new and return the signals due at ``now``; call :meth:`commit` once they are decided.

        Nothing changes until :meth:`commit`: a pass whose signals could not be decided is simply run again.
        """
        if self._zones_at is None or now - self._zones_at >= self._refresh:
            self.watch = self.watch.model_copy(update={"zones": kitchens_from_database(conn)})
            self._zones_at = now
        state = self._state
        since = self._readings_since or now - self._lookback
        sensors = [s for z in self.watch.zones for s in z.sensor_ids]
        newest = since
        for reading in readings_since(conn, sensors, TEMPERATURE_METRIC, since):
            state = fold_reading(state, self.watch, reading)
            newest = max(newest, reading.received_at)
        for zone in self.watch.zones:
            seen = last_person_seen(conn, zone.camera_ids, zone.name or zone.id, now - self._lookback)
            if seen is not None:
                state = on_person(state, zone.id, seen)
        state, signals = evaluate(state, self.watch, now)
        self._pending = (state, newest)
        return signals

    def commit(self) -> None:
        """Keep the state of the last :meth:`poll`: its signals were decided."""
        if self._pending is None:
            return
        # Readings arriving in the same instant as the newest are read again next time; folding one twice
        # changes nothing.
        (self._state, self._readings_since), self._pending = self._pending, None
