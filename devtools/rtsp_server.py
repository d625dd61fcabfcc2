"""A tiny RTSP camera server: folders of JPEG frames served as looping live RTP/JPEG streams.

It stands in for real IP cameras in the vision tests and the demo. Every subdirectory ``ROOT/<name>/`` holding
``00000.jpg, 00001.jpg, ...`` (as :func:`campusguard.simulate.clips.write_frames` writes them) becomes
``rtsp://HOST:PORT/<name>``, played at ``--fps`` and looped forever. Media is shared, so every client of one
path sees the same live stream, as with a camera.

Usage (Debian's own interpreter, because GObject introspection is installed only for it; hence stdlib + gi
only, no project imports)::

    /usr/bin/python3 devtools/rtsp_server.py --root DIR --port 0 [--fps 5] [--host 127.0.0.1]

Once listening it prints exactly one line ``READY rtsp://HOST:PORT/`` on stdout (``--port 0`` lets the kernel
choose; the line tells which). SIGTERM or SIGINT stops it cleanly with exit status 0. Needs the Debian packages
python3-gi, gir1.2-gst-rtsp-server-1.0 and gstreamer1.0-plugins-good (scripts/bootstrap.sh installs them).
Folders are scanned once at start; a folder added later needs a restart.
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

FRAME_PATTERN = "%05d.jpg"
"""How frames are named inside a camera folder."""


def launch_line(folder: Path, fps: int) -> str:
    """Return the gst-rtsp-server launch description that plays ``folder``'s JPEGs at ``fps``, looping.

    The JPEGs go out as they are (RTP/JPEG, payload type 26), so serving costs no decoding or encoding.
    jpegparse puts each frame's size into the caps, which the payloader needs. Buffers still leave it without
    timestamps (GStreamer 1.22's jpegparse stamps only the first), so :func:`pace` stamps them. The payloader
    is named pay0 because that is the name the RTSP server looks for.
    """
    location = str(folder / FRAME_PATTERN).replace('"', '\\"')
    return (
        f'( multifilesrc location="{location}" loop=true caps="image/jpeg,framerate={fps}/1" '
        f"! jpegparse ! rtpjpegpay name=pay0 pt=26 )"
    )


def pace(media: Any, fps: int) -> None:  # a GstRtspServer.RTSPMedia
    """Stamp frame n of ``media`` with time n / fps, so the sinks send one frame per 1/fps seconds.

    Unstamped buffers would be sent as fast as the network allows, the whole loop in a blink. Decoding and
    re-encoding (jpegdec interpolates timestamps) would also pace them, at the cost of CPU and a generation of
    JPEG loss; a probe costs one Python call per frame.
    """
    duration = Gst.SECOND // fps
    count = [0]

    def stamp(_pad: Any, info: Any) -> Any:  # GStreamer's own objects, untyped here
        buffer = info.get_buffer()
        buffer.pts = buffer.dts = count[0] * duration
        buffer.duration = duration
        count[0] += 1
        return Gst.PadProbeReturn.OK

    payloader = media.get_element().get_by_name("pay0")
    payloader.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, stamp)


def camera_folders(root: Path) -> list[Path]:
    """Return the subdirectories of ``root`` that hold a first frame, sorted by name."""
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / (FRAME_PATTERN % 0)).is_file())


def build_server(root: Path, host: str, port: int, fps: int) -> Any:  # a GstRtspServer.RTSPServer
    """Create the server with one shared, looping mount per camera folder (not yet listening)."""
    server = GstRtspServer.RTSPServer()
    server.set_address(host)
    server.set_service(str(port))
    mounts = server.get_mount_points()
    for folder in camera_folders(root):
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(folder, fps))
        # One pipeline per path for all its clients: they see the same moment of the loop, as with a camera.
        factory.set_shared(True)
        factory.connect("media-configure", lambda _factory, media: pace(media, fps))
        mounts.add_factory(f"/{folder.name}", factory)
    return server


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, required=True, help="folder whose subfolders are the cameras")
    parser.add_argument("--port", type=int, default=8554, help="TCP port for RTSP; 0 picks a free one")
    parser.add_argument("--fps", type=int, default=5, help="frames per second each camera plays")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; return the exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if not args.root.is_dir():
        sys.stderr.write(f"rtsp_server: no such folder: {args.root}\n")
        return 2
    if args.fps < 1:
        sys.stderr.write("rtsp_server: --fps must be at least 1\n")
        return 2
    Gst.init(None)
    server = build_server(args.root, args.host, args.port, args.fps)
    loop = GLib.MainLoop()

    def stop(*_: object) -> bool:
        """Leave the main loop; the process then exits with status 0."""
        loop.quit()
        return bool(GLib.SOURCE_REMOVE)

    # GLib's own signal sources run the handler inside the main loop, where quitting it is safe; a Python
    # signal handler would not run until the loop next returned to Python.
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, stop)
    # attach() binds and listens; 0 means it failed (port taken, bad address).
    if server.attach(None) == 0:
        sys.stderr.write(f"rtsp_server: cannot listen on {args.host}:{args.port}\n")
        return 1
    names = ", ".join(p.name for p in camera_folders(args.root)) or "none"
    sys.stderr.write(f"rtsp_server: cameras: {names}\n")
    sys.stdout.write(f"READY rtsp://{args.host}:{server.get_bound_port()}/\n")
    sys.stdout.flush()
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
