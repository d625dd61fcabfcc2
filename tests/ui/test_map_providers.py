"""Tile providers: each preset's datum, the shift applied to exactly the providers that need it, and the CSP.

In Python: the settings give the basemap answer and the Content-Security-Policy each provider needs. In
Chromium, over a Chinese city (the example city, WGS-84 in storage): a local tile server stands in for AMap,
Tianditu and an OpenStreetMap-style server (never the internet); a panic button's incident must land on the
pixel of the tiles where that place is drawn: shifted onto GCJ-02 over AMap, as it is over Tianditu and XYZ.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
import uvicorn
from fastapi.testclient import TestClient
from PIL import Image
from playwright.sync_api import Page, expect
from pydantic import ValidationError

from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from command_ui.config import MapSettings
from command_ui.routers.auth import HASHER
from devtools.devservices import free_port
from domain.site import load_site as read_site
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.site_repo import load_site
from tests.support.ingest import wait_for
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY
from tests.ui.conftest import PASSWORD, REPO, Site, sign_in

CITY = REPO / "examples" / "city.yaml"
ZOOM = 16  # the map's zoom once it has gone to an incident (map-page.js: at least 16)


def settings(database_url: str, data_dir: Path, tiles: MapSettings) -> Settings:
    return Settings(mode=Mode.PRODUCTION, database_url=database_url, secret_key=TEST_SECRET_KEY,
                    admin_password=TEST_ADMIN_PASSWORD, data_dir=data_dir, cookie_secure=False, map=tiles)


# --- Python: settings → the basemap answer and the CSP ------------------------------------------------------

@pytest.mark.parametrize(("provider", "crs", "layers", "image_source"), [
    ("generated", "wgs84", 0, None),
    ("amap", "gcj02", 1, "https://*.is.autonavi.com"),
    ("tianditu", "wgs84", 2, "https://*.tianditu.gov.cn"),
    ("xyz", "wgs84", 1, "https://tile.openstreetmap.org"),
])
def test_each_preset_knows_its_datum_and_opens_the_csp_to_its_servers_only(
        tmp_path: Path, provider: str, crs: str, layers: int, image_source: str | None) -> None:
    tiles = MapSettings.model_validate({"provider": provider, "tk": "k" if provider == "tianditu" else None})
    assert (tiles.tiles().crs, len(tiles.tiles().layers)) == (crs, layers)
    app = create_app(settings("postgresql://nobody@127.0.0.1:1/none", tmp_path, tiles))
    policy = TestClient(app).get("/static/js/dom.js").headers["content-security-policy"]  # no database needed
    images = next(part for part in policy.split("; ") if part.startswith("img-src"))
    assert images == " ".join(filter(None, ["img-src 'self' data: blob:", image_source]))


def test_a_custom_template_says_its_datum_and_a_mirror_keeps_its_presets() -> None:
    custom = MapSettings(provider="custom", tiles_url="https://tiles.example.cn/{z}/{x}/{y}.png", crs="gcj02")
    assert custom.tiles().crs == "gcj02" and custom.tile_urls() == ("https://tiles.example.cn/{z}/{x}/{y}.png",)
    # A URL alone is a custom provider, in WGS-84 unless told (the settings of before the presets).
    assert MapSettings(tiles_url="https://t.example.org/{z}/{x}/{y}.png").tiles().provider == "custom"
    mirror = MapSettings(provider="amap", tiles_url="https://mirror.example.cn/{z}/{x}/{y}.png")
    assert mirror.tiles().crs == "gcj02" and mirror.tile_urls() == ("https://mirror.example.cn/{z}/{x}/{y}.png",)
    tianditu = MapSettings(provider="tianditu", tk="a b")
    assert all("tk=a%20b" in url for url in tianditu.tile_urls())
    assert [("vec_w" in u, "cva_w" in u) for u in tianditu.tile_urls()] == [(True, False), (False, True)]


@pytest.mark.parametrize(("given", "says"), [
    ({"provider": "tianditu"}, "CAMPUSGUARD_MAP__TK"), ({"provider": "custom"}, "CAMPUSGUARD_MAP__TILES_URL"),
    ({"provider": "bing"}, "provider"),
])
def test_an_incomplete_provider_is_refused_with_what_to_set(given: dict[str, str], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        MapSettings.model_validate(given)


# --- Chromium: the marker on the tiles' pixel ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TileServer:
    """A local stand-in for a provider's tile servers: any path is a plain 256 px tile; paths asked are kept."""

    base: str
    asked: list[str]


