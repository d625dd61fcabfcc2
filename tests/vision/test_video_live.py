"""The live relay's reading of a real MPEG-TS from ffmpeg: packet ids, the PAT's PMT, keyframes, a late viewer.

A late viewer is given the tables first, then the last keyframe's group of pictures.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from vision.video.live import TS, _Upstream, is_random_access, packet_pid, pmt_pids

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


@pytest.fixture(scope="module")
def stream() -> bytes:
    """Three seconds of H.264 at 10 fps, a keyframe a second, in MPEG-TS as the relay's ffmpeg writes it."""
    return subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "3",
         "-c:v", "libx264", "-g", "10", "-keyint_min", "10", "-sc_threshold", "0", "-f", "mpegts", "pipe:1"],
        capture_output=True, check=True).stdout


def packets(data: bytes) -> list[bytes]:
    return [data[i: i + TS] for i in range(0, len(data), TS)]


def test_the_tables_and_keyframes_are_found(stream: bytes) -> None:
    assert len(stream) % TS == 0 and all(p[0] == 0x47 for p in packets(stream))
    pat = next(p for p in packets(stream) if packet_pid(p) == 0)
    assert pmt_pids(pat) == {0x1000}  # ffmpeg's default PMT id
    keys = [i for i, p in enumerate(packets(stream)) if is_random_access(p)]
    assert len(keys) == 3  # one keyframe a second for three seconds


def test_a_late_viewer_gets_the_tables_then_the_last_group_of_pictures(stream: bytes) -> None:
    upstream = _Upstream("cam", process=None)  # type: ignore[arg-type]  # the reading needs no process
    assert upstream.catch_up() == b""  # nothing to start from yet
    # Fed in uneven, packet-aligned pieces, as the pump hands them on.
    cut = (len(stream) // TS // 3) * TS
    upstream.take(stream[:cut])
    upstream.take(stream[cut:])
    first = packets(upstream.catch_up())
    assert packet_pid(first[0]) == 0 and packet_pid(first[1]) == 0x1000
    assert is_random_access(first[2])
    last_key = max(i for i, p in enumerate(packets(stream)) if is_random_access(p))
    assert first[2:] == packets(stream)[last_key:]
