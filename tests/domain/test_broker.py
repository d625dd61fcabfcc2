"""One parser for every MQTT client's broker URL: escapes decoded, TLS schemes accepted, clear errors."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from alerts.notifiers.mqtt_out import MqttOutConfig
from domain.broker import BrokerAddress, parse_broker_url


def test_percent_escaped_credentials_are_decoded() -> None:
    assert parse_broker_url("mqtt://a%40b:p%3Aw%2F1@broker:1884") == BrokerAddress("broker", 1884, "a@b", "p:w/1")


@pytest.mark.parametrize(("url", "port", "tls"), [
    ("mqtt://broker", 1883, False), ("tcp://broker", 1883, False),
    ("mqtts://broker", 8883, True), ("ssl://broker:9883", 9883, True),
])
def test_schemes_and_default_ports(url: str, port: int, tls: bool) -> None:
    address = parse_broker_url(url)
    assert (address.host, address.port, address.tls) == ("broker", port, tls)


@pytest.mark.parametrize("url", ["http://broker", "mqtt://", "mqtt://broker:notaport", "broker:1883"])
def test_anything_else_is_refused_without_the_password(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_broker_url(url.replace("://", "://user:secret@", 1))
    assert "secret" not in str(caught.value)


def test_the_notifier_takes_tls_and_escaped_passwords() -> None:
    # Before: the notifier's own parser refused mqtts:// (so alerts could never be sent over TLS).
    config = MqttOutConfig(type="mqtt", url="mqtts://gw:p%40ss@alarm.example:8883")
    address = parse_broker_url(config.url)
    assert address.tls and address.password == "p@ss"


def test_configure_sets_credentials_and_tls() -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    parse_broker_url("mqtts://gw:p%40ss@broker").configure(client)
    assert client._username == b"gw" and client._password == b"p@ss"
    assert client._ssl is True

