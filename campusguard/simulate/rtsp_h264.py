"""Simulated H.264 IP cameras over RTSP, every frame carrying a burnt-in clock a browser can read back.

Each subfolder ``ROOT/<name>/`` is served as ``rtsp://HOST:PORT/<name>``, shared by all its clients like a real
camera. A folder of JPEG frames (``00000.jpg, 00001.jpg, ...``, as :func:`campusguard.simulate.clips.write_frames`
writes them) plays them looped at ``--fps``; any other folder shows GStreamer's moving test picture (or the
videotestsrc pattern named in a file ``pattern``: a test covers a lens with ``black``). Either way the picture is
encoded with OpenH264, one keyframe a second, so the video stage can record and relay it by stream copy as it does
a real camera's main stream.

The burnt-in clock is the wall-clock time the frame was made, drawn twice (:func:`clock_svg`): as digits for
people (HH:MM:SS, the server's local time) and as a strip of black and white blocks along the bottom (the
milliseconds since the epoch, modulo 2^40, and a checksum) that :data:`DECODE_JS` reads back from a played
``<video>`` with a few pixel reads: no OCR, and robust to H.264's loss. The glass-to-glass bench and the
scrubbing test use it to tell which moment a shown frame is.

Run by Debian's interpreter, the one with GObject introspection (python3-gi, gir1.2-gst-rtsp-server-1.0,
gstreamer1.0-plugins-bad for openh264enc and rsvgoverlay); GStreamer is imported only by :func:`main`, so the
product's interpreter can import this module for :data:`DECODE_JS` and the layout::

    /usr/bin/python3 campusguard/simulate/rtsp_h264.py --root DIR --port 0 [--fps 10] [--host 127.0.0.1]

Once listening it prints one line ``READY rtsp://HOST:PORT/``; SIGTERM or SIGINT stops it with status 0. It must
stay standard library + gi only (no project imports): it runs outside the project's virtual environment.
"""

from __future__ import annotations

import argparse
import signal
import string
import sys
import time
from pathlib import Path
from typing import Any

CODE_BITS = 40
"""The clock strip carries the epoch milliseconds modulo 2**40 (about 35 years: the reader picks the nearest)."""
COLUMNS, ROWS = 16, 3
"""Blocks across the picture and rows of them: 48 bits, the last 8 a checksum (the sum of the code's 5 bytes)."""
FRAME_PATTERN = "%05d.jpg"
"""How frames are named inside a camera folder (as the JPEG server names them)."""

# The seven segments (a..g) lit for each digit; a segment is a rectangle in a 4x7 cell grid.
_SEGMENTS = {"0": "abcdef", "1": "bc", "2": "abged", "3": "abgcd", "4": "fgbc", "5": "afgcd", "6": "afgedc",
             "7": "abc", "8": "abcdefg", "9": "abcdfg"}
_SEGMENT_BOX = {"a": (0, 0, 4, 1), "b": (3, 0, 1, 4), "c": (3, 3, 1, 4), "d": (0, 6, 4, 1), "e": (0, 3, 1, 4),
                "f": (0, 0, 1, 4), "g": (0, 3, 4, 1)}


