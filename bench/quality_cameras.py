"""The cameras of the alert-quality bench: a vision worker replaying scene clips, and what each scene raised.

``bench/alert_quality.py`` points a few cameras of the district at clips whose truth is known
(``campusguard/simulate/camera_scenes.py``) and runs ``campusguard vision`` on them as its own process. The
worker's file source plays a clip from the moment it opens it, so that moment dates the scene's truth:
:class:`CameraWatch` reads it off the worker's open files (``/proc/<pid>/fd``, polled every 50 ms) and stops the
worker once every clip has played once, before a looped clip could show its scene a second time.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import psycopg

from campusguard.simulate.camera_scenes import CameraScene, camera_truth
from campusguard.simulate.truth import Truth

log = logging.getLogger(__name__)
POLL_S = 0.05
OPEN_TIMEOUT_S = 180.0
"""How long the worker may take to load its models and open every clip (a loaded 2-core machine is slow)."""
TAIL_S = 1.0
"""The worker is stopped this long after the last clip's end."""


@dataclass(frozen=True, slots=True)
class Finding:
    """A vision event a camera stored: its kind and time (the frame's)."""

    kind: str
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class CameraOutcome:
    """One scene camera: when its clip began, what really happened in it, and what the vision stage found."""

    scene: CameraScene
    opened: dt.datetime | None
    """When the worker opened the clip; None when it never did (its truth is then dated from the bench's wait)."""
    truth: tuple[Truth, ...]
    findings: tuple[Finding, ...]

    def unexplained(self, slack: dt.timedelta, grace: dt.timedelta, type_of: Callable[[str], str]
                    ) -> tuple[Finding, ...]:
        """Return the findings no situation of the scene accounts for (by type, in its span and the margins)."""
        return tuple(f for f in self.findings if not any(
            type_of(f.kind) == t.type and t.start - slack <= f.time <= (t.end or t.start) + grace for t in self.truth))


def clip_seconds(path: Path) -> float:
    """Return how long a video file plays, from its frame count and rate."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        frames, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS)
    finally:
        capture.release()
    if not frames or not fps:
        raise ValueError(f"cannot tell how long {path} plays")
    return float(frames / fps)


class CameraWatch(threading.Thread):
    """Notes when the vision worker ``pid`` opens each clip, then calls ``stop_worker`` once all have played."""

    def __init__(self, pid: int, files: Mapping[str, Path], stop_worker: Callable[[], None]) -> None:
        super().__init__(name="camera-watch", daemon=True)
        self._pid = pid
        self._by_path = {str(path.resolve()): camera for camera, path in files.items()}
        self._lengths = {camera: clip_seconds(path) for camera, path in files.items()}
        self._stop_worker = stop_worker
        self._cancel = threading.Event()
        self.opened: dict[str, dt.datetime] = {}
        self.gave_up_at: dt.datetime | None = None

    def cancel(self) -> None:
        """Stop waiting (the run failed); the worker is stopped at once."""
        self._cancel.set()

    def run(self) -> None:
        """Watch the opens, wait for the clips to end, stop the worker."""
        deadline = time.monotonic() + OPEN_TIMEOUT_S
        while len(self.opened) < len(self._by_path) and time.monotonic() < deadline and not self._cancel.is_set():
            now = dt.datetime.now(dt.UTC)
            for camera in self._open_now():
                self.opened.setdefault(camera, now)
            self._cancel.wait(POLL_S)
        if len(self.opened) < len(self._by_path):
            self.gave_up_at = dt.datetime.now(dt.UTC)
            log.warning("the vision worker did not open %s", sorted(set(self._lengths) - set(self.opened)))
        else:
            log.info("the vision worker opened its %d clips", len(self.opened))
        ends = [self.opened.get(c, self.gave_up_at or dt.datetime.now(dt.UTC)) + dt.timedelta(seconds=s)
                for c, s in self._lengths.items()]
        self._cancel.wait(max(0.0, (max(ends) - dt.datetime.now(dt.UTC)).total_seconds() + TAIL_S))
        self._stop_worker()
        log.info("the vision worker stopped: every clip played once")

    def _open_now(self) -> list[str]:
        found: list[str] = []
        try:
            entries = list(Path(f"/proc/{self._pid}/fd").iterdir())
        except OSError:  # the worker is gone (or not yet started)
            return found
        for entry in entries:
            try:
                target = str(entry.readlink())
            except OSError:
                continue
            if target in self._by_path:
                found.append(self._by_path[target])
        return found


def outcomes(url: str, scenes: Sequence[CameraScene], watch: CameraWatch) -> tuple[CameraOutcome, ...]:
    """Date each scene's truth from its clip's opening and read what its camera stored."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT device_id, kind, time FROM device_events WHERE device_id = ANY(%s) ORDER BY time",
                            ([s.camera_id for s in scenes],)).fetchall()
    found: dict[str, list[Finding]] = {}
    for camera, kind, at in rows:
        found.setdefault(str(camera), []).append(Finding(str(kind), at))
    fallback = watch.gave_up_at or dt.datetime.now(dt.UTC)
    return tuple(CameraOutcome(s, watch.opened.get(s.camera_id),
                               tuple(camera_truth(s, watch.opened.get(s.camera_id, fallback))),
                               tuple(found.get(s.camera_id, ()))) for s in scenes)
