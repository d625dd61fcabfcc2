"""An incident's clips over the API: scoped, played with HTTP Range, exported with the SHA-256 audited.

A file that no longer matches is refused as evidence; the live socket refuses strangers and the signed-out.

The clip is a real H.264 MP4 that ffmpeg encodes from its own test pattern, kept as the recorder keeps clips
(a file under the video root and its row in video_clips).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from tests.command_ui.conftest import PASSWORD
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY
from vision.config import VideoSettings, VisionSettings

SCHOOL = "antelope-park-es"
GATE = "antelope-park-cam-gate"
FINDING = datetime(2026, 3, 12, 4, 5, tzinfo=UTC)

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


@pytest.fixture
def video_root(tmp_path: Path) -> Path:
    return tmp_path / "video"


@pytest.fixture
def video_client(url: str, tmp_path: Path, video_root: Path) -> Iterator[TestClient]:
    settings = Settings(mode=Mode.PRODUCTION, database_url=url, secret_key=TEST_SECRET_KEY,
                        admin_password=TEST_ADMIN_PASSWORD, data_dir=tmp_path, cookie_secure=False,
                        vision=VisionSettings(video=VideoSettings(root=video_root)))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def clip_id(url: str, video_root: Path) -> int:
    """A 2-second clip of the gate camera kept with a new incident; returns the clip's id."""
    path = video_root / "clips" / "gate.mp4"
    path.parent.mkdir(parents=True)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
                    "-t", "2", "-c:v", "libx264", "-g", "10", "-movflags", "+faststart", str(path)], check=True)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    evidence = [{"kind": "intrusion", "ref": None, "time": FINDING.isoformat(), "summary": "intrusion",
                 "signal_id": "s-1", "source_id": GATE}]
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO incidents (school_id, type, severity, status, title, evidence, opened_at, updated_at)"
            " VALUES (%s, 'intrusion', 'high', 'raised', 'Intrusion', %s, %s, %s) RETURNING id",
            (SCHOOL, json.dumps(evidence), FINDING, FINDING)).fetchone()
        assert row is not None
        clip = conn.execute(
            "INSERT INTO video_clips (incident_id, camera_id, path, finding_at, start_at, end_at, bytes, sha256,"
            " created_at) VALUES (%s, %s, 'clips/gate.mp4', %s, %s, %s, %s, %s, %s) RETURNING id",
            (row[0], GATE, FINDING, FINDING - timedelta(seconds=10), FINDING + timedelta(seconds=20),
             path.stat().st_size, digest, FINDING)).fetchone()
        assert clip is not None
        return int(clip[0])


def sign_in(client: TestClient, url: str, role: str, own: bool) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT id FROM users WHERE role = %s AND scope_id {'=' if own else '<>'} %s"
                           " ORDER BY id LIMIT 1", (role, SCHOOL)).fetchone()
    assert row is not None
    assert client.post("/api/v1/auth/login", json={"username": row[0], "password": PASSWORD}).status_code == 200
    return str(row[0])


def audit(url: str, action: str) -> list[tuple[str, dict[str, object]]]:
    with psycopg.connect(url) as conn:
        return [(r[0], r[1]) for r in conn.execute(
            "SELECT actor, detail FROM audit_log WHERE action = %s ORDER BY id", (action,)).fetchall()]


def test_a_clip_plays_with_range_and_exports_with_its_sha256_audited(video_client: TestClient, url: str,
                                                                      clip_id: int, video_root: Path) -> None:
    me = sign_in(video_client, url, "school_admin", own=True)
    listed = video_client.get(f"/api/v1/video/incidents/{incident_of(url, clip_id)}/clips").json()
    assert [c["id"] for c in listed] == [clip_id] and listed[0]["url"] == f"/api/v1/video/clips/{clip_id}.mp4"

    whole = video_client.get(f"/api/v1/video/clips/{clip_id}.mp4")
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.headers.get("accept-ranges") == "bytes"
    part = video_client.get(f"/api/v1/video/clips/{clip_id}.mp4", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    # One look is one audit record: the player's later range requests are the same look.
    assert [a for a, _ in audit(url, "video.clip.view")] == [me]

    exported = video_client.get(f"/api/v1/video/clips/{clip_id}/export")
    digest = hashlib.sha256(exported.content).hexdigest()
    assert exported.status_code == 200 and exported.headers["x-content-sha256"] == digest
    assert "attachment" in exported.headers["content-disposition"]
    [(actor, detail)] = audit(url, "video.clip.export")
    assert actor == me and detail["sha256"] == digest and detail["camera_id"] == GATE

    # A file changed after it was cut is not handed out as evidence.
    with (video_root / "clips" / "gate.mp4").open("ab") as stream:
        stream.write(b"\0")
    assert video_client.get(f"/api/v1/video/clips/{clip_id}/export").status_code == 409
    assert len(audit(url, "video.clip.export")) == 1


def incident_of(url: str, clip_id: int) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT incident_id FROM video_clips WHERE id = %s", (clip_id,)).fetchone()
    assert row is not None
    return int(row[0])


def test_another_schools_admin_sees_no_clip_and_no_camera(video_client: TestClient, url: str, clip_id: int) -> None:
    sign_in(video_client, url, "school_admin", own=False)
    assert video_client.get(f"/api/v1/video/incidents/{incident_of(url, clip_id)}/clips").json() == []
    for path in (f"/api/v1/video/clips/{clip_id}.mp4", f"/api/v1/video/clips/{clip_id}/export",
                 "/api/v1/video/clips/999999.mp4"):
        assert video_client.get(path).status_code == 404, path
    with video_client.websocket_connect(f"/api/v1/video/live/{GATE}") as socket, \
            pytest.raises(WebSocketDisconnect) as closed:
        socket.receive_bytes()
    assert closed.value.code == 4404
    assert audit(url, "video.clip.view") == [] and len(audit(url, "video.live.denied")) == 1


def test_nobody_signed_in_gets_nothing(video_client: TestClient, clip_id: int) -> None:
    assert video_client.get(f"/api/v1/video/clips/{clip_id}.mp4").status_code == 401
    with video_client.websocket_connect(f"/api/v1/video/live/{GATE}") as socket, \
            pytest.raises(WebSocketDisconnect) as closed:
        socket.receive_bytes()
    assert closed.value.code == 4401


def test_a_role_not_allowed_unblurred_video_gets_none_even_at_its_own_school(video_client: TestClient, url: str,
                                                                            clip_id: int) -> None:
    sign_in(video_client, url, "guard", own=True)
    # The incident panel asks for clips whatever the role: the answer is simply none.
    assert video_client.get(f"/api/v1/video/incidents/{incident_of(url, clip_id)}/clips").json() == []
    for path in (f"/api/v1/video/clips/{clip_id}.mp4", f"/api/v1/video/clips/{clip_id}/export"):
        answer = video_client.get(path)
        assert answer.status_code == 403 and "blurred snapshot" in answer.json()["detail"], path
    with video_client.websocket_connect(f"/api/v1/video/live/{GATE}") as socket, \
            pytest.raises(WebSocketDisconnect) as closed:
        socket.receive_bytes()
    assert closed.value.code == 4403
    assert audit(url, "video.clip.view") == [] and len(audit(url, "video.live.denied")) == 1
