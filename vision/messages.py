"""The typed, frozen messages that flow between the vision stages.

capture → :class:`Frame` → motion gate → detector → :class:`Detection` → tracker → :class:`TrackedObject`
→ zone rules (given an :class:`Observation`) → :class:`VisionEvent`. Pixel boxes are in the coordinates of the
frame the camera delivered (after any downscale the capture stage applied), so a box can be drawn on the
snapshot of that frame; zone rules work in normalised 0..1 image coordinates, the same as the site file's zones.
Times are UTC and timezone-aware: the wall-clock time the frame was decoded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
"""A BGR picture, height x width x 3, as OpenCV decodes it."""


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in pixels: left, top, right, bottom."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        """Width in pixels."""
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        """Height in pixels."""
        return self.y2 - self.y1

    @property
    def center(self) -> tuple[float, float]:
        """Centre point (x, y)."""
        return ((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2)

    @property
    def foot(self) -> tuple[float, float]:
        """Bottom centre (x, y): where a standing person touches the floor, the point zones are judged by."""
        return ((self.x1 + self.x2) / 2, self.y2)

    def iou(self, other: Box) -> float:
        """Intersection over union with another box (0 when they do not overlap)."""
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded picture from a camera."""

    camera_id: str
    index: int
    time: datetime
    image: Image = field(compare=False, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return (int(self.image.shape[1]), int(self.image.shape[0]))


@dataclass(frozen=True, slots=True)
class Detection:
    """An object a detector found in one frame: a COCO (or the model's own) label, a 0..1 score and its box."""

    label: str
    score: float
    box: Box


@dataclass(frozen=True, slots=True)
class TrackedObject:
    """A detection followed across frames under a stable id.

    ``lying`` is the pose stage's verdict for a person (None when no pose was judged for this frame); ``since``
    is when the tracker first confirmed the object; ``seen`` when a detection last matched it (None: unknown,
    taken as now), which tells a person in the picture from a track the tracker keeps alive after they left.
    """

    track_id: int
    label: str
    score: float
    box: Box
    since: datetime
    lying: bool | None = None
    seen: datetime | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """What the zone rules see of one processed frame: the tracked objects and the frame's size."""

    camera_id: str
    time: datetime
    width: int
    height: int
    objects: tuple[TrackedObject, ...]


VisionEventKind = Literal[
    "intrusion",
    "crowding",
    "loitering",
    "person_down",
    "knife_outside_kitchen",
    "phone_in_kitchen",
    "animal_in_kitchen",
    "camera_offline",
    "camera_online",
]
"""Event kinds; all but the camera health ones are also the alert rules' kinds (alerts/default_rules.yaml)."""


@dataclass(frozen=True, slots=True)
class VisionEvent:
    """A zone rule's (or the capture stage's) finding, ready to be stored as a device event of the camera.

    ``boxes`` are the pixel boxes that caused it (drawn on the snapshot); ``detail`` is JSON-ready and becomes
    the stored event's detail (zone name, count, dwell seconds, after_hours, ...).
    """

    camera_id: str
    kind: VisionEventKind
    time: datetime
    zone: str | None = None
    boxes: tuple[Box, ...] = ()
    detail: Mapping[str, object] = field(default_factory=dict)
