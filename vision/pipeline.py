"""One camera's pipeline: motion gate → detector → pose → tracker → zone rules, frame by frame.

:meth:`CameraPipeline.process` takes a decoded :class:`~vision.messages.Frame` and returns a
:class:`FrameResult`. Only frames the motion gate opens for (see ``vision/motion.py``) reach the detector;
the tracker and the zone rules then see exactly those frames, so a rule's frame counts are counts of real
observations and its clocks run on the frames' times. With ``gated=False`` every frame is detected, which is
the benchmark's baseline and the fallback for a camera whose picture is never still (a flickering light).

Between the tracker and the rules stand the scene and the evidence: detections of things learned as part of
the camera's scene are dropped before the tracker (``vision/scene.py``), and the rules count only recently
seen tracks, people among them only once their score history confirms them (``vision/evidence.py``).

Pose (MoveNet) runs only for people whose box is not clearly upright (wider than ``pose_min_aspect`` of its
height) and at most ``max_pose`` per frame: a standing person's box is about 0.4 as wide as tall, and pose
costs a model call per person, so upright crowds cost nothing extra while someone on the floor is judged.
Without a pose model, or past ``max_pose``, the box's shape alone decides (``vision.pose.is_lying``'s
fallback).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from vision.config import ConfirmParams, SceneParams
from vision.detectors import Detector
from vision.evidence import CONFIRMED_LABELS, EMPTY_EVIDENCE, EvidenceState, countable, update
from vision.messages import Box, Detection, Frame, Observation, TrackedObject, VisionEvent
from vision.motion import GateParams, MotionGate, should_detect
from vision.pose import Keypoints, PoseEstimator, is_lying
from vision.rules import EMPTY_STATE, RuleParams, ZoneState, evaluate
from vision.scene import SceneLearner, SceneObject
from vision.tracking import ObjectTracker, TrackParams
from vision.zones import STANDING_LABELS, CameraRules

MOBILE_LABELS = frozenset({"person", "bicycle", "car", "motorcycle", "bus", "truck", "bird", "cat", "dog", "horse"})
"""COCO labels of things that move by themselves."""

_NO_KEYPOINTS = Keypoints(xy=np.zeros((17, 2), np.float32), scores=np.zeros(17, np.float32))


@dataclass(frozen=True, slots=True)
class PipelineParams:
    """Tuning of one camera's pipeline."""

    gate: GateParams = field(default_factory=GateParams)
    track: TrackParams = field(default_factory=TrackParams)
    rules: RuleParams = field(default_factory=RuleParams)
    confirm: ConfirmParams = field(default_factory=ConfirmParams)
    scene: SceneParams = field(default_factory=SceneParams)
    gated: bool = True
    """Send only frames with motion (or due a periodic check) to the detector."""
    pose_min_aspect: float = 0.6
    """Boxes at least this wide for their height get a pose check."""
    max_pose: int = 4
    """Most pose checks per frame."""


@dataclass(frozen=True, slots=True)
class FrameResult:
    """What processing one frame gave: whether it was detected, the live tracks, and any events.

    ``objects`` are every live track (moved along on a frame that was not detected); ``counted`` those the
    rules count (recently seen; people confirmed and person-shaped: ``vision/evidence.py``); ``learned`` the
    scene objects this frame taught the camera (``vision/scene.py``), for the worker to store.
    """

    frame: Frame
    detected: bool
    objects: tuple[TrackedObject, ...]
    events: tuple[VisionEvent, ...]
    counted: tuple[TrackedObject, ...] = ()
    learned: tuple[SceneObject, ...] = ()