def clock_bits(epoch_ms: int) -> list[int]:
    """Return the strip's 48 bits for a time: bit i of the code, then the checksum's 8 bits (least first)."""
    code = epoch_ms % (1 << CODE_BITS)
    checksum = sum((code >> (8 * i)) & 0xFF for i in range(CODE_BITS // 8)) & 0xFF
    value = code | (checksum << CODE_BITS)
    return [(value >> i) & 1 for i in range(COLUMNS * ROWS)]


def strip_geometry(width: int, height: int) -> tuple[int, int, int]:
    """Return (block width, block height, the strip's top row) for a picture of that size."""
    block_w, block_h = width // COLUMNS, max(6, height // 24)
    return block_w, block_h, height - ROWS * block_h


def clock_svg(epoch_ms: int, width: int, height: int) -> str:
    """Return the SVG drawn over one frame: its time as digits (top left) and as the block strip (bottom)."""
    block_w, block_h, top = strip_geometry(width, height)
    parts = [f'<rect x="0" y="{top}" width="{width}" height="{ROWS * block_h}" fill="#000"/>']
    for i, bit in enumerate(clock_bits(epoch_ms)):
        if bit:
            row, column = divmod(i, COLUMNS)
            parts.append(f'<rect x="{column * block_w}" y="{top + row * block_h}" width="{block_w}" '
                         f'height="{block_h}" fill="#fff"/>')
    unit = max(2, height // 96)  # a digit is 4x7 units
    text = time.strftime("%H:%M:%S", time.localtime(epoch_ms / 1000))
    parts.append(f'<rect x="0" y="0" width="{(len(text) * 6 + 1) * unit}" height="{9 * unit}" fill="#000"/>')
    for n, char in enumerate(text):
        left = unit + n * 6 * unit
        for segment in _SEGMENTS.get(char, ""):
            x, y, w, h = _SEGMENT_BOX[segment]
            parts.append(f'<rect x="{left + x * unit}" y="{unit + y * unit}" width="{w * unit}" height="{h * unit}"'
                         ' fill="#fff"/>')
        if char == ":":
            parts += [f'<rect x="{left + unit}" y="{(3 + k * 3) * unit}" width="{unit}" height="{unit}" fill="#fff"/>'
                      for k in (0, 1)]
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">{"".join(parts)}</svg>'


DECODE_JS = string.Template("""(video) => {
  // Read the burnt-in clock of the frame a <video> shows: epoch milliseconds, or null when it does not check.
  const w = video.videoWidth, h = video.videoHeight;
  if (!w || !h) return null;
  const canvas = (window.__clockCanvas ??= document.createElement('canvas'));
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(video, 0, 0, w, h);
  const bw = Math.floor(w / $columns), bh = Math.max(6, Math.floor(h / 24)), top = h - $rows * bh;
  const pixels = ctx.getImageData(0, top, w, $rows * bh).data;
  const bits = [];
  for (let i = 0; i < $columns * $rows; i++) {
    const x = (i % $columns) * bw + (bw >> 1), y = Math.floor(i / $columns) * bh + (bh >> 1);
    const at = (y * w + x) * 4;
    bits.push((pixels[at] + pixels[at + 1] + pixels[at + 2]) / 3 > 127 ? 1 : 0);
  }
  let code = 0, checksum = 0, sum = 0;
  for (let i = $code_bits - 1; i >= 0; i--) code = code * 2 + bits[i];
  for (let i = 7; i >= 0; i--) checksum = checksum * 2 + bits[$code_bits + i];
  for (let b = 0; b < $code_bits / 8; b++) {
    let byte = 0;
    for (let i = 7; i >= 0; i--) byte = byte * 2 + bits[8 * b + i];
    sum += byte;
  }
  if ((sum & 255) !== checksum) return null;
  const span = 2 ** $code_bits, now = Date.now();
  const base = now - (now % span) + code;
  return [base - span, base, base + span].reduce((a, b) => (Math.abs(b - now) < Math.abs(a - now) ? b : a));
}""").substitute(columns=COLUMNS, rows=ROWS, code_bits=CODE_BITS)
"""A JavaScript function of a <video> returning the epoch milliseconds burnt into the frame it shows."""


def launch_line(fps: int, size: tuple[int, int], bitrate: int, source: str) -> str:
    """Return a camera's launch description: ``source`` (raw frames), paced, clocked, H.264 at a keyframe a second.

    identity sync=true holds each frame until its moment on the pipeline clock, so the clock drawn next is when
    the frame goes out, not when a looped file was read ahead. config-interval repeats SPS/PPS before every
    keyframe, so a client that joins late (or a recorder that restarts) decodes from the next keyframe on.
    """
    width, height = size
    return (
        f"( {source} ! videoconvert ! videoscale ! video/x-raw,width={width},height={height},framerate={fps}/1 "
        f"! identity sync=true ! rsvgoverlay name=clock ! videoconvert ! video/x-raw,format=I420 "
        f"! openh264enc gop-size={fps} bitrate={bitrate} ! h264parse config-interval=-1 "
        f"! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )


def source_of(folder: Path, fps: int, pattern: str) -> str:
    """Return the raw-picture source of one camera folder: its JPEG frames looped, or a live test picture."""
    if (folder / (FRAME_PATTERN % 0)).is_file():
        location = str(folder / FRAME_PATTERN).replace('"', '\\"')
        return f'multifilesrc location="{location}" loop=true caps="image/jpeg,framerate={fps}/1" ! jpegdec'
    # A folder may name its own picture (a file "pattern": smpte, black, ...).
    chosen = (folder / "pattern").read_text().strip() if (folder / "pattern").is_file() else pattern
    if not chosen.replace("-", "").isalnum():
        raise ValueError(f"not a videotestsrc pattern: {chosen!r}")
    return f"videotestsrc is-live=true pattern={chosen}"


def stamp_clock(media: Any, size: tuple[int, int]) -> None:  # a GstRtspServer.RTSPMedia
    """Before each frame reaches the overlay, give it the SVG of this moment (one Python call per frame)."""
    from gi.repository import Gst  # type: ignore[import-not-found,unused-ignore]  # Debian's python3 only

    overlay = media.get_element().get_by_name("clock")

    def stamp(_pad: Any, _info: Any) -> Any:
        overlay.set_property("data", clock_svg(time.time_ns() // 1_000_000, *size))
        return Gst.PadProbeReturn.OK

    overlay.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, stamp)


def build_server(root: Path, host: str, port: int, fps: int, size: tuple[int, int], bitrate: int,
                 pattern: str) -> Any:  # a GstRtspServer.RTSPServer
    """Create the server with one shared mount per subfolder of ``root`` (not yet listening)."""
    from gi.repository import GstRtspServer  # type: ignore[import-not-found,unused-ignore]  # Debian's python3 only

    server = GstRtspServer.RTSPServer()
    server.set_address(host)
    server.set_service(str(port))
    mounts = server.get_mount_points()
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(fps, size, bitrate, source_of(folder, fps, pattern)))
        factory.set_shared(True)  # one pipeline per path: every client sees the same moment, as with a camera
        factory.connect("media-configure", lambda _factory, media: stamp_clock(media, size))
        mounts.add_factory(f"/{folder.name}", factory)
    return server


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, required=True, help="folder whose subfolders are the cameras")
    parser.add_argument("--port", type=int, default=8554, help="TCP port for RTSP; 0 picks a free one")
    parser.add_argument("--fps", type=int, default=10, help="frames per second (and frames per keyframe)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--size", default="320x240", help="picture size WIDTHxHEIGHT (bench/video.py: 1920x1080)")
    parser.add_argument("--bitrate", type=int, default=128_000, help="target bits per second (a 1080p camera: 4M)")
    parser.add_argument("--pattern", default="ball",
                        help="ball: a moving ball (tiny stream); snow: noise, which fills --bitrate like a busy scene")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    width, _, height = args.size.partition("x")
    if not args.root.is_dir() or args.fps < 1 or not (width.isdigit() and height.isdigit()):
        sys.stderr.write("rtsp_h264: --root must be a folder, --fps at least 1, --size WIDTHxHEIGHT\n")
        return 2
    import gi  # type: ignore[import-not-found,unused-ignore]  # PyGObject: Debian's python3 only, no stubs

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst  # type: ignore[import-not-found,unused-ignore]

    Gst.init(None)
    server = build_server(args.root, args.host, args.port, args.fps, (int(width), int(height)), args.bitrate,
                          args.pattern)
    loop = GLib.MainLoop()

    def stop(*_: object) -> bool:
        """Leave the main loop; the process then exits with status 0."""
        loop.quit()
        return bool(GLib.SOURCE_REMOVE)

    # GLib's own signal sources run the handler inside the main loop, where quitting it is safe.
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, stop)
    if server.attach(None) == 0:  # 0: it could not bind (port taken, bad address)
        sys.stderr.write(f"rtsp_h264: cannot listen on {args.host}:{args.port}\n")
        return 1
    sys.stdout.write(f"READY rtsp://{args.host}:{server.get_bound_port()}/\n")
    sys.stdout.flush()
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
