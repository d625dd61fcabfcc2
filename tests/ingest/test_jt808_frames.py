"""Golden JT/T 808 frames, 2013 and 2019, written byte by byte from the standard's tables.

Every frame below is hex as it goes over the wire (0x7E ... check code 0x7E, escaped), with what its bytes
mean beside it. Terminal number 13912345678: 2013 sends it as six BCD bytes ``01 39 12 34 56 78``, 2019 as
ten ``00 00 00 00 01 39 12 34 56 78`` after the protocol version byte ``01`` (body attribute bit 14 set).
Times are Beijing time, so ``24 05 29 18 30 00`` is 2024-05-29T10:30:00Z.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.decoders import Limits
from ingest.directory import Directory
from ingest.messages import ButtonPress, DeviceAlarm, Fix, Heartbeat, Reading, Rejection
from ingest.protocols import jt808
from ingest.protocols.jt808 import FrameError, Header, MsgId, RegisterResult, Result
from ingest.route import VIA_JT808, decode, route_batch
from ingest.spool import Envelope, Spooled
from ingest.tcp.jt808 import Jt808Protocol
from ingest.tcp.protocol import ProtocolContext

RECEIVED_AT = datetime(2024, 5, 29, 10, 31, tzinfo=UTC)
PHONE = "13912345678"


def wire(text: str) -> bytes:
    """Read hex bytes, each line's up to its first word that is not a byte (the annotation beside them)."""
    out = bytearray()
    for line in text.splitlines():
        for token in line.split():
            if len(token) != 2 or not all(c in "0123456789ABCDEF" for c in token):
                break
            out.append(int(token, 16))
    return bytes(out)


# 0x0200 location report, 2013 header.
LOCATION_2013 = wire("""
7E
02 00        message id 0x0200
00 2C        attributes: body 44 bytes, no encryption, not sub-packaged, 2013
01 39 12 34 56 78   terminal 13912345678
00 04        serial 4
00 00 00 00  alarm word: none
00 00 00 02  status: bit 1 positioned; north, east
01 57 FA F8  latitude 22543096 -> 22.543096
06 CC 62 89  longitude 114057865 -> 114.057865
00 15        altitude 21 m
01 F4        speed 500 -> 50.0 km/h
00 5A        direction 90
24 05 29 18 30 00   2024-05-29 18:30:00 Beijing
01 04 00 00 04 D2   item 0x01 mileage 1234 -> 123.4 km
03 02 01 F4         item 0x03 tachograph speed 500 -> 50.0 km/h
30 01 1C            item 0x30 signal strength 28
31 01 0C            item 0x31 satellites 12
C1           check code
7E""")

# The same location with a 2019 header: attributes 0x402C (bit 14), version 1, ten BCD bytes.
LOCATION_2019 = wire("""
7E 02 00 40 2C 01 00 00 00 00 01 39 12 34 56 78 00 04
00 00 00 00 00 00 00 02 01 57 FA F8 06 CC 62 89 00 15 01 F4 00 5A 24 05 29 18 30 00
01 04 00 00 04 D2 03 02 01 F4 30 01 1C 31 01 0C
80 7E""")

# 0x0200, 2019: the emergency bit set with no fix (status 0, coordinates 0), 18:30:05 Beijing.
SOS_NO_FIX_2019 = wire("""
7E 02 00 40 1C 01 00 00 00 00 01 39 12 34 56 78 00 05
00 00 00 01  alarm word: bit 0 emergency
00 00 00 00  status: not positioned
00 00 00 00 00 00 00 00 00 00 00 00 00 00 24 05 29 18 30 05
4E 7E""")

# 0x0200, 2013: status 0x0E = positioned, south (bit 2), west (bit 3); speed 0, direction 270.
SOUTH_WEST_2013 = wire("""
7E 02 00 00 1C 01 39 12 34 56 78 00 06
00 00 00 02  alarm word: bit 1 overspeed
00 00 00 0E 01 57 FA F8 06 CC 62 89 00 15 00 00 01 0E 24 05 29 18 30 10
7B 7E""")

# 0x0704 batch upload, 2019: 2 items, type 1 (blind-area backfill), each item a 28-byte location.
BATCH_BACKFILL_2019 = wire("""
7E 07 04 40 3F 01 00 00 00 00 01 39 12 34 56 78 00 07
00 02        2 items
01           type 1: blind-area backfill
00 1C  00 00 00 00 00 00 00 02 01 57 FA F8 06 CC 62 89 00 15 01 90 00 5A 24 05 29 18 00 00   40.0 km/h at 18:00:00
00 1C  00 00 00 00 00 00 00 02 01 58 00 0C 06 CC 62 89 00 15 01 90 00 5A 24 05 29 18 00 10   lat 22.544396 at 18:00:10
58 7E""")

