"""One camera's continuous recording: an ffmpeg segment process, watched and restarted, reporting closed segments.

The recorder does no video work itself: ffmpeg copies the stream into MPEG-TS segments and writes a line per
closed segment on stdout; this thread reads the lines and hands each closed segment to ``on_segment`` (the
service indexes it). When ffmpeg exits (the camera dropped, the process was killed) it is started again after
a backoff, under a new run name, so a restart never overwrites what an earlier run wrote. A segment that was
being written when ffmpeg died is left on disk, playable up to its last packet; :func:`recover` indexes it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vision.video.ffmpeg import ffprobe_of, probe_frames, record_command
from vision.video.segments import BadListLineError, parse_list_line

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SegmentFile:
    """A closed segment on disk with the wall-clock span it covers."""

    camera_id: str
    path: Path
    start_at: datetime
    end_at: datetime
    bytes: int


def _from_duration(camera_id: str, path: Path, end_at: datetime, ffprobe: str) -> SegmentFile | None:
    """Date a segment whose start is unknown by its own length, ending at ``end_at``; None if it has no frames."""
    frames = probe_frames(ffprobe, path)
    if not frames.times:
        return None
    return SegmentFile(camera_id, path, end_at - timedelta(seconds=frames.duration), end_at, path.stat().st_size)


def _plays(path: Path, ffprobe: str) -> bool:
    """Whether ffprobe finds at least one video packet in the file."""
    try:
        return bool(probe_frames(ffprobe, path).times)
    except ValueError:
        return False


def recover(camera_id: str, folder: Path, indexed: Iterable[str], ffmpeg: str, prefix: str = "",
            ) -> list[SegmentFile]:
    """Find segments on disk the index lacks (a recorder killed mid-segment); date them by file time and length.

    Call before the camera's recorder starts, so no file found is still being written. A file with no whole
    frame is deleted: it holds nothing to play.
    """
    known = frozenset(indexed)
    found = []
    for path in sorted(folder.glob(f"{prefix}*.ts")):
        if path.name in known:
            continue
        try:
            end_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            segment = _from_duration(camera_id, path, end_at, ffprobe_of(ffmpeg)) if path.stat().st_size else None
        except (OSError, ValueError) as exc:
            log.warning("camera %s: cannot read unindexed segment %s: %s", camera_id, path.name, exc)
            segment = None
        if segment is None:
            path.unlink(missing_ok=True)
        else:
            found.append(segment)
    return found


class Recorder:
    """Records one camera on a daemon thread until :meth:`stop`."""

    def __init__(self, camera_id: str, url: str, folder: Path, on_segment: Callable[[SegmentFile], None], *,
                 segment_s: int = 10, ffmpeg: str = "ffmpeg", backoff_max_s: float = 10.0) -> None:
        """Describe the recording; nothing runs until :meth:`start`."""
        self.camera_id = camera_id
        self.url = url
        self.folder = folder
        self.on_segment = on_segment
        self.segment_s = segment_s
        self.ffmpeg = ffmpeg
        self.backoff_max_s = backoff_max_s
        self.failures = 0
        """Segment lines or files that could not be handled (logged; recording goes on)."""
        self.runs = 0
        """How many ffmpeg processes were started."""
        self._listed: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._thread = threading.Thread(target=self._run, name=f"record-{camera_id}", daemon=True)

    @property
    def pid(self) -> int | None:
        """The running ffmpeg's process id, if one runs."""
        with self._lock:
            return self._process.pid if self._process is not None and self._process.poll() is None else None

    def start(self) -> Recorder:
        """Start recording."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop ffmpeg (SIGTERM lets it close the open segment; SIGKILL if it lingers) and the thread."""
        self._stop.set()
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        """Run ffmpeg again and again, with a growing pause while it keeps failing fast."""
        pause = 0.5
        while not self._stop.is_set():
            began = time.monotonic()
            self._record_once()
            if self._stop.is_set():
                break
            # A run that lasted is a camera that dropped once: retry soon. Runs dying at once back off.
            pause = 0.5 if time.monotonic() - began > 30 else min(pause * 2, self.backoff_max_s)
            self._stop.wait(pause)

    def _record_once(self) -> None:
        """Run one ffmpeg until it exits, handing on each segment it closes."""
        run = f"{int(time.time() * 1000)}"  # new name per run: a restart never reuses a file name
        command = record_command(self.ffmpeg, self.url, self.folder, run, self.segment_s)
        with self._lock:
            if self._stop.is_set():
                return
            try:
                self._process = subprocess.Popen(  # noqa: S603  # our fixed ffmpeg arguments
                    command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                    env=os.environ | {"TZ": "UTC"}, start_new_session=True)
            except OSError as exc:  # no ffmpeg, no room for a process: retried after the backoff
                self.failures += 1
                log.error("camera %s: cannot start %s: %s", self.camera_id, self.ffmpeg, exc)
                return
            self.runs += 1
        process = self._process
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                if line.strip():
                    self._closed(line)
        process.wait()
        log.info("camera %s: recorder exited with status %s", self.camera_id, process.returncode)
        # The segment open when ffmpeg died (a kill, a crash) was never listed; it plays up to its last packet.
        listed = self._listed
        for segment in recover(self.camera_id, self.folder, listed, self.ffmpeg, prefix=f"{run}-"):
            self._hand_on(segment)

    def _hand_on(self, segment: SegmentFile) -> None:
        """Give a closed segment to ``on_segment``, once."""
        self._listed.add(segment.path.name)
        self.on_segment(segment)

    def _closed(self, line: str) -> None:
        """Hand on one closed segment; a bad line or file is logged and counted, never fatal."""
        try:
            listed = parse_list_line(line)
            path = self.folder / listed.name
            if path.stat().st_size == 0:  # ffmpeg told to stop lists the segment it then fails to write
                path.unlink()
                return
            if listed.start_at is None:
                segment = _from_duration(self.camera_id, path, listed.end_at, ffprobe_of(self.ffmpeg))
                if segment is None:
                    path.unlink(missing_ok=True)
                    return
            else:
                segment = SegmentFile(self.camera_id, path, listed.start_at, listed.end_at, path.stat().st_size)
                # The segment ffmpeg closes when told to stop may hold a header and no whole frame (seen on a
                # loaded machine); only that one is probed, every other closed segment was cut at a keyframe.
                if self._stop.is_set() and not _plays(path, ffprobe_of(self.ffmpeg)):
                    path.unlink(missing_ok=True)
                    return
            self._hand_on(segment)
        except (BadListLineError, OSError, ValueError) as exc:
            self.failures += 1
            log.warning("camera %s: segment not indexed: %s", self.camera_id, exc)
