"""Generated clips streamed through a real RTSP server (GStreamer) into OpenCV's FFmpeg reader.

What OpenCV does, as these tests pin it down (5 fps, loopback):

* Opening takes about 20 frames' time (4 s at 5 fps): FFmpeg probes 20 frames to estimate the frame rate, and
  those frames are then read at once from its buffer, before reads settle to the stream's pace.
* Server stopped: the next read fails at once (the RTSP connection closes). A capture that failed stays
  failed; a new capture on the same URL works as soon as the server is back on its port.
* Server frozen (SIGSTOP, connection open, no data): a read blocks for the read timeout and then fails; that
  capture stays failed even after the server resumes, and a new capture works. A freeze shorter than the read
  timeout only delays the read, and the frames missed arrive in a burst.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from campusguard.simulate.clips import SCENES, Actor, Keyframe, Scene, render
from tests.support.rtsp import RtspServer, unavailable_reason
from tests.vision.conftest import CameraUrl
from vision.messages import Image

# Failure guards only; a healthy stream delivers a frame every 0.2 s.
OPEN_TIMEOUT_MS = 15_000
READ_TIMEOUT_MS = 3_000

# An actor crossing the whole picture during the clip, so every frame differs from every other: a frame read
# from the stream tells which frame of the clip it is.
WALKER = Scene(
    "walker",
    duration=4.0,
    actors=(Actor("astronaut", 200, (Keyframe(0, 0.1, 0.9), Keyframe(4, 0.9, 0.9))),),
)


def open_capture(url: str) -> cv2.VideoCapture:
    """Open ``url`` with OpenCV's FFmpeg backend, as the camera source does."""
    options = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS]
    capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG, options)
    assert capture.isOpened(), f"OpenCV could not open {url}"
    return capture


@pytest.fixture
def captures() -> Iterator[list[cv2.VideoCapture]]:
    """Captures a test opens, released afterwards whatever happens."""
    opened: list[cv2.VideoCapture] = []
    yield opened
    for capture in opened:
        capture.release()


def thumbnail(image: Image) -> npt.NDArray[np.float32]:
    """A small grey copy: enough to recognise a frame, blind to JPEG artefacts and sensor noise."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return np.asarray(cv2.resize(grey, (64, 48), interpolation=cv2.INTER_AREA), np.float32)


class ClipMatcher:
    """Tells which frame of a clip a decoded picture is."""

    def __init__(self, scene: Scene) -> None:
        self.thumbnails = np.stack([thumbnail(frame) for frame in render(scene)])

    def index(self, image: Image) -> int:
        """The clip frame closest to ``image``; fails when nothing in the clip looks like it."""
        assert image.shape == (480, 640, 3)
        errors = np.abs(self.thumbnails - thumbnail(image)).mean(axis=(1, 2))
        best = int(errors.argmin())
        assert errors[best] < 3.0, f"not a frame of the clip: mean error {errors[best]:.1f} grey levels"
        return best


def read_indices(capture: cv2.VideoCapture, matcher: ClipMatcher, count: int) -> list[int]:
    """Read ``count`` frames and return which clip frames they are."""
    indices = []
    for _ in range(count):
        ok, image = capture.read()
        assert ok, "read failed on a healthy stream"
        indices.append(matcher.index(np.asarray(image, np.uint8)))
    return indices


def steps(indices: list[int], length: int) -> set[int]:
    """The distinct steps between consecutive clip indices, modulo the loop."""
    return {(b - a) % length for a, b in itertools.pairwise(indices)}


def test_stream_plays_the_clip_in_order_and_loops(camera_url: CameraUrl, captures: list[cv2.VideoCapture]) -> None:
    matcher = ClipMatcher(WALKER)
    captures.append(capture := open_capture(camera_url(WALKER)))
    indices = read_indices(capture, matcher, 2 * WALKER.frame_count + 5)
    assert steps(indices, WALKER.frame_count) == {1}, indices  # every frame, in order, none twice
    assert len(set(indices)) == WALKER.frame_count  # ... and round the loop


def test_named_scene_is_served_under_its_name(camera_url: CameraUrl, captures: list[cv2.VideoCapture]) -> None:
    url = camera_url("person_enters_zone")
    assert url.endswith("/person_enters_zone")
    captures.append(capture := open_capture(url))
    read_indices(capture, ClipMatcher(SCENES["person_enters_zone"]), 3)


def test_two_clients_see_the_same_live_stream(camera_url: CameraUrl, captures: list[cv2.VideoCapture]) -> None:
    matcher = ClipMatcher(WALKER)
    url = camera_url(WALKER)
    # Open both at once (each open waits for FFmpeg's probe), then read them in turns.
    opened: list[cv2.VideoCapture] = []
    threads = [threading.Thread(target=lambda: opened.append(open_capture(url))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=OPEN_TIMEOUT_MS / 1000 + 10)
    captures.extend(opened)
    assert len(opened) == 2, "a client could not open the stream"
    first: list[int] = []
    second: list[int] = []
    for _ in range(30):
        first += read_indices(opened[0], matcher, 1)
        second += read_indices(opened[1], matcher, 1)
    for indices in (first, second):
        assert steps(indices, WALKER.frame_count) == {1}
    # Shared media: both are at the same moment of the loop, give or take a frame in flight.
    gaps = [min((a - b) % WALKER.frame_count, (b - a) % WALKER.frame_count) for a, b in zip(first, second, strict=True)]
    assert max(gaps[-10:]) <= 1, (first, second)


def test_restart_on_the_same_port(
    camera_url: CameraUrl, rtsp_server: RtspServer, captures: list[cv2.VideoCapture]
) -> None:
    matcher = ClipMatcher(WALKER)
    url = camera_url(WALKER)
    captures.append(before := open_capture(url))
    read_indices(before, matcher, 25)  # past FFmpeg's buffered probe frames: now reading live
    port = rtsp_server.port

    rtsp_server.stop()
    ok, _ = before.read()
    assert not ok, "a read succeeded from a stopped server"

    rtsp_server.start()
    assert rtsp_server.port == port
    assert rtsp_server.url(WALKER.name) == url
    captures.append(after := open_capture(url))
    assert steps(read_indices(after, matcher, 5), WALKER.frame_count) == {1}


def test_pause_stalls_reads_and_resume_brings_the_camera_back(
    camera_url: CameraUrl, rtsp_server: RtspServer, captures: list[cv2.VideoCapture]
) -> None:
    matcher = ClipMatcher(WALKER)
    url = camera_url(WALKER)
    captures.append(stalled := open_capture(url))
    read_indices(stalled, matcher, 25)  # drain the probe frames, so the next read waits for the server

    rtsp_server.pause()
    ok, _ = stalled.read()  # blocks for READ_TIMEOUT_MS: no data, but the connection is still open
    assert not ok, "a read succeeded while the server was frozen"

    rtsp_server.resume()
    captures.append(reopened := open_capture(url))
    assert steps(read_indices(reopened, matcher, 5), WALKER.frame_count) == {1}


def test_server_exits_cleanly_on_sigterm(rtsp_server: RtspServer) -> None:
    assert rtsp_server.running
    rtsp_server.stop()
    assert not rtsp_server.running
    assert rtsp_server.exit_status == 0


@pytest.mark.usefixtures("rtsp_available")
def test_a_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    server = RtspServer(tmp_path / "missing")
    with pytest.raises(RuntimeError, match="no such folder"):
        server.start()
    assert not server.running


def test_availability_is_explained() -> None:
    reason = unavailable_reason()
    assert reason is None or "python3" in reason
