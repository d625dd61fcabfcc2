"""Tracking: give each detected object a stable id across frames, with norfair.

Zone rules are about *someone* (this person has stood at the gate for two minutes), not about boxes in
single frames, so detections are tracked. norfair (a maintained multi-object tracker) matches detections to
its Kalman-filtered tracks by how far the box centre moved relative to the box's size (IoU would lose a
walking person between detector calls a fraction of a second apart: at 1 m/s their box moves most of its
width); a track is confirmed after ``initialization_delay`` matched detections (one stray
frame is not a person) and survives ``hit_counter_max`` detector calls without a match (NanoDet drops a lying
person now and then; the track, and the rule's timer, must not reset because of it).

The tracker is updated only on frames the motion gate sent to the detector. Between detector calls
:meth:`ObjectTracker.predict` moves each track along the velocity its last two updates showed (for at most
``max_predict_s``), so a walking person's box keeps up with them on the frames in between: that is what the
map and the gate's "is this motion someone we already follow?" test see. The zone rules see only the
detected frames. Labels never mix: norfair only matches a
detection to a track with the same label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import numpy.typing as npt
from norfair.distances import VectorizedDistance
from norfair.tracker import Detection as NorfairDetection
from norfair.tracker import Tracker

from vision.messages import Box, Detection, TrackedObject


@dataclass(frozen=True, slots=True)
class TrackParams:
    """Tuning of the tracker."""

    max_distance: float = 0.8
    """Largest centre shift, in box diagonals (plus a size-change penalty), that still continues a track."""
    hit_counter_max: int = 6
    """Detector calls a track survives unmatched."""
    initialization_delay: int = 1
    """Matched detections beyond the first before a track is confirmed and reported."""
    max_predict_s: float = 2.0
    """Longest time a track is moved along its velocity without a new detection."""
    velocity_smoothing: float = 0.8
    """Weight of the newest velocity measurement against the previous estimate (detections jitter)."""


@dataclass(frozen=True, slots=True)
class _Seen:
    """What the last matched detection of a track said, kept beside norfair's own state."""

    score: float
    lying: bool | None
    at: datetime


def centre_distances(candidates: npt.NDArray[np.float64], tracks: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Give the distance of each detection from each track, both as rows ``[x1, y1, x2, y2]``.

    The distance is the centre shift in track-box diagonals plus the log of the size change, so a box twice the
    size is as far as one a whole diagonal away.
    """
    def centre_and_diagonal(boxes: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], ...]:
        return ((boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2,
                np.maximum(np.hypot(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]), 1.0))

    cx, cy, cd = centre_and_diagonal(candidates)
    tx, ty, td = centre_and_diagonal(tracks)
    shift = np.hypot(cx[:, None] - tx[None, :], cy[:, None] - ty[None, :])
    result: npt.NDArray[np.float64] = shift / td[None, :] + np.abs(np.log(cd[:, None] / td[None, :]))
    return result


class ObjectTracker:
    """The tracks of one camera; feed it the detections of each detector call in order."""

    def __init__(self, params: TrackParams | None = None) -> None:
        self.params = params or TrackParams()
        self._tracker = Tracker(distance_function="iou", distance_threshold=self.params.max_distance,
                                hit_counter_max=self.params.hit_counter_max,
                                initialization_delay=self.params.initialization_delay)
        # norfair takes only names or scalar functions in its constructor; a vectorised distance of our own is
        # set on the attribute it then uses (one numpy call per label instead of a Python call per pair).
        self._tracker.distance_function = VectorizedDistance(centre_distances)  # type: ignore[assignment]
        self._since: dict[int, datetime] = {}
        # Per track: time of the last update, box centre then, and velocity in pixels per second.
        self._motion: dict[int, tuple[datetime, float, float, float, float]] = {}
        self._last: tuple[TrackedObject, ...] = ()
        self._last_at: datetime | None = None

    def update(self, detections: list[Detection], at: datetime,
               lying: list[bool | None] | None = None) -> tuple[TrackedObject, ...]:
        """Match one detector call's detections to tracks and return the confirmed tracks.

        ``lying`` (same order as ``detections``) is the pose verdict for each person; an object that was not
        matched in this call reports ``lying=None`` (nothing new is known about its pose).
        """
        verdicts = lying if lying is not None else [None] * len(detections)
        found = [NorfairDetection(np.array([[d.box.x1, d.box.y1], [d.box.x2, d.box.y2]], dtype=np.float64),
                                  label=d.label, data=_Seen(d.score, v, at))
                 for d, v in zip(detections, verdicts, strict=True)]
        tracked = self._tracker.update(detections=found)
        alive = {obj.id for obj in self._tracker.tracked_objects if obj.id is not None}
        # Forget the first-seen time of tracks norfair has dropped, so this map stays as small as the tracks.
        self._since = {k: v for k, v in self._since.items() if k in alive}
        self._motion = {k: v for k, v in self._motion.items() if k in alive}
        out = []
        for obj in tracked:
            if obj.id is None:
                continue
            since = self._since.setdefault(obj.id, at)
            seen: _Seen = obj.last_detection.data
            matched_now = any(obj.last_detection is d for d in found)
            # Where it was just seen, when it was; the Kalman estimate (which lags a person who sets off) otherwise.
            points = obj.last_detection.points if matched_now else obj.estimate
            (x1, y1), (x2, y2) = np.asarray(points, dtype=np.float64).tolist()
            box = Box(x1, y1, x2, y2)
            self._follow(int(obj.id), box, at)
            out.append(TrackedObject(int(obj.id), str(obj.label), seen.score, box, since,
                                     seen.lying if matched_now else None, seen.at))
        self._last, self._last_at = tuple(out), at
        return self._last

    def predict(self, at: datetime, width: float = math.inf) -> tuple[TrackedObject, ...]:
        """Return the last update's tracks moved along their velocities to ``at`` (at most ``max_predict_s``).

        A track whose predicted box has left the picture sideways (``width`` wide) is not returned: it walked out.
        """
        if self._last_at is None:
            return self._last
        elapsed = min(max((at - self._last_at).total_seconds(), 0.0), self.params.max_predict_s)
        moved = []
        for obj in self._last:
            _, _, _, vx, vy = self._motion.get(obj.track_id, (at, 0.0, 0.0, 0.0, 0.0))
            dx, dy = vx * elapsed, vy * elapsed
            box = obj.box
            if box.x2 + dx < 0 or box.x1 + dx > width:
                continue
            moved.append(replace(obj, box=Box(box.x1 + dx, box.y1 + dy, box.x2 + dx, box.y2 + dy), lying=None))
        return tuple(moved)

    def _follow(self, track_id: int, box: Box, at: datetime) -> None:
        cx, cy = box.center
        previous = self._motion.get(track_id)
        vx = vy = 0.0
        if previous is not None:
            then, px, py, pvx, pvy = previous
            dt = (at - then).total_seconds()
            if dt > 0:
                a = self.params.velocity_smoothing
                vx, vy = a * (cx - px) / dt + (1 - a) * pvx, a * (cy - py) / dt + (1 - a) * pvy
            else:
                vx, vy = pvx, pvy
        self._motion[track_id] = (at, cx, cy, vx, vy)
