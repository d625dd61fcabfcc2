"""Imperfect devices: what they send is what the plan said, late, twice or out of order, but never lost.

Property tests over random imperfections and tick lengths: every report goes out at least once and never
before it happened, a dropout's backlog goes out oldest first once the link is back, a skewed clock moves
the stated time by exactly its skew, and multipath stays within its bound.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from campusguard.simulate.imperfect import Delivery, Imperfections, distort, in_dropout
from campusguard.simulate.model import DeviceRef, SimFix, SimPress, SimReport

T0 = dt.datetime(2026, 12, 5, 17, 0, tzinfo=dt.UTC)
DEVICES = [DeviceRef(f"bus-{i:02d}-gps", "school", "campusguard", None) for i in range(3)]


def reports(seconds: int) -> list[SimReport]:
    out: list[SimReport] = [SimFix(d, T0 + dt.timedelta(seconds=s), -96.7, 40.8, 30.0, 90.0, 4.0, 360.0, None)
                            for s in range(1, seconds + 1) for d in DEVICES]
    out.append(SimPress(DEVICES[0], T0 + dt.timedelta(seconds=seconds // 2), "child_check"))
    return sorted(out, key=lambda r: (r.time, r.device.id))


imperfections = st.builds(
    Imperfections, multipath_p=st.floats(0, 1), multipath_m=st.floats(1, 30),
    dropout_every_s=st.sampled_from([0.0, 60.0, 200.0]), dropout_s=st.floats(5, 50),
    reorder_p=st.floats(0, 0.5), reorder_s=st.floats(0.5, 10), duplicate_p=st.floats(0, 0.5),
    skew=st.sampled_from([{}, {"bus-01-gps": dt.timedelta(minutes=3)}, {"bus-02-gps": dt.timedelta(minutes=-3)}]),
    seed=st.integers(0, 1000))


def deliver(imp: Imperfections, planned: list[SimReport], tick_s: float) -> list[tuple[dt.datetime, SimReport]]:
    delivery = Delivery(imp)
    sent: list[tuple[dt.datetime, SimReport]] = []
    now, last = T0, T0
    end = planned[-1].time + dt.timedelta(seconds=300)
    while now < end:
        now = now + dt.timedelta(seconds=tick_s)
        due = [r for r in planned if last < r.time <= now]
        sent += [(now, r) for r in delivery.due(now, due)]
        last = now
    sent += [(end, r) for r in delivery.due(end + dt.timedelta(days=1), [])]
    assert delivery.pending() == 0
    return sent


@settings(max_examples=40, deadline=None)
@given(imperfections, st.sampled_from([0.2, 1.0, 7.0]))
def test_every_report_goes_out_at_least_once_and_never_before_it_happened(imp: Imperfections, tick_s: float) -> None:
    planned = reports(240)
    sent = deliver(imp, planned, tick_s)
    stated = Counter((r.device.id, r.time - imp.skew.get(r.device.id, dt.timedelta(0)), type(r)) for _, r in sent)
    assert set(stated) == {(r.device.id, r.time, type(r)) for r in planned}
    for when, report in sent:
        true_time = report.time - imp.skew.get(report.device.id, dt.timedelta(0))
        assert when >= true_time - dt.timedelta(seconds=tick_s)


@settings(max_examples=40, deadline=None)
@given(imperfections)
def test_a_backlog_goes_out_oldest_first_when_the_link_is_back(imp: Imperfections) -> None:
    imp = Imperfections(dropout_every_s=120.0, dropout_s=imp.dropout_s, seed=imp.seed)
    sent = deliver(imp, reports(480), 1.0)
    for device in DEVICES:
        times = [r.time for _, r in sent if r.device.id == device.id]
        assert times == sorted(times)  # without reordering, one tracker's messages keep their order
        held = [r.time for _, r in sent if r.device.id == device.id and in_dropout(imp, device.id, r.time)]
        assert held  # a dropout did happen in eight minutes


@given(imperfections)
def test_skew_moves_the_stated_time_and_multipath_stays_within_its_bound(imp: Imperfections) -> None:
    for report in reports(30):
        stated = distort(imp, report)
        assert stated.time - report.time == imp.skew.get(report.device.id, dt.timedelta(0))
        if isinstance(report, SimFix) and isinstance(stated, SimFix):
            dy = (stated.lat - report.lat) * 111_320.0
            dx = (stated.lon - report.lon) * 111_320.0 * math.cos(math.radians(report.lat))
            assert math.hypot(dx, dy) <= imp.multipath_m + 0.1
