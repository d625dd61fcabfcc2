"""The scorecard's rules, each criterion at its boundaries, the score, ranks, roll-ups and month-on-month changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.compliance import (
    ACK_TARGET_S,
    ONLINE_SHARE,
    TERM,
    CameraFact,
    SchoolFacts,
    changes,
    judge_alarms,
    judge_cameras,
    judge_guards,
    judge_patrols,
    judge_response,
    judge_retention,
    online_over,
    percentile,
    ranked,
    rollup,
    scorecard,
    status_of,
)

END = datetime(2026, 12, 1, tzinfo=UTC)
ALL_AREAS = (CameraFact("gate", True), CameraFact("perimeter", True), CameraFact("canteen", True))


def facts(school_id: str = "s1", path: str = "/city/county/town/s1/", **changed: object) -> SchoolFacts:
    base = SchoolFacts(school_id=school_id, name=school_id, path=path, pupils=640, boarding=False, guards=2,
                       rounds_per_day=5, rounds_done=150, days=30.0, cameras=ALL_AREAS, retention_days=(30.0,),
                       buttons=2, buttons_online=2, last_drill=END - timedelta(days=20), period_end=END,
                       ack_seconds=(30.0, 45.0), unacknowledged=0)
    return replace(base, **changed)  # type: ignore[arg-type]


@pytest.mark.parametrize(("pupils", "guards", "target", "status"), [
    (99, 1, 1, "pass"), (100, 1, 2, "partial"), (999, 2, 2, "pass"), (1000, 2, 3, "partial"),
    (1500, 4, 4, "pass"), (1500, 1, 4, "fail"), (640, 0, 2, "fail"), (None, 1, 1, "pass"),
])
def test_guards_are_counted_against_gb_t_29315(pupils: int | None, guards: int, target: int, status: str) -> None:
    judged = judge_guards(pupils, guards)
    assert (judged.measured, judged.target, judged.status) == (guards, target, status)


def test_patrols_against_the_plan_and_five_a_day_without_one() -> None:
    assert judge_patrols(6, 180, 30).status == "pass"
    one_missed = judge_patrols(5, 149, 30)
    assert (one_missed.measured, one_missed.status) == (4.97, "pass")
    half = judge_patrols(6, 90, 30)
    assert (half.measured, half.target, half.share, half.status) == (3.0, 6, 0.5, "partial")
    no_plan = judge_patrols(None, 0, 30)
    assert (no_plan.target, no_plan.share, no_plan.status) == (5, 0.0, "fail")
    assert judge_patrols(5, 0, 0).status == "na"  # a month that has not begun


def test_key_areas_need_an_online_camera_and_a_boarding_school_its_dormitory() -> None:
    assert judge_cameras(ALL_AREAS, boarding=False).status == "pass"
    boarding = judge_cameras(ALL_AREAS, boarding=True)
    assert (boarding.measured, boarding.target, boarding.status) == (3, 4, "partial")
    gate_down = judge_cameras((CameraFact("gate", False), *ALL_AREAS[1:]), boarding=False)
    assert (gate_down.measured, gate_down.status) == (2, "partial")
    corridors = judge_cameras((CameraFact("corridor", True), CameraFact("playground", True)), boarding=False)
    assert (corridors.measured, corridors.status) == (0, "fail")


def test_a_device_is_online_for_a_period_when_available_nearly_all_of_it() -> None:
    month = 30 * 86400.0
    assert online_over(month, month) and online_over(ONLINE_SHARE * month, month)
    assert online_over(month - 36 * 3600, month)  # a day and a half down: repaired within the commitment
    assert not online_over(month - 2 * 86400, month)  # two days down
    assert not online_over(5 * 86400, month)  # dark most of the month, whatever it is now
    assert online_over(3600.0, 3600.0)  # first heard an hour before the period's end, up since
    assert not online_over(0.0, 0.0)  # never heard, or first heard after the period: not there to watch


def test_retention_of_kept_video() -> None:
    assert judge_retention(()).status == "na"
    assert judge_retention((30.0, 45.0)).status == "pass"
    short = judge_retention((30.0, 7.0))
    assert (short.measured, short.share, short.status) == (7.0, 0.5, "partial")
    assert judge_retention((29.0,)).status == "fail"


def test_alarms_present_online_and_drilled_this_term() -> None:
    assert judge_alarms(0, 0, None, END).status == "fail"
    assert judge_alarms(2, 2, END - timedelta(days=10), END).status == "pass"
    stale = judge_alarms(2, 2, END - TERM - timedelta(days=1), END)
    assert (stale.share, stale.status) == (pytest.approx(2 / 3), "partial")
    half_down = judge_alarms(2, 1, None, END)
    assert (half_down.measured, half_down.share, half_down.status) == (0.5, 0.5, "partial")
    assert judge_alarms(2, 2, END + timedelta(days=1), END).share == pytest.approx(2 / 3)  # after the month


def test_time_to_acknowledge_real_alarms() -> None:
    assert judge_response((), 0).status == "na"
    fast = judge_response((10.0, 20.0, 30.0), 0)
    assert (fast.status, fast.target) == ("pass", ACK_TARGET_S)
    assert fast.measured == pytest.approx(28.0)
    left_alone = judge_response((10.0,), 1)
    assert (left_alone.measured, left_alone.share, left_alone.status) == (None, 0.5, "partial")
    assert judge_response((300.0, 400.0), 0).status == "fail"
    # The status follows the percentile shown: 37 alarms at a minute and 3 at ten minutes have p90 one minute.
    mostly_fast = judge_response((60.0,) * 37 + (600.0,) * 3, 0)
    assert (mostly_fast.measured, mostly_fast.status) == (60.0, "pass")
    assert mostly_fast.share == pytest.approx(37 / 40)
    # Five of forty never acknowledged: the 90th percentile falls on one of them.
    ignored = judge_response((60.0,) * 35, 5)
    assert (ignored.measured, ignored.status) == (None, "partial")
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5


def test_the_score_is_the_mean_share_of_the_criteria_that_apply() -> None:
    perfect = scorecard(facts())
    assert perfect.score == 100.0 and not perfect.rectify
    quiet = scorecard(facts(ack_seconds=(), retention_days=()))
    assert quiet.score == 100.0
    assert [j.status for j in quiet.judgements] == ["pass", "pass", "pass", "na", "pass", "na"]
    no_guard = scorecard(facts(guards=0))
    assert no_guard.score == pytest.approx(round(500 / 6, 1)) and no_guard.rectify
    assert status_of(0.95) == "pass" and status_of(0.5) == "partial" and status_of(0.49) == "fail"


def test_ranks_best_first_listed_weakest_first_with_ties_sharing_a_rank() -> None:
    cards = ranked([scorecard(facts("a", guards=0)), scorecard(facts("b")), scorecard(facts("c")),
                    scorecard(facts("d", buttons=0, guards=0))])
    assert [(c.school_id, c.rank) for c in cards] == [("d", 4), ("a", 3), ("b", 1), ("c", 1)]


def test_units_roll_up_weakest_first_and_changes_since_last_month() -> None:
    cards = ranked([scorecard(facts("a", "/c/x/a/", guards=0)), scorecard(facts("b", "/c/x/b/")),
                    scorecard(facts("e", "/c/y/e/"))])
    rolled = rollup(cards, {"c": "/c/", "x": "/c/x/", "y": "/c/y/", "empty": "/c/z/"})
    assert [(u.unit_id, u.schools, u.rectify) for u in rolled] == [("x", 2, 1), ("c", 3, 1), ("y", 1, 0)]
    before = ranked([scorecard(facts("a", "/c/x/a/")), scorecard(facts("b", "/c/x/b/", buttons=0))])
    moved = changes(cards, before)
    assert (moved["a"].rank_delta, moved["a"].score_delta) == (-2, pytest.approx(-16.7))
    assert moved["b"].rank_delta == 1 and moved["b"].score_delta == pytest.approx(16.7)
    assert (moved["e"].rank_delta, moved["e"].score_delta) == (None, None)
