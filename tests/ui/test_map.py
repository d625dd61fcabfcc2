"""The officer's map in Chromium: the generated basemap, legend, clusters, bus states and README screenshot.

The basemap with named streets, the legend, clusters that split as the map zooms in, buses coloured by state and
never hidden under an incident.

The page fixture fails a test on any console error, so each of these also runs clean under the CSP.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import psycopg
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, WebSocket, expect

from tests.ui.conftest import REPO, Site, person, sign_in

pytestmark = pytest.mark.slow

SCREENSHOT = REPO / "docs" / "img" / "map.png"
STATIC = REPO / "command_ui" / "static"
POSITION = ("INSERT INTO latest_positions (device_id, time, lon, lat, speed_kmh, heading_deg, source)"
            " VALUES (%s, now() - make_interval(mins => %s), %s, %s, 20, 90, 'test') ON CONFLICT (device_id)"
            " DO UPDATE SET time = excluded.time, lon = excluded.lon, lat = excluded.lat")
OFFICE_PANIC = ("antelope-park-office-panic-1", -96.689726, 40.801121)


# What the scale bar says and how long it is: every zoom step changes one of them, once the zoom has ended.
SCALE = ("() => { const el = document.querySelector('.leaflet-control-scale-line');"
         " return el.textContent + el.style.width; }")


def zoom(page: Page, button: str, times: int = 1) -> None:
    """Click a zoom button, each time waiting for the zoom to end (no fixed sleep: a busy machine is slower)."""
    for _ in range(times):
        before = page.evaluate(SCALE)
        page.locator(button).click()
        page.wait_for_function(f"""(before) => !document.querySelector('.leaflet-zoom-anim')
            && ({SCALE})() !== before""", arg=before)


def zoom_in(page: Page, times: int) -> None:
    zoom(page, ".leaflet-control-zoom-in", times)


def test_the_generated_basemap_is_drawn_with_named_streets_a_legend_and_clusters(site: Site, page: Page) -> None:
    site.raise_panic(OFFICE_PANIC[0])
    sign_in(page, site.base, person(site, "district_officer"))
    expect(page.locator("body")).to_have_attribute("data-basemap", "generated")
    # The map's data, as the page drew it: the streets the buses drive on, named from their stops.
    data = page.request.get(f"{site.base}/api/v1/map/generated").json()
    names = {f["properties"]["name"] for f in data["features"] if f["properties"]["kind"] == "street"}
    assert {"A St", "Van Dorn St", "S 48th St", "Holdrege St"} <= names
    expect(page.locator(".leaflet-basemap-pane canvas")).to_have_count(1)
    expect(page.locator(".leaflet-control-scale-line").first).to_be_visible()
    expect(page.locator(".leaflet-control-attribution")).to_contain_text("Map generated from the site file")

    # The legend says what every symbol is: devices, the four bus states, and the incident types on the map.
    legend = page.locator(".map-legend")
    expect(legend.locator("[data-kind=panic_button]")).to_have_text("Panic button")
    expect(legend.locator("[data-kind=camera]")).to_have_text("Camera")
    expect(legend.locator("[data-legend=buses] li")).to_have_count(4)
    expect(legend.locator("[data-state=off_route]")).to_have_text("Off route")
    expect(legend.locator("[data-legend=incidents] li[data-type=panic]")).to_have_text("Panic")
    expect(page.locator(".incident-marker.type-panic svg.glyph")).to_have_count(1)

    # Closer in, the streets are named on the map; names take no clicks and have no box.
    zoom_in(page, 2)
    labels = page.locator(".map-label.kind-street")
    expect(labels.first).to_be_visible()
    shown = set(labels.all_text_contents())
    assert shown and shown <= names
    assert labels.first.evaluate("el => getComputedStyle(el).pointerEvents") == "none"

    # A campus's devices are one numbered disc; a click on it zooms in and they split into their own markers.
    clusters = page.locator(".device-cluster")
    expect(clusters.first).to_be_visible()
    before = page.locator(".leaflet-marker-pane .device-marker").count()
    markers = page.locator(".leaflet-marker-pane .device-marker")
    # Two campuses close together are one cluster at first: a click zooms to it, and another may be needed
    # before a campus's own devices stand apart.
    for _ in range(4):
        clusters.first.click()
        try:
            expect(markers).not_to_have_count(before, timeout=5_000)
            break
        except AssertionError:
            continue
    expect(markers).not_to_have_count(before)
    marker = page.locator(".leaflet-marker-pane .device-marker").first
    assert (marker.get_attribute("aria-label") or "").split(":")[0] in {"Panic button", "Camera"}


def test_a_bus_takes_the_colour_of_its_state_and_stays_above_an_incident(site: Site, page: Page) -> None:
    site.raise_panic(OFFICE_PANIC[0])
    _, lon, lat = OFFICE_PANIC
    with psycopg.connect(site.db) as conn:
        conn.execute(POSITION, ("bus-01-gps", 12, lon, lat))  # parked where the incident is, silent for 12 min
    sign_in(page, site.base, person(site, "district_officer"))
    bus = page.locator(".bus[title='bus-01']")
    expect(bus).to_have_attribute("data-state", "silent")
    expect(bus).to_have_attribute("aria-label", "Route 1: Silent (no position for 5 min)")
    grey = bus.locator(".bus-arrow").evaluate("el => getComputedStyle(el).backgroundColor")

    # The incident's disc is drawn at the same place, but the bus is on top of it: a click there finds the bus.
    page.locator(".incident-item").first.click()
    expect(page.locator("body")).to_have_attribute("data-focused", str(site.one("SELECT max(id) FROM incidents")))
    box = bus.bounding_box()
    assert box is not None
    on_top = page.evaluate("([x, y]) => document.elementFromPoint(x, y)?.closest('.bus')?.title ?? null",
                           [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert on_top == "bus-01"

    # It reports again: on time, and green.
    with psycopg.connect(site.db) as conn:
        conn.execute(POSITION, ("bus-01-gps", 0, lon + 0.0002, lat))
    expect(bus).to_have_attribute("data-state", "on_time", timeout=10_000)
    green = bus.locator(".bus-arrow").evaluate("el => getComputedStyle(el).backgroundColor")
    assert green != grey and green == "rgb(22, 163, 74)"


def test_the_map_tells_the_live_feed_its_zoom_at_each_zoom(site: Site, page: Page) -> None:
    """The map watches positions with its zoom (the server then sends only moves it can show), anew per zoom."""
    sockets: list[WebSocket] = []
    page.on("websocket", lambda socket: sockets.append(socket))  # not list.append: Playwright tags its handler
    sign_in(page, site.base, person(site, "district_officer"))
    watches: list[dict[str, Any]] = []
    for _ in range(2):
        with sockets[-1].expect_event("framesent", lambda text: '"watch"' in str(text)) as frame:
            zoom_in(page, 1)
        watches.append(json.loads(str(frame.value)))
    (out, inside) = watches
    assert isinstance(out["zoom"], int) and 0 <= out["zoom"] < 19 and inside["zoom"] == out["zoom"] + 1
    west, south, east, north = out["bbox"]
    assert west < inside["bbox"][0] < inside["bbox"][2] < east and south < inside["bbox"][1] < north


@pytest.mark.parametrize("path", ["/", "/wall"])
def test_a_basemap_that_fails_leaves_the_incidents_on_the_map(site: Site, page: Page, path: str) -> None:
    """The generated map's answer breaks: the page goes on without streets and still shows the incident."""
    site.raise_panic(OFFICE_PANIC[0])
    incident = site.one("SELECT max(id) FROM incidents")
    # A broken body rather than a 500: Chromium logs a failed load as a console error, which the page fixture
    # (rightly) refuses; what the page must survive is the basemap not coming, however it fails.
    page.route("**/api/v1/map/generated", lambda route: route.fulfill(
        status=200, content_type="application/geo+json", body='{"type": "FeatureCollection", "feat'))
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" and "basemap" in m.text else None)
    sign_in(page, site.base, person(site, "district_officer"))
    warnings.clear()  # the page signing in led to drew (and warned) too: count this page's alone
    page.goto(f"{site.base}{path}")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("body")).to_have_attribute("data-basemap", "none")
    expect(page.locator(f".incident-marker [data-incident-id='{incident}'], "
                        f".incident-marker[data-incident-id='{incident}']").first).to_be_attached()
    expect(page.locator(".leaflet-basemap-pane canvas")).to_have_count(0)
    assert len(warnings) == 1, warnings


