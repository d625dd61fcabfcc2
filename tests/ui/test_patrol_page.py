"""A guard scans a checkpoint's code with their phone: Chromium opens its signed URL, signs in, confirms, counts.

The guard reads Chinese (their account's language); the phone's position is the gate's (Chromium's geolocation,
granted as a guard would when asked). A second scan of the same code in the round is kept but not counted, and a
code of another school's guard is refused in the guard's language. Names go in as text, never as markup.
"""

from __future__ import annotations

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from alerts import patrol_codes
from store.site_repo import load_site as store_site
from tests.site.test_patrol_site import GATE, SCHOOL, district_with_patrols
from tests.support.secrets import TEST_SECRET_KEY
from tests.ui.conftest import Site, sign_in

pytestmark = pytest.mark.slow
GUARD, OTHER_GUARD = "leah-wang", "ahmed-schultz"


@pytest.fixture
def patrol_site(site: Site) -> Site:
    with psycopg.connect(site.db) as conn:
        store_site(conn, district_with_patrols())
        conn.execute("UPDATE users SET locale = 'zh-CN' WHERE id IN (%s, %s)", (GUARD, OTHER_GUARD))
    return site


def scan_url(base: str, checkpoint: str) -> str:
    return base + patrol_codes.scan_path(TEST_SECRET_KEY.encode(), checkpoint, 1)


def test_a_guard_scans_a_checkpoint_url_and_it_counts_once(patrol_site: Site, page: Page) -> None:
    page.context.grant_permissions(["geolocation"], origin=patrol_site.base)
    page.context.set_geolocation({"longitude": GATE[0] + 0.0001, "latitude": GATE[1], "accuracy": 10})
    # The phone opens the code's URL; nobody is signed in yet, so the sign-in page comes first and leads back.
    page.goto(scan_url(patrol_site.base, "ap-gate"))
    page.wait_for_url(lambda url: "/login" in url)
    page.fill("input[name=username]", GUARD)
    page.fill("input[name=password]", "a long enough password")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/patrol?" in url)
    page.wait_for_selector("body[data-ready=true]")
    assert page.get_by_test_id("checkpoint-name").inner_text() == "Main gate"
    confirm = page.get_by_test_id("patrol-confirm")
    assert confirm.inner_text() == "我已到达：记录此巡更点"  # noqa: RUF001 - Chinese punctuation, as shown
    confirm.click()
    result = page.get_by_test_id("patrol-result")
    result.wait_for()
    assert result.get_attribute("data-reason") == "counted"
    assert result.inner_text().startswith("已记录：Main gate，")  # noqa: RUF001 - as shown
    assert patrol_site.one("SELECT count(*) FROM patrol_scans WHERE counted AND user_id = %s", GUARD) == 1
    # The same code again in the same round: kept, not counted, and the guard is told so.
    page.goto(scan_url(patrol_site.base, "ap-gate"))
    page.wait_for_selector("body[data-ready=true]")
    page.get_by_test_id("patrol-confirm").click()
    page.get_by_test_id("patrol-result").wait_for()
    assert page.get_by_test_id("patrol-result").get_attribute("data-reason") == "repeat"
    assert patrol_site.one("SELECT count(*) FROM patrol_scans WHERE NOT counted AND reason = 'repeat'") == 1
    # A name with markup shows as text.
    page.goto(scan_url(patrol_site.base, "ap-boiler"))
    page.wait_for_selector("body[data-ready=true]")
    assert page.get_by_test_id("checkpoint-name").inner_text() == "Boiler room <b>door</b>"
    assert page.locator(".checkpoint-name b").count() == 0


def test_a_guard_of_another_school_is_refused_in_their_language(patrol_site: Site, browser: Browser) -> None:
    # Its own context: the refusal is a 403 the browser logs, which the page fixture would count as an error.
    context = browser.new_context(viewport={"width": 400, "height": 800})
    page = context.new_page()
    script_errors: list[str] = []
    page.on("pageerror", lambda exc: script_errors.append(str(exc)))
    sign_in(page, patrol_site.base, OTHER_GUARD)
    page.goto(scan_url(patrol_site.base, "ap-gate"))
    page.wait_for_selector("body[data-ready=true]")
    assert page.get_by_test_id("patrol-result").inner_text() == "只有本校的保安和管理员可以扫描此巡更点。"
    assert page.get_by_test_id("patrol-confirm").count() == 0
    assert patrol_site.one("SELECT count(*) FROM audit_log WHERE action = 'patrol.scan_refused'") == 1
    assert patrol_site.one("SELECT school_id FROM patrol_checkpoints WHERE id = 'ap-gate'") == SCHOOL
    context.close()
    assert script_errors == []


def test_a_school_admin_prints_the_codes_and_a_guard_reads_the_day(patrol_site: Site, page: Page) -> None:
    sign_in(page, patrol_site.base, "hannah-larsen")
    page.goto(f"{patrol_site.base}/patrol")
    page.wait_for_selector("body[data-ready=true]")
    page.click(f"a[href='/patrol?school={SCHOOL}']")  # the admin's way to the printable codes
    page.wait_for_url(lambda url: f"school={SCHOOL}" in url)
    page.wait_for_selector("body[data-ready=true]")
    cards = page.locator(".code-card")
    assert cards.count() == 2
    gate = page.locator(".code-card[data-checkpoint=ap-gate]")
    gate.locator("img").wait_for()
    # The QR image loaded (an SVG from segno) and the printed URL is the signed one.
    expect(gate.locator("img")).to_have_js_property("complete", True)
    assert gate.locator("img").evaluate("img => img.naturalWidth") > 0
    assert gate.locator(".code-url").inner_text().endswith(
        patrol_codes.scan_path(TEST_SECRET_KEY.encode(), "ap-gate", 1))
    page.once("dialog", lambda dialog: dialog.accept())
    gate.get_by_role("button").click()
    expect(gate.locator(".code-url")).to_contain_text("v=2")
    assert patrol_site.one("SELECT key_version FROM patrol_checkpoints WHERE id = 'ap-gate'") == 2
    # The guard's own page: today's six rounds at their school, in their language.
    guard = page.context.browser.new_context() if page.context.browser else None
    assert guard is not None
    tab = guard.new_page()
    sign_in(tab, patrol_site.base, GUARD)
    tab.goto(f"{patrol_site.base}/patrol")
    tab.wait_for_selector("body[data-ready=true]")
    assert tab.locator(".patrol-rounds li").count() == 6
    assert tab.get_by_test_id("patrol-summary").inner_text().startswith("共 6 轮")
    guard.close()
