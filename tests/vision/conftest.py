"""Vision fixtures: a private RTSP camera server per test, and the clips it plays.

``camera_url("crowd")`` renders a named scene (or any :class:`Scene`) into the server's folder and returns its
``rtsp://`` URL. The server learns its folders when it starts, so a new clip restarts it (same port, a fraction
of a second); ``clip_dir`` only renders, for tests that want the files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from campusguard.simulate.clips import SCENES, Scene, write_frames
from tests.support.rtsp import RtspServer, unavailable_reason

ClipDir = Callable[[str | Scene], Path]
"""Render a named (or given) scene into the server's folder, under the scene's name; returns that folder."""

CameraUrl = Callable[[str | Scene], str]
"""Render a scene into the server's folder, make sure the server serves it, and return its URL."""


@pytest.fixture(scope="session")
def rtsp_available() -> None:
    """Skip, saying why, when this machine cannot run the RTSP server (no python3-gi for /usr/bin/python3)."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture
def clip_root(tmp_path: Path) -> Path:
    """The folder the test's RTSP server serves: one subfolder of JPEG frames per camera."""
    root = tmp_path / "cameras"
    root.mkdir()
    return root


@pytest.fixture
def clip_dir(clip_root: Path) -> ClipDir:
    """Render scenes into ``clip_root``; asking for the same scene again reuses the frames."""

    def render(scene: str | Scene) -> Path:
        spec = SCENES[scene] if isinstance(scene, str) else scene
        folder = clip_root / spec.name
        if not folder.is_dir():
            write_frames(spec, folder)
        return folder

    return render


@pytest.fixture
def rtsp_server(rtsp_available: None, clip_root: Path) -> Iterator[RtspServer]:
    """An RTSP server of this test's own on a free port, serving ``clip_root``; stopped afterwards."""
    with RtspServer(clip_root) as server:
        yield server


@pytest.fixture
def camera_url(rtsp_server: RtspServer, clip_dir: ClipDir) -> CameraUrl:
    """Serve scenes from the test's RTSP server: ``camera_url("crowd")`` gives ``rtsp://127.0.0.1:PORT/crowd``."""

    def serve(scene: str | Scene) -> str:
        folder = clip_dir(scene)
        if folder.name not in rtsp_server.cameras:
            rtsp_server.stop()  # it scans its folders only at start
            rtsp_server.start()
        return rtsp_server.url(folder.name)

    return serve
