"""A county officer of the example city reads the safety scorecard in Chinese, picks a township, gets the bulletin.

The page is reached from the menu; every school of the county is listed weakest first with its six criteria; the
unit picker narrows it to a township; the bulletin links carry the unit and month; a school's name is text even
when it holds markup; at phone width the page does not spill sideways (the table scrolls inside its box).
"""

from __future__ import annotations

import psycopg
import pytest
from playwright.sync_api import Browser, Page

from domain.site import load_site
from tests.ui.conftest import CITY, Site, sign_in
from tests.ui.test_accessibility import AXE, OFF_SCREEN, PHONE, RUN_AXE, WCAG

pytestmark = pytest.mark.slow


COUNTY, TOWNSHIP, SCHOOL = "junchuan", "wangzhuang", "wangzhuang-zxxx"


def test_a_county_officer_reads_the_scorecard_and_the_bulletin(city: Site, page: Page) -> None:
    site = load_site(CITY)
    county = next(u for u in site.organisation.units if u.id == COUNTY)
    township = next(t for t in county.units if t.id == TOWNSHIP)
    poisoned = '<img src=x onerror="window.__xss=1">'
    with psycopg.connect(city.db) as conn:
        conn.execute("UPDATE schools SET name = %s WHERE id = %s", (poisoned, SCHOOL))
    sign_in(page, city.base, county.people[0].id)
    page.locator("nav a[href='/scorecard']").click()
    page.wait_for_selector("body[data-ready=true]")
    assert page.title() == "校园安全考核"
    rows = page.locator("#schools tbody tr")
    shown = set(rows.evaluate_all("rows => rows.map((r) => r.dataset.school)"))
    assert shown == {s.id for t in county.units for s in t.schools} | {s.id for s in county.schools}
    scores = [float(x) for x in page.locator("#schools td.score").all_inner_texts()]
    assert scores == sorted(scores)
    assert page.locator("#schools tbody tr").first.locator("td.criterion").count() == 6
    assert "重点部位视频覆盖" in page.locator("#schools thead").inner_text()
    assert poisoned in page.locator(f"[data-school='{SCHOOL}']").inner_text()
    assert page.evaluate("() => [window.__xss ?? null, document.querySelectorAll('img[src=\"x\"]').length]") == [
        None, 0]
    # A township picked: its schools only, and the bulletin links follow.
    page.select_option("#unit", TOWNSHIP)
    page.wait_for_selector(f"body[data-shown^='{TOWNSHIP} ']")
    assert set(rows.evaluate_all("rows => rows.map((r) => r.dataset.school)")) == {s.id for s in township.schools}
    month = page.input_value("#month")
    pdf = page.get_attribute("#bulletin-pdf", "href")
    assert pdf is not None and f"unit={TOWNSHIP}" in pdf and f"month={month}" in pdf and "format=pdf" in pdf
    html_link = page.get_attribute("#bulletin-html", "href")
    assert html_link is not None
    bulletin = page.request.get(f"{city.base}{html_link}")
    assert bulletin.status == 200 and "平安校园月度通报" in bulletin.text()
    assert "&lt;img src=x" in bulletin.text() and poisoned not in bulletin.text()  # a name is text there too
    # At phone width the page fits; the wide table scrolls inside its own box.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("viewport", [PHONE.viewport, {"width": 1440, "height": 900}])
def test_the_page_is_usable_and_accessible_at_phone_and_desk_width(city: Site, browser: Browser,
                                                                   viewport: dict[str, int]) -> None:
    # The CSP is bypassed only so the test can inject axe-core (as tests/ui/test_accessibility.py does).
    context = browser.new_context(viewport=viewport, bypass_csp=True)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        sign_in(page, city.base, load_site(CITY).organisation.people[0].id)  # the city bureau's officer
        page.goto(f"{city.base}/scorecard")
        page.wait_for_selector("body[data-ready=true]")
        assert page.locator("#schools tbody tr").count() == len(list(load_site(CITY).iter_schools()))
        assert page.evaluate("() => document.scrollingElement.scrollWidth <= innerWidth")
        assert page.evaluate(OFF_SCREEN, ["#unit", "#month", "#bulletin-html", "#bulletin-pdf", "#nav"]) == []
        page.add_script_tag(path=str(AXE))
        assert page.evaluate(RUN_AXE, [WCAG, []]) == []
    finally:
        context.close()
