"""Alert quality against the simulator's truth: the scoring itself, and a short real run of the bench.

The short run is ``bench/alert_quality.py`` cut to a minute and a half of the dense service day: private
PostgreSQL and Mosquitto, the real ingest, geo and alert processes, imperfect devices (multipath, dropouts
with backlogs, reordering, duplicates, a tracker 3 minutes ahead) and a broker restart, with a panic button
pressed every 15 s or so. No incident may be critical without a situation behind it, and every press must
raise a panic.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bench.alert_quality import Raised, run, score
from campusguard.simulate.truth import Truth

T0 = dt.datetime(2026, 12, 5, 17, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)


def test_an_incident_counts_for_the_situation_of_its_type_and_subject_in_time() -> None:
    truths = [Truth("route_deviated", "bus-18", "s", T0, T0 + 4 * MIN),
              Truth("panic", "button-1", "s", T0, None, critical=True),
              Truth("child_check_missed", "bus-14", "s", T0 + 10 * MIN, None, critical=True)]
    incidents = [Raised(1, "route_deviated", "medium", frozenset({"bus-18-gps", "bus-18"}), T0 + MIN),
                 Raised(2, "panic", "critical", frozenset({"button-1"}), T0 + dt.timedelta(seconds=1)),
                 Raised(3, "child_check_missed", "critical", frozenset({"bus-02"}), T0 + 11 * MIN),
                 Raised(4, "route_deviated", "medium", frozenset({"bus-18"}), T0 + 60 * MIN)]
    result = score(truths, incidents, T0 + 90 * MIN)
    assert [i.id for i in result.false_critical] == [3]  # another bus's miss: not the skipper's
    assert {i.id for i in result.false_incidents} == {3, 4}  # an hour after the detour ended: not it
    assert [t.subject for t in result.missed] == ["bus-14"]
    assert result.types["route_deviated"].delays_s == [60.0]
    assert result.types["panic"].recall == 1.0 and result.types["child_check_missed"].recall == 0.0
    assert result.precision == 0.5


@pytest.mark.slow
def test_a_short_imperfect_run_raises_no_false_critical_and_every_panic() -> None:
    result = run(1.5, panic_every_s=15.0, broker_restart_at_s=45.0, settle_s=20.0)
    panics = [t for t in result.summary.truth if t.type == "panic"]
    assert panics, "no button was pressed"
    assert result.summary.sent.get("campusguard", 0) > 0 and result.summary.sent.get("osmand", 0) > 0
    assert result.broker_restarted
    assert result.score.false_critical == ()
    assert result.score.types["panic"].recall == 1.0
