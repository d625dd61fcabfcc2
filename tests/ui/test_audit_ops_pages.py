"""The audit page and the operations page in a real browser against the real app.

The auditor searches the trail by action, sees the chain verified and exports what the search found; a school
administrator finds an offline panic button, a refused message with its reason and a mistyped tracker id on the
operations page. Names, reasons and payloads carry markup that would run if a page parsed it as HTML; both
pages also speak Chinese.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Page, expect

from domain.audit import AuditRecord
from store import audit_repo
from tests.ui.conftest import Site, sign_in

pytestmark = pytest.mark.slow

SCHOOL = "antelope-park-es"
ADMIN, AUDITOR = "hannah-larsen", "ruth-nguyen"
XSS = "<img src=x onerror=window.__xss=1>"
OFFLINE = "antelope-park-office-panic-1"


def no_sideways_scroll_on_a_phone(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    page.set_viewport_size({"width": 1280, "height": 800})


def no_markup_ran(page: Page) -> None:
    assert page.evaluate("window.__xss") is None
    assert page.locator("img").count() == 0


def test_the_auditor_searches_the_trail_sees_the_chain_verified_and_exports(site: Site, page: Page,
                                                                             tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(site.db, autocommit=True) as conn:
        audit_repo.append(conn, AuditRecord(now, ADMIN, "drill_mode.start", f"school:{SCHOOL}",
                                            {"reason": XSS, "minutes": 60}))
        audit_repo.append(conn, AuditRecord(now, ADMIN, "geofence.save", "geofence:gate", {"name": "Gate"}))
    sign_in(page, site.base, AUDITOR)
    expect(page.locator("nav a[href='/audit']")).to_be_visible()
    expect(page.locator("nav a[href='/ops']")).to_have_count(0)  # operations are the administrators'
    page.locator("nav a[href='/audit']").click()
    page.wait_for_url(f"{site.base}/audit")
    page.wait_for_selector("body[data-ready=true]")

    chain = page.locator("#chain")
    expect(chain).to_have_attribute("data-state", "ok")
    expect(chain).to_have_text(re.compile(r"^Chain verified: \d+ records, none edited, deleted or reordered\.$"))
    expect(page.locator("#records tbody tr[data-action='geofence.save']")).to_have_count(1)

    page.fill("input[name=action]", "drill_mode.start")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"/audit\?.*action=drill_mode.start"))
    page.wait_for_selector("body[data-ready=true]")
    rows = page.locator("#records tbody tr")
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row).to_have_attribute("data-action", "drill_mode.start")
    expect(row.locator(".actor")).to_contain_text(ADMIN)
    expect(row.locator(".actor-title")).to_contain_text("School administrator")  # what they are called there
    expect(row.locator(".action")).to_have_text("Drill mode started")
    expect(row.locator(".target")).to_have_text(f"School {SCHOOL}")
    expect(row.locator(".audit-detail li")).to_have_count(2)
    expect(row.locator(".audit-detail")).to_contain_text("Minutes: 60")
    expect(row.locator(".audit-detail")).to_contain_text(f"Reason: {XSS}")
    # In the zone the reader's schools share (the district's Central time), not the browser's UTC.
    expect(row.locator(".when")).to_contain_text(re.compile(r"C[SD]T"))
    no_markup_ran(page)
    page.screenshot(path="/tmp/campusguard-audit.png", full_page=True)
    no_sideways_scroll_on_a_phone(page)

    csv_link = page.locator("#csv")
    expect(csv_link).to_have_attribute("href", re.compile(r"^/api/v1/audit/export\.csv\?action=drill_mode\.start$"))
    with page.expect_download() as download:
        csv_link.click()
    saved = tmp_path / "audit.csv"
    download.value.save_as(saved)
    exported = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert [(r["actor"], r["action"], r["target"]) for r in exported] == [(ADMIN, "drill_mode.start",
                                                                          f"school:{SCHOOL}")]

    # Nothing further: the empty state says why.
    page.goto(f"{site.base}/audit?action=no.such.action")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("[data-testid=audit-empty]")).to_have_text("No records match this search.")

    page.goto(f"{site.base}/audit?lang=zh-CN")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("h1")).to_have_text("审计记录")
    expect(page.locator("#filters legend")).to_have_text("搜索审计记录")
    expect(page.locator("#chain")).to_have_text(re.compile(r"^哈希链校验通过"))
    expect(page.locator("#records tr[data-action='drill_mode.start'] .action")).to_have_text("演习模式开始")
    zh_row = page.locator("#records tr[data-action='drill_mode.start']")
    expect(zh_row.locator(".target")).to_have_text(f"学校 {SCHOOL}")
    expect(zh_row.locator(".audit-detail li[data-key=minutes]")).to_have_text("分钟: 60")
    no_markup_ran(page)

    # Someone edits a record behind the trail's back (the append-only guard lifted): the page says where and why.
    with psycopg.connect(site.db, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete")
        edited = conn.execute("UPDATE audit_log SET detail = '{\"name\": \"Moat\"}'"
                              " WHERE action = 'geofence.save' RETURNING id").fetchone()
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete")
    assert edited is not None
    page.goto(f"{site.base}/audit?lang=en")
    page.wait_for_selector("body[data-ready=true]")
    expect(chain).to_have_attribute("data-state", "broken")
    expect(chain.locator("strong")).to_have_text(f"Chain broken at record {edited[0]}.")
    expect(chain).to_contain_text("it was edited")


def seed_operations(site: Site) -> None:
    """An offline panic button named with markup, a refused message from the gym button, a mistyped tracker id."""
    now = datetime.now(UTC)
    with psycopg.connect(site.db, autocommit=True) as conn:
        conn.execute("UPDATE devices SET name = %s WHERE id = %s", (f"Office {XSS}", OFFLINE))
        conn.execute("INSERT INTO device_liveness (device_id, last_seen, online) VALUES (%s, %s, false)",
                     (OFFLINE, now - timedelta(hours=3)))
        conn.execute("INSERT INTO dead_letters (time, digest, source, topic, reason, message, payload)"
                     " VALUES (%s, 'd1', 'mqtt', 'zigbee2mqtt/antelope-park/gym_panic', 'invalid_json', %s, %s)",
                     (now - timedelta(minutes=4), "expected a JSON object", f'{{"action": {XSS}'.encode()))
        conn.execute(
            "INSERT INTO unregistered_devices (source, external_id, first_seen, last_seen, messages, last_topic)"
            " VALUES ('campusguard', 'bus-01-gsp', %s, %s, 12, 'campusguard/v1/antelope-park-es/gps/bus-01-gsp')",
            (now - timedelta(minutes=30), now - timedelta(minutes=1)))


def test_a_school_admin_finds_what_does_not_arrive_on_the_operations_page(site: Site, page: Page) -> None:
    seed_operations(site)
    sign_in(page, site.base, ADMIN)
    expect(page.locator("nav a[href='/audit']")).to_have_count(0)
    page.locator("nav a[href='/ops']").click()
    page.wait_for_url(f"{site.base}/ops")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#as-of")).to_contain_text(re.compile(r"C[SD]T"))  # the schools' zone, not UTC

    offline = page.locator(f"#devices tr[data-device-id='{OFFLINE}']").first
    expect(offline).to_have_attribute("data-state", "offline")
    expect(offline.locator(".name")).to_have_text(f"Office {XSS}")
    expect(offline).to_contain_text("Offline")
    expect(offline).to_contain_text("Antelope Park Elementary")
    expect(page.locator("#devices details summary")).to_have_text(re.compile(r"^\d+ devices never heard from$"))

    letter = page.locator("#dead-letters tr[data-reason='invalid_json']")
    expect(letter).to_have_count(1)
    expect(letter.locator(".reason")).to_have_text("Not valid JSON")
    expect(letter.locator(".message")).to_have_text("expected a JSON object")
    expect(letter.locator(".excerpt")).to_have_text(f'{{"action": {XSS}')
    expect(letter).to_contain_text("antelope-park-gym-panic")
    expect(page.locator("#reason option[value='invalid_json']")).to_have_text("Not valid JSON (1)")

    typo = page.locator("#unregistered tr[data-external-id='bus-01-gsp']")
    expect(typo.locator(".closest")).to_have_text("bus-01-gps?")
    expect(typo.locator("td.count")).to_have_text("12")
    # Lists with nothing in them say why.
    expect(page.locator("#cameras .empty")).to_have_text(
        "No camera has stopped delivering frames in the last 7 days.")
    # The refused message is the last hour's only arrival.
    expect(page.locator("#rates tr[data-series='dead_letters'] td.count").first).to_have_text("1")
    expect(page.locator("#rates tr[data-series='positions'] td.count").first).to_have_text("0")
    no_markup_ran(page)
    page.screenshot(path="/tmp/campusguard-ops.png", full_page=True)
    no_sideways_scroll_on_a_phone(page)

    page.goto(f"{site.base}/ops?lang=zh-CN")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("h1")).to_have_text("运维")
    expect(page.locator("#devices h2")).to_have_text("离线或电量低的设备")
    expect(page.locator("#rates h2")).to_have_text("最近一小时收到的消息")
    expect(page.locator("#cameras h2")).to_have_text("停止出画面的摄像头")
    expect(page.locator("#unregistered h2")).to_have_text("未登记的设备编号")
    expect(page.locator("#dead-letters tr[data-reason='invalid_json'] .reason")).to_have_text("不是有效的 JSON")
    expect(page.locator(f"#devices tr[data-device-id='{OFFLINE}'] .badge")).to_have_text("离线")
    no_markup_ran(page)
