"""Live video in Chromium: a real camera plays, viewers share one upstream, another school's admin is refused.

The upstream stops with the last viewer; every view and refusal is audited.

The camera is devtools/rtsp_h264_server.py (a moving test picture, H.264); the app is the real one under
uvicorn, its gate camera pointed at that server; the page is Debian's Chromium running js/video-player.js
with mpegts.js from npm.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import uvicorn
from playwright.sync_api import Browser, Page

from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from command_ui.routers.auth import HASHER
from devtools.devservices import free_port
from tests.support.ingest import prepare_database, wait_for
from tests.support.rtsp import RtspServer, unavailable_reason
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY
from tests.ui.conftest import CHROMIUM_ARGS, PASSWORD, Site, person, sign_in
from vision.config import VideoSettings, VisionSettings
from vision.video.clips import sha256_of
from vision.video.live import LiveRelay

H264_SERVER = Path(__file__).resolve().parents[2] / "devtools" / "rtsp_h264_server.py"
SCHOOL = "antelope-park-es"
GATE = "antelope-park-cam-gate"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed "
                                 "(scripts/bootstrap.sh installs it)")]
_ = CHROMIUM_ARGS  # the browser fixture's arguments: the same Chromium as every UI test


@pytest.fixture
def video_site(fresh_database_url: str, tmp_path: Path) -> Iterator[tuple[Site, object]]:
    """The app on a fresh district whose gate camera is a live H.264 RTSP server; yields the site and the app."""
    if (reason := unavailable_reason()) is not None:
        pytest.skip(reason)
    root = tmp_path / "h264"
    (root / GATE).mkdir(parents=True)
    with RtspServer(root, fps=10, script=H264_SERVER) as camera:
        prepare_database(fresh_database_url)
        with psycopg.connect(fresh_database_url) as conn:
            conn.execute("UPDATE users SET password_hash = %s", (HASHER.hash(PASSWORD),))
            conn.execute("UPDATE devices SET config = jsonb_set(config, '{rtsp_url}', to_jsonb(%s::text))"
                         " WHERE id = %s", (camera.url(GATE), GATE))
        settings = Settings(mode=Mode.PRODUCTION, database_url=fresh_database_url, secret_key=TEST_SECRET_KEY,
                            admin_password=TEST_ADMIN_PASSWORD, data_dir=tmp_path, cookie_secure=False,
                            vision=VisionSettings(video=VideoSettings(root=tmp_path / "video")))
        app = create_app(settings)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, name="ui-video-server")
        thread.start()
        try:
            wait_for(lambda: server.started, 20, "uvicorn to start")
            yield Site(f"http://127.0.0.1:{port}", fresh_database_url), app
        finally:
            server.should_exit = True
            thread.join(timeout=30)


def watch(page: Page, camera: str) -> None:
    """Start the player for ``camera`` on the page, as a panel would."""
    page.evaluate("""async (camera) => {
        const { liveVideo } = await import('/static/js/video-player.js');
        const view = liveVideo(camera);
        document.body.append(view.element);
        window.stopVideo = view.stop;
    }""", camera)


def playing_for(page: Page, seconds: float) -> bool:
    """Whether the page's live <video> has played past ``seconds``."""
    return bool(page.evaluate("(s) => (document.querySelector('[data-testid=live-video]')?.currentTime ?? 0) > s",
                              seconds))