# The same batch in 2013, sub-packaged: attributes bit 13, then package total 2 and index 1, 2.
PART_1_OF_2 = wire("""
7E 07 04 20 21 01 39 12 34 56 78 00 10 00 02 00 01
00 02 01 00 1C 00 00 00 00 00 00 00 02 01 57 FA F8 06 CC 62 89 00 15 01 90 00 5A 24 05 29 18 00 00
87 7E""")
PART_2_OF_2 = wire("""
7E 07 04 20 1E 01 39 12 34 56 78 00 11 00 02 00 02
00 1C 00 00 00 00 00 00 00 02 01 58 00 0C 06 CC 62 89 00 15 01 90 00 5A 24 05 29 18 00 10
A8 7E""")

# 0x0201 position query answer, 2013: the 0x8201 serial it answers (5), then the location of LOCATION_2013.
QUERY_ANSWER_2013 = wire("""
7E 02 01 00 2E 01 39 12 34 56 78 00 0A 00 05
00 00 00 00 00 00 00 02 01 57 FA F8 06 CC 62 89 00 15 01 F4 00 5A 24 05 29 18 30 00
01 04 00 00 04 D2 03 02 01 F4 30 01 1C 31 01 0C
C9 7E""")

# 0x0100 registration, 2013: province 44 (0x2C), city 300, maker "CGBUS" (5), model "JT-1" (20),
# terminal id "T000001" (7), plate colour 2 (yellow), plate "粤B12345" in GBK (D4 C1 = 粤).
REGISTER_2013 = wire("""
7E 01 00 00 2D 01 39 12 34 56 78 00 01
00 2C 01 2C 43 47 42 55 53
4A 54 2D 31 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
54 30 30 30 30 30 31 02 D4 C1 42 31 32 33 34 35
6F 7E""")

# 0x0100 registration, 2019: maker 11 bytes, model 30 ("JT-2019"), terminal id 30 ("T000002").
REGISTER_2019 = wire("""
7E 01 00 40 54 01 00 00 00 00 01 39 12 34 56 78 00 01
00 2C 01 2C 43 47 42 55 53 00 00 00 00 00 00
4A 54 2D 32 30 31 39 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
54 30 30 30 30 30 32 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
02 D4 C1 42 31 32 33 34 35
6F 7E""")

# 0x0102 authentication, 2013: the whole body is the code "0123456789abcdef".
AUTH_2013 = wire("""
7E 01 02 00 10 01 39 12 34 56 78 00 02
30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66
27 7E""")

# 0x0102 authentication, 2019: code length 16, code, IMEI "860000000000001" (15), software "V1.0.0" (20).
AUTH_2019 = wire("""
7E 01 02 40 34 01 00 00 00 00 01 39 12 34 56 78 00 02
10 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66
38 36 30 30 30 30 30 30 30 30 30 30 30 30 31
56 31 2E 30 2E 30 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0A 7E""")

# 0x0200 whose header says 44 body bytes but carries 4 (an alarm word), with a check code that holds.
TRUNCATED_2013 = wire("7E 02 00 00 2C 01 39 12 34 56 78 00 04 00 00 00 00 1A 7E")

HEARTBEAT_2013 = wire("7E 00 02 00 00 01 39 12 34 56 78 00 03 31 7E")  # 0x0002, empty body, serial 3
HEARTBEAT_2019 = wire("7E 00 02 40 00 01 00 00 00 00 01 39 12 34 56 78 00 03 70 7E")
LOGOUT_2013 = wire("7E 00 03 00 00 01 39 12 34 56 78 00 09 3A 7E")  # 0x0003, serial 9

# 0x0001 terminal general response: answers serial 5, message 0x8201, result 0.
TERMINAL_RESPONSE_2013 = wire("7E 00 01 00 05 01 39 12 34 56 78 00 08 00 05 82 01 00 BA 7E")

# Serial 0x7E7D and an answered serial 0x7E7D: on the wire 7E -> 7D 02, 7D -> 7D 01.
ESCAPED_2013 = wire("7E 00 01 00 05 01 39 12 34 56 78 7D 02 7D 01 7D 02 7D 01 80 01 00 B5 7E")


