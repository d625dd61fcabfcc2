"""Sign-in, sessions, roles and scoping against a real database: nobody sees or changes what is not theirs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from alerts.escalation import EscalationPolicy
from alerts.rules import load_rules
from alerts.service import AlertService
from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from tests.support.ingest import prepare_database
from tests.support.postgres import scratch_database

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "district.yaml"
PASSWORD = "a long enough password"
SECRET_KEY = "test-only-secret-key-0123456789-abcdefghijklmnop"
ADMIN_PASSWORD = "test-only-Admin-7f3k9q2x"



@pytest.fixture(scope="module")
def url(service_urls: object) -> Iterator[str]:
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        prepare_database(db, PASSWORD)
        with psycopg.connect(db) as conn:
            now = datetime.now(UTC)
            for device in ("antelope-park-office-panic-1", "walton-road-office-panic-1"):
                conn.execute("INSERT INTO device_events (device_id, time, kind, received_at, detail)"
                             " VALUES (%s, %s, 'panic', %s, '{}')", (device, now, now))
        AlertService(db, load_rules(), EscalationPolicy(), []).decide_pending()
        yield db


def person(url: str, role: str, school: str | None = None) -> str:
    with psycopg.connect(url) as conn:
        query = "SELECT u.id FROM users u WHERE u.role = %s" + (" AND u.scope_id = %s" if school else "")
        row = conn.execute(query + " ORDER BY u.id LIMIT 1", (role, school) if school else (role,)).fetchone()
    assert row is not None
    return str(row[0])


def incident_of(url: str, school: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT id FROM incidents WHERE school_id = %s", (school,)).fetchone()
    assert row is not None, f"no incident at {school}"
    return int(row[0])


@pytest.fixture
def app(url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(mode=Mode.PRODUCTION, database_url=url, secret_key=SECRET_KEY, admin_password=ADMIN_PASSWORD,
                        data_dir=tmp_path, cookie_secure=False, login_attempts=3)
    with TestClient(create_app(settings)) as client:
        yield client


def login(client: TestClient, user: str, password: str = PASSWORD) -> int:
    return client.post("/api/v1/auth/login", json={"username": user, "password": password}).status_code


def schools_of(url: str) -> tuple[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT DISTINCT school_id FROM incidents ORDER BY 1").fetchall()
    assert len(rows) == 2
    return rows[0][0], rows[1][0]


def test_a_guard_sees_only_their_school(app: TestClient, url: str) -> None:
    own, other = schools_of(url)
    guard = person(url, "guard", own)
    assert login(app, guard) == 200
    assert {s["id"] for s in app.get("/api/v1/schools").json()["features"]} == {own}
    assert {i["school_id"] for i in app.get("/api/v1/incidents").json()} == {own}
    assert app.get(f"/api/v1/incidents/{incident_of(url, other)}").status_code == 404
    assert app.post(f"/api/v1/incidents/{incident_of(url, other)}/actions",
                    json={"action": "acknowledge"}).status_code == 404
    assert all(d["properties"]["school_id"] == own for d in app.get("/api/v1/devices").json()["features"])
    assert app.post(f"/api/v1/incidents/{incident_of(url, own)}/actions",
                    json={"action": "acknowledge"}).status_code == 200


def test_roles_decide_what_may_be_done(app: TestClient, url: str) -> None:
    own, _ = schools_of(url)
    assert login(app, person(url, "guard", own)) == 200
    assert app.get("/api/v1/audit").status_code == 403
    fence = {"name": "Roof", "school_id": own, "geometry": {"type": "Polygon", "coordinates": [
        [[-96.6895, 40.8005], [-96.6890, 40.8005], [-96.6890, 40.8009], [-96.6895, 40.8005]]]}}
    assert app.put("/api/v1/geofences/guard-roof", json=fence).status_code == 403
    app.post("/api/v1/auth/logout")
    assert login(app, person(url, "auditor")) == 200
    assert app.get("/api/v1/audit").status_code == 200
    assert app.post(f"/api/v1/incidents/{incident_of(url, own)}/actions",
                    json={"action": "respond"}).status_code == 403
    app.post("/api/v1/auth/logout")
    admin = person(url, "school_admin", own)
    assert login(app, admin) == 200
    assert app.put("/api/v1/geofences/admin-roof", json=fence).status_code == 201
    _, other = schools_of(url)
    assert app.put("/api/v1/geofences/elsewhere", json={**fence, "school_id": other}).status_code == 403


def test_sessions_end_on_logout_and_cookies_are_httponly(app: TestClient, url: str) -> None:
    response = app.post("/api/v1/auth/login", json={"username": person(url, "auditor"), "password": PASSWORD})
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    token = app.cookies.get("campusguard_session")
    assert app.get("/api/v1/auth/me").json()["role"] == "auditor"
    assert app.post("/api/v1/auth/logout").status_code == 204
    app.cookies.set("campusguard_session", token or "")
    assert app.get("/api/v1/auth/me").status_code == 401  # the server forgot the session, not only the browser


def test_failed_logins_are_audited_and_throttled(app: TestClient, url: str) -> None:
    # Per (name, address): tests/command_ui/test_auth_hardening.py has the other addresses and the delays.
    victim = person(url, "district_officer")
    assert [login(app, victim, "wrong password") for _ in range(3)] == [401, 401, 401]
    assert login(app, victim) == 429  # from this address even the right password waits
    assert login(app, "nobody-at-all", "x") == 401  # another name from the same address does not
    with psycopg.connect(url) as conn:
        failed = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'auth.login_failed'"
                              " AND target = %s", (f"user:{victim}",)).fetchone()
    assert failed == (3,)
