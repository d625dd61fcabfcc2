"""Malformed input never gets through and never crashes: the corpus, then arbitrary bytes and JSON values."""

from __future__ import annotations

import json
from collections import Counter
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.decoders import REGISTRY, decode_osmand_request, decoder_for_topic
from ingest.messages import Rejection, RejectReason
from tests.ingest.helpers import LIMITS, ONE_MINUTE_AGO, ONE_MINUTE_AGO_EPOCH, RECEIVED_AT, assert_valid
from tests.ingest.malformed_corpus import HTTP_CASES, MQTT_CASES, HttpCase, MqttCase

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_corpus_is_large_unique_and_covers_every_decoder_and_reason() -> None:
    ids = [case.id for case in MQTT_CASES] + [case.id for case in HTTP_CASES]
    assert len(ids) >= 200
    assert len(ids) == len(set(ids))
    per_decoder = Counter(case.decoder for case in MQTT_CASES) + Counter({"osmand": len(HTTP_CASES)})
    assert set(per_decoder) == set(REGISTRY)
    assert min(per_decoder.values()) >= 40
    reasons = {case.reason for case in MQTT_CASES} | {case.reason for case in HTTP_CASES}
    assert reasons == set(RejectReason)


@pytest.mark.parametrize("case", MQTT_CASES, ids=lambda case: case.id)
def test_mqtt_corpus_case_is_refused_for_its_reason(case: MqttCase) -> None:
    with pytest.raises(Rejection) as refused:
        REGISTRY[case.decoder].decode(case.topic, case.payload, RECEIVED_AT, LIMITS)
    assert refused.value.reason is case.reason, refused.value.message
    assert refused.value.message


@pytest.mark.parametrize("case", HTTP_CASES, ids=lambda case: case.id)
def test_osmand_corpus_case_is_refused_for_its_reason(case: HttpCase) -> None:
    with pytest.raises(Rejection) as refused:
        decode_osmand_request(case.method, case.query, case.content_type, case.body, RECEIVED_AT, LIMITS)
    assert refused.value.reason is case.reason, refused.value.message


TOPICS = {
    "campusguard": st.sampled_from([
        "campusguard/v1/antelope-park/gps/bus-12-gps",
        "campusguard/v1/antelope-park/panic/office-panic-1",
        "campusguard/v1/antelope-park/heartbeat/bus-12-gps",
        "campusguard/v1/antelope-park/sensor/kitchen-temp",
    ]) | st.text(max_size=40).map(lambda tail: "campusguard/" + tail),
    "owntracks": st.sampled_from(["owntracks/jane/phone", "owntracks/jane/phone/event"])
    | st.text(max_size=30).map(lambda tail: "owntracks/" + tail),
    "zigbee2mqtt": st.sampled_from(["zigbee2mqtt/gym_panic", "zigbee2mqtt/a/b/availability"])
    | st.text(max_size=30).map(lambda tail: "zigbee2mqtt/" + tail),
    "osmand": st.just(""),
}

SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12) | st.sampled_from([ONE_MINUTE_AGO, ONE_MINUTE_AGO_EPOCH, "single", "location", "online"])
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=12,
)
KEYS = [
    "ts", "lat", "lon", "speed_kmh", "heading", "alt", "acc", "batt", "action", "metric", "value", "readings",
    "_type", "tst", "vel", "cog", "action", "battery", "linkquality", "voltage", "temperature", "humidity",
    "smoke", "contact", "water_leak", "state", "device_id", "location",
]
# Objects made of the keys the decoders read, so that the fuzzing reaches past the first missing field.
NEAR_MISS = st.dictionaries(st.sampled_from(KEYS), JSON_VALUES, max_size=8)


def _decode_or_refuse(name: str, topic: str, payload: bytes) -> None:
    try:
        messages = REGISTRY[name].decode(topic, payload, RECEIVED_AT, LIMITS)
    except Rejection as rejection:
        assert isinstance(rejection.reason, RejectReason)
        return
    assert_valid(messages)


@pytest.mark.parametrize("name", sorted(REGISTRY))
@FUZZ
@given(data=st.data(), payload=st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_are_refused(name: str, data: st.DataObject, payload: bytes) -> None:
    _decode_or_refuse(name, data.draw(TOPICS[name]), payload)


@pytest.mark.parametrize("name", sorted(REGISTRY))
@FUZZ
@given(data=st.data(), value=JSON_VALUES | NEAR_MISS)
def test_arbitrary_json_decodes_or_is_refused(name: str, data: st.DataObject, value: object) -> None:
    _decode_or_refuse(name, data.draw(TOPICS[name]), json.dumps(value).encode())


@FUZZ
@given(location=st.dictionaries(st.sampled_from(["timestamp", "coords", "battery", "alarm", "extras"]), JSON_VALUES),
       coords=st.dictionaries(st.sampled_from(["latitude", "longitude", "speed", "heading", "accuracy", "altitude"]),
                              SCALARS))
def test_arbitrary_traccar_json_decodes_or_is_refused(location: dict[str, object], coords: dict[str, object]) -> None:
    body = {"device_id": "48241179", "location": {"timestamp": ONE_MINUTE_AGO, "coords": coords, **location}}
    try:
        messages = decode_osmand_request("POST", "", "application/json", json.dumps(body).encode(), RECEIVED_AT,
                                         LIMITS)
    except Rejection:
        return
    assert_valid(messages)


PARAMS = st.dictionaries(
    st.sampled_from(["id", "deviceid", "lat", "lon", "timestamp", "speed", "bearing", "heading", "altitude",
                     "accuracy", "batt", "hdop", "alarm"]),
    st.text(max_size=16) | st.floats(allow_nan=True).map(str) | st.integers().map(str)
    | st.sampled_from(["1717000140", "2024-05-29 16:29:00", "40.8", "-96.7", "sos", "0"]),
    max_size=8,
)


@FUZZ
@given(params=PARAMS, query=st.text(max_size=60), body=st.binary(max_size=60),
       content_type=st.sampled_from([None, "application/json", "application/x-www-form-urlencoded", "text/xml"]),
       method=st.sampled_from(["GET", "POST", "HEAD"]), use_params=st.booleans())
def test_arbitrary_osmand_requests_decode_or_are_refused(
    params: dict[str, str], query: str, body: bytes, content_type: str | None, method: str, use_params: bool
) -> None:
    try:
        messages = decode_osmand_request(method, urlencode(params) if use_params else query, content_type, body,
                                         RECEIVED_AT, LIMITS)
    except Rejection:
        return
    assert_valid(messages)


@given(topic=st.text(max_size=50))
def test_any_topic_finds_at_most_a_decoder_that_subscribed_to_it(topic: str) -> None:
    decoder = decoder_for_topic(topic)
    if decoder is not None:
        assert topic.split("/")[0] == decoder.topic_filters[0].split("/")[0]
