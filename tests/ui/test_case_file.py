"""The incident as a case file in Chromium: the snapshot, the bus's track on a small map, readers, staff to call.

Incidents are raised through the real alert service from stored device events: a camera's, whose snapshot is
stored with it as the vision stage stores one, and a bus's, with its tracker's fixes around the moment.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import psycopg
import pytest
from playwright.sync_api import Page, expect

from alerts.escalation import EscalationPolicy
from alerts.rules import load_rules
from alerts.service import AlertService, seen
from tests.ui.conftest import Site, person, sign_in

pytestmark = pytest.mark.slow

OWN = "antelope-park-es"
CAMERA = "antelope-park-cam-gate"
XSS = '<img src=x onerror="window.__xss=1">Ruth'
SCREENSHOT = Path("/tmp/campusguard-case-file.png")


def _jpeg() -> bytes:
    """A small picture a browser decodes: a gate, some sky."""
    picture = np.full((90, 160, 3), (200, 170, 120), dtype=np.uint8)
    picture[50:, :] = (90, 110, 90)
    picture[30:80, 70:90] = (40, 40, 160)
    ok, encoded = cv2.imencode(".jpg", picture)
    assert ok
    return encoded.tobytes()


def _seed(site: Site) -> tuple[int, int]:
    """A camera incident with its snapshot and a bus incident with its track; their ids."""
    now = datetime.now(UTC).replace(microsecond=0)
    shot, bus_at = now - timedelta(minutes=3), now - timedelta(minutes=6)
    with psycopg.connect(site.db) as conn:
        picture = _jpeg()
        row = conn.execute(
            "INSERT INTO snapshots (camera_id, time, kind, width, height, faces, jpeg_blurred, jpeg_original)"
            " VALUES (%s, %s, 'crowding', 160, 90, 0, %s, %s) RETURNING id",
            (CAMERA, shot, picture, picture)).fetchone()
        assert row is not None
        conn.execute("INSERT INTO device_events (device_id, time, kind, received_at, detail) VALUES"
                     " (%s, %s, 'crowding', %s, %s)", (CAMERA, shot, shot, json.dumps({"snapshot_id": row[0]})))
        for minutes in range(-8, 9, 2):
            conn.execute("INSERT INTO positions (device_id, time, received_at, lon, lat, source) VALUES"
                         " ('bus-01-gps', %s, now(), %s, 40.8, 'test')",
                         (bus_at + timedelta(minutes=minutes), -96.69 + minutes * 0.0012))
        conn.execute("INSERT INTO device_events (device_id, time, kind, received_at, detail) VALUES"
                     " ('bus-01-gps', %s, 'geo.child_check_missed', %s, %s)", (bus_at, bus_at, json.dumps(
                         {"subject_id": "bus-01", "position": {"lon": -96.69, "lat": 40.8}})))
    AlertService(site.db, load_rules(), EscalationPolicy(), []).decide_pending()
    camera = site.one("SELECT id FROM incidents WHERE evidence->0->>'source_id' = %s", CAMERA)
    bus = site.one("SELECT id FROM incidents WHERE evidence->0->>'source_id' = 'bus-01'")
    assert isinstance(camera, int) and isinstance(bus, int)
    return camera, bus


def test_the_case_file_shows_the_evidence_the_readers_and_whom_to_call(site: Site, page: Page) -> None:
    camera, bus = _seed(site)
    guard = person(site, "guard", OWN)
    with psycopg.connect(site.db) as conn:
        seen(conn, camera, guard)
        # A staff member's name as hostile markup: shown as text, never run.
        staff = conn.execute("SELECT id FROM users WHERE scope_id = %s AND role = 'school_admin' LIMIT 1",
                             (OWN,)).fetchone()
        assert staff is not None
        conn.execute("UPDATE users SET display_name = %s WHERE id = %s", (XSS, staff[0]))
    guard_name = str(site.one("SELECT display_name FROM users WHERE id = %s", guard))
    guard_phone = str(site.one("SELECT phone FROM users WHERE id = %s", guard))

    sign_in(page, site.base, person(site, "district_officer"))
    page.locator(f".incident-item[data-incident-id='{camera}']").click()
    case = page.locator("[data-testid=case-file][data-ready=true]")
    picture = case.locator("img[data-testid=case-snapshot]")
    expect(picture).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth === 160", arg=picture.element_handle())
    expect(case.locator("[data-testid=case-seen]")).to_contain_text(guard_name)
    expect(case.locator("[data-testid=case-seen]")).to_contain_text("just now")
    expect(case.locator("[data-testid=case-map][data-drawn=true]")).to_be_visible()
    call = case.locator(f"a.tel[href='tel:{guard_phone.replace(' ', '')}']")
    expect(call).to_contain_text(guard_name)
    expect(call).to_contain_text(guard_phone)
    expect(case.locator(f"[data-testid=case-contacts] li[data-user-id='{staff[0]}'] .name")).to_have_text(XSS)
    assert page.evaluate("window.__xss") is None
    expect(page.locator("[data-testid=responders]")).to_be_visible()  # how far away, beside who has seen it
    page.set_viewport_size({"width": 1366, "height": 900})
    case.locator("[data-testid=case-people]").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOT))

    # Faces: an officer may see them; the toggle asks for the original.
    case.locator("[data-testid=case-faces]").click()
    expect(picture).to_have_attribute("src", f"/api/v1/snapshots/{site.one('SELECT id FROM snapshots')}.jpg?faces=true")
    page.wait_for_function("img => img.complete && img.naturalWidth === 160", arg=picture.element_handle())

    # The bus: its track ten minutes either side, on the small map.
    page.goto(f"{site.base}/history?incident={bus}")
    page.wait_for_selector("[data-testid=case-map][data-drawn=true]")
    expect(page.locator("[data-testid=case-map] path.case-track")).to_have_count(1)
    expect(page.locator("[data-testid=case-track]")).to_contain_text("9 positions")


def test_a_guard_sees_no_faces_toggle_and_an_auditor_no_phones(site: Site, page: Page) -> None:
    camera, _ = _seed(site)
    sign_in(page, site.base, person(site, "guard", OWN))
    page.goto(f"{site.base}/history?incident={camera}")
    case = page.locator("[data-testid=case-file][data-ready=true]")
    expect(case.locator("img[data-testid=case-snapshot]")).to_be_visible()
    expect(case.locator("[data-testid=case-faces]")).to_have_count(0)
    expect(case.locator("a.tel").first).to_be_visible()

    page.context.clear_cookies()
    sign_in(page, site.base, person(site, "auditor"))
    page.goto(f"{site.base}/history?incident={camera}")
    expect(page.locator("[data-testid=case-file][data-ready=true] img[data-testid=case-snapshot]")).to_be_visible()
    expect(page.locator("[data-testid=case-contacts]")).to_have_count(0)
    expect(page.locator("a[href^='tel:']")).to_have_count(0)


def test_the_case_file_in_chinese(site: Site, page: Page) -> None:
    _, bus = _seed(site)
    sign_in(page, site.base, person(site, "district_officer"))
    page.goto(f"{site.base}/history?incident={bus}&lang=zh-CN")
    case = page.locator("[data-testid=case-file][data-ready=true]")
    expect(case.locator("h3").first).to_have_text("案卷")
    expect(case.locator("[data-testid=case-track]")).to_contain_text("个定位点")
    expect(case.locator("[data-testid=case-contacts] h3")).to_have_text("致电学校值班人员")
    # Opening it was the officer's receipt (tests/ui/test_seen.py): seen by them, "just now", in Chinese.
    expect(case.locator("[data-testid=case-seen]")).to_contain_text("学区安全主管")
    expect(case.locator("[data-testid=case-seen]")).to_contain_text("刚刚")
