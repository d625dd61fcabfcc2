"""Sending what simulated devices say: MQTT through paho (v2 API, MQTT v5) and OsmAnd over HTTP.

paho reconnects by itself and keeps QoS 1 messages queued while the broker is away (``max_queued`` 0 is
unbounded), so a broker restart during a simulation loses nothing. The OsmAnd sender is plain ``urllib``,
with a short timeout; a refused request is counted and logged, not retried, as Traccar Client would buffer
it but the next position five seconds later supersedes it for the live map anyway.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from campusguard.simulate.model import HttpRequest, MqttMessage, Outgoing
from domain.broker import parse_broker_url

log = logging.getLogger(__name__)


class MqttPublisher:
    """A device fleet's MQTT connection."""

    def __init__(self, url: str) -> None:
        """Start connecting in the background; :meth:`wait_connected` tells when it is up."""
        address = parse_broker_url(url)
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"campusguard-sim-{uuid.uuid4().hex[:8]}",
                                   protocol=MQTTProtocolVersion.MQTTv5)
        address.configure(self._client)
        self._client.max_inflight_messages_set(500)
        self._client.max_queued_messages_set(0)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.connected = threading.Event()
        self._client.on_connect = lambda *_: self.connected.set()
        self._client.on_disconnect = lambda *_: self.connected.clear()
        self._infos: list[mqtt.MQTTMessageInfo] = []
        self._prune_at = 10_000
        self._client.connect_async(address.host, address.port)
        self._client.loop_start()

    def wait_connected(self, seconds: float) -> bool:
        """Wait for the first connection."""
        return self.connected.wait(seconds)

    def publish(self, message: MqttMessage) -> None:
        """Queue a message (paho sends it now, or after reconnecting)."""
        info = self._client.publish(message.topic, message.payload, qos=message.qos)
        if message.qos:
            self._infos.append(info)
        if len(self._infos) > self._prune_at:
            self._infos = [i for i in self._infos if not _acked(i)]
            # With the broker away nothing is acknowledged; pruning again only once the list has doubled keeps
            # the cost per publish constant instead of rescanning a growing backlog on every message.
            self._prune_at = max(10_000, 2 * len(self._infos))

    def pending(self) -> int:
        """Count QoS 1 messages the broker has not acknowledged yet."""
        self._infos = [i for i in self._infos if not _acked(i)]
        return len(self._infos)

    def close(self, wait_s: float = 30.0) -> None:
        """Wait (bounded) for outstanding acknowledgements, then disconnect."""
        deadline = time.monotonic() + wait_s
        for info in self._infos:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if not _acked(info):
                try:
                    info.wait_for_publish(left)
                except (RuntimeError, ValueError):  # never queued, or the connection is gone for good
                    break
        self._client.disconnect()
        self._client.loop_stop()


def _acked(info: mqtt.MQTTMessageInfo) -> bool:
    # A QoS 1 message published while disconnected is queued for the reconnect, but paho's is_published()
    # raises for it (its rc says "not connected"): it is pending, not lost.
    try:
        return info.is_published()
    except RuntimeError:
        return False


class OsmandSender:
    """Traccar Client's side of the OsmAnd protocol: one GET per position."""

    def __init__(self, base_url: str, timeout_s: float = 5.0) -> None:
        """Send to ``base_url`` (``http://host:5055/``)."""
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout_s = timeout_s
        self.failures: Counter[str] = Counter()

    def send(self, request: HttpRequest) -> bool:
        """Send one request; False (counted, logged once per reason) when the listener refused it."""
        url = f"{self.base_url}?{request.query}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as response:  # noqa: S310 - http(s) by config
                return 200 <= int(response.status) < 300
        except urllib.error.HTTPError as error:
            reason = f"HTTP {error.code}"
        except (urllib.error.URLError, OSError) as error:
            reason = type(error).__name__
        if not self.failures[reason]:
            log.warning("OsmAnd request to %s failed: %s", self.base_url, reason)
        self.failures[reason] += 1
        return False


class Transports:
    """Both senders behind one ``send``, with counts per protocol for the progress line."""

    def __init__(self, mqtt_url: str, http_url: str) -> None:
        """Open both."""
        self.mqtt = MqttPublisher(mqtt_url)
        self.http = OsmandSender(http_url)
        self.sent: Counter[str] = Counter()

    def send(self, item: Outgoing) -> None:
        """Send one message on its transport."""
        if isinstance(item, MqttMessage):
            self.mqtt.publish(item)
            self.sent[item.topic.split("/", 1)[0]] += 1
        elif self.http.send(item):
            self.sent["osmand"] += 1

    def close(self) -> None:
        """Flush and close."""
        self.mqtt.close()
