"""Geo wired to ingest: a bus trip published over MQTT produces, in the database, exactly the golden events."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from domain.site import load_site
from geo.engine import GeoEngine
from geo.service import GeoService
from store.channels import GEO_CHANNEL
from store.feed import FEED_PREFIX
from tests.geo.test_golden_trip import EXPECTED, morning_trip
from tests.support.ingest import EXAMPLE, ingest_settings, prepare_database, publish, running_worker, wait_for
from tests.support.mqtt import PrivateBroker

pytestmark = pytest.mark.slow


@pytest.fixture
def engine() -> GeoEngine:
    return GeoEngine.from_site(load_site(EXAMPLE))


@pytest.fixture
def geo(engine: GeoEngine, fresh_database_url: str, private_mqtt: PrivateBroker,
        tmp_path: Path) -> Iterator[GeoService]:
    prepare_database(fresh_database_url)
    settings = ingest_settings(fresh_database_url, private_mqtt.url, tmp_path, max_age_s=10 * 365 * 86400)
    # No wall-clock ticks: the replayed trip is in the past, and its own fixes carry time forward.
    service = GeoService(settings, engine, list(range(settings.ingest.geo_shards)), "cg-test-geo", tick_s=1e9)
    thread = threading.Thread(target=service.run)
    thread.start()
    wait_for(service.connected.is_set, 20, "the geo service's connection")
    try:
        with running_worker(settings, serve_http=False):
            yield service
    finally:
        service.stop()
        thread.join(timeout=60)


def geo_events(url: str) -> list[tuple[str, dict[str, object]]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT kind, detail FROM device_events WHERE kind LIKE 'geo.%%' ORDER BY time, kind")
        return [(kind, detail) for kind, detail in rows.fetchall()]


def test_a_trip_over_mqtt_yields_the_golden_events_in_the_store(
    geo: GeoService, engine: GeoEngine, fresh_database_url: str, private_mqtt: PrivateBroker
) -> None:
    fixes = morning_trip(engine)
    notified: list[str] = []

    def listen() -> None:
        with psycopg.connect(fresh_database_url, autocommit=True) as conn:
            conn.execute(f"LISTEN {GEO_CHANNEL}")
            notified.extend(n.payload for n in conn.notifies(timeout=60, stop_after=len(EXPECTED)))

    listener = threading.Thread(target=listen)
    listener.start()
    messages = [(f"campusguard/v1/antelope-park-es/gps/{f.device_id}",
                 json.dumps({"ts": f.time.isoformat(), "lat": f.lat, "lon": f.lon,
                             "speed_kmh": f.speed_kmh}).encode()) for f in fixes]
    publish(private_mqtt.url, messages)
    wait_for(lambda: len(geo_events(fresh_database_url)) >= len(EXPECTED), 90, "the geo events")
    listener.join(timeout=60)
    stored = geo_events(fresh_database_url)
    expected_kinds = Counter("geo." + _snake(name) for name, _ in EXPECTED)
    assert Counter(kind for kind, _ in stored) == expected_kinds
    fences = sorted(str(d.get("fence_id")) for k, d in stored if k.startswith("geo.fence"))
    assert fences == sorted(f for n, f in EXPECTED if n.startswith("Fence"))
    assert len(notified) == len(EXPECTED)
    assert all(json.loads(n)["device_id"] == "bus-01-gps" for n in notified)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_a_feed_message_that_cannot_be_evaluated_fails_alone(
    geo: GeoService, engine: GeoEngine, fresh_database_url: str, private_mqtt: PrivateBroker
) -> None:
    # Not a list of objects: evaluating it raises AttributeError, which used to end the service (and the
    # broker re-delivered it to the restarted one, for ever).
    publish(private_mqtt.url, [(f"{FEED_PREFIX}/0", b'["not an object"]')])
    wait_for(lambda: geo.failed == 1, 30, "the bad message to be skipped")
    with psycopg.connect(fresh_database_url) as conn:
        letters = conn.execute("SELECT source, topic, reason, message, payload FROM dead_letters").fetchall()
    assert letters == [("geo", f"{FEED_PREFIX}/0", "feed_unreadable", "FeedError: a feed entry must be an object,"
                        " got str", b'["not an object"]')]
    messages = [(f"campusguard/v1/antelope-park-es/gps/{f.device_id}",
                 json.dumps({"ts": f.time.isoformat(), "lat": f.lat, "lon": f.lon,
                             "speed_kmh": f.speed_kmh}).encode()) for f in morning_trip(engine)]
    publish(private_mqtt.url, messages)
    wait_for(lambda: len(geo_events(fresh_database_url)) >= len(EXPECTED), 90, "the geo events after it")
