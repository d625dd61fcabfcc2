"""The operations API and the audit trail's school filter, against seeded rows whose figures are known.

Antelope Park (the school administrator's school) has an offline panic button, a smoke sensor low on battery, a
stalled gate camera, a dead letter from its gym button and a mistyped bus tracker id on its own topic. Holdrege
(the same district) and Walton Road (another district) have their own, and some input belongs to no school: a
dead letter from an unknown friendly name, an OsmAnd id one character short of bus-04's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from fastapi.testclient import TestClient

from domain.audit import AuditRecord
from store import audit_repo, ops_repo
from tests.command_ui.district import PASSWORD, add_incident, api, cover_past, sign_in
from tests.support.ingest import prepare_database
from tests.support.postgres import scratch_database

OWN, SIBLING, FOREIGN = "antelope-park-es", "holdrege-es", "walton-road-es"
PEOPLE = {"guard": "leah-wang", "school_admin": "hannah-larsen", "district_officer": "ahmed-wang",
          "district_admin": "daniel-lindqvist", "auditor": "ruth-nguyen"}
ROUTES = ("/api/v1/ops/devices", "/api/v1/ops/dead-letters", "/api/v1/ops/unregistered",
          "/api/v1/ops/ingest-rates")


@dataclass(frozen=True, slots=True)
class Seeded:
    url: str
    now: dt.datetime
    own_incident: int
    foreign_incident: int


def _letter(conn: psycopg.Connection, at: dt.datetime, source: str, topic: str, reason: str, payload: bytes) -> None:
    conn.execute("INSERT INTO dead_letters (time, digest, source, topic, reason, message, payload)"
                 " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                 (at, topic.encode()[:32], source, topic, reason, f"{reason} explained", payload))


@pytest.fixture(scope="module")
def seeded(service_urls: object) -> Iterator[Seeded]:
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        prepare_database(db, PASSWORD)
        now = dt.datetime.now(dt.UTC)
        minute = dt.timedelta(minutes=1)
        with psycopg.connect(db, autocommit=True) as conn:
            cover_past(conn, 3)
            for device, online, battery, low in (
                    ("antelope-park-office-panic-1", False, None, False),
                    ("antelope-park-kitchen-smoke", True, 12.0, True),
                    ("antelope-park-gym-panic", True, 80.0, False),
                    ("holdrege-office-panic-1", False, None, False),
                    ("walton-road-office-panic-1", False, None, False)):
                conn.execute("INSERT INTO device_liveness (device_id, last_seen, online, battery_pct, battery_low)"
                             " VALUES (%s, %s, %s, %s, %s)", (device, now - 90 * minute, online, battery, low))
            for camera, kinds in (("antelope-park-cam-gate", ("camera_online", "camera_offline")),
                                  ("antelope-park-cam-kitchen", ("camera_offline", "camera_online")),
                                  ("walton-road-cam-gate", ("camera_offline",))):
                for n, kind in enumerate(kinds):
                    conn.execute("INSERT INTO device_events (device_id, time, kind, received_at, detail)"
                                 " VALUES (%s, %s, %s, %s, '{\"reason\": \"no frame for 30 s\"}')",
                                 (camera, now - (20 - n) * minute, kind, now - (20 - n) * minute))
            _letter(conn, now - 5 * minute, "mqtt", "zigbee2mqtt/antelope-park/gym_panic", "invalid_json",
                    b'{"action": "hold",\x00 <b>broken')
            _letter(conn, now - 4 * minute, "mqtt", "zigbee2mqtt/antelope-park/gym_panic", "out_of_range",
                    b'{"battery": 900}')
            _letter(conn, now - 3 * minute, "mqtt", "zigbee2mqtt/walton-road/gym_panic", "invalid_json", b"{")
            _letter(conn, now - 2 * minute, "mqtt", "zigbee2mqtt/nobody-knows", "invalid_json", b"?")
            _letter(conn, now - 1 * minute, "osmand-http", "id=19d28517282c40f9f30b&lat=95\n", "out_of_range", b"")
            conn.execute(
                "INSERT INTO unregistered_devices (source, external_id, first_seen, last_seen, messages, last_topic)"
                " VALUES ('campusguard', 'bus-01-gsp', %s, %s, 7, 'campusguard/v1/antelope-park-es/gps/bus-01-gsp'),"
                " ('osmand', '19d28517282c40f9f30', %s, %s, 3, 'id=19d28517282c40f9f30&lat=40.8\ntext/plain')",
                (now - 30 * minute, now - minute, now - 20 * minute, now - 2 * minute))
            for device, count in (("bus-01-gps", 3), ("bus-04-gps", 2), ("bus-16-gps", 4)):
                for n in range(count):
                    at = now - 2 * minute + dt.timedelta(seconds=n)
                    conn.execute("INSERT INTO positions (device_id, time, received_at, lon, lat, source)"
                                 " VALUES (%s, %s, %s, -96.66, 40.80, 'test')", (device, at, at))
            own = add_incident(conn, OWN, now - 3 * minute, title="Panic at Antelope Park")
            foreign = add_incident(conn, FOREIGN, now - 3 * minute, title="Panic at Walton Road")
            for incident in (own, foreign):
                audit_repo.append(conn, AuditRecord(now, "someone", "incident.note", f"incident:{incident}",
                                                    {"note": f"note on {incident}"}))
        yield Seeded(db, now, own, foreign)


@pytest.fixture(scope="module")
def client(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with api(seeded.url, tmp_path_factory.mktemp("data")) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def sessions(client: TestClient) -> dict[str, dict[str, str]]:
    return {role: sign_in(client, person) for role, person in PEOPLE.items()}


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("role", ["guard", "auditor"])
def test_guards_and_auditors_are_refused(client: TestClient, sessions: dict[str, dict[str, str]],
                                         role: str, path: str) -> None:
    response = client.get(path, headers=sessions[role])
    assert response.status_code == 403
    assert response.json() == {"detail": f"a {role} may not read operations"}


def test_a_school_admin_sees_only_their_schools_devices_and_cameras(
        client: TestClient, sessions: dict[str, dict[str, str]]) -> None:
    body = client.get("/api/v1/ops/devices", headers=sessions["school_admin"]).json()
    heard = {d["device_id"]: d["state"] for d in body["devices"] if d["state"] != "never_heard"}
    assert heard == {"antelope-park-office-panic-1": "offline", "antelope-park-kitchen-smoke": "low_battery"}
    smoke = next(d for d in body["devices"] if d["device_id"] == "antelope-park-kitchen-smoke")
    assert smoke["battery_pct"] == 12.0 and smoke["battery_low"] is True
    never = {d["device_id"] for d in body["devices"] if d["state"] == "never_heard"}
    assert "antelope-park-nurse-panic" in never and "bus-01-gps" in never
    assert all(d["school_id"] == OWN for d in body["devices"])
    assert not any(d["kind"] in ("camera", "person_tracker") for d in body["devices"])
    assert [(c["camera_id"], c["reason"]) for c in body["cameras"]] == [("antelope-park-cam-gate",
                                                                         "no frame for 30 s")]


def test_a_district_sees_its_schools(client: TestClient, sessions: dict[str, dict[str, str]]) -> None:
    body = client.get("/api/v1/ops/devices", headers=sessions["district_officer"]).json()
    offline = {d["device_id"] for d in body["devices"] if d["state"] == "offline"}
    assert offline == {"antelope-park-office-panic-1", "holdrege-office-panic-1"}
    city = client.get("/api/v1/ops/devices", headers=sessions["district_admin"]).json()
    assert {c["camera_id"] for c in city["cameras"]} == {"antelope-park-cam-gate", "walton-road-cam-gate"}


def test_dead_letters_are_scoped_by_the_device_they_name(client: TestClient,
                                                         sessions: dict[str, dict[str, str]]) -> None:
    own = client.get("/api/v1/ops/dead-letters", headers=sessions["school_admin"]).json()
    assert own["reasons"] == {"invalid_json": 1, "out_of_range": 1}
    assert [(d["reason"], d["device_id"]) for d in own["letters"]] == [
        ("out_of_range", "antelope-park-gym-panic"), ("invalid_json", "antelope-park-gym-panic")]
    broken = own["letters"][1]
    assert broken["excerpt"] == '{"action": "hold",  <b>broken'  # NUL as a space, markup as it came
    assert broken["message"] == "invalid_json explained" and broken["size"] == 29
    only = client.get("/api/v1/ops/dead-letters?reason=invalid_json", headers=sessions["school_admin"]).json()
    assert [d["reason"] for d in only["letters"]] == ["invalid_json"] and only["reasons"] == own["reasons"]
    # Bus-04's OsmAnd request names a Holdrege tracker: the district sees it, with the request as its topic.
    district = client.get("/api/v1/ops/dead-letters", headers=sessions["district_officer"]).json()
    assert {d["device_id"] for d in district["letters"]} == {"antelope-park-gym-panic", "bus-04-osmand"}
    assert "id=19d28517282c40f9f30b&lat=95" in next(d["topic"] for d in district["letters"]
                                                    if d["source"] == "osmand-http")
    # A dead letter naming no registered device is the whole tree's only.
    city = client.get("/api/v1/ops/dead-letters", headers=sessions["district_admin"]).json()
    assert city["reasons"] == {"invalid_json": 3, "out_of_range": 2}
    assert None in {d["device_id"] for d in city["letters"]}


def test_dead_letter_windows_are_bounded(client: TestClient, sessions: dict[str, dict[str, str]]) -> None:
    headers = sessions["district_admin"]
    assert client.get("/api/v1/ops/dead-letters?since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z",
                      headers=headers).status_code == 422
    old = client.get("/api/v1/ops/dead-letters?since=2025-01-01T00:00:00Z&until=2025-01-02T00:00:00Z",
                     headers=headers).json()
    assert old["letters"] == [] and old["reasons"] == {}


def test_unregistered_ids_with_their_school_and_closest_registered_id(
        client: TestClient, sessions: dict[str, dict[str, str]]) -> None:
    own = client.get("/api/v1/ops/unregistered", headers=sessions["school_admin"]).json()
    assert [(u["external_id"], u["messages"], u["school_id"], u["closest"]) for u in own] == [
        ("bus-01-gsp", 7, OWN, "bus-01-gps")]
    assert own[0]["last_topic"] == "campusguard/v1/antelope-park-es/gps/bus-01-gsp"
    # An OsmAnd id names no school: only the whole tree's readers see it, told which id it is one short of.
    assert [u["external_id"] for u in client.get("/api/v1/ops/unregistered",
                                                 headers=sessions["district_officer"]).json()] == ["bus-01-gsp"]
    city = client.get("/api/v1/ops/unregistered", headers=sessions["district_admin"]).json()
    osmand = next(u for u in city if u["source"] == "osmand")
    assert osmand["closest"] == "19d28517282c40f9f30b"
    assert osmand["last_topic"] == "id=19d28517282c40f9f30&lat=40.8 text/plain"


def test_ingest_rates_count_what_arrived_per_minute(client: TestClient, sessions: dict[str, dict[str, str]],
                                                    seeded: Seeded) -> None:
    def totals(role: str) -> tuple[int, int, int]:
        minutes = client.get("/api/v1/ops/ingest-rates", headers=sessions[role]).json()["minutes"]
        assert len(minutes) == 60
        return (sum(m["positions"] for m in minutes), sum(m["dead_letters"] for m in minutes),
                sum(m["events"] for m in minutes))

    # School: bus-01's 3 fixes, the gym button's 2 dead letters, the gate camera's 2 health events.
    assert totals("school_admin") == (3, 2, 4)
    assert totals("district_officer") == (5, 3, 4)
    assert totals("district_admin") == (9, 5, 5)
    assert client.get("/api/v1/ops/ingest-rates?minutes=100000",
                      headers=sessions["district_admin"]).status_code == 422


def test_the_audit_trail_filters_by_school(client: TestClient, sessions: dict[str, dict[str, str]],
                                           seeded: Seeded) -> None:
    headers = sessions["auditor"]
    own = client.get(f"/api/v1/audit?school={OWN}&action=incident.note", headers=headers).json()
    assert [r["target"] for r in own] == [f"incident:{seeded.own_incident}"]
    district = client.get("/api/v1/audit?school=salt-creek-sd&action=incident.note", headers=headers).json()
    assert [r["target"] for r in district] == [f"incident:{seeded.own_incident}"]
    assert client.get("/api/v1/audit?school=no-such-school", headers=headers).json() == []
    csv = client.get(f"/api/v1/audit/export.csv?school={FOREIGN}&action=incident.note", headers=headers).text
    assert f"incident:{seeded.foreign_incident}" in csv and f"incident:{seeded.own_incident}" not in csv
    newest = client.get("/api/v1/audit?newest_first=true&limit=2", headers=headers).json()
    assert newest[0]["id"] > newest[1]["id"]


def test_a_payload_excerpt_is_one_bounded_line() -> None:
    assert ops_repo.excerpt(b"a\nb\tc\xff") == "a b c\ufffd"
    assert len(ops_repo.excerpt(b"x" * 1000)) == ops_repo.EXCERPT_CHARS
    assert ops_repo.closest_id("bus-01-gsp", ["bus-01-gps", "bus-10-gps"]) == "bus-01-gps"
    assert ops_repo.closest_id("something-else", ["bus-01-gps"]) is None
