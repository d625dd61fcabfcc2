"""Video: CPU per recorded camera with stream copy against re-encoding it, and cameras recorded per core.

One H.264 RTSP camera (devtools/rtsp_h264_server.py: GStreamer's moving test picture, OpenH264, a keyframe a
second, run by Debian's python3) is recorded for a while by the product's own recorder command
(:func:`vision.video.ffmpeg.record_command`: segment muxer, ``-c copy``), then by the same command re-encoding
with libx264 (``-preset veryfast``), the baseline a recorder that transcodes would pay. The CPU is the ffmpeg
process's own (user + system, from ``wait4``), per second it ran, so the camera server's cost is left out.
Then one live-view upstream (:func:`vision.video.ffmpeg.live_command`, what every viewer of a camera shares)
is measured the same way. Last, live view in Chromium (bench/video_latency.py): glass-to-glass latency p50/p99
from the clock burnt into each frame, and the relay's CPU with one viewer and with five of the same camera.

Full run: 1920x1080 at 25 fps and 4 Mbit/s for 30 s each, a campus camera's main stream; ``--short`` (make test's):
320x240 at 10 fps for 4 s (2 s in Chromium); ``--busy``: 1080p noise filling 4 Mbit/s (at the few frames a second
the test camera can encode). Run: ``.venv/bin/python -m bench.video``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench import report, video_latency
from bench.report import Figure
from vision.video.ffmpeg import live_command, probe_frames, record_command
from vision.video.live import LiveRelay, is_random_access

SERVER = Path(__file__).resolve().parents[1] / "devtools" / "rtsp_h264_server.py"


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big and how long the camera is."""

    size: str
    fps: int
    seconds: float
    bitrate: int
    pattern: str = "ball"
    """ball: a moving ball, cheap to encode, so the camera keeps its frame rate but sends little; snow: noise
    that fills the bitrate like a busy scene, but OpenH264 manages about 2 fps of it at 1080p on two cores."""


FULL = Sizes("1920x1080", 25, 30.0, 4_000_000)  # a campus camera's main stream (the ball: far less than 4 Mbit/s)
BUSY = Sizes("1920x1080", 25, 10.0, 4_000_000, "snow")  # --busy: the bitrate of a busy scene, at a low frame rate
SHORT = Sizes("320x240", 10, 4.0, 128_000)


def cpu_per_second(command: list[str], seconds: float) -> float:
    """Run ``command`` for ``seconds`` and return its CPU seconds per second of running."""
    began = time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    process.terminate()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
    return (usage.ru_utime + usage.ru_stime) / (time.monotonic() - began)


async def _first_keyframe(relay: LiveRelay, url: str) -> float:
    """Seconds from asking the relay for the camera to holding a keyframe's first packet."""
    began = time.monotonic()
    async with relay.watch("cam", url) as queue:
        while (chunk := await queue.get()) is not None:
            if any(is_random_access(chunk[i: i + 188]) for i in range(0, len(chunk), 188)):
                return time.monotonic() - began
    raise RuntimeError("the live stream ended before a keyframe")


async def _live_start(url: str, trials: int) -> tuple[float, float]:
    """Median seconds to a first keyframe for a first viewer (upstream started) and a joining one (running)."""
    relay = LiveRelay()
    cold = [await _first_keyframe(relay, url) for _ in range(trials)]  # each alone: the upstream starts each time
    warm = []
    async with relay.watch("cam", url) as holder:
        await holder.get()
        for _ in range(trials):
            warm.append(await _first_keyframe(relay, url))
            while not holder.empty():
                holder.get_nowait()
    return statistics.median(cold), statistics.median(warm)


