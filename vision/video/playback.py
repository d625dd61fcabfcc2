"""Scrubbing a camera's recording: its recorded spans on a day's timeline, and playing it from any moment.

A player asks to play from a moment; :func:`cut_playback` cuts the recording from the last keyframe at or
before it, ``span`` long, into an MP4 with its index in front (the clip cutter's own stream copy, so the picture
is what the camera sent), which a ``<video>`` plays and seeks with HTTP Range.

Cuts are copies, never evidence (clips are), and they cost: ffmpeg time and disk on the video volume. So:

- each camera's cuts live in their own folder, ``<root>/playback/<camera>/``, named ``<start ms>-<end ms>.mp4``
  after the keyframe they really begin at and their last frame; a file is only ever served from the folder of
  the camera the caller was scoped for, and only under a name of that exact shape;
- a moment whose keyframe already has a cut holding everything recorded of the window reuses that file;
- :class:`PlaybackGate` runs at most :data:`CUTS_AT_ONCE` cuts in the process and lets a person start at most
  :data:`PER_PERSON` playbacks a :data:`WINDOW_S` (and one at a time);
- :func:`trim` deletes cuts older than :data:`KEEP_S` and, past :data:`CAP_BYTES`, the least recently used;
  the video process's sweep trims too, and counts the cuts' bytes as free space, so a cut never makes it
  evict a recording (:mod:`vision.video.service`).
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vision.video.clips import ClipError, Recorded, cut
from vision.video.ffmpeg import ffprobe_of, probe_frames

GAP = timedelta(seconds=3)
"""Segments closer than this are one span: a cut at a keyframe leaves a frame's gap, a restart seconds."""
KEEP_S = 3600.0
"""How long a playback cut stays on disk after it was last asked for."""
CAP_BYTES = 2_000_000_000
"""Most bytes all cameras' playback cuts may take together; past it the least recently used go first."""
CUTS_AT_ONCE = 2
"""ffmpeg cuts running at once in a process: each reads and writes up to 600 s of video."""
WAIT_S = 5.0
"""How long a request waits for a free cutting slot before it is told to come back (503)."""
PER_PERSON, WINDOW_S = 20, 60.0
"""A person may start this many playbacks in this many seconds (a scrubbing person clicks a few a minute)."""
CAMERA = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$")
"""A camera id that is safe as a folder name (no separator, not ``.`` or ``..``); others have no playback."""
NAME = re.compile(r"^(\d{10,16})-(\d{10,16})\.mp4$")
"""A playback file's name: ``<first frame, epoch ms>-<last frame, epoch ms>.mp4``; nothing else is served."""


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of time recorded without a break."""

    start_at: datetime
    end_at: datetime


@dataclass(frozen=True, slots=True)
class Cut:
    """A playback cut on disk: its first and last frame, and whether an earlier request had already made it."""

    path: Path
    start_at: datetime
    end_at: datetime
    reused: bool


class PlaybackLimitError(Exception):
    """The person has started too many playbacks lately, or has one in hand; ``retry_after`` in seconds."""

    def __init__(self, retry_after: float) -> None:
        """Say how long until the person may ask again."""
        super().__init__(f"too many playbacks; ask again in {math.ceil(retry_after)} s")
        self.retry_after = max(1, math.ceil(retry_after))


class PlaybackBusyError(PlaybackLimitError):
    """Every cutting slot of the process stayed busy for :data:`WAIT_S`."""


class PlaybackTimeoutError(Exception):
    """ffprobe or ffmpeg ran past its time limit (a stuck disk, a huge window)."""


def merge_spans(segments: Sequence[tuple[datetime, datetime]], gap: timedelta = GAP) -> list[Span]:
    """Join segments (start, end), in any order, into the spans recorded without a break longer than ``gap``."""
    spans: list[Span] = []
    for start, end in sorted(segments):
        if spans and start - spans[-1].end_at <= gap:
            if end > spans[-1].end_at:
                spans[-1] = Span(spans[-1].start_at, end)
        else:
            spans.append(Span(start, end))
    return spans


def _ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _touch(path: Path) -> bool:
    """Mark a cut recently used (the size cap evicts it last); False when a trim took it meanwhile."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True


def camera_folder(root: Path, camera_id: str) -> Path | None:
    """Return the folder of the camera's cuts under ``root``; None for an id unsafe as a folder name."""
    return root / "playback" / camera_id if CAMERA.match(camera_id) else None


def cut_file(root: Path, camera_id: str, name: str) -> Path | None:
    """Return the camera's cut called ``name`` when it exists; None for any other name or camera's file.

    The folder comes from the camera (already scoped by the caller) and the name must be a cut's name, so no
    name can reach another camera's folder, a part being written, or anything outside ``playback/``.
    """
    folder = camera_folder(root, camera_id)
    if folder is None or not NAME.match(name):
        return None
    path = folder / name
    return path if path.is_file() else None


def keyframe_at(ffprobe: str, segments: Sequence[Recorded], at: datetime, end: datetime) -> datetime | None:
    """Return when the keyframe a cut of [at, end] begins at was recorded (the clip cutter's own choice).

    The last keyframe at or before ``at`` in the first segment that has frames before ``end``, else that
    segment's first keyframe; None when no segment has one. Probing one segment is cheap beside a cut.
    """
    for segment in segments:
        frames = probe_frames(ffprobe, segment.path)
        if not frames.times:
            continue
        walls = [segment.start_at + timedelta(seconds=t - frames.times[0]) for t in frames.times]
        chosen = [i for i, wall in enumerate(walls) if wall < end and frames.keyframes[i]]
        keys = [i for i in chosen if walls[i] <= at] or chosen
        if keys:
            return walls[keys[-1]]
    return None


