"""Body pose of one detected person (MoveNet SinglePose Thunder) and the "is this person lying?" judgement.

:class:`PoseEstimator` crops a person box from the frame (enlarged ~20 % and padded to a square so the body
keeps its proportions), runs vision/models/movenet-thunder.onnx on it and maps the 17 COCO keypoints back to
frame pixels. :func:`is_lying` is a pure function over those keypoints and the box, so the fall rule can be
tested without a model.

How :func:`is_lying` decides, and why these numbers:

1. The torso axis, from the shoulders' midpoint to the hips' midpoint. Standing, walking or sitting people keep
   it within ~30° of vertical and bending over rarely passes ~45°; a person on the floor seen from a wall
   camera lies at ~90°. Past :data:`LYING_TORSO_DEGREES` (60°) counts as lying: the midpoint of the two.
2. When MoveNet does not see at least one shoulder and one hip with score :data:`VISIBLE_SCORE` (0.3,
   MoveNet's own "not visible" cut; keypoints outside a picture score below 0.1, visible joints above 0.35),
   or the torso is implausibly short, the box's shape decides: a box wider than :data:`LYING_ASPECT` (1.3) times
   its height is lying (standing people are 0.3 to 0.6 wide per unit height, a spread of arms or a wide stride
   stays under ~1.0, someone on the floor seen from the side is 2 to 4), one taller than wide is not.
3. A box between the two (1.0 to 1.3 wide per unit height: sitting with legs out, crouching, or someone on
   the floor seen end-on) with no usable torso gets no verdict: ``None``.

Known limit: a camera looking steeply down foreshortens standing people, so a torso can tilt in the picture
without the person tilting; the fall rule should ask for the verdict to hold for some seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from vision.messages import Box, Image
from vision.onnx_session import open_session

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "movenet-thunder.onnx"
INPUT_SIZE = 256
CROP_ENLARGE = 1.2
"""Crop side relative to the box's longer side: a detector's box often clips hands and feet."""
KEYPOINT_NAMES = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
VISIBLE_SCORE = 0.3
"""A keypoint scoring below this is treated as not seen."""
LYING_TORSO_DEGREES = 60.0
"""Torso angle from vertical above which a person counts as lying."""
LYING_ASPECT = 1.3
"""Box width / height above which a person without a usable torso counts as lying."""
UPRIGHT_ASPECT = 1.0
"""Box width / height below which a person without a usable torso counts as not lying."""
MIN_TORSO_FRACTION = 0.1
"""Shortest believable torso, as a fraction of the box's longer side; shorter means collapsed keypoints."""

_SHOULDERS = (KEYPOINT_NAMES.index("left_shoulder"), KEYPOINT_NAMES.index("right_shoulder"))
_HIPS = (KEYPOINT_NAMES.index("left_hip"), KEYPOINT_NAMES.index("right_hip"))


@dataclass(frozen=True, slots=True, eq=False)
class Keypoints:
    """The 17 COCO keypoints of one person: ``xy`` ``[17, 2]`` in frame pixels, ``scores`` ``[17]`` in 0..1.

    Order as in :data:`KEYPOINT_NAMES`. A score below :data:`VISIBLE_SCORE` means the point was not seen and
    its position is a guess.
    """

    xy: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]

    def point(self, name: str) -> tuple[float, float, float]:
        """Return ``(x, y, score)`` of the keypoint called ``name`` (e.g. ``"left_hip"``)."""
        i = KEYPOINT_NAMES.index(name)
        return (float(self.xy[i, 0]), float(self.xy[i, 1]), float(self.scores[i]))


def _visible_midpoint(keypoints: Keypoints, pair: tuple[int, int]) -> npt.NDArray[np.float32] | None:
    """Return the mean position of the confidently seen points of a left/right pair, None if neither is seen."""
    seen = [i for i in pair if keypoints.scores[i] >= VISIBLE_SCORE]
    return keypoints.xy[seen].mean(axis=0) if seen else None


def torso_angle(keypoints: Keypoints, box: Box) -> float | None:
    """Return the torso's angle from vertical in degrees (0 upright, 90 horizontal), None when not usable."""
    shoulders = _visible_midpoint(keypoints, _SHOULDERS)
    hips = _visible_midpoint(keypoints, _HIPS)
    if shoulders is None or hips is None:
        return None
    dx, dy = (hips - shoulders).tolist()
    if math.hypot(dx, dy) < MIN_TORSO_FRACTION * max(box.width, box.height, 1e-6):
        return None
    return math.degrees(math.atan2(abs(dx), abs(dy)))


def is_lying(keypoints: Keypoints, box: Box) -> bool | None:
    """Judge whether the person is lying: by the torso axis, else by the box's shape, else None.

    See the module docstring for the thresholds and the reasons for them.
    """
    angle = torso_angle(keypoints, box)
    if angle is not None:
        return angle > LYING_TORSO_DEGREES
    if box.width <= 0 or box.height <= 0:
        return None
    aspect = box.width / box.height
    if aspect > LYING_ASPECT:
        return True
    if aspect < UPRIGHT_ASPECT:
        return False
    return None


def square_crop(image: Image, box: Box, enlarge: float = CROP_ENLARGE) -> tuple[Image, int, int, int]:
    """Cut a square around ``box`` (its longer side times ``enlarge``), padding with black past the frame.

    Returns the crop and its placement in the frame: ``(crop, left, top, side)``.
    """
    cx, cy = box.center
    side = max(1, math.ceil(max(box.width, box.height) * enlarge))
    left, top = math.floor(cx - side / 2), math.floor(cy - side / 2)
    height, width = image.shape[:2]
    crop = np.zeros((side, side, 3), np.uint8)
    x0, y0 = max(0, left), max(0, top)
    x1, y1 = min(width, left + side), min(height, top + side)
    if x1 > x0 and y1 > y0:
        crop[y0 - top : y1 - top, x0 - left : x1 - left] = image[y0:y1, x0:x1]
    return crop, left, top, side


class PoseEstimator:
    """MoveNet Thunder on person crops of BGR frames."""

    def __init__(
        self, model_path: Path = DEFAULT_MODEL, *, intra_op_threads: int = 2, inter_op_threads: int = 1
    ) -> None:
        """Open the MoveNet model (the committed Thunder by default)."""
        self._session = open_session(model_path, intra_op_threads=intra_op_threads, inter_op_threads=inter_op_threads)
        self._input = self._session.get_inputs()[0].name

    def keypoints(self, image: Image, box: Box) -> Keypoints:
        """Estimate the keypoints of the person in ``box`` of a BGR frame, in that frame's pixels."""
        crop, left, top, side = square_crop(image, box)
        interpolation = cv2.INTER_AREA if side > INPUT_SIZE else cv2.INTER_LINEAR
        resized = cv2.resize(crop, (INPUT_SIZE, INPUT_SIZE), interpolation=interpolation)
        rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
        (raw,) = self._session.run(None, {self._input: rgb[None].astype(np.int32)})
        points = np.asarray(raw, np.float32).reshape(17, 3)  # (y, x, score), y/x in 0..1 of the crop
        xy = np.stack([left + points[:, 1] * side, top + points[:, 0] * side], axis=1).astype(np.float32)
        return Keypoints(xy=xy, scores=points[:, 2].copy())
