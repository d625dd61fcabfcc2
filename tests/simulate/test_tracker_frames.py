"""The simulated JT/T 808 terminal's and GT06 tracker's bytes, read back by ingest's own codecs and decoders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campusguard.simulate import tracker_frames as frames
from campusguard.simulate.model import DeviceRef, SimFix
from ingest.decoders import gt06 as gt06_decoder
from ingest.decoders import jt808 as jt808_decoder
from ingest.messages import ButtonPress, Fix, Heartbeat
from ingest.protocols import gt06, jt808
from ingest.protocols.jt808 import MsgId
from tests.ingest.helpers import LIMITS

NOW = datetime.now(UTC).replace(microsecond=0)
BUS = DeviceRef("bus-02-jt808", "school", "jt808", "13805710002")
TRACKER = DeviceRef("bus-01-gt06", "school", "gt06", "868130040000001")


def fix(device: DeviceRef, seconds_ago: float, lat: float = 40.8136, lon: float = -96.7026) -> SimFix:
    return SimFix(device, NOW - timedelta(seconds=seconds_ago), lon, lat, 36.4, 271.0, 4.0, 355.0, None)


def test_registration_and_authentication_read_as_the_standard_lays_them_out() -> None:
    raw = frames.jt808_frame("13805710002", 7, MsgId.REGISTER, frames.jt808_registration("粤B12345", "bus-02"))
    frame = jt808.parse_frame(raw)
    assert (frame.header.msg_id, frame.header.phone, frame.header.serial, frame.header.version) == (
        MsgId.REGISTER, "13805710002", 7, 1)
    registration = jt808.parse_registration(frame.body, frame.header.version)
    assert (registration.province, registration.city, registration.terminal_id, registration.plate) == (
        44, 300, "bus-02", "粤B12345")


def test_a_jt808_report_decodes_to_the_fix_it_was_made_from() -> None:
    location = frames.jt808_location(fix(BUS, 5), NOW - timedelta(seconds=5))
    raw = frames.jt808_frame("13805710002", 1, MsgId.LOCATION, jt808.encode_location(location))
    decoded = jt808_decoder.decode(jt808_decoder.envelope_topic("13805710002", [0]), raw, NOW, LIMITS)
    fixes = [m for m in decoded if isinstance(m, Fix)]
    assert len(fixes) == 1
    got = fixes[0]
    assert (got.external_id, got.time, round(got.lat, 6), round(got.lon, 6), got.speed_kmh, got.heading_deg,
            got.backlog) == ("13805710002", NOW - timedelta(seconds=5), 40.8136, -96.7026, 36.4, 271.0, False)


def test_a_blind_area_backfill_decodes_as_backlog_and_a_normal_batch_does_not() -> None:
    stored = [frames.jt808_location(fix(BUS, 600 - s), NOW - timedelta(seconds=600 - s)) for s in range(3)]
    for backfill in (True, False):
        raw = frames.jt808_frame("13805710002", 2, MsgId.BATCH_LOCATION, frames.jt808_batch(stored, backfill))
        decoded = jt808_decoder.decode(jt808_decoder.envelope_topic("13805710002", [0, 0, 0]), raw, NOW, LIMITS)
        fixes = [m for m in decoded if isinstance(m, Fix)]
        assert [f.time for f in fixes] == [NOW - timedelta(seconds=600 - s) for s in range(3)]
        assert {f.backlog for f in fixes} == {backfill}


def test_an_sos_without_a_fix_is_a_press_and_no_position() -> None:
    location = frames.jt808_location(None, NOW, jt808.EMERGENCY_BIT)
    raw = frames.jt808_frame("13805710002", 3, MsgId.LOCATION, jt808.encode_location(location))
    decoded = jt808_decoder.decode(jt808_decoder.envelope_topic("13805710002", [jt808.EMERGENCY_BIT]), raw, NOW,
                                   LIMITS)
    assert [type(m) for m in decoded] == [ButtonPress]
    press = decoded[0]
    assert isinstance(press, ButtonPress) and press.action == "sos" and press.lat is None


def test_gt06_login_location_and_reupload_decode_with_the_clock_offset() -> None:
    beijing = timedelta(hours=8)
    login = gt06.decode_message(gt06.parse_frame(frames.gt06_login(TRACKER.external_id or "", 1, beijing)))
    assert isinstance(login, gt06.Login)
    assert (login.imei, login.timezone) == ("868130040000001", beijing)
    topic = gt06_decoder.topic_for("868130040000001", beijing)
    for reupload in (False, True):
        raw = frames.gt06_location(fix(TRACKER, 30), 2, beijing, reupload)
        decoded = gt06_decoder.decode(topic, raw, NOW, LIMITS)
        assert len(decoded) == 1 and isinstance(decoded[0], Fix)
        got = decoded[0]
        # Local time on the wire, UTC once read with the offset: the same instant as the fix.
        assert (got.time, round(got.lat, 4), round(got.lon, 4), got.backlog) == (
            NOW - timedelta(seconds=30), 40.8136, -96.7026, reupload)


def test_gt06_sos_alarm_is_a_press_and_is_acknowledged() -> None:
    raw = frames.gt06_sos(NOW, (-96.7026, 40.8136), 9, timedelta(0))
    decoded = gt06_decoder.decode(gt06_decoder.topic_for("868130040000001"), raw, NOW, LIMITS)
    presses = [m for m in decoded if isinstance(m, ButtonPress)]
    assert len(presses) == 1 and presses[0].action == "sos" and presses[0].time == NOW
    assert not [m for m in decoded if isinstance(m, Heartbeat)]
    assert gt06.response_for(gt06.parse_frame(raw)) == gt06.build_frame(gt06.Protocol.ALARM, b"", 9)