def find_cut(folder: Path, start_at: datetime, until: datetime) -> Cut | None:
    """Return the camera's cut from the keyframe ``start_at`` that reaches ``until`` (within :data:`GAP`)."""
    best: tuple[int, Path] | None = None
    for path in folder.glob(f"{_ms(start_at)}-*.mp4") if folder.is_dir() else ():
        found = NAME.match(path.name)
        if found and int(found[2]) >= _ms(until - GAP) and (best is None or int(found[2]) > best[0]):
            best = int(found[2]), path
    return Cut(best[1], start_at, _at(best[0]), reused=True) if best else None


def cut_playback(ffmpeg: str, root: Path, camera_id: str, segments: Sequence[Recorded], at: datetime,
                 span_s: int, recorded_until: datetime, gate: PlaybackGate) -> Cut:
    """Reuse or cut the recording from the keyframe at or before ``at``; ClipError when nothing covers it.

    ``recorded_until`` is the end of the last segment indexed in the window: a cut made while the window was
    still being recorded is not reused once more of it is. Raises PlaybackBusyError when no cutting slot came
    free in time and PlaybackTimeoutError when ffprobe or ffmpeg ran past its limit.
    """
    folder = camera_folder(root, camera_id)
    if folder is None:
        raise ClipError(f"camera id {camera_id!r} cannot name a playback folder")
    end = at + timedelta(seconds=span_s)
    try:
        start_at = keyframe_at(ffprobe_of(ffmpeg), segments, at, end)
        if start_at is None:
            raise ClipError("no recording covers the moment")
        until = min(end, recorded_until)
        if (found := find_cut(folder, start_at, until)) and _touch(found.path):
            return found
        with gate.slot():
            if found := find_cut(folder, start_at, until):  # made by a request that held the slot before us
                return found
            # Cut beside, then rename: a cut appears whole or not at all, and a reader of an older one keeps it.
            part = folder / f".{uuid.uuid4().hex}.part"
            try:
                made = cut(ffmpeg, segments, at, end, part)
                out = folder / f"{_ms(made.start_at)}-{_ms(made.end_at)}.mp4"
                part.replace(out)
            finally:
                part.unlink(missing_ok=True)
    except subprocess.TimeoutExpired as exc:
        raise PlaybackTimeoutError(f"{Path(str(exc.cmd[0])).name} ran past {exc.timeout} s") from None
    except ValueError as exc:  # ffprobe could not read a segment (cut short by a crash, a disk error)
        raise ClipError(str(exc)) from exc
    trim(root / "playback", time.time())
    return Cut(out, made.start_at, made.end_at, reused=False)


def trim(folder: Path, now: float, keep_s: float = KEEP_S, cap_bytes: int = CAP_BYTES) -> int:
    """Delete cuts (and stale parts) older than ``keep_s``, then the oldest while all exceed ``cap_bytes``.

    Age is the file's modification time, which a reuse renews. Returns how many files went; a file that
    vanished meanwhile (another process trimming) is already gone.
    """
    kept: list[tuple[float, int, Path]] = []
    gone = 0
    for path in folder.glob("*/*") if folder.is_dir() else ():
        try:
            stat = path.stat()
            if now - stat.st_mtime > keep_s:
                path.unlink()
                gone += 1
            elif NAME.match(path.name):
                kept.append((stat.st_mtime, stat.st_size, path))
        except FileNotFoundError:
            continue
    total = sum(size for _, size, _ in kept)
    for _, size, path in sorted(kept):
        if total <= cap_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size
        gone += 1
    return gone


def playback_bytes(folder: Path) -> int:
    """Bytes the cuts (and parts) under ``folder`` take: space the sweep may count as free, since trim frees it."""
    total = 0
    for path in folder.glob("*/*") if folder.is_dir() else ():
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            continue
    return total


class PlaybackGate:
    """Bounds playback work: cuts running at once in the process, and playbacks each person starts.

    In-process state: the web process is one process (uvicorn without workers), and a limit that forgot a
    person across a restart loses nothing worth a table.
    """

    def __init__(self, at_once: int = CUTS_AT_ONCE, per_person: int = PER_PERSON, window_s: float = WINDOW_S,
                 wait_s: float = WAIT_S, clock: Callable[[], float] = time.monotonic) -> None:
        """Make a gate; ``clock`` gives monotonic seconds."""
        self._slots = threading.BoundedSemaphore(at_once)
        self._per_person, self._window_s, self._wait_s, self._clock = per_person, window_s, wait_s, clock
        self._lock = threading.Lock()
        self._asked: dict[str, deque[float]] = {}
        self._busy: set[str] = set()

    @contextmanager
    def person(self, person: str) -> Iterator[None]:
        """Admit one playback of ``person`` for the block; PlaybackLimitError when over their share."""
        with self._lock:
            now = self._clock()
            asked = self._asked.setdefault(person, deque())
            while asked and asked[0] <= now - self._window_s:
                asked.popleft()
            if person in self._busy:  # a second click while the first is cutting: that one is still coming
                raise PlaybackLimitError(1)
            if len(asked) >= self._per_person:
                raise PlaybackLimitError(asked[0] + self._window_s - now if asked else self._window_s)
            asked.append(now)
            self._busy.add(person)
        try:
            yield
        finally:
            with self._lock:
                self._busy.discard(person)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the process's cutting slots for the block; PlaybackBusyError when none frees in time."""
        if not self._slots.acquire(timeout=self._wait_s):
            raise PlaybackBusyError(self._wait_s)
        try:
            yield
        finally:
            self._slots.release()