@pytest.fixture(scope="module")
def tile_server() -> Iterator[TileServer]:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (221, 228, 214)).save(buffer, format="PNG")
    tile, asked = buffer.getvalue(), []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="tile-server", daemon=True)
    thread.start()
    try:
        yield TileServer(f"http://127.0.0.1:{server.server_address[1]}", asked)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def city_db(fresh_database_url: str) -> str:
    with psycopg.connect(fresh_database_url) as conn:
        migrate(conn, StorageBackend.AUTO, RetentionSettings())
        load_site(conn, read_site(CITY))
        conn.execute("UPDATE users SET password_hash = %s", (HASHER.hash(PASSWORD),))
    return fresh_database_url


def serving(database_url: str, data_dir: Path, tiles: MapSettings) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings(database_url, data_dir, tiles)), host="127.0.0.1",
                                          port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="ui-test-server")
    thread.start()
    wait_for(lambda: server.started, 20, "uvicorn to start")
    return server, thread, f"http://127.0.0.1:{port}"


def world_pixel(lon: float, lat: float, zoom: int) -> tuple[float, float]:
    """Web Mercator pixel of a point at a zoom, as every one of these providers tiles the world."""
    size = 256 * 2**zoom
    return (lon + 180) / 360 * size, (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * size


@pytest.mark.parametrize("provider", ["amap", "tianditu", "xyz"])
def test_an_incident_lands_on_its_place_on_each_providers_tiles(
        city_db: str, tile_server: TileServer, tmp_path: Path, page: Page, provider: str) -> None:
    tiles = MapSettings(provider=provider, tk="test-key",
                        tiles_url=f"{tile_server.base}/{provider}/{{z}}/{{x}}/{{y}}.png",
                        annotation_url=f"{tile_server.base}/labels/{{z}}/{{x}}/{{y}}.png")
    city = read_site(CITY)
    button = next(b for e in city.iter_schools() for b in e.school.panic_buttons if b.location)
    assert button.location is not None
    lon, lat = button.location
    officer = next(p.person.id for p in city.iter_people() if p.person.role == "district_officer")
    server, thread, base = serving(city_db, tmp_path, tiles)
    try:
        Site(base, city_db).raise_panic(button.id)
        sign_in(page, base, officer)
        expect(page.locator("body")).to_have_attribute("data-basemap", provider)
        answer = page.request.get(f"{base}/api/v1/map/basemap").json()
        assert answer["crs"] == ("gcj02" if provider == "amap" else "wgs84") and answer["generated"] is None
        page.locator(".incident-item").first.click()
        expect(page.locator("body[data-focused]")).to_have_count(1)

        # Where the tiles draw the place: in GCJ-02 for AMap (computed by the page's own transform, which
        # tests/ui/test_panels.py checks against reference points), as stored for the others.
        if provider == "amap":
            lon, lat = page.evaluate("async ([lon, lat]) => (await import('/static/js/gcj02.js'))"
                                     ".wgs84ToGcj02(lon, lat)", [lon, lat])
        x, y = world_pixel(lon, lat, ZOOM)
        tile = page.locator(f".tiles-0 img[src$='/{provider}/{ZOOM}/{int(x // 256)}/{int(y // 256)}.png']")
        expect(tile.first).to_be_visible()
        tile_box, marker_box = tile.first.bounding_box(), page.locator(".incident-marker").first.bounding_box()
        assert tile_box is not None and marker_box is not None
        expected = (tile_box["x"] + x % 256, tile_box["y"] + y % 256)
        centre = (marker_box["x"] + marker_box["width"] / 2, marker_box["y"] + marker_box["height"] / 2)
        assert math.dist(expected, centre) < 2.0, (expected, centre)
        if provider == "amap":  # and the shift is real: the unshifted place is a few hundred pixels away
            plain = world_pixel(*button.location, ZOOM)
            assert math.dist((plain[0] - x, plain[1] - y), (0, 0)) > 50
        if provider == "tianditu":  # its labels are drawn over its streets
            wait_for(lambda: any(p.startswith("/labels/") for p in tile_server.asked), 10, "the annotation tiles")
    finally:
        page.goto("about:blank")  # the page stops asking before its server goes
        server.should_exit = True
        thread.join(timeout=30)
