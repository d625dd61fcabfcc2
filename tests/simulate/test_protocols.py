"""Every payload the simulator sends decodes cleanly with ingest's own decoders, to the values it meant."""

from __future__ import annotations

import datetime as dt

import pytest

from campusguard.simulate.clock import SimClock
from campusguard.simulate.model import DeviceRef, HttpRequest, MqttMessage, SimFix, SimPress
from campusguard.simulate.panics import panic_buttons, panic_schedule
from campusguard.simulate.protocols import encode
from ingest.decoders import Limits, decode_osmand_request, decoder_for_topic
from ingest.messages import ButtonPress, Decoded, Fix
from tests.simulate.helpers import district

WHEN = dt.datetime(2024, 5, 29, 12, 29, 3, 250000, tzinfo=dt.UTC)
RECEIVED = WHEN + dt.timedelta(seconds=1)


def decode(item: MqttMessage | HttpRequest) -> list[Decoded]:
    if isinstance(item, HttpRequest):
        return decode_osmand_request("GET", item.query, None, b"", RECEIVED, Limits())
    decoder = decoder_for_topic(item.topic)
    assert decoder is not None, item.topic
    return decoder.decode(item.topic, item.payload, RECEIVED, Limits())


def fix(source: str, external_id: str | None) -> SimFix:
    return SimFix(DeviceRef("bus-04-x", "holdrege-es", source, external_id), WHEN, -96.6446123, 40.8128411,
                  37.4, 271.3, 4.2, 361.5, 81.0)


@pytest.mark.parametrize(("source", "external_id", "expected_id", "time"), [
    ("campusguard", None, "bus-04-x", WHEN),
    ("owntracks", "driver05/android", "driver05/android", WHEN.replace(microsecond=0)),
    ("osmand", "402104", "402104", WHEN.replace(microsecond=0)),
])
def test_fixes_decode_to_what_was_meant(source: str, external_id: str | None, expected_id: str,
                                        time: dt.datetime) -> None:
    sent = fix(source, external_id)
    [item] = encode(sent)
    [decoded] = decode(item)
    assert isinstance(decoded, Fix)
    assert (decoded.source, decoded.external_id, decoded.time) == (source, expected_id, time)
    assert decoded.lat == pytest.approx(sent.lat, abs=1e-7) and decoded.lon == pytest.approx(sent.lon, abs=1e-7)
    # OwnTracks writes whole numbers; OsmAnd carries knots to two decimals.
    assert decoded.speed_kmh == pytest.approx(sent.speed_kmh, abs=0.6)
    assert decoded.heading_deg == pytest.approx(sent.heading_deg, abs=0.6)
    assert decoded.accuracy_m == pytest.approx(sent.accuracy_m, abs=0.6)


@pytest.mark.parametrize(("source", "external_id"), [("campusguard", None), ("osmand", "402104")])
def test_a_child_check_press_decodes_as_a_button_action_of_the_bus_tracker(source: str,
                                                                            external_id: str | None) -> None:
    press = SimPress(DeviceRef("bus-04-gps", "holdrege-es", source, external_id), WHEN, "child_check",
                     -96.658, 40.819)
    decoded = [m for item in encode(press) for m in decode(item)]
    buttons = [m for m in decoded if isinstance(m, ButtonPress)]
    assert [(b.action, b.lat, b.lon) for b in buttons] == [("child_check", 40.819, -96.658)]


def test_zigbee_panics_use_the_buttons_own_panic_actions_and_clear_like_zigbee2mqtt() -> None:
    plan = district()
    buttons = dict(panic_buttons(plan.site))
    presses = [p for p, _ in zip(panic_schedule(plan.site, seed=3, every_s=120.0), range(40), strict=False)]
    assert 80 * 40 < presses[-1].after_s < 200 * 40  # every two minutes or so, on average
    assert len({p.device.id for p in presses}) > 5
    for planned in presses:
        assert planned.action in buttons[planned.device]
        first, clear = encode(SimPress(planned.device, WHEN, planned.action))
        assert isinstance(first, MqttMessage) and first.qos == 1
        decoded = decode(first)
        assert [m.action for m in decoded if isinstance(m, ButtonPress)] == [planned.action]
        assert decode(clear) == [] or all(not isinstance(m, ButtonPress) for m in decode(clear))


def test_every_report_of_a_planned_morning_decodes_cleanly() -> None:
    plan = district()
    start = min(t.depart for _, t in plan.trips_around(WHEN))
    reports = plan.reports_between(start, start + dt.timedelta(minutes=50))
    sources = set()
    for report in reports[::7]:
        for item in encode(report):
            received = report.time + dt.timedelta(seconds=1)
            if isinstance(item, HttpRequest):
                decoded = decode_osmand_request("GET", item.query, None, b"", received, Limits())
            else:
                decoder = decoder_for_topic(item.topic)
                assert decoder is not None
                decoded = decoder.decode(item.topic, item.payload, received, Limits())
            assert decoded
            sources.add(decoded[0].source)
    assert sources == {"campusguard", "owntracks", "osmand"}


def test_the_clock_runs_fast_until_it_catches_up_then_keeps_to_real_time() -> None:
    wall0 = dt.datetime(2024, 5, 29, 14, 0, tzinfo=dt.UTC)
    clock = SimClock(wall0 - dt.timedelta(hours=1), wall0, speedup=10.0)
    assert clock.at(wall0 + dt.timedelta(minutes=3)) == wall0 - dt.timedelta(minutes=30)
    later = wall0 + dt.timedelta(minutes=10)
    assert clock.at(later) == later  # caught up after 6 2/3 minutes: never ahead of the wall clock
    jumped = clock.jumped(wall0 + dt.timedelta(hours=5), wall0 + dt.timedelta(minutes=1))
    assert jumped.at(wall0 + dt.timedelta(minutes=1)) == wall0 + dt.timedelta(minutes=1)
    with pytest.raises(ValueError, match="speedup"):
        SimClock(wall0, wall0, 0.5)
