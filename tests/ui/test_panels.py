"""The map's bus panel, history search and reports, the person's language and the GCJ-02 shift, in Chromium.

The bus panel shows arrivals, the day's track and its replay; history pages, exports CSV and draws charts.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.command_ui.district import add_incident, cover_past, drive_bus_01, last_weekday
from tests.ui.conftest import Site, person, sign_in

pytestmark = pytest.mark.slow

SCREENSHOTS = Path("/tmp")
STATIC = Path(__file__).resolve().parents[2] / "command_ui" / "static"
DAY = last_weekday()


def test_a_bus_shows_its_arrivals_and_replays_its_day(site: Site, page: Page) -> None:
    with psycopg.connect(site.db) as conn:
        cover_past(conn, 7)
        fixes = drive_bus_01(conn, DAY, dt.time(7, 26), dt.time(7, 33), 0.4)
    sign_in(page, site.base, person(site, "district_officer"))
    page.locator(".bus[title='bus-01']").click()
    panel = page.locator("#bus-panel")
    expect(panel).to_be_visible()
    expect(panel.locator(".bus-title")).to_have_text("Route 1")
    stops = panel.locator("#eta-list li[data-stop-id]")
    expect(stops).to_have_count(10)
    expect(panel.locator("#eta-list li.reached").first).to_contain_text("reached")
    expect(panel.locator("#eta-list li.ahead").last).to_contain_text("expected")
    expect(panel.locator("#eta-list li.reached").first.locator(".lateness")).to_have_text("5 min late")
    expect(panel.locator("#track-note")).to_have_text("No positions that day.")  # today: nothing yet

    panel.locator("#replay-date").fill(DAY.isoformat())
    expect(panel).to_have_attribute("data-track-points", str(len(fixes)))
    expect(page.locator("path.bus-track")).to_have_count(1)
    marker = page.locator(".replay-marker")
    expect(marker).to_have_attribute("data-at", fixes[0][0].isoformat().replace("+00:00", ".000Z"))
    start = marker.bounding_box()
    slider = panel.locator("#replay-slider")
    assert slider.get_attribute("max") == str(int((fixes[-1][0] - fixes[0][0]).total_seconds()))
    slider.fill(str(int((fixes[-1][0] - fixes[0][0]).total_seconds())))
    expect(marker).to_have_attribute("data-at", fixes[-1][0].isoformat().replace("+00:00", ".000Z"))
    end = marker.bounding_box()
    assert start is not None and end is not None and end["x"] < start["x"] - 20  # the bus drove west
    expect(panel.locator("#replay-time")).to_contain_text("CST")  # the school's clock, not the browser's
    page.screenshot(path=str(SCREENSHOTS / "campusguard-map-bus.png"))

    panel.locator("#bus-panel-close").click()
    expect(panel).to_be_hidden()
    expect(page.locator("path.bus-track")).to_have_count(0)


def test_history_searches_pages_exports_and_charts(site: Site, page: Page) -> None:
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(site.db) as conn:
        cover_past(conn, 30)
        for i in range(55):
            add_incident(conn, "antelope-park-es", now - dt.timedelta(days=20, minutes=i), ack_s=60 + i,
                         resolve_s=600 + 10 * i)
        add_incident(conn, "antelope-park-es", now - dt.timedelta(days=2), ack_s=30, resolve_s=90,
                     severity="low", outcome="drill")
        add_incident(conn, "holdrege-es", now - dt.timedelta(days=2), ack_s=200, resolve_s=900)
        conn.execute("INSERT INTO device_liveness (device_id, last_seen, online) VALUES"
                     " ('antelope-park-office-panic-1', now(), true), ('holdrege-office-panic-1', now(), false)")
    sign_in(page, site.base, person(site, "district_admin"))
    page.goto(f"{site.base}/history?school=antelope-park-es&severity=critical")
    page.wait_for_selector("body[data-ready=true]")
    rows = page.locator("#incidents tbody tr[data-incident-id]")
    expect(rows).to_have_count(50)
    expect(page.locator("#total")).to_have_text("55 incidents")
    page.locator("#more").click()
    expect(rows).to_have_count(55)
    expect(page.locator("#more")).to_be_hidden()
    assert page.locator("#filter-school").input_value() == "antelope-park-es"

    href = page.locator("#csv").get_attribute("href")
    assert href is not None and "school=antelope-park-es" in href and "severity=critical" in href
    exported = page.request.get(f"{site.base}{href}")
    assert exported.ok and exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text().removeprefix("\ufeff"))))
    assert len(table) == 55 and {r["severity"] for r in table} == {"critical"}

    expect(page.locator("#reports")).to_be_visible()
    # ECharts draws on a canvas; each chart's frame says what it drew (tests/ui/test_reports_charts.py).
    expect(page.locator("#chart-ack")).to_have_attribute("data-series", "2")  # the one school: median and p90
    expect(page.locator("#chart-resolve canvas")).to_be_visible()
    expect(page.locator("#chart-uptime")).to_have_attribute("data-bars", "1")
    page.screenshot(path=str(SCREENSHOTS / "campusguard-history.png"), full_page=True)

    page.goto(f"{site.base}/history")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#total")).to_have_text("57 incidents")
    expect(page.locator("#chart-uptime[data-state=drawn]")).to_be_visible()
    # Every school is drawn (a school nobody heard from at 0 %, not left out); the one reporting device shows.
    shares = page.evaluate("JSON.parse(document.getElementById('chart-uptime').dataset.values)")
    assert shares["antelope-park-es"] > 0 and shares["holdrege-es"] == 0 and len(shares) > 2
    page.locator("#filter-school").select_option("holdrege-es")
    page.locator("#filters button[type=submit]").click()
    page.wait_for_url("**school=holdrege-es**")
    page.wait_for_selector("body[data-ready=true]")
    expect(rows).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / "campusguard-history-reports.png"), full_page=True)


def test_pages_speak_the_persons_language_unless_they_pick_another(site: Site, page: Page) -> None:
    sign_in(page, site.base, "aisha-moreau")  # zh-CN in the site file
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    expect(page.locator("#nav a[href='/history']")).to_have_text("历史记录")
    page.goto(f"{site.base}/history?lang=en")
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(f"{site.base}/")
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("html").get_attribute("lang") == "en"  # the person's own pick sticks


def test_a_language_picked_in_the_menu_follows_the_person_to_another_device(site: Site, browser: Browser,
                                                                            page: Page) -> None:
    sign_in(page, site.base, "aisha-moreau")  # zh-CN in the site file
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.locator("#nav select[aria-label]").select_option("en")  # its label is in the page's language
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#nav a[href='/history']")).to_have_text("History")
    assert site.one("SELECT chosen_locale FROM users WHERE id = 'aisha-moreau'") == "en"
    # Another device, nothing on it yet: the account's language, not the site file's, greets the person.
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        other = phone.new_page()
        sign_in(other, site.base, "aisha-moreau")
        assert other.locator("html").get_attribute("lang") == "en"
    finally:
        phone.close()


def _gcj02(lon: float, lat: float) -> tuple[float, float]:
    """The standard WGS-84 → GCJ-02 transform, mirrored in Python to check the page's JavaScript."""
    if lon < 72.004 or lon > 137.8347 or lat < 0.8293 or lat > 55.8271:
        return lon, lat
    a, ee = 6378245.0, 0.00669342162296594323
    x, y = lon - 105.0, lat - 35.0
    pi = math.pi
    d_lat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
             + (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
             + (20.0 * math.sin(y * pi) + 40.0 * math.sin(y / 3.0 * pi)) * 2.0 / 3.0
             + (160.0 * math.sin(y / 12.0 * pi) + 320 * math.sin(y * pi / 30.0)) * 2.0 / 3.0)
    d_lon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
             + (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
             + (20.0 * math.sin(x * pi) + 40.0 * math.sin(x / 3.0 * pi)) * 2.0 / 3.0
             + (150.0 * math.sin(x / 12.0 * pi) + 300.0 * math.sin(x / 30.0 * pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * pi
    magic = 1 - ee * math.sin(rad) ** 2
    d_lat = d_lat * 180.0 / ((a * (1 - ee)) / (magic * math.sqrt(magic)) * pi)
    d_lon = d_lon * 180.0 / (a / math.sqrt(magic) * math.cos(rad) * pi)
    return lon + d_lon, lat + d_lat


def test_the_gcj02_shift_matches_reference_points_and_leaves_the_world_outside_china(browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()

    def serve(route: Route) -> None:
        name = route.request.url.removeprefix("http://campusguard.test/")
        if name == "":
            route.fulfill(body="<!doctype html><title>gcj02</title>", content_type="text/html")
        else:
            route.fulfill(path=str(STATIC / name.removeprefix("static/")), content_type="text/javascript")

    page.route("http://campusguard.test/**", serve)
    page.goto("http://campusguard.test/")
    points = [(116.42079, 39.90105), (116.348120, 39.980945), (121.4737, 31.2304), (113.2644, 23.1291),
              (-96.69, 40.80), (2.3522, 48.8566), (151.2093, -33.8688)]
    shifted = page.evaluate("async (points) => { const m = await import('/static/js/gcj02.js');"
                            " return points.map(([lon, lat]) => m.wgs84ToGcj02(lon, lat)); }", points)
    context.close()
    for (lon, lat), (x, y) in zip(points, shifted, strict=True):
        assert (x, y) == pytest.approx(_gcj02(lon, lat), abs=1e-12)
    # Beijing railway station: WGS-84 (39.90105, 116.42079) is (39.90245, 116.42703) in GCJ-02.
    assert shifted[0] == pytest.approx([116.42703, 39.90245], abs=1e-5)
    assert shifted[1] == pytest.approx([116.354308, 39.982296], abs=2e-5)
    assert all(p == list(q) for p, q in zip(shifted[4:], points[4:], strict=True))  # outside China: unchanged
