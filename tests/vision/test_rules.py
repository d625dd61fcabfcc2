"""Zone rules, golden sequences: each rule fires exactly once per situation, at the right frame, with its boxes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from tests.vision.zone_helpers import (
    CAMERA_ID,
    WEDNESDAY_10PM,
    at,
    obs,
    person,
    rules,
    run,
    steps,
    thing,
)
from vision.messages import Observation, VisionEvent
from vision.rules import EMPTY_STATE, RuleParams, evaluate

STORE, GATE, YARD, COOKING, NOWHERE = (0.15, 0.15), (0.5, 0.7), (0.85, 0.15), (0.15, 0.8), (0.85, 0.8)


def summary(events: list[VisionEvent]) -> list[tuple[str, str | None, dt.datetime]]:
    return [(event.kind, event.zone, event.time) for event in events]


def test_intrusion_into_a_restricted_zone_fires_once_after_two_seconds() -> None:
    stream = [obs(t, person(7, *STORE)) for t in steps(0, 60, 0.5)]
    _, events = run(rules(), stream)
    assert summary(events) == [("intrusion", "Store", at(2.0))]
    event = events[0]
    assert event.camera_id == CAMERA_ID
    assert event.boxes == (person(7, *STORE).box,)
    assert event.detail == {"zone": "Store", "after_hours": False, "count": 1, "track_ids": [7]}


def test_a_brief_intrusion_or_one_outside_the_zone_does_not_fire() -> None:
    brief = [obs(t, person(1, *STORE)) for t in steps(0, 1.5, 0.5)]
    later = [obs(t, person(1, *STORE)) for t in steps(10, 11.5, 0.5)]
    gap = [obs(t) for t in steps(2, 9.5, 0.5)]
    in_school_gate = [obs(t, person(2, *GATE), person(3, *YARD), person(4, *NOWHERE)) for t in steps(12, 40)]
    assert run(rules(), [*brief, *gap, *later, *in_school_gate])[1] == []


def test_a_missed_frame_or_two_does_not_restart_the_hold() -> None:
    stream = [obs(0, person(1, *STORE)), obs(1, person(1, *STORE)), obs(2), obs(3, person(1, *STORE))]
    assert summary(run(rules(), stream)[1]) == [("intrusion", "Store", at(3))]


def test_after_hours_any_zone_is_an_intrusion_and_the_detail_says_so() -> None:
    stream = [obs(t, person(1, *GATE), person(2, *GATE), person(3, *NOWHERE), start=WEDNESDAY_10PM)
              for t in steps(0, 5)]
    _, events = run(rules(), stream)
    assert summary(events) == [("intrusion", "Gate", at(2, WEDNESDAY_10PM))]
    assert events[0].detail == {"zone": "Gate", "after_hours": True, "count": 2, "track_ids": [1, 2]}
    assert len(events[0].boxes) == 2


def test_after_hours_a_camera_without_zones_watches_its_whole_picture() -> None:
    night = [obs(t, person(1, *NOWHERE), start=WEDNESDAY_10PM) for t in steps(0, 5)]
    assert summary(run(rules([]), night)[1]) == [("intrusion", None, at(2, WEDNESDAY_10PM))]
    day = [obs(t, person(1, *NOWHERE)) for t in steps(0, 5)]
    assert run(rules([]), day)[1] == []


def test_crowding_above_the_default_in_a_gate_zone_held_for_five_seconds() -> None:
    crowd = [person(i, 0.42 + 0.015 * i, 0.7) for i in range(11)]
    ten = crowd[:10]
    stream = [obs(t, *ten) for t in steps(0, 10)] + [obs(t, *crowd) for t in steps(11, 30)]
    _, events = run(rules(), stream)
    assert summary(events) == [("crowding", "Gate", at(16))]
    assert events[0].detail == {"zone": "Gate", "max_people": 10, "count": 11, "track_ids": list(range(11))}
    assert len(events[0].boxes) == 11


def test_crowding_uses_a_zones_own_limit_and_skips_kinds_without_one() -> None:
    zones: list[dict[str, Any]] = [
        {"name": "Hall", "kind": "general", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]], "max_people": 3},
        {"name": "Lawn", "kind": "general", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}]
    four = [person(i, 0.2 * (i + 1), 0.5) for i in range(4)]
    _, events = run(rules(zones), [obs(t, *four) for t in steps(0, 8)])
    assert summary(events) == [("crowding", "Hall", at(5))]


def test_loitering_one_track_past_its_limit() -> None:
    stream = [obs(t, person(5, *YARD), person(6 + int(t) // 50, *GATE)) for t in steps(0, 200)]
    _, events = run(rules(), stream)
    # The Gate sees a new track every 50 s (people passing through): never loitering.
    assert summary(events) == [("loitering", "Yard", at(120))]
    assert events[0].detail == {"zone": "Yard", "dwell_s": 120.0, "loiter_s": 120.0, "count": 1, "track_ids": [5]}


def test_loitering_uses_a_zones_own_limit_and_never_fires_in_a_kitchen() -> None:
    zones: list[dict[str, Any]] = [
        {"name": "Door", "kind": "gate", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]], "loiter_s": 30},
        {"name": "Line", "kind": "kitchen", "polygon": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]}]
    stream = [obs(t, person(1, 0.25, 0.5), person(2, 0.75, 0.5)) for t in steps(0, 600, 2)]
    assert summary(run(rules(zones), stream)[1]) == [("loitering", "Door", at(30))]


def test_a_person_down_for_eight_seconds_none_verdicts_keep_it_a_false_ends_it() -> None:
    def lying(t: float) -> bool | None:
        if t == 4:
            return False  # got up: the run starts again at 5
        return True if t % 2 == 0 else None  # the pose stage judges every other frame
    stream = [obs(t, person(9, *NOWHERE, lying=lying(t))) for t in steps(0, 30)]
    _, events = run(rules(), stream)
    assert summary(events) == [("person_down", None, at(14))]  # lying from 6 (5 had no verdict)
    assert events[0].detail == {"zone": None, "zones": [], "lying_s": 8.0, "count": 1, "track_ids": [9]}


def test_a_knife_outside_the_kitchen_needs_three_of_five_frames() -> None:
    stray = [obs(t, thing("knife", 1, *NOWHERE)) if t % 3 == 0 else obs(t) for t in steps(0, 20)]
    assert run(rules(), stray)[1] == []  # one frame in three is a detector's false positive, not a knife
    seen = [obs(0, thing("knife", 1, *NOWHERE)), obs(1), obs(2, thing("knife", 1, *YARD)),
            obs(3, thing("baseball bat", 2, *NOWHERE)), obs(4, thing("knife", 1, *NOWHERE))]
    _, events = run(rules(), seen)
    assert summary(events) == [("knife_outside_kitchen", None, at(3))]
    assert events[0].detail == {"zone": None, "labels": ["baseball bat"], "count": 1, "track_ids": [2]}


def test_a_knife_in_a_kitchen_zone_or_on_a_kitchen_camera_is_fine() -> None:
    in_zone = [obs(t, thing("knife", 1, *COOKING)) for t in steps(0, 10)]
    assert run(rules(), in_zone)[1] == []
    kitchen_camera = [obs(t, thing("knife", 1, *NOWHERE)) for t in steps(0, 10)]
    assert run(rules(place_kind="kitchen"), kitchen_camera)[1] == []


def test_a_phone_in_the_kitchen_zone_only() -> None:
    stream = [obs(t, thing("cell phone", 1, *COOKING), thing("cell phone", 2, *NOWHERE)) for t in steps(0, 10)]
    _, events = run(rules(), stream)
    assert summary(events) == [("phone_in_kitchen", "Cooking", at(2))]
    assert events[0].boxes == (thing("cell phone", 1, *COOKING).box,)


def test_an_animal_in_a_kitchen_zone_or_anywhere_on_a_kitchen_camera_but_not_a_computer_mouse() -> None:
    stream = [obs(t, thing("cat", 1, *COOKING), thing("mouse", 2, *COOKING)) for t in steps(0, 10)]
    assert summary(run(rules(), stream)[1]) == [("animal_in_kitchen", "Cooking", at(2))]
    dog = [obs(t, thing("dog", 3, *NOWHERE), thing("bird", 4, *COOKING)) for t in steps(0, 10)]
    assert summary(run(rules(place_kind="kitchen"), dog)[1]) == [
        ("animal_in_kitchen", None, at(2)), ("animal_in_kitchen", "Cooking", at(2))]
    assert run(rules(), [obs(t, thing("dog", 3, *NOWHERE)) for t in steps(0, 10)])[1] == []


def test_one_situation_one_event_and_a_second_situation_after_clearing_a_second() -> None:
    present = [obs(t, person(1, *STORE)) for t in steps(0, 60)]
    clear = [obs(t) for t in steps(61, 99)]
    # Back within the cooldown: the second situation waits for it, then fires (delayed, not dropped).
    back = [obs(t, person(2, *STORE)) for t in steps(100, 400)]
    clear_again = [obs(t) for t in steps(401, 800)]
    third = [obs(t, person(3, *STORE)) for t in steps(801, 810)]
    _, events = run(rules(), [*present, *clear, *back, *clear_again, *third])
    # The second person also stays 120 s in the (restricted) Store: loitering is a situation of its own.
    assert summary(events) == [("intrusion", "Store", at(2)), ("loitering", "Store", at(220)),
                               ("intrusion", "Store", at(302)), ("intrusion", "Store", at(803))]
    assert events[1].detail["track_ids"] == [2]


def test_a_situation_that_never_clears_fires_once_however_it_changes() -> None:
    stream = [obs(t, *[person(i, 0.05 + 0.02 * i, 0.2) for i in range(1 + int(t) // 100)]) for t in steps(0, 900)]
    _, events = run(rules(), stream)
    assert summary(events) == [("intrusion", "Store", at(2)), ("loitering", "Store", at(120))]


def test_a_flickering_condition_fires_at_most_once_per_cooldown() -> None:
    stream = [obs(t, person(int(t) // 40, *STORE)) if t % 40 < 5 else obs(t) for t in steps(0, 1000)]
    times = [event.time for event in run(rules(), stream)[1]]
    assert times == [at(2), at(322), at(642), at(962)]


def test_a_late_observation_is_ignored_and_bad_input_refused() -> None:
    state, _ = run(rules(), [obs(t, person(1, *STORE)) for t in steps(0, 1)])
    assert evaluate(rules(), RuleParams(), state, obs(0.5, person(1, *STORE))) == (state, [])
    with pytest.raises(ValueError, match="fed to the rules"):
        evaluate(rules(), RuleParams(), EMPTY_STATE, Observation("other-cam", at(0), 10, 10, ()))
    with pytest.raises(ValueError, match="timezone-aware"):
        naive = dt.datetime(2024, 3, 13, 10, 0)  # noqa: DTZ001 - the point of the test
        evaluate(rules(), RuleParams(), EMPTY_STATE, Observation(CAMERA_ID, naive, 10, 10, ()))


def test_params_are_validated() -> None:
    with pytest.raises(ValidationError):
        RuleParams(object_min_frames=6, object_window=5)
    with pytest.raises(ValidationError):
        RuleParams.model_validate({"crowd_max": 10, "crowd_maximum": 3})
    assert RuleParams().cooldown_s == 300
    assert all(field.description for field in RuleParams.model_fields.values())


def test_a_zone_with_its_own_hours_is_judged_by_them_not_the_schools() -> None:
    # The kitchen is staffed from 05:30; the school opens at 07:30. The cook at 06:00 is not an intruder;
    # someone in the kitchen at 22:00 still is, and so is someone in the yard at 06:00.
    kitchen = {"name": "Cooking", "kind": "kitchen", "polygon": [[0.0, 0.6], [0.3, 0.6], [0.3, 1.0], [0.0, 1.0]],
               "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "05:30", "end": "15:30"}]}
    yard = {"name": "Yard", "kind": "general", "polygon": [[0.7, 0.0], [1.0, 0.0], [1.0, 0.3], [0.7, 0.3]]}
    wednesday_6am = dt.datetime(2024, 3, 13, 11, 0, tzinfo=dt.UTC)  # 06:00 in Chicago (CDT)
    early = [obs(t, person(1, *COOKING), start=wednesday_6am) for t in steps(0, 5)]
    assert run(rules([kitchen, yard]), early)[1] == []
    assert summary(run(rules([{k: v for k, v in kitchen.items() if k != "hours"}, yard]), early)[1]) == [
        ("intrusion", "Cooking", at(2, wednesday_6am))]  # without its hours, the school's would apply
    night = [obs(t, person(1, *COOKING), start=WEDNESDAY_10PM) for t in steps(0, 5)]
    events = run(rules([kitchen, yard]), night)[1]
    assert summary(events) == [("intrusion", "Cooking", at(2, WEDNESDAY_10PM))]
    assert events[0].detail["after_hours"] is True
    yard_early = [obs(t, person(2, *YARD), start=wednesday_6am) for t in steps(0, 5)]
    assert summary(run(rules([kitchen, yard]), yard_early)[1]) == [("intrusion", "Yard", at(2, wednesday_6am))]


def test_a_restricted_zone_takes_no_hours() -> None:
    with pytest.raises(ValidationError, match="restricted zone is closed at all hours"):
        rules([{"name": "Store", "kind": "restricted", "polygon": [[0, 0], [0.3, 0], [0.3, 0.3]],
                "hours": [{"days": ["mon"], "start": "05:30", "end": "15:30"}]}])
