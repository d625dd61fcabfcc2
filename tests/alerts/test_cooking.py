"""Unattended cooking wired: site pairing, readings and sightings in real PostgreSQL, incidents through decide."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from alerts.cross_modal import CookingWatch
from alerts.escalation import EscalationPolicy
from alerts.kitchens import KitchenView, TemperatureSensor, kitchens_from_database, pair_kitchens
from alerts.rules import load_rules
from alerts.service import AlertService
from domain.site.validate import load_site as read_site
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.site_repo import load_site
from store.vision_repo import Sighting, store_sightings
from tests.support.ingest import EXAMPLE, scalar

NOW = datetime.now(UTC).replace(microsecond=0)
STOVE = "antelope-park-kitchen-stove"
CAMERA = "antelope-park-cam-kitchen"
# About 8 m from the kitchen camera; the example's freezer probe is about 66 m away and stays unpaired.
STOVE_ENTRY = f"""          sensors:
            - id: {STOVE}
              kind: temperature
              place: Kitchen range, over the cooking line
              location: [-96.6898, 40.8008]
              source: zigbee2mqtt
              external_id: antelope-park/kitchen_stove_temp
            - id: antelope-park-kitchen-freezer
"""


@pytest.fixture
def db(fresh_database_url: str, tmp_path: Path) -> str:
    text = EXAMPLE.read_text(encoding="utf-8")
    anchor = "          sensors:\n            - id: antelope-park-kitchen-freezer\n"
    assert anchor in text
    site_file = tmp_path / "district.yaml"
    site_file.write_text(text.replace(anchor, STOVE_ENTRY), encoding="utf-8")
    with psycopg.connect(fresh_database_url) as conn:
        migrate(conn, StorageBackend.AUTO, RetentionSettings())
        load_site(conn, read_site(site_file))
    return fresh_database_url


@pytest.fixture
def service(db: str) -> AlertService:
    return AlertService(db, load_rules(), EscalationPolicy(), [], cooking=CookingWatch(absent_min=10))


def hot_stove(db: str, minutes: int = 15, value: float = 180.0) -> None:
    """A reading a minute over the last ``minutes``, all above the 60 °C threshold."""
    rows = [(STOVE, NOW - timedelta(minutes=m), "temperature_c", value, NOW - timedelta(minutes=m))
            for m in range(minutes, -1, -1)]
    with psycopg.connect(db) as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO sensor_readings (device_id, time, metric, value, received_at)"
                        " VALUES (%s, %s, %s, %s, %s)", rows)


def sighting(db: str, minutes_ago: float, zone: str) -> None:
    with psycopg.connect(db) as conn:
        store_sightings(conn, [Sighting(CAMERA, NOW - timedelta(minutes=minutes_ago), "person", 7, 0.9, zone,
                                        (0.2, 0.5, 0.1, 0.3))])


def test_the_site_pairs_the_stove_with_the_kitchen_zone_and_not_the_freezer(db: str) -> None:
    with psycopg.connect(db) as conn:
        zones = kitchens_from_database(conn)
    assert [(z.id, z.name, z.school_id, z.sensor_ids, z.camera_ids) for z in zones] == [
        ("antelope-park-es/Cooking line", "Cooking line", "antelope-park-es", (STOVE,), (CAMERA,))]


def test_pairing_joins_cameras_of_one_area_and_takes_the_nearest_area() -> None:
    views = [KitchenView("cam-a", "s1", "Line", 0.0, 0.0), KitchenView("cam-b", "s1", "Line", 0.0001, 0.0),
             KitchenView("cam-c", "s1", "Bakery", 0.0002, 0.0), KitchenView("cam-x", "s2", "Line", 0.0, 0.0)]
    sensors = [TemperatureSensor("t-line", "s1", 0.00002, 0.0), TemperatureSensor("t-bake", "s1", 0.00019, 0.0),
               TemperatureSensor("t-far", "s1", 0.01, 0.0)]
    zones = pair_kitchens(sensors, views)
    assert [(z.id, z.sensor_ids, z.camera_ids) for z in zones] == [
        ("s1/Bakery", ("t-bake",), ("cam-c",)), ("s1/Line", ("t-line",), ("cam-a", "cam-b"))]


def test_a_hot_stove_with_nobody_seen_for_ten_minutes_is_one_incident(service: AlertService, db: str) -> None:
    hot_stove(db)
    assert service.watch_cooking(NOW) == 1
    assert service.watch_cooking(NOW + timedelta(seconds=10)) == 0  # one signal per unattended stretch
    assert scalar(db, "SELECT count(*) FROM incidents") == 1
    assert scalar(db, "SELECT type || '/' || severity || '/' || title FROM incidents") == (
        "unattended_cooking/high/Unattended cooking: Cooking line")
    # A restarted service rebuilds its state from history and finds the signal already decided.
    again = AlertService(db, load_rules(), EscalationPolicy(), [], cooking=CookingWatch(absent_min=10))
    assert again.watch_cooking(NOW + timedelta(seconds=20)) == 0
    assert scalar(db, "SELECT count(*) FROM incidents") == 1


def test_a_person_seen_in_the_kitchen_zone_means_no_incident(service: AlertService, db: str) -> None:
    hot_stove(db)
    sighting(db, 3, "Cooking line")
    assert service.watch_cooking(NOW) == 0
    assert scalar(db, "SELECT count(*) FROM incidents") == 0


def test_a_person_in_another_zone_of_the_camera_does_not_count(service: AlertService, db: str) -> None:
    hot_stove(db)
    sighting(db, 3, "Cold room door")
    assert service.watch_cooking(NOW) == 1
    assert scalar(db, "SELECT count(*) FROM incidents WHERE type = 'unattended_cooking'") == 1


def test_a_stove_not_hot_long_enough_is_no_incident(service: AlertService, db: str) -> None:
    hot_stove(db, minutes=5)
    assert service.watch_cooking(NOW) == 0
    assert scalar(db, "SELECT count(*) FROM incidents") == 0
