"""Tracking: give each detected object a stable id across frames, with norfair.

Zone rules are about *someone* (this person has stood at the gate for two minutes), not about boxes in
single frames, so detections are tracked. norfair (a maintained multi-object tracker) matches by box IoU with
a Kalman filter per object; a track is confirmed after ``initialization_delay`` matched detections (one stray
frame is not a person) and survives ``hit_counter_max`` detector calls without a match (NanoDet drops a lying
person now and then; the track, and the rule's timer, must not reset because of it).

The tracker is updated only on frames the motion gate sent to the detector; between them the rules see the
previous tracks, which is what the gate's periodic refresh is for. Labels never mix: norfair only matches a
detection to a track with the same label.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from norfair.tracker import Detection as NorfairDetection
from norfair.tracker import Tracker

from vision.messages import Box, Detection, TrackedObject


@dataclass(frozen=True, slots=True)
class TrackParams:
    """Tuning of the tracker."""

    max_distance: float = 0.8
    """Largest 1 - IoU at which a detection still continues a track (IoU ≥ 0.2: people at 1 Hz refresh move)."""
    hit_counter_max: int = 6
    """Detector calls a track survives unmatched."""
    initialization_delay: int = 1
    """Matched detections beyond the first before a track is confirmed and reported."""


@dataclass(frozen=True, slots=True)
class _Seen:
    """What the last matched detection of a track said, kept beside norfair's own state."""

    score: float
    lying: bool | None


class ObjectTracker:
    """The tracks of one camera; feed it the detections of each detector call in order."""

    def __init__(self, params: TrackParams | None = None) -> None:
        self.params = params or TrackParams()
        self._tracker = Tracker(distance_function="iou", distance_threshold=self.params.max_distance,
                                hit_counter_max=self.params.hit_counter_max,
                                initialization_delay=self.params.initialization_delay)
        self._since: dict[int, datetime] = {}

    @property
    def active(self) -> bool:
        """Whether any track (confirmed or not) is alive, which keeps the motion gate refreshing."""
        return bool(self._tracker.tracked_objects)

    def update(self, detections: list[Detection], at: datetime,
               lying: list[bool | None] | None = None) -> tuple[TrackedObject, ...]:
        """Match one detector call's detections to tracks and return the confirmed tracks.

        ``lying`` (same order as ``detections``) is the pose verdict for each person; an object that was not
        matched in this call reports ``lying=None`` (nothing new is known about its pose).
        """
        verdicts = lying if lying is not None else [None] * len(detections)
        found = [NorfairDetection(np.array([[d.box.x1, d.box.y1], [d.box.x2, d.box.y2]], dtype=np.float64),
                                  label=d.label, data=_Seen(d.score, v))
                 for d, v in zip(detections, verdicts, strict=True)]
        tracked = self._tracker.update(detections=found)
        alive = {obj.id for obj in self._tracker.tracked_objects if obj.id is not None}
        # Forget the first-seen time of tracks norfair has dropped, so this map stays as small as the tracks.
        self._since = {k: v for k, v in self._since.items() if k in alive}
        out = []
        for obj in tracked:
            if obj.id is None:
                continue
            since = self._since.setdefault(obj.id, at)
            seen: _Seen = obj.last_detection.data
            matched_now = any(obj.last_detection is d for d in found)
            (x1, y1), (x2, y2) = obj.estimate
            out.append(TrackedObject(int(obj.id), str(obj.label), seen.score,
                                     Box(float(x1), float(y1), float(x2), float(y2)), since,
                                     seen.lying if matched_now else None))
        return tuple(out)
