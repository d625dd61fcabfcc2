"""Scrubbing a camera's recording: its recorded spans on a day's timeline, and playing from any moment of them.

A player asks to play from a moment; :func:`cut_playback` cuts the recording from the last keyframe at or
before it, ``span`` long, into an MP4 with its index in front (the clip cutter's own stream copy, so the picture
is what the camera sent), which a ``<video>`` plays and seeks with HTTP Range. Cuts are kept under
``<root>/playback/`` for an hour, then :func:`forget_old` deletes them (they are copies, never evidence: clips
are).
"""

from __future__ import annotations

import dataclasses
import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from vision.video.clips import Clip, Recorded, cut

GAP = timedelta(seconds=3)
"""Segments closer than this are one span: a cut at a keyframe leaves a frame's gap, a restart seconds."""
KEEP_S = 3600.0
"""How long a playback cut stays on disk after it was made."""
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}-\d{10,16}-\d{1,4}\.mp4$")
"""A playback file's name: ``<camera>-<epoch ms>-<seconds>.mp4``; anything else is not one of ours."""


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of time recorded without a break."""

    start_at: datetime
    end_at: datetime


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


def playback_name(camera_id: str, at: datetime, span_s: int) -> str:
    """Name the file a cut of ``camera_id`` from ``at`` lasting ``span_s`` seconds is kept in."""
    return f"{camera_id}-{round(at.timestamp() * 1000)}-{span_s}.mp4"


def cut_playback(ffmpeg: str, root: Path, camera_id: str, segments: Sequence[Recorded], at: datetime,
                 span_s: int) -> Clip:
    """Cut (or reuse) the recording from the keyframe at or before ``at``; raise ClipError when none covers it."""
    out = root / "playback" / playback_name(camera_id, at, span_s)
    forget_old(root / "playback", time.time())
    # Cut beside, then rename: a player still reading an earlier cut of the same name keeps its file (inode).
    part = out.with_name(f".{out.stem}.{os.getpid()}.{threading.get_ident()}.mp4")
    try:
        made = cut(ffmpeg, segments, at, at + timedelta(seconds=span_s), part)
        part.replace(out)
    finally:
        part.unlink(missing_ok=True)
    return dataclasses.replace(made, path=out)


def forget_old(folder: Path, now: float, keep_s: float = KEEP_S) -> int:
    """Delete playback cuts older than ``keep_s``; return how many went (a vanished file is already gone)."""
    gone = 0
    for path in folder.glob("*.mp4") if folder.is_dir() else ():
        try:
            if now - path.stat().st_mtime > keep_s:
                path.unlink()
                gone += 1
        except FileNotFoundError:
            continue
    return gone
