"""Video where people meet it, in Chromium: a camera's map popup plays it live, its timeline plays it recorded.

The popup test opens the gate camera's marker on the map of its school's admin: the live view plays, its burnt-in
clock close to the wall clock, and a guard of another school is refused the same camera. The timeline test
records the camera with the product's recorder, marks a finding on it, clicks the mark and checks that the
<video> plays from that moment: the clock burnt into the frame shown says so, to within a keyframe interval.

The camera is the demo's own server (campusguard/simulate/rtsp_h264.py through devtools/rtsp_h264_server.py):
a moving H.264 test picture, a keyframe a second, each frame carrying its time as blocks a page can read back
(:data:`campusguard.simulate.rtsp_h264.DECODE_JS`). The app and fixtures are tests/ui/test_video.py's.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect

from campusguard.simulate.rtsp_h264 import DECODE_JS
from store import video_repo
from tests.support.ingest import wait_for
from tests.ui.conftest import Site, person, sign_in
from tests.ui.test_video import GATE, SCHOOL, video_site
from vision.config import VideoSettings
from vision.video.playback import PlaybackGate
from vision.video.service import CameraFeed, VideoService

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed "
                                 "(scripts/bootstrap.sh installs it)")]
_ = video_site  # the fixture, imported for pytest to find: the app with the gate camera on a live server
GOP_MS = 1000  # the test camera's keyframe interval (10 frames at 10 fps)
GATE_NAME = "Antelope Park Elementary main gate"


def clock_of(page: Page, selector: str) -> dict[str, float | None]:
    """The burnt-in clock of the frame a <video> shows now, the browser's wall clock, and the video's time."""
    result = page.evaluate(f"""(selector) => {{
        const video = document.querySelector(selector);
        return {{ clock: ({DECODE_JS})(video), now: Date.now(), t: video.currentTime }};
    }}""", selector)
    assert isinstance(result, dict)
    return result


def test_a_cameras_map_popup_plays_it_live_and_a_guard_of_another_school_is_refused(
        video_site: tuple[Site, object], browser: Browser) -> None:
    site, _app = video_site
    contexts = [browser.new_context() for _ in range(2)]
    try:
        officer_page, guard_page = (c.new_page() for c in contexts)
        # The school's own admin: the map then holds one campus, so zooming into its cluster finds the camera
        # (a district officer's map clusters several campuses; tests/ui/test_video.py plays for an officer).
        officer = person(site, "school_admin", SCHOOL)
        sign_in(officer_page, site.base, officer)
        # The campus's devices are one numbered disc at first: a click zooms in until the gate camera stands alone.
        marker = officer_page.locator(f'.leaflet-marker-pane [aria-label^="Camera: {GATE_NAME}"]')
        for _ in range(6):
            if marker.count():
                break
            clusters = officer_page.locator(".device-cluster")
            if clusters.count():
                clusters.first.click()
            officer_page.wait_for_timeout(600)  # Leaflet's zoom animation
        marker.first.click()
        video = "[data-testid=live-video]"
        expect(officer_page.locator(f".camera-popup {video}")).to_have_attribute("data-camera", GATE)
        wait_for(lambda: bool(officer_page.evaluate(f"() => document.querySelector('{video}').currentTime > 1")),
                 30, "the popup's live video to advance")
        # The picture is live: the best of a few reads of the burnt-in clock is within 2 s of the wall clock.
        lags = []
        for _ in range(8):
            read = clock_of(officer_page, video)
            if read["clock"] is not None and read["now"] is not None:
                lags.append(read["now"] - read["clock"])
            officer_page.wait_for_timeout(250)
        assert lags, "no frame's clock could be read"
        assert -100 <= min(lags) <= 2000, lags

        # A guard of another school: no video for the role, and not this school's camera either.
        guard = site.one("SELECT id FROM users WHERE role = 'guard' AND scope_id <> %s ORDER BY id LIMIT 1", SCHOOL)
        assert isinstance(guard, str)
        sign_in(guard_page, site.base, guard)
        code = guard_page.evaluate("""(camera) => new Promise((resolve) => {
            const socket = new WebSocket(`ws://${location.host}/api/v1/video/live/${camera}`);
            socket.onclose = (event) => resolve(event.code);
        })""", GATE)
        assert code in (4403, 4404)

        # The popup's recordings: the live view stops and the camera's day takes its place (nothing recorded here).
        officer_page.locator(".camera-popup [data-testid=open-timeline]").click()
        expect(officer_page.locator(video)).to_have_count(0)
        expect(officer_page.locator(".camera-popup [data-testid=camera-timeline]")).to_have_attribute(
            "data-camera", GATE)
        expect(officer_page.locator("[data-testid=timeline-status]")).to_have_text("Nothing recorded in this time",
                                                                               timeout=20_000)
        officer_page.locator(".leaflet-popup-close-button").click()
        expect(officer_page.locator("[data-testid=camera-timeline]")).to_have_count(0)
    finally:
        for context in contexts:
            context.close()
    with psycopg.connect(site.db) as conn:
        rows = conn.execute("SELECT actor, action FROM audit_log WHERE target = %s ORDER BY id",
                            (f"camera:{GATE}",)).fetchall()
    assert (officer, "video.live.start") in rows and (guard, "video.live.denied") in rows


@pytest.fixture
def recording(video_site: tuple[Site, object], tmp_path: Path) -> Iterator[tuple[Site, datetime, object]]:
    """The gate camera recorded for a few 2-second segments, and a finding marked in the middle; and the app."""
    site, app = video_site
    url = site.one("SELECT config->>'rtsp_url' FROM devices WHERE id = %s", GATE)
    assert isinstance(url, str)
    service = VideoService(site.db, VideoSettings(root=tmp_path / "video", segment_s=2, disk_budget_gb=100,
                                                  tamper=False), [CameraFeed(GATE, url)]).start(sweeping=False)
    with psycopg.connect(site.db, autocommit=True) as conn:
        try:
            wait_for(lambda: len(video_repo.segments(conn, GATE)) >= 4, 60, "four segments")
        finally:
            service.stop()
        segments = video_repo.segments(conn, GATE)
        finding = segments[1].start_at + timedelta(seconds=1.5)
        conn.execute("INSERT INTO device_events (device_id, time, kind, received_at) VALUES (%s, %s, 'intrusion', %s)",
                     (GATE, finding, finding))
    yield site, finding, app


def test_a_finding_marked_on_the_timeline_plays_the_recording_from_that_moment(
        recording: tuple[Site, datetime, object], page: Page) -> None:
    site, finding, app = recording
    sign_in(page, site.base, person(site, "school_admin", SCHOOL))
    page.evaluate("""async (camera) => {
        const { cameraTimeline } = await import('/static/js/video-timeline.js');
        document.body.append(cameraTimeline(camera));
    }""", GATE)
    expect(page.locator("[data-testid=timeline-span]")).to_have_count(1)
    mark = page.locator("[data-testid=timeline-mark]")
    expect(mark).to_have_count(1)
    assert datetime.fromisoformat(mark.get_attribute("data-at") or "") == finding
    assert "intrusion" in (mark.get_attribute("title") or "").lower()
    mark.click()
    video = "[data-testid=playback-video]"
    wait_for(lambda: bool(page.evaluate(f"() => document.querySelector('{video}').currentTime > 0.5")), 30,
             "the recording to play")
    page.evaluate(f"() => document.querySelector('{video}').pause()")
    read = clock_of(page, video)
    start_at = datetime.fromisoformat(page.get_attribute(video, "data-start-at") or "")
    assert read["clock"] is not None and read["t"] is not None
    # The frame shown was made at the cut's start plus the video's time; the cut starts at the keyframe at or
    # before the finding. The clock is stamped before encoding and the recorder dates arrival, hence the slack.
    shown_start = datetime.fromtimestamp((read["clock"] - read["t"] * 1000) / 1000, UTC)
    slack = timedelta(milliseconds=500)
    assert finding - timedelta(milliseconds=GOP_MS) - slack <= shown_start <= finding + slack
    assert abs(shown_start - start_at) <= slack
    expect(page.locator("[data-testid=timeline-status]")).to_contain_text("Playing from")

    # A person who has asked for too many moments lately (a share of none here) is told to try again soon. In a
    # second tab of the same session: the browser logs the 429 as a console error, which fails the page fixture.
    assert isinstance(app, FastAPI)
    app.state.playback_gate = PlaybackGate(per_person=0)
    tab = page.context.new_page()
    tab.goto(page.url)
    tab.evaluate("""async (camera) => {
        const { cameraTimeline } = await import('/static/js/video-timeline.js');
        document.body.append(cameraTimeline(camera));
    }""", GATE)
    tab.locator("[data-testid=timeline-mark]").click()
    expect(tab.locator("[data-testid=timeline-status]")).to_have_text(
        "Too many recordings asked for just now: try again in a moment")
