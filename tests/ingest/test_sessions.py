"""Sessions the running layout does not own are taken over, emptied into the spool and ended, with a real broker.

Before, a session of a worker no longer running (the worker count lowered, or the layout changed) kept
receiving its share, or a whole copy, of the stream for the 24 hours of its expiry.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from domain.broker import parse_broker_url
from domain.messages import PanicPressed
from ingest.sessions import hand_over, retired_sessions
from ingest.spool import Spool
from store.ingest_repo import record_panics
from tests.support.ingest import prepare_database, publish, scalar, wait_for
from tests.support.mqtt import PrivateBroker


def test_the_retired_sessions_are_every_one_the_layout_does_not_own() -> None:
    exclusive = retired_sessions("cg", shared_workers=None)
    assert {"cg-0", "cg-0-p", "cg-1", "cg-63-p"} <= set(exclusive)
    assert "cg-rx" not in exclusive and "cg-rx-p" not in exclusive
    shared = retired_sessions("cg", shared_workers=2)
    assert {"cg-rx", "cg-rx-p", "cg-2", "cg-2-p"} <= set(shared)
    assert not {"cg-0", "cg-1", "cg-1-p"} & set(shared)


def connect(url: str, client_id: str, expiry: int = 3600) -> tuple[mqtt.Client, bool]:
    endpoint = parse_broker_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
    present: list[bool] = []
    client.on_connect = lambda c, u, flags, reason, p: present.append(bool(flags.session_present))
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = expiry
    client.connect(endpoint.host, endpoint.port, clean_start=False, properties=props)
    client.loop_start()
    wait_for(lambda: bool(present), 10, "CONNACK")
    return client, present[0]


def test_a_retired_shared_workers_queue_is_spooled_and_its_session_ended(private_mqtt: PrivateBroker,
                                                                         tmp_path: Path) -> None:
    prefix, group = f"cg-t-{uuid.uuid4().hex[:6]}", f"g{uuid.uuid4().hex[:6]}"
    # Worker 1 of an old shared layout: subscribed in the group, then gone.
    old, _ = connect(private_mqtt.url, f"{prefix}-1")
    old.subscribe(f"$share/{group}/campusguard/v1/+/gps/+", qos=1)
    time.sleep(0.3)
    old.disconnect()
    old.loop_stop()
    sent = [(f"campusguard/v1/s/gps/dev-{n % 3}", f"fix {n}".encode()) for n in range(50)]
    publish(private_mqtt.url, sent)
    spool = Spool(tmp_path / "spool.sqlite")
    taken = hand_over(private_mqtt.url, retired_sessions(prefix, shared_workers=None), group, spool)
    assert taken == 50
    items = spool.peek(100)
    assert sorted(i.envelope.payload for i in items) == sorted(p for _, p in sent)
    assert all(i.envelope.maybe_copy for i in items)  # the new session may have had them too
    publish(private_mqtt.url, sent[:5])
    again, present = connect(private_mqtt.url, f"{prefix}-1", expiry=0)
    again.disconnect()
    again.loop_stop()
    assert not present  # ended: no subscription left to strand a share of the stream
    spool.close()


def test_a_copy_of_a_press_without_device_time_is_stored_once_and_a_real_second_press_twice(
        fresh_database_url: str) -> None:
    url = fresh_database_url
    prepare_database(url)
    device = "antelope-park-office-panic-1"
    first = datetime.now(UTC).replace(microsecond=0)
    press = PanicPressed(device, "antelope-park-es", first, first, "single", "zigbee2mqtt", digest="d1")
    # The broker re-delivers it a second later (DUP set): another arrival time, the same payload.
    later, much_later = first + timedelta(seconds=1), first + timedelta(seconds=3)
    copy = PanicPressed(device, "antelope-park-es", later, later, "single", "zigbee2mqtt", digest="d1",
                        maybe_copy=True)
    # A real second press: same payload, but the broker delivered it once (no DUP).
    second = PanicPressed(device, "antelope-park-es", much_later, much_later, "single", "zigbee2mqtt",
                          digest="d1")
    with psycopg.connect(url, autocommit=True) as conn:
        assert record_panics(conn, [press]) == [press]
        assert record_panics(conn, [copy]) == []
        assert record_panics(conn, [second]) == [second]
    assert scalar(url, "SELECT count(*) FROM device_events WHERE kind = 'panic' AND device_id = %s", device) == 2
