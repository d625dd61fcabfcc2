"""The motion gate: decide per frame whether the detector needs to look at all.

Most camera-seconds on a campus show an empty corridor; running a neural detector on them costs CPU and buys
nothing. The gate compares a small grey copy of each frame with the previous one and reports the regions that
changed (frame differencing: a person who stops is no longer "motion" one frame later, where a running
background average would keep reporting them for seconds while it learns them). :func:`should_detect` then
decides:

- motion **outside** every tracked object (someone new, or something the tracker does not know), or at a
  person not yet confirmed (``vision/evidence.py``): detect now;
- motion only **where tracked objects are** (the people already followed are walking): detect every
  ``moving_refresh_s``, enough for the tracker to follow a walking person;
- no motion: detect every ``track_refresh_s`` while a person or an animal is tracked, so a still person
  (someone lying on the floor, a loiterer) keeps their track and the rules' timers keep running, and every
  ``full_check_s`` when not, for whatever appeared without moving enough to be noticed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import cv2
import numpy as np
import numpy.typing as npt

from vision.messages import Box, Image

GATE_WIDTH = 160
"""Width of the grey copy the gate works on; motion of a person is obvious at this size and costs ~nothing."""


_KERNEL = np.ones((3, 3), np.uint8)


@dataclass(frozen=True, slots=True)
class GateParams:
    """Tuning of the motion gate."""

    threshold: int = 18
    """Grey-level difference (0..255) that counts as changed; above sensor noise and JPEG artefacts."""
    min_area_fraction: float = 0.002
    """Smallest changed region, as a fraction of the frame, that counts as motion (a person far away is ~0.5 %)."""
    full_check_s: float = 3.0
    """Longest time without a detection when nothing is tracked."""
    track_refresh_s: float = 1.0
    """Longest time without a detection while something is tracked."""
    moving_refresh_s: float = 0.15
    """Longest time without a detection while only tracked objects move: short, because between detector calls
    the rules see only predicted boxes and a new person's evidence (``vision/evidence.py``) accrues only per call;
    the gate's saving is on the still scene, which is most of a campus camera's day."""
    track_margin: float = 0.5
    """A changed region belongs to a tracked object when its centre is in the object's box grown by this share."""


@dataclass(frozen=True, slots=True)
class Motion:
    """What the gate saw in one frame: changed regions in frame pixels and the changed fraction of the frame."""

    regions: tuple[Box, ...]
    fraction: float


class MotionGate:
    """The previous frame of one camera; feed it every frame in order."""

    def __init__(self, params: GateParams | None = None) -> None:
        self.params = params or GateParams()
        self._previous: npt.NDArray[np.uint8] | None = None

    def observe(self, image: Image) -> Motion:
        """Compare a frame with the previous one."""
        height, width = image.shape[:2]
        scale = GATE_WIDTH / width
        small = cv2.resize(image, (GATE_WIDTH, max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        previous, self._previous = self._previous, grey  # type: ignore[assignment]
        if previous is None or previous.shape != grey.shape:
            # Nothing to compare the first frame with; the periodic check covers it.
            return Motion((), 0.0)
        diff = cv2.absdiff(grey, previous)
        _, mask = cv2.threshold(diff, self.params.threshold, 255, cv2.THRESH_BINARY)
        mask = cv2.dilate(mask, _KERNEL, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        min_area = self.params.min_area_fraction * mask.size
        regions = []
        for contour in contours:
            if cv2.contourArea(contour) < min_area:
                continue
            x, y, w, h = cv2.boundingRect(contour)
            regions.append(Box(x / scale, y / scale, (x + w) / scale, (y + h) / scale))
        return Motion(tuple(regions), float(np.count_nonzero(mask)) / mask.size)


def should_detect(motion: Motion, now: datetime, last_detection: datetime | None, tracked: Sequence[Box],
                  params: GateParams, watched: bool | None = None, unconfirmed: Sequence[Box] = ()) -> bool:
    """Decide whether this frame goes to the detector (pure; see the module docstring).

    ``watched`` tells whether anything tracked is followed by a rule over time (a person, an animal: None takes
    any tracked thing as one); only then does a still scene need ``track_refresh_s`` (a parked car does not).
    Motion at an ``unconfirmed`` box (a newcomer whose evidence is still being gathered) is detected at once, as
    motion of something untracked is: until confirmed the rules do not count them, so every call counts.
    """
    if last_detection is None or any(not _belongs(region, tracked, params.track_margin)
                                     or _belongs(region, unconfirmed, 0.0) for region in motion.regions):
        return True
    still = params.track_refresh_s if (bool(tracked) if watched is None else watched) else params.full_check_s
    limit = params.moving_refresh_s if motion.regions else still
    return now - last_detection >= timedelta(seconds=limit)


def _belongs(region: Box, tracked: Sequence[Box], margin: float) -> bool:
    x, y = region.center
    return any(b.x1 - margin * b.width <= x <= b.x2 + margin * b.width
               and b.y1 - margin * b.height <= y <= b.y2 + margin * b.height for b in tracked)
