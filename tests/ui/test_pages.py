"""The pages in a real browser against the real app: a guard's phone, the officer's map, the live feed."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Page, expect

from tests.support.ingest import wait_for
from tests.ui.conftest import Site, person, sign_in

pytestmark = pytest.mark.slow

OWN = "antelope-park-es"
OTHER = "holdrege-es"
SCREENSHOTS = Path("/tmp")


def incident_at(site: Site, school: str) -> int:
    found = site.one("SELECT id FROM incidents WHERE school_id = %s ORDER BY id DESC LIMIT 1", school)
    assert isinstance(found, int), f"no incident at {school}"
    return found


def test_a_guard_sees_only_their_school_and_acknowledges(site: Site, page: Page) -> None:
    site.raise_panic("antelope-park-office-panic-1")
    site.raise_panic("walton-road-office-panic-1")
    own = incident_at(site, OWN)
    assert site.one("SELECT count(DISTINCT school_id) FROM incidents") == 2
    guard = person(site, "guard", OWN)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, site.base, guard)
    assert page.url.endswith("/guard")
    cards = page.locator("article.card")
    expect(cards).to_have_count(1)
    card = cards.first
    assert card.get_attribute("data-incident-id") == str(own)
    expect(card.locator(".where")).to_contain_text("Main office")
    wait_for(lambda: guard in str(site.one("SELECT seen_by FROM incidents WHERE id = %s", own)), 10,
             "the seen receipt")

    card.locator("button[data-action=acknowledge]").click()
    expect(card).to_have_attribute("data-status", "acknowledged")
    expect(card.locator("[data-testid=status]")).to_have_text("Acknowledged")
    assert site.one("SELECT status FROM incidents WHERE id = %s", own) == "acknowledged"
    assert site.one("SELECT actor FROM incident_events WHERE incident_id = %s ORDER BY seq DESC LIMIT 1",
                    own) == guard
    response = page.request.get(f"{site.base}/api/v1/incidents/{own}")
    assert response.json()["status"] == "acknowledged"

    card.locator("button[data-action=resolve]").click()
    page.locator("#outcome-dialog button[data-outcome=drill]").click()
    expect(page.locator(".all-clear")).to_be_visible()
    assert site.one("SELECT outcome FROM incidents WHERE id = %s", own) == "drill"


def test_the_officers_map_shows_campuses_and_incidents(site: Site, page: Page) -> None:
    site.raise_panic("antelope-park-office-panic-1")
    incident = incident_at(site, OWN)
    officer = person(site, "district_officer")
    sign_in(page, site.base, officer)
    assert page.url == f"{site.base}/"
    schools = page.request.get(f"{site.base}/api/v1/schools").json()["features"]
    assert schools
    expect(page.locator("path.campus")).to_have_count(len(schools))
    marker = page.locator(f".incident-marker [data-incident-id='{incident}']")
    expect(marker).to_be_visible()
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    page.screenshot(path=str(SCREENSHOTS / "campusguard-map-district.png"))
    page.locator(f".incident-item[data-incident-id='{incident}']").click()
    panel = page.locator("#panel")
    expect(panel).to_be_visible()
    expect(panel.locator(".incident-title")).not_to_be_empty()
    expect(panel.locator("button[data-action=acknowledge]")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-focused", str(incident))  # the zoom has ended
    page.screenshot(path=str(SCREENSHOTS / "campusguard-map.png"))

    panel.locator("button[data-action=respond]").click()
    expect(panel.locator("[data-testid=detail-status]")).to_have_text("Responding")
    assert site.one("SELECT status FROM incidents WHERE id = %s", incident) == "responding"


def test_buses_move_on_the_map_live(site: Site, page: Page) -> None:
    sign_in(page, site.base, person(site, "district_officer"))
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(page.locator(".bus")).to_have_count(0)
    position = ("INSERT INTO latest_positions (device_id, time, lon, lat, speed_kmh, heading_deg, source)"
                " VALUES ('bus-01-gps', now(), %s, %s, 30, %s, 'test') ON CONFLICT (device_id) DO UPDATE"
                " SET time = now(), lon = excluded.lon, lat = excluded.lat, heading_deg = excluded.heading_deg")
    with psycopg.connect(site.db) as conn:
        conn.execute(position, (-96.70, 40.80, 90.0))
    bus = page.locator(".bus[title='bus-01']")
    expect(bus).to_have_count(1, timeout=10_000)
    expect(bus.locator(".bus-arrow")).to_have_attribute("style", re.compile(r"rotate\(90deg\)"))
    before = bus.bounding_box()
    with psycopg.connect(site.db) as conn:
        conn.execute(position, (-96.69, 40.80, 180.0))
    expect(bus.locator(".bus-arrow")).to_have_attribute("style", re.compile(r"rotate\(180deg\)"), timeout=10_000)
    after = bus.bounding_box()
    assert before is not None and after is not None and after["x"] > before["x"]  # moved east


def test_a_new_incident_reaches_the_guard_page_live(site: Site, page: Page) -> None:
    guard = person(site, "guard", OWN)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, site.base, guard)
    expect(page.locator(".all-clear")).to_be_visible()
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")

    site.raise_panic("antelope-park-office-panic-1")
    site.raise_panic("walton-road-office-panic-1")  # another school's: must not reach this guard
    card = page.locator("article.card")
    expect(card).to_have_count(1, timeout=15_000)
    assert card.first.get_attribute("data-incident-id") == str(incident_at(site, OWN))
    expect(card.first).to_have_class(re.compile(r"\bfresh\b"))
    assert page.locator("body").get_attribute("data-rings") == "1"
    page.screenshot(path=str(SCREENSHOTS / "campusguard-guard.png"), full_page=True)


def test_history_offers_the_audit_export_only_to_those_allowed(site: Site, page: Page) -> None:
    site.raise_panic("antelope-park-office-panic-1")
    sign_in(page, site.base, person(site, "auditor"))
    page.goto(f"{site.base}/history")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#incidents tbody tr[data-incident-id]")).to_have_count(1)
    expect(page.locator("#export a")).to_have_attribute("href", "/api/v1/audit/export.csv")
    page.locator("#incidents tbody a").first.click()
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#detail .incident-title")).not_to_be_empty()
    expect(page.locator("#detail button[data-action]")).to_have_count(0)  # an auditor reads, never acts


def test_the_guard_page_speaks_chinese(site: Site, page: Page) -> None:
    site.raise_panic("antelope-park-office-panic-1")
    sign_in(page, site.base, person(site, "guard", OWN))
    page.goto(f"{site.base}/guard?lang=zh-CN")
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    expect(page.locator("h1")).to_have_text("本校事件")
    expect(page.locator("article.card button[data-action=acknowledge]")).to_have_text("确认")
    page.screenshot(path=str(SCREENSHOTS / "campusguard-guard-zh.png"))
