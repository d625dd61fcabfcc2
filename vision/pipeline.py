"""One camera's pipeline: motion gate → detector → pose → tracker → zone rules, frame by frame.

:meth:`CameraPipeline.process` takes a decoded :class:`~vision.messages.Frame` and returns a
:class:`FrameResult`. Only frames the motion gate opens for (see ``vision/motion.py``) reach the detector;
the tracker and the zone rules then see exactly those frames, so a rule's frame counts are counts of real
observations and its clocks run on the frames' times. With ``gated=False`` every frame is detected, which is
the benchmark's baseline and the fallback for a camera whose picture is never still (a flickering light).

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

from vision.detectors import Detector
from vision.messages import Detection, Frame, Observation, TrackedObject, VisionEvent
from vision.motion import GateParams, MotionGate, should_detect
from vision.pose import Keypoints, PoseEstimator, is_lying
from vision.rules import EMPTY_STATE, RuleParams, ZoneState, evaluate
from vision.tracking import ObjectTracker, TrackParams
from vision.zones import CameraRules

MOBILE_LABELS = frozenset({"person", "bicycle", "car", "motorcycle", "bus", "truck", "bird", "cat", "dog", "horse"})
"""COCO labels of things that move by themselves."""

_NO_KEYPOINTS = Keypoints(xy=np.zeros((17, 2), np.float32), scores=np.zeros(17, np.float32))


@dataclass(frozen=True, slots=True)
class PipelineParams:
    """Tuning of one camera's pipeline."""

    gate: GateParams = field(default_factory=GateParams)
    track: TrackParams = field(default_factory=TrackParams)
    rules: RuleParams = field(default_factory=RuleParams)
    gated: bool = True
    """Send only frames with motion (or due a periodic check) to the detector."""
    pose_min_aspect: float = 0.6
    """Boxes at least this wide for their height get a pose check."""
    max_pose: int = 4
    """Most pose checks per frame."""


@dataclass(frozen=True, slots=True)
class FrameResult:
    """What processing one frame gave: whether it was detected, the live tracks, and any events."""

    frame: Frame
    detected: bool
    objects: tuple[TrackedObject, ...]
    events: tuple[VisionEvent, ...]


class CameraPipeline:
    """The state of one camera's stages; not thread-safe (one camera, one thread)."""

    def __init__(self, rules: CameraRules, detector: Detector, params: PipelineParams | None = None,
                 pose: PoseEstimator | None = None) -> None:
        self.rules = rules
        self.detector = detector
        self.params = params or PipelineParams()
        self.pose = pose
        self.gate = MotionGate(self.params.gate)
        self.tracker = ObjectTracker(self.params.track)
        self.detections = 0
        self._state: ZoneState = EMPTY_STATE
        self._last_detection: datetime | None = None

    def process(self, frame: Frame) -> FrameResult:
        """Run one frame through the stages."""
        motion = self.gate.observe(frame.image)
        predicted = self.tracker.predict(frame.time, frame.size[0])
        # Only things that move by themselves explain motion; a parked car's or a misread "bed"'s box must not
        # hide a person walking in front of it from the gate.
        followed = [o.box for o in predicted if o.label in MOBILE_LABELS]
        if self.params.gated and not should_detect(motion, frame.time, self._last_detection, followed,
                                                   self.params.gate):
            return FrameResult(frame, False, predicted, ())
        found = self.detector.detect(frame.image)
        self.detections += 1
        self._last_detection = frame.time
        objects = self.tracker.update(found, frame.time, self._lying(frame, found))
        width, height = frame.size
        observation = Observation(frame.camera_id, frame.time, width, height, objects)
        self._state, events = evaluate(self.rules, self.params.rules, self._state, observation)
        return FrameResult(frame, True, objects, tuple(events))

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
