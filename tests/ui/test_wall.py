"""The command centre's wall (/wall) in Chromium, at the wall's 1920 by 1080.

A panic pressed reaches the wall through the live feed with a flash and the alarm; the wall survives a server
restart (it says it is reconnecting, then resumes and shows what was raised after); a guard cannot open it
(the page says whose it is, the counters answer 403: decided so because the wall is a district-wide view and
a guard's page is /guard); and it speaks Chinese. A camera incident's camera plays live in a tile (the H.264 RTSP
test server) until the incident is resolved, when the tile and the camera's upstream go; an account the site
does not let watch video sees the incident's blurred snapshot in the tile instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import uvicorn
from PIL import Image
from playwright.sync_api import Browser, Page, ViewportSize, expect

from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from command_ui.routers.auth import HASHER
from command_ui.routers.wall import MOST_ASKED
from devtools.devservices import free_port
from store import alarm_repo, vision_repo
from tests.command_ui.district import add_incident
from tests.support.ingest import prepare_database, wait_for
from tests.support.rtsp import RtspServer, unavailable_reason
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY
from tests.ui.conftest import PASSWORD, Site, person, sign_in
from tests.ui.test_accessibility import AXE, RUN_AXE, WCAG
from tests.ui.test_video import GATE, H264_SERVER, SCHOOL, playing_for
from tests.ui.test_zh_cn import _check, _names
from vision.config import VideoSettings, VisionSettings
from vision.video.live import LiveRelay

pytestmark = pytest.mark.slow

WALL: ViewportSize = {"width": 1920, "height": 1080}
PANIC = "antelope-park-office-panic-1"
FEED = 15_000  # ms: what the live feed and its reconnection may take on a busy machine
SMALLEST_TEXT = """() => Math.min(...[...document.querySelectorAll('.wall-side *, .ticker li')]
    .filter((el) => [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()))
    .map((el) => parseFloat(getComputedStyle(el).fontSize)))"""


def _open_wall(page: Page, site: Site, user: str) -> None:
    page.set_viewport_size(WALL)
    sign_in(page, site.base, user)
    page.goto(f"{site.base}/wall")
    page.wait_for_selector("body[data-ready=true]")


def test_a_panic_reaches_the_wall_with_a_flash_and_the_counters(site: Site, page: Page) -> None:
    _open_wall(page, site, person(site, "district_officer"))
    expect(page.locator("body")).to_have_attribute("data-live", "live", timeout=FEED)
    expect(page.locator("#wall-incidents .empty")).to_be_visible()
    expect(page.locator("#counters li[data-counter=critical] .value")).to_have_text("0")
    expect(page.locator("#clock")).not_to_be_empty()
    expect(page.locator("#zone")).to_contain_text("Central")  # the site's zone by name, not the browser's

    # Where the browser holds sound until a click (a kiosk without --autoplay-policy=no-user-gesture-required)
    # the wall says so, and one click on it arms the alarm. Headless Chromium sometimes lets the audio context
    # start at once (its state races the page's first check), so the click is made only when it is asked for.
    if page.locator("#sound-off").is_visible():
        page.locator("#sound-off").click()
    expect(page.locator("#sound-off")).to_be_hidden()

    site.raise_panic(PANIC)
    incident = site.one("SELECT id FROM incidents WHERE type = 'panic'")
    row = page.locator(f"#wall-incidents li[data-incident-id='{incident}']")
    expect(row).to_be_visible(timeout=FEED)
    expect(row).to_have_attribute("data-severity", "critical")
    expect(page.locator("#flash")).to_be_visible()
    expect(page.locator("#flash")).to_have_attribute("data-incident-id", str(incident))
    expect(page.locator("body")).to_have_attribute("data-alarms", "1")
    expect(page.locator("body")).to_have_attribute("data-rang", "1")
    expect(page.locator(f"#ticker li[data-incident-id='{incident}']")).to_have_count(1)
    expect(page.locator(f".incident-marker .pulse-ring[data-incident-id='{incident}']")).to_be_visible()
    expect(page.locator("#counters li[data-counter=critical] .value")).to_have_text("1", timeout=FEED)
    expect(page.locator("#counters li[data-counter=unacknowledged]")).to_have_attribute("data-alert", "true")
    # Nothing to scroll on a wall, and its smallest text is readable from three metres (20 px at 1080 lines).
    assert page.evaluate("document.scrollingElement.scrollHeight <= innerHeight")
    assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    assert page.evaluate(SMALLEST_TEXT) >= 20
    page.screenshot(path="/tmp/campusguard-wall.png")
    # The same at 3840 by 2160: everything scales with the screen, still nothing to scroll.
    page.set_viewport_size({"width": 3840, "height": 2160})
    assert page.evaluate("document.scrollingElement.scrollHeight <= innerHeight")
    assert page.evaluate(SMALLEST_TEXT) >= 40


def test_a_guard_cannot_open_the_wall(site: Site, page: Page) -> None:
    guard = person(site, "guard", "antelope-park-es")
    sign_in(page, site.base, guard)
    expect(page.locator("#nav a[href='/wall']")).to_have_count(0)
    page.goto(f"{site.base}/wall")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#refused")).to_be_visible()
    expect(page.locator("#wall")).to_be_hidden()
    assert page.request.get(f"{site.base}/api/v1/wall/counts").status == 403


def test_the_wall_in_chinese(site: Site, page: Page) -> None:
    site.raise_panic(PANIC)
    with psycopg.connect(site.db) as conn:
        conn.execute("UPDATE users SET locale = 'zh-CN'")
    officer = person(site, "district_officer")
    _open_wall(page, site, officer)
    expect(page.locator("#nav")).to_have_count(0)
    expect(page.locator(".wall-bar h1")).to_have_text("指挥中心")
    expect(page.locator("#counters li[data-counter=buses_out] .name")).to_have_text("在途校车")
    expect(page.locator("#wall-incidents li[data-severity=critical]")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-live", "live", timeout=FEED)
    expect(page.locator("#ticker li")).to_have_count(1)  # the list and the feed's first word: one line
    # The basemap's streets and parks are place names, like the site file's: shown as named.
    places = page.eval_on_selector_all(".map-label-text", "labels => labels.map((l) => l.textContent)")
    problems: dict[str, dict[str, str]] = {}
    _check(page, sorted({*_names(site), *places}, key=len, reverse=True), "/wall", problems)
    assert not problems, problems
    page.screenshot(path="/tmp/campusguard-wall-zh-cn.png")


# --- A restart: the app stops and comes back on the same port -----------------------------------------------------

class Restartable:
    """The app under uvicorn on a fixed port, stopped and started again as a deployment would restart it."""

    def __init__(self, db: str, data_dir: Path) -> None:
        self.db = db
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.settings = Settings(mode=Mode.PRODUCTION, database_url=db, secret_key=TEST_SECRET_KEY,
                                 admin_password=TEST_ADMIN_PASSWORD, data_dir=data_dir, cookie_secure=False)
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(create_app(self.settings), host="127.0.0.1", port=self.port, log_level="warning",
                                timeout_graceful_shutdown=2)
        server = uvicorn.Server(config)
        self.server, self.thread = server, threading.Thread(target=server.run, name="wall-test-server")
        self.thread.start()
        wait_for(lambda: server.started, 20, "uvicorn to start")

    def stop(self) -> None:
        if self.server and self.thread:
            self.server.should_exit = True
            self.thread.join(timeout=30)
            assert not self.thread.is_alive()
        self.server = self.thread = None


@pytest.fixture
def restartable(fresh_database_url: str, tmp_path: Path) -> Iterator[Restartable]:
    prepare_database(fresh_database_url)
    with psycopg.connect(fresh_database_url) as conn:
        conn.execute("UPDATE users SET password_hash = %s", (HASHER.hash(PASSWORD),))
    app = Restartable(fresh_database_url, tmp_path)
    app.start()
    try:
        yield app
    finally:
        app.stop()


def test_the_wall_resumes_after_the_server_restarts(restartable: Restartable, browser: Browser) -> None:
    site = Site(restartable.base, restartable.db)
    # Not the ``page`` fixture: while the server is away the browser logs refused connections as errors, which
    # is the point here. Script errors still fail the test.
    context = browser.new_context(viewport=WALL)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        _open_wall(page, site, person(site, "district_officer"))
        expect(page.locator("body")).to_have_attribute("data-live", "live", timeout=FEED)

        restartable.stop()
        expect(page.locator("body")).to_have_attribute("data-live", "reconnecting", timeout=FEED)
        expect(page.locator("#live-status")).to_contain_text("Reconnecting")
        restartable.start()
        expect(page.locator("body")).to_have_attribute("data-live", "live", timeout=60_000)

        site.raise_panic(PANIC)
        incident = site.one("SELECT id FROM incidents WHERE type = 'panic'")
        expect(page.locator(f"#wall-incidents li[data-incident-id='{incident}']")).to_be_visible(timeout=FEED)
        expect(page.locator("body")).to_have_attribute("data-alarms", "1")
        expect(page.locator("#counters li[data-counter=critical] .value")).to_have_text("1", timeout=FEED)
    finally:
        context.close()
    assert not errors, errors


def test_a_drill_is_shown_as_a_drill_and_never_rings(site: Site, page: Page) -> None:
    """A school in drill mode presses its panic button: the wall lists it as a drill, with no flash, no sound."""
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(site.db) as conn:
        alarm_repo.start_drill_mode(conn, "antelope-park-es", "fire drill", "hannah-larsen", now,
                                    now + dt.timedelta(hours=1))
    _open_wall(page, site, person(site, "district_officer"))
    expect(page.locator("body")).to_have_attribute("data-live", "live", timeout=FEED)
    if page.locator("#sound-off").is_visible():  # armed, so that silence below is the drill's, not the browser's
        page.locator("#sound-off").click()
    expect(page.locator("#sound-off")).to_be_hidden()
    site.raise_panic(PANIC)
    incident = site.one("SELECT id FROM incidents WHERE type = 'panic' AND drill")
    assert incident is not None
    row = page.locator(f"#wall-incidents li[data-incident-id='{incident}']")
    expect(row).to_be_visible(timeout=FEED)
    expect(row).to_have_attribute("data-drill", "true")
    expect(row).to_have_class(re.compile(r"\bdrill\b"))
    expect(row).not_to_have_class(re.compile(r"sev-critical"))
    expect(row.locator("[data-badge=drill]")).to_be_visible()
    marker = page.locator(".incident-marker", has=page.locator(f".pulse-ring[data-incident-id='{incident}']"))
    expect(marker).to_have_class(re.compile(r"\bdrill\b"))
    expect(marker).not_to_have_class(re.compile(r"sev-critical"))
    # The counters (which leave drills out) were read after it came, and still no flash nor sound.
    expect(page.locator(f"#ticker li[data-incident-id='{incident}']")).to_have_count(1)
    expect(page.locator("#counters li[data-counter=critical] .value")).to_have_text("0")
    expect(page.locator("#flash")).to_be_hidden()
    assert page.locator("body").get_attribute("data-alarms") is None
    assert page.locator("body").get_attribute("data-rang") is None


def test_a_burst_of_incidents_reads_the_counters_once(site: Site, page: Page) -> None:
    """Many open incidents replayed on connect: one read of the counters for the burst, not one per message."""
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(site.db) as conn:
        for minutes in range(8):
            add_incident(conn, "antelope-park-es", now - dt.timedelta(minutes=minutes + 1), kind="fence",
                         severity="high", title=f"fence {minutes}")
    reads: list[str] = []
    page.on("request", lambda r: reads.append(r.url) if "/api/v1/wall/counts" in r.url else None)
    _open_wall(page, site, person(site, "district_officer"))
    expect(page.locator("body")).to_have_attribute("data-live", "live", timeout=FEED)
    # The first read, then at most one for the feed's burst once it has settled.
    page.wait_for_function("() => Number(document.body.dataset.countsRead) >= 2", timeout=FEED)
    expect(page.locator("#counters li[data-counter=high] .value")).to_have_text("8")
    assert 2 <= len(reads) <= 3, reads


def test_devices_never_heard_from_have_their_own_counter(site: Site, page: Page) -> None:
    # One school's devices: one online, one heard once and silent now, the rest never heard from. A device that
    # never reported is an installation to finish, not an outage: it is counted apart from "offline".
    school = "antelope-park-es"
    with psycopg.connect(site.db) as conn:
        devices = [r[0] for r in conn.execute(
            "SELECT id FROM devices WHERE school_id = %s AND active ORDER BY id", (school,))]
        assert len(devices) > 2
        conn.execute("DELETE FROM device_liveness WHERE device_id = ANY(%s)", (devices,))
        now = dt.datetime.now(dt.UTC)
        conn.execute("INSERT INTO device_liveness (device_id, last_seen, online) VALUES (%s, %s, true),"
                     " (%s, %s, false)", (devices[0], now, devices[1], now - dt.timedelta(hours=2)))
    _open_wall(page, site, person(site, "school_admin", school))
    counters = page.locator("#counters")
    expect(counters.locator("li[data-counter=devices_online] .value")).to_have_text(f"1 / {len(devices)}")
    expect(counters.locator("li[data-counter=devices_offline] .value")).to_have_text("1")
    expect(counters.locator("li[data-counter=devices_offline]")).to_have_attribute("data-alert", "true")
    never = counters.locator("li[data-counter=devices_never_reported]")
    expect(never.locator(".value")).to_have_text(str(len(devices) - 2))
    expect(never.locator(".name")).to_have_text("Never reported")
    # Still one screen: the extra counter does not push the wall into scrolling.
    assert page.evaluate("document.scrollingElement.scrollHeight <= innerHeight")


# --- The camera tiles: a camera incident's camera live on the wall, or its blurred snapshot ---------------------

@contextlib.contextmanager
def _camera_site(db: str, tmp_path: Path, page: Page, roles: frozenset[str] | None = None,
                 ) -> Iterator[tuple[Site, Callable[[], LiveRelay | None]]]:
    """The app on a fresh district whose gate camera is a live H.264 RTSP server; ``roles`` may watch video.

    Yields the site and a reader of the app's live relay (made by the first live view; None before it). The
    page leaves the app before it stops, so the wall's feed does not log a refused reconnection as an error.
    """
    if (reason := unavailable_reason()) is not None:
        pytest.skip(reason)
    root = tmp_path / "h264"
    (root / GATE).mkdir(parents=True)
    with RtspServer(root, fps=10, script=H264_SERVER) as camera:
        prepare_database(db)
        with psycopg.connect(db) as conn:
            conn.execute("UPDATE users SET password_hash = %s", (HASHER.hash(PASSWORD),))
            conn.execute("UPDATE devices SET config = jsonb_set(config, '{rtsp_url}', to_jsonb(%s::text))"
                         " WHERE id = %s", (camera.url(GATE), GATE))
        video = VideoSettings(root=tmp_path / "video", **({"roles": roles} if roles is not None else {}))
        settings = Settings(mode=Mode.PRODUCTION, database_url=db, secret_key=TEST_SECRET_KEY,
                            admin_password=TEST_ADMIN_PASSWORD, data_dir=tmp_path, cookie_secure=False,
                            vision=VisionSettings(video=video))
        app = create_app(settings)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, name="wall-camera-server")
        thread.start()
        try:
            wait_for(lambda: server.started, 20, "uvicorn to start")
            yield Site(f"http://127.0.0.1:{port}", db), lambda: getattr(app.state, "video_relay", None)
        finally:
            page.goto("about:blank")
            server.should_exit = True
            thread.join(timeout=30)


def _camera_incident(db: str, title: str, *, with_snapshot: bool = False,
                     severity: str = "high") -> tuple[int, int | None]:
    """Open an intrusion seen by the gate camera (as the vision stage stores one); return it and its snapshot."""
    now = dt.datetime.now(dt.UTC)
    shot = None
    with psycopg.connect(db, autocommit=True) as conn:
        if with_snapshot:
            picture = io.BytesIO()
            Image.new("RGB", (320, 180), (40, 90, 160)).save(picture, "JPEG")
            shot = vision_repo.store_event(conn, GATE, "intrusion", now, now, {"label": "person"},
                                           (320, 180, 0, picture.getvalue(), picture.getvalue()))
        evidence = json.dumps([{"kind": "intrusion", "ref": None, "time": now.isoformat(), "summary": "intrusion",
                                "signal_id": "s-1", "source_id": GATE}])
        row = conn.execute(
            "INSERT INTO incidents (school_id, type, severity, status, title, evidence, opened_at, updated_at)"
            " VALUES (%s, 'intrusion', %s, 'raised', %s, %s, %s, %s) RETURNING id",
            (SCHOOL, severity, title, evidence, now, now)).fetchone()
    assert row is not None
    return int(row[0]), shot


def test_a_camera_incident_plays_on_the_wall_until_it_is_resolved(
        fresh_database_url: str, tmp_path: Path, page: Page) -> None:
    with _camera_site(fresh_database_url, tmp_path, page) as (site, relay):
        incident, _ = _camera_incident(site.db, "Someone climbed the gate")
        _open_wall(page, site, person(site, "district_officer"))
        tile = page.locator(f"#wall-cameras figure[data-incident-id='{incident}']")
        expect(tile).to_be_visible(timeout=FEED)
        expect(tile).to_have_attribute("data-mode", "live")
        expect(tile).to_have_class(re.compile(r"\bsev-high\b"))
        expect(tile.locator(".wall-camera-title")).to_have_text("Someone climbed the gate")
        camera = site.one("SELECT name FROM devices WHERE id = %s", GATE)
        school = site.one("SELECT name FROM org_units WHERE id = %s", SCHOOL)
        assert isinstance(camera, str) and isinstance(school, str)
        expect(tile.locator(".wall-camera-place")).to_contain_text(camera)
        expect(tile.locator(".wall-camera-place")).to_contain_text(school)
        wait_for(lambda: playing_for(page, 1.0), 30, "the tile's video to advance")
        live = relay()
        assert live is not None and live.viewers(GATE) == 1
        # Still one screen with a tile beside the map, at 1080 lines and on a 4K panel.
        assert page.evaluate("document.scrollingElement.scrollHeight <= innerHeight")
        assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
        page.screenshot(path="/tmp/campusguard-wall-camera.png")
        page.set_viewport_size({"width": 3840, "height": 2160})
        assert page.evaluate("document.scrollingElement.scrollHeight <= innerHeight")
        assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
        expect(tile).to_be_visible()

        for action in ({"action": "acknowledge"}, {"action": "resolve", "outcome": "real"}):
            answer = page.request.post(f"{site.base}/api/v1/incidents/{incident}/actions",
                                       headers={"Origin": site.base}, data=action)
            assert answer.ok, answer.text()
        expect(tile).to_have_count(0, timeout=FEED)
        expect(page.locator("#wall-cameras")).to_be_hidden()
        # Its stream stopped with it: the server keeps no upstream for a tile nobody sees.
        wait_for(lambda: live.upstreams == 0, 15, "the camera's upstream to stop")
        assert page.evaluate("document.scrollingElement.scrollHeight <= innerHeight")


def test_an_account_that_may_not_watch_video_sees_the_blurred_snapshot(
        fresh_database_url: str, tmp_path: Path, page: Page, browser: Browser) -> None:
    # The site lets only administrators watch unblurred video; the district officer's wall shows the snapshot.
    with _camera_site(fresh_database_url, tmp_path, page, frozenset({"admin"})) as (site, relay):
        incident, shot = _camera_incident(site.db, "Loitering at the gate", with_snapshot=True)
        assert shot is not None
        _open_wall(page, site, person(site, "district_officer"))
        tile = page.locator(f"#wall-cameras figure[data-incident-id='{incident}']")
        expect(tile).to_have_attribute("data-mode", "snapshot", timeout=FEED)
        picture = tile.locator("img[data-testid=wall-snapshot]")
        expect(picture).to_have_attribute("src", f"/api/v1/snapshots/{shot}.jpg")
        page.wait_for_function("(img) => img.complete && img.naturalWidth === 320", arg=picture.element_handle())
        expect(tile.locator("video")).to_have_count(0)
        assert relay() is None  # no live socket was opened only to be refused
        viewed = site.one("SELECT detail->>'faces' FROM audit_log WHERE action = 'snapshot.view' AND target = %s",
                          f"snapshot:{shot}")
        assert viewed == "false"

        # More camera incidents than a wall holds: the most urgent first, 4 at 1080 lines, 9 on a 4K panel.
        for n in range(4):
            _camera_incident(site.db, f"Fence {n}", with_snapshot=True)
        critical, _ = _camera_incident(site.db, "Intruder in the hall", with_snapshot=True, severity="critical")
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        tiles = page.locator("#wall-cameras figure")
        expect(tiles).to_have_count(4, timeout=FEED)
        first = page.locator(f"#wall-cameras figure[data-incident-id='{critical}']")
        expect(first).to_have_class(re.compile(r"\bsev-critical\b"))
        assert first.evaluate("(el) => el.style.order") == "0"
        page.set_viewport_size({"width": 3840, "height": 2160})
        expect(tiles).to_have_count(6)
        assert page.evaluate("document.scrollingElement.scrollHeight <= innerHeight")
        page.screenshot(path="/tmp/campusguard-wall-cameras-4k.png")
        # The tiles pass the same axe scan as the rest of the wall (test_accessibility.py, which opens the wall
        # with a panic only): a context that lets the test inject axe past the page's CSP.
        scan = browser.new_context(viewport=WALL, device_scale_factor=2, bypass_csp=True)
        try:
            wall = scan.new_page()
            _open_wall(wall, site, person(site, "district_officer"))
            expect(wall.locator("#wall-cameras figure")).to_have_count(4, timeout=FEED)
            wall.add_script_tag(path=str(AXE))
            assert wall.evaluate(RUN_AXE, [WCAG, []]) == []
        finally:
            scan.close()


def test_the_wall_names_only_its_own_scopes_cameras(site: Site, page: Page) -> None:
    """GET /api/v1/wall/cameras: signed-in wall roles only, and only incidents of the caller's part of the tree."""
    incident, shot = _camera_incident(site.db, "Someone at the gate", with_snapshot=True)
    site.raise_panic(PANIC)
    panic = site.one("SELECT id FROM incidents WHERE type = 'panic'")
    asked = f"{site.base}/api/v1/wall/cameras?incident={incident}&incident={panic}"
    assert page.request.get(asked).status == 401
    sign_in(page, site.base, person(site, "guard", SCHOOL))
    assert page.request.get(asked).status == 403
    other = site.one("SELECT id FROM users WHERE role = 'school_admin' AND scope_id <> %s ORDER BY id LIMIT 1", SCHOOL)
    assert isinstance(other, str)
    sign_in(page, site.base, other)
    assert page.request.get(asked).json()["cameras"] == []  # another school's incident: as if it did not exist
    sign_in(page, site.base, person(site, "school_admin", SCHOOL))
    answer = page.request.get(asked).json()
    assert answer["may_watch"] is True
    # The panic came from a button, not a camera: only the camera incident has a tile.
    assert [(c["incident_id"], c["camera_id"], c["snapshot_id"]) for c in answer["cameras"]] == [
        (incident, GATE, shot)]
    assert page.request.get(f"{site.base}/api/v1/wall/cameras?incident=0").status == 422
    too_many = "&".join(f"incident={n}" for n in range(1, MOST_ASKED + 2))
    assert page.request.get(f"{site.base}/api/v1/wall/cameras?{too_many}").status == 422
