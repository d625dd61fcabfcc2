"""The MQTT notifier holds its connection between notifications, and replaces one the broker dropped.

A real Mosquitto of the test's own, restarted between two notifications: the second is still delivered.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.notifiers import build_notifier
from alerts.notifiers.base import Notification
from alerts.notifiers.mqtt_out import MqttNotifier
from domain.broker import parse_broker_url
from tests.support.mqtt import PrivateBroker

TOPIC = "campusguard/alerts/v1/antelope-park-es/critical"
FAST = {"attempts": 3, "initial_backoff_s": 0.01, "max_backoff_s": 0.05, "jitter_s": 0}
T0 = datetime(2024, 9, 2, 7, 30, tzinfo=UTC)


def notification(incident_id: int) -> Notification:
    return Notification(incident_id=incident_id, school_id="antelope-park-es", type="panic", severity="critical",
                        status="raised", title="Panic button pressed: front office", event="raised", at=T0,
                        opened_at=T0, lon=-96.69, lat=40.80, message="Office panic button 1 pressed.", level=0)


def subscribe(url: str, topic_filter: str) -> tuple[mqtt.Client, queue.Queue[mqtt.MQTTMessage]]:
    endpoint = parse_broker_url(url)
    got: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"siren-{uuid.uuid4().hex[:8]}")
    client.on_connect = lambda c, *_: c.subscribe(topic_filter, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _c, _u, message: got.put(message)
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    assert subscribed.wait(10)
    return client, got


def test_notifications_share_a_connection_and_survive_a_broker_restart(private_mqtt: PrivateBroker) -> None:
    with build_notifier({"type": "mqtt", "url": private_mqtt.url, "timeout_s": 3, "retry": FAST}) as notifier:
        assert isinstance(notifier, MqttNotifier)
        siren, got = subscribe(private_mqtt.url, TOPIC)
        try:
            first = notifier.send(notification(incident_id=1))
            held = notifier._session
            second = notifier.send(notification(incident_id=2))
            assert held is not None and notifier._session is held  # the second went out on the first's connection
            ids = [json.loads(got.get(timeout=10).payload)["incident"]["id"] for _ in range(2)]
        finally:
            siren.disconnect()
            siren.loop_stop()
        assert (first.ok, second.ok, ids) == (True, True, [1, 2])
        private_mqtt.restart()  # the held connection is now dead, whatever the notifier believes
        siren, got = subscribe(private_mqtt.url, TOPIC)
        try:
            third = notifier.send(notification(incident_id=3))
            heard = json.loads(got.get(timeout=10).payload)["incident"]["id"]
        finally:
            siren.disconnect()
            siren.loop_stop()
    assert third.ok and heard == 3
