"""OsmAnd over HTTP: Traccar Client query strings, form bodies and the JSON body, with their units."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.decoders import REGISTRY
from ingest.decoders.osmand import decode, decode_osmand_request
from ingest.messages import ButtonPress, Fix
from tests.ingest.helpers import LIMITS, RECEIVED_AT, assert_valid, js

QUERY = "id=123456&timestamp=1717000000&lat=40.8&lon=-96.7&speed=10.5&bearing=90&altitude=350&accuracy=5&batt=87"
AT = datetime(2024, 5, 29, 16, 26, 40, tzinfo=UTC)  # 1717000000
FORM = "application/x-www-form-urlencoded"


def test_registered_as_http_only() -> None:
    assert REGISTRY["osmand"].topic_filters == ()


def test_traccar_client_query_string_speed_is_knots() -> None:
    [fix] = decode_osmand_request("GET", QUERY, None, b"", RECEIVED_AT, LIMITS)
    assert isinstance(fix, Fix)
    assert fix.speed_kmh == pytest.approx(10.5 * 1.852)  # 19.446 km/h
    assert fix == Fix("osmand", "123456", AT, -96.7, 40.8, fix.speed_kmh, 90.0, 350.0, 5.0, 87.0, RECEIVED_AT)


def test_leading_question_mark_and_form_body_give_the_same_fix() -> None:
    expected = decode_osmand_request("GET", QUERY, None, b"", RECEIVED_AT, LIMITS)
    assert decode_osmand_request("GET", "?" + QUERY, None, b"", RECEIVED_AT, LIMITS) == expected
    assert decode_osmand_request("POST", "", FORM, QUERY.encode(), RECEIVED_AT, LIMITS) == expected
    assert decode("", QUERY.encode(), RECEIVED_AT, LIMITS) == expected


@pytest.mark.parametrize(
    "stamp",
    ["1717000000", "1717000000000", "1717000000.0", "2024-05-29T16:26:40Z", "2024-05-29T18:26:40%2B02:00",
     "2024-05-29%2016:26:40"],
)
def test_timestamp_forms(stamp: str) -> None:
    [fix] = decode_osmand_request("GET", f"id=7&lat=40.8&lon=-96.7&timestamp={stamp}", None, b"", RECEIVED_AT, LIMITS)
    assert fix.time == AT


def test_deviceid_heading_and_missing_timestamp_means_now() -> None:
    [fix] = decode_osmand_request("GET", "deviceid=abc&lat=40.8&lon=-96.7&heading=45&hdop=0.9&valid=true", None,
                                  b"", RECEIVED_AT, LIMITS)
    assert fix == Fix("osmand", "abc", RECEIVED_AT, -96.7, 40.8, None, 45.0, None, None, None, RECEIVED_AT)


def test_empty_values_count_as_absent() -> None:
    [fix] = decode_osmand_request("GET", "id=7&lat=40.8&lon=-96.7&speed=&batt=", None, b"", RECEIVED_AT, LIMITS)
    assert isinstance(fix, Fix)
    assert (fix.speed_kmh, fix.battery_pct) == (None, None)


def test_sos_alarm_gives_a_press_as_well() -> None:
    messages = decode_osmand_request("GET", QUERY + "&alarm=sos", None, b"", RECEIVED_AT, LIMITS)
    assert [type(message) for message in messages] == [Fix, ButtonPress]
    assert messages[1] == ButtonPress("osmand", "123456", AT, "sos", -96.7, 40.8, 87.0, RECEIVED_AT)


@pytest.mark.parametrize("position", ["", "&lat=0&lon=0", "&lat=abc&lon=-96.7", "&lat=40.8"])
def test_an_alarm_is_never_lost_to_a_bad_fix(position: str) -> None:
    messages = decode_osmand_request("GET", f"id=7&alarm=sos&speed=9999{position}", None, b"", RECEIVED_AT, LIMITS)
    assert messages == [ButtonPress("osmand", "7", RECEIVED_AT, "sos", None, None, None, RECEIVED_AT)]


TRACCAR_JSON = {
    "location": {
        "timestamp": "2024-05-29T16:26:40.000Z",
        "coords": {"latitude": 40.8, "longitude": -96.7, "accuracy": 5, "speed": 10, "heading": 90,
                   "altitude": 350},
        "is_moving": True,
        "odometer": 1204,
        "event": "motionchange",
        "battery": {"level": 0.87, "is_charging": False},
        "activity": {"type": "in_vehicle"},
        "extras": {},
    },
    "device_id": "48241179",
}


def test_traccar_client_json_body_speed_is_metres_per_second_and_battery_a_fraction() -> None:
    [fix] = decode_osmand_request("POST", "", "application/json", js(TRACCAR_JSON), RECEIVED_AT, LIMITS)
    assert isinstance(fix, Fix)
    assert fix.speed_kmh == pytest.approx(36.0)
    assert fix == Fix("osmand", "48241179", AT, -96.7, 40.8, fix.speed_kmh, 90.0, 350.0, 5.0, 87.0, RECEIVED_AT)
    assert decode("", js(TRACCAR_JSON), RECEIVED_AT, LIMITS) == [fix]


def test_json_minus_one_means_unknown() -> None:
    body = {"device_id": "48241179", "location": {
        "timestamp": "2024-05-29T16:26:40Z",
        "coords": {"latitude": 40.8, "longitude": -96.7, "accuracy": -1, "speed": -1, "heading": -1, "altitude": -12},
        "battery": {"level": -1, "is_charging": True},
    }}
    [fix] = decode_osmand_request("POST", "", "application/json; charset=utf-8", js(body), RECEIVED_AT, LIMITS)
    assert fix == Fix("osmand", "48241179", AT, -96.7, 40.8, None, None, -12.0, None, None, RECEIVED_AT)


def test_json_alarm_in_location_or_extras() -> None:
    for location in ({"alarm": "sos"}, {"extras": {"alarm": "sos"}}):
        body = {**TRACCAR_JSON, "location": {**TRACCAR_JSON["location"], **location}}  # type: ignore[dict-item]
        messages = decode_osmand_request("POST", "", "application/json", js(body), RECEIVED_AT, LIMITS)
        assert messages[1] == ButtonPress("osmand", "48241179", AT, "sos", -96.7, 40.8, 87.0, RECEIVED_AT)
        assert_valid(messages)


def test_json_alarm_without_coords_is_still_a_press() -> None:
    body = {"device_id": "48241179", "location": {"timestamp": "2024-05-29T16:26:40Z", "alarm": "sos"}}
    assert decode_osmand_request("POST", "", "application/json", js(body), RECEIVED_AT, LIMITS) == [
        ButtonPress("osmand", "48241179", AT, "sos", None, None, None, RECEIVED_AT)
    ]
