"""Spool partitions follow the device, not the whole topic: one terminal's messages stay on one writer, in order."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime

from ingest.decoders import jt808 as jt808_topics
from ingest.decoders.gt06 import VIA_GT06, topic_for
from ingest.messages import OriginReason, Rejection
from ingest.route import VIA_JT808, VIA_MQTT, VIA_OSMAND_HTTP, osmand_topic
from ingest.spool import VIA_OSMAND_HTTP as SPOOL_OSMAND
from ingest.spool import partition_of

PARTITIONS = 8
REFUSED = Rejection(OriginReason.NOT_AUTHENTICATED, "terminal sent 0x0200 before authenticating")


def spread(keys: list[str], parts: list[int]) -> None:
    """The cases below would prove nothing if every device landed on one partition anyway."""
    assert len(set(parts)) > 1, f"{keys} all hash to one partition"


def test_the_spool_names_the_osmand_source_as_the_router_does() -> None:
    assert SPOOL_OSMAND == VIA_OSMAND_HTTP


def test_a_jt808_terminals_reports_share_a_partition_whatever_their_alarm_bits_or_verdict() -> None:
    topics = [jt808_topics.envelope_topic("13912345678"), jt808_topics.envelope_topic("13912345678", [0x1]),
              jt808_topics.envelope_topic("13912345678", [0x0, 0x3]),
              jt808_topics.envelope_topic("13912345678", None, REFUSED)]
    assert len(set(topics)) == len(topics)  # the topics differ message to message ...
    assert {partition_of(t, PARTITIONS, VIA_JT808) for t in topics} == {partition_of(topics[0], PARTITIONS)}
    others = [f"1391234{n:04d}" for n in range(20)]
    spread(others, [partition_of(jt808_topics.envelope_topic(phone), PARTITIONS, VIA_JT808) for phone in others])


def test_a_gt06_trackers_refused_frame_lands_with_its_accepted_ones() -> None:
    imei = "868120301234567"
    assert partition_of(topic_for(imei, verdict=REFUSED), PARTITIONS, VIA_GT06) == partition_of(
        topic_for(imei), PARTITIONS, VIA_GT06)


def test_two_osmand_requests_of_one_tracker_land_on_one_partition() -> None:
    first = osmand_topic("id=bus-7f3a&lat=40.791&lon=-96.631&timestamp=1764921600&speed=12.5", "")
    second = osmand_topic("lat=40.792&lon=-96.632&timestamp=1764921605&deviceid=bus-7f3a&batt=80", "")
    refused = osmand_topic("id=bus-7f3a&lat=40.793&lon=-96.633", "", REFUSED)
    form = osmand_topic("", "application/x-www-form-urlencoded")
    body = b"id=bus-7f3a&lat=40.794&lon=-96.634"
    sdk = osmand_topic("", "application/json")
    sdk_body = json.dumps({"device_id": "bus-7f3a", "location": {"timestamp": datetime.now(UTC).isoformat(),
                                                                 "coords": {"latitude": 40.795, "longitude": -96.635}}})
    home = partition_of(first, PARTITIONS, VIA_OSMAND_HTTP)
    assert partition_of(second, PARTITIONS, VIA_OSMAND_HTTP) == home
    assert partition_of(refused, PARTITIONS, VIA_OSMAND_HTTP) == home
    assert partition_of(form, PARTITIONS, VIA_OSMAND_HTTP, body) == home
    assert partition_of(sdk, PARTITIONS, VIA_OSMAND_HTTP, sdk_body.encode()) == home
    trackers = [f"bus-{n:04x}" for n in range(20)]
    spread(trackers, [partition_of(osmand_topic(f"id={t}&lat=1&lon=2", ""), PARTITIONS, VIA_OSMAND_HTTP)
                      for t in trackers])


def test_an_osmand_request_without_a_readable_id_still_gets_a_partition() -> None:
    for body in (b"", b"{not json", b"[" * 4096, b"&".join(b"k%d=v" % n for n in range(100)), b'{"device_id": 7}'):
        assert 0 <= partition_of(osmand_topic("", "application/json"), PARTITIONS, VIA_OSMAND_HTTP, body) < PARTITIONS


def test_an_mqtt_topic_is_hashed_whole_as_before() -> None:
    # Spools written before this change stay where they are: a topic without a line break hashes as it did.
    topic = "campusguard/v1/school-1/gps/bus-01-gps"
    assert partition_of(topic, PARTITIONS, VIA_MQTT) == zlib.crc32(topic.encode()) % PARTITIONS == partition_of(
        topic, PARTITIONS)
