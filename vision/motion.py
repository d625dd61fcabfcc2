"""The motion gate: decide per frame whether the detector needs to look at all.

Most camera-seconds on a campus show an empty corridor; running a neural detector on them costs CPU and buys
nothing. The gate keeps a running-average background of a small grey copy of the frame and reports the
regions that differ from it. :func:`should_detect` then opens the gate when there is motion, and also
periodically without motion, because a person who stops moving (someone lying on the floor, a loiterer) is
still there and must keep being seen:

- ``full_check_s`` after the last detection when nothing is being tracked (something that appeared without
  the gate noticing, e.g. in the first frames before the background settled);
- ``track_refresh_s`` after the last detection while tracks are alive, so still people keep their tracks and
  the rules' timers (loitering, a fallen person) keep running.

The background adapts with ``learning_rate`` per processed frame, so a parked car or a moved chair stops
counting as motion after a few seconds rather than keeping the detector busy forever.
"""

from __future__ import annotations

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
    learning_rate: float = 0.05
    """How fast the background absorbs a change, per processed frame."""
    full_check_s: float = 2.0
    """Longest time without a detection when nothing is tracked."""
    track_refresh_s: float = 1.0
    """Longest time without a detection while something is tracked."""


@dataclass(frozen=True, slots=True)
class Motion:
    """What the gate saw in one frame: changed regions in frame pixels and the changed fraction of the frame."""

    regions: tuple[Box, ...]
    fraction: float


class MotionGate:
    """Background model of one camera; feed it every frame in order."""

    def __init__(self, params: GateParams | None = None) -> None:
        self.params = params or GateParams()
        self._background: npt.NDArray[np.float32] | None = None

    def observe(self, image: Image) -> Motion:
        """Compare a frame with the background, then fold it into the background."""
        height, width = image.shape[:2]
        scale = GATE_WIDTH / width
        small = cv2.resize(image, (GATE_WIDTH, max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        if self._background is None or self._background.shape != grey.shape:
            self._background = grey.astype(np.float32)
            # The first frame is the background: nothing to compare with yet, which the periodic check covers.
            return Motion((), 0.0)
        diff = cv2.absdiff(grey, cv2.convertScaleAbs(self._background))
        cv2.accumulateWeighted(grey, self._background, self.params.learning_rate)
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


def should_detect(motion: Motion, now: datetime, last_detection: datetime | None, tracking: bool,
                  params: GateParams) -> bool:
    """Decide whether this frame goes to the detector (pure; see the module docstring)."""
    if motion.regions or last_detection is None:
        return True
    idle = now - last_detection
    limit = params.track_refresh_s if tracking else params.full_check_s
    return idle >= timedelta(seconds=limit)
