"""Responders in Chromium: a guard shares their location from their phone; the officer sees them on the map.

They are also listed, with their distance, as the nearest responder of the incident.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.ui.conftest import Site, person, sign_in

pytestmark = pytest.mark.slow

OWN = "antelope-park-es"
SCREENSHOTS = Path("/tmp")


def test_a_guard_shares_their_location_and_the_officer_sees_the_nearest_responder(
        site: Site, page: Page, browser: Browser) -> None:
    site.raise_panic("antelope-park-office-panic-1")
    incident = site.one("SELECT id FROM incidents WHERE school_id = %s", OWN)
    lon = site.one("SELECT lon FROM incidents WHERE id = %s", incident)
    lat = site.one("SELECT lat FROM incidents WHERE id = %s", incident)
    assert isinstance(lon, float) and isinstance(lat, float)
    guard = person(site, "guard", OWN)  # the example gives this guard a phone tracker
    name = site.one("SELECT display_name FROM users WHERE id = %s", guard)

    # The guard's phone, 60 m north of the incident, with location permission granted.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, permissions=["geolocation"],
                                geolocation={"latitude": lat + 0.00054, "longitude": lon, "accuracy": 10})
    try:
        guard_page = phone.new_page()
        sign_in(guard_page, site.base, guard)
        share = guard_page.locator("#share")
        expect(share).not_to_be_checked()  # nobody's position is shared until they say so
        share.check()
        expect(guard_page.locator("body")).to_have_attribute("data-shared", "1")
        expect(guard_page.locator("#share-text")).to_have_text("Sharing my location")
        guard_page.screenshot(path=str(SCREENSHOTS / "campusguard-guard-sharing.png"))
    finally:
        phone.close()
    assert site.one("SELECT source FROM latest_positions WHERE device_id = %s", f"{guard}-phone") == "web"

    sign_in(page, site.base, person(site, "district_officer"))
    phone_name = site.one("SELECT name FROM devices WHERE id = %s", f"{guard}-phone")
    expect(page.locator(f".leaflet-marker-icon.responder[title=\"{phone_name}\"]")).to_have_count(1)
    page.locator(f".incident-item[data-incident-id='{incident}']").click()
    nearest = page.locator(f"[data-testid=responders] li[data-user-id='{guard}']")
    expect(nearest).to_contain_text(str(name))
    expect(nearest).to_contain_text("Guard")
    expect(nearest).to_contain_text("60 m")
    page.screenshot(path=str(SCREENSHOTS / "campusguard-map-responders.png"))
