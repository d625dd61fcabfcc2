"""Helpers for ingest tests: settings for a test worker, a worker on a thread, publishing, waiting."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from campusguard.settings import Mode, Settings
from devtools.devservices import free_port
from domain.broker import parse_broker_url
from domain.site.validate import load_site as read_site
from ingest.config import IngestSettings
from ingest.worker import Worker, WorkerOptions
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.site_repo import load_site
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "district.yaml"


def prepare_database(url: str, password: str | None = None) -> None:
    """Migrate and load the example district; with ``password``, every person signs in with it."""
    with psycopg.connect(url) as conn:
        migrate(conn, StorageBackend.AUTO, RetentionSettings())
        load_site(conn, read_site(EXAMPLE))
        if password is not None:
            from command_ui.routers.auth import HASHER

            conn.execute("UPDATE users SET password_hash = %s", (HASHER.hash(password),))


def ingest_settings(database_url: str, mqtt_url: str, data_dir: Path, **ingest: object) -> Settings:
    """Settings for a test worker: its own MQTT session and share group, its own ports, no metrics server."""
    tag = uuid.uuid4().hex[:8]
    options: dict[str, object] = {"client_id": f"cg-test-{tag}", "share_group": f"cgtest{tag}",
                                  "http_port": free_port(), "metrics_port": 0, "flush_ms": 20}
    options.update(ingest)
    return Settings(mode=Mode.PRODUCTION, database_url=database_url, mqtt_url=mqtt_url, data_dir=data_dir,
                    secret_key=TEST_SECRET_KEY, admin_password=TEST_ADMIN_PASSWORD,
                    ingest=IngestSettings(**options))


@contextlib.contextmanager
def running_worker(settings: Settings, index: int = 0, serve_http: bool = True) -> Iterator[Worker]:
    """Run a worker on a thread until the block ends, then drain it and forget its MQTT session."""
    worker = Worker(settings, WorkerOptions(index=index, serve_http=serve_http))
    thread = threading.Thread(target=worker.run, name=f"test-worker-{index}")
    thread.start()
    try:
        mqtt = worker.mqtt
        assert mqtt is not None, "a test worker always has its MQTT source"
        wait_for(mqtt.connected.is_set, 20, "the worker's MQTT connection")
        if worker.http is not None:
            wait_for(lambda: worker.http is not None and worker.http.started, 20, "the OsmAnd listener")
        time.sleep(0.3)  # let the SUBACK land before the test publishes
        yield worker
    finally:
        worker.stop()
        thread.join(timeout=120)
        for lane_suffix in ("", "-p"):  # the bulk and the priority lane's sessions
            forget_session(settings.mqtt_url, f"{settings.ingest.client_id}-{index}{lane_suffix}")


def forget_session(url: str, client_id: str) -> None:
    """End a persistent MQTT session so the broker stops queueing for it."""
    endpoint = parse_broker_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0
    with contextlib.suppress(OSError):
        client.connect(endpoint.host, endpoint.port, clean_start=True, properties=props)
        client.loop_start()
        time.sleep(0.2)
        client.disconnect()
        client.loop_stop()


def publish(url: str, messages: Iterable[tuple[str, bytes]], qos: int = 1) -> int:
    """Publish (topic, payload) pairs with QoS 1 and wait until the broker has each; returns the count."""
    endpoint = parse_broker_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"cg-pub-{uuid.uuid4().hex[:8]}",
                         protocol=MQTTProtocolVersion.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=qos) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(60)
        return len(infos)
    finally:
        client.disconnect()
        client.loop_stop()


def wait_for(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``predicate`` until it holds; fail with ``what`` after ``seconds`` (bounded, never a timing assert)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def scalar(url: str, query: str, *params: object) -> object:
    """Run a one-value query."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query, params or None).fetchone()
    return None if row is None else row[0]


class ReliablePublisher:
    """A device fleet's view of MQTT: QoS 1 with a persistent session, so publishes survive a broker restart."""

    def __init__(self, url: str) -> None:
        """Connect (paho reconnects by itself after a broker restart)."""
        endpoint = parse_broker_url(url)
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"cg-fleet-{uuid.uuid4().hex[:8]}",
                                   protocol=MQTTProtocolVersion.MQTTv5)
        self._client.max_inflight_messages_set(200)
        self._client.max_queued_messages_set(0)
        self._client.reconnect_delay_set(min_delay=1, max_delay=2)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 600
        self._client.connect(endpoint.host, endpoint.port, clean_start=False, properties=props)
        self._client.loop_start()
        self._infos: list[mqtt.MQTTMessageInfo] = []

    def send(self, messages: Iterable[tuple[str, bytes]]) -> None:
        """Queue messages; paho keeps QoS 1 messages until the broker acknowledges them."""
        self._infos.extend(self._client.publish(topic, payload, qos=1) for topic, payload in messages)

    def wait_all(self, seconds: float = 120) -> int:
        """Wait until the broker acknowledged every message; returns how many were sent."""
        wait_for(lambda: all(info.is_published() for info in self._infos), seconds, "the broker's PUBACKs")
        return len(self._infos)

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()
