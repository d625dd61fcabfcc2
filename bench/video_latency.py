"""Live view as a person sees it: glass-to-glass latency in Chromium, and the server's CPU per added viewer.

The camera is the demo's (campusguard/simulate/rtsp_h264.py): every frame carries the wall-clock time it was
made, as blocks :data:`campusguard.simulate.rtsp_h264.DECODE_JS` reads back from the <video>. A relay process of
its own (``serve`` below: the product's :class:`vision.video.live.LiveRelay` behind a websocket, one upstream
shared by every viewer, the path the web app runs, without its sign-in) feeds Debian's Chromium, playing with
mpegts.js configured as js/video-player.js configures it. For each frame Chromium presents
(``requestVideoFrameCallback``), latency is the time it is shown minus the time burnt into it: camera encoding,
RTSP, the relay's ffmpeg, the websocket, demuxing, decoding and display, all of it. Camera and browser share
this machine's clock.

CPU per viewer: the relay process and its ffmpeg (from /proc, user + system) per second, with one viewer and
then with five viewers of the same camera; an added viewer costs the difference over four.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from campusguard.simulate.rtsp_h264 import DECODE_JS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                 "--autoplay-policy=no-user-gesture-required"]
MPEGTS = Path(__file__).resolve().parents[1] / "tools" / "ui" / "node_modules" / "mpegts.js" / "dist"
PAGE = """<!doctype html><meta charset="utf-8"><title>glass to glass</title><body>
<script src="/vendor/mpegts.js"></script>
<script>
window.lags = [];
const decode = %s;
const video = document.createElement('video');
video.muted = true; video.autoplay = true; video.playsInline = true;
document.body.append(video);
// The same player settings as js/video-player.js's liveVideo.
const player = mpegts.createPlayer({ type: 'mpegts', isLive: true, url: `ws://${location.host}/live` },
  { enableWorker: false, lazyLoad: false, liveBufferLatencyChasing: true, autoCleanupSourceBuffer: true });
player.attachMediaElement(video);
player.load();
video.play().catch(() => {});
const onFrame = (_now, meta) => {
  const made = decode(video);
  if (made !== null && window.measuring) {
    window.lags.push(performance.timeOrigin + meta.expectedDisplayTime - made);
  }
  video.requestVideoFrameCallback(onFrame);
};
video.requestVideoFrameCallback(onFrame);
</script>"""


def serve(port: int, url: str) -> None:
    """Run the relay's web process: the page, mpegts.js, and ``/live``, the camera relayed over a websocket."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, HTMLResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket

    from vision.video.live import LiveRelay

    relay = LiveRelay()

    async def page(_request: object) -> HTMLResponse:
        return HTMLResponse(PAGE % DECODE_JS)

    async def player(_request: object) -> FileResponse:
        return FileResponse(MPEGTS / "mpegts.js")

    async def live(websocket: WebSocket) -> None:
        await websocket.accept()
        with contextlib.suppress(Exception):  # a viewer leaving mid-send ends its own view only
            async with relay.watch("cam", url) as queue:
                while (chunk := await queue.get()) is not None:
                    await websocket.send_bytes(chunk)

    app = Starlette(routes=[Route("/", page), Route("/vendor/mpegts.js", player), WebSocketRoute("/live", live)])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.05)
        sys.stdout.write("READY\n")  # the parent waits for this line
        sys.stdout.flush()
        await task

    asyncio.run(main())


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live children (the relay's ffmpeg), from /proc.

    Children are looked for under every thread of the process, not only its first: a child started from another
    thread is listed under that thread, and its CPU (most of a relay's) was missed, so the first viewer's cost
    read 0 now and then in the short form.
    """
    total = 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                pids += [int(p) for p in (task / "children").read_text().split()]
    for one in dict.fromkeys(pids):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _watch(page: Page, base: str) -> None:
    page.goto(base)
    page.wait_for_function("() => document.querySelector('video').currentTime > 0.5", timeout=30_000)


def measure(url: str, seconds: float, port: int) -> tuple[float, float, float, float, int]:
    """Return (latency p50 ms, p99 ms, relay CPU per second with one viewer, with five, frames measured)."""
    relay = subprocess.Popen([sys.executable, "-m", "bench.video_latency", "serve", str(port), url],
                             stdout=subprocess.PIPE, text=True)
    assert relay.stdout is not None
    try:
        if not relay.stdout.readline().startswith("READY"):
            raise RuntimeError("the relay did not start")
        base = f"http://127.0.0.1:{port}/"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                pages = [browser.new_page()]
                _watch(pages[0], base)
                pages[0].wait_for_timeout(2000)  # the player's start-up and its first latency chase settle
                pages[0].evaluate("() => { window.lags = []; window.measuring = true; }")
                began, cpu = time.monotonic(), _cpu_seconds(relay.pid)
                pages[0].wait_for_timeout(seconds * 1000)
                one = (_cpu_seconds(relay.pid) - cpu) / (time.monotonic() - began)
                lags = [float(x) for x in pages[0].evaluate("() => window.lags")]
                for _ in range(4):
                    pages.append(browser.new_page())
                    _watch(pages[-1], base)
                began, cpu = time.monotonic(), _cpu_seconds(relay.pid)
                pages[0].wait_for_timeout(seconds * 1000)
                five = (_cpu_seconds(relay.pid) - cpu) / (time.monotonic() - began)
            finally:
                browser.close()
    finally:
        relay.terminate()
        try:
            relay.wait(timeout=10)
        except subprocess.TimeoutExpired:  # deaf to SIGTERM: kill and reap it, or it holds the port and a core
            relay.kill()
            relay.wait()
        relay.stdout.close()
    if len(lags) < 2:
        raise RuntimeError("Chromium read no frame's clock")
    cuts = statistics.quantiles(lags, n=100)
    return statistics.median(lags), cuts[98], one, five, len(lags)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3])
    else:
        sys.stderr.write("usage: python -m bench.video_latency serve PORT RTSP_URL (bench/video.py runs it)\n")
        sys.exit(2)
