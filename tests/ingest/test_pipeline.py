"""The ingest pipeline end to end: real Mosquitto, real HTTP, real PostgreSQL, asserting on stored rows."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from campusguard.settings import Settings
from ingest.worker import Worker
from store.channels import PANIC_CHANNEL
from tests.support.ingest import (
    ingest_settings,
    prepare_database,
    publish,
    running_worker,
    scalar,
    wait_for,
)
from tests.support.mqtt import PrivateBroker

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def db(fresh_database_url: str) -> str:
    prepare_database(fresh_database_url)
    return fresh_database_url


@pytest.fixture
def settings(db: str, private_mqtt: PrivateBroker, tmp_path: Path) -> Settings:
    # A broker of the test's own: the worker subscribes to every device topic, so a shared broker would hand
    # it other tests' traffic.
    return ingest_settings(db, private_mqtt.url, tmp_path)


@pytest.fixture
def worker(settings: Settings) -> Iterator[Worker]:
    with running_worker(settings) as running:
        yield running


def gps(device: str, seconds: int, lat: float = 40.80, school: str = "antelope-park-es") -> tuple[str, bytes]:
    body = {"ts": (NOW + timedelta(seconds=seconds)).isoformat(), "lat": lat, "lon": -96.69, "speed_kmh": 30.0}
    return f"campusguard/v1/{school}/gps/{device}", json.dumps(body).encode()


def count(url: str, query: str, *params: object) -> int:
    value = scalar(url, query, *params)
    assert isinstance(value, int)
    return value


def test_every_format_reaches_its_table(worker: Worker, settings: Settings, db: str) -> None:
    port = settings.ingest.http_port
    publish(settings.mqtt_url, [
        gps("bus-01-gps", 0),
        ("owntracks/leah-wang/phone",
         json.dumps({"_type": "location", "lat": 40.801, "lon": -96.689, "tst": int(NOW.timestamp()), "vel": 4,
                     "batt": 76, "acc": 8}).encode()),
        ("zigbee2mqtt/antelope-park/kitchen_freezer_temp",
         json.dumps({"temperature": -18.5, "humidity": 40, "battery": 90, "linkquality": 120}).encode()),
        ("zigbee2mqtt/antelope-park/principal_badge", json.dumps({"action": "single", "battery": 88}).encode()),
    ])
    query = f"id=19d28517282c40f9f30b&lat=40.79&lon=-96.63&timestamp={int(NOW.timestamp())}&speed=10&bearing=90&batt=87"
    assert httpx.get(f"http://127.0.0.1:{port}/?{query}").status_code == 200
    traccar_json = {"device_id": "19d28517282c40f9f30b", "location": {
        "timestamp": (NOW + timedelta(seconds=5)).isoformat(), "coords": {
            "latitude": 40.791, "longitude": -96.631, "speed": 5.0, "heading": 90, "accuracy": 4}}}
    assert httpx.post(f"http://127.0.0.1:{port}/", json=traccar_json).status_code == 200

    wait_for(lambda: count(db, "SELECT count(*) FROM positions") == 4, 20, "four positions")
    wait_for(lambda: count(db, "SELECT count(*) FROM sensor_readings") == 2, 20, "two readings")
    wait_for(lambda: count(db, "SELECT count(*) FROM device_events WHERE kind = 'button'") == 1, 20, "a button")
    assert scalar(db, "SELECT source FROM positions WHERE device_id = 'leah-wang-phone'") == "owntracks"
    speed = scalar(db, "SELECT speed_kmh FROM positions WHERE device_id = 'bus-04-osmand' AND time = %s", NOW)
    assert speed == pytest.approx(18.52, abs=0.01)  # OsmAnd speed is in knots
    # "single" is not a panic action of the principal's badge (double, hold): a button event, no panic.
    assert count(db, "SELECT count(*) FROM device_events WHERE kind = 'panic'") == 0
    assert scalar(db, "SELECT battery_pct FROM device_liveness WHERE device_id = 'antelope-park-kitchen-freezer'"
                      " OR device_id LIKE 'antelope-park-%%freezer%%'") == 90


def test_a_panic_is_announced_once_ahead_of_the_batch(worker: Worker, settings: Settings, db: str) -> None:
    received: list[dict[str, object]] = []
    listening = threading.Event()

    def listen() -> None:
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute(f"LISTEN {PANIC_CHANNEL}")
            listening.set()
            for note in conn.notifies(timeout=20, stop_after=1):
                received.append(json.loads(note.payload))

    listener = threading.Thread(target=listen)
    listener.start()
    listening.wait(10)
    publish(settings.mqtt_url, [
        ("zigbee2mqtt/antelope-park/office_panic_1", json.dumps({"action": "hold", "battery": 95}).encode())])
    listener.join(timeout=30)
    assert received and received[0]["device_id"] == "antelope-park-office-panic-1"
    assert received[0]["school_id"] == "antelope-park-es" and received[0]["action"] == "hold"
    # The processor records the same press again from the spool; the key keeps it one event.
    wait_for(lambda: worker.spool.depth() == 0, 20, "the spool to drain")
    assert count(db, "SELECT count(*) FROM device_events WHERE kind = 'panic'") == 1


def test_bad_input_is_dead_lettered_and_good_input_beside_it_is_stored(
    worker: Worker, settings: Settings, db: str
) -> None:
    bad = [
        ("campusguard/v1/antelope-park-es/gps/bus-01-gps", b"{not json"),
        ("campusguard/v1/antelope-park-es/gps/bus-01-gps", json.dumps({"ts": NOW.isoformat(), "lat": 95,
                                                                        "lon": 0}).encode()),
        ("campusguard/v1/antelope-park-es/gps/bus-01-gps",
         json.dumps({"ts": (NOW + timedelta(days=2)).isoformat(), "lat": 40.8, "lon": -96.7}).encode()),
        ("owntracks/leah-wang/phone", json.dumps({"_type": "transition", "event": "enter"}).encode()),
        ("zigbee2mqtt/antelope-park/office_panic_1", b"\xff\xfe"),
        ("campusguard/v1/antelope-park-es/gps/bus-01-gps", b"x" * 20000),
    ]
    good = [gps("bus-01-gps", i) for i in range(20)]
    publish(settings.mqtt_url, good[:10] + bad + good[10:])
    wait_for(lambda: count(db, "SELECT count(*) FROM dead_letters") == len(bad), 20, "the dead letters")
    wait_for(lambda: count(db, "SELECT count(*) FROM positions") == len(good), 20, "the good fixes")
    with psycopg.connect(db) as conn:
        reasons = {r for r, in conn.execute("SELECT reason FROM dead_letters").fetchall()}
    assert reasons == {"invalid_json", "out_of_range", "future_timestamp", "unsupported_message", "bad_encoding",
                       "oversized"}
    assert scalar(db, "SELECT payload FROM dead_letters WHERE reason = 'invalid_json'") == b"{not json"


def test_unknown_devices_are_counted_not_dropped(worker: Worker, settings: Settings, db: str) -> None:
    publish(settings.mqtt_url, [gps("stranger-1", i) for i in range(5)] + [gps("stranger-2", 0)])
    wait_for(lambda: count(db, "SELECT coalesce(sum(messages), 0)::int FROM unregistered_devices") == 6, 20,
             "the unregistered counts")
    assert scalar(db, "SELECT messages FROM unregistered_devices WHERE external_id = 'stranger-1'") == 5
    assert count(db, "SELECT count(*) FROM positions") == 0


def test_late_fixes_are_stored_and_do_not_move_the_current_position(
    worker: Worker, settings: Settings, db: str
) -> None:
    publish(settings.mqtt_url, [gps("bus-01-gps", 60, lat=40.81)])
    wait_for(lambda: count(db, "SELECT count(*) FROM positions") == 1, 20, "the first fix")
    publish(settings.mqtt_url, [gps("bus-01-gps", 0, lat=40.70)])
    wait_for(lambda: count(db, "SELECT count(*) FROM positions") == 2, 20, "the late fix")
    assert scalar(db, "SELECT lat FROM latest_positions WHERE device_id = 'bus-01-gps'") == 40.81


def test_silence_takes_a_device_offline_and_a_message_brings_it_back(
    worker: Worker, settings: Settings, db: str
) -> None:
    publish(settings.mqtt_url, [gps("bus-01-gps", 0)])
    wait_for(lambda: count(db, "SELECT count(*) FROM device_liveness") == 1, 20, "liveness")
    later = datetime.now(UTC) + timedelta(seconds=settings.ingest.offline_after_s["bus_tracker"] + 1)
    assert worker.processor.sweep(settings.ingest.offline_after_s, now=later) == 1
    assert worker.processor.sweep(settings.ingest.offline_after_s, now=later) == 0  # flipped once only
    publish(settings.mqtt_url, [gps("bus-01-gps", 10)])
    wait_for(lambda: count(db, "SELECT count(*) FROM device_events WHERE kind = 'online'") == 1, 20, "online")
    assert count(db, "SELECT count(*) FROM device_events WHERE kind = 'offline'") == 1


def test_low_battery_alerts_once_until_the_battery_recovers(worker: Worker, settings: Settings, db: str) -> None:
    topic = "zigbee2mqtt/antelope-park/gym_panic"
    levels = [50, 15, 12, 25, 10, 80, 14]
    for level in levels:  # one at a time: each message is a separate observation
        publish(settings.mqtt_url, [(topic, json.dumps({"battery": level, "linkquality": 90}).encode())])
        wait_for(lambda lv=level: scalar(db, "SELECT battery_pct FROM device_liveness") == lv, 20, "battery")
    # Low at 15; 12, 25 and 10 stay low (not back over 30); 80 re-arms; 14 is low again.
    assert count(db, "SELECT count(*) FROM device_events WHERE kind = 'low_battery'") == 2


def test_mosquitto_pub_from_the_command_line(worker: Worker, settings: Settings, db: str) -> None:
    host_port = settings.mqtt_url.removeprefix("mqtt://").split("@")[-1]
    host, port = host_port.split(":")
    topic, payload = gps("bus-02-gps", 0, school="antelope-park-es")
    subprocess.run(["mosquitto_pub", "-h", host, "-p", port, "-q", "1", "-V", "mqttv5", "-t", topic,
                    "-m", payload.decode()], check=True, timeout=30)
    wait_for(lambda: count(db, "SELECT count(*) FROM positions WHERE device_id = 'bus-02-gps'") == 1, 20, "a fix")


def test_a_taken_metrics_port_never_stops_a_worker_from_storing(db: str, private_mqtt: PrivateBroker,
                                                                tmp_path: Path) -> None:
    # Before, start_http_server's OSError ended the worker; its supervisor restarted it, and it ended again,
    # forever, with its spool never drained.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = ingest_settings(db, private_mqtt.url, tmp_path, metrics_port=taken.getsockname()[1])
        with running_worker(settings):
            publish(settings.mqtt_url, [gps("bus-01-gps", 30)])
            wait_for(lambda: count(db, "SELECT count(*) FROM positions") == 1, 20, "the fix stored")
