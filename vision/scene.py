"""A camera's learned scene: fixed things the detector keeps taking for people, masked until a person says not.

A traffic cone, a sign post, an information board or a boulder can each score as a "person" in most frames of a
real camera, for as long as the camera looks at them. What tells them from a person is that they never move:
a track that has stood exactly still (its box within ``still_shift`` box diagonals and ``still_resize`` of its
size) from its very first sighting for ``learn_s`` is learned as part of the scene. From then on a detection of
one of ``labels`` whose box overlaps a learned object's (IoU at least ``mask_iou``) is dropped before the
tracker, whatever label the detector gives it this time (the same boulder is a sheep, a bird and a person on
different frames). A person who walks up and stops was never still from their first sighting, so they are
never learned, however long they stand; only someone already still when the camera started, and still for
``learn_s``, can be (longer than every rule's hold, so they have raised what they would first).

Learned objects are persisted by the worker (``store/vision_repo.py``) so they survive a restart, listed on
the operations page and un-learned there; :meth:`SceneLearner.replace` takes the stored set back in. The
decisions (:func:`still`, :func:`masks`) are pure; the learner only remembers each live track's first box.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from vision.config import SceneParams
from vision.messages import Box, Detection, TrackedObject

NormBox = tuple[float, float, float, float]
"""A box in normalised 0..1 image coordinates: left, top, right, bottom."""


@dataclass(frozen=True, slots=True)
class SceneObject:
    """A fixed thing learned as part of one camera's scene; ``id`` is the store's, None until stored."""

    camera_id: str
    label: str
    box: NormBox
    learned_at: datetime
    id: int | None = None

    def pixels(self, width: int, height: int) -> Box:
        """Return the box in the pixels of a ``width`` x ``height`` frame."""
        x1, y1, x2, y2 = self.box
        return Box(x1 * width, y1 * height, x2 * width, y2 * height)


@dataclass(frozen=True, slots=True)
class _Anchor:
    """A live track's first box and when it was first seen; ``moved`` once it ever left that box."""

    box: Box
    since: datetime
    moved: bool = False


def still(first: Box, box: Box, params: SceneParams) -> bool:
    """Tell whether ``box`` is where ``first`` was: centre shift and size change within the learner's limits."""
    diagonal = max(math.hypot(first.width, first.height), 1.0)
    (fx, fy), (x, y) = first.center, box.center
    resize = abs(math.log(max(math.hypot(box.width, box.height), 1.0) / diagonal))
    return math.hypot(x - fx, y - fy) <= params.still_shift * diagonal and resize <= params.still_resize


def masks(objects: Sequence[SceneObject], detection: Detection, width: int, height: int,
          params: SceneParams) -> bool:
    """Tell whether a detection is one of the learned objects (only for labels that should move)."""
    return detection.label in params.labels and any(
        detection.box.iou(obj.pixels(width, height)) >= params.mask_iou for obj in objects)


class SceneLearner:
    """One camera's learned objects and the first boxes of its live tracks; one camera, one thread."""

    def __init__(self, camera_id: str, params: SceneParams, objects: Iterable[SceneObject] = ()) -> None:
        self.camera_id = camera_id
        self.params = params
        self._stored = tuple(objects)
        self._pending: tuple[SceneObject, ...] = ()
        self._anchors: dict[int, _Anchor] = {}

    @property
    def objects(self) -> tuple[SceneObject, ...]:
        """Every object masked now: the stored ones and those learned here and not yet seen stored."""
        return self._stored + self._pending

    def replace(self, stored: Iterable[SceneObject]) -> None:
        """Take the store's current set (an un-learned object is no longer in it, so it is unmasked)."""
        self._stored = tuple(stored)
        self._pending = tuple(p for p in self._pending if not any(
            s.label == p.label and _norm_iou(s.box, p.box) >= 0.9 for s in self._stored))

    def mask(self, detections: Sequence[Detection], width: int, height: int) -> list[Detection]:
        """Return the detections that are not learned scene."""
        objects = self.objects
        if not objects:
            return list(detections)
        return [d for d in detections if not masks(objects, d, width, height, self.params)]

    def observe(self, tracks: Iterable[TrackedObject], now: datetime, width: int,
                height: int) -> tuple[SceneObject, ...]:
        """Feed one detector call's tracks; return the objects learned by it (to be stored)."""
        if not self.params.learn:
            return ()
        anchors: dict[int, _Anchor] = {}
        learned = []
        for obj in tracks:
            anchor = self._anchors.get(obj.track_id)
            if obj.label not in self.params.labels:
                continue
            if anchor is None:
                anchors[obj.track_id] = _Anchor(obj.box, now)
                continue
            if obj.seen is not None and obj.seen != now:
                anchors[obj.track_id] = anchor  # not detected this call: its box is the tracker's guess
                continue
            if not anchor.moved and not still(anchor.box, obj.box, self.params):
                anchor = _Anchor(anchor.box, anchor.since, moved=True)
            if not anchor.moved and (now - anchor.since).total_seconds() >= self.params.learn_s:
                box = obj.box
                learned.append(SceneObject(self.camera_id, obj.label, (
                    max(box.x1 / width, 0.0), max(box.y1 / height, 0.0),
                    min(box.x2 / width, 1.0), min(box.y2 / height, 1.0)), now))
                continue  # learned: masked from the next frame on, so the track ends
            anchors[obj.track_id] = anchor
        self._anchors = anchors
        self._pending += tuple(learned)
        return tuple(learned)


def _norm_iou(a: NormBox, b: NormBox) -> float:
    return Box(*a).iou(Box(*b))
