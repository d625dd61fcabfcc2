"""MQTT notifier: publish the notification as JSON for sirens, strobes and PA gateways, and wait for the ack.

The topic is ``campusguard/alerts/v1/{school_id}/{severity}`` by default, so a gateway subscribes to exactly
what it should react to (``campusguard/alerts/v1/antelope-park/critical``, or ``.../antelope-park/#``).
Publishing uses MQTT 5 at QoS 1 or 2: the broker's acknowledgement carries a reason code, so a publish
the broker's ACL refuses is a failure here, not a silent drop as under MQTT 3.1.1.

The connection is held between notifications: opening one per notification put a CONNECT round trip and a
new network thread on every panic's way to the siren, against a broker busy with the GPS fleet
(docs/scaling.md). A held connection can be found broken at the worst moment, so one that is down, or whose
publish is not acknowledged in time, is dropped and the retry connects afresh.
"""

from __future__ import annotations

import string
import threading
import uuid
from collections.abc import Callable
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import Field, field_validator

from alerts.notifiers.base import (
    Notification,
    Notifier,
    NotifierConfigBase,
    PermanentError,
    RetryableError,
    notification_json,
)
from domain.broker import parse_broker_url

# Outside ingest's ``campusguard/v1/+/+/+``: an alert published to the same broker must not come back in as
# device input.
DEFAULT_TOPIC = "campusguard/alerts/v1/{school_id}/{severity}"
TOPIC_FIELDS = frozenset({"school_id", "severity", "type", "incident_id", "event"})
# MQTT 5 reason codes that retrying cannot change: bad credentials, not authorised, banned, bad topic or payload.
_PERMANENT_REASONS = frozenset({0x84, 0x86, 0x87, 0x8A, 0x8C, 0x90, 0x95, 0x99})


class MqttOutConfig(NotifierConfigBase):
    """Publish each notification to an MQTT broker."""

    type: Literal["mqtt"] = Field(description="Selects the MQTT notifier.")
    url: str = Field(description="Broker as mqtt://[user:password@]host[:port], or mqtts:// for TLS.")
    topic_template: str = Field(
        DEFAULT_TOPIC, description=f"Topic, with any of {{{'}, {'.join(sorted(TOPIC_FIELDS))}}} filled in."
    )
    qos: Literal[1, 2] = Field(1, description="1 or 2: both are acknowledged by the broker (0 would not be).")
    retain: bool = Field(
        False, description="Retain the last alert per topic; off, so a gateway that reconnects does not sound again."
    )
    timeout_s: float = Field(10.0, gt=0, le=120, description="Limit for connecting and for the acknowledgement.")

    @field_validator("url")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse_broker_url(value)
        return value

    @field_validator("topic_template")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        unknown = names - TOPIC_FIELDS
        if unknown:
            raise ValueError(f"unknown topic fields {sorted(unknown)}; use {sorted(TOPIC_FIELDS)}")
        if "+" in value or "#" in value:
            raise ValueError("a topic to publish to cannot contain the wildcards + or #")
        return value


def render_topic(template: str, notification: Notification) -> str:
    """Fill the topic template; a value that would add levels or wildcards is refused."""
    values = {
        "school_id": notification.school_id,
        "severity": notification.severity,
        "type": notification.type,
        "incident_id": str(notification.incident_id),
        "event": notification.event,
    }
    for key, value in values.items():
        if not value or any(c in value for c in "/+#\0"):
            raise PermanentError(f"{key} {value!r} cannot be part of an MQTT topic")
    return template.format(**values)


class _Session:
    """One connected client and what its callbacks heard: the CONNACK, and each publish's acknowledgement."""

    def __init__(self, client: mqtt.Client) -> None:
        self.client = client
        self.connack: list[ReasonCode] = []
        self.connected = threading.Event()
        self.acks: dict[int, ReasonCode] = {}
        self.acked = threading.Condition()

    def on_connect(self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: Properties | None) -> None:
        self.connack.append(rc)
        self.connected.set()

    def on_publish(self, _c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: Properties) -> None:
        with self.acked:
            self.acks[mid] = rc
            self.acked.notify_all()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


HELD_ACK_WAIT_S = 2.0
"""How long a held connection is trusted to acknowledge before the message goes out on a fresh one."""


