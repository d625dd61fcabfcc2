"""Security headers on every answer, and state changes or live feeds refused to pages of another origin.

A page on another port of the same host shares the officer's session cookie (cookies ignore ports); the app
must refuse its POST and its websocket handshake, and still serve scripts, curl and its own pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from command_ui.config import MapSettings, WebSettings
from command_ui.deps import SESSION_COOKIE
from command_ui.security_headers import SecurityHeaders
from tests.command_ui.conftest import PASSWORD

OWN = "http://testserver"  # the TestClient's origin: its Host header is "testserver"
FOREIGN = ["http://testserver:8081", "https://testserver:8443", "http://evil.example", "null"]
SECRET_KEY = "4f9d1c7e2a8b60d35e1f9a7c4b2d08e6c5a3f1b9d7e2c4a60813f5b7d9e1c2a4"
ADMIN_PASSWORD = "c7e2a91f4b6d03e8"


def settings_for(url: str, data_dir: Path, **more: Any) -> Settings:
    return Settings(mode=Mode.PRODUCTION, database_url=url, secret_key=SECRET_KEY,
                    admin_password=ADMIN_PASSWORD, data_dir=data_dir, cookie_secure=False, **more)


@pytest.fixture
def client(url: str, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(url, tmp_path))) as test_client:
        yield test_client
HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def officer(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT id FROM users WHERE role = 'district_officer' ORDER BY id LIMIT 1").fetchone()
    assert row is not None
    return str(row[0])


def sign_in(client: TestClient, user: str) -> None:
    answer = client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    assert client.cookies.get(SESSION_COOKIE)


def assert_secured(headers: object) -> None:
    got = {k.lower(): v for k, v in dict(headers).items()}  # type: ignore[call-overload]
    for name, value in HEADERS.items():
        assert got.get(name) == value, (name, got)
    policy = {d.split()[0]: d.split()[1:] for d in got["content-security-policy"].split("; ")}
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"][:3] == ["'self'", "data:", "blob:"]
    assert policy["connect-src"] == ["'self'"]
    for directive in ("frame-ancestors", "object-src", "base-uri"):
        assert policy[directive] == ["'none'"]
    assert policy["form-action"] == ["'self'"]


def test_every_kind_of_answer_carries_the_headers(client: TestClient, url: str) -> None:
    for path in ("/", "/login", "/guard", "/history", "/static/js/dom.js", "/static/css/campusguard.css",
                 "/vendor/leaflet/leaflet.css", "/health"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert_secured(answer.headers)
    for path, status in (("/api/v1/auth/me", 401), ("/no/such/page", 404), ("/static/nope.js", 404)):
        answer = client.get(path)
        assert answer.status_code == status, (path, answer.status_code)
        assert_secured(answer.headers)
    sign_in(client, officer(url))
    for path, status in (("/api/v1/schools", 200), ("/api/v1/incidents?limit=nope", 422)):
        answer = client.get(path)
        assert answer.status_code == status, (path, answer.text)
        assert_secured(answer.headers)


def test_an_unhandled_error_answers_500_with_the_headers() -> None:
    app = FastAPI()
    app.add_middleware(SecurityHeaders)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    answer = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal server error"}
    assert_secured(answer.headers)


def test_the_configured_tile_server_may_serve_images(tmp_path: Path) -> None:
    settings = settings_for("postgresql://nobody@127.0.0.1:1/none", tmp_path,
                            map=MapSettings(tiles_url="https://webrd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}"))
    answer = TestClient(create_app(settings)).get("/static/js/dom.js")  # no lifespan: no database needed
    policy = answer.headers["content-security-policy"]
    assert "img-src 'self' data: blob: https://*.is.autonavi.com;" in policy
    assert_secured(answer.headers)


@pytest.mark.parametrize("foreign", FOREIGN)
def test_a_foreign_page_cannot_change_state(client: TestClient, url: str, foreign: str) -> None:
    user = officer(url)
    sign_in(client, user)
    # A bodyless POST (no preflight in a browser) from another origin riding on the cookie: refused.
    answer = client.post("/api/v1/auth/logout", headers={"Origin": foreign})
    assert answer.status_code == 403
    assert "cross-origin" in answer.json()["detail"]
    assert_secured(answer.headers)
    assert client.get("/api/v1/auth/me").status_code == 200  # the session survived
    for method in ("PUT", "PATCH", "DELETE"):
        answer = client.request(method, "/api/v1/geofences/test-fence", headers={"Origin": foreign})
        assert answer.status_code == 403, method
    answer = client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD},
                         headers={"Origin": foreign})
    assert answer.status_code == 403


def test_the_referer_speaks_when_there_is_no_origin(client: TestClient, url: str) -> None:
    sign_in(client, officer(url))
    answer = client.post("/api/v1/auth/logout", headers={"Referer": "http://testserver:8081/attack.html"})
    assert answer.status_code == 403
    assert client.get("/api/v1/auth/me").status_code == 200
    answer = client.post("/api/v1/auth/logout", headers={"Referer": f"{OWN}/history?incident=3"})
    assert answer.status_code == 204, answer.text


def test_the_sites_own_pages_and_scripts_may_change_state(client: TestClient, url: str) -> None:
    user = officer(url)
    answer = client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD},
                         headers={"Origin": OWN})
    assert answer.status_code == 200, answer.text
    assert_secured(answer.headers)
    assert client.post("/api/v1/auth/logout", headers={"Origin": f"{OWN}:80"}).status_code == 204
    # Behind a TLS proxy that uvicorn does not believe, the page is https and the request looks like http.
    sign_in(client, user)
    assert client.post("/api/v1/auth/logout", headers={"Origin": "https://testserver"}).status_code == 204
    sign_in(client, user)  # no Origin: a script or curl
    assert client.post("/api/v1/auth/logout").status_code == 204
    # GET is never refused: links from other sites to a page must still open it.
    assert client.get("/login", headers={"Origin": "http://evil.example"}).status_code == 200
    # HTTP Basic (the built-in admin's scripts) sends no Origin.
    fence = {"name": "Test fence", "geometry": {"type": "Polygon", "coordinates": [
        [[-96.7, 40.8], [-96.69, 40.8], [-96.69, 40.81], [-96.7, 40.8]]]}}
    answer = client.put("/api/v1/geofences/test-fence", json=fence, auth=("admin", ADMIN_PASSWORD))
    assert answer.status_code == 201, answer.text


def test_an_allowed_origin_may_change_state(url: str, tmp_path: Path) -> None:
    settings = settings_for(url, tmp_path, web=WebSettings(allowed_origins=("https://CG.district.example:443/",)))
    assert settings.web.allowed_origins == ("https://cg.district.example",)
    with TestClient(create_app(settings)) as client:
        answer = client.post("/api/v1/auth/login", json={"username": officer(url), "password": PASSWORD},
                             headers={"Origin": "https://cg.district.example"})
        assert answer.status_code == 200, answer.text
        answer = client.post("/api/v1/auth/logout", headers={"Origin": "https://cg.district.example:8443"})
        assert answer.status_code == 403


def test_an_allowed_origin_must_be_an_origin() -> None:
    for bad in ("https://cg.example/login", "cg.example", "ftp://cg.example", "https://cg.example:99999"):
        with pytest.raises(ValueError, match="not an origin"):
            WebSettings(allowed_origins=(bad,))


@pytest.mark.parametrize("foreign", FOREIGN)
def test_a_foreign_page_cannot_open_the_live_feed(client: TestClient, url: str, foreign: str) -> None:
    sign_in(client, officer(url))
    with pytest.raises(WebSocketDenialResponse) as refused, \
            client.websocket_connect("/api/v1/live", headers={"Origin": foreign}):
        pass
    assert refused.value.status_code == 403
    assert "cross-origin" in refused.value.json()["detail"]
    assert_secured(refused.value.headers)
    # The site's own page, and a script naming no origin, still open it.
    for headers in ({"Origin": OWN}, {}):
        with client.websocket_connect("/api/v1/live", headers=headers) as ws:
            ws.send_json({"type": "nonsense"})
            assert ws.receive_json()["type"] == "error"  # open and answering
