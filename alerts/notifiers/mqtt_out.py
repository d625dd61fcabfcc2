"""MQTT notifier: publish the notification as JSON for sirens, strobes and PA gateways, and wait for the ack.

The topic is ``campusguard/alerts/v1/{school_id}/{severity}`` by default, so a gateway subscribes to exactly
what it should react to (``campusguard/alerts/v1/antelope-park/critical``, or ``.../antelope-park/#``).
Publishing uses MQTT 5 at QoS 1 or 2: the broker's acknowledgement carries a reason code, so a publish
the broker's ACL refuses is a failure here, not a silent drop as under MQTT 3.1.1.

Each notification opens its own connection: alerts are rare, and a connection held between them would be
one more thing to find broken at the worst moment.
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


class MqttNotifier(Notifier[MqttOutConfig]):
    """MQTT 5 publish with QoS 1 or 2, one connection per notification."""

    type_key = "mqtt"
    config_class = MqttOutConfig

    def prepare(self, notification: Notification) -> Callable[[], str | None]:
        """Render topic and payload once; each attempt connects, publishes and waits for the ack."""
        topic = render_topic(self.config.topic_template, notification)
        payload = notification_json(notification)
        return lambda: self._publish(topic, payload)

    def _publish(self, topic: str, payload: bytes) -> None:
        cfg = self.config
        endpoint = parse_broker_url(cfg.url)
        where = f"mqtt {endpoint.host}:{endpoint.port}"
        connack: list[ReasonCode] = []
        acks: dict[int, ReasonCode] = {}
        connected, acked = threading.Event(), threading.Event()

        def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: Properties | None) -> None:
            connack.append(rc)
            connected.set()

        def on_publish(_c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: Properties) -> None:
            acks[mid] = rc
            acked.set()

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"campusguard-notify-{uuid.uuid4().hex[:12]}",
            protocol=mqtt.MQTTv5,
        )
        client.on_connect = on_connect
        client.on_publish = on_publish
        client.connect_timeout = cfg.timeout_s
        endpoint.configure(client)  # credentials, and TLS for mqtts://
        try:
            client.connect(endpoint.host, endpoint.port, keepalive=max(int(cfg.timeout_s) * 2, 10))
        except OSError as exc:
            raise RetryableError(f"{where}: cannot connect: {exc}") from exc
        client.loop_start()
        try:
            if not connected.wait(cfg.timeout_s):
                raise RetryableError(f"{where}: no CONNACK within {cfg.timeout_s:g} s")
            if connack[0].is_failure:
                raise _reason_error(f"{where}: connection refused", connack[0])
            info = client.publish(topic, payload, qos=cfg.qos, retain=cfg.retain)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise RetryableError(f"{where}: publish failed: {mqtt.error_string(info.rc)}")
            if not acked.wait(cfg.timeout_s) or info.mid not in acks:
                raise RetryableError(f"{where}: no acknowledgement for {topic} within {cfg.timeout_s:g} s")
            if acks[info.mid].is_failure:
                raise _reason_error(f"{where}: publish to {topic} refused", acks[info.mid])
        finally:
            client.disconnect()
            client.loop_stop()


def _reason_error(what: str, rc: ReasonCode) -> RetryableError | PermanentError:
    text = f"{what}: {rc} (0x{rc.value:02X})"
    return PermanentError(text) if rc.value in _PERMANENT_REASONS else RetryableError(text)
