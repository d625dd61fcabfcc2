"""A tiny H.264 RTSP camera server for tests and benches: the demo's own camera server, run from devtools.

The JPEG server (devtools/rtsp_server.py) stands in for cameras the detectors read; video for people (recording,
clips, live view) is about stream copy, and an IP camera sends H.264, so these tests need H.264 on the wire.
The server itself is :mod:`campusguard.simulate.rtsp_h264` (the demo serves its cameras with it too): every
subdirectory ``ROOT/<name>/`` becomes ``rtsp://HOST:PORT/<name>``, a moving test picture (or the folder's JPEG
frames, or the videotestsrc pattern named in ``ROOT/<name>/pattern``) in H.264 with one keyframe per second
(``--fps`` frames) and a burnt-in clock a browser can read back (its ``DECODE_JS``).

Usage (Debian's own interpreter, for GObject introspection; stdlib + gi only, no project imports)::

    /usr/bin/python3 devtools/rtsp_h264_server.py --root DIR --port 0 [--fps 10] [--host 127.0.0.1]

It speaks the same command line and prints the same ``READY rtsp://HOST:PORT/`` line as rtsp_server.py, so
tests/support/rtsp.py runs either. The server is loaded from its file, not imported as a package: Debian's
python3 has gi but none of the project's dependencies, which ``campusguard/__init__`` may one day import.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

SERVER = Path(__file__).resolve().parents[1] / "campusguard" / "simulate" / "rtsp_h264.py"

if __name__ == "__main__":
    sys.exit(runpy.run_path(str(SERVER))["main"]())