class CameraPipeline:
    """The state of one camera's stages; not thread-safe (one camera, one thread)."""

    def __init__(self, rules: CameraRules, detector: Detector, params: PipelineParams | None = None,
                 pose: PoseEstimator | None = None, scene: tuple[SceneObject, ...] = ()) -> None:
        self.rules = rules
        self.detector = detector
        self.params = params or PipelineParams()
        self.pose = pose
        self.gate = MotionGate(self.params.gate)
        self.tracker = ObjectTracker(self.params.track)
        self.scene = SceneLearner(rules.camera_id, self.params.scene, scene)
        self.detections = 0
        self._evidence: EvidenceState = EMPTY_EVIDENCE
        self._state: ZoneState = EMPTY_STATE
        self._last_detection: datetime | None = None
        self._unreported: tuple[tuple[Box, str], ...] = ()

    def process(self, frame: Frame) -> FrameResult:
        """Run one frame through the stages."""
        motion = self.gate.observe(frame.image)
        predicted = self.tracker.predict(frame.time, frame.size[0])
        # Only things that move by themselves explain motion; a parked car's or a misread "bed"'s box must not
        # hide a person walking in front of it from the gate.
        # A detection the tracker has not reported yet (it waits for a second sighting) is followed too: the
        # gate must look again at the tracked cadence, not after full_check_s, or a person standing still when
        # they first appear waits seconds to become a track.
        followed = [o.box for o in predicted if o.label in MOBILE_LABELS] + [box for box, _ in self._unreported]
        watched = any(o.label in STANDING_LABELS for o in predicted) or any(
            label in STANDING_LABELS for _, label in self._unreported)
        unconfirmed = [o.box for o in predicted if o.label in STANDING_LABELS and not self._confirmed(o)] + [
            box for box, label in self._unreported if label in STANDING_LABELS]
        if self.params.gated and not should_detect(motion, frame.time, self._last_detection, followed,
                                                   self.params.gate, watched, unconfirmed):
            width, height = frame.size
            seen = Observation(frame.camera_id, frame.time, width, height, predicted)
            return FrameResult(frame, False, predicted, (),
                               countable(self.rules, self._evidence, seen, self.params.confirm, self._last_detection))
        width, height = frame.size
        # Learned scene (a cone, a sign post) is dropped before the tracker: it must not become a track at all,
        # or it would hold the gate at the tracked cadence and stand in the way of the people passing it.
        found = self.scene.mask(self.detector.detect(frame.image), width, height)
        self.detections += 1
        self._last_detection = frame.time
        objects = self.tracker.update(found, frame.time, self._lying(frame, found))
        self._unreported = tuple((d.box, d.label) for d in found if d.label in MOBILE_LABELS
                                 and not any(d.box.iou(o.box) >= 0.5 for o in objects))
        learned = self.scene.observe(objects, frame.time, width, height)
        self._evidence = update(self._evidence, objects, frame.time, self.params.confirm)
        counted = countable(self.rules, self._evidence, Observation(frame.camera_id, frame.time, width, height,
                                                                    objects), self.params.confirm)
        observation = Observation(frame.camera_id, frame.time, width, height, counted)
        self._state, events = evaluate(self.rules, self.params.rules, self._state, observation)
        return FrameResult(frame, True, objects, tuple(events), counted, learned)

    def _confirmed(self, obj: TrackedObject) -> bool:
        evidence = self._evidence.tracks.get(obj.track_id)
        return obj.label not in CONFIRMED_LABELS or (evidence is not None and evidence.confirmed)

    def _lying(self, frame: Frame, found: list[Detection]) -> list[bool | None]:
        verdicts: list[bool | None] = []
        budget = self.params.max_pose if self.pose is not None else 0
        for detection in found:
            box = detection.box
            if detection.label != "person":
                verdicts.append(None)
            elif box.width < self.params.pose_min_aspect * box.height:
                verdicts.append(False)  # clearly upright: no model call needed
            elif budget > 0 and self.pose is not None:
                budget -= 1
                verdicts.append(is_lying(self.pose.keypoints(frame.image, box), box))
            else:
                verdicts.append(is_lying(_NO_KEYPOINTS, box))  # no visible joints: the box's shape decides
        return verdicts