def test_live_view_plays_shares_one_upstream_and_refuses_another_school(
        video_site: tuple[Site, object], browser: Browser) -> None:
    site, app = video_site
    contexts = [browser.new_context() for _ in range(3)]
    try:
        first, second, stranger = (c.new_page() for c in contexts)
        sign_in(first, site.base, person(site, "school_admin", SCHOOL))
        officer = site.one("SELECT u.id FROM users u JOIN org_units o ON o.id = u.scope_id"
                           " WHERE u.role = 'district_officer' AND (SELECT path FROM org_units WHERE id = %s)"
                           " LIKE o.path || '%%' ORDER BY u.id LIMIT 1", SCHOOL)
        assert isinstance(officer, str)
        sign_in(second, site.base, officer)
        watch(first, GATE)
        wait_for(lambda: playing_for(first, 1.0), 30, "the first viewer's video to advance")
        watch(second, GATE)
        wait_for(lambda: playing_for(second, 1.0), 30, "the second viewer's video to advance")
        relay = app.state.video_relay  # type: ignore[attr-defined]
        assert isinstance(relay, LiveRelay)
        assert relay.started == 1 and relay.upstreams == 1 and relay.viewers(GATE) == 2

        # Another school's admin: the socket opens and is closed with 4404, as for a camera that does not exist.
        other = site.one("SELECT id FROM users WHERE role = 'school_admin' AND scope_id <> %s ORDER BY id LIMIT 1",
                         SCHOOL)
        assert isinstance(other, str)
        sign_in(stranger, site.base, other)
        code = stranger.evaluate("""(camera) => new Promise((resolve) => {
            const socket = new WebSocket(`ws://${location.host}/api/v1/video/live/${camera}`);
            socket.onclose = (event) => resolve(event.code);
        })""", GATE)
        assert code == 4404
        assert relay.viewers(GATE) == 2

        # The last viewer leaving stops the upstream; each view's end is audited with how long it lasted.
        first.evaluate("window.stopVideo()")
        wait_for(lambda: relay.viewers(GATE) == 1, 15, "the first viewer to leave")
        second.evaluate("window.stopVideo()")
        wait_for(lambda: relay.upstreams == 0, 15, "the upstream to stop")
    finally:
        for context in contexts:
            context.close()

    def audited() -> list[tuple[str, str, dict[str, float]]]:
        with psycopg.connect(site.db) as conn:
            return conn.execute("SELECT actor, action, detail FROM audit_log WHERE target = %s ORDER BY id",
                                (f"camera:{GATE}",)).fetchall()

    # A view's end is written as its socket's handler finishes, which may be after the upstream has stopped.
    wait_for(lambda: [r[1] for r in audited()].count("video.live.end") >= 2, 15, "both views' ends audited")
    rows = audited()
    actions = [r[1] for r in rows]
    assert actions.count("video.live.start") == 2 and actions.count("video.live.end") == 2
    assert actions.count("video.live.denied") == 1
    assert all(r[2]["seconds"] > 0 for r in rows if r[1] == "video.live.end")


def test_an_incidents_clip_plays_in_the_panel(video_site: tuple[Site, object], page: Page, tmp_path: Path) -> None:
    site, _ = video_site
    clip = tmp_path / "video" / "clips" / "1-gate.mp4"
    clip.parent.mkdir(parents=True)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
                    "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10", "-movflags", "+faststart",
                    str(clip)], check=True)
    now = datetime.now(UTC)
    evidence = json.dumps([{"kind": "intrusion", "ref": None, "time": now.isoformat(), "summary": "intrusion",
                            "signal_id": "s-1", "source_id": GATE}])
    with psycopg.connect(site.db, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO incidents (school_id, type, severity, status, title, evidence, opened_at, updated_at)"
            " VALUES (%s, 'intrusion', 'high', 'raised', 'Intrusion', %s, %s, %s) RETURNING id",
            (SCHOOL, evidence, now, now)).fetchone()
        assert row is not None
        kept = conn.execute(
            "INSERT INTO video_clips (incident_id, camera_id, path, finding_at, start_at, end_at, bytes, sha256,"
            " created_at) VALUES (%s, %s, 'clips/1-gate.mp4', %s, %s, %s, %s, %s, %s) RETURNING id",
            (row[0], GATE, now, now - timedelta(seconds=10), now + timedelta(seconds=20), clip.stat().st_size,
             sha256_of(clip), now)).fetchone()
        assert kept is not None
    sign_in(page, site.base, person(site, "school_admin", SCHOOL))
    page.evaluate("""async (id) => {
        const { incidentClips } = await import('/static/js/video-player.js');
        document.body.append(incidentClips(id));
    }""", row[0])
    video = page.wait_for_selector("[data-testid=clip-video]")
    assert video is not None
    page.evaluate("() => { const v = document.querySelector('[data-testid=clip-video]'); v.muted = true; v.play(); }")
    wait_for(lambda: bool(page.evaluate("() => document.querySelector('[data-testid=clip-video]').currentTime > 1")),
             20, "the clip to play")
    export = page.get_attribute("[data-testid=incident-clips] a[download]", "href")
    assert export == f"/api/v1/video/clips/{kept[0]}/export"
