"""Bad input is a 4xx with a reason, never a server error: NUL in text, days and times past the calendar, huge numbers.

PostgreSQL text cannot hold NUL, so psycopg refused it deep in a query (a 500, even from the login, before anyone
signed in); a track of 9999-12-31 overflowed Python's calendar computing its end, and an audit offset of 1e20
overflowed PostgreSQL's bigint. Each is now refused at validation with 422 and the documented body:
``{"detail": "<reason>", "errors": [...]}``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from tests.support.ingest import prepare_database
from tests.support.postgres import scratch_database

ADMIN_PASSWORD = secrets.token_urlsafe(16)
AUTH = ("admin", ADMIN_PASSWORD)
FAR = "9999-12-30T00:00:00Z", "9999-12-31T00:00:00Z"


@pytest.fixture(scope="module")
def client(service_urls: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        prepare_database(db, "a long enough password")
        settings = Settings(mode=Mode.PRODUCTION, database_url=db, secret_key=secrets.token_hex(32),
                            admin_password=ADMIN_PASSWORD, data_dir=tmp_path_factory.mktemp("data"),
                            cookie_secure=False)
        with TestClient(create_app(settings)) as test_client:
            yield test_client


def refused(response: Any, field: str | None = None) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    if field is not None:
        assert field in body["detail"], body
        assert any(field in map(str, error["loc"]) for error in body["errors"]), body


def test_nul_in_the_login_is_refused_before_anyone_signs_in(client: TestClient) -> None:
    refused(client.post("/api/v1/auth/login", json={"username": "ahmed\x00", "password": "x"}), "username")
    refused(client.post("/api/v1/auth/login", json={"username": "ahmed-wang", "password": "\x00"}), "password")


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/api/v1/audit", {"actor": "a\x00b"}, "actor"),
    ("/api/v1/audit/export.csv", {"target": "\x00"}, "target"),
    ("/api/v1/incidents", {"school": ["antelope-park-es", "x\x00"]}, "school"),
    ("/api/v1/incidents", {"type": "\x00"}, "type"),
    ("/api/v1/alarms/health", {"school": "\x00"}, "school"),
    ("/api/v1/buses/bus%00/eta", {}, "bus_id"),
    ("/api/v1/cameras/cam%00/scene", {}, "camera_id"),
])
def test_nul_in_any_text_parameter_is_refused(client: TestClient, path: str, params: dict[str, Any],
                                              field: str) -> None:
    refused(client.get(path, params=params, auth=AUTH), field)


def test_nul_deep_in_a_json_body_is_refused(client: TestClient) -> None:
    fence = {"name": "Gate\x00", "geometry": {"type": "Polygon", "coordinates": [
        [[-96.69, 40.80], [-96.68, 40.80], [-96.68, 40.81], [-96.69, 40.80]]]}}
    refused(client.put("/api/v1/geofences/nul-fence", json=fence, auth=AUTH), "name")
    shelf = {"school_id": "antelope-park-es", "source_id": "bus-01-gps", "minutes": 10, "reason": "loose\x00wire"}
    refused(client.post("/api/v1/alarms/shelves", json=shelf, auth=AUTH), "reason")


def test_a_speed_limit_too_small_to_store_is_refused(client: TestClient) -> None:
    # The sweep's find: 5e-324 km/h passed "greater than 0" and underflowed the real column (a 500).
    fence = {"name": "Slow", "speed_limit_kmh": 5e-324, "geometry": {"type": "Polygon", "coordinates": [
        [[-96.69, 40.80], [-96.68, 40.80], [-96.68, 40.81], [-96.69, 40.80]]]}}
    refused(client.put("/api/v1/geofences/slow-fence", json=fence, auth=AUTH), "speed_limit_kmh")


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/api/v1/buses/bus-01/track", {"date": "9999-12-31"}, "date"),
    ("/api/v1/buses/bus-01/track", {"date": "0001-01-01"}, "date"),
    ("/api/v1/audit", {"offset": "1e20"}, "offset"),
    ("/api/v1/audit", {"offset": str(2**63)}, "offset"),
    ("/api/v1/incidents", {"since": "0001-01-01T00:00:00+14:00"}, "since"),
    ("/api/v1/reports/response-times", {"since": FAR[0], "until": FAR[1]}, "since"),
    ("/api/v1/reports/device-uptime", {"since": FAR[0], "until": FAR[1]}, "since"),
    ("/api/v1/alarms/health", {"since": FAR[0], "until": FAR[1]}, "since"),
    ("/api/v1/incidents/99999999999999999999", {}, "incident_id"),
    ("/api/v1/incidents/99999999999999999999/responders", {}, "incident_id"),
    ("/api/v1/snapshots/99999999999999999999.jpg", {}, "snapshot_id"),
])
def test_days_times_and_numbers_past_what_is_stored_are_refused(client: TestClient, path: str,
                                                                params: dict[str, Any], field: str) -> None:
    refused(client.get(path, params=params, auth=AUTH), field)


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/v1/incidents/-99999999999999999999/actions"),
    ("DELETE", "/api/v1/alarms/shelves/99999999999999999999"),
    ("POST", "/api/v1/cameras/antelope-park-cam-gate/scene/-49547488050378008690688/forget"),
])
def test_ids_no_row_can_have_are_refused(client: TestClient, method: str, path: str) -> None:
    body = {"action": "acknowledge"} if path.endswith("actions") else None
    refused(client.request(method, path, json=body, auth=AUTH))


def test_every_refusal_carries_the_documented_body(client: TestClient) -> None:
    # 401, 403, 404, 405 and a body that is not JSON: each a {"detail": "..."} a person can read.
    answers = [client.get("/api/v1/schools"), client.get("/api/v1/audit", headers=_guard(client)),
               client.get("/api/v1/incidents/424242", auth=AUTH), client.put("/health"),
               client.post("/api/v1/auth/login", content=b'"\xff"', headers={"Content-Type": "application/json"})]
    assert [a.status_code for a in answers] == [401, 403, 404, 405, 400]
    for answer in answers:
        assert answer.headers["content-type"] == "application/json"
        assert isinstance(answer.json()["detail"], str)


def _guard(client: TestClient) -> dict[str, str]:
    signed_in = client.post("/api/v1/auth/login", json={"username": "leah-wang", "password": "a long enough password"})
    assert signed_in.status_code == 200, signed_in.text
    token = signed_in.cookies["campusguard_session"]
    client.cookies.clear()
    return {"Cookie": f"campusguard_session={token}"}


def test_the_schema_documents_every_refusal(tmp_path: Path) -> None:
    settings = Settings(mode=Mode.PRODUCTION, database_url="postgresql://nobody@127.0.0.1:1/none",
                        secret_key=secrets.token_hex(32), admin_password=ADMIN_PASSWORD, data_dir=tmp_path)
    document = create_app(settings).openapi()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status in ("400", "401", "403", "404", "409", "413", "422", "429"):
                content = operation["responses"][status]["content"]
                assert "application/json" in content, (method, path, status)
    assert document["components"]["schemas"]["Problem"]["required"] == ["detail"]