def test_headers_of_both_versions() -> None:
    h13 = jt808.parse_frame(LOCATION_2013).header
    assert h13 == Header(MsgId.LOCATION, PHONE, 4, None, 0, None)
    h19 = jt808.parse_frame(LOCATION_2019).header
    assert h19 == Header(MsgId.LOCATION, PHONE, 4, 1, 0, None)
    assert jt808.parse_frame(PART_2_OF_2).header.packages == (2, 2)


def test_location_fields_and_additional_items() -> None:
    for frame in (LOCATION_2013, LOCATION_2019):
        location = jt808.parse_location(jt808.parse_frame(frame).body)
        assert (location.alarm, location.positioned) == (0, True)
        assert (location.lat, location.lon) == (22.543096, 114.057865)
        assert (location.altitude_m, location.speed_kmh, location.direction) == (21, 50.0, 90)
        assert location.time == datetime(2024, 5, 29, 10, 30, tzinfo=UTC)
        assert (location.mileage_km, location.tachograph_kmh, location.signal, location.satellites) == (
            123.4, 50.0, 28, 12)
    south_west = jt808.parse_location(jt808.parse_frame(SOUTH_WEST_2013).body)
    assert (south_west.lat, south_west.lon, south_west.direction) == (-22.543096, -114.057865, 270)


def test_location_decodes_to_a_fix_and_readings() -> None:
    messages = decode(Envelope(VIA_JT808, f"jt808/{PHONE}\n0", LOCATION_2019, RECEIVED_AT), Limits())
    fix = messages[0]
    assert fix == Fix("jt808", PHONE, datetime(2024, 5, 29, 10, 30, tzinfo=UTC), 114.057865, 22.543096, 50.0,
                      90.0, 21.0, None, None, RECEIVED_AT)
    assert {(m.metric, m.value) for m in messages if isinstance(m, Reading)} == {
        ("mileage_km", 123.4), ("tachograph_speed_kmh", 50.0), ("signal_strength", 28.0), ("satellites", 12.0)}


def test_emergency_bit_is_a_press_even_without_a_fix_and_only_when_it_rose() -> None:
    rose = decode(Envelope(VIA_JT808, f"jt808/{PHONE}\n1", SOS_NO_FIX_2019, RECEIVED_AT), Limits())
    assert rose == [ButtonPress("jt808", PHONE, datetime(2024, 5, 29, 10, 30, 5, tzinfo=UTC), "sos", None, None,
                                None, RECEIVED_AT)]
    held = decode(Envelope(VIA_JT808, f"jt808/{PHONE}\n0", SOS_NO_FIX_2019, RECEIVED_AT), Limits())
    assert [type(m) for m in held] == [Heartbeat]  # bit still set, no fix: a sign of life only


def test_overspeed_is_a_device_alarm() -> None:
    messages = decode(Envelope(VIA_JT808, f"jt808/{PHONE}\n2", SOUTH_WEST_2013, RECEIVED_AT), Limits())
    alarm = next(m for m in messages if isinstance(m, DeviceAlarm))
    assert (alarm.alarm, alarm.detail["alarm_word"]) == ("overspeed", 2)


def test_batch_backfill_of_2019() -> None:
    kind, locations = jt808.parse_batch(jt808.parse_frame(BATCH_BACKFILL_2019).body)
    assert kind == 1 and [(loc.lat, loc.speed_kmh) for loc in locations] == [(22.543096, 40.0), (22.544396, 40.0)]
    fixes = decode(Envelope(VIA_JT808, f"jt808/{PHONE}\n0,0", BATCH_BACKFILL_2019, RECEIVED_AT), Limits())
    # Device time 30 minutes before arrival: the geo clock takes them as a backlog (docs/jt808.md).
    assert [f.time for f in fixes] == [datetime(2024, 5, 29, 10, 0, tzinfo=UTC),
                                       datetime(2024, 5, 29, 10, 0, 10, tzinfo=UTC)]


def test_sub_packages_are_reassembled() -> None:
    whole = decode(Envelope(VIA_JT808, f"jt808/{PHONE}\n0,0", PART_1_OF_2 + PART_2_OF_2, RECEIVED_AT), Limits())
    assert [(m.lat, m.lon) for m in whole if isinstance(m, Fix)] == [(22.543096, 114.057865), (22.544396, 114.057865)]
    # Any order; and one package alone is not a message.
    parts = [jt808.parse_frame(PART_2_OF_2), jt808.parse_frame(PART_1_OF_2)]
    assert jt808.reassemble(parts).header == Header(MsgId.BATCH_LOCATION, PHONE, 0x10, None, 0, None)
    with pytest.raises(FrameError, match="bad_package"):
        jt808.reassemble(parts[:1])


