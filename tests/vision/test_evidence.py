"""Evidence over time and the learned scene, pure: score medians, freshness, shapes, stillness and masks."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from tests.vision.zone_helpers import CAMERA_ID, SIZE, WEDNESDAY_10AM, person, rules, thing
from vision.config import ConfirmParams, PersonShape, SceneParams
from vision.evidence import EMPTY_EVIDENCE, EvidenceState, confirm, countable, update
from vision.messages import Box, Detection, Observation, TrackedObject
from vision.motion import GateParams, Motion, should_detect
from vision.scene import SceneLearner, SceneObject, masks, still

PARAMS = ConfirmParams()
GATE = (0.5, 0.7)


def at(seconds: float) -> dt.datetime:
    return WEDNESDAY_10AM + dt.timedelta(seconds=seconds)


def obs(*objects: TrackedObject, t: dt.datetime) -> Observation:
    return Observation(CAMERA_ID, t, SIZE, SIZE, tuple(objects))


def scored(track_id: int, score: float, seen: dt.datetime, x: float = 0.5, y: float = 0.7) -> TrackedObject:
    base = person(track_id, x, y)
    return TrackedObject(track_id, "person", score, base.box, base.since, None, seen)


def feed(scores: list[float], track_id: int = 1) -> EvidenceState:
    state = EMPTY_EVIDENCE
    for index, score in enumerate(scores):
        state = update(state, [scored(track_id, score, at(index))], at(index), PARAMS)
    return state


def test_a_track_is_confirmed_by_the_median_of_its_scores_not_by_one_high_score() -> None:
    assert not feed([0.9]).tracks[1].confirmed, "one detection is a guess"
    assert not feed([0.7, 0.6]).tracks[1].confirmed, "two are not yet a median"
    assert feed([0.7, 0.6, 0.3]).tracks[1].confirmed
    # A cone: scores around 0.4 with the odd 0.9 never reach a median of 0.5.
    assert not feed([0.4, 0.9, 0.42, 0.38, 0.95, 0.41, 0.4]).tracks[1].confirmed
    assert confirm((0.4, 0.6, 0.55), PARAMS) and not confirm((0.4, 0.45, 0.9), PARAMS)


def test_a_confirmed_person_half_hidden_for_a_while_stays_confirmed() -> None:
    assert feed([0.8, 0.8, 0.8, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]).tracks[1].confirmed


def test_scores_of_calls_that_did_not_match_the_track_are_not_its_evidence() -> None:
    state = update(EMPTY_EVIDENCE, [scored(1, 0.8, at(0))], at(0), PARAMS)
    # The tracker reports the same track one call later without a new detection: nothing is added.
    for second in (1, 2):
        state = update(state, [scored(1, 0.8, at(0))], at(second), PARAMS)
    assert state.tracks[1].scores == (0.8,) and not state.tracks[1].confirmed
    assert update(state, [], at(2), PARAMS).tracks == {}, "a track the tracker dropped is forgotten"


def test_only_confirmed_people_seen_in_the_latest_call_are_counted() -> None:
    camera = rules()
    state = feed([0.8, 0.8, 0.8], track_id=1)
    state = EvidenceState({**state.tracks, **feed([0.8, 0.8, 0.8], track_id=2).tracks,
                           **feed([0.4, 0.4, 0.4], 3).tracks})
    now = at(1)
    fresh, left, cone = scored(1, 0.8, now), scored(2, 0.8, at(0.5), x=0.45), scored(3, 0.4, now, x=0.55)
    knife = TrackedObject(9, "knife", 0.35, thing("knife", 9, 0.1, 0.1).box, now, None, now)
    counted = countable(camera, state, obs(fresh, left, cone, knife, t=now), PARAMS)
    assert [o.track_id for o in counted] == [1, 9], "the one who left and the unconfirmed cone are not counted"
    # On a frame between detector calls, freshness is judged against the latest call.
    assert countable(camera, state, obs(fresh, t=at(1.4)), PARAMS, detected_at=now) == (fresh,)


def test_a_person_must_have_a_persons_shape_on_the_camera_and_in_a_zone_that_sets_one() -> None:
    camera = rules()
    state = feed([0.8, 0.8, 0.8])
    upright = scored(1, 0.8, at(1))
    sliver = TrackedObject(1, "person", 0.8, Box(500, 580, 510, 700), upright.since, None, at(1))
    assert countable(camera, state, obs(upright, t=at(1)), PARAMS) == (upright,)
    assert countable(camera, state, obs(sliver, t=at(1)), PARAMS) == (), "a sign post is no person"
    tall_gate = PARAMS.model_copy(update={"zone_shapes": {"Gate": PersonShape(min_height=0.2)}})
    assert countable(camera, state, obs(upright, t=at(1)), tall_gate) == (), "120 px of 1000 is too small there"
    elsewhere = scored(1, 0.8, at(1), x=0.85, y=0.8)
    assert countable(camera, state, obs(elsewhere, t=at(1)), tall_gate) == (elsewhere,)
    by_camera = PARAMS.model_copy(update={"zone_shapes": {"Gate": PersonShape(min_height=0.2),
                                                          f"{CAMERA_ID}/Gate": PersonShape()}})
    assert countable(camera, state, obs(upright, t=at(1)), by_camera) == (upright,), "camera/zone wins"


def test_a_shape_with_its_bounds_reversed_is_refused() -> None:
    with pytest.raises(ValidationError):
        PersonShape(min_aspect=2.0, max_aspect=1.0)


SCENE = SceneParams(learn_s=60)


def track(track_id: int, box: Box, seen: dt.datetime, label: str = "person") -> TrackedObject:
    return TrackedObject(track_id, label, 0.4, box, WEDNESDAY_10AM, None, seen)


CONE = Box(160, 185, 180, 210)


def test_a_thing_still_from_its_first_sighting_is_learned_after_learn_s() -> None:
    learner = SceneLearner(CAMERA_ID, SCENE)
    learned: list[SceneObject] = []
    for second in range(0, 70, 2):
        jitter = 1.0 if second % 4 else 0.0  # a detector's box wobbles by a pixel or so
        box = Box(CONE.x1 + jitter, CONE.y1, CONE.x2 + jitter, CONE.y2)
        learned += learner.observe([track(7, box, at(second))], at(second), SIZE, SIZE)
    assert len(learned) == 1 and learned[0].learned_at == at(60)
    assert learned[0].box == pytest.approx((0.16, 0.185, 0.18, 0.21), abs=0.002)
    assert learner.objects == tuple(learned), "masked at once, before the store has it"


def test_a_person_who_walked_in_and_stood_still_is_never_learned() -> None:
    learner = SceneLearner(CAMERA_ID, SCENE)
    learned = list(learner.observe([track(3, Box(0, 500, 40, 620), at(0))], at(0), SIZE, SIZE))
    for second in range(1, 400, 2):
        learned += learner.observe([track(3, Box(500, 500, 540, 620), at(second))], at(second), SIZE, SIZE)
    assert learned == []


def test_a_knife_lying_still_is_never_learned_or_masked() -> None:
    learner = SceneLearner(CAMERA_ID, SCENE)
    for second in range(0, 200, 2):
        assert learner.observe([track(4, CONE, at(second), "knife")], at(second), SIZE, SIZE) == ()
    cone = SceneObject(CAMERA_ID, "person", (0.16, 0.185, 0.18, 0.21), at(0), 1)
    assert masks([cone], Detection("sheep", 0.4, CONE), SIZE, SIZE, SCENE), "the boulder is a sheep at times"
    assert not masks([cone], Detection("knife", 0.9, CONE), SIZE, SIZE, SCENE)
    assert not masks([cone], Detection("person", 0.9, Box(150, 100, 190, 210)), SIZE, SIZE, SCENE), \
        "a person standing at the cone has another box"


def test_un_learning_unmasks_and_a_stored_copy_replaces_the_pending_one() -> None:
    learner = SceneLearner(CAMERA_ID, SCENE)
    for second in range(0, 62, 2):
        learner.observe([track(7, CONE, at(second))], at(second), SIZE, SIZE)
    (pending,) = learner.objects
    cone = Detection("person", 0.4, CONE)
    assert learner.mask([cone], SIZE, SIZE) == []
    stored = SceneObject(pending.camera_id, pending.label, pending.box, pending.learned_at, 41)
    learner.replace([stored])
    assert learner.objects == (stored,)
    learner.replace([])  # un-learned on the operations page
    assert not learner.objects
    assert learner.mask([cone], SIZE, SIZE) == [cone]


def test_stillness_is_judged_against_the_first_box() -> None:
    assert still(CONE, Box(161, 186, 181, 211), SCENE)
    assert not still(CONE, Box(175, 185, 195, 210), SCENE), "moved most of its width"
    assert not still(CONE, Box(160, 160, 180, 210), SCENE), "twice as tall"


def test_a_parked_car_does_not_hold_the_gate_at_the_tracked_cadence() -> None:
    gate = GateParams()
    nothing = Motion((), 0.0)
    car = [Box(650, 40, 730, 100)]
    assert not should_detect(nothing, at(1.5), at(0), car, gate, watched=False)
    assert should_detect(nothing, at(3), at(0), car, gate, watched=False)
    assert should_detect(nothing, at(1.5), at(0), car, gate), "without a word, anything tracked is watched"
