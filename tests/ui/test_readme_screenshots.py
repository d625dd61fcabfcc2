"""The README's pictures of the incident's case file, the guard's phone and the wall, from real runs (issue 17).

Each is taken in the example city, in Chinese (its people's language), with a panic pressed at a school and
seen by its guard. Written to tmp_path, or over docs/img/ when CAMPUSGUARD_UPDATE_SCREENSHOTS=1 (as the map's
picture is, tests/ui/test_map.py); each stays under 400 KB so the repository does not grow by megabytes.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import psycopg
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from alerts.service import seen
from tests.ui.conftest import REPO, Site, sign_in

pytestmark = pytest.mark.slow

IMAGES = REPO / "docs" / "img"
LIMIT = 400_000


def save(shot: bytes, name: str, tmp_path: Path) -> Path:
    """Write a screenshot where it belongs, as a palette PNG when the full-colour one is too large."""
    target = IMAGES / name if os.environ.get("CAMPUSGUARD_UPDATE_SCREENSHOTS") == "1" else tmp_path / name
    target.parent.mkdir(parents=True, exist_ok=True)
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    image.save(target, optimize=True)
    if target.stat().st_size >= LIMIT:
        # The pages' flat colours survive a palette without dithering, in a third of the bytes.
        image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
            target, optimize=True)
    assert target.stat().st_size < LIMIT
    return target


def _panic_seen_by_a_guard(city: Site) -> tuple[int, str]:
    """Press a panic button at a school with a guard; the guard has seen it. Returns the incident and the guard."""
    school = str(city.one("SELECT d.school_id FROM devices d JOIN users u ON u.scope_id = d.school_id"
                          " AND u.role = 'guard' WHERE d.kind = 'panic_button' ORDER BY d.school_id LIMIT 1"))
    city.raise_panic(str(city.one("SELECT id FROM devices WHERE kind = 'panic_button' AND school_id = %s"
                                  " ORDER BY id LIMIT 1", school)))
    incident = city.one("SELECT max(id) FROM incidents")
    guard = city.one("SELECT id FROM users WHERE role = 'guard' AND scope_id = %s ORDER BY id LIMIT 1", school)
    assert isinstance(incident, int) and isinstance(guard, str)
    with psycopg.connect(city.db) as conn:
        seen(conn, incident, guard)
    return incident, guard


def test_readme_pictures_of_the_case_file_the_guards_phone_and_the_wall(city: Site, browser: Browser,
                                                                       tmp_path: Path) -> None:
    incident, guard = _panic_seen_by_a_guard(city)
    # The county's safety officer over the school (the widest officer's scope holding it).
    officer = str(city.one("SELECT u.id FROM users u JOIN org_units mine ON mine.id = u.scope_id JOIN incidents i"
                           " ON i.id = %s JOIN org_units s ON s.id = i.school_id WHERE u.role = 'district_officer'"
                           " AND campusguard_within(s.path, mine.path) ORDER BY length(mine.path), u.id LIMIT 1",
                           incident))

    # The officer's map with the incident's case file open.
    desk = browser.new_context(viewport={"width": 1366, "height": 900})
    page: Page = desk.new_page()
    sign_in(page, city.base, officer)
    page.locator(f".incident-item[data-incident-id='{incident}']").click()
    case = page.locator("[data-testid=case-file][data-ready=true]")
    expect(case.locator("[data-testid=case-map][data-drawn=true]")).to_be_visible()
    expect(case.locator("[data-testid=case-seen]")).to_be_visible()
    page.wait_for_function("() => !document.querySelector('.leaflet-tile-loading, .leaflet-zoom-anim')")
    page.wait_for_timeout(300)  # the focus's fly-to ends
    save(page.screenshot(), "case-file.png", tmp_path)

    desk.close()

    # The wall of the city's command centre: every school of the city, their names kept apart.
    wall = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = wall.new_page()
    sign_in(page, city.base, str(city.one("SELECT id FROM users WHERE role = 'district_admin' ORDER BY id LIMIT 1")))
    page.goto(f"{city.base}/wall")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator(f"#wall-incidents li[data-incident-id='{incident}']")).to_be_visible()
    page.wait_for_timeout(500)  # the names' pass after the fit
    save(page.screenshot(), "wall.png", tmp_path)
    wall.close()

    # The guard's phone, its card of the panic at the top.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                has_touch=True)
    page = phone.new_page()
    sign_in(page, city.base, guard)
    expect(page.locator(f"#cards [data-incident-id='{incident}']")).to_be_visible()
    save(page.screenshot(), "guard-phone.png", tmp_path)
    phone.close()
