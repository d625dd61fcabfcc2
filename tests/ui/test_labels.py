"""School names on the map and the wall never cover one another (issue 17), in Chromium with the example city.

At the city's whole-city zoom some thirty campuses lie a few pixels apart: every name shown must stand clear of
every other, the hidden ones show on their campus's hover, and zooming in brings more of them back
(static/js/label-declutter.js).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import Site, sign_in

pytestmark = pytest.mark.slow


CITY_ADMIN = "li-guiying"  # the city's district administrator: every school of the city in view
SHOWN_BOXES = """() => [...document.querySelectorAll('.school-label')]
    .filter((el) => getComputedStyle(el).visibility === 'visible')
    .map((el) => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"""


def _overlaps(boxes: list[list[float]]) -> list[tuple[int, int]]:
    return [(i, j) for i, a in enumerate(boxes) for j, b in enumerate(boxes[i + 1:], i + 1)
            if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]


def _settled(page: Page) -> int:
    """Wait for the map to stop moving and the names' pass after it; return how many names show."""
    page.wait_for_function("() => document.body.dataset.labelsShown !== undefined")
    page.wait_for_function("() => !document.querySelector('.leaflet-zoom-anim')")
    page.wait_for_timeout(400)  # the pass runs on moveend, after the zoom animation (250 ms) ends
    return int(page.evaluate("() => Number(document.body.dataset.labelsShown)"))


def _check_labels(page: Page) -> None:
    schools = page.locator(".school-label").count()
    assert schools >= 25  # the whole city is drawn
    shown = _settled(page)
    boxes = page.evaluate(SHOWN_BOXES)
    assert len(boxes) == shown and 0 < shown < schools  # the city's crowd really is thinned
    assert _overlaps(boxes) == []

    # A hidden name shows while the pointer is over its campus, and hides again when it leaves.
    school = page.locator(".school-label.label-hidden .label-text").first.get_attribute("data-school-id")
    campus = page.locator(f"path.campus[data-school-id='{school}']")
    label = page.locator(f".school-label:has(.label-text[data-school-id='{school}'])")
    expect(label).to_be_hidden()
    campus.dispatch_event("mouseover")
    expect(label).to_be_visible()
    campus.dispatch_event("mouseout")
    expect(label).to_be_hidden()

    # Two steps closer (the mouse wheel over the map, as on a desk or a touch wall): more names fit, still apart.
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -240)
    closer = _settled(page)
    assert closer > shown
    assert _overlaps(page.evaluate(SHOWN_BOXES)) == []


def test_school_names_never_cover_each_other_on_the_map(city: Site, page: Page) -> None:
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, city.base, CITY_ADMIN)
    _check_labels(page)


def test_school_names_never_cover_each_other_on_the_wall(city: Site, page: Page) -> None:
    # A critical incident's title stands on the wall's map: no school's name covers it either.
    city.raise_panic(str(city.one("SELECT id FROM devices WHERE kind = 'panic_button' ORDER BY id LIMIT 1")))
    page.set_viewport_size({"width": 1920, "height": 1080})
    sign_in(page, city.base, CITY_ADMIN)
    page.goto(f"{city.base}/wall")
    page.wait_for_selector("body[data-ready=true]")
    title = page.locator(".leaflet-tooltip-pane .leaflet-tooltip")
    expect(title).to_have_count(1)
    _settled(page)
    box = title.bounding_box()
    assert box is not None
    alarm = [box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]]
    assert [b for b in page.evaluate(SHOWN_BOXES) if _overlaps([alarm, b])] == []
    _check_labels(page)