class MqttNotifier(Notifier[MqttOutConfig]):
    """MQTT 5 publish with QoS 1 or 2 on a connection held between notifications."""

    type_key = "mqtt"
    config_class = MqttOutConfig

    def __init__(self, config: MqttOutConfig) -> None:
        """Keep the config; the connection opens with the first notification."""
        super().__init__(config)
        self._session: _Session | None = None
        self._lock = threading.Lock()  # one publish at a time on the held connection

    def prepare(self, notification: Notification) -> Callable[[], str | None]:
        """Render topic and payload once; each attempt publishes and waits for the ack."""
        topic = render_topic(self.config.topic_template, notification)
        payload = notification_json(notification)
        return lambda: self._publish(topic, payload)

    def close(self) -> None:
        """Disconnect the held connection."""
        with self._lock:
            self._drop()

    def _publish(self, topic: str, payload: bytes) -> None:
        cfg = self.config
        endpoint = parse_broker_url(cfg.url)
        where = f"mqtt {endpoint.host}:{endpoint.port}"
        with self._lock:
            if self._session is not None and self._session.client.is_connected():
                # A held connection that looks up may be half-open (a NAT dropped its state, the broker failed over)
                # and paho learns it only after a keepalive: it gets a short wait for its ack, then the message goes
                # out again at once on a fresh connection, not after the whole timeout and a retry's backoff. At
                # worst a siren hears it twice (at least once, as QoS 1 is).
                try:
                    reason = self._send(self._session, topic, payload, min(HELD_ACK_WAIT_S, cfg.timeout_s), where)
                except RetryableError:
                    self._drop()
                else:
                    _check(reason, f"{where}: publish to {topic} refused")
                    return
            try:
                reason = self._send(self._connected(where), topic, payload, cfg.timeout_s, where)
            except RetryableError:
                # Held connections go bad silently (a broker restart, a half-open socket): the retry starts afresh.
                self._drop()
                raise
            _check(reason, f"{where}: publish to {topic} refused")

    def _send(self, session: _Session, topic: str, payload: bytes, wait_s: float, where: str) -> ReasonCode:
        """Publish on a connection and wait up to ``wait_s`` for the broker's acknowledgement; return its reason."""
        info = session.client.publish(topic, payload, qos=self.config.qos, retain=self.config.retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise RetryableError(f"{where}: publish failed: {mqtt.error_string(info.rc)}")
        with session.acked:
            if not session.acked.wait_for(lambda: info.mid in session.acks, wait_s):
                raise RetryableError(f"{where}: no acknowledgement for {topic} within {wait_s:g} s")
            return session.acks.pop(info.mid)

    def _connected(self, where: str) -> _Session:
        """Return the held connection if it is up, else a new one (a CONNECT round trip and a network thread).

        Opening one per notification put that round trip on every panic's path to the siren, to a broker
        busy with the GPS fleet (docs/scaling.md); a connection found down is replaced here.
        """
        if self._session is not None and self._session.client.is_connected():
            return self._session
        self._drop()
        cfg = self.config
        endpoint = parse_broker_url(cfg.url)
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"campusguard-notify-{uuid.uuid4().hex[:12]}",
            protocol=mqtt.MQTTv5,
        )
        session = _Session(client)
        client.on_connect = session.on_connect
        client.on_publish = session.on_publish
        client.connect_timeout = cfg.timeout_s
        endpoint.configure(client)  # credentials, and TLS for mqtts://
        try:
            client.connect(endpoint.host, endpoint.port, keepalive=max(int(cfg.timeout_s) * 2, 10))
        except OSError as exc:
            raise RetryableError(f"{where}: cannot connect: {exc}") from exc
        client.loop_start()
        if not session.connected.wait(cfg.timeout_s):
            session.close()
            raise RetryableError(f"{where}: no CONNACK within {cfg.timeout_s:g} s")
        if session.connack[0].is_failure:
            session.close()
            raise _reason_error(f"{where}: connection refused", session.connack[0])
        self._session = session
        return session

    def _drop(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def _check(reason: ReasonCode, what: str) -> None:
    """Raise for a refused publish (its reason code says whether to retry)."""
    if reason.is_failure:
        raise _reason_error(what, reason)


def _reason_error(what: str, rc: ReasonCode) -> RetryableError | PermanentError:
    text = f"{what}: {rc} (0x{rc.value:02X})"
    return PermanentError(text) if rc.value in _PERMANENT_REASONS else RetryableError(text)
