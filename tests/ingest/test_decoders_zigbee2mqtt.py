"""Zigbee2MQTT: device states from documented exposes (Aqara WXKG11LM, Xiaomi smoke, contact, leak sensors)."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from ingest.decoders import REGISTRY, decoder_for_topic
from ingest.decoders.zigbee2mqtt import decode
from ingest.messages import ButtonPress, Heartbeat, Reading
from tests.ingest.helpers import LIMITS, RECEIVED_AT, assert_valid, js

NAME = "antelope-park/office_panic_1"  # friendly names may contain "/"
TOPIC = f"zigbee2mqtt/{NAME}"
T = RECEIVED_AT  # Zigbee2MQTT sends no device time


def beat(battery: float | None, external_id: str = NAME, **detail: object) -> Heartbeat:
    return Heartbeat("zigbee2mqtt", external_id, T, battery, T, MappingProxyType(detail))


def test_registered_under_its_source_name_with_its_topic_filter() -> None:
    assert REGISTRY["zigbee2mqtt"].topic_filters == ("zigbee2mqtt/#",)
    assert decoder_for_topic(TOPIC) is REGISTRY["zigbee2mqtt"]


def test_aqara_wxkg11lm_single_press() -> None:
    payload = js({"action": "single", "battery": 100, "linkquality": 120, "voltage": 3042})
    assert decode(TOPIC, payload, RECEIVED_AT, LIMITS) == [
        ButtonPress("zigbee2mqtt", NAME, T, "single", None, None, 100.0, T),
        beat(100.0, linkquality=120.0, voltage_mv=3042.0),
    ]


@pytest.mark.parametrize("action", ["double", "triple", "quadruple", "hold", "release", "long", "sos", "emergency"])
def test_every_action_is_passed_on_for_the_pipeline_to_judge(action: str) -> None:
    [press] = decode(TOPIC, js({"action": action}), RECEIVED_AT, LIMITS)
    assert press == ButtonPress("zigbee2mqtt", NAME, T, action, None, None, None, T)


@pytest.mark.parametrize("cleared", ["", None])
def test_cleared_action_is_no_press_and_no_rejection(cleared: str | None) -> None:
    assert decode(TOPIC, js({"action": cleared}), RECEIVED_AT, LIMITS) == []
    assert decode(TOPIC, js({"action": cleared, "battery": 97, "linkquality": 87}), RECEIVED_AT, LIMITS) == [
        beat(97.0, linkquality=87.0)
    ]


def test_battery_and_linkquality_only_is_a_heartbeat() -> None:
    payload = js({"battery": 55, "linkquality": 42, "voltage": 2900, "battery_low": False})
    assert decode(TOPIC, payload, RECEIVED_AT, LIMITS) == [
        beat(55.0, linkquality=42.0, voltage_mv=2900.0, battery_low=False)
    ]


def test_a_press_survives_a_malformed_extra() -> None:
    payload = js({"action": "single", "battery": 180, "linkquality": "strong", "temperature": "hot"})
    assert decode(TOPIC, payload, RECEIVED_AT, LIMITS) == [
        ButtonPress("zigbee2mqtt", NAME, T, "single", None, None, None, T)
    ]


def test_xiaomi_smoke_detector() -> None:
    topic = "zigbee2mqtt/antelope-park/kitchen_smoke"
    payload = js({"smoke": True, "smoke_density": 8, "test": False, "battery": 100, "voltage": 3100,
                  "linkquality": 78, "sensitivity": "medium"})
    assert decode(topic, payload, RECEIVED_AT, LIMITS) == [
        Reading("zigbee2mqtt", "antelope-park/kitchen_smoke", T, "smoke", 1.0, T),
        beat(100.0, "antelope-park/kitchen_smoke", linkquality=78.0, voltage_mv=3100.0),
    ]


@pytest.mark.parametrize(("contact", "door_open"), [(True, 0.0), (False, 1.0)])
def test_contact_sensor_false_means_the_door_is_open(contact: bool, door_open: float) -> None:
    [reading] = decode("zigbee2mqtt/gym_door", js({"contact": contact}), RECEIVED_AT, LIMITS)
    assert reading == Reading("zigbee2mqtt", "gym_door", T, "door_open", door_open, T)


def test_temperature_humidity_and_leak_give_several_readings() -> None:
    payload = js({"temperature": -18.4, "humidity": 61.2, "water_leak": False, "battery": 90})
    assert decode("zigbee2mqtt/kitchen_freezer_temp", payload, RECEIVED_AT, LIMITS) == [
        Reading("zigbee2mqtt", "kitchen_freezer_temp", T, "temperature_c", -18.4, T),
        Reading("zigbee2mqtt", "kitchen_freezer_temp", T, "humidity_pct", 61.2, T),
        Reading("zigbee2mqtt", "kitchen_freezer_temp", T, "water_leak", 0.0, T),
        beat(90.0, "kitchen_freezer_temp"),
    ]


@pytest.mark.parametrize(
    ("payload", "state"),
    [(b'{"state":"online"}', "online"), (b'{"state":"offline"}', "offline"), (b"online", "online"),
     (b"offline\n", "offline")],
)
def test_availability_is_a_heartbeat_with_its_state(payload: bytes, state: str) -> None:
    [message] = decode(f"{TOPIC}/availability", payload, RECEIVED_AT, LIMITS)
    assert message == beat(None, availability=state)
    assert_valid([message])


def test_a_device_named_availability_is_a_device() -> None:
    [press] = decode("zigbee2mqtt/availability", js({"action": "single"}), RECEIVED_AT, LIMITS)
    assert isinstance(press, ButtonPress) and press.external_id == "availability"
