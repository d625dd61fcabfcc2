"""The production broker configuration, loaded by a real Mosquitto: authentication and per-device ACLs.

The broker runs docker/mosquitto/mosquitto.conf with only its listener, file paths and log destination
rewritten for a test, and the real docker/mosquitto/acl. Every assertion is about what a client observes:
whether it may connect, and whether a message reaches a subscriber.

Non-delivery is proven without sleeping: after the message that must not arrive, an allowed "marker"
message follows on the same path, and Mosquitto, single-threaded, routes messages in the order it
acknowledged them. Once the marker is in, anything routed before it would be too.
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from devtools.devservices import find_mosquitto, free_port, is_root, port_open

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "docker" / "mosquitto" / "mosquitto.conf"
ACL = REPO / "docker" / "mosquitto" / "acl"
TIMEOUT = 10.0
SHARE_GROUP = "campusguard"  # settings.ingest.share_group's default

# One password per user of the test broker; the names follow the ACL file's conventions.
USERS = {
    "svc.ingest": "ingest-password-1",
    "svc.geo": "geo-password-1",
    "svc.alerts": "alerts-password-1",
    "svc.drill": "drill-password-1",
    "bridge.zigbee2mqtt": "z2m-password-1",
    "gateway.sirens": "sirens-password-1",
    "bus-12-gps": "bus12-password-1",
    "bus-7-gps": "bus7-password-1",
    "jane": "jane-password-1",
}
SCHOOL = "antelope-park"


@dataclass(frozen=True, slots=True)
class Broker:
    """Where the test broker listens."""

    host: str
    port: int


def _test_config(root: Path, port: int) -> str:
    """Rewrite the production config for a test: listener, file locations and logging, nothing else."""
    replaced = {
        "listener": f"listener {port} 127.0.0.1",
        "password_file": f"password_file {root / 'passwd'}",
        "acl_file": f"acl_file {ACL}",  # the real file, not a copy
        "persistence_location": f"persistence_location {root}/",
        "log_dest": f"log_dest file {root / 'mosquitto.log'}",
    }
    lines = []
    for line in CONF.read_text().splitlines():
        key = line.split(maxsplit=1)[0] if line.strip() else ""
        lines.append(replaced.get(key, line))
    if is_root():
        # Mosquitto started as root switches to the "mosquitto" account, which cannot read the test's
        # temporary files; in the container the image's entrypoint takes care of that instead.
        lines.append("user root")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """Start Mosquitto with the production configuration and a password file made by mosquitto_passwd."""
    binary = find_mosquitto()
    passwd_tool = shutil.which("mosquitto_passwd") or shutil.which("mosquitto_passwd", path="/usr/sbin:/usr/bin")
    if passwd_tool is None:
        pytest.skip("mosquitto_passwd is not installed (Debian package mosquitto)")
    root = tmp_path_factory.mktemp("broker")
    passwd = root / "passwd"
    passwd.touch(mode=0o600)
    for user, password in USERS.items():
        # -b takes the password from the command line: fine for a test, the README shows the prompt form.
        subprocess.run([passwd_tool, "-b", str(passwd), user, password], check=True,
                       capture_output=True)
    port = free_port()
    config = root / "mosquitto.conf"
    config.write_text(_test_config(root, port))
    # A config error is reported on stderr before the log file is opened; keep both for the failure message.
    errors = root / "stderr.txt"
    with errors.open("wb") as stderr:
        process = subprocess.Popen([str(binary), "-c", str(config)],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        for _ in range(300):  # up to ~60 s on a loaded machine: a refused connect returns at once, so sleep
            if process.poll() is not None:
                log = root / "mosquitto.log"
                pytest.fail(f"mosquitto refused the production config: {errors.read_text()}"
                            f"{log.read_text() if log.exists() else ''}")
            if port_open("127.0.0.1", port, timeout=0.1):
                break
            time.sleep(0.1)
        else:
            pytest.fail("mosquitto did not open its port")
        yield Broker("127.0.0.1", port)
    finally:
        process.terminate()
        process.wait(timeout=10)


class Client:
    """A paho (v2 API, MQTT 5) client that records its CONNACK, SUBACKs, PUBACKs and messages."""

    def __init__(self, broker: Broker, user: str | None, password: str | None = None) -> None:
        """Connect and wait for the CONNACK (which may refuse)."""
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._connack: queue.Queue[ReasonCode] = queue.Queue()
        self._subacks: queue.Queue[list[ReasonCode]] = queue.Queue()
        self._pubacks: dict[int, ReasonCode] = {}
        self._puback_seen = threading.Condition()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:10]}",
                                   protocol=MQTTProtocolVersion.MQTTv5)
        self._client.on_connect = lambda _c, _u, _f, rc, _p: self._connack.put(rc)
        self._client.on_subscribe = lambda _c, _u, _mid, rcs, _p: self._subacks.put(list(rcs))
        self._client.on_message = lambda _c, _u, m: self.messages.put((m.topic, bytes(m.payload)))
        self._client.on_publish = self._on_publish
        if user is not None:
            self._client.username_pw_set(user, password if password is not None else USERS[user])
        self._client.connect(broker.host, broker.port, keepalive=30)
        self._client.loop_start()
        self.connack = self._connack.get(timeout=TIMEOUT)

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: Properties) -> None:
        with self._puback_seen:
            self._pubacks[mid] = rc
            self._puback_seen.notify_all()

    def subscribe(self, topic: str) -> list[ReasonCode]:
        """Subscribe at QoS 1 and return the SUBACK's reason codes."""
        self._client.subscribe(topic, options=SubscribeOptions(qos=1))
        return self._subacks.get(timeout=TIMEOUT)

    def publish(self, topic: str, payload: bytes) -> ReasonCode:
        """Publish at QoS 1 and return the PUBACK's reason code (the broker has routed it by then)."""
        info = self._client.publish(topic, payload, qos=1)
        with self._puback_seen:
            if not self._puback_seen.wait_for(lambda: info.mid in self._pubacks, timeout=TIMEOUT):
                raise TimeoutError(f"no PUBACK for {topic}")
            return self._pubacks[info.mid]

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def clients(broker: Broker) -> Iterator[dict[str, Client]]:
    """Open clients on demand by user name; all are closed after the test."""
    opened: dict[str, Client] = {}

    class Opener(dict[str, Client]):
        def __missing__(self, user: str) -> Client:
            client = Client(broker, user)
            assert not client.connack.is_failure, f"{user} was refused: {client.connack}"
            opened[user] = client
            self[user] = client
            return client

    yield Opener()
    for client in opened.values():
        client.close()


