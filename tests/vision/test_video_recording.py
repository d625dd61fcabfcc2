"""Continuous recording, retention, the disk budget and incident clips, with a real H.264 RTSP camera and ffmpeg.

The camera is devtools/rtsp_h264_server.py (a moving test picture, one keyframe a second at 10 fps); the
recorder is the product's, writing 2-second segments into a real PostgreSQL index. Times of frames are known
from the index: a segment's first packet arrived at its ``start_at`` and each packet's offset within the file
is its distance from that, so a clip's frames can be placed on the clock and checked against the window.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from store import video_repo
from tests.support.ingest import prepare_database, wait_for
from tests.support.rtsp import RtspServer
from vision.config import VideoSettings
from vision.video.ffmpeg import probe_frames
from vision.video.segments import BadListLineError, Stored, parse_list_line, sweep
from vision.video.service import OK, SHORT, CameraFeed, VideoService
from vision.video.tamper import TamperParams, TamperState

H264_SERVER = Path(__file__).resolve().parents[2] / "devtools" / "rtsp_h264_server.py"
SCHOOL = "antelope-park-es"
GATE = "antelope-park-cam-gate"
FPS = 10
T0 = datetime(2026, 3, 12, 4, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed "
                                "(scripts/bootstrap.sh installs it)")


def run_of(path: str) -> str:
    """The recorder run a segment file belongs to (its name is ``<run>-<number>.ts``)."""
    return path.rsplit("/", 1)[1].split("-")[0]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- The pure rules ------------------------------------------------------------------------------------------


def test_segment_list_lines_give_wall_clock_spans_and_bad_lines_a_reason() -> None:
    listed = parse_list_line("171-000003.ts,1796558640.708733,1796558644.708678\n")
    assert listed.name == "171-000003.ts"
    assert listed.start_at == datetime.fromtimestamp(1796558640.708733, UTC)
    assert listed.end_at == datetime.fromtimestamp(1796558644.708678, UTC)
    assert parse_list_line("171-000000.ts,0.000000,1796558640.7").start_at is None  # ffmpeg's first segment
    for bad in ("", "just-a-name", "a.ts,x,y", "a.ts,0,12.5", "../evil.ts,1796558640,1796558641"):
        with pytest.raises(BadListLineError):
            parse_list_line(bad)


def seg(i: int, camera: str, start_min: float, size: int = 100) -> Stored:
    start = T0 + timedelta(minutes=start_min)
    return Stored(i, camera, start, start + timedelta(minutes=1), size)


def test_retention_expires_per_camera_and_the_budget_evicts_oldest_first_across_cameras() -> None:
    now = T0 + timedelta(days=10)
    retention = {"a": timedelta(days=30), "b": timedelta(hours=1)}.__getitem__
    segments = [seg(1, "a", 0), seg(2, "b", 1), seg(3, "a", 2), seg(4, "b", 14390), seg(5, "a", 14391)]
    # b's first minute is past b's hour; everything else within retention and within a roomy budget.
    roomy = sweep(segments, now, retention, budget_bytes=10_000_000)
    assert roomy.expired == (2,) and roomy.over_budget == () and roomy.short == frozenset()
    # Room for two segments: the two oldest kept ones (a's, minutes 0 and 2) go first, whoever's camera.
    tight = sweep(segments, now, retention, budget_bytes=250)
    assert tight.expired == (2,) and tight.over_budget == (1, 3)
    assert tight.short == frozenset({"a", "b"})  # a lost in-retention video; 30 days of both cannot fit 250 B
    assert tight.evict == (2, 1, 3)


def test_the_alarm_sees_a_budget_too_small_for_the_retention_before_anything_is_lost() -> None:
    now = T0 + timedelta(minutes=10)
    retention = {"a": timedelta(days=30)}.__getitem__
    segments = [seg(i, "a", i, size=1000) for i in range(5)]  # 1000 B a minute: 30 days need 43.2 MB
    plan = sweep(segments, now, retention, budget_bytes=40_000_000)
    assert plan.evict == () and plan.short == frozenset({"a"})
    assert plan.needed_bytes == 1000 * 60 * 24 * 30
    assert sweep(segments, now, retention, budget_bytes=50_000_000).short == frozenset()


# --- The recorder, the index, the sweep and clips, end to end ------------------------------------------------


@pytest.fixture
def h264_camera(rtsp_available: None, tmp_path: Path) -> Iterator[str]:
    """The URL of a live H.264 camera served as the example district's gate camera."""
    root = tmp_path / "h264"
    (root / GATE).mkdir(parents=True)
    with RtspServer(root, fps=FPS, script=H264_SERVER) as server:
        yield server.url(GATE)


