"""Scrubbing over the API: a camera's day of recorded spans and findings, and playing it from a chosen moment.

The segments are real: the product's recorder writes a live H.264 camera (the demo's camera server, a
keyframe a second) into a real PostgreSQL index, and the app cuts and serves them. A finding is a camera event
in ``device_events`` with an incident whose evidence names it, as the vision and alert stages write them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from store import video_repo
from tests.support.ingest import prepare_database, wait_for
from tests.support.rtsp import RtspServer
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY
from vision.config import VideoSettings, VisionSettings
from vision.video.ffmpeg import probe_frames
from vision.video.playback import PlaybackBusyError, PlaybackGate, PlaybackLimitError, merge_spans, playback_bytes, trim
from vision.video.segments import disk_budget
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
        folder = video_root / "playback" / GATE  # the camera's own folder of cuts
        frames = probe_frames("ffprobe", folder / name)
        assert frames.keyframes[0] and len(frames.times) >= 10  # starts at a keyframe, plays on from there
        made = (folder / name).stat()

        # The same moment again, and a moment later in the same keyframe interval: the one cut is reused.
        for again in (finding, start_at + (finding - start_at) / 2):
            same = client.get(f"/api/v1/video/cameras/{GATE}/playback", params={"at": again.isoformat()})
            assert same.status_code == 200, same.text
            assert same.json()["url"] == played["url"] and same.json()["start_at"] == played["start_at"]
        assert [p.name for p in folder.iterdir()] == [name]
        assert (folder / name).stat().st_ino == made.st_ino  # not cut again and renamed over
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT actor, target, detail FROM audit_log WHERE action = 'video.playback.start'"
                                " ORDER BY id").fetchall()
        assert [(r[0], r[1], r[2]["reused"]) for r in rows] == [(me, f"camera:{GATE}", False),
                                                                (me, f"camera:{GATE}", True),
                                                                (me, f"camera:{GATE}", True)]
        assert datetime.fromisoformat(rows[0][2]["at"]) == finding

        # A moment nothing was recorded at is 404. So is a file in the camera's folder whose name is not a cut's
        # (routing accepts these names: the name check is what refuses them), and a cut's name that is not there.
        empty = client.get(f"/api/v1/video/cameras/{GATE}/playback",
                           params={"at": (first.start_at - timedelta(hours=2)).isoformat()})
        assert empty.status_code == 404
        for planted in ("secret.mp4", ".0123456789abcdef.part", f"{GATE}-1773288000000-120.mp4"):
            (folder / planted).write_bytes(b"not a cut")
            assert client.get(f"/api/v1/video/playback/{GATE}/{planted}").status_code == 404, planted
        assert client.get(f"/api/v1/video/playback/{GATE}/1773288000000-1773288120000.mp4").status_code == 404

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


def _app(url: str, video_root: Path, tmp_path: Path) -> FastAPI:
    return create_app(Settings(mode=Mode.PRODUCTION, database_url=url, secret_key=TEST_SECRET_KEY,
                               admin_password=TEST_ADMIN_PASSWORD, data_dir=tmp_path, cookie_secure=False,
                               vision=VisionSettings(video=VideoSettings(root=video_root))))


def test_a_camera_whose_id_begins_like_anothers_cannot_reach_its_cuts_and_a_person_is_held_to_a_share(
        recorded: tuple[str, Path], tmp_path: Path) -> None:
    url, video_root = recorded
    other = f"{GATE}-2"  # the id the old prefix check let through: it begins with "<gate>-"
    with psycopg.connect(url, autocommit=True) as conn:
        segments = video_repo.segments(conn, GATE)
        row = conn.execute("SELECT scope_id FROM users WHERE role = 'school_admin' AND scope_id <> %s"
                           " ORDER BY id LIMIT 1", (SCHOOL,)).fetchone()
        assert row is not None
        conn.execute("INSERT INTO devices (id, school_id, kind, name, source) VALUES (%s, %s, 'camera',"
                     " 'Other school gate 2', 'test')", (other, row[0]))
    at = segments[1].start_at + timedelta(seconds=0.5)
    app = _app(url, video_root, tmp_path)
    with TestClient(app) as client:
        sign_in(client, url, "school_admin", own=True)
        mine = client.get(f"/api/v1/video/cameras/{GATE}/playback", params={"at": at.isoformat()})
        assert mine.status_code == 200, mine.text
        name = mine.json()["url"].rsplit("/", 1)[1]
        # The other school's camera has a cut of its own, under a name this camera has none of.
        theirs = video_root / "playback" / other / "1773288000000-1773288120000.mp4"
        theirs.parent.mkdir(parents=True)
        shutil.copyfile(video_root / "playback" / GATE / name, theirs)
        for path in (f"{other}/{theirs.name}", f"{GATE}/{theirs.name}", f"{GATE}/{other}-{theirs.name}",
                     f"{other}/{name}"):
            assert client.get(f"/api/v1/video/playback/{path}").status_code == 404, path
        assert client.get(f"/api/v1/video/cameras/{other}/playback",
                          params={"at": at.isoformat()}).status_code == 404

        # A person's share of playbacks (two an hour here): the third is 429 with when to come back.
        app.state.playback_gate = PlaybackGate(per_person=2, window_s=3600)
        for expected in (200, 200, 429):
            answer = client.get(f"/api/v1/video/cameras/{GATE}/playback", params={"at": at.isoformat()})
            assert answer.status_code == expected, answer.text
        assert 3500 <= int(answer.headers["Retry-After"]) <= 3600
        assert [p.name for p in (video_root / "playback" / GATE).iterdir()] == [name]  # reused, never re-cut

        # The other school's admin sees that camera: its cut is served to them, this one's is not.
        client.cookies.clear()
        sign_in(client, url, "school_admin", own=False)
        assert client.get(f"/api/v1/video/playback/{other}/{theirs.name}").status_code == 200
        assert client.get(f"/api/v1/video/playback/{GATE}/{name}").status_code == 404


def test_the_gate_bounds_cuts_at_once_and_playbacks_per_person() -> None:
    now = [0.0]
    gate = PlaybackGate(at_once=1, per_person=2, window_s=60, wait_s=0, clock=lambda: now[0])
    with gate.person("a"):
        with pytest.raises(PlaybackLimitError):  # one at a time: the first is still being cut
            gate.person("a").__enter__()
        with gate.person("b"):  # someone else is not held up by "a"
            pass
    with gate.person("a"):
        pass
    now[0] = 30.0
    with pytest.raises(PlaybackLimitError) as over:
        gate.person("a").__enter__()
    assert over.value.retry_after == 30  # the first of the two leaves the window at 60 s
    now[0] = 60.5
    with gate.person("a"):
        pass
    with gate.slot(), pytest.raises(PlaybackBusyError):
        gate.slot().__enter__()
    with gate.slot():  # released: free again
        pass


def test_trim_evicts_old_cuts_then_the_least_recently_used_past_the_cap(tmp_path: Path) -> None:
    folder = tmp_path / "playback"
    now = T0.timestamp()
    files = {}
    for i, (camera, age_s) in enumerate((("a", 7200), ("a", 600), ("b", 300), ("b", 60))):
        path = folder / camera / f"{1773288000000 + i}-{1773288120000 + i}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
        os.utime(path, (now - age_s, now - age_s))
        files[age_s] = path
    stale = folder / "a" / ".dead.part"  # a part a killed cut left
    stale.write_bytes(b"x" * 10)
    os.utime(stale, (now - 7200, now - 7200))
    assert playback_bytes(folder) == 4010
    assert trim(folder, now, keep_s=3600, cap_bytes=2000) == 3  # the two-hour-old cut and part, then the oldest
    assert sorted(p for p in folder.glob("*/*")) == sorted([files[300], files[60]])


def test_a_playback_cut_never_makes_the_sweep_delete_a_recording(recorded: tuple[str, Path]) -> None:
    url, video_root = recorded
    # On a disk left to itself, a cut's bytes move from free to reclaimable: the budget does not shrink.
    cut_bytes, free, used, reserve = 10**9, 3 * 10**9, 2 * 10**9, 10**9
    assert disk_budget(free - cut_bytes, used, cut_bytes, reserve) == disk_budget(free, used, 0, reserve)
    # A set budget with room for the recordings and hardly more: a cut twice their size is not counted.
    with psycopg.connect(url) as conn:
        segments = video_repo.segments(conn, GATE)
    total = sum(s.bytes for s in segments)
    folder = video_root / "playback" / GATE
    folder.mkdir(parents=True)
    big, old = folder / "1773288000000-1773288120000.mp4", folder / "1773280000000-1773280120000.mp4"
    big.write_bytes(b"\0" * (total * 2))
    old.write_bytes(b"\0" * 100)
    now = datetime.now(UTC)
    os.utime(old, (now.timestamp() - 7200, now.timestamp() - 7200))
    service = VideoService(url, VideoSettings(root=video_root, disk_budget_gb=(total + 1000) / 1e9, tamper=False), [])
    try:
        plan = service.sweep_once(now)
    finally:
        service.stop()
    assert plan.evict == ()  # (the camera may be "short": a day's rate times 30 days exceeds this budget)
    assert all((video_root / s.path).is_file() for s in segments)
    assert big.is_file() and not old.exists()  # the sweep trims cuts past their hour, as the web process does