def _next(client: Client) -> tuple[str, bytes]:
    return client.messages.get(timeout=TIMEOUT)


def _assert_not_delivered(subscriber: Client, forbidden: bytes, marker: bytes) -> None:
    """Read up to the marker and check the forbidden payload was not among what came before it."""
    seen = []
    while True:
        _topic, payload = _next(subscriber)
        if payload == marker:
            break
        seen.append(payload)
    assert forbidden not in seen


def _ingest(clients: dict[str, Client]) -> Client:
    """The ingest service user, subscribed as the workers are: every decoder's filter, shared."""
    ingest = clients["svc.ingest"]
    for topic in ("campusguard/v1/+/+/+", "owntracks/+/+", "zigbee2mqtt/#"):
        (code,) = ingest.subscribe(f"$share/{SHARE_GROUP}/{topic}")
        assert not code.is_failure, f"ingest may not subscribe to {topic}: {code}"
    return ingest


def _payload() -> bytes:
    return uuid.uuid4().hex.encode()


# --- Authentication -------------------------------------------------------------------------------------------


def test_the_config_keeps_its_production_promises() -> None:
    """The settings docs/ingest.md relies on are in the file, not only in the test's rewrite."""
    directives = {line.strip() for line in CONF.read_text().splitlines() if line.strip() and line[0] != "#"}
    assert {"allow_anonymous false", "persistence true", "max_queued_messages 0"} <= directives