def _camera(root: Path, sizes: Sizes) -> tuple[subprocess.Popen[str], str]:
    """Start the H.264 camera server; return it and the camera's URL."""
    (root / "cam").mkdir(parents=True)
    server = subprocess.Popen(  # our own script, fixed arguments
        ["/usr/bin/python3", str(SERVER), "--root", str(root), "--port", "0", "--fps", str(sizes.fps),
         "--size", sizes.size, "--bitrate", str(sizes.bitrate), "--pattern", sizes.pattern],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.startswith("READY "):
        server.kill()
        server.wait()
        server.stdout.close()
        raise RuntimeError("the H.264 camera server did not start (python3-gi, gstreamer1.0-plugins-bad?)")
    return server, line.split()[1] + "cam"


def _free_port() -> int:
    """Return a TCP port free right now on the loopback address (the relay binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(short: bool = False, sizes: Sizes | None = None) -> list[Figure]:
    """Measure and return the figures (``short``: make test's sizes; ``sizes``: these instead)."""
    sizes = sizes or (SHORT if short else FULL)
    with tempfile.TemporaryDirectory(prefix="cg-bench-video-") as tmp:
        root = Path(tmp)
        server, url = _camera(root / "cameras", sizes)
        try:
            copy_dir, encode_dir = root / "copy", root / "encode"
            copy_dir.mkdir()
            encode_dir.mkdir()
            copy = record_command("ffmpeg", url, copy_dir, "bench", 10)
            encode = record_command("ffmpeg", url, encode_dir, "bench", 10)
            at = encode.index("copy")
            encode[at - 1: at + 1] = ["-c:v", "libx264", "-preset", "veryfast", "-g", str(sizes.fps)]
            copying = cpu_per_second(copy, sizes.seconds)
            # What the camera server delivered (its encoder may not keep up at 1080p on a busy machine).
            frames = sum(len(probe_frames("ffprobe", p).times) for p in copy_dir.glob("*.ts") if p.stat().st_size)
            fps = frames / sizes.seconds
            mbits = sum(p.stat().st_size for p in copy_dir.glob("*.ts")) * 8 / sizes.seconds / 1e6
            encoding = cpu_per_second(encode, sizes.seconds)
            live = cpu_per_second(live_command("ffmpeg", url), sizes.seconds)
            # On a thread of its own: a caller may already run an event loop (pytest with Playwright's).
            with ThreadPoolExecutor(1) as pool:
                cold, warm = pool.submit(asyncio.run, _live_start(url, 3 if short else 9)).result()
                # Playwright's sync API refuses a thread that runs an event loop (pytest's may): a thread of its own.
                # The short form watches its whole 4 s: CPU is read in clock ticks, too coarse for 2 s of one viewer.
                window = sizes.seconds if short else sizes.seconds / 2
                p50, p99, one, five, _frames = pool.submit(video_latency.measure, url, window, _free_port()).result()
        finally:
            server.terminate()
            server.wait()
            if server.stdout is not None:
                server.stdout.close()
    # Per mille of a core reads as whole numbers where a per cent would round to 0 or 1.
    return [
        Figure(f"CPU per recorded {sizes.size} camera ({fps:.0f} fps, {mbits:.1f} Mbit/s received), stream copy",
               copying * 1000,
               "‰ of a core",
               "re-encoding (libx264 veryfast)", encoding * 1000),
        Figure("cameras recorded per core, stream copy", 1 / max(copying, 1e-6), "cameras",
               "re-encoding", 1 / max(encoding, 1e-6)),
        Figure("CPU per live-view upstream (shared by its viewers)", live * 1000, "‰ of a core",
               "re-encoding a recording", encoding * 1000),
        Figure("live view, a viewer joining a watched camera: first keyframe after, median", warm * 1000, "ms",
               "the first viewer (upstream starts)", cold * 1000),
        Figure("live view in Chromium, glass-to-glass latency (burnt-in clock to display), p50", p50, "ms",
               "p99", p99),
        # In µs of CPU per second (a millionth of a core): an added viewer costs too little for per mille.
        # max(): on a shared machine the difference of two noisy CPU rates can come out at or below zero.
        Figure("CPU per added live viewer of a watched camera (1 -> 5 viewers, one shared upstream)",
               max((five - one) / 4, 1e-6) * 1e6, "µs of CPU per s", "the first viewer, upstream included",
               one * 1e6),
    ]


if __name__ == "__main__":
    if "--busy" in sys.argv:
        for figure in run(sizes=BUSY):
            print(figure.line())
    else:
        report.main(run, __doc__, sys.argv[1:])
