"""A siren gateway for tests: subscribes to the alert topics on a real broker and keeps what it hears."""

from __future__ import annotations

import json
import queue
import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from domain.broker import parse_broker_url


class Siren:
    """A siren gateway: subscribes to the alert topics and keeps what it hears."""

    def __init__(self, url: str) -> None:
        endpoint = parse_broker_url(url)
        self.heard: queue.Queue[dict[str, object]] = queue.Queue()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"siren-{uuid.uuid4().hex[:6]}")
        self.client.on_connect = lambda c, *_: c.subscribe("campusguard/alerts/v1/#", qos=1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.heard.put(json.loads(m.payload))
        self.client.connect(endpoint.host, endpoint.port)
        self.client.loop_start()
        subscribed.wait(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
