"""The incident as a case file: its snapshots, the bus's track around the moment, readings, readers, contacts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from tests.command_ui.test_live import OTHER, OWN, guard_of
from tests.command_ui.test_responders import one, sign_in

CAMERA, SENSOR, BUS = "antelope-park-cam-gate", "antelope-park-kitchen-freezer", "bus-01"
TINY_JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


def incident(url: str, school: str, kind: str, source: str, at: datetime) -> int:
    """Store a raised incident whose one evidence item names ``source`` at ``at``."""
    evidence = [{"kind": kind, "ref": None, "time": at.isoformat(), "summary": kind, "signal_id": f"{kind}:{source}",
                 "source_id": source, "lon": -96.69, "lat": 40.80}]
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "INSERT INTO incidents (school_id, type, severity, status, title, lon, lat, opened_at, updated_at,"
            " last_signal_at, evidence) VALUES (%s, %s, 'high', 'raised', %s, -96.69, 40.80, %s, %s, %s, %s)"
            " RETURNING id", (school, kind, f"{kind} at {school}", at, at, at, json.dumps(evidence))).fetchone()
    assert row is not None
    return int(row[0])


def test_a_camera_incident_names_its_snapshot_and_a_bus_incident_its_track_around_the_moment(
        client: TestClient, url: str) -> None:
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    with psycopg.connect(url) as conn:
        snap = conn.execute(
            "INSERT INTO snapshots (camera_id, time, kind, width, height, faces, jpeg_blurred, jpeg_original)"
            " VALUES (%s, %s, 'vision.person_down', 1, 1, 0, %s, %s) RETURNING id",
            (CAMERA, moment, TINY_JPEG, TINY_JPEG)).fetchone()
        assert snap is not None
        # Another picture of the same camera a second later belongs to no evidence of the incident.
        conn.execute("INSERT INTO snapshots (camera_id, time, kind, width, height, faces, jpeg_blurred,"
                     " jpeg_original) VALUES (%s, %s, 'vision.person_down', 1, 1, 0, '', '')",
                     (CAMERA, moment + timedelta(seconds=1)))
        trackers = [r[0] for r in conn.execute("SELECT id FROM devices WHERE bus_id = %s", (BUS,))]
        for minutes in (-15, -9, 0, 9, 15):  # only the three within ten minutes of the moment
            conn.execute("INSERT INTO positions (device_id, time, received_at, lon, lat, source) VALUES"
                         " (%s, %s, now(), %s, 40.8, 'test')",
                         (trackers[0], moment + timedelta(minutes=minutes), -96.69 + minutes / 1000))
        conn.execute("INSERT INTO sensor_readings (device_id, time, metric, value, received_at) VALUES"
                     " (%s, %s, 'temperature_c', -2.5, now()), (%s, %s, 'temperature_c', 4.0, now())",
                     (SENSOR, moment - timedelta(minutes=2), SENSOR, moment - timedelta(hours=2)))
    camera = incident(url, OWN, "vision.person_down", CAMERA, moment)
    bus = incident(url, OWN, "geo.route_deviation", BUS, moment)
    sensor = incident(url, OWN, "sensor.temperature_high", SENSOR, moment)

    sign_in(client, guard_of(url, OWN))
    case = client.get(f"/api/v1/incidents/{camera}/case-file").json()
    assert [s["id"] for s in case["snapshots"]] == [snap[0]] and case["snapshots"][0]["camera_id"] == CAMERA
    assert case["may_see_faces"] is False and case["track"] == [] and case["bus_id"] is None
    assert case["campus"]["type"] in ("Polygon", "MultiPolygon") and case["lon"] == -96.69
    assert client.get(f"/api/v1/snapshots/{snap[0]}.jpg").content == TINY_JPEG

    case = client.get(f"/api/v1/incidents/{bus}/case-file").json()
    assert case["bus_id"] == BUS and case["snapshots"] == []
    assert [round(f["lon"], 3) for f in case["track"]] == [-96.699, -96.69, -96.681]
    assert datetime.fromisoformat(case["moment"]) == moment

    case = client.get(f"/api/v1/incidents/{sensor}/case-file").json()
    assert [(r["sensor_id"], r["value"]) for r in case["readings"]] == [(SENSOR, -2.5)]

    officer = one(url, "SELECT id FROM users WHERE role = 'district_officer' AND scope_id = 'salt-creek-sd'")
    sign_in(client, officer)
    assert client.get(f"/api/v1/incidents/{camera}/case-file").json()["may_see_faces"] is True

    # Another school's guard: none of it exists.
    sign_in(client, guard_of(url, OTHER))
    for case_id in (camera, bus, sensor):
        refused = client.get(f"/api/v1/incidents/{case_id}/case-file")
        assert refused.status_code == 404 and refused.json() == {"detail": f"no incident {case_id}"}


def test_who_has_seen_it_with_when(client: TestClient, url: str) -> None:
    case_id = incident(url, OWN, "panic", "antelope-park-office-panic-1", datetime.now(UTC))
    guard = guard_of(url, OWN)
    sign_in(client, guard)
    assert client.get(f"/api/v1/incidents/{case_id}/case-file").json()["seen"] == []
    assert client.post(f"/api/v1/incidents/{case_id}/seen").status_code == 200
    assert client.post(f"/api/v1/incidents/{case_id}/seen").status_code == 200  # once per person
    seen = client.get(f"/api/v1/incidents/{case_id}/case-file").json()["seen"]
    name = one(url, "SELECT display_name FROM users WHERE id = %s", guard)
    assert [(s["user_id"], s["name"], s["role"]) for s in seen] == [(guard, name, "guard")]
    assert datetime.now(UTC) - datetime.fromisoformat(seen[0]["time"]) < timedelta(minutes=1)


def test_contacts_are_the_schools_staff_for_those_who_act_and_nobody_else(client: TestClient, url: str) -> None:
    case_id = incident(url, OWN, "panic", "antelope-park-office-panic-1", datetime.now(UTC))
    with psycopg.connect(url) as conn:
        staff = {r[0]: r[1] for r in conn.execute(
            "SELECT id, phone FROM users WHERE scope_id = %s AND role IN ('guard', 'school_admin')", (OWN,))}
        conn.execute("UPDATE users SET phone = NULL WHERE id = %s", (sorted(staff)[-1],))
    reachable = {k: v for k, v in staff.items() if k != sorted(staff)[-1]}
    assert reachable

    for reader in (guard_of(url, OWN), one(url, "SELECT id FROM users WHERE role = 'district_officer'"
                                                 " AND scope_id = 'salt-creek-sd'")):
        sign_in(client, reader)
        listed = client.get(f"/api/v1/incidents/{case_id}/contacts").json()
        assert {c["user_id"]: c["phone"] for c in listed} == reachable  # no district staff, nobody unreachable
        assert listed[0]["role"] == "guard"

    sign_in(client, one(url, "SELECT id FROM users WHERE role = 'auditor' ORDER BY id LIMIT 1"))
    refused = client.get(f"/api/v1/incidents/{case_id}/contacts")
    assert refused.status_code == 403 and "act on incidents" in refused.json()["detail"]

    sign_in(client, guard_of(url, OTHER))
    refused = client.get(f"/api/v1/incidents/{case_id}/contacts")
    assert refused.status_code == 404 and refused.json() == {"detail": f"no incident {case_id}"}
    assert "555" not in refused.text
