"""Cut a clip around a finding from recorded segments: stream copy, starting at a keyframe, hashed.

Each segment is probed for its packets' times and key flags; a packet's wall-clock time is its segment's start
plus its offset from the segment's first packet. The clip starts at the last keyframe at or before the window's
start (nothing earlier than a keyframe can be decoded without re-encoding) and ends with the last frame before
the window's end. The result is MP4 with its index in front (``+faststart``), which a browser's <video> plays
and seeks with HTTP Range requests.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from vision.video.ffmpeg import ffprobe_of, probe_frames

_QUIET = ["-nostdin", "-hide_banner", "-loglevel", "error"]


@dataclass(frozen=True, slots=True)
class Recorded:
    """A segment on disk and when its first packet arrived."""

    path: Path
    start_at: datetime


@dataclass(frozen=True, slots=True)
class Clip:
    """A clip written to disk: the wall-clock span of its first and last frame, its size and SHA-256."""

    path: Path
    start_at: datetime
    end_at: datetime
    bytes: int
    sha256: str


class ClipError(Exception):
    """No clip could be cut (no recording covers the window, or ffmpeg failed)."""


def sha256_of(path: Path) -> str:
    """Return the file's SHA-256 in hex, read in chunks (clips may be tens of megabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _quote(path: Path) -> str:
    """Quote a path for a concat list line."""
    return "'" + str(path).replace("'", "'\\''") + "'"


def cut(ffmpeg: str, segments: Sequence[Recorded], start: datetime, end: datetime, out: Path) -> Clip:
    """Write the clip covering [start, end] from ``segments`` (oldest first) to ``out`` and describe it."""
    ffprobe = ffprobe_of(ffmpeg)
    lines: list[str] = []
    first_at: datetime | None = None
    last_at: datetime | None = None
    for segment in segments:
        frames = probe_frames(ffprobe, segment.path)
        if not frames.times:
            continue
        origin = frames.times[0]
        walls = [segment.start_at + timedelta(seconds=t - origin) for t in frames.times]
        chosen = [i for i, at in enumerate(walls) if at < end]
        if first_at is None:
            keys = [i for i in chosen if frames.keyframes[i] and walls[i] <= start]
            keys = keys or [i for i in chosen if frames.keyframes[i]]
            if not keys:
                continue
            chosen = [i for i in chosen if i >= keys[-1]]
        if not chosen:
            break
        first, last = chosen[0], chosen[-1]
        lines.append(f"file {_quote(segment.path)}")
        lines.append(f"inpoint {frames.times[first]:.6f}")
        if last + 1 < len(frames.times):
            lines.append(f"outpoint {frames.times[last + 1]:.6f}")
        first_at = first_at or walls[first]
        last_at = walls[last]
    if first_at is None or last_at is None:
        raise ClipError("no recording covers the clip's window")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=out.parent) as listing:
        listing.write("ffconcat version 1.0\n" + "\n".join(lines) + "\n")
        listing.flush()
        result = subprocess.run(  # noqa: S603  # our fixed ffmpeg arguments and files
            [ffmpeg, *_QUIET, "-y", "-f", "concat", "-safe", "0", "-i", listing.name, "-map", "0:v:0", "-c", "copy",
             "-movflags", "+faststart", "-f", "mp4", str(out)],
            capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        out.unlink(missing_ok=True)
        raise ClipError(f"ffmpeg could not cut the clip: {result.stderr.strip() or result.returncode}")
    return Clip(out, first_at, last_at, out.stat().st_size, sha256_of(out))
