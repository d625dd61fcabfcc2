"""The generated basemap's route: signed in only, made from what the caller may see, gzipped, cached by ETag."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from tests.support.ingest import prepare_database
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY
from tests.ui.conftest import PASSWORD

GENERATED = "/api/v1/map/generated"


@pytest.fixture
def client(fresh_database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    prepare_database(fresh_database_url, PASSWORD)
    settings = Settings(mode=Mode.PRODUCTION, database_url=fresh_database_url, secret_key=TEST_SECRET_KEY,
                        admin_password=TEST_ADMIN_PASSWORD, data_dir=tmp_path, cookie_secure=False)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def signed_in(client: TestClient, user: str) -> TestClient:
    client.cookies.clear()
    assert client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD}).status_code == 200
    return client


def street_names(client: TestClient) -> set[str]:
    body = client.get(GENERATED).json()
    return {f["properties"]["name"] for f in body["features"] if f["properties"]["kind"] == "street"}


def test_the_generated_map_is_for_those_signed_in_gzipped_and_cached(client: TestClient) -> None:
    assert client.get(GENERATED).status_code == 401
    assert client.get("/api/v1/map/basemap").status_code == 401
    signed_in(client, "daniel-lindqvist")
    answer = client.get("/api/v1/map/basemap").json()
    assert answer == {"provider": "generated", "crs": "wgs84", "layers": [], "generated": GENERATED}
    first = client.get(GENERATED, headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and first.headers["content-encoding"] == "gzip"
    assert first.headers["content-type"] == "application/geo+json"
    assert first.json()["type"] == "FeatureCollection"
    again = client.get(GENERATED, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    plain = client.get(GENERATED, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json() == first.json()


def test_a_guard_gets_the_streets_of_their_schools_routes_and_no_others(client: TestClient) -> None:
    district = street_names(signed_in(client, "daniel-lindqvist"))
    guard = street_names(signed_in(client, "leah-wang"))  # a guard at Antelope Park Elementary
    assert {"A St", "S 56th St", "S 48th St"} <= guard
    # Holdrege St is another school's address and its buses' street: the district sees it, the guard does not.
    assert "Holdrege St" in district and "Holdrege St" not in guard
    assert len(guard) < len(district)


def test_the_generated_maps_cache_is_bounded_by_bytes_and_generates_the_site_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each school of the city has its clip cached; the cache holds bytes up to its budget, whatever the count."""
    from command_ui.routers import basemap as route
    from domain.site import load_site
    from geo.basemap import Basemap, BasemapInput, generate_basemap

    city = load_site(Path(__file__).resolve().parents[2] / "examples" / "city.yaml")
    whole = BasemapInput.from_site(city)
    parts = [BasemapInput((campus,), ()) for campus in whole.campuses[:6]]
    generated: list[int] = []

    def counted(given: BasemapInput, seed: int = 0) -> Basemap:
        generated.append(seed)
        return generate_basemap(given, seed)

    monkeypatch.setattr(route, "generate_basemap", counted)
    monkeypatch.setattr(route, "_CACHE", type(route._CACHE)())
    monkeypatch.setattr(route, "_WHOLE", type(route._WHOLE)())
    made = [route._made(whole, part, 0) for part in parts]
    assert generated == [0]  # the whole site once; every scope a clip of it
    sizes = [m.size for m in made]
    assert len(route._CACHE) == len(parts)  # 64 MiB holds far more than 32 scopes of a city
    budget = sum(sizes[-3:])
    monkeypatch.setattr(route, "_CACHE_BYTES", budget)
    route._made(whole, BasemapInput(whole.campuses[6:7], ()), 0)
    assert sum(m.size for m in route._CACHE.values()) <= budget and len(route._CACHE) < len(parts)
