"""Unattended cooking: hot stove, nobody seen for N minutes, one signal per unattended stretch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from alerts.cross_modal import CookingState, CookingWatch, KitchenZone, evaluate, on_person, on_reading
from domain.incident import Signal
from domain.messages import SensorReading

T0 = datetime(2025, 3, 10, 16, 0, tzinfo=UTC)
WATCH = CookingWatch(zones=(KitchenZone(id="ap-kitchen", school_id="antelope-park-es", sensor_ids=("stove-1",),
                                        lon=-96.6899, lat=40.8008),), absent_min=10)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def reading(minutes: float, value: float, sensor: str = "stove-1", metric: str = "temperature_c") -> SensorReading:
    return SensorReading(sensor, at(minutes), metric, value, at(minutes))


def run(state: CookingState, *moments: float) -> tuple[CookingState, list[Signal]]:
    found: list[Signal] = []
    for minute in moments:
        state, signals = evaluate(state, WATCH, at(minute))
        found += signals
    return state, found


def test_hot_and_nobody_seen_for_ten_minutes_signals_once() -> None:
    state = on_person({}, "ap-kitchen", at(-1))
    state = on_reading(state, WATCH, reading(0, 180))
    state = on_reading(state, WATCH, reading(5, 185))
    state, early = run(state, 9.99)
    assert early == []
    state, found = run(state, 10, 11, 12)
    assert len(found) == 1
    signal = found[0]
    assert (signal.kind, signal.school_id, signal.source_id, signal.time, signal.lon, signal.lat) == (
        "unattended_cooking", "antelope-park-es", "stove-1", at(10), -96.6899, 40.8008)
    assert signal.signal_id == f"unattended_cooking:ap-kitchen:{at(0).isoformat()}"
    assert dict(signal.detail) == {"zone_id": "ap-kitchen", "zone": "ap-kitchen", "temperature_c": 185,
                                   "hot_since": at(0).isoformat(), "last_person_at": at(-1).isoformat(),
                                   "absent_min": 10}


def test_a_person_seen_restarts_the_clock_and_rearms() -> None:
    state = on_reading({}, WATCH, reading(0, 150))
    state = on_person(state, "ap-kitchen", at(8))
    state = on_reading(state, WATCH, reading(12, 150))
    state, none = run(state, 17.9)
    assert none == []
    state, first = run(state, 18)
    assert [s.time for s in first] == [at(18)]
    state = on_person(state, "ap-kitchen", at(20))  # the cook came back, then left again
    state = on_reading(state, WATCH, reading(25, 150))
    state, second = run(state, 29, 30)
    assert [s.time for s in second] == [at(30)]
    assert first[0].signal_id != second[0].signal_id


def test_a_cooling_stove_rearms_only_below_the_rearm_temperature() -> None:
    state = on_reading({}, WATCH, reading(0, 100))
    state, found = run(state, 10)
    assert len(found) == 1
    state = on_reading(state, WATCH, reading(11, 55))  # between rearm (50) and threshold (60): still hot
    state, found = run(state, 12)
    assert found == [] and state["ap-kitchen"].hot_since == at(0)
    state = on_reading(state, WATCH, reading(13, 40))
    assert state["ap-kitchen"].hot_since is None and not state["ap-kitchen"].alerted
    state = on_reading(state, WATCH, reading(14, 90))
    state, found = run(state, 24)
    assert [s.time for s in found] == [at(24)]


def test_stale_late_and_unrelated_readings_do_nothing() -> None:
    state = on_reading({}, WATCH, reading(0, 120))
    _, found = run(state, 16)  # last reading 16 min old, stale after 15
    assert found == []
    assert on_reading(state, WATCH, reading(-5, 20)) is state
    assert on_reading(state, WATCH, reading(1, 20, sensor="freezer")) is state
    assert on_reading(state, WATCH, reading(1, 20, metric="humidity_pct")) is state
    assert on_person(on_person(state, "ap-kitchen", at(3)), "ap-kitchen", at(2))["ap-kitchen"].last_person_at == at(3)


def test_nothing_happens_without_readings_or_when_cold() -> None:
    assert run({}, 60) == ({}, [])
    state = on_reading({}, WATCH, reading(0, 30))
    assert run(state, 30)[1] == []


def test_the_watch_is_validated() -> None:
    with pytest.raises(ValidationError, match="rearm_below_c must not be above threshold_c"):
        CookingWatch(threshold_c=60, rearm_below_c=70)
    zone = KitchenZone(id="k", school_id="s", sensor_ids=("a",))
    with pytest.raises(ValidationError, match="listed twice"):
        CookingWatch(zones=(zone, zone))
    with pytest.raises(ValidationError, match="give both lon and lat"):
        KitchenZone(id="k", school_id="s", sensor_ids=("a",), lon=1.0)
