"""Responders: a person shares their own position from the guard page, and an incident lists who is nearest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from tests.command_ui.conftest import PASSWORD
from tests.command_ui.test_live import OTHER, OWN, guard_of, press

OWN_PHONE = "leah-wang-phone"  # the example gives the first guard of OWN this OwnTracks phone


def sign_in(client: TestClient, username: str) -> None:
    client.cookies.clear()
    assert client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}).status_code == 200


def one(url: str, query: str, *args: object) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(query, args).fetchone()
    assert row is not None
    return str(row[0])


def phone(url: str, device: str, user: str, school: str | None, lon: float, lat: float, age_s: float = 10) -> None:
    """Give someone a phone tracker (if the site file did not) and a latest fix ``age_s`` old."""
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO devices (id, school_id, kind, name, user_id, source) VALUES"
                     " (%s, %s, 'person_tracker', %s, %s, 'owntracks') ON CONFLICT (id) DO NOTHING",
                     (device, school, f"{user}'s phone", user))
        conn.execute("INSERT INTO latest_positions (device_id, time, lon, lat, source) VALUES (%s, %s, %s, %s,"
                     " 'test') ON CONFLICT (device_id) DO UPDATE SET time = excluded.time, lon = excluded.lon,"
                     " lat = excluded.lat", (device, datetime.now(UTC) - timedelta(seconds=age_s), lon, lat))


def test_a_guard_shares_their_position_as_their_phone(client: TestClient, url: str) -> None:
    sign_in(client, guard_of(url, OWN))
    taken = datetime.now(UTC) - timedelta(seconds=3)
    answer = client.post("/api/v1/me/position",
                         json={"lon": -96.69, "lat": 40.8, "accuracy_m": 8.5, "time": taken.isoformat()})
    assert answer.status_code == 204, answer.text
    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT time, lon, lat, accuracy_m, source FROM positions WHERE device_id = %s",
                              (OWN_PHONE,)).fetchall()
        latest = conn.execute("SELECT time, source FROM latest_positions WHERE device_id = %s",
                              (OWN_PHONE,)).fetchone()
    assert stored == [(taken, -96.69, 40.8, 8.5, "web")]
    assert latest == (taken, "web")


def test_sharing_refuses_what_it_cannot_store(client: TestClient, url: str) -> None:
    assert client.post("/api/v1/me/position", json={"lon": 0, "lat": 0}).status_code == 401
    sign_in(client, one(url, "SELECT id FROM users WHERE role = 'auditor'"))
    refused = client.post("/api/v1/me/position", json={"lon": -96.69, "lat": 40.8})
    assert refused.status_code == 409 and "tracker" in refused.json()["detail"]
    sign_in(client, guard_of(url, OWN))
    for bad in ({"lon": -96.69, "lat": 95}, {"lon": -96.69, "lat": 40.8, "time": "2026-11-23T08:00:00"},
                {"lon": -96.69, "lat": 40.8, "time": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
                {"lon": -96.69, "lat": 40.8, "speed": 3}):
        assert client.post("/api/v1/me/position", json=bad).status_code == 422, bad
    assert one(url, "SELECT count(*) FROM positions") == "0"


def test_an_incident_lists_who_could_respond_nearest_first_and_no_one_else(client: TestClient, url: str) -> None:
    press(url, "antelope-park-office-panic-1")
    incident = one(url, "SELECT id FROM incidents WHERE school_id = %s", OWN)
    lon, lat = (float(v) for v in one(url, "SELECT lon || ',' || lat FROM incidents WHERE id = %s",
                                      int(incident)).split(","))
    officer = one(url, "SELECT id FROM users WHERE role = 'district_officer' AND scope_id = 'salt-creek-sd'")
    second_guard = one(url, "SELECT id FROM users WHERE role = 'guard' AND scope_id = %s ORDER BY id DESC", OWN)
    phone(url, OWN_PHONE, guard_of(url, OWN), OWN, lon + 0.01, lat)  # ~840 m east
    phone(url, "second-guard-phone", second_guard, OWN, lon, lat + 0.0005)  # ~56 m north
    phone(url, "officer-phone", officer, None, lon, lat - 0.002)  # ~220 m south, a phone of no school
    phone(url, "stale-phone", second_guard, OWN, lon, lat, age_s=3 * 3600)  # where someone was this morning
    phone(url, "priya-haddad-phone", guard_of(url, OTHER), OTHER, lon, lat)  # another school's guard, right here

    sign_in(client, officer)
    listed = client.get(f"/api/v1/incidents/{incident}/responders").json()
    assert [r["device_id"] for r in listed] == ["second-guard-phone", "officer-phone", OWN_PHONE]
    assert 50 <= listed[0]["distance_m"] <= 62 and 800 <= listed[2]["distance_m"] <= 880
    assert listed[0]["lon"] == lon and listed[0]["role"] == "guard"

    sign_in(client, guard_of(url, OWN))
    seen_by_guard = {r["device_id"]: r for r in client.get(f"/api/v1/incidents/{incident}/responders").json()}
    assert set(seen_by_guard) == {"second-guard-phone", "officer-phone", OWN_PHONE}
    assert seen_by_guard["officer-phone"]["lon"] is None  # how far the officer is, not where
    assert seen_by_guard["second-guard-phone"]["lat"] is not None

    sign_in(client, guard_of(url, OTHER))
    assert client.get(f"/api/v1/incidents/{incident}/responders").status_code == 404