def test_anonymous_clients_are_refused(broker: Broker) -> None:
    """A client without a user name does not get in."""
    client = Client(broker, None)
    try:
        assert client.connack.is_failure
    finally:
        client.close()


@pytest.mark.parametrize("user", ["bus-12-gps", "svc.ingest", "nobody"])
def test_a_wrong_password_is_refused(broker: Broker, user: str) -> None:
    """A known user with the wrong password, or an unknown user, does not get in."""
    client = Client(broker, user, "not-the-password")
    try:
        assert client.connack.is_failure
    finally:
        client.close()


# --- Devices --------------------------------------------------------------------------------------------------


def test_a_bus_tracker_publishes_its_own_position_to_ingest(clients: dict[str, Client]) -> None:
    """A device's own topic reaches the ingest user through its $share subscription."""
    ingest = _ingest(clients)
    topic = f"campusguard/v1/{SCHOOL}/gps/bus-12-gps"
    payload = _payload()
    assert not clients["bus-12-gps"].publish(topic, payload).is_failure
    assert _next(ingest) == (topic, payload)


@pytest.mark.parametrize("topic", [
    f"campusguard/v1/{SCHOOL}/gps/bus-7-gps",  # another bus's position
    f"campusguard/v1/{SCHOOL}/panic/office-panic-1",  # a panic in another device's name
    "campusguard/v1/other-school/gps/bus-7-gps",
    "owntracks/jane/phone",  # a phone user's track
    f"zigbee2mqtt/{SCHOOL}/office_panic_1",  # a Zigbee button's press
])
def test_a_device_cannot_publish_as_another(clients: dict[str, Client], topic: str) -> None:
    """A bus tracker's publish to another device's topic never reaches the ingest user."""
    ingest = _ingest(clients)
    bus = clients["bus-12-gps"]
    forbidden, marker = _payload(), _payload()
    assert bus.publish(topic, forbidden).is_failure  # MQTT 5: the PUBACK says "not authorized"
    bus.publish(f"campusguard/v1/{SCHOOL}/heartbeat/bus-12-gps", marker)
    _assert_not_delivered(ingest, forbidden, marker)


@pytest.mark.parametrize(("topic", "service", "filter_"), [
    ("campusguard/alerts/v1/antelope-park/critical", "gateway.sirens", "campusguard/alerts/v1/#"),  # sirens
    ("campusguard/internal/fixes/0", "svc.geo", "campusguard/internal/fixes/#"),  # the geo feed
])
def test_a_device_cannot_reach_internal_topics(clients: dict[str, Client], topic: str, service: str,
                                               filter_: str) -> None:
    """A device can neither sound the sirens nor feed the geo stage fixes of its own making."""
    listener = clients[service]
    listener.subscribe(filter_)
    forbidden, marker = _payload(), _payload()
    assert clients["bus-12-gps"].publish(topic, forbidden).is_failure
    allowed_publisher = "svc.alerts" if service == "gateway.sirens" else "svc.ingest"
    assert not clients[allowed_publisher].publish(topic, marker).is_failure
    _assert_not_delivered(listener, forbidden, marker)


def test_a_device_cannot_subscribe_to_other_devices(clients: dict[str, Client]) -> None:
    """A device gets no one else's messages: neither by naming the topic nor with a wildcard."""
    spy = clients["bus-12-gps"]
    for topic in (f"campusguard/v1/{SCHOOL}/gps/bus-7-gps", "campusguard/v1/#", "#", "owntracks/+/+"):
        # Mosquitto 2.0 grants the SUBACK and checks the read ACL per message at delivery: what counts is
        # that nothing arrives.
        spy.subscribe(topic)
    ingest = _ingest(clients)
    secret = _payload()
    clients["bus-7-gps"].publish(f"campusguard/v1/{SCHOOL}/gps/bus-7-gps", secret)
    clients["jane"].publish("owntracks/jane/phone", secret)
    # The ingest user got both, so the broker has routed them to every subscriber. A SUBACK the spy asks for
    # now comes behind anything routed to it on the same connection, and paho reads in order: once it is in,
    # so is any message the spy would have got.
    assert [_next(ingest)[1] for _ in range(2)] == [secret, secret]
    spy.subscribe(f"campusguard/v1/{SCHOOL}/heartbeat/bus-12-gps")
    assert spy.messages.empty()


