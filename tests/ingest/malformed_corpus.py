"""Malformed inputs for every decoder, each with the exact reason it must be refused for.

MQTT cases name the decoder, topic and payload; OsmAnd HTTP cases the method, query, content type and body.
The receipt time is ``helpers.RECEIVED_AT`` (2024-05-29T16:30:00Z, epoch 1717000200).
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.messages import RejectReason as R
from tests.ingest.helpers import ONE_MINUTE_AGO, ONE_MINUTE_AGO_EPOCH, js


@dataclass(frozen=True, slots=True)
class MqttCase:
    """One refused MQTT message."""

    id: str
    decoder: str
    topic: str
    payload: bytes
    reason: R


@dataclass(frozen=True, slots=True)
class HttpCase:
    """One refused OsmAnd HTTP request."""

    id: str
    query: str
    reason: R
    body: bytes = b""
    content_type: str | None = None
    method: str = "GET"


CG_GPS = "campusguard/v1/antelope-park/gps/bus-12-gps"
CG_PANIC = "campusguard/v1/antelope-park/panic/office-panic-1"
CG_BEAT = "campusguard/v1/antelope-park/heartbeat/bus-12-gps"
CG_SENSOR = "campusguard/v1/antelope-park/sensor/kitchen-temp"
OT = "owntracks/jane/phone"
Z2M = "zigbee2mqtt/antelope-park/office_panic_1"
Z2M_AVAIL = Z2M + "/availability"
GPS = {"ts": ONE_MINUTE_AGO, "lat": 40.8136, "lon": -96.7026}
OT_LOC = {"_type": "location", "lat": 40.8136, "lon": -96.7026, "tst": ONE_MINUTE_AGO_EPOCH}
OSM = "id=123456&timestamp=1717000000&lat=40.8&lon=-96.7"
OSM_JSON = {
    "device_id": "48241179",
    "location": {"timestamp": "2024-05-29T16:26:40.000Z", "coords": {"latitude": 40.8, "longitude": -96.7}},
}
JSON_TYPE = "application/json"

# Payloads that no JSON decoder may accept, with the reason.
BROKEN_JSON: list[tuple[str, bytes, R]] = [
    ("empty", b"", R.INVALID_JSON),
    ("text", b"hello", R.INVALID_JSON),
    ("truncated", b'{"ts": 1', R.INVALID_JSON),
    ("single-quotes", b"{'ts': 1}", R.INVALID_JSON),
    ("trailing-comma", b'{"ts": 1,}', R.INVALID_JSON),
    ("nan", b'{"ts": NaN}', R.INVALID_JSON),
    ("infinity", b'{"lat": Infinity}', R.INVALID_JSON),
    ("minus-infinity", b'{"lat": -Infinity}', R.INVALID_JSON),
    ("float-overflow", b'{"lat": 1e400}', R.INVALID_JSON),
    ("int-too-many-digits", b'{"ts": 1' + b"0" * 5000 + b"}", R.INVALID_JSON),
    ("nested-too-deep", b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", R.INVALID_JSON),
    ("two-objects", b"{}{}", R.INVALID_JSON),
    ("array", b"[1, 2]", R.NOT_AN_OBJECT),
    ("string", b'"location"', R.NOT_AN_OBJECT),
    ("number", b"42", R.NOT_AN_OBJECT),
    ("null", b"null", R.NOT_AN_OBJECT),
    ("true", b"true", R.NOT_AN_OBJECT),
    ("latin-1", b'{"note": "caf\xe9"}', R.BAD_ENCODING),
    ("utf-16", '{"ts": 1}'.encode("utf-16"), R.BAD_ENCODING),
    ("lone-continuation-byte", b'{"a": "\x80"}', R.BAD_ENCODING),
    ("oversized", b'{"pad": "' + b"x" * 17000 + b'"}', R.OVERSIZED),
]

# Timestamps every decoder with a JSON device time must refuse (campusguard "ts").
BAD_TS: list[tuple[str, object, R]] = [
    ("bool", True, R.WRONG_TYPE),
    ("words", "yesterday", R.WRONG_TYPE),
    ("naive-iso", "2024-05-29T16:29:00", R.WRONG_TYPE),
    ("date-only", "2024-05-29", R.WRONG_TYPE),
    ("offset-over-24h", "2024-05-29T16:29:00+25:00", R.WRONG_TYPE),
    ("epoch-as-text", "1717000140", R.WRONG_TYPE),
    ("array", [1717000140], R.WRONG_TYPE),
    ("object", {"s": 1717000140}, R.WRONG_TYPE),
    ("beyond-calendar-ms", 1e20, R.OUT_OF_RANGE),
    ("before-calendar", -1e15, R.OUT_OF_RANGE),
    ("year-1-minus-offset", "0001-01-01T00:00:00+01:00", R.OUT_OF_RANGE),
    ("year-9999-plus-offset", "9999-12-31T23:59:59-01:00", R.OUT_OF_RANGE),
    ("six-minutes-ahead", "2024-05-29T16:36:00Z", R.FUTURE_TIMESTAMP),
    ("ahead-in-other-zone", "2024-05-29T18:40:00+02:00", R.FUTURE_TIMESTAMP),
    ("epoch-ahead", 1717000600, R.FUTURE_TIMESTAMP),
    ("epoch-ms-ahead", 1717000600000, R.FUTURE_TIMESTAMP),
    ("year-2049", 2.5e9, R.FUTURE_TIMESTAMP),
    ("eight-days-old", "2024-05-21T16:30:00Z", R.STALE_TIMESTAMP),
    ("epoch-zero", 0, R.STALE_TIMESTAMP),
    ("epoch-1970", 1000, R.STALE_TIMESTAMP),
    ("negative-epoch", -5, R.STALE_TIMESTAMP),
    ("epoch-ms-stale", 1716000000000, R.STALE_TIMESTAMP),
]


def _campusguard() -> list[MqttCase]:
    cases = [MqttCase(f"cg-json-{name}", "campusguard", CG_GPS, body, reason) for name, body, reason in BROKEN_JSON]
    cases += [MqttCase(f"cg-ts-{name}", "campusguard", CG_GPS, js({**GPS, "ts": ts}), r) for name, ts, r in BAD_TS]
    bad_topics = {
        "too-short": "campusguard/v1/antelope-park/gps",
        "too-long": CG_GPS + "/extra",
        "version-2": "campusguard/v2/antelope-park/gps/bus-12-gps",
        "unknown-kind": "campusguard/v1/antelope-park/alarm/bus-12-gps",
        "kind-uppercase": "campusguard/v1/antelope-park/GPS/bus-12-gps",
        "school-uppercase": "campusguard/v1/Antelope/gps/bus-12-gps",
        "school-empty": "campusguard/v1//gps/bus-12-gps",
        "device-uppercase": "campusguard/v1/antelope-park/gps/Bus12",
        "device-empty": "campusguard/v1/antelope-park/gps/",
        "device-leading-dash": "campusguard/v1/antelope-park/gps/-bus",
        "device-space": "campusguard/v1/antelope-park/gps/bus 12",
        "device-65-chars": "campusguard/v1/antelope-park/gps/" + "a" * 65,
        "other-root": "other/v1/antelope-park/gps/bus-12-gps",
    }
    cases += [MqttCase(f"cg-topic-{n}", "campusguard", t, js(GPS), R.UNKNOWN_TOPIC) for n, t in bad_topics.items()]
    gps: dict[str, tuple[dict[str, object], R]] = {
        "no-ts": ({"lat": 40.8, "lon": -96.7}, R.MISSING_FIELD),
        "ts-null": ({**GPS, "ts": None}, R.MISSING_FIELD),
        "no-lat": ({"ts": ONE_MINUTE_AGO, "lon": -96.7}, R.MISSING_FIELD),
        "no-lon": ({"ts": ONE_MINUTE_AGO, "lat": 40.8}, R.MISSING_FIELD),
        "lat-null": ({**GPS, "lat": None}, R.MISSING_FIELD),
        "lat-text": ({**GPS, "lat": "40.8"}, R.WRONG_TYPE),
        "lat-bool": ({**GPS, "lat": True}, R.WRONG_TYPE),
        "lat-array": ({**GPS, "lat": [40.8]}, R.WRONG_TYPE),
        "lon-object": ({**GPS, "lon": {}}, R.WRONG_TYPE),
        "lat-91": ({**GPS, "lat": 91}, R.OUT_OF_RANGE),
        "lat-minus-91": ({**GPS, "lat": -91}, R.OUT_OF_RANGE),
        "lon-181": ({**GPS, "lon": 181}, R.OUT_OF_RANGE),
        "lon-minus-180.5": ({**GPS, "lon": -180.5}, R.OUT_OF_RANGE),
        "null-island": ({**GPS, "lat": 0, "lon": 0}, R.OUT_OF_RANGE),
        "null-island-negative-zero": ({**GPS, "lat": 0.0, "lon": -0.0}, R.OUT_OF_RANGE),
        "speed-negative": ({**GPS, "speed_kmh": -1}, R.OUT_OF_RANGE),
        "speed-401": ({**GPS, "speed_kmh": 401}, R.OUT_OF_RANGE),
        "speed-text": ({**GPS, "speed_kmh": "fast"}, R.WRONG_TYPE),
        "speed-bool": ({**GPS, "speed_kmh": False}, R.WRONG_TYPE),
        "heading-361": ({**GPS, "heading": 361}, R.OUT_OF_RANGE),
        "heading-negative": ({**GPS, "heading": -0.5}, R.OUT_OF_RANGE),
        "heading-text": ({**GPS, "heading": "N"}, R.WRONG_TYPE),
        "alt-a-million": ({**GPS, "alt": 1e6}, R.OUT_OF_RANGE),
        "alt-text": ({**GPS, "alt": "high"}, R.WRONG_TYPE),
        "acc-negative": ({**GPS, "acc": -1}, R.OUT_OF_RANGE),
        "acc-bool": ({**GPS, "acc": False}, R.WRONG_TYPE),
        "batt-101": ({**GPS, "batt": 101}, R.OUT_OF_RANGE),
        "batt-negative": ({**GPS, "batt": -1}, R.OUT_OF_RANGE),
        "batt-text": ({**GPS, "batt": "87%"}, R.WRONG_TYPE),
        "batt-bool": ({**GPS, "batt": True}, R.WRONG_TYPE),
    }
    cases += [MqttCase(f"cg-gps-{n}", "campusguard", CG_GPS, js(body), r) for n, (body, r) in gps.items()]
    ts = {"ts": ONE_MINUTE_AGO}
    other: list[tuple[str, str, object, R]] = [
        ("panic-no-ts", CG_PANIC, {"lat": 40.8, "lon": -96.7}, R.MISSING_FIELD),
        ("panic-ts-future", CG_PANIC, {"ts": "2024-05-29T17:00:00Z"}, R.FUTURE_TIMESTAMP),
        ("panic-ts-naive", CG_PANIC, {"ts": "2024-05-29 16:29:00"}, R.WRONG_TYPE),
        ("panic-array", CG_PANIC, [{"ts": ONE_MINUTE_AGO}], R.NOT_AN_OBJECT),
        ("heartbeat-no-ts", CG_BEAT, {"batt": 50}, R.MISSING_FIELD),
        ("heartbeat-batt-150", CG_BEAT, {**ts, "batt": 150}, R.OUT_OF_RANGE),
        ("heartbeat-batt-text", CG_BEAT, {**ts, "batt": "full"}, R.WRONG_TYPE),
        ("sensor-nothing", CG_SENSOR, ts, R.MISSING_FIELD),
        ("sensor-metric-no-value", CG_SENSOR, {**ts, "metric": "temperature_c"}, R.MISSING_FIELD),
        ("sensor-value-no-metric", CG_SENSOR, {**ts, "value": 4.5}, R.MISSING_FIELD),
        ("sensor-both-forms", CG_SENSOR, {**ts, "metric": "smoke", "value": 0, "readings": {}}, R.WRONG_TYPE),
        ("sensor-readings-array", CG_SENSOR, {**ts, "readings": [["temperature_c", 4.5]]}, R.WRONG_TYPE),
        ("sensor-readings-text", CG_SENSOR, {**ts, "readings": "4.5"}, R.WRONG_TYPE),
        ("sensor-readings-empty", CG_SENSOR, {**ts, "readings": {}}, R.MISSING_FIELD),
        ("sensor-reading-text", CG_SENSOR, {**ts, "readings": {"temperature": "warm"}}, R.WRONG_TYPE),
        ("sensor-reading-bool", CG_SENSOR, {**ts, "readings": {"smoke": True}}, R.WRONG_TYPE),
        ("sensor-reading-null", CG_SENSOR, {**ts, "readings": {"smoke": None}}, R.MISSING_FIELD),
        ("sensor-temperature-200", CG_SENSOR, {**ts, "readings": {"temperature": 200}}, R.OUT_OF_RANGE),
        ("sensor-metric-spaces", CG_SENSOR, {**ts, "metric": "Temperature C", "value": 4}, R.WRONG_TYPE),
        ("sensor-metric-number", CG_SENSOR, {**ts, "metric": 5, "value": 4}, R.WRONG_TYPE),
        ("sensor-value-bool", CG_SENSOR, {**ts, "metric": "smoke", "value": True}, R.WRONG_TYPE),
        ("sensor-smoke-2", CG_SENSOR, {**ts, "metric": "smoke", "value": 2}, R.OUT_OF_RANGE),
        ("sensor-door-half", CG_SENSOR, {**ts, "metric": "door", "value": 0.5}, R.OUT_OF_RANGE),
        ("sensor-humidity-negative", CG_SENSOR, {**ts, "metric": "humidity", "value": -3}, R.OUT_OF_RANGE),
        ("sensor-humidity-101", CG_SENSOR, {**ts, "metric": "humidity_pct", "value": 101}, R.OUT_OF_RANGE),
    ]
    cases += [MqttCase(f"cg-{n}", "campusguard", t, js(body), r) for n, t, body, r in other]
    surrogate = b'{"ts": "' + ONE_MINUTE_AGO.encode() + b'", "metric": "\\ud800", "value": 1}'
    cases.append(MqttCase("cg-sensor-metric-lone-surrogate", "campusguard", CG_SENSOR, surrogate, R.BAD_ENCODING))
    return cases


def _owntracks() -> list[MqttCase]:
    cases = [MqttCase(f"ot-json-{name}", "owntracks", OT, body, reason) for name, body, reason in BROKEN_JSON]
    topics = {
        "one-level": "owntracks/jane",
        "empty-user": "owntracks//phone",
        "empty-device": "owntracks/jane/",
        "space-in-user": "owntracks/ja ne/phone",
        "capitalised-root": "OwnTracks/jane/phone",
        "control-character": "owntracks/jane/ph\x01one",
        "device-65-chars": "owntracks/jane/" + "x" * 65,
    }
    cases += [MqttCase(f"ot-topic-{n}", "owntracks", t, js(OT_LOC), R.UNKNOWN_TOPIC) for n, t in topics.items()]
    others = ["transition", "waypoint", "waypoints", "lwt", "card", "cmd", "status", "configuration", "steps",
              "beacon", "request", "encrypted", "Location", ""]
    cases += [
        MqttCase(f"ot-type-{name or 'empty'}", "owntracks", OT, js({**OT_LOC, "_type": name}), R.UNSUPPORTED_MESSAGE)
        for name in others
    ]
    loc: dict[str, tuple[dict[str, object], R]] = {
        "no-type": ({k: v for k, v in OT_LOC.items() if k != "_type"}, R.MISSING_FIELD),
        "type-null": ({**OT_LOC, "_type": None}, R.MISSING_FIELD),
        "type-number": ({**OT_LOC, "_type": 5}, R.WRONG_TYPE),
        "no-lat": ({k: v for k, v in OT_LOC.items() if k != "lat"}, R.MISSING_FIELD),
        "no-lon": ({k: v for k, v in OT_LOC.items() if k != "lon"}, R.MISSING_FIELD),
        "no-tst": ({k: v for k, v in OT_LOC.items() if k != "tst"}, R.MISSING_FIELD),
        "lat-as-string": ({**OT_LOC, "lat": "40.8136"}, R.WRONG_TYPE),
        "tst-as-string": ({**OT_LOC, "tst": "1717000140"}, R.WRONG_TYPE),
        "tst-iso": ({**OT_LOC, "tst": ONE_MINUTE_AGO}, R.WRONG_TYPE),
        "tst-bool": ({**OT_LOC, "tst": True}, R.WRONG_TYPE),
        "tst-future": ({**OT_LOC, "tst": 1717003800}, R.FUTURE_TIMESTAMP),
        "tst-stale": ({**OT_LOC, "tst": 1376715317}, R.STALE_TIMESTAMP),
        "tst-overflow": ({**OT_LOC, "tst": 1e300}, R.OUT_OF_RANGE),
        "null-island": ({**OT_LOC, "lat": 0, "lon": 0}, R.OUT_OF_RANGE),
        "lat-95": ({**OT_LOC, "lat": 95}, R.OUT_OF_RANGE),
        "vel-negative": ({**OT_LOC, "vel": -1}, R.OUT_OF_RANGE),
        "vel-500": ({**OT_LOC, "vel": 500}, R.OUT_OF_RANGE),
        "vel-text": ({**OT_LOC, "vel": "54"}, R.WRONG_TYPE),
        "cog-400": ({**OT_LOC, "cog": 400}, R.OUT_OF_RANGE),
        "batt-120": ({**OT_LOC, "batt": 120}, R.OUT_OF_RANGE),
        "acc-negative": ({**OT_LOC, "acc": -5}, R.OUT_OF_RANGE),
        "alt-bool": ({**OT_LOC, "alt": True}, R.WRONG_TYPE),
    }
    cases += [MqttCase(f"ot-location-{n}", "owntracks", OT, js(body), r) for n, (body, r) in loc.items()]
    return cases


def _zigbee2mqtt() -> list[MqttCase]:
    cases = [MqttCase(f"z2m-json-{name}", "zigbee2mqtt", Z2M, body, reason) for name, body, reason in BROKEN_JSON]
    topics = {
        "root-only": "zigbee2mqtt",
        "root-slash": "zigbee2mqtt/",
        "bridge": "zigbee2mqtt/bridge",
        "bridge-state": "zigbee2mqtt/bridge/state",
        "bridge-devices": "zigbee2mqtt/bridge/devices",
        "bridge-request": "zigbee2mqtt/bridge/request/permit_join",
        "set": Z2M + "/set",
        "get": Z2M + "/get",
        "set-attribute": Z2M + "/set/brightness",
        "get-attribute": Z2M + "/get/state",
        "empty-level": "zigbee2mqtt//office_panic_1",
        "trailing-slash": Z2M + "/",
        "control-character": "zigbee2mqtt/office\x07panic",
        "name-too-long": "zigbee2mqtt/" + "x" * 300,
        "other-root": "z2m/office_panic_1",
    }
    cases += [
        MqttCase(f"z2m-topic-{n}", "zigbee2mqtt", t, js({"action": "single"}), R.UNKNOWN_TOPIC)
        for n, t in topics.items()
    ]
    states: dict[str, tuple[dict[str, object], R]] = {
        "empty-object": ({}, R.UNSUPPORTED_MESSAGE),
        "light-state": ({"state": "ON", "brightness": 200}, R.UNSUPPORTED_MESSAGE),
        "action-number": ({"action": 5}, R.WRONG_TYPE),
        "action-bool": ({"action": True}, R.WRONG_TYPE),
        "action-array": ({"action": ["single"]}, R.WRONG_TYPE),
        "battery-101": ({"battery": 101}, R.OUT_OF_RANGE),
        "battery-text": ({"battery": "100"}, R.WRONG_TYPE),
        "battery-bool": ({"battery": True}, R.WRONG_TYPE),
        "linkquality-300": ({"linkquality": 300}, R.OUT_OF_RANGE),
        "linkquality-text": ({"linkquality": "good"}, R.WRONG_TYPE),
        "voltage-negative": ({"voltage": -1}, R.OUT_OF_RANGE),
        "temperature-text": ({"temperature": "21"}, R.WRONG_TYPE),
        "temperature-999": ({"temperature": 999}, R.OUT_OF_RANGE),
        "humidity-120": ({"humidity": 120}, R.OUT_OF_RANGE),
        "smoke-text": ({"smoke": "true"}, R.WRONG_TYPE),
        "smoke-number": ({"smoke": 1}, R.WRONG_TYPE),
        "contact-text": ({"contact": "open"}, R.WRONG_TYPE),
        "water-leak-number": ({"water_leak": 0}, R.WRONG_TYPE),
        "battery-low-text": ({"battery_low": "yes"}, R.WRONG_TYPE),
        "battery-ok-humidity-bad": ({"battery": 90, "humidity": -1}, R.OUT_OF_RANGE),
    }
    cases += [MqttCase(f"z2m-state-{n}", "zigbee2mqtt", Z2M, js(body), r) for n, (body, r) in states.items()]
    availability = [
        ("plain-maybe", b"maybe", R.INVALID_JSON),
        ("plain-upper", b"ONLINE", R.INVALID_JSON),
        ("state-unknown", js({"state": "unknown"}), R.OUT_OF_RANGE),
        ("state-number", js({"state": 1}), R.WRONG_TYPE),
        ("no-state", js({}), R.MISSING_FIELD),
        ("array", js(["online"]), R.NOT_AN_OBJECT),
        ("quoted-string", js("online"), R.NOT_AN_OBJECT),
        ("not-utf8", b"\xffonline", R.BAD_ENCODING),
        ("oversized", b"online" + b" " * 17000, R.OVERSIZED),
    ]
    cases += [MqttCase(f"z2m-availability-{n}", "zigbee2mqtt", Z2M_AVAIL, p, r) for n, p, r in availability]
    return cases


def _osmand_http() -> list[HttpCase]:
    query: dict[str, tuple[str, R]] = {
        "nothing": ("", R.MISSING_FIELD),
        "only-empty-values": ("id=&lat=&lon=", R.MISSING_FIELD),
        "no-id": ("timestamp=1717000000&lat=40.8&lon=-96.7", R.MISSING_FIELD),
        "no-lat": ("id=123456&timestamp=1717000000&lon=-96.7", R.MISSING_FIELD),
        "no-lon": ("id=123456&timestamp=1717000000&lat=40.8", R.MISSING_FIELD),
        "id-blank": ("id=%20%20&lat=40.8&lon=-96.7", R.MISSING_FIELD),
        "id-control": ("id=%00abc&lat=40.8&lon=-96.7", R.WRONG_TYPE),
        "id-200-chars": ("id=" + "x" * 200 + "&lat=40.8&lon=-96.7", R.OUT_OF_RANGE),
        "id-not-utf8": ("id=%FF&lat=40.8&lon=-96.7", R.BAD_ENCODING),
        "id-twice": ("id=1&id=2&lat=40.8&lon=-96.7", R.WRONG_TYPE),
        "lat-words": (OSM.replace("lat=40.8", "lat=abc"), R.WRONG_TYPE),
        "lat-nan": (OSM.replace("lat=40.8", "lat=nan"), R.WRONG_TYPE),
        "lat-inf": (OSM.replace("lat=40.8", "lat=inf"), R.WRONG_TYPE),
        "lat-hex": (OSM.replace("lat=40.8", "lat=0x28"), R.WRONG_TYPE),
        "lat-underscore": (OSM.replace("lat=40.8", "lat=4_0.8"), R.WRONG_TYPE),
        "lat-padded": (OSM.replace("lat=40.8", "lat=%2040.8"), R.WRONG_TYPE),
        "lat-comma-decimal": (OSM.replace("lat=40.8", "lat=40,8"), R.WRONG_TYPE),
        "lat-overflow": (OSM.replace("lat=40.8", "lat=1e999"), R.OUT_OF_RANGE),
        "lat-91": (OSM.replace("lat=40.8", "lat=91"), R.OUT_OF_RANGE),
        "lon-minus-181": (OSM.replace("lon=-96.7", "lon=-181"), R.OUT_OF_RANGE),
        "null-island": ("id=123456&timestamp=1717000000&lat=0&lon=0", R.OUT_OF_RANGE),
        "null-island-decimals": ("id=123456&timestamp=1717000000&lat=0.000&lon=-0.0", R.OUT_OF_RANGE),
        "speed-300-knots": (OSM + "&speed=300", R.OUT_OF_RANGE),
        "speed-negative": (OSM + "&speed=-1", R.OUT_OF_RANGE),
        "speed-words": (OSM + "&speed=fast", R.WRONG_TYPE),
        "bearing-361": (OSM + "&bearing=361", R.OUT_OF_RANGE),
        "heading-negative": (OSM + "&heading=-5", R.OUT_OF_RANGE),
        "batt-101": (OSM + "&batt=101", R.OUT_OF_RANGE),
        "accuracy-negative": (OSM + "&accuracy=-1", R.OUT_OF_RANGE),
        "altitude-99999": (OSM + "&altitude=99999", R.OUT_OF_RANGE),
        "timestamp-words": (OSM.replace("1717000000", "abc"), R.WRONG_TYPE),
        "timestamp-naive-iso": (OSM.replace("1717000000", "2024-05-29T16:26:40"), R.WRONG_TYPE),
        "timestamp-bad-calendar": (OSM.replace("1717000000", "2024-13-45%2025:61:61"), R.OUT_OF_RANGE),
        "timestamp-future": (OSM.replace("1717000000", "1717999999"), R.FUTURE_TIMESTAMP),
        "timestamp-ms-future": (OSM.replace("1717000000", "1717000600000"), R.FUTURE_TIMESTAMP),
        "timestamp-stale": (OSM.replace("1717000000", "1000"), R.STALE_TIMESTAMP),
        "timestamp-plain-stale": (OSM.replace("1717000000", "2024-05-01%2016:26:40"), R.STALE_TIMESTAMP),
        "timestamp-iso-future": (OSM.replace("1717000000", "2024-05-29T17:26:40Z"), R.FUTURE_TIMESTAMP),
        "alarm-with-space": (OSM + "&alarm=s%20o%20s", R.WRONG_TYPE),
        "alarm-punctuation": (OSM + "&alarm=sos!", R.WRONG_TYPE),
        "too-many-parameters": (OSM + "".join(f"&x{i}=1" for i in range(70)), R.OVERSIZED),
        "oversized": (OSM + "&pad=" + "x" * 17000, R.OVERSIZED),
    }
    cases = [HttpCase(f"osm-query-{n}", q, r) for n, (q, r) in query.items()]
    cases += [
        HttpCase("osm-method-put", OSM, R.UNSUPPORTED_MESSAGE, method="PUT"),
        HttpCase("osm-method-delete", OSM, R.UNSUPPORTED_MESSAGE, method="DELETE"),
        HttpCase("osm-form-xml-body", "", R.UNSUPPORTED_MESSAGE, OSM.encode(), "text/xml", "POST"),
        HttpCase("osm-form-not-utf8", "", R.BAD_ENCODING, b"id=\xff&lat=1&lon=2", None, "POST"),
        HttpCase("osm-form-missing-lat", "", R.MISSING_FIELD, b"id=1&lon=2", "application/x-www-form-urlencoded",
                 "POST"),
    ]
    cases += [HttpCase(f"osm-json-{name}", "", r, body, JSON_TYPE, "POST") for name, body, r in BROKEN_JSON]
    loc = OSM_JSON["location"]
    assert isinstance(loc, dict)
    coords = loc["coords"]
    json_cases: dict[str, tuple[object, R]] = {
        "no-device-id": ({"location": loc}, R.MISSING_FIELD),
        "device-id-number": ({**OSM_JSON, "device_id": 48241179}, R.WRONG_TYPE),
        "device-id-empty": ({**OSM_JSON, "device_id": ""}, R.MISSING_FIELD),
        "no-location": ({"device_id": "48241179"}, R.MISSING_FIELD),
        "location-array": ({**OSM_JSON, "location": [loc]}, R.WRONG_TYPE),
        "no-timestamp": ({**OSM_JSON, "location": {"coords": coords}}, R.MISSING_FIELD),
        "timestamp-epoch": ({**OSM_JSON, "location": {**loc, "timestamp": 1717000000}}, R.WRONG_TYPE),
        "timestamp-naive": ({**OSM_JSON, "location": {**loc, "timestamp": "2024-05-29T16:26:40"}}, R.WRONG_TYPE),
        "timestamp-future": ({**OSM_JSON, "location": {**loc, "timestamp": "2024-05-30T00:00:00Z"}},
                             R.FUTURE_TIMESTAMP),
        "timestamp-stale": ({**OSM_JSON, "location": {**loc, "timestamp": "2000-01-01T00:00:00.000Z"}},
                            R.STALE_TIMESTAMP),
        "no-coords": ({**OSM_JSON, "location": {"timestamp": loc["timestamp"]}}, R.MISSING_FIELD),
        "coords-text": ({**OSM_JSON, "location": {**loc, "coords": "40.8,-96.7"}}, R.WRONG_TYPE),
        "no-latitude": ({**OSM_JSON, "location": {**loc, "coords": {"longitude": -96.7}}}, R.MISSING_FIELD),
        "latitude-text": ({**OSM_JSON, "location": {**loc, "coords": {"latitude": "40.8", "longitude": -96.7}}},
                          R.WRONG_TYPE),
        "null-island": ({**OSM_JSON, "location": {**loc, "coords": {"latitude": 0, "longitude": 0}}},
                        R.OUT_OF_RANGE),
        "speed-200-mps": ({**OSM_JSON, "location": {**loc, "coords": {**coords, "speed": 200}}}, R.OUT_OF_RANGE),
        "heading-400": ({**OSM_JSON, "location": {**loc, "coords": {**coords, "heading": 400}}}, R.OUT_OF_RANGE),
        "speed-bool": ({**OSM_JSON, "location": {**loc, "coords": {**coords, "speed": True}}}, R.WRONG_TYPE),
        "battery-level-1.5": ({**OSM_JSON, "location": {**loc, "battery": {"level": 1.5}}}, R.OUT_OF_RANGE),
        "battery-level-text": ({**OSM_JSON, "location": {**loc, "battery": {"level": "full"}}}, R.WRONG_TYPE),
        "battery-text": ({**OSM_JSON, "location": {**loc, "battery": "full"}}, R.WRONG_TYPE),
        "extras-text": ({**OSM_JSON, "location": {**loc, "extras": "x"}}, R.WRONG_TYPE),
        "alarm-number": ({**OSM_JSON, "location": {**loc, "alarm": 5}}, R.WRONG_TYPE),
        "alarm-sentence": ({**OSM_JSON, "location": {**loc, "alarm": "help me"}}, R.WRONG_TYPE),
    }
    cases += [HttpCase(f"osm-json-{n}", "", r, js(b), JSON_TYPE, "POST") for n, (b, r) in json_cases.items()]
    cases.append(HttpCase("osm-json-charset-param", "", R.NOT_AN_OBJECT, b"[]", "application/json; charset=utf-8",
                          "POST"))
    return cases


MQTT_CASES: list[MqttCase] = _campusguard() + _owntracks() + _zigbee2mqtt()
HTTP_CASES: list[HttpCase] = _osmand_http()
