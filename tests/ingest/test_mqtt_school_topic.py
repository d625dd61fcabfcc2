"""Our schema's ``{school}`` level is checked against the device's school: real Mosquitto, real PostgreSQL.

A message under another school's topic is dead-lettered (``school_mismatch``), counted and never stored, but a
panic: that is raised all the same, for the device's own school, with the dead letter beside it (docs/mqtt.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from campusguard.settings import Settings
from ingest.decoders import Limits
from ingest.directory import build_directory
from ingest.route import VIA_MQTT, route_batch
from ingest.spool import Envelope, Spooled
from ingest.worker import Worker
from tests.support.ingest import ingest_settings, prepare_database, publish, running_worker, scalar, wait_for
from tests.support.mqtt import PrivateBroker

NOW = datetime.now(UTC).replace(microsecond=0)
HOME, OTHER = "antelope-park-es", "holdrege-es"  # bus-01 and the nurse's button are Antelope Park's


@pytest.fixture
def db(fresh_database_url: str) -> str:
    prepare_database(fresh_database_url)
    return fresh_database_url


@pytest.fixture
def settings(db: str, private_mqtt: PrivateBroker, tmp_path: Path) -> Settings:
    return ingest_settings(db, private_mqtt.url, tmp_path)


@pytest.fixture
def worker(settings: Settings) -> Iterator[Worker]:
    with running_worker(settings, serve_http=False) as running:
        yield running


def message(school: str, kind: str, device: str, seconds: int = 0, **fields: object) -> tuple[str, bytes]:
    body = {"ts": (NOW + timedelta(seconds=seconds)).isoformat(), **fields}
    return f"campusguard/v1/{school}/{kind}/{device}", json.dumps(body).encode()


def mismatches_counted() -> float:
    return REGISTRY.get_sample_value("campusguard_ingest_dead_letters_total", {"reason": "school_mismatch"}) or 0.0


def count(url: str, query: str, *params: object) -> int:
    value = scalar(url, query, *params)
    assert isinstance(value, int)
    return value


def test_a_fix_under_another_schools_topic_is_dead_lettered_and_counted_not_stored(
    worker: Worker, settings: Settings, db: str
) -> None:
    counted = mismatches_counted()
    publish(settings.mqtt_url, [
        message(OTHER, "gps", "bus-01-gps", 0, lat=40.80, lon=-96.69),
        message(OTHER, "heartbeat", "bus-01-gps", 1, batt=80),
        message(OTHER, "sensor", "bus-01-gps", 2, readings={"temperature": 20, "humidity": 40}),
        message(HOME, "gps", "bus-02-gps", 0, lat=40.81, lon=-96.69),  # beside them, in order: stored
    ])
    wait_for(lambda: count(db, "SELECT count(*) FROM positions") == 1, 20, "the good fix")
    wait_for(lambda: count(db, "SELECT count(*) FROM dead_letters") == 3, 20, "three dead letters")
    assert scalar(db, "SELECT device_id FROM positions") == "bus-02-gps"
    reasons = scalar(db, "SELECT array_agg(DISTINCT reason) FROM dead_letters")
    assert reasons == ["school_mismatch"]
    detail = scalar(db, "SELECT message FROM dead_letters WHERE position('/gps/' in topic) > 0")
    assert detail == f"device bus-01-gps belongs to {HOME}, not to {OTHER} of the topic"
    # Nothing of it is stored: no reading, no sign of life for the bus.
    assert count(db, "SELECT count(*) FROM sensor_readings") == 0
    assert count(db, "SELECT count(*) FROM device_liveness WHERE device_id = 'bus-01-gps'") == 0
    wait_for(lambda: mismatches_counted() - counted == 3, 10, "the dead letters counted")


def test_a_panic_under_another_schools_topic_is_raised_for_the_devices_own_school(
    worker: Worker, settings: Settings, db: str
) -> None:
    publish(settings.mqtt_url, [message(OTHER, "panic", "antelope-park-nurse-panic")])
    wait_for(lambda: count(db, "SELECT count(*) FROM device_events WHERE kind = 'panic'") == 1, 20, "the panic")
    assert scalar(db, "SELECT detail->>'school_id' FROM device_events WHERE kind = 'panic'") == HOME
    wait_for(lambda: count(db, "SELECT count(*) FROM dead_letters") >= 1, 20, "the dead letter beside it")
    wait_for(lambda: worker.spool is not None and worker.spool.depth() == 0, 20, "the spool to drain")
    # One letter per lane the press came in on (the bulk lane's wildcard sees the panic topic too).
    letters = scalar(db, "SELECT array_agg(DISTINCT reason || ': ' || message) FROM dead_letters")
    assert letters == [f"school_mismatch: device antelope-park-nurse-panic belongs to {HOME}, not to {OTHER} of "
                       f"the topic; its panic was raised for {HOME} all the same"]
    assert count(db, "SELECT count(*) FROM device_events WHERE kind = 'panic'") == 1  # once, not twice


def test_the_check_needs_a_known_device_with_a_school() -> None:
    """Pure routing: an unknown device is counted as unregistered, a device of no school is not checked."""
    directory = build_directory([
        {"id": "bus-01-gps", "school_id": HOME, "kind": "bus_tracker", "bus_id": "bus-01", "user_id": None,
         "source": "campusguard", "external_id": None, "config": None},
        {"id": "officer-phone", "school_id": None, "kind": "person_tracker", "bus_id": None, "user_id": "o",
         "source": "campusguard", "external_id": None, "config": None},
    ])
    batch = [Spooled(n, Envelope(VIA_MQTT, *message(OTHER, "gps", device, n, lat=40.8, lon=-96.7), NOW))
             for n, device in enumerate(["bus-01-gps", "officer-phone", "stranger"], start=1)]
    routed = route_batch(batch, directory, Limits())
    assert [letter.reason for letter in routed.dead_letters] == ["school_mismatch"]
    assert [position.device_id for position in routed.positions] == ["officer-phone"]
    assert list(routed.unregistered) == [("campusguard", "stranger")]
