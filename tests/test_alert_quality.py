"""Alert quality against the simulator's truth: the scoring itself, the camera scenes' truth, and a short real run.

The short run is ``bench/alert_quality.py`` cut to a minute and a quarter of the dense service day: private
PostgreSQL and Mosquitto, the real ingest, geo, vision and alert processes, imperfect devices (multipath,
dropouts with backlogs, reordering, duplicates, a tracker 3 minutes ahead) and a broker restart, with a panic
button pressed every 15 s or so, and two camera scenes: a person collapsing in a corridor, and real courtyard
footage in which nothing is to be raised. No incident may be critical without a situation behind it, every
press must raise a panic, the fall must be found and the courtyard must raise nothing.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bench.alert_quality import Linked, Raised, run_day, score
from campusguard.simulate.camera_scenes import SCENES, scene_truth
from campusguard.simulate.truth import Truth

T0 = dt.datetime(2026, 12, 5, 17, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)
SCENE = {s.name: s for s in SCENES}


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


def test_a_situation_whose_signal_joined_another_types_incident_counts_from_its_decision() -> None:
    # A person collapses; a guard presses a button 40 m away a minute later: one emergency incident, typed by
    # the first signal. The press is found (when it was decided), and the incident is true.
    truths = [Truth("person_down", "cam-1", "s", T0, None, critical=True),
              Truth("panic", "button-1", "s", T0 + MIN, None, critical=True)]
    joined = (Linked("person_down", frozenset({"cam-1"}), T0 + dt.timedelta(seconds=2)),
              Linked("panic", frozenset({"button-1"}), T0 + MIN + dt.timedelta(seconds=1)))
    result = score(truths, [Raised(1, "person_down", "critical", frozenset({"cam-1", "button-1"}),
                                   T0 + dt.timedelta(seconds=2), joined)], T0 + 10 * MIN)
    assert result.missed == () and result.false_incidents == ()
    assert result.types["panic"].delays_s == [1.0] and result.types["person_down"].delays_s == [2.0]


def test_each_scene_shows_what_it_is_meant_to_in_the_rules_terms() -> None:
    truth = {name: [(t.type, t.start_s, t.end_s) for t in scene_truth(scene)] for name, scene in SCENE.items()}
    assert truth["bench_corridor_fall"] == [("person_down", 15.0 + 8.0, 80.0)]  # lying from 15 s, fallen_s 8
    assert [t[0] for t in truth["bench_canteen_crowd"]] == ["crowding"]
    assert [t[0] for t in truth["bench_kitchen_intrusion"]] == ["intrusion"]
    assert [t[0] for t in truth["bench_gate_loiter"]] == ["loitering"]  # the passer-by stays under 20 s
    assert truth["vtest"] == []
    for name, spans in truth.items():
        assert all(start >= 5.0 for _, start, _ in spans), f"{name}: a looped start must show nothing at first"


@pytest.mark.slow
def test_a_short_imperfect_run_raises_no_false_critical_every_panic_and_the_camera_scenes() -> None:
    cameras = (SCENE["bench_corridor_fall"], SCENE["vtest"])
    result = run_day(1.25, panic_every_s=15.0, broker_restart_at_s=45.0, settle_s=10.0, cameras=cameras)
    panics = [t for t in result.summary.truth if t.type == "panic"]
    assert panics, "no button was pressed"
    assert result.summary.sent.get("campusguard", 0) > 0 and result.summary.sent.get("osmand", 0) > 0
    assert result.broker_restarted
    assert result.score.false_critical == ()
    assert result.score.types["panic"].recall == 1.0
    fall, courtyard = result.cameras
    assert fall.opened is not None and courtyard.opened is not None, "the vision worker never opened its clips"
    assert [t.type for t in fall.truth] == ["person_down"]
    assert result.score.types["person_down"].recall == 1.0, f"the fall was not raised; the camera found {fall.findings}"
    assert courtyard.findings == (), "real people walking through a courtyard in school hours raised something"
    assert not [i for i in result.incidents if courtyard.scene.camera_id in i.subjects]
