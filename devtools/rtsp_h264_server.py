"""A tiny H.264 RTSP camera server: each subfolder of ROOT is a live, moving test picture in H.264.

The JPEG server (devtools/rtsp_server.py) stands in for cameras the detectors read; video for people (recording,
clips, live view) is about stream copy, and an IP camera sends H.264, so these tests need H.264 on the wire.
Every subdirectory ``ROOT/<name>/`` becomes ``rtsp://HOST:PORT/<name>``: GStreamer's live test source (a
moving ball) encoded with OpenH264, one keyframe per second (``--fps`` frames), shared by all clients like a
camera. The folder's content is ignored; its name is the path.

Usage (Debian's own interpreter, for GObject introspection; stdlib + gi only, no project imports)::

    /usr/bin/python3 devtools/rtsp_h264_server.py --root DIR --port 0 [--fps 10] [--host 127.0.0.1]

A file ``ROOT/<name>/pattern`` holding a videotestsrc pattern name (``smpte``, ``black``, ...) shows that
picture instead. It speaks the same command line and prints the same ``READY rtsp://HOST:PORT/`` line as
rtsp_server.py, so tests/support/rtsp.py runs either. Needs gstreamer1.0-plugins-bad (openh264enc) besides
rtsp_server.py's packages.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

import gi  # type: ignore[import-not-found,unused-ignore]  # PyGObject: no stubs, and absent from the venv

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # type: ignore[import-not-found,unused-ignore]  # noqa: E402


def launch_line(fps: int, width: int = 320, height: int = 240, bitrate: int = 128_000, pattern: str = "ball") -> str:
    """Return the launch description of one live H.264 camera at ``fps`` with a keyframe every second.

    is-live makes the source stamp frames with the pipeline clock, so it is paced like a camera. config-interval
    repeats SPS/PPS before every keyframe, so a client that joins late (or a recorder that restarts) can decode
    from the next keyframe on.
    """
    return (
        f"( videotestsrc is-live=true pattern={pattern} ! video/x-raw,width={width},height={height},framerate={fps}/1 "
        f"! videoconvert ! openh264enc gop-size={fps} bitrate={bitrate} ! h264parse config-interval=-1 "
        f"! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )


def build_server(root: Path, host: str, port: int, fps: int,
                 size: tuple[int, int] = (320, 240), bitrate: int = 128_000,
                 pattern: str = "ball") -> Any:  # a GstRtspServer.RTSPServer
    """Create the server with one shared mount per subfolder of ``root`` (not yet listening)."""
    server = GstRtspServer.RTSPServer()
    server.set_address(host)
    server.set_service(str(port))
    mounts = server.get_mount_points()
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        factory = GstRtspServer.RTSPMediaFactory()
        # A folder may name its own picture (a file "pattern": smpte, black, ...): a test covers a camera's lens
        # by writing "black" and restarting the server.
        chosen = (folder / "pattern").read_text().strip() if (folder / "pattern").is_file() else pattern
        if not chosen.replace("-", "").isalnum():
            raise ValueError(f"not a videotestsrc pattern: {chosen!r}")
        factory.set_launch(launch_line(fps, *size, bitrate, chosen))
        factory.set_shared(True)
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
    if not args.root.is_dir() or args.fps < 1:
        sys.stderr.write("rtsp_h264_server: --root must be a folder and --fps at least 1\n")
        return 2
    Gst.init(None)
    width, _, height = args.size.partition("x")
    server = build_server(args.root, args.host, args.port, args.fps, (int(width), int(height)), args.bitrate,
                          args.pattern)
    loop = GLib.MainLoop()

    def stop(*_: object) -> bool:
        """Leave the main loop; the process then exits with status 0."""
        loop.quit()
        return bool(GLib.SOURCE_REMOVE)

    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, stop)
    if server.attach(None) == 0:
        sys.stderr.write(f"rtsp_h264_server: cannot listen on {args.host}:{args.port}\n")
        return 1
    sys.stdout.write(f"READY rtsp://{args.host}:{server.get_bound_port()}/\n")
    sys.stdout.flush()
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
