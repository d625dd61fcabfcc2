"""GT06 golden frames, written byte by byte from the protocol's tables, through the codec and the decoder.

Every frame below is laid out field by field with its decoded value beside it. The common fields:

- time ``18 05 1D 10 1D 00`` = 2024-05-29 16:29:00 UTC (YY MM DD hh mm ss), a minute before RECEIVED_AT;
- latitude ``04 48 00 68`` = 71,827,560 / 30000 / 60 = 39°54.2520' = 39.904200° (north by the status bit);
- longitude ``0C 7D 39 88`` = 209,533,320 / 30000 / 60 = 116°24.4440' = 116.407400° (east);
- cell ``01 CC | 00 | 27 95 | 0E 2A 4B`` = MCC 460 (China), MNC 0 (China Mobile), LAC 10133, cell id 928331.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.decoders import Limits
from ingest.decoders.gt06 import NAME, TOPIC_FILTERS, battery_pct, decode, topic_for
from ingest.messages import ButtonPress, DeviceAlarm, Fix, Heartbeat, OriginReason, Rejection, RejectReason
from ingest.protocols.gt06 import (
    AlarmReport,
    Cell,
    Fault,
    Gt06Error,
    Location,
    Login,
    Status,
    TerminalInfo,
    build_frame,
    crc_itu,
    decode_message,
    parse_frame,
    response_for,
    split_frames,
)
from tests.ingest.helpers import LIMITS, RECEIVED_AT

IMEI = "868120301234567"
TOPIC = f"gt06/{IMEI}"
DEVICE_TIME = datetime(2024, 5, 29, 16, 29, tzinfo=UTC)
LAT, LON = 39.9042, 116.4074
CELL = Cell(mcc=460, mnc=0, lac=10133, cell_id=928331)


def frame(spaced: str) -> bytes:
    return bytes.fromhex(spaced.replace("|", " "))


LOGIN = frame(
    "78 78"                      # start, short form
    "|0D"                        # length 13 = protocol 1 + content 8 + serial 2 + CRC 2
    "|01"                        # protocol: login
    "|08 68 12 03 01 23 45 67"   # terminal id, BCD with a leading 0: IMEI 868120301234567
    "|00 01"                     # serial 1
    "|D9 17"                     # CRC-ITU over 0D .. 00 01
    "|0D 0A"                     # stop
)
LOGIN_NEWER = frame(
    "78 78|11|01"
    "|08 68 12 03 01 23 45 67"   # IMEI 868120301234567
    "|36 08"                     # type identification code 0x3608
    "|32 00"                     # time zone: 0x320 = 800 -> GMT+8:00 (bits 15-4), bit 3 clear -> east
    "|00 02|7A B9|0D 0A"         # serial 2, CRC, stop
)
LOCATION = frame(
    "78 78|1F|12"                # length 31, protocol: GPS + LBS location
    "|18 05 1D 10 1D 00"         # 2024-05-29 16:29:00 UTC
    "|CA"                        # GPS info length 12 (high nibble), 10 satellites (low nibble)
    "|04 48 00 68"               # latitude 39.904200
    "|0C 7D 39 88"               # longitude 116.407400
    "|28"                        # speed 40 km/h
    "|14 5A"                     # 0001 0100 0101 1010: real-time, positioned, east, north, course 0x05A = 90
    "|01 CC|00|27 95|0E 2A 4B"   # MCC 460, MNC 0, LAC 10133, cell id 928331
    "|00 03|AB 6A|0D 0A"         # serial 3, CRC, stop
)
LOCATION_NO_FIX = frame(
    "78 78|1F|12"
    "|18 05 1D 10 1D 00|C5"      # 16:29:00 UTC, 5 satellites
    "|04 48 00 68|0C 7D 39 88|00"
    "|04 00"                     # 0000 0100 0000 0000: north, but bit 12 clear: NOT positioned, course 0
    "|01 CC|00|27 95|0E 2A 4B"
    "|00 0A|34 6E|0D 0A"         # serial 10
)
LOCATION_2_LONG_FORM = frame(
    "79 79|00 22"                # start, long form; length 34 in two bytes
    "|22"                        # protocol: location, later layout
    "|18 05 1D 10 1C 00"         # 2024-05-29 16:28:00 UTC
    "|C9"                        # GPS info length 12, 9 satellites
    "|03 A2 38 B8"               # 60,963,000 -> 33°52.1000' = 33.868333° (south by the status bit)
    "|10 39 1B 50"               # 272,178,000 -> 151°12.6000' = 151.210000° (west by the status bit)
    "|00"                        # speed 0
    "|19 0E"                     # 0001 1001 0000 1110: positioned, west (bit 11), south (bit 10 clear), 270°
    "|01 CC|00|27 95|0E 2A 4B"   # cell
    "|01"                        # ACC high
    "|00"                        # data upload mode 0: at the fixed interval
    "|01"                        # GPS re-upload: 1, a stored fix sent late
    "|00 08|97 6F|0D 0A"         # serial 8, CRC, stop
)
STATUS = frame(
    "78 78|0A|13"                # length 10, protocol: status / heartbeat
    "|46"                        # terminal info 0100 0110: GPS tracking on, alarm 000 normal, charging, ACC on,
    #                              defence off, oil and electricity connected
    "|04"                        # voltage level 4: medium
    "|04"                        # GSM signal 4: strong
    "|00 02"                     # alarm 0x00 normal, language 0x02 English
    "|00 04|D5 94|0D 0A"         # serial 4, CRC, stop
)
STATUS_LONG_FORM = frame("79 79|00 0A|13|46|04|04|00 02|00 09|DC EE|0D 0A")  # the same in the long form, serial 9
SOS = frame(
    "78 78|25|16"                # length 37, protocol: alarm
    "|18 05 1D 10 1D 00|CA"      # 16:29:00 UTC, 10 satellites
    "|04 48 00 68|0C 7D 39 88"   # 39.904200 N, 116.407400 E
    "|00"                        # speed 0
    "|14 00"                     # positioned, east, north, course 0
    "|09"                        # LBS length 9
    "|01 CC|00|27 95|0E 2A 4B"   # cell
    "|61"                        # terminal info 0110 0001: GPS tracking on, alarm bits 100 = SOS, defence on
    "|05"                        # voltage level 5: high
    "|03"                        # GSM signal 3: good
    "|01 01"                     # alarm 0x01 SOS, language 0x01 Chinese
    "|00 05|2C 2E|0D 0A"         # serial 5, CRC, stop
)
SOS_NO_FIX = frame(
    "78 78|25|26"                # protocol: alarm, later number
    "|00 00 00 00 00 00"         # no date-time yet: all zeros is not a calendar time
    "|C0"                        # GPS info length 12, 0 satellites
    "|00 00 00 00|00 00 00 00|00"
    "|00 00"                     # not positioned
    "|09|01 CC|00|27 95|0E 2A 4B"
    "|61|02|01"                  # SOS bits; voltage level 2: very low; GSM 1: extremely weak
    "|01 01"                     # alarm 0x01 SOS
    "|00 06|87 C0|0D 0A"         # serial 6, CRC, stop
)
OVERSPEED = frame(
    "78 78|25|26"
    "|18 05 1D 10 1D 00|CA|04 48 00 68|0C 7D 39 88"
    "|5A"                        # speed 90 km/h
    "|14 5A"                     # positioned, east, north, course 90
    "|09|01 CC|00|27 95|0E 2A 4B"
    "|42"                        # terminal info 0100 0010: GPS tracking on, alarm bits normal, ACC on
    "|06|04"                     # voltage level 6: very high; GSM 4
    "|06 01"                     # alarm 0x06 overspeed, language Chinese
    "|00 07|48 40|0D 0A"         # serial 7
)
UNSUPPORTED = frame("78 78|05|99|00 0B|39 3D|0D 0A")  # protocol 0x99, no content, serial 11

# The acknowledgements, whole: start, length 5, the protocol echoed, the serial echoed, CRC over 05 .. serial, stop.
LOGIN_ACK = frame("78 78|05|01|00 01|D9 DC|0D 0A")
STATUS_ACK = frame("78 78|05|13|00 04|BE 5C|0D 0A")
SOS_ACK = frame("78 78|05|16|00 05|96 68|0D 0A")
SOS_NO_FIX_ACK = frame("78 78|05|26|00 06|22 5D|0D 0A")
STATUS_LONG_FORM_ACK = frame("79 79|00 05|13|00 09|56 10|0D 0A")


# ------------------------------------------------------------------------------------------------ the codec


def test_crc_itu_is_crc16_x25_by_its_check_value() -> None:
    assert crc_itu(b"123456789") == 0x906E
    assert crc_itu(b"") == 0x0000


@pytest.mark.parametrize("raw", [LOGIN, LOGIN_NEWER, LOCATION, LOCATION_NO_FIX, LOCATION_2_LONG_FORM, STATUS,
                                 STATUS_LONG_FORM, SOS, SOS_NO_FIX, OVERSPEED, UNSUPPORTED])
def test_golden_frames_pass_their_checks_and_rebuild_byte_for_byte(raw: bytes) -> None:
    parsed = parse_frame(raw)
    assert build_frame(parsed.protocol, parsed.content, parsed.serial, parsed.extended) == raw


def test_login() -> None:
    assert decode_message(parse_frame(LOGIN)) == Login(IMEI, None, None)
    assert parse_frame(LOGIN).serial == 1
    assert decode_message(parse_frame(LOGIN_NEWER)) == Login(IMEI, 0x3608, timedelta(hours=8))


def test_location_gps_and_lbs() -> None:
    message = decode_message(parse_frame(LOCATION))
    assert isinstance(message, Location)
    gps = message.gps
    assert (gps.time, gps.satellites, gps.speed_kmh, gps.course) == (DEVICE_TIME, 10, 40, 90)
    assert gps.lat == pytest.approx(LAT, abs=1e-9) and gps.lon == pytest.approx(LON, abs=1e-9)
    assert (gps.positioned, gps.differential) == (True, False)
    assert message.cell == CELL
    assert (message.acc, message.upload_mode, message.reupload) == (None, None, None)


def test_location_2_in_the_long_form_south_west_and_reuploaded() -> None:
    parsed = parse_frame(LOCATION_2_LONG_FORM)
    assert parsed.extended and parsed.serial == 8
    message = decode_message(parsed)
    assert isinstance(message, Location)
    assert message.gps.lat == pytest.approx(-(33 + 52.1 / 60), abs=1e-9)
    assert message.gps.lon == pytest.approx(-(151 + 12.6 / 60), abs=1e-9)
    assert (message.gps.time, message.gps.course, message.gps.positioned) == (DEVICE_TIME - timedelta(minutes=1),
                                                                              270, True)
    assert (message.cell, message.acc, message.upload_mode, message.reupload) == (CELL, True, 0, True)


def test_status_heartbeat() -> None:
    expected = Status(TerminalInfo(oil_cut=False, gps_tracking=True, alarm=0, charging=True, acc=True, defence=False),
                      voltage_level=4, gsm_signal=4, alarm=0x00, language=0x02)
    assert decode_message(parse_frame(STATUS)) == expected
    assert decode_message(parse_frame(STATUS_LONG_FORM)) == expected


def test_alarm_with_sos() -> None:
    message = decode_message(parse_frame(SOS))
    assert isinstance(message, AlarmReport)
    assert message.cell == CELL and message.gps.positioned
    assert message.status == Status(TerminalInfo(False, True, 0b100, False, False, True), 5, 3, 0x01, 0x01)


def test_the_terminal_clock_offset_is_explicit_and_defaults_to_utc() -> None:
    beijing = decode_message(parse_frame(LOCATION), utc_offset=timedelta(hours=8))
    assert isinstance(beijing, Location)
    assert beijing.gps.time == DEVICE_TIME - timedelta(hours=8)


@pytest.mark.parametrize(
    ("raw", "ack"),
    [(LOGIN, LOGIN_ACK), (STATUS, STATUS_ACK), (SOS, SOS_ACK), (SOS_NO_FIX, SOS_NO_FIX_ACK),
     (STATUS_LONG_FORM, STATUS_LONG_FORM_ACK), (LOCATION, None), (LOCATION_2_LONG_FORM, None)],
)
def test_acknowledgements_echo_protocol_and_serial_with_their_crc(raw: bytes, ack: bytes | None) -> None:
    assert response_for(parse_frame(raw)) == ack


def test_crc_failure() -> None:
    damaged = bytearray(LOCATION)
    damaged[12] ^= 0x01  # one bit of the latitude flipped on the way
    with pytest.raises(Gt06Error) as refused:
        parse_frame(bytes(damaged))
    assert refused.value.fault is Fault.CRC
    assert "AB6A" in refused.value.message


@pytest.mark.parametrize("cut", [1, 3, 10, len(LOCATION) - 1])
def test_truncation(cut: int) -> None:
    with pytest.raises(Gt06Error) as refused:
        parse_frame(LOCATION[:cut])
    assert refused.value.fault is Fault.TRUNCATED


def test_content_shorter_than_its_layout_is_truncated() -> None:
    short = build_frame(0x12, bytes.fromhex("18 05 1D 10 1D 00 CA 04 48"), 1)  # a location cut inside the latitude
    with pytest.raises(Gt06Error) as refused:
        decode_message(parse_frame(short))
    assert refused.value.fault is Fault.TRUNCATED


def test_oversized_length_is_refused() -> None:
    with pytest.raises(Gt06Error) as refused:
        parse_frame(frame("79 79|FF FF|13") + bytes(70000))
    assert refused.value.fault is Fault.OVERSIZED


# ------------------------------------------------------------------------------------------------ the stream


def test_garbage_before_a_frame_is_skipped() -> None:
    noise = frame("00 FF 78 0D 0A 78 78 FF 79")  # a lone 78, a stop, a false start with length 255, half a start
    split = split_frames(noise + LOGIN, max_length=64)
    assert split.frames == (LOGIN,)
    assert b"".join(split.garbage) == noise
    assert (split.rest, split.oversized) == (b"", 1)


def test_false_start_whose_stop_is_missing_resynchronises() -> None:
    false_start = frame("78 78 05 01 00 01 00 00 00 00")  # a length, but no 0D 0A where the frame would end
    split = split_frames(false_start + STATUS)
    assert split.frames == (STATUS,) and b"".join(split.garbage) == false_start and split.rest == b""


def test_two_frames_in_one_read() -> None:
    split = split_frames(LOGIN + LOCATION_2_LONG_FORM)
    assert split.frames == (LOGIN, LOCATION_2_LONG_FORM)
    assert (split.garbage, split.rest) == ((), b"")


@pytest.mark.parametrize("raw", [SOS, LOCATION_2_LONG_FORM])
def test_one_frame_split_across_reads_at_every_byte(raw: bytes) -> None:
    for cut in range(1, len(raw)):
        first = split_frames(raw[:cut])
        assert first.frames == () and first.garbage == ()
        assert first.rest == raw[:cut]  # kept whole until the rest arrives
        second = split_frames(first.rest + raw[cut:])
        assert (second.frames, second.garbage, second.rest) == ((raw,), (), b"")


def test_a_damaged_frame_is_still_cut_out_so_that_it_reaches_the_dead_letters() -> None:
    damaged = LOCATION[:-4] + b"\x00\x00" + LOCATION[-2:]
    assert split_frames(damaged + STATUS).frames == (damaged, STATUS)


def test_what_is_kept_is_bounded() -> None:
    split = split_frames(bytes(range(0x7A, 0xFF)) * 100)
    assert split.rest == b"" and split.frames == ()
    pending = split_frames(frame("79 79|04 00|13") + bytes(500), max_length=1024)
    assert len(pending.rest) == 5 + 500  # a frame of 1,024 announced, waiting; never more than one frame


# ------------------------------------------------------------------------------------------------ the decoder


def test_tcp_only() -> None:
    assert (NAME, TOPIC_FILTERS) == ("gt06", ())  # never subscribed to on the broker


def test_decoded_login_is_a_sign_of_life() -> None:
    [beat] = decode(TOPIC, LOGIN_NEWER, RECEIVED_AT, LIMITS)
    assert isinstance(beat, Heartbeat)
    assert (beat.external_id, beat.time, beat.battery_pct) == (IMEI, RECEIVED_AT, None)
    assert dict(beat.detail) == {"message": "login", "type_id": 0x3608, "timezone_min": 480}


def test_decoded_location_is_a_fix() -> None:
    messages = decode(TOPIC, LOCATION, RECEIVED_AT, LIMITS)
    [fix] = messages
    assert isinstance(fix, Fix)
    assert fix == Fix("gt06", IMEI, DEVICE_TIME, fix.lon, fix.lat, 40.0, 90.0, None, None, None, RECEIVED_AT)
    assert (fix.lat, fix.lon) == (pytest.approx(LAT), pytest.approx(LON))


def test_a_reuploaded_location_is_a_fix_marked_backlog() -> None:
    # 0x22's re-upload byte is 1: the terminal kept this fix while it could not send (a tunnel, no network).
    [fix] = decode(TOPIC, LOCATION_2_LONG_FORM, RECEIVED_AT, LIMITS)
    assert isinstance(fix, Fix)
    assert (fix.time, fix.backlog) == (DEVICE_TIME - timedelta(minutes=1), True)
    [live] = decode(TOPIC, LOCATION, RECEIVED_AT, LIMITS)  # 0x12 has no such flag: live
    assert isinstance(live, Fix) and not live.backlog


def test_a_tracker_on_beijing_time_is_read_with_the_offset_its_site_record_gives() -> None:
    # The same bytes from a unit set to GMT+8: its 16:29 is 08:29 UTC. The session writes the offset in the topic.
    [fix] = decode(f"{TOPIC}/480", LOCATION, DEVICE_TIME + timedelta(hours=-8, minutes=1), LIMITS)
    assert isinstance(fix, Fix)
    assert fix.time == DEVICE_TIME - timedelta(hours=8)


def test_decoded_location_without_a_fix_keeps_the_tracker_alive_but_moves_nothing() -> None:
    [beat] = decode(TOPIC, LOCATION_NO_FIX, RECEIVED_AT, LIMITS)
    assert isinstance(beat, Heartbeat)
    assert beat.detail["positioned"] is False and beat.detail["cell_id"] == 928331


def test_decoded_status_is_a_heartbeat_with_a_coarse_battery() -> None:
    [beat] = decode(TOPIC, STATUS, RECEIVED_AT, LIMITS)
    assert isinstance(beat, Heartbeat)
    assert beat.battery_pct == pytest.approx(66.7)  # voltage level 4 of 6
    assert beat.detail["acc"] is True and beat.detail["charging"] is True and beat.detail["alarm"] == "normal"
    assert (battery_pct(0), battery_pct(6), battery_pct(7)) == (0.0, 100.0, None)


def test_decoded_sos_is_a_press_with_its_fix() -> None:
    messages = decode(TOPIC, SOS, RECEIVED_AT, LIMITS)
    fix, press = messages
    assert isinstance(fix, Fix) and isinstance(press, ButtonPress)
    assert (press.action, press.time, press.lat, press.lon) == ("sos", DEVICE_TIME, fix.lat, fix.lon)
    assert press.battery_pct == pytest.approx(83.3) and press.digest is None


def test_sos_with_no_fix_and_no_time_is_still_a_panic_known_again_by_its_digest() -> None:
    [press] = decode(TOPIC, SOS_NO_FIX, RECEIVED_AT, LIMITS)
    assert isinstance(press, ButtonPress)
    assert (press.action, press.time, press.lat, press.lon) == ("sos", RECEIVED_AT, None, None)
    assert press.digest is not None
    [again] = decode(TOPIC, SOS_NO_FIX, RECEIVED_AT + timedelta(seconds=20), LIMITS)  # retransmitted, unanswered
    assert isinstance(again, ButtonPress) and again.digest == press.digest


def test_sos_with_a_stale_time_keeps_its_position() -> None:
    late = Limits(max_age=timedelta(seconds=10))  # the frame's 16:29:00 is now too old for a fix
    [press] = decode(TOPIC, SOS, RECEIVED_AT, late)
    assert isinstance(press, ButtonPress)
    assert press.time == RECEIVED_AT and press.lat == pytest.approx(LAT) and press.digest is not None


def test_overspeed_is_a_device_alarm_not_a_panic() -> None:
    fix, alarm = decode(TOPIC, OVERSPEED, RECEIVED_AT, LIMITS)
    assert isinstance(fix, Fix) and fix.speed_kmh == 90.0
    assert isinstance(alarm, DeviceAlarm)
    assert (alarm.alarm, alarm.time, alarm.external_id) == ("overspeed", DEVICE_TIME, IMEI)
    assert alarm.detail["code"] == 0x06 and alarm.detail["speed_kmh"] == 90 and alarm.detail["acc"] is True


def test_an_alarm_code_outside_the_tables_keeps_its_number() -> None:
    content = parse_frame(OVERSPEED).content
    odd = build_frame(0x26, content[:-2] + b"\x09\x01", 13)
    [_, alarm] = decode(TOPIC, odd, RECEIVED_AT, LIMITS)
    assert isinstance(alarm, DeviceAlarm) and alarm.alarm == "alarm_0x09"


def test_alarm_named_only_by_the_terminal_bits() -> None:
    # Older firmwares: alarm byte 00, the SOS in bits 3-5 of the terminal information.
    content = parse_frame(SOS).content
    quiet = build_frame(0x16, content[:-2] + b"\x00\x01", 12)
    [_, press] = decode(TOPIC, quiet, RECEIVED_AT, LIMITS)
    assert isinstance(press, ButtonPress) and press.action == "sos"


def test_clock_offset_from_the_topic() -> None:
    assert topic_for(IMEI) == TOPIC and topic_for(IMEI, timedelta(hours=8)) == f"{TOPIC}/480"
    # A terminal on Beijing time says 2024-05-30 00:29:00 for 16:29 UTC.
    local = bytes.fromhex("18 05 1E 00 1D 00")
    raw = build_frame(0x12, local + parse_frame(LOCATION).content[6:], 3)
    [fix] = decode(topic_for(IMEI, timedelta(hours=8)), raw, RECEIVED_AT, LIMITS)
    assert fix.time == DEVICE_TIME


@pytest.mark.parametrize(
    ("raw", "reason", "words"),
    [
        (LOCATION[:-5] + b"\x00" + LOCATION[-4:], RejectReason.BAD_ENCODING, "crc"),
        (LOCATION[:20], RejectReason.MISSING_FIELD, "truncated"),
        (b"\x0d\x0a" + LOCATION, RejectReason.BAD_ENCODING, "malformed"),
        (UNSUPPORTED, RejectReason.UNSUPPORTED_MESSAGE, "0x99"),
    ],
)
def test_bad_frames_are_dead_letters_with_a_reason(raw: bytes, reason: RejectReason, words: str) -> None:
    with pytest.raises(Rejection) as refused:
        decode(TOPIC, raw, RECEIVED_AT, LIMITS)
    assert refused.value.reason is reason and words in refused.value.message


def test_unpositioned_coordinates_off_the_globe_refuse_only_the_fix() -> None:
    bad = parse_frame(LOCATION).content
    wild = build_frame(0x12, bad[:7] + bytes.fromhex("FF FF FF FF") + bad[11:], 3)  # latitude 2386°
    with pytest.raises(Rejection) as refused:
        decode(TOPIC, wild, RECEIVED_AT, LIMITS)
    assert refused.value.reason is RejectReason.OUT_OF_RANGE


@pytest.mark.parametrize("topic", ["gt06", "gt06/12345", f"gt06/{IMEI}/9999", f"osmand/{IMEI}"])
def test_topic_must_name_the_session_imei(topic: str) -> None:
    with pytest.raises(Rejection) as refused:
        decode(topic, LOCATION, RECEIVED_AT, LIMITS)
    assert refused.value.reason is RejectReason.UNKNOWN_TOPIC


def test_a_session_verdict_in_the_topic_is_the_dead_letter_reason() -> None:
    verdict = Rejection(OriginReason.NOT_AUTHENTICATED, "protocol 0x12 before login")
    with pytest.raises(Rejection) as refused:
        decode(topic_for("?", verdict=verdict), LOCATION, RECEIVED_AT, LIMITS)
    assert refused.value.reason is OriginReason.NOT_AUTHENTICATED and refused.value.message == verdict.message


def test_login_must_match_the_session() -> None:
    with pytest.raises(Rejection) as refused:
        decode("gt06/868120300000000", LOGIN, RECEIVED_AT, LIMITS)
    assert refused.value.reason is RejectReason.WRONG_TYPE
