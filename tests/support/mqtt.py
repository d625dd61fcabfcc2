"""A publish/subscribe round trip through an MQTT broker, to prove a broker really works."""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devtools.devservices import MosquittoBroker, OsUser, find_mosquitto, free_port, is_root
from domain.broker import parse_broker_url


def round_trip(url: str, payload: bytes = b"ping", timeout: float = 10.0) -> bytes:
    """Subscribe to a fresh topic, publish ``payload`` to it and return what came back."""
    endpoint = parse_broker_url(url)
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


class PrivateBroker:
    """A Mosquitto of a test's own on a free port: isolated from other tests, and free to restart.

    It persists to disk, so a restart keeps persistent sessions and their queued messages, as a production
    broker configured for persistence would.
    """

    def __init__(self) -> None:
        """Start the broker."""
        owner = OsUser.lookup("mosquitto") if is_root() else None
        self._root = Path(tempfile.mkdtemp(prefix="cg-test-mqtt-"))
        if owner is not None:
            os.chown(self._root, owner.uid, owner.gid)
        self._broker = MosquittoBroker(binary=find_mosquitto(), root=self._root, port=free_port(), owner=owner)
        self._broker.start()

    @property
    def url(self) -> str:
        """The broker's URL."""
        return self._broker.url

    def restart(self) -> None:
        """Stop (saving its state) and start again on the same port."""
        self._broker.stop()
        self._broker.start()

    def stop(self) -> None:
        """Stop the broker."""
        self._broker.stop()

    def start(self) -> None:
        """Start it again after :meth:`stop`."""
        self._broker.start()

    def close(self) -> None:
        """Stop and delete its files."""
        self._broker.stop()
        shutil.rmtree(self._root, ignore_errors=True)
