"""Handing over MQTT sessions that the running topology no longer owns, so nothing is stranded or doubled.

A persistent session outlives its client by a day: its subscriptions stay in the broker, which keeps queueing
for it. When the worker count or the subscription mode changes, sessions of the old layout would hold a share
of the stream (a worker retired from a shared group) or a whole copy of it (an exclusive session beside a
new one) until they expire. At start, the process that owns the broker side of the layout (the receiver, or
shared worker 0) resumes each such session once, unsubscribes it first (so no new message enters it), takes
what it still holds into the spool, acknowledges that, and ends the session (expiry 0). What it held is then
stored like anything else; a copy of a message the new session also received is a duplicate the database
key drops (and a press with no device time is deduplicated by its payload digest, see ``store.ingest_repo``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from domain.broker import parse_broker_url
from ingest.mqtt_source import SESSION_EXPIRY_S, lane_client_ids, subscriptions
from ingest.route import VIA_MQTT
from ingest.spool import Envelope, SpoolSink

log = logging.getLogger(__name__)

# The most workers the settings allow: every index below it may have had a session.
MAX_WORKERS = 64
# A session's queue is sent right after CONNACK; this much silence means it is empty.
QUIET_S = 0.5
CONNECT_TIMEOUT_S = 5.0
DRAIN_LIMIT_S = 60.0


def receiver_client_id(prefix: str) -> str:
    """Name the receiver's MQTT client id (its lanes add ``-p`` for the priority lane)."""
    return f"{prefix}-rx"


def worker_client_id(prefix: str, index: int) -> str:
    """Name a shared-mode worker's MQTT client id."""
    return f"{prefix}-{index}"


def retired_sessions(prefix: str, *, shared_workers: int | None) -> list[str]:
    """Client ids of every lane session the current layout does not own.

    ``shared_workers`` is the worker count in shared mode, or None in exclusive mode (one receiver).
    """
    owners = [worker_client_id(prefix, i) for i in range(MAX_WORKERS)] + [receiver_client_id(prefix)]
    owned = {receiver_client_id(prefix)} if shared_workers is None else {
        worker_client_id(prefix, i) for i in range(shared_workers)}
    return [lane_id for owner in owners if owner not in owned for lane_id in lane_client_ids(owner).values()]


def every_filter(share_group: str) -> list[str]:
    """Every subscription any layout may have made: plain and shared forms of both lanes' filters."""
    return list(dict.fromkeys(subscriptions(None) + subscriptions(share_group)))


def hand_over(broker_url: str, client_ids: Iterable[str], share_group: str, sink: SpoolSink,
              on_envelope: Callable[[Envelope], None] | None = None) -> int:
    """Take over and end each retired session; returns how many messages they still held (now spooled)."""
    filters = every_filter(share_group)
    taken = 0
    for client_id in client_ids:
        taken += _hand_over_one(broker_url, client_id, filters, sink, on_envelope)
    if taken:
        log.warning("ingest: took %d messages from retired MQTT sessions", taken)
    return taken


def _end_session(client: mqtt.Client) -> None:
    props = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0
    client.disconnect(properties=props)


def _hand_over_one(broker_url: str, client_id: str, filters: list[str], sink: SpoolSink,
                   on_envelope: Callable[[Envelope], None] | None) -> int:
    address = parse_broker_url(broker_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5,
                         manual_ack=True)
    address.configure(client)
    connected = threading.Event()
    unsubscribed = threading.Event()
    present = [False]
    lock = threading.Lock()
    received: list[tuple[Envelope, int, int]] = []
    last = [time.monotonic()]

    def on_connect(c: mqtt.Client, u: object, flags: mqtt.ConnectFlags, reason: ReasonCode, p: object) -> None:
        present[0] = not reason.is_failure and bool(flags.session_present)
        if present[0]:
            # Before anything else: no message published from now on enters this session.
            c.unsubscribe(filters)
        connected.set()

    def on_message(c: mqtt.Client, u: object, message: mqtt.MQTTMessage) -> None:
        envelope = Envelope(VIA_MQTT, message.topic, bytes(message.payload), datetime.now(UTC), maybe_copy=True)
        with lock:
            received.append((envelope, message.mid, message.qos))
            last[0] = time.monotonic()

    client.on_connect = on_connect
    client.on_message = on_message
    client.on_unsubscribe = lambda c, u, mid, codes, p: unsubscribed.set()
    # The session keeps its expiry while we drain it; only a complete drain ends it (DISCONNECT with expiry 0),
    # so a hand-over cut short leaves the rest for the next start.
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = SESSION_EXPIRY_S
    try:
        client.connect(address.host, address.port, keepalive=30, clean_start=False, properties=props)
    except OSError as exc:
        raise ConnectionError(f"MQTT broker unreachable for the session hand-over: {exc}") from exc
    client.loop_start()
    try:
        if not connected.wait(CONNECT_TIMEOUT_S):
            raise ConnectionError(f"no CONNACK for the hand-over of {client_id}")
        if not present[0]:
            _end_session(client)
            return 0
        unsubscribed.wait(CONNECT_TIMEOUT_S)
        # Spool and acknowledge as messages come: each acknowledgement lets the broker send more of the queue
        # (it keeps at most a receive-maximum of them in flight), until it has been quiet for a while.
        taken = 0
        deadline = time.monotonic() + DRAIN_LIMIT_S
        while time.monotonic() < deadline:
            time.sleep(0.05)
            with lock:
                batch, received[:] = list(received), []
                quiet = time.monotonic() - last[0] >= QUIET_S
            if batch:
                for envelope, _, _ in batch:
                    if on_envelope is not None:
                        on_envelope(envelope)
                sink.append([envelope for envelope, _, _ in batch])
                for _, mid, qos in batch:
                    if qos > 0:
                        client.ack(mid, qos)
                taken += len(batch)
            elif quiet:
                break
        else:
            raise TimeoutError(f"retired session {client_id} still sending after {DRAIN_LIMIT_S:.0f} s; kept")
        _end_session(client)
        log.info("ingest: ended retired MQTT session %s (%d messages taken over)", client_id, taken)
        return taken
    finally:
        if client.is_connected():
            client.disconnect()
        client.loop_stop()
        client._reset_sockets()

