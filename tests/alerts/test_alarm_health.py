"""The alarm-health figures follow their definitions (alerts/alarm_health.py), checked against independent sums."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from alerts.alarm_health import AlarmRow, in_flood, is_stale, load_of, percentile, school_health

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def row(n: int, minutes: float, *, school: str = "s1", drill: bool = False, ack_s: float | None = 60,
        outcome: str | None = None, source: str = "d1", type_: str = "intrusion") -> AlarmRow:
    raised = T0 + timedelta(minutes=minutes)
    return AlarmRow(n, school, type_, "high", (source,), raised,
                    None if ack_s is None else raised + timedelta(seconds=ack_s), "g" if ack_s else None, outcome,
                    drill)


@given(st.lists(st.floats(0, 10_000, allow_nan=False), min_size=2, max_size=50))
def test_percentiles_agree_with_the_inclusive_quantiles(values: list[float]) -> None:
    quartiles = statistics.quantiles(values, n=4, method="inclusive")
    assert abs((percentile(values, 0.5) or 0) - quartiles[1]) < 1e-6
    assert abs((percentile(values, 0.25) or 0) - quartiles[0]) < 1e-6


def test_load_follows_isa_18_2() -> None:
    assert [load_of(r) for r in (0, 6, 6.1, 12, 12.1)] == [
        "manageable", "manageable", "demanding", "demanding", "overload"]


def test_eleven_alarms_in_ten_minutes_are_a_flood_and_ten_are_not() -> None:
    times = [T0 + timedelta(seconds=50 * i) for i in range(11)]
    now = times[-1]
    assert in_flood(times, now) == 11
    assert in_flood(times[1:], now) == 0
    assert in_flood(times, now + timedelta(minutes=10)) == 0  # the window moved on


def test_a_flooded_window_and_drills_left_out() -> None:
    rows = [row(i, 20 + i * 0.5) for i in range(12)]  # 12 alarms in one window of six
    rows += [row(100 + i, 35 + i * 0.1, drill=True) for i in range(20)]  # drills never count
    [health] = school_health(rows, T0, T0 + timedelta(hours=1), {"s1": 1})
    assert (health.alarms, health.peak_10min, health.flood_share) == (12, 12, 1 / 6)
    assert health.per_operator_hour == 12 and health.load == "demanding"
    [shared] = school_health(rows, T0, T0 + timedelta(hours=1), {"s1": 3})
    assert shared.per_operator_hour == 4 and shared.load == "manageable"


def test_stale_is_more_than_a_day_open() -> None:
    assert not is_stale(T0, T0 + timedelta(hours=24))
    assert is_stale(T0, T0 + timedelta(hours=24, seconds=1))
