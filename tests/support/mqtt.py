"""A publish/subscribe round trip through an MQTT broker, to prove a broker really works."""

from __future__ import annotations

import queue
import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from campusguard.devservices import MqttEndpoint


def round_trip(url: str, payload: bytes = b"ping", timeout: float = 10.0) -> bytes:
    """Subscribe to a fresh topic, publish ``payload`` to it and return what came back."""
    endpoint = MqttEndpoint.parse(url)
    topic = f"campusguard/test/{uuid.uuid4().hex}"
    connected = threading.Event()
    subscribed = threading.Event()
    received: queue.Queue[bytes] = queue.Queue()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"cg-test-{uuid.uuid4().hex[:8]}")
    client.on_connect = lambda *_: connected.set()
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _client, _userdata, message: received.put(bytes(message.payload))
    if endpoint.username is not None:
        client.username_pw_set(endpoint.username, endpoint.password)
    client.connect(endpoint.host, endpoint.port, keepalive=30)
    client.loop_start()
    try:
        if not connected.wait(timeout):
            raise TimeoutError(f"no CONNACK from {endpoint.host}:{endpoint.port}")
        client.subscribe(topic, qos=1)
        if not subscribed.wait(timeout):
            raise TimeoutError("no SUBACK")
        client.publish(topic, payload, qos=1).wait_for_publish(timeout)
        return received.get(timeout=timeout)
    finally:
        client.disconnect()
        client.loop_stop()
