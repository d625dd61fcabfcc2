"""Simulated cameras: generated clips served over real RTSP, and a site file whose cameras point at them.

The demo (and anyone trying the vision stage without cameras) renders a few of the ready-made scenes of
:mod:`campusguard.simulate.clips` into folders, serves them as H.264 IP cameras with a burnt-in clock
(:mod:`campusguard.simulate.rtsp_h264`, run by Debian's ``/usr/bin/python3``, the interpreter that has GObject
introspection) and writes a copy of the site file whose chosen cameras use those ``rtsp://`` URLs. The vision
worker then reads them exactly as it reads a real camera, and the video stage records and relays them by stream
copy (H.264, as a real camera's main stream: MJPEG could not be copied to a browser).
"""

from __future__ import annotations

import selectors
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from campusguard.simulate.clips import SCENES, write_frames

SYSTEM_PYTHON = Path("/usr/bin/python3")
SERVER_SCRIPT = Path(__file__).resolve().parent / "rtsp_h264.py"
CAMERA_ARGS = ("--fps", "5", "--size", "640x480", "--bitrate", "600000")
"""The clips' own rate and size (campusguard.simulate.clips), at about what a camera's sub-stream sends."""

DEMO_CAMERAS: Mapping[str, str] = {
    "salt-creek-cam-gate": "gate_crowd_after_hours",
    "salt-creek-cam-corridor": "corridor_person_down",
}
"""Camera id → scene: a crowd gathering at a gate (after hours, at night), a person collapsing in a corridor."""

GATE_CROWD = 3
"""The demo gate's crowd threshold: the clip gathers five people, so the crowd shows whatever the hour."""


class ClipServerError(RuntimeError):
    """The RTSP server could not start."""


def write_clips(root: Path, cameras: Mapping[str, str]) -> None:
    """Render each camera's scene into ``root/<camera id>/`` unless a complete rendering is already there."""
    for camera_id, scene_name in cameras.items():
        scene = SCENES[scene_name]
        folder = root / camera_id
        if len(list(folder.glob("*.jpg"))) == scene.frame_count:
            continue
        write_frames(scene, folder)


def start_clip_server(root: Path, port: int, timeout_s: float = 30.0) -> tuple[subprocess.Popen[str], str]:
    """Start the RTSP server on ``root``; return the process and its base URL (``rtsp://host:port/``)."""
    if not SYSTEM_PYTHON.is_file():
        raise ClipServerError(f"{SYSTEM_PYTHON} is missing; the RTSP server needs Debian's python3 with python3-gi")
    process = subprocess.Popen(  # noqa: S603 - fixed interpreter and script, our own arguments
        [str(SYSTEM_PYTHON), str(SERVER_SCRIPT), "--root", str(root), "--port", str(port), *CAMERA_ARGS],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None  # PIPE was asked for
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if selector.select(timeout=0.5):
                line = process.stdout.readline()
                if line.startswith("READY "):
                    return process, line.split(" ", 1)[1].strip()
                if not line:
                    break
    process.kill()
    _, stderr = process.communicate()
    raise ClipServerError(f"the RTSP server did not start: {stderr.strip()[-500:]}")


def site_with_cameras(site_file: Path, out: Path, urls: Mapping[str, str]) -> Path:
    """Write a copy of a site file whose cameras in ``urls`` stream from there; return the copy's path.

    The gate camera's zones become one whole-picture gate zone that counts more than :data:`GATE_CROWD`
    people as a crowd, so the demo's gate scene shows crowding at any hour and intrusion after hours.
    """
    document: dict[str, Any] = yaml.safe_load(site_file.read_text(encoding="utf-8"))
    found = set()
    for camera in _cameras(document["organisation"]):
        if camera["id"] in urls:
            found.add(camera["id"])
            camera["rtsp_url"] = urls[camera["id"]]
            if camera.get("place_kind") == "gate":
                camera["zones"] = [{"name": "Gate", "kind": "gate", "max_people": GATE_CROWD,
                                    "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}]
    if missing := set(urls) - found:
        raise ValueError(f"no camera {sorted(missing)} in {site_file}")
    out.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return out


def _cameras(unit: dict[str, Any]) -> list[dict[str, Any]]:
    found = [camera for school in unit.get("schools", ()) for camera in school.get("cameras", ())]
    for child in unit.get("units", ()):
        found += _cameras(child)
    return found