# --- Phones, bridges and services ------------------------------------------------------------------------------


def test_an_owntracks_phone_publishes_only_under_its_user(clients: dict[str, Client]) -> None:
    """owntracks/<user>/<device> is the user's own; another user's prefix is not."""
    ingest = _ingest(clients)
    phone = clients["jane"]
    own, forbidden = _payload(), _payload()
    assert not phone.publish("owntracks/jane/phone", own).is_failure
    assert _next(ingest) == ("owntracks/jane/phone", own)
    assert phone.publish("owntracks/bob/phone", forbidden).is_failure
    marker = _payload()
    phone.publish("owntracks/jane/tablet", marker)
    _assert_not_delivered(ingest, forbidden, marker)


def test_the_zigbee_bridge_stays_in_its_prefix(clients: dict[str, Client]) -> None:
    """The Zigbee2MQTT bridge publishes device states under zigbee2mqtt/ and nowhere else."""
    ingest = _ingest(clients)
    bridge = clients["bridge.zigbee2mqtt"]
    press, forbidden = b'{"action": "single"}', _payload()
    topic = f"zigbee2mqtt/{SCHOOL}/office_panic_1"
    assert not bridge.publish(topic, press).is_failure
    assert _next(ingest) == (topic, press)
    assert bridge.publish(f"campusguard/v1/{SCHOOL}/panic/office-panic-1", forbidden).is_failure
    marker = _payload()
    bridge.publish(f"zigbee2mqtt/{SCHOOL}/office_panic_1/availability", marker)
    _assert_not_delivered(ingest, forbidden, marker)


def test_the_pipeline_users_can_do_their_jobs(clients: dict[str, Client]) -> None:
    """Ingest feeds geo, alerts reach the siren gateway, and a drill can press a panic button."""
    geo, sirens = clients["svc.geo"], clients["gateway.sirens"]
    assert not geo.subscribe("campusguard/internal/fixes/#")[0].is_failure
    assert not sirens.subscribe("campusguard/alerts/v1/#")[0].is_failure
    ingest = _ingest(clients)
    fix, alert, drill = _payload(), _payload(), _payload()
    assert not clients["svc.ingest"].publish("campusguard/internal/fixes/3", fix).is_failure
    assert _next(geo) == ("campusguard/internal/fixes/3", fix)
    assert not clients["svc.alerts"].publish(f"campusguard/alerts/v1/{SCHOOL}/critical", alert).is_failure
    assert _next(sirens) == (f"campusguard/alerts/v1/{SCHOOL}/critical", alert)
    panic_topic = f"campusguard/v1/{SCHOOL}/panic/office-panic-1"
    assert not clients["svc.drill"].publish(panic_topic, drill).is_failure
    assert _next(ingest) == (panic_topic, drill)


def test_the_alert_service_cannot_raise_panics(clients: dict[str, Client]) -> None:
    """Only the drill user may press a button in a device's name; the alert service only announces."""
    ingest = _ingest(clients)
    forbidden, marker = _payload(), _payload()
    assert clients["svc.alerts"].publish(f"campusguard/v1/{SCHOOL}/panic/office-panic-1", forbidden).is_failure
    clients["svc.drill"].publish(f"campusguard/v1/{SCHOOL}/panic/office-panic-1", marker)
    _assert_not_delivered(ingest, forbidden, marker)
