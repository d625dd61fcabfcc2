"""Our own schema, campusguard/v1/{school}/{kind}/{device}: every kind decoded field by field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.decoders import REGISTRY, decoder_for_topic
from ingest.decoders.campusguard import decode
from ingest.messages import ButtonPress, Fix, Heartbeat, Reading
from tests.ingest.helpers import LIMITS, ONE_MINUTE_AGO, RECEIVED_AT, assert_valid, js

GPS = "campusguard/v1/antelope-park/gps/bus-12-gps"
PANIC = "campusguard/v1/antelope-park/panic/office-panic-1"
AT = datetime(2024, 5, 29, 16, 29, tzinfo=UTC)


def test_registered_under_its_source_name_with_its_topic_filter() -> None:
    assert REGISTRY["campusguard"].topic_filters == ("campusguard/v1/+/+/+",)
    assert decoder_for_topic(GPS) is REGISTRY["campusguard"]


def test_gps_with_every_field() -> None:
    payload = js({"ts": "2024-05-29T18:29:00+02:00", "lat": 40.8136, "lon": -96.7026, "speed_kmh": 42.5,
                  "heading": 271, "alt": 358.2, "acc": 4.5, "batt": 76, "sats": 9})
    assert decode(GPS, payload, RECEIVED_AT, LIMITS) == [
        Fix("campusguard", "bus-12-gps", AT, -96.7026, 40.8136, 42.5, 271.0, 358.2, 4.5, 76.0, RECEIVED_AT)
    ]


def test_gps_minimal_with_epoch_seconds_and_milliseconds() -> None:
    for ts in (1717000140, 1717000140000, 1717000140.0):
        [fix] = decode(GPS, js({"ts": ts, "lat": 40.8, "lon": -96.7}), RECEIVED_AT, LIMITS)
        assert fix == Fix("campusguard", "bus-12-gps", AT, -96.7, 40.8, None, None, None, None, None, RECEIVED_AT)


def test_time_is_normalised_to_utc() -> None:
    [fix] = decode(GPS, js({"ts": "2024-05-29T11:29:00-05:00", "lat": 40.8, "lon": -96.7}), RECEIVED_AT, LIMITS)
    assert fix.time == AT and fix.time.utcoffset() is not None and fix.time.tzinfo is UTC


def test_panic_with_a_fix() -> None:
    payload = js({"ts": ONE_MINUTE_AGO, "lat": 40.8, "lon": -96.7, "batt": 64})
    assert decode(PANIC, payload, RECEIVED_AT, LIMITS) == [
        ButtonPress("campusguard", "office-panic-1", AT, "panic", -96.7, 40.8, 64.0, RECEIVED_AT)
    ]


def test_panic_without_a_fix_is_still_a_press() -> None:
    assert decode(PANIC, js({"ts": ONE_MINUTE_AGO}), RECEIVED_AT, LIMITS) == [
        ButtonPress("campusguard", "office-panic-1", AT, "panic", None, None, None, RECEIVED_AT)
    ]


@pytest.mark.parametrize(
    "extras",
    [
        {"lat": 0, "lon": 0},  # null island: a GPS without a fix
        {"lat": 40.8},  # half a fix
        {"lat": "40.8", "lon": "-96.7"},
        {"lat": 95, "lon": -96.7},
        {"batt": 150},
        {"batt": "low"},
        {"action": 7},
        {"action": ""},
    ],
)
def test_panic_never_lost_to_a_bad_extra(extras: dict[str, object]) -> None:
    [press] = decode(PANIC, js({"ts": ONE_MINUTE_AGO, **extras}), RECEIVED_AT, LIMITS)
    assert isinstance(press, ButtonPress) and press.action == "panic"
    assert (press.lon, press.lat) == (None, None) or "lat" not in extras
    assert_valid([press])


def test_panic_keeps_a_named_action() -> None:
    [press] = decode(PANIC, js({"ts": ONE_MINUTE_AGO, "action": "medical"}), RECEIVED_AT, LIMITS)
    assert isinstance(press, ButtonPress) and press.action == "medical"


def test_heartbeat_keeps_the_rest_as_detail() -> None:
    topic = "campusguard/v1/antelope-park/heartbeat/bus-12-gps"
    payload = js({"ts": ONE_MINUTE_AGO, "batt": 88, "rssi": -71, "fw": "1.4.2"})
    [beat] = decode(topic, payload, RECEIVED_AT, LIMITS)
    assert isinstance(beat, Heartbeat)
    assert (beat.source, beat.external_id, beat.time, beat.battery_pct) == ("campusguard", "bus-12-gps", AT, 88.0)
    assert dict(beat.detail) == {"rssi": -71, "fw": "1.4.2"}
    assert beat.received_at == RECEIVED_AT


def test_sensor_single_reading_maps_the_site_kind_to_its_metric() -> None:
    topic = "campusguard/v1/antelope-park/sensor/kitchen-freezer-temp"
    payload = js({"ts": ONE_MINUTE_AGO, "metric": "temperature", "value": -18.5})
    assert decode(topic, payload, RECEIVED_AT, LIMITS) == [
        Reading("campusguard", "kitchen-freezer-temp", AT, "temperature_c", -18.5, RECEIVED_AT)
    ]


def test_sensor_readings_map() -> None:
    topic = "campusguard/v1/antelope-park/sensor/kitchen-smoke"
    payload = js({"ts": ONE_MINUTE_AGO, "readings": {"smoke": 0, "door": 1, "humidity": 41.5, "co2_ppm": 612}})
    assert decode(topic, payload, RECEIVED_AT, LIMITS) == [
        Reading("campusguard", "kitchen-smoke", AT, "smoke", 0.0, RECEIVED_AT),
        Reading("campusguard", "kitchen-smoke", AT, "door_open", 1.0, RECEIVED_AT),
        Reading("campusguard", "kitchen-smoke", AT, "humidity_pct", 41.5, RECEIVED_AT),
        Reading("campusguard", "kitchen-smoke", AT, "co2_ppm", 612.0, RECEIVED_AT),
    ]


def test_window_edges_are_inside() -> None:
    for ts in ("2024-05-29T16:35:00Z", "2024-05-22T16:30:00Z"):
        assert decode(GPS, js({"ts": ts, "lat": 40.8, "lon": -96.7}), RECEIVED_AT, LIMITS)


def test_naive_received_at_is_a_bug_not_a_rejection() -> None:
    with pytest.raises(ValueError, match="aware UTC"):
        decode(GPS, js({"ts": ONE_MINUTE_AGO, "lat": 40.8, "lon": -96.7}), datetime(2024, 5, 29), LIMITS)  # noqa: DTZ001
