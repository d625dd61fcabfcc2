"""The patrol rules, pure: a day's rounds, the round a scan falls in, counting, and status across midnight and DST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from alerts import patrol_codes
from alerts.patrols import (
    MISSED_KIND,
    Spot,
    judge_scan,
    missed_at_deadline,
    missed_signal,
    report,
    round_at,
    rounds_of_day,
    tally,
)
from domain.site.patrols import PatrolPlan

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
POINTS = ("gate", "dorm", "kitchen")
UTC = dt.UTC


def plan(**kwargs: object) -> PatrolPlan:
    return PatrolPlan.model_validate({"at": ["07:00", "11:00", "15:00", "19:00", "23:30"], "grace_min": 60}
                                     | kwargs)


def local(day: dt.date, hour: int, minute: int, zone: ZoneInfo = SHANGHAI) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


DAY = dt.date(2026, 12, 7)


def test_a_day_has_the_planned_rounds_each_closing_at_the_next_start() -> None:
    rounds = rounds_of_day("s1", plan(), SHANGHAI, DAY, POINTS)
    assert [r.label for r in rounds] == ["07:00", "11:00", "15:00", "19:00", "23:30"]
    assert rounds[0].start == dt.datetime(2026, 12, 6, 23, 0, tzinfo=UTC)  # Beijing time is UTC+8
    assert rounds[0].deadline == rounds[0].start + dt.timedelta(hours=1)
    assert [r.close for r in rounds[:-1]] == [r.start for r in rounds[1:]]
    # The last round closes at the next day's first: 07:00 on the 8th.
    assert rounds[-1].close == local(DAY + dt.timedelta(days=1), 7, 0).astimezone(UTC)
    assert rounds[0].checkpoints == tuple(sorted(POINTS))


def test_a_round_just_before_midnight_is_due_after_it_and_takes_scans_of_the_next_morning() -> None:
    late = rounds_of_day("s1", plan(), SHANGHAI, DAY, POINTS)[-1]
    assert late.deadline == local(DAY + dt.timedelta(days=1), 0, 30).astimezone(UTC)
    after_midnight = local(DAY + dt.timedelta(days=1), 0, 10)
    assert round_at("s1", plan(), SHANGHAI, after_midnight, POINTS) == late
    early = local(DAY + dt.timedelta(days=1), 6, 59)
    assert round_at("s1", plan(), SHANGHAI, early, POINTS) == late
    assert round_at("s1", plan(), SHANGHAI, local(DAY, 7, 0), POINTS).label == "07:00"


def test_every_n_hours_wraps_past_midnight() -> None:
    rounds = rounds_of_day("s1", plan(at=(), every_hours=4, start="22:00"), SHANGHAI, DAY, POINTS)
    assert [r.label for r in rounds] == ["02:00", "06:00", "10:00", "14:00", "18:00", "22:00"]


def test_status_upcoming_open_done_late_overdue_missed() -> None:
    r = rounds_of_day("s1", plan(), SHANGHAI, DAY, POINTS)[0]
    minutes = dt.timedelta(minutes=1)
    assert report(r, {}, r.start - minutes).status == "upcoming"
    assert report(r, {}, r.start + minutes).status == "open"
    all_by_30 = {p: r.start + 10 * minutes * (i + 1) for i, p in enumerate(POINTS)}
    done = report(r, all_by_30, r.deadline + minutes)
    assert (done.status, done.completed_at) == ("done", r.start + 30 * minutes)
    assert not missed_at_deadline(done, r.deadline + minutes)
    two = {p: r.start + minutes for p in POINTS[:2]}
    overdue = report(r, two, r.deadline)
    assert overdue.status == "overdue" and missed_at_deadline(overdue, r.deadline)
    assert report(r, two, r.close).status == "missed"
    late = report(r, two | {"kitchen": r.deadline + minutes}, r.close)
    assert late.status == "late"
    # Completed late is still a round that was not complete at its deadline: its alarm stands.
    assert missed_at_deadline(late, r.close)
    assert not missed_at_deadline(report(r, {}, r.deadline - minutes), r.deadline - minutes)


def test_a_missed_round_has_one_signal_id_and_names_what_was_missing() -> None:
    r = rounds_of_day("s1", plan(), SHANGHAI, DAY, POINTS)[1]
    state = report(r, {"gate": r.start}, r.deadline)
    first = missed_signal(state, {"dorm": "宿舍楼", "kitchen": "食堂后厨"})
    again = missed_signal(report(r, {"gate": r.start}, r.close), {})
    assert first.signal_id == again.signal_id
    assert first.kind == MISSED_KIND and first.school_id == "s1" and first.time == r.deadline
    assert dict(first.detail) == {"round": "11:00", "date": "2026-12-07", "visited": 1, "planned": 3,
                                  "missing": "宿舍楼, 食堂后厨"}


def test_dst_spring_forward_moves_a_round_in_the_gap_with_the_clock() -> None:
    spring = dt.date(2026, 3, 8)  # New York skips 02:00-03:00
    rounds = rounds_of_day("s2", plan(at=("00:00", "02:30", "03:30", "06:00", "12:00"), min_rounds=4),
                           NEW_YORK, spring, POINTS)
    # 02:30 does not exist; it becomes 03:30 EDT, the same instant as the 03:30 round: one round.
    assert [r.label for r in rounds] == ["00:00", "02:30", "06:00", "12:00"]
    assert rounds[1].start == dt.datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert rounds[0].close - rounds[0].start == dt.timedelta(hours=2, minutes=30)  # one hour fewer on the wall


def test_dst_fall_back_takes_the_first_of_a_doubled_hour_and_rounds_stay_ordered() -> None:
    autumn = dt.date(2026, 11, 1)  # New York repeats 01:00-02:00
    rounds = rounds_of_day("s2", plan(at=("00:00", "01:30", "05:00", "12:00", "18:00")), NEW_YORK, autumn, POINTS)
    assert rounds[1].start == dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, the first
    assert rounds[1].close - rounds[1].start == dt.timedelta(hours=4, minutes=30)  # one hour more
    second_130 = dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST
    assert round_at("s2", plan(at=("00:00", "01:30", "05:00", "12:00", "18:00")), NEW_YORK, second_130,
                    POINTS).label == "01:30"


def test_scans_count_near_the_checkpoint_once_per_round() -> None:
    gate = Spot("gate", 114.3, 35.75, 30.0)
    assert judge_scan(gate, (114.3001, 35.7501), False) == "counted"
    assert judge_scan(gate, (114.3001, 35.7501), True) == "repeat"
    assert judge_scan(gate, None, False) == "no_position"
    assert judge_scan(gate, (114.31, 35.75), False) == "too_far"  # about 900 m east: a photo of the code
    anywhere = Spot("dorm")
    assert judge_scan(anywhere, None, False) == "counted"
    assert judge_scan(anywhere, None, True) == "repeat"


def test_a_day_tally_counts_overdue_as_missed() -> None:
    rounds = rounds_of_day("s1", plan(), SHANGHAI, DAY, POINTS)
    now = rounds[2].start + dt.timedelta(minutes=90)
    everything = dict.fromkeys(POINTS, rounds[0].start)
    late = dict.fromkeys(POINTS, rounds[1].deadline + dt.timedelta(minutes=1))
    scans = [everything, late, {}, {}, {}]
    figures = tally(report(r, s, now) for r, s in zip(rounds, scans, strict=True))
    assert (figures.planned, figures.done, figures.late, figures.missed, figures.open) == (5, 1, 1, 1, 2)


def test_a_plan_needs_five_rounds_unless_it_says_fewer() -> None:
    with pytest.raises(ValidationError, match="fewer than min_rounds"):
        PatrolPlan.model_validate({"at": ["08:00", "12:00"]})
    assert len(PatrolPlan.model_validate({"at": ["08:00", "12:00"], "min_rounds": 2}).times()) == 2
    with pytest.raises(ValidationError, match="either as at"):
        PatrolPlan.model_validate({"at": ["08:00"], "every_hours": 4})


SECRET = b"k" * 32


def test_codes_verify_only_for_their_checkpoint_and_current_key() -> None:
    good = patrol_codes.sign(SECRET, "gate", 1)
    assert patrol_codes.verify(SECRET, "gate", 1, good, current=1) == "ok"
    assert patrol_codes.verify(SECRET, "dorm", 1, good, current=1) == "forged"  # another checkpoint's code
    assert patrol_codes.verify(SECRET, "gate", 1, good[:-1] + ("A" if good[-1] != "A" else "B"), 1) == "forged"
    assert patrol_codes.verify(b"x" * 32, "gate", 1, good, current=1) == "forged"  # another server's secret
    assert patrol_codes.verify(SECRET, "gate", 1, good, current=2) == "rotated"
    assert patrol_codes.verify(SECRET, "gate", 2, patrol_codes.sign(SECRET, "gate", 2), current=2) == "ok"
    assert patrol_codes.verify(SECRET, "gate", 3, patrol_codes.sign(SECRET, "gate", 3), current=2) == "forged"
    assert patrol_codes.scan_path(SECRET, "gate", 1) == f"/patrol?c=gate&v=1&s={good}"
