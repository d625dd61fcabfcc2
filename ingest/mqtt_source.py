"""The MQTT listener: MQTT v5, QoS 1, a persistent session and a shared subscription per worker group.

A message is acknowledged (PUBACK) only after it is durably in the spool: paho runs with ``manual_ack`` and a
flusher thread appends what arrived in the last few milliseconds in one fsync, then acknowledges all of it.
Until then the broker keeps the message for this session and re-delivers it after a crash, so a SIGKILL
between arrival and spooling loses nothing. Panic presses are decoded on arrival and handed to the fast path
before they are even spooled.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import weakref
from datetime import UTC, datetime
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from domain.broker import parse_broker_url
from ingest import metrics
from ingest.decoders import REGISTRY, Limits
from ingest.directory import Directory
from ingest.messages import Rejection
from ingest.panic import PanicDispatcher
from ingest.route import VIA_MQTT, decode, panics_in
from ingest.spool import Envelope, SpoolSink

log = logging.getLogger(__name__)

# A session survives a worker restart by this long; the broker keeps its unacknowledged messages meanwhile.
SESSION_EXPIRY_S = 24 * 3600
# How many unacknowledged messages the broker may have in flight to us: enough to cover one spool fsync at
# tens of thousands of messages per second.
RECEIVE_MAXIMUM = 4000


# Panics travel on a connection of their own (the "priority" lane), so a press never waits behind a backlog of
# GPS fixes: in the broker's queue for our session, in the in-flight window that spool fsyncs hold open, or in
# the TCP stream. Zigbee2MQTT buttons share their prefix with sensors (low volume), so the whole prefix goes
# there; our schema's panic topic is also matched by the bulk lane's wildcard (kept, so a misspelt kind is
# still dead-lettered with its reason), and the database key makes the second copy a no-op.
PRIORITY_FILTERS = ("campusguard/v1/+/panic/+",)
Lane = Literal["bulk", "priority"]
LANES: tuple[Lane, ...] = ("bulk", "priority")
_RECEIVED = metrics.MESSAGES_RECEIVED.labels("mqtt")


def subscriptions(share_group: str | None, lane: Lane | None = None) -> list[str]:
    """List a worker's subscriptions (of one lane, or all): decoders' topic filters, shared when grouped."""
    prefix = f"$share/{share_group}/" if share_group else ""
    every = [f for d in REGISTRY.values() for f in d.topic_filters]
    priority = [f for f in every if f.startswith("zigbee2mqtt/")] + list(PRIORITY_FILTERS)
    bulk = [f for f in every if not f.startswith("zigbee2mqtt/")]
    chosen = {"bulk": bulk, "priority": priority, None: bulk + priority}[lane]
    return [f"{prefix}{f}" for f in dict.fromkeys(chosen)]


def lane_client_ids(client_id: str) -> dict[Lane, str]:
    """Name the MQTT client ids of a listener's two lanes (the bulk lane keeps the listener's own id)."""
    return {"bulk": client_id, "priority": f"{client_id}-p"}


class MqttListener:
    """Receives, spools and acknowledges on two connections (bulk and priority lanes); one per worker process."""

    def __init__(self, *, broker_url: str, client_id: str, share_group: str | None, spool: SpoolSink,
                 directory: Directory | None, panics: PanicDispatcher, limits: Limits,
                 on_spooled: threading.Event, flush_s: float = 0.005, lanes: tuple[Lane, ...] = LANES) -> None:
        """Prepare the client; :meth:`start` connects (``lanes``: only these, when another process has the rest)."""
        self._address = parse_broker_url(broker_url)
        self._share_group = share_group
        self._spool = spool
        self.directory = directory
        self._panics = panics
        self._limits = limits
        self._on_spooled = on_spooled
        self._flush_s = flush_s
        self._pending: list[tuple[Envelope, int, int, mqtt.Client]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._closing = False
        self.connected = threading.Event()
        self._up: set[Lane] = set()
        # The bulk lane keeps the worker's client id, so sessions from before the lanes carry on.
        self._clients: dict[Lane, mqtt.Client] = {
            lane: self._make_client(lane, lane_id) for lane, lane_id in lane_client_ids(client_id).items()
            if lane in lanes}
        self._client = self._clients.get("bulk") or self._clients["priority"]
        self._flusher = threading.Thread(target=self._flush_loop, name="spool-flusher", daemon=True)

    def _make_client(self, lane: Lane, client_id: str) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=MQTTProtocolVersion.MQTTv5, manual_ack=True)
        self._address.configure(client)
        # Callbacks reach the listener through a weak proxy: no listener <-> client cycle, so a dropped listener's
        # clients are freed (and their sockets closed) at once rather than by the cycle collector.
        me = weakref.proxy(self)
        client.on_connect = lambda c, u, f, r, p: me._on_connect(lane, c, f, r)
        client.on_disconnect = lambda c, u, f, r, p: me._on_disconnect(lane, r)
        client.on_message = lambda c, u, m: me._on_message(c, m)
        client.reconnect_delay_set(min_delay=1, max_delay=3)
        return client

    def start(self) -> None:
        """Connect both lanes (retrying in the background until the broker answers) and start receiving."""
        self._flusher.start()
        for client in self._clients.values():
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = SESSION_EXPIRY_S
            props.ReceiveMaximum = RECEIVE_MAXIMUM
            client.connect_async(self._address.host, self._address.port, keepalive=30, clean_start=False,
                                 properties=props)
            client.loop_start()

    def stop(self) -> None:
        """Disconnect, then spool and acknowledge what already arrived."""
        self._closing = True
        for client in self._clients.values():
            client.disconnect()
            client.loop_stop()
            # paho closes its wake-up socket pair only when the client is freed; close it now, so a stopped
            # listener holds no sockets whatever still refers to it.
            client._reset_sockets()
        self._stop.set()
        self._flusher.join(timeout=10)

    def publish_feed(self, payloads: dict[str, bytes], timeout_s: float = 10.0) -> bool:
        """Publish internal feed messages with QoS 1 on the bulk lane; True once the broker has all of them."""
        return publish_all(self._client, payloads, timeout_s)

    def _on_connect(self, lane: Lane, client: mqtt.Client, flags: mqtt.ConnectFlags, reason: ReasonCode) -> None:
        if reason.is_failure:
            log.error("MQTT connection refused (%s lane): %s", lane, reason)
            return
        # Subscribing again on a resumed session is harmless and covers a broker that lost its state.
        options = SubscribeOptions(qos=1)
        client.subscribe([(topic, options) for topic in subscriptions(self._share_group, lane)])
        log.info("MQTT %s lane connected (session present: %s)", lane, flags.session_present)
        with self._lock:
            self._up.add(lane)
            if len(self._up) == len(self._clients):
                self.connected.set()

    def _on_disconnect(self, lane: Lane, reason: ReasonCode) -> None:
        with self._lock:
            self._up.discard(lane)
        self.connected.clear()
        if not self._closing:
            log.warning("MQTT %s lane disconnected (%s); reconnecting", lane, reason)

    def _on_message(self, client: mqtt.Client, message: mqtt.MQTTMessage) -> None:
        envelope = Envelope(VIA_MQTT, message.topic, bytes(message.payload), datetime.now(UTC), bool(message.dup))
        self.offer_panic(envelope)
        with self._lock:
            self._pending.append((envelope, message.mid, message.qos, client))

    def offer_panic(self, envelope: Envelope) -> None:
        """Hand a press to the fast path on arrival, before it is spooled (anything else is left to the writer)."""
        if self.directory is not None and _may_be_panic(envelope.topic):
            # A rejected payload is dead-lettered by the processor, with its reason.
            with contextlib.suppress(Rejection):
                self._panics.submit(panics_in(decode(envelope, self._limits), self.directory, envelope.maybe_copy))

    def _flush_loop(self) -> None:
        while True:
            stopping = self._stop.is_set()
            with self._lock:
                pending, self._pending = self._pending, []
            if pending:
                try:
                    self._spool.append([envelope for envelope, _, _, _ in pending])
                except (sqlite3.Error, OSError):
                    # A spool locked past its busy timeout (two processes append to it) or a full disk: none of
                    # these is acknowledged, so none is lost. The thread must not die (nothing would ever be
                    # acknowledged again while the process looked alive): keep them, in order, and try again. When
                    # stopping, the broker re-delivers them to the session's next connection instead.
                    log.exception("spooling %d messages failed; kept unacknowledged", len(pending))
                    if stopping:
                        return
                    with self._lock:
                        self._pending = pending + self._pending
                    self._stop.wait(1.0)
                    continue
                # Counted per flush: labels().inc() for every message cost the paho thread a few percent.
                _RECEIVED.inc(len(pending))
                self._on_spooled.set()
                for _, mid, qos, client in pending:
                    if qos > 0:
                        client.ack(mid, qos)
            elif stopping:
                return
            else:
                self._stop.wait(self._flush_s)


def publish_all(client: mqtt.Client, payloads: dict[str, bytes], timeout_s: float) -> bool:
    """Publish with QoS 1 and wait; True once the broker has every message."""
    infos = [client.publish(topic, payload, qos=1) for topic, payload in payloads.items()]
    try:
        for info in infos:
            info.wait_for_publish(timeout_s)
    except (RuntimeError, ValueError):
        return False
    return all(info.is_published() for info in infos)


def _may_be_panic(topic: str) -> bool:
    """Cheap test of whether a topic can carry a button press, so only those are decoded on arrival."""
    return topic.startswith("zigbee2mqtt/") or "/panic/" in topic


class FeedPublisher:
    """A writer's publish-only MQTT connection for the geo feed (a writer receives nothing from the broker).

    Its session is persistent (QoS 1 publishes the broker has not acknowledged are sent again after a broker
    restart) but subscribes to nothing, so a retired writer's session holds nothing for anyone.
    """

    def __init__(self, broker_url: str, client_id: str) -> None:
        """Prepare; :meth:`start` connects in the background."""
        self._address = parse_broker_url(broker_url)
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                   protocol=MQTTProtocolVersion.MQTTv5)
        self._address.configure(self._client)
        self._client.reconnect_delay_set(min_delay=1, max_delay=3)

    def start(self) -> None:
        """Connect, retrying in the background until the broker answers."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self._client.connect_async(self._address.host, self._address.port, keepalive=30, clean_start=False,
                                   properties=props)
        self._client.loop_start()

    def publish_feed(self, payloads: dict[str, bytes], timeout_s: float = 10.0) -> bool:
        """Publish internal feed messages with QoS 1; True once the broker has all of them."""
        return publish_all(self._client, payloads, timeout_s)

    def stop(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()
        self._client._reset_sockets()
