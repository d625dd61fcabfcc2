"""The operations page's terminals in a real browser.

A school administrator finds a JT/T 808 terminal's state and refused reports, revokes its code (confirming
first), and reads the same in Chinese.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from playwright.sync_api import Page, expect

from store.terminal_repo import check_code, issue_code
from tests.ui.conftest import Site, sign_in

pytestmark = pytest.mark.slow

ADMIN = "hannah-larsen"
TERMINAL = "bus-02-jt808"


def test_a_school_admin_sees_a_terminal_and_revokes_its_code(site: Site, page: Page) -> None:
    with psycopg.connect(site.db, autocommit=True) as conn:
        issue_code(conn, "13805710002", "the code")
        assert check_code(conn, "13805710002", "the code")
        for minutes in (3, 2):
            conn.execute("INSERT INTO dead_letters (time, digest, source, topic, reason, message, payload)"
                         " VALUES (%s, %s, 'jt808-tcp', %s, 'not_authenticated', 'before authenticating', 'x')",
                         (datetime.now(UTC) - timedelta(minutes=minutes), f"d{minutes}".encode(),
                          "jt808/13805710002\n\nnot_authenticated terminal sent 0x0200"))
    sign_in(page, site.base, ADMIN)
    page.goto(f"{site.base}/ops?lang=en")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)  # six lists on a busy two-core machine
    row = page.locator(f"#terminals tr[data-device-id='{TERMINAL}']")
    expect(row).to_contain_text("13805710002")
    expect(row).to_contain_text("JT/T 808")
    expect(row.locator(".registered")).to_have_text("Yes")
    expect(row.locator(".authenticated")).to_have_text("Yes")
    expect(row.locator(".refused")).to_have_text("2")
    gt06 = page.locator("#terminals tr[data-device-id='bus-01-gt06']")
    expect(gt06.locator(".registered")).to_have_text("Not used")
    expect(gt06.locator("button.revoke")).to_have_count(0)
    # The refused reports name their terminal among the dead letters too.
    expect(page.locator("#dead-letters tr[data-source='jt808-tcp']").first).to_contain_text(TERMINAL)

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button.revoke").click()
    expect(row.locator(".registered")).to_have_text("No")
    expect(row.locator("button.revoke")).to_have_count(0)
    with psycopg.connect(site.db) as conn:
        audited = conn.execute("SELECT actor FROM audit_log WHERE action = 'terminal.revoke'").fetchall()
    assert audited == [(ADMIN,)]

    page.goto(f"{site.base}/ops?lang=zh-CN")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#terminals h2")).to_have_text("JT/T 808 终端与 GT06 定位器")
    expect(page.locator(f"#terminals tr[data-device-id='{TERMINAL}'] .registered")).to_have_text("否")