def test_the_readme_screenshot_is_taken_from_a_real_run(site: Site, page: Page, tmp_path: Path) -> None:
    """The README's map picture, from a real run: written to tmp_path unless CAMPUSGUARD_UPDATE_SCREENSHOTS=1."""
    site.raise_panic(OFFICE_PANIC[0])
    with psycopg.connect(site.db) as conn:
        conn.execute(POSITION, ("bus-01-gps", 0, -96.6754, 40.8))
        conn.execute(POSITION, ("bus-02-gps", 9, -96.6446, 40.806))
    page.set_viewport_size({"width": 1280, "height": 760})
    sign_in(page, site.base, person(site, "district_officer"))
    expect(page.locator(".bus")).to_have_count(2)
    # The officer picks the incident: the map centres on it; two steps out shows its neighbourhood.
    page.locator(".incident-item").first.click()
    expect(page.locator("body")).to_have_attribute("data-focused", str(site.one("SELECT max(id) FROM incidents")))
    page.locator("#panel-close").click()
    zoom(page, ".leaflet-control-zoom-out", 2)
    # Tiles and labels of the last zoom drawn: the canvas layer settles when no tile is still loading.
    page.wait_for_function("() => !document.querySelector('.leaflet-tile-loading')")
    shot = page.screenshot()
    # The README's picture is rewritten only when asked; an ordinary run leaves the repository clean.
    target = SCREENSHOT if os.environ.get("CAMPUSGUARD_UPDATE_SCREENSHOTS") == "1" else tmp_path / "map.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.open(io.BytesIO(shot)).convert("RGB").save(target, optimize=True)
    if target.stat().st_size >= 300_000:
        # A palette keeps the map's flat colours (no dithering, so each symbol keeps its own) in a smaller file.
        image = Image.open(io.BytesIO(shot)).convert("RGB")
        image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
            target, optimize=True)
    assert Path(target).stat().st_size < 300_000


