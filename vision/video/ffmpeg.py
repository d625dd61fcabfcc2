"""ffmpeg command lines and ffprobe probes for video, all stream copy.

We run the ffmpeg program (Debian's package, scripts/bootstrap.sh) rather than binding libav through PyAV:
a recorder is then a separate process the operating system schedules, that a crash or a SIGKILL takes down
alone and that the service restarts, and the segment muxer already does what recording needs (cutting at
keyframes on the clock, MPEG-TS that stays playable when cut short, a list of closed segments). The cost is a
process per recorded camera and per watched camera, measured in bench/video.py.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

_QUIET = ["-nostdin", "-hide_banner", "-loglevel", "error"]


def ffprobe_of(ffmpeg: str) -> str:
    """Return the ffprobe that comes with ``ffmpeg`` (beside it when ``ffmpeg`` is a path)."""
    return str(Path(ffmpeg).with_name("ffprobe")) if "/" in ffmpeg else "ffprobe"


def _input(url: str) -> list[str]:
    """Input options for a camera: RTSP over TCP (no lost UDP packets tearing keyframes), or a file."""
    options = ["-rtsp_transport", "tcp"] if url.startswith(("rtsp://", "rtsps://")) else ["-re"]
    return [*options, "-i", url]


def record_command(ffmpeg: str, url: str, folder: Path, run: str, segment_s: int) -> list[str]:
    """Return the command that records ``url`` into MPEG-TS segments ``folder/<run>-NNNNNN.ts``.

    Arrival wall-clock times become the timestamps (``-use_wallclock_as_timestamps 1 -copyts``), so the segment
    list written on stdout says when each closed segment began and ended in UNIX seconds. Segments are cut at
    the first keyframe after each multiple of ``segment_s`` on the clock, and their own timestamps restart at
    zero. MPEG-TS needs no trailer: a segment cut short by a kill plays up to its last whole packet, and every
    packet is written through at once (``flush_packets``), so a kill loses no more than the packet in hand
    (without it a low-rate camera's whole segment can sit in ffmpeg's 32 KiB buffer and die with it).
    """
    return [ffmpeg, *_QUIET, "-use_wallclock_as_timestamps", "1", *_input(url), "-map", "0:v:0", "-c", "copy",
            "-copyts", "-f", "segment", "-segment_time", str(segment_s), "-segment_atclocktime", "1",
            "-segment_format", "mpegts", "-segment_format_options", "flush_packets=1", "-reset_timestamps", "1",
            "-segment_list", "pipe:1", "-segment_list_type", "csv", str(folder / f"{run}-%06d.ts")]


def live_command(ffmpeg: str, url: str) -> list[str]:
    """Return the command that remuxes a camera to MPEG-TS on stdout for live viewers, stream copy.

    No stream analysis and no buffering: stream copy needs no decoded parameters (the player reads SPS/PPS from
    the stream), and ffmpeg's analysis cost the first picture about 3 s (bench/video.py: 4.4 s to the first
    keyframe with a 0.5 s analysis, 1.3 s without, for a camera with a keyframe a second).
    """
    return [ffmpeg, *_QUIET, "-fflags", "nobuffer", "-probesize", "32", "-analyzeduration", "0",
            *_input(url), "-map", "0:v:0", "-c", "copy", "-f", "mpegts", "-flush_packets", "1", "pipe:1"]


def first_picture(ffmpeg: str, path: Path, width: int = 160, height: int = 120,
                  timeout_s: float = 30.0) -> npt.NDArray[np.uint8] | None:
    """Decode a file's first picture (a segment's keyframe) small and gray, for the tamper check; None if none."""
    result = subprocess.run(  # noqa: S603  # fixed program, our own file
        [ffmpeg, *_QUIET, "-i", str(path), "-frames:v", "1", "-vf", f"scale={width}:{height}", "-pix_fmt", "gray",
         "-f", "rawvideo", "pipe:1"], capture_output=True, timeout=timeout_s, check=False)
    if result.returncode != 0 or len(result.stdout) != width * height:
        return None
    return np.frombuffer(result.stdout, dtype=np.uint8).reshape(height, width)


@dataclass(frozen=True, slots=True)
class Frames:
    """The frames of a file: presentation times in seconds and which are keyframes."""

    times: tuple[float, ...]
    keyframes: tuple[bool, ...]

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the end of the last (the last lasts as long as the one before)."""
        if len(self.times) < 2:
            return 0.0
        return self.times[-1] - self.times[0] + (self.times[-1] - self.times[-2])


def probe_frames(ffprobe: str, path: Path, timeout_s: float = 30.0) -> Frames:
    """Read every video packet's time and key flag (packets, not decoded frames: no decoding needed)."""
    result = subprocess.run(  # noqa: S603  # fixed program, our own file
        [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags",
         "-of", "json", str(path)], capture_output=True, text=True, timeout=timeout_s, check=False)
    if result.returncode != 0:
        raise ValueError(f"ffprobe cannot read {path.name}: {result.stderr.strip() or result.returncode}")
    packets = [p for p in json.loads(result.stdout or "{}").get("packets", []) if "pts_time" in p]
    packets.sort(key=lambda p: float(p["pts_time"]))
    return Frames(tuple(float(p["pts_time"]) for p in packets), tuple("K" in p.get("flags", "") for p in packets))