def open_incident(conn: psycopg.Connection, finding_at: datetime) -> int:
    """Open a camera incident whose evidence is a finding of the gate camera at ``finding_at``."""
    evidence = [{"kind": "intrusion", "ref": None, "time": finding_at.isoformat(), "summary": "intrusion",
                 "signal_id": "sig-1", "source_id": GATE}]
    row = conn.execute(
        "INSERT INTO incidents (school_id, type, severity, status, title, evidence, opened_at, updated_at)"
        " VALUES (%s, 'intrusion', 'high', 'raised', 'Intrusion', %s, %s, %s) RETURNING id",
        (SCHOOL, json.dumps(evidence), finding_at, finding_at)).fetchone()
    assert row is not None
    return int(row[0])


def test_recording_survives_sigkill_and_a_clip_matches_its_window_to_the_keyframe(
        request: pytest.FixtureRequest, fresh_database_url: str, tmp_path: Path, h264_camera: str) -> None:
    prepare_database(fresh_database_url)
    settings = VideoSettings(root=tmp_path / "video", segment_s=2, clip_before_s=3, clip_after_s=4,
                             disk_budget_gb=100)
    service = VideoService(fresh_database_url, settings, [CameraFeed(GATE, h264_camera)]).start(sweeping=False)
    conn = psycopg.connect(fresh_database_url, autocommit=True)
    request.addfinalizer(conn.close)  # closed however the test ends (a leak would fail the next test instead)
    try:
        recorder = service.recorders[GATE]
        wait_for(lambda: len(video_repo.segments(conn, GATE)) >= 3, 30, "three segments")
        before = video_repo.segments(conn, GATE)
        # A kill mid-segment (the open one holds a few frames already): ffmpeg gets no chance to close anything.
        folder = service.folder(GATE)

        def open_segment_has_frames() -> bool:
            indexed = {Path(s.path).name for s in video_repo.segments(conn, GATE)}
            return any(p.stat().st_size > 4000 for p in folder.glob("*.ts") if p.name not in indexed)

        wait_for(open_segment_has_frames, 30, "frames in the open segment")
        before = video_repo.segments(conn, GATE)
        hashes = {s.path: sha(service.root / s.path) for s in before}
        pid = recorder.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: recorder.runs >= 2 and len({run_of(s.path) for s in
                                                     video_repo.segments(conn, GATE)}) >= 2, 30, "the restarted run")
        restarted = next(s for s in video_repo.segments(conn, GATE) if run_of(s.path) != run_of(before[0].path))
        # The window lies in the new run: 0.5 s after its first keyframe to 7.5 s; a clip across the kill
        # would play the two sides joined, the gap left out.
        finding_at = restarted.start_at + timedelta(seconds=3.5)
        incident = open_incident(conn, finding_at)
        wait_for(lambda: video_repo.segments(conn, GATE)[-1].end_at > finding_at + timedelta(seconds=5), 30,
                 "segments past the window")
    finally:
        service.stop()
    after = video_repo.segments(conn, GATE)

    # Every earlier segment is intact, byte for byte, and every indexed one plays from a keyframe.
    assert {s.path: sha(service.root / s.path) for s in before} == hashes
    assert recorder.failures == 0
    for s in after:
        frames = probe_frames("ffprobe", service.root / s.path)
        assert frames.times and frames.keyframes[0], s.path
        assert s.end_at >= s.start_at
    # The segment open at the kill was indexed from the killed run too (it plays up to its last packet).
    killed_run = run_of(before[0].path)
    assert len([s for s in after if run_of(s.path) == killed_run]) > len(before)
    assert all(a.start_at <= b.start_at for a, b in itertools.pairwise(after))

    # The incident's clip: from the keyframe at or before the window's start to the last frame before its end.
    service = VideoService(fresh_database_url, settings, [])
    try:
        made = service.clips_once(datetime.now(UTC))
        assert len(made) == 1
        clip = video_repo.clip(conn, made[0])
        assert clip is not None and clip.incident_id == incident and clip.school_id == SCHOOL
        start, end = finding_at - timedelta(seconds=3), finding_at + timedelta(seconds=4)
        gop = timedelta(seconds=1)  # the camera's keyframe interval
        frame = timedelta(seconds=1 / FPS)
        assert start - gop - frame <= clip.start_at <= start
        assert end - 2 * frame <= clip.end_at < end
        path = service.root / clip.path
        frames = probe_frames("ffprobe", path)
        assert frames.keyframes[0]
        # The file itself spans what the index says: the index dates frames by their arrival, so the bound is
        # the stream's structure (one keyframe interval), not a claim about how fast this machine delivered them.
        span = (clip.end_at - clip.start_at).total_seconds()
        assert abs((frames.times[-1] - frames.times[0]) - span) <= gop.total_seconds()
        assert sha(path) == clip.sha256 and clip.bytes == path.stat().st_size
        audit = conn.execute("SELECT detail FROM audit_log WHERE action = 'video.clip.create'").fetchone()
        assert audit is not None and audit[0]["sha256"] == clip.sha256
        assert service.clips_once(datetime.now(UTC)) == []  # one clip per incident

        # The sweep: a budget of two segments' bytes evicts the oldest first and raises the alarm once ...
        keep = sum(s.bytes for s in after[-2:])
        service.settings = settings.model_copy(update={"disk_budget_gb": keep / 1e9})
        plan = service.sweep_once(datetime.now(UTC))
        left = video_repo.segments(conn, GATE)
        assert [s.id for s in left] == [s.id for s in after[-2:]]
        assert set(plan.over_budget) == {s.id for s in after[:-2]}
        assert not any((service.root / s.path).exists() for s in after[:-2])
        service.sweep_once(datetime.now(UTC))
        kinds = conn.execute("SELECT kind FROM device_events WHERE device_id = %s AND kind LIKE 'video_%%'"
                             " ORDER BY time", (GATE,)).fetchall()
        assert [k[0] for k in kinds] == [SHORT]
        # ... and clears it once the budget holds 30 days again; retention later expires what is left.
        service.settings = settings.model_copy(update={"disk_budget_gb": 1000})
        service.sweep_once(datetime.now(UTC) + timedelta(seconds=1))
        plan = service.sweep_once(datetime.now(UTC) + timedelta(days=31))
        assert set(plan.expired) == {s.id for s in left} and video_repo.segments(conn, GATE) == []
        kinds = conn.execute("SELECT kind FROM device_events WHERE device_id = %s AND kind LIKE 'video_%%'"
                             " ORDER BY time", (GATE,)).fetchall()
        assert [k[0] for k in kinds] == [SHORT, OK]
        # The clip stays with its incident beyond the rolling retention.
        assert path.is_file() and video_repo.clip(conn, made[0]) is not None
    finally:
        service.stop()


