"""The API against a real database: authentication on every route, GeoJSON out, health without secrets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from domain.site.validate import load_site as read_site
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.site_repo import load_site
from tests.support.ingest import wait_for
from tests.support.secrets import TEST_SECRET_KEY

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "district.yaml"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def loaded_url(service_urls: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.support.postgres import scratch_database

    with scratch_database(service_urls.database_url) as url:  # type: ignore[attr-defined]
        with psycopg.connect(url) as conn:
            migrate(conn, StorageBackend.AUTO, RetentionSettings())
            load_site(conn, read_site(EXAMPLE))
        yield url


@pytest.fixture(scope="module")
def client(loaded_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(mode=Mode.PRODUCTION, database_url=loaded_url, secret_key=TEST_SECRET_KEY,
                        admin_password=PASSWORD, data_dir=tmp_path_factory.mktemp("data"))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


AUTH = ("admin", PASSWORD)


def test_health_is_public_and_says_which_storage_path(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["storage"] == "plain"
    assert body["live_feed"] in ("starting", "ok")
    wait_for(lambda: client.get("/health").json()["live_feed"] == "ok", 10, "the incident feed's first read")


@pytest.mark.parametrize("path", ["/api/v1/schools", "/api/v1/buses", "/api/v1/devices",
                                  "/api/v1/openapi.json"])
def test_every_other_route_needs_credentials(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, auth=("admin", "wrong password")).status_code == 401
    assert client.get(path, auth=AUTH).status_code == 200


def test_pages_are_public_shells_that_hold_no_data(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert "antelope" not in page.text.lower()  # nothing of the district before sign-in
    assert client.get("/vendor/leaflet/leaflet.js").status_code == 200


def test_no_route_is_left_unauthenticated(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json", auth=AUTH).json()
    public = {"/health", "/api/v1/auth/login"}  # the probe, and the door itself
    for path, operations in schema["paths"].items():
        if path in public:
            continue
        for operation in operations.values():
            assert operation.get("security"), f"{path} has no security requirement"


def test_schools_are_geojson_polygons_from_the_database(client: TestClient) -> None:
    site = read_site(EXAMPLE)
    body = client.get("/api/v1/schools", auth=AUTH).json()
    assert body["type"] == "FeatureCollection"
    assert {f["id"] for f in body["features"]} == {s.school.id for s in site.iter_schools()}
    first = body["features"][0]
    assert first["geometry"]["type"] == "Polygon"
    lon, lat = first["geometry"]["coordinates"][0][0]
    assert -180 <= lon <= 180 and -90 <= lat <= 90


def test_buses_carry_routes_and_ordered_stops(client: TestClient) -> None:
    site = read_site(EXAMPLE)
    expected = {b.id: [s.id for s in b.route.stops] for e in site.iter_schools() for b in e.school.buses}
    body = client.get("/api/v1/buses", auth=AUTH).json()
    got = {f["id"]: [s["id"] for s in f["properties"]["stops"]] for f in body["features"]}
    assert got == expected
    assert all(f["geometry"]["type"] == "LineString" for f in body["features"])


def test_devices_filter_by_kind_and_hide_camera_urls(client: TestClient) -> None:
    cameras = client.get("/api/v1/devices", params={"kind": "camera"}, auth=AUTH).json()["features"]
    site = read_site(EXAMPLE)
    assert len(cameras) == sum(len(e.school.cameras) for e in site.iter_schools())
    assert all("rtsp" not in str(f["properties"]).lower() or f["properties"]["source"] == "rtsp" for f in cameras)
    assert all("config" not in f["properties"] for f in cameras)
    assert client.get("/api/v1/devices", params={"kind": "toaster"}, auth=AUTH).status_code == 422


SQUARE = {"type": "Polygon", "coordinates": [[[-96.6895, 40.8005], [-96.6890, 40.8005], [-96.6890, 40.8009],
                                              [-96.6895, 40.8009], [-96.6895, 40.8005]]]}


def test_geofences_list_the_site_restricted_areas(client: TestClient) -> None:
    site = read_site(EXAMPLE)
    expected = {a.id for e in site.iter_schools() for a in e.school.restricted_areas}
    body = client.get("/api/v1/geofences", auth=AUTH).json()
    assert {f["id"] for f in body["features"] if f["properties"]["source"] == "site"} == expected


def test_a_drawn_geofence_is_created_redrawn_and_removed(client: TestClient) -> None:
    fence = {"name": "Roof access", "school_id": "antelope-park-es", "geometry": SQUARE}
    assert client.put("/api/v1/geofences/roof-access", json=fence, auth=AUTH).status_code == 201
    assert client.put("/api/v1/geofences/roof-access", json={**fence, "name": "Roof"}, auth=AUTH).status_code == 200
    listed = {f["id"]: f for f in client.get("/api/v1/geofences", auth=AUTH).json()["features"]}
    assert listed["roof-access"]["properties"]["name"] == "Roof"
    assert client.delete("/api/v1/geofences/roof-access", auth=AUTH).status_code == 204
    assert client.delete("/api/v1/geofences/roof-access", auth=AUTH).status_code == 404
    assert "roof-access" not in {f["id"] for f in client.get("/api/v1/geofences", auth=AUTH).json()["features"]}


def test_site_fences_and_bad_fences_are_refused(client: TestClient) -> None:
    site_fence = next(iter({a.id for e in read_site(EXAMPLE).iter_schools() for a in e.school.restricted_areas}))
    fence = {"name": "X", "geometry": SQUARE}
    assert client.put(f"/api/v1/geofences/{site_fence}", json=fence, auth=AUTH).status_code == 409
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    assert client.put("/api/v1/geofences/bowtie", json={"name": "X", "geometry": bowtie}, auth=AUTH).status_code == 422
    assert client.put("/api/v1/geofences/Bad Id", json=fence, auth=AUTH).status_code == 422
    assert client.put("/api/v1/geofences/x", json={**fence, "school_id": "nowhere"}, auth=AUTH).status_code == 422
    assert client.put("/api/v1/geofences/x", json=fence).status_code == 401


def test_incidents_are_listed_read_and_moved_with_who_and_from_where(client: TestClient, loaded_url: str) -> None:
    from datetime import UTC, datetime

    from alerts.escalation import EscalationPolicy
    from alerts.rules import load_rules
    from alerts.service import AlertService

    now = datetime.now(UTC)
    with psycopg.connect(loaded_url) as conn:
        conn.execute("INSERT INTO device_events (device_id, time, kind, received_at, detail)"
                     " VALUES ('antelope-park-office-panic-1', %s, 'panic', %s, '{}')", (now, now))
    AlertService(loaded_url, load_rules(), EscalationPolicy(), []).decide_pending()
    listed = client.get("/api/v1/incidents", params={"status": "raised"}, auth=AUTH).json()
    incident_id = listed[0]["id"]
    assert listed[0]["type"] == "panic" and listed[0]["severity"] == "critical"
    url = f"/api/v1/incidents/{incident_id}/actions"
    assert client.post(url, json={"action": "acknowledge"}).status_code == 401
    assert client.post(url, json={"action": "acknowledge", "note": "on my way"}, auth=AUTH).json()["status"] == (
        "acknowledged")
    refused = client.post(url, json={"action": "resolve"}, auth=AUTH)
    assert refused.status_code == 409 and "false alarm" in refused.json()["detail"]
    assert client.post(url, json={"action": "dance"}, auth=AUTH).status_code == 422
    detail = client.get(f"/api/v1/incidents/{incident_id}", auth=AUTH).json()
    ack = next(t for t in detail["timeline"] if t["kind"] == "acknowledge")
    assert ack["actor"] == "admin" and ack["note"] == "on my way" and ack["detail"]["source"] == "testclient"
    assert client.get("/api/v1/incidents/999999", auth=AUTH).status_code == 404


def test_configuration_changes_and_incident_moves_are_in_a_verified_audit_trail(client: TestClient) -> None:
    fence = {"name": "Audited roof", "geometry": SQUARE}
    assert client.put("/api/v1/geofences/audited-roof", json=fence, auth=AUTH).status_code == 201
    found = client.get("/api/v1/audit", params={"action": "geofence.save", "target": "geofence:audited-roof"},
                       auth=AUTH).json()
    assert len(found) == 1 and found[0]["actor"] == "admin" and found[0]["detail"]["created"] is True
    site_loads = client.get("/api/v1/audit", params={"action": "site.load"}, auth=AUTH).json()
    assert len(site_loads) == 1 and site_loads[0]["detail"]["schools"]["inserted"] == 7
    verdict = client.get("/api/v1/audit/verify", auth=AUTH).json()
    assert verdict["ok"] is True and verdict["records"] >= 2
    csv_text = client.get("/api/v1/audit/export.csv", auth=AUTH).text
    assert "geofence.save" in csv_text and "site.load" in csv_text
    assert client.get("/api/v1/audit").status_code == 401