def test_query_answer() -> None:
    serial, location = jt808.parse_query_answer(jt808.parse_frame(QUERY_ANSWER_2013).body)
    assert (serial, location.lat, location.mileage_km) == (5, 22.543096, 123.4)


def test_registration_of_both_versions() -> None:
    assert jt808.parse_registration(jt808.parse_frame(REGISTER_2013).body, None) == jt808.Registration(
        44, 300, "CGBUS", "JT-1", "T000001", 2, "粤B12345")
    frame = jt808.parse_frame(REGISTER_2019)
    assert jt808.parse_registration(frame.body, frame.header.version) == jt808.Registration(
        44, 300, "CGBUS", "JT-2019", "T000002", 2, "粤B12345")


def test_authentication_of_both_versions() -> None:
    assert jt808.parse_authentication(jt808.parse_frame(AUTH_2013).body, None) == jt808.Authentication(
        "0123456789abcdef")
    assert jt808.parse_authentication(jt808.parse_frame(AUTH_2019).body, 1) == jt808.Authentication(
        "0123456789abcdef", "860000000000001", "V1.0.0")


def test_heartbeat_logout_and_terminal_response() -> None:
    for frame, said in ((HEARTBEAT_2013, "heartbeat"), (HEARTBEAT_2019, "heartbeat"), (LOGOUT_2013, "logout"),
                        (TERMINAL_RESPONSE_2013, "general_response")):
        (message,) = decode(Envelope(VIA_JT808, f"jt808/{PHONE}\n", frame, RECEIVED_AT), Limits())
        assert isinstance(message, Heartbeat) and message.detail == {"jt808": said}
    assert jt808.parse_terminal_response(jt808.parse_frame(TERMINAL_RESPONSE_2013).body) == (5, 0x8201, 0)


def test_escaping_both_ways() -> None:
    frame = jt808.parse_frame(ESCAPED_2013)
    assert frame.header.serial == 0x7E7D and jt808.parse_terminal_response(frame.body) == (0x7E7D, 0x8001, 0)
    assert jt808.encode_frame(frame.header, frame.body) == ESCAPED_2013
    assert jt808.escape(b"\x30\x7e\x08\x7d\x55") == b"\x30\x7d\x02\x08\x7d\x01\x55"


def test_platform_answers_golden() -> None:
    # 0x8001 to LOCATION_2013: serial 1 of ours, answering serial 4, message 0x0200, result 0.
    ok = jt808.encode_frame(Header(MsgId.PLATFORM_RESPONSE, PHONE, 1),
                            jt808.platform_response(4, MsgId.LOCATION, Result.OK))
    assert ok == wire("7E 80 01 00 05 01 39 12 34 56 78 00 01 00 04 02 00 00 B3 7E")
    # 0x8100 to REGISTER_2019: answering serial 1, result 0, the code.
    answer = jt808.encode_frame(Header(MsgId.REGISTER_ANSWER, PHONE, 1, 1),
                                jt808.register_answer(1, RegisterResult.OK, "0123456789abcdef"))
    assert answer == wire("7E 81 00 40 13 01 00 00 00 00 01 39 12 34 56 78 00 01 00 01 00"
                          " 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66 E5 7E")
    query = jt808.encode_frame(Header(MsgId.QUERY_LOCATION, PHONE, 5), b"")
    assert jt808.parse_frame(query).header.msg_id == 0x8201


def test_bad_frames_raise_with_reasons() -> None:
    with pytest.raises(FrameError, match="bad_check_code"):
        jt808.parse_frame(HEARTBEAT_2013[:-2] + b"\x32\x7e")
    with pytest.raises(FrameError, match="bad_check_code"):
        jt808.parse_frame(LOCATION_2013[:30] + b"\x7e")  # a frame cut short fails its check code first
    with pytest.raises(FrameError, match="truncated"):
        jt808.parse_frame(TRUNCATED_2013)
    with pytest.raises(FrameError, match="bad_escape"):
        jt808.parse_frame(b"\x7e\x00\x02\x00\x00\x01\x39\x12\x34\x56\x78\x00\x03\x7d\x05\x7e")