def test_a_covered_lens_raises_tamper_and_uncovering_it_clears(fresh_database_url: str, tmp_path: Path,
                                                               rtsp_available: None) -> None:
    prepare_database(fresh_database_url)
    root = tmp_path / "h264"
    (root / GATE).mkdir(parents=True)
    (root / GATE / "pattern").write_text("smpte")  # colour bars: a picture with light and edges
    settings = VideoSettings(root=tmp_path / "video", segment_s=2, disk_budget_gb=100)
    with RtspServer(root, fps=FPS, script=H264_SERVER) as camera, \
            psycopg.connect(fresh_database_url, autocommit=True) as conn:
        service = VideoService(fresh_database_url, settings, [CameraFeed(GATE, camera.url(GATE))])
        service.start(sweeping=False)

        def events() -> list[tuple[str, str]]:
            rows = conn.execute("SELECT kind, detail->>'reason' FROM device_events WHERE device_id = %s"
                                " AND kind LIKE 'camera_tamper%%' ORDER BY time", (GATE,)).fetchall()
            return [(str(r[0]), str(r[1])) for r in rows]

        try:
            wait_for(lambda: service.tamper.get(GATE, TamperState()).learned >= TamperParams().learn, 60,
                     "the baseline learned")
            assert events() == []
            # A bag over the lens: the camera (restarted to show black) goes on sending, a dark picture.
            (root / GATE / "pattern").write_text("black")
            camera.stop()
            camera.start()
            wait_for(lambda: events() == [("camera_tamper", "covered")], 60, "tamper raised")
            (root / GATE / "pattern").write_text("smpte")
            camera.stop()
            camera.start()
            wait_for(lambda: len(events()) == 2, 60, "tamper cleared")
        finally:
            service.stop()
    assert events_kinds(fresh_database_url) == [("camera_tamper", "covered"), ("camera_tamper_cleared", "covered")]


def events_kinds(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT kind, detail->>'reason' FROM device_events WHERE kind LIKE 'camera_tamper%%'"
                            " ORDER BY time").fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


@pytest.mark.parametrize(("raised", "cleared", "incident_type"), [
    (SHORT, OK, "video_storage_short"), ("camera_tamper", "camera_tamper_cleared", "camera_tamper")])
def test_the_alert_stage_turns_video_alarms_into_incidents_and_ends_them(
        fresh_database_url: str, raised: str, cleared: str, incident_type: str) -> None:
    from alerts.escalation import EscalationPolicy
    from alerts.rules import load_rules
    from alerts.service import AlertService

    prepare_database(fresh_database_url)
    service = AlertService(fresh_database_url, load_rules(), EscalationPolicy(), [])
    now = datetime.now(UTC)
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        for kind, at in ((raised, now), (cleared, now + timedelta(seconds=1))):
            conn.execute("INSERT INTO device_events (device_id, time, kind, received_at, detail)"
                         " VALUES (%s, %s, %s, %s, '{}')", (GATE, at, kind, at))
            service.decide_pending()
        rows = conn.execute("SELECT type, school_id, cleared_at IS NOT NULL OR status IN ('resolved', 'closed')"
                            " FROM incidents").fetchall()
    assert rows == [(incident_type, SCHOOL, True)]
