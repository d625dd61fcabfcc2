"""The pipeline on a real courtyard none of us made: people walking through, cones, a sign post, a board, a boulder.

The footage is OpenCV's sample ``vtest.avi`` (PETS 2009, recorded by a camera), installed by Debian's opencv-doc
(see ``bench/vision.py``, which builds the scenes: the courtyard as filmed, and the courtyard empty, its per-pixel
median background held still). The real NanoDet runs on every frame the gate lets through, at the footage's own
times. Reference people are the detector's confident boxes where the picture differs from the empty courtyard
(there is no hand annotation offline); the fixed clutter is what the detector finds on the empty courtyard.
"""

from __future__ import annotations

from functools import cache

import pytest

from bench.vision import (
    FOOTAGE,
    PREVIOUS,
    RealRun,
    background,
    courtyard,
    courtyard_empty,
    person_truth,
    recall,
    run_real,
)
from vision.config import SceneParams
from vision.detectors import Detector, build_detector
from vision.messages import Box
from vision.pipeline import PipelineParams
from vision.scene import SceneLearner

pytestmark = pytest.mark.skipif(
    not FOOTAGE.is_file(), reason=f"{FOOTAGE} is missing: install Debian's opencv-doc (scripts/bootstrap.sh does)")


@cache
def detector() -> Detector:
    return build_detector({"type": "nanodet", "intra_op_threads": 2})


@cache
def truth() -> tuple[tuple[Box, ...], ...]:
    return person_truth(detector())


@cache
def clutter() -> tuple[Box, ...]:
    """Whatever the detector sees in the empty courtyard: all of it fixed, none of it a person."""
    return tuple(d.box for d in detector().detect(background()))


@cache
def quiet() -> RealRun:
    """The empty courtyard for 150 s after hours, learning still things after 60 s."""
    return run_real(courtyard_empty(seconds=150), PipelineParams(scene=SceneParams(learn_s=60)), detector())


@cache
def busy(gated: bool) -> RealRun:
    most = max(len(people) for people in truth())
    return run_real(courtyard(most), PipelineParams(gated=gated), detector())


def test_the_detector_does_take_the_empty_courtyards_clutter_for_things() -> None:
    # The premise of every other test here: without evidence over time, this scene fools the detector.
    found = detector().detect(background())
    assert any(d.label == "person" for d in found), found
    assert max(len(people) for people in truth()) >= 5, "the footage should show a handful of people at once"


def test_fixed_things_in_a_busy_courtyard_are_never_counted_as_people() -> None:
    run = busy(gated=True)
    counted = [box for frame in run.counted for box in frame]
    assert counted, "the people walking through are counted"
    on_clutter = [box for box in counted if any(box.iou(fixed) >= 0.5 for fixed in clutter())]
    assert on_clutter == []


def test_a_crowd_zone_over_the_courtyard_counts_only_the_people_there() -> None:
    run = busy(gated=True)
    most = max(len(people) for people in truth())
    # The zone allows as many people as the courtyard ever shows at once: crowding could only be a miscount.
    assert run.findings == ()
    assert max(len(frame) for frame in run.counted) <= most


def test_the_gated_pipeline_sees_people_within_two_points_of_detecting_every_frame() -> None:
    gated, every = busy(gated=True), busy(gated=False)
    assert every.detections == len(truth())
    assert gated.detections < every.detections
    assert recall(gated, truth()) >= recall(every, truth()) - 0.02, (recall(gated, truth()), recall(every, truth()))


def test_the_empty_courtyard_after_hours_raises_nothing_and_learns_its_clutter() -> None:
    now = quiet()
    assert now.findings == ()
    assert now.learned >= 1 and len(now.scene) == now.learned
    height, width = background().shape[:2]
    for obj in now.scene:
        assert any(obj.pixels(width, height).iou(fixed) >= 0.5 for fixed in clutter()), obj
    # The same still picture under the pipeline as it was: the cone is an intruder, then a loiterer.
    before = run_real(courtyard_empty(seconds=150), PREVIOUS, detector())
    assert "intrusion" in {event.kind for event in before.findings}
    # Once learned, the clutter no longer holds the gate at the tracked cadence: fewer detector calls.
    assert now.detections < before.detections


def test_an_unlearned_object_is_seen_again() -> None:
    learner = SceneLearner("bench-cam", SceneParams(learn_s=60))
    image = background()
    height, width = image.shape[:2]
    found = detector().detect(image)
    learned = list(quiet().scene)
    assert learned
    learner.replace(learned)
    masked = learner.mask(found, width, height)
    assert len(masked) < len(found)
    learner.replace(learned[1:])  # the first one un-learned on the operations page
    assert len(learner.mask(found, width, height)) > len(masked)
    learner.replace([])
    assert learner.mask(found, width, height) == found