def test_splitting_a_stream() -> None:
    frames, garbage, rest = jt808.split_frames(b"GET / HTTP/1.1\r\n" + HEARTBEAT_2013 + LOCATION_2013[:20])
    assert (frames, garbage, rest) == ([HEARTBEAT_2013], b"GET / HTTP/1.1\r\n", LOCATION_2013[:20])


def test_bad_input_becomes_dead_letters_with_reasons() -> None:
    bad = [
        (f"jt808/{PHONE}\n", HEARTBEAT_2013[:-2] + b"\x32\x7e"),  # check code
        (f"jt808/{PHONE}\n0", TRUNCATED_2013),  # truncated
        (f"jt808/{PHONE}\n", b"\x00garbage"),  # no frame at all
        (f"jt808/{PHONE}\n0", PART_1_OF_2),  # half a sub-packaged message
        ("jt808/13800000000\n", HEARTBEAT_2013),  # topic and frame disagree
        (f"jt808/{PHONE}\n\nnot_authenticated terminal {PHONE} sent 0x0200 before authenticating", LOCATION_2013),
    ]
    batch = [Spooled(n, Envelope(VIA_JT808, topic, payload, RECEIVED_AT)) for n, (topic, payload) in enumerate(bad)]
    routed = route_batch(batch, Directory({}), Limits())
    assert [d.reason for d in routed.dead_letters] == ["wrong_type"] * 5 + ["not_authenticated"]
    assert "check code" in routed.dead_letters[0].message and "44 body bytes" in routed.dead_letters[1].message
    assert "0x7E" in routed.dead_letters[2].message
    assert routed.positions == []


def test_session_refuses_reports_before_authentication_and_keeps_bad_frames() -> None:
    protocol = Jt808Protocol(ProtocolContext([Directory({})], Limits(), "postgresql://unused"))
    session = protocol.session("192.0.2.7")
    stream = b"\x00\x01junk" + HEARTBEAT_2013[:-2] + b"\x32\x7e" + LOCATION_2013
    frames, garbage, rest = protocol.split(stream)
    outcome = asyncio.run(session.handle(frames, garbage, RECEIVED_AT))
    reasons = [e.topic.split("\n")[2].split(" ")[0] for e in outcome.envelopes]
    assert reasons == ["bad_encoding", "bad_encoding", "not_authenticated"]
    assert PHONE in outcome.envelopes[2].topic and outcome.envelopes[2].payload == LOCATION_2013
    (answer,) = outcome.replies  # only the report is answered: 0x8001 result 1 to serial 4
    assert jt808.parse_frame(answer).body == jt808.platform_response(4, MsgId.LOCATION, Result.FAILURE)
    assert not outcome.close and not outcome.panics and rest == b""


def test_rejections_are_never_raised_past_the_decoder() -> None:
    for payload in (b"", b"\x7e\x7e", b"\x7e" * 5, LOCATION_2013[:-1], bytes(range(256))):
        with pytest.raises(Rejection):
            decode(Envelope(VIA_JT808, f"jt808/{PHONE}\n", payload, RECEIVED_AT), Limits())


GOLDEN = [LOCATION_2013, LOCATION_2019, SOS_NO_FIX_2019, SOUTH_WEST_2013, BATCH_BACKFILL_2019, QUERY_ANSWER_2013,
          REGISTER_2013, REGISTER_2019, HEARTBEAT_2013, LOGOUT_2013, TERMINAL_RESPONSE_2013]


def _decode_or_refuse(topic: str, payload: bytes) -> None:
    try:
        messages = decode(Envelope(VIA_JT808, topic, payload, RECEIVED_AT), Limits())
    except Rejection:
        return
    for message in messages:
        assert message.source == "jt808" and message.received_at == RECEIVED_AT
        if isinstance(message, Fix):
            assert -90 <= message.lat <= 90 and -180 <= message.lon <= 180 and (message.lat, message.lon) != (0, 0)
            assert message.speed_kmh is None or 0 <= message.speed_kmh <= 400


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=200), marks=st.text(max_size=12))
def test_arbitrary_bytes_decode_or_are_refused(payload: bytes, marks: str) -> None:
    _decode_or_refuse(f"jt808/{PHONE}\n{marks}", payload)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_damaged_golden_frames_decode_or_are_refused(data: st.DataObject) -> None:
    frame = bytearray(data.draw(st.sampled_from(GOLDEN)))
    for _ in range(data.draw(st.integers(1, 4))):
        frame[data.draw(st.integers(0, len(frame) - 1))] = data.draw(st.integers(0, 255))
    _decode_or_refuse(f"jt808/{PHONE}\n1,1", bytes(frame))
