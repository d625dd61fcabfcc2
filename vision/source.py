"""Camera sources: decode a stream on its own thread and hand out only the newest frame.

OpenCV's FFmpeg backend reads ``rtsp://``/``rtsps://`` streams and video files. Each camera decodes on its own
thread into a one-frame slot: when the detector falls behind, older frames are overwritten (and counted as
dropped) rather than queued, so the pipeline always works on the present and its memory never grows.

A stream that fails to open or stops delivering (a read times out after ``read_timeout_s``: the camera froze,
the network dropped, the server died) is released and reopened with exponential backoff and jitter from
tenacity, for as long as the source runs. Whether the camera counts as online is judged by the pipeline from
the time of the last frame (:func:`judge_health`), so a read that hangs longer than expected still ends in a
``camera_offline`` event.

Files (a path, or ``file://``) are replayed at their own frame rate and looped, which is how tests and the
benchmark feed recorded clips through the same code as a live camera.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import cv2
from tenacity import Retrying, retry_if_exception_type, stop_never, wait_exponential, wait_random

from vision.messages import Frame, Image

log = logging.getLogger(__name__)

Health = Literal["unknown", "online", "offline"]


class StreamError(Exception):
    """A stream could not be opened or stopped delivering frames."""


@dataclass(frozen=True, slots=True)
class SourceParams:
    """How a camera is read."""

    max_width: int = 640
    """Frames wider than this are downscaled on the capture thread: detection runs at 416 px anyway."""
    open_timeout_s: float = 5.0
    """How long opening a stream may take."""
    read_timeout_s: float = 5.0
    """How long one frame may take before the stream counts as stalled and is reopened."""
    backoff_max_s: float = 10.0
    """Longest wait between reconnect attempts."""
    loop_files: bool = True
    """Replay a file from the start when it ends."""


def is_file(url: str) -> bool:
    """Whether a camera URL names a file to replay rather than a network stream."""
    return "://" not in url or url.startswith("file://")


class CameraSource:
    """Reads one camera on a daemon thread; :meth:`next_frame` hands out the newest frame."""

    def __init__(self, camera_id: str, url: str, params: SourceParams | None = None) -> None:
        self.camera_id = camera_id
        self.url = url.removeprefix("file://")
        self.params = params or SourceParams()
        self._slot: Frame | None = None
        self._index = 0
        self._decoded = 0
        self._dropped = 0
        self._reconnects = 0
        self._last_frame_at: datetime | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"camera-{camera_id}", daemon=True)

    def start(self) -> CameraSource:
        """Start decoding."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop decoding and wait for the thread (at most one read timeout)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=self.params.read_timeout_s + self.params.open_timeout_s + 1)

    @property
    def last_frame_at(self) -> datetime | None:
        """When the newest frame was decoded."""
        return self._last_frame_at

    def next_frame(self, timeout_s: float) -> Frame | None:
        """Take the newest frame not taken yet, waiting up to ``timeout_s``; None if none came."""
        with self._cond:
            if self._slot is None:
                self._cond.wait(timeout_s)
            frame, self._slot = self._slot, None
            return frame

    def _run(self) -> None:
        retry = Retrying(retry=retry_if_exception_type(StreamError), stop=stop_never, reraise=True,
                         wait=wait_exponential(multiplier=0.5, max=self.params.backoff_max_s) + wait_random(0, 0.5),
                         before_sleep=lambda state: log.warning("camera %s: %s; reconnecting", self.camera_id,
                                                                state.outcome.exception() if state.outcome else "?"))
        try:
            for attempt in retry:
                with attempt:
                    if self._stop.is_set():
                        return
                    self._read_stream()
        except StreamError:  # pragma: no cover - stop_never only ends through stop()
            pass

    def _open(self) -> cv2.VideoCapture:
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.params.open_timeout_s * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.params.read_timeout_s * 1000)]
        capture = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
        if not capture.isOpened():
            capture.release()
            raise StreamError(f"cannot open {self.url}")
        return capture

    def _read_stream(self) -> None:
        capture = self._open()
        replay = is_file(self.url)
        period = 1.0 / (capture.get(cv2.CAP_PROP_FPS) or 5.0) if replay else 0.0
        next_due = time.monotonic()
        try:
            while not self._stop.is_set():
                ok, image = capture.read()
                if not ok:
                    if replay and self.params.loop_files and self._decoded:
                        capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                        continue
                    raise StreamError(f"{self.url} stopped delivering frames")
                if replay:  # a file plays at its own rate, like the camera it was recorded from
                    next_due += period
                    self._stop.wait(max(0.0, next_due - time.monotonic()))
                self._publish(self._downscale(image))  # type: ignore[arg-type]  # read() gives uint8 BGR
        finally:
            capture.release()
            if not self._stop.is_set():
                self._reconnects += 1

    def _downscale(self, image: Image) -> Image:
        width = image.shape[1]
        if width <= self.params.max_width:
            return image
        scale = self.params.max_width / width
        size = (self.params.max_width, round(image.shape[0] * scale))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)  # type: ignore[return-value]

    def _publish(self, image: Image) -> None:
        now = datetime.now(UTC)
        with self._cond:
            if self._slot is not None:
                self._dropped += 1
            self._index += 1
            self._decoded += 1
            self._slot = Frame(self.camera_id, self._index, now, image)
            self._last_frame_at = now
            self._cond.notify_all()


def judge_health(previous: Health, last_frame_at: datetime | None, started_at: datetime, now: datetime,
                 stall_s: float) -> tuple[Health, Literal["camera_offline", "camera_online"] | None]:
    """Decide a camera's health from when its last frame came (pure); returns the new state and any edge.

    Online while a frame came within ``stall_s``. Offline once ``stall_s`` passed without one, counted from
    the last frame or, for a camera that never delivered, from the start. Only changes are events, and a
    camera's first frame is not an "online" event (nothing was reported missing).
    """
    reference = last_frame_at or started_at
    fresh = last_frame_at is not None and now - last_frame_at < timedelta(seconds=stall_s)
    if fresh:
        return "online", ("camera_online" if previous == "offline" else None)
    if now - reference >= timedelta(seconds=stall_s):
        return "offline", (None if previous == "offline" else "camera_offline")
    return previous, None
