"""Shared validation, MQTT topic matching and the registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.decoders import REGISTRY, Limits, decoder_for_topic, topic_matches
from ingest.decoders.common import (
    check_position,
    check_window,
    epoch_to_time,
    iso_to_time,
    number_from_text,
    parse_json_object,
    parse_time_value,
    require_number,
)
from ingest.messages import SOURCES, Fix, Rejection, RejectReason
from tests.ingest.helpers import RECEIVED_AT


def reason_of(call: object, *args: object) -> RejectReason:
    assert callable(call)
    with pytest.raises(Rejection) as refused:
        call(*args)
    return refused.value.reason


def test_limits_defaults() -> None:
    assert Limits() == Limits(16384, timedelta(minutes=5), timedelta(days=7))


def test_registry_names_are_the_site_sources() -> None:
    assert set(REGISTRY) == set(SOURCES)
    assert all(name == decoder.name for name, decoder in REGISTRY.items())


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a//c", True),
        ("a/+/c", "a/b/c/d", False),
        ("a/+", "a", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("#", "anything/at/all", True),
        ("#", "$SYS/broker/uptime", False),
        ("+/b", "$SYS/b", False),
        ("$SYS/#", "$SYS/broker", True),
        ("a/b", "a/b", True),
        ("a/b", "a/b/", False),
    ],
)
def test_topic_matching_follows_mqtt(topic_filter: str, topic: str, matches: bool) -> None:
    assert topic_matches(topic_filter, topic) is matches


@pytest.mark.parametrize(
    ("topic", "name"),
    [
        ("campusguard/v1/antelope-park/gps/bus-12-gps", "campusguard"),
        ("owntracks/jane/phone", "owntracks"),
        ("zigbee2mqtt/antelope-park/gym_panic", "zigbee2mqtt"),
        ("zigbee2mqtt/bridge/state", "zigbee2mqtt"),  # subscribed to, then refused as unknown_topic
        ("owntracks/jane/phone/event", None),
        ("campusguard/v1/antelope-park/gps", None),
        ("homeassistant/status", None),
    ],
)
def test_decoder_for_topic(topic: str, name: str | None) -> None:
    decoder = decoder_for_topic(topic)
    assert (decoder.name if decoder else None) == name


def test_json_object_checks_size_before_parsing() -> None:
    assert reason_of(parse_json_object, b"{" * 20, Limits(max_payload_bytes=10)) is RejectReason.OVERSIZED
    assert parse_json_object(b'{"a": 1}', Limits(max_payload_bytes=8)) == {"a": 1}


@pytest.mark.parametrize("payload", [
    b'{"lat": 1e400}', b'{"lat": -1E+400}', b'{"extra": [1.5e999]}',
    b'{"lat": ' + b"9" * 400 + b'.5}',  # no exponent, still beyond a double
    b'{"name": "e1", "lat": ' + b"1" * 320 + b'.0}',
])
def test_numbers_beyond_a_double_are_invalid_json_in_any_field(payload: bytes) -> None:
    # Ordinary payloads take a decoder that parses floats in C; any text that could overflow takes the checking one.
    assert reason_of(parse_json_object, payload, Limits()) is RejectReason.INVALID_JSON


def test_ordinary_and_exponent_numbers_parse_alike() -> None:
    assert parse_json_object(b'{"lat": 40.80001, "lon": -96.7, "alt": 1.2e3, "note": "e5"}', Limits()) == {
        "lat": 40.80001, "lon": -96.7, "alt": 1200.0, "note": "e5"}
    assert parse_json_object(b'{"tiny": 0.' + b"0" * 400 + b'1}', Limits()) == {"tiny": 0.0}


def test_bool_is_not_a_number() -> None:
    assert reason_of(require_number, {"lat": True}, "lat") is RejectReason.WRONG_TYPE
    assert require_number({"lat": 1}, "lat") == 1.0


def test_epoch_seconds_and_milliseconds() -> None:
    assert epoch_to_time(1717000000, "t") == datetime(2024, 5, 29, 16, 26, 40, tzinfo=UTC)
    assert epoch_to_time(1717000000123, "t") == datetime(2024, 5, 29, 16, 26, 40, 123000, tzinfo=UTC)


def test_iso_needs_a_timezone_and_says_so() -> None:
    with pytest.raises(Rejection) as refused:
        iso_to_time("2024-05-29T16:26:40", "ts")
    assert refused.value.reason is RejectReason.WRONG_TYPE
    assert "timezone is required" in refused.value.message
    assert iso_to_time("2024-05-29T16:26:40Z", "ts").tzinfo is UTC
    assert parse_time_value("2024-05-29T12:26:40-04:00", "ts") == datetime(2024, 5, 29, 16, 26, 40, tzinfo=UTC)


def test_window() -> None:
    limits = Limits()
    assert check_window(RECEIVED_AT + timedelta(minutes=5), RECEIVED_AT, limits, "t")
    assert check_window(RECEIVED_AT - timedelta(days=7), RECEIVED_AT, limits, "t")
    late = RECEIVED_AT + timedelta(minutes=5, microseconds=1)
    assert reason_of(check_window, late, RECEIVED_AT, limits, "t") is RejectReason.FUTURE_TIMESTAMP
    old = RECEIVED_AT - timedelta(days=7, microseconds=1)
    assert reason_of(check_window, old, RECEIVED_AT, limits, "t") is RejectReason.STALE_TIMESTAMP


def test_null_island_and_the_edges_of_the_globe() -> None:
    assert reason_of(check_position, 0.0, 0.0) is RejectReason.OUT_OF_RANGE
    assert check_position(0.0, 0.0001) == (0.0, 0.0001)
    assert check_position(-90.0, 180.0) == (-90.0, 180.0)


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-Infinity", "0x10", "1_000", " 1", "1,5", "", "1e"])
def test_number_text_is_plain_decimal(text: str) -> None:
    assert reason_of(number_from_text, text, "x") is RejectReason.WRONG_TYPE


def test_messages_refuse_naive_times() -> None:
    naive = datetime(2024, 5, 29, 16, 26, 40)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="aware UTC"):
        Fix("osmand", "1", naive, 1.0, 1.0, None, None, None, None, None, RECEIVED_AT)


def test_rejection_carries_reason_and_message() -> None:
    rejection = Rejection(RejectReason.OVERSIZED, "too big")
    assert (rejection.reason, rejection.message, str(rejection)) == (RejectReason.OVERSIZED, "too big",
                                                                     "oversized: too big")