def test_a_buses_state_is_read_from_its_incidents_and_its_last_fix(browser: Browser) -> None:
    """The rule behind the colours, on the page's own module: off route beats silent beats late."""
    context = browser.new_context()
    tab = context.new_page()
    tab.route("http://campusguard.test/**", lambda route: route.fulfill(
        path=str(STATIC / route.request.url.removeprefix("http://campusguard.test/static/")),
        content_type="text/javascript") if "/static/" in route.request.url else route.fulfill(
        body="<!doctype html><title>states</title>", content_type="text/html"))
    tab.goto("http://campusguard.test/")
    states = tab.evaluate("""async () => {
        const { busState } = await import('/static/js/map-icons.js');
        const now = Date.parse('2026-03-02T07:30:00Z');
        const ids = new Set(['bus-01', 'bus-01-gps']);
        const late = { type: 'late_arrival', title_params: { source_id: 'bus-01' } };
        const off = { type: 'route_deviated', title_params: { source_id: 'bus-01-gps' } };
        const other = { type: 'route_deviated', title_params: { source_id: 'bus-02' } };
        const fresh = now - 20_000, old = now - 6 * 60_000;
        return [busState(fresh, [], ids, now), busState(fresh, [late, other], ids, now),
                busState(old, [late], ids, now), busState(old, [off, late], ids, now),
                busState(fresh, [other], ids, now)];
    }""")
    context.close()
    assert states == ["on_time", "late", "silent", "off_route", "on_time"]
