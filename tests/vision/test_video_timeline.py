"""Scrubbing over the API: a camera's day of recorded spans and findings, and playing it from a chosen moment.

The segments are real: the product's recorder writes a live H.264 camera (the demo's camera server, a
keyframe a second) into a real PostgreSQL index, and the app cuts and serves them. A finding is a camera event
in ``device_events`` with an incident whose evidence names it, as the vision and alert stages write them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient

from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from store import video_repo
from tests.support.ingest import prepare_database, wait_for
from tests.support.rtsp import RtspServer
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY
from vision.config import VideoSettings, VisionSettings
from vision.video.ffmpeg import probe_frames
from vision.video.playback import merge_spans
from vision.video.service import CameraFeed, VideoService

H264_SERVER = Path(__file__).resolve().parents[2] / "devtools" / "rtsp_h264_server.py"
SCHOOL = "antelope-park-es"
GATE = "antelope-park-cam-gate"
PASSWORD = "a long enough password"
GOP = timedelta(seconds=1)  # the camera's keyframe interval (10 frames at 10 fps)
T0 = datetime(2026, 3, 12, 4, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed "
                                "(scripts/bootstrap.sh installs it)")


def test_segments_join_into_spans_across_small_gaps_only() -> None:
    s = [(T0 + timedelta(seconds=a), T0 + timedelta(seconds=b)) for a, b in ((10, 20), (0, 10), (20.05, 30),
                                                                             (60, 70), (65, 68))]
    spans = merge_spans(s)
    assert [(x.start_at, x.end_at) for x in spans] == [(T0, T0 + timedelta(seconds=30)),
                                                       (T0 + timedelta(seconds=60), T0 + timedelta(seconds=70))]


@pytest.fixture
def recorded(rtsp_available: None, fresh_database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """About eight seconds of the gate camera recorded in 2-second segments; yields the database and video root."""
    prepare_database(fresh_database_url, PASSWORD)
    root = tmp_path / "h264"
    (root / GATE).mkdir(parents=True)
    settings = VideoSettings(root=tmp_path / "video", segment_s=2, disk_budget_gb=100, tamper=False)
    with RtspServer(root, fps=10, script=H264_SERVER) as camera, \
            psycopg.connect(fresh_database_url, autocommit=True) as conn:
        service = VideoService(fresh_database_url, settings, [CameraFeed(GATE, camera.url(GATE))])
        service.start(sweeping=False)
        try:
            wait_for(lambda: len(video_repo.segments(conn, GATE)) >= 4, 60, "four segments")
        finally:
            service.stop()
    yield fresh_database_url, settings.root


def sign_in(client: TestClient, url: str, role: str, own: bool) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT id FROM users WHERE role = %s AND scope_id {'=' if own else '<>'} %s"
                           " ORDER BY id LIMIT 1", (role, SCHOOL)).fetchone()
    assert row is not None
    assert client.post("/api/v1/auth/login", json={"username": row[0], "password": PASSWORD}).status_code == 200
    return str(row[0])


def test_the_timeline_shows_spans_and_findings_and_plays_from_a_chosen_moment(
        recorded: tuple[str, Path], tmp_path: Path) -> None:
    url, video_root = recorded
    with psycopg.connect(url, autocommit=True) as conn:
        segments = video_repo.segments(conn, GATE)
        first, last = segments[0], segments[-1]
        finding = first.start_at + (last.end_at - first.start_at) / 2
        conn.execute("INSERT INTO device_events (device_id, time, kind, received_at, detail)"
                     " VALUES (%s, %s, 'intrusion', %s, '{}')", (GATE, finding, finding))
        evidence = [{"kind": "intrusion", "ref": None, "time": finding.isoformat(), "summary": "intrusion",
                     "signal_id": "s-1", "source_id": GATE}]
        incident = conn.execute(
            "INSERT INTO incidents (school_id, type, severity, status, title, evidence, opened_at, updated_at)"
            " VALUES (%s, 'intrusion', 'high', 'raised', 'Intrusion', %s, %s, %s) RETURNING id",
            (SCHOOL, json.dumps(evidence), finding, finding)).fetchone()
        assert incident is not None
    settings = Settings(mode=Mode.PRODUCTION, database_url=url, secret_key=TEST_SECRET_KEY,
                        admin_password=TEST_ADMIN_PASSWORD, data_dir=tmp_path, cookie_secure=False,
                        vision=VisionSettings(video=VideoSettings(root=video_root)))
    with TestClient(create_app(settings)) as client:
        me = sign_in(client, url, "school_admin", own=True)
        day = client.get(f"/api/v1/video/cameras/{GATE}/timeline").json()
        # One span, unbroken, over every segment; the finding marked with the incident that took it up.
        assert len(day["spans"]) == 1
        span = day["spans"][0]
        assert datetime.fromisoformat(span["start_at"]) == first.start_at
        assert datetime.fromisoformat(span["end_at"]) == last.end_at
        assert [(datetime.fromisoformat(f["at"]), f["kind"], f["incident_id"]) for f in day["findings"]] == [
            (finding, "intrusion", incident[0])]
        assert day["time_zone"] == "America/Chicago"
        # The school's own day: the finding's local date holds it; the day before holds nothing.
        local = finding.astimezone(ZoneInfo(day["time_zone"])).date()
        assert len(client.get(f"/api/v1/video/cameras/{GATE}/timeline?day={local}").json()["findings"]) == 1
        before = client.get(f"/api/v1/video/cameras/{GATE}/timeline?day={local - timedelta(days=1)}").json()
        assert before["spans"] == [] and before["findings"] == []

        # Play from the finding: the cut starts at the keyframe at or before it, no more than one interval early.
        cut = client.get(f"/api/v1/video/cameras/{GATE}/playback", params={"at": finding.isoformat()})
        assert cut.status_code == 200, cut.text
        played = cut.json()
        start_at = datetime.fromisoformat(played["start_at"])
        assert finding - GOP - timedelta(seconds=0.1) <= start_at <= finding
        assert datetime.fromisoformat(played["end_at"]) <= last.end_at
        whole = client.get(played["url"])
        assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
        part = client.get(played["url"], headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and len(part.content) == 100
        name = played["url"].rsplit("/", 1)[1]
        frames = probe_frames("ffprobe", video_root / "playback" / name)
        assert frames.keyframes[0] and len(frames.times) >= 10  # starts at a keyframe, plays on from there
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT actor, target, detail FROM audit_log WHERE action = 'video.playback.start'"
                                ).fetchall()
        assert [(r[0], r[1]) for r in rows] == [(me, f"camera:{GATE}")]
        assert datetime.fromisoformat(rows[0][2]["at"]) == finding

        # A moment nothing was recorded at is 404; so is a file name that is not one of this camera's cuts.
        empty = client.get(f"/api/v1/video/cameras/{GATE}/playback",
                           params={"at": (first.start_at - timedelta(hours=2)).isoformat()})
        assert empty.status_code == 404
        assert client.get(f"/api/v1/video/playback/{GATE}/..%2F..%2Fsecret.mp4").status_code == 404
        assert client.get(f"/api/v1/video/playback/{GATE}/other-1773288000000-120.mp4").status_code == 404

        # A guard may not watch video at all (403); another school's admin does not see the camera (404).
        client.cookies.clear()
        sign_in(client, url, "guard", own=True)
        assert client.get(f"/api/v1/video/cameras/{GATE}/timeline").status_code == 403
        assert client.get(played["url"]).status_code == 403
        client.cookies.clear()
        sign_in(client, url, "school_admin", own=False)
        assert client.get(f"/api/v1/video/cameras/{GATE}/timeline").status_code == 404
        assert client.get(f"/api/v1/video/cameras/{GATE}/playback",
                          params={"at": finding.isoformat()}).status_code == 404
        assert client.get(played["url"]).status_code == 404
