"""Every role against every resource of its own school, another school of its district, and another district.

Each case asserts the answer (allowed, 403 for the role, 404 or an empty list for what is out of scope) and
that no body, REST or websocket, names anything of a school the caller may not see. The people are the
example district's: guards and the administrator of Antelope Park, Salt Creek's district officer, and the
city-wide district administrator and auditor.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from tests.command_ui.district import PASSWORD, add_incident, api, cover_past, sign_in
from tests.support.ingest import prepare_database
from tests.support.live import next_fixes, watch
from tests.support.postgres import scratch_database
from tests.support.secrets import TEST_ADMIN_PASSWORD

OWN, SIBLING, FOREIGN = "antelope-park-es", "holdrege-es", "walton-road-es"
SCHOOLS = {OWN: ("bus-01", "Antelope Park Elementary"), SIBLING: ("bus-04", "Holdrege Elementary"),
           FOREIGN: ("bus-16", "Walton Road Elementary")}
PEOPLE = {"guard": "leah-wang", "school_admin": "hannah-larsen", "district_officer": "ahmed-wang",
          "district_admin": "daniel-lindqvist", "auditor": "ruth-nguyen"}
# Which of the three schools each role sees.
SEES = {"guard": {OWN}, "school_admin": {OWN}, "district_officer": {OWN, SIBLING},
        "district_admin": {OWN, SIBLING, FOREIGN}, "auditor": {OWN, SIBLING, FOREIGN}}
ACT = {"guard", "school_admin", "district_officer", "district_admin"}
REPORTS = {"school_admin", "district_officer", "district_admin", "auditor"}
AUDIT = {"district_admin", "auditor"}
FENCES = {"school_admin", "district_admin"}
OPS = {"school_admin", "district_officer", "district_admin"}


@dataclass(frozen=True, slots=True)
class District:
    """The seeded database: one open incident and one moving bus per school."""

    url: str
    incidents: dict[str, int]


@pytest.fixture(scope="module")
def district(service_urls: object) -> Iterator[District]:
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        prepare_database(db, PASSWORD)
        now = dt.datetime.now(dt.UTC)
        with psycopg.connect(db) as conn:
            cover_past(conn, 3)
            incidents = {school: add_incident(conn, school, now - dt.timedelta(minutes=5), title=f"Panic at {name}")
                         for school, (_, name) in SCHOOLS.items()}
            for bus, _ in SCHOOLS.values():
                conn.execute("INSERT INTO positions (device_id, time, received_at, lon, lat, source)"
                             " VALUES (%s, %s, %s, -96.66, 40.80, 'test')", (f"{bus}-gps", now, now))
            for device in ("antelope-park-office-panic-1", "holdrege-office-panic-1", "walton-road-office-panic-1"):
                conn.execute("INSERT INTO device_liveness (device_id, last_seen, online) VALUES (%s, %s, true)",
                             (device, now))
        yield District(db, incidents)


@pytest.fixture(scope="module")
def client(district: District, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with api(district.url, tmp_path_factory.mktemp("data")) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def sessions(client: TestClient) -> dict[str, dict[str, str]]:
    return {role: sign_in(client, person) for role, person in PEOPLE.items()}


def forbidden_words(role: str) -> list[str]:
    """Ids and names of the schools (and their buses) the role may not see: none may appear in a body."""
    return [word for school, (bus, name) in SCHOOLS.items() if school not in SEES[role]
            for word in (school, name, f'"{bus}"', f"{bus}-gps")]


def assert_no_leak(role: str, text: str, where: str, asked: str = "") -> None:
    """Fail on any word of a school the role may not see; a refusal may repeat what the caller asked for."""
    for word in forbidden_words(role):
        if word.strip('"') in asked:
            continue
        assert word not in text, f"{role} got {word!r} from {where}"


def expect(response: Response, allowed: bool, refused: int) -> None:
    expected = (200, 201, 204, 409) if allowed else (refused,)
    assert response.status_code in expected, (response.status_code, response.text[:300])


# One case per resource and target school: how to call it, and the answer when the role is let through but
# the school is out of scope (404 for one resource, an empty or narrowed answer for a list).
Call = tuple[str, str, dict[str, Any] | None]


def calls(school: str, district: District) -> dict[str, Call]:
    bus = SCHOOLS[school][0]
    incident = district.incidents[school]
    return {
        "incident": ("GET", f"/api/v1/incidents/{incident}", None),
        "incident_seen": ("POST", f"/api/v1/incidents/{incident}/seen", None),
        "incident_responders": ("GET", f"/api/v1/incidents/{incident}/responders", None),
        "incident_case_file": ("GET", f"/api/v1/incidents/{incident}/case-file", None),
        "incident_contacts": ("GET", f"/api/v1/incidents/{incident}/contacts", None),
        # Closing a raised incident is never allowed: a role let through gets 409, so nothing changes.
        "incident_action": ("POST", f"/api/v1/incidents/{incident}/actions", {"action": "close"}),
        "incident_list": ("GET", f"/api/v1/incidents?school={school}", None),
        "incident_csv": ("GET", f"/api/v1/incidents/export.csv?school={school}", None),
        "bus_eta": ("GET", f"/api/v1/buses/{bus}/eta", None),
        "bus_track": ("GET", f"/api/v1/buses/{bus}/track", None),
        "response_times": ("GET", f"/api/v1/reports/response-times?school={school}", None),
        "device_uptime": ("GET", f"/api/v1/reports/device-uptime?school={school}", None),
        "geofence_put": ("PUT", f"/api/v1/geofences/matrix-{school}", {
            "name": "Matrix", "school_id": school, "geometry": {"type": "Polygon", "coordinates": [[
                [-96.6895, 40.8005], [-96.6890, 40.8005], [-96.6890, 40.8009], [-96.6895, 40.8005]]]}}),
    }


RESOURCES = list(calls(OWN, District("", {OWN: 0})).keys())


@pytest.mark.parametrize("school", [OWN, SIBLING, FOREIGN], ids=["own-school", "other-school", "other-district"])
@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("role", list(PEOPLE))
def test_role_resource_school(client: TestClient, sessions: dict[str, dict[str, str]], district: District,
                              role: str, resource: str, school: str) -> None:
    method, path, body = calls(school, district)[resource]
    in_scope = school in SEES[role]
    response = client.request(method, path, json=body, headers=sessions[role])
    asked = f"{path} {json.dumps(body)}" if response.status_code >= 400 else ""
    assert_no_leak(role, response.text, f"{method} {path}", asked)
    if resource in ("incident", "incident_responders", "incident_case_file", "bus_eta", "bus_track"):
        expect(response, in_scope, 404)
    elif resource in ("incident_action", "incident_contacts", "incident_seen"):  # seen: a receipt of its actors
        if role not in ACT:
            expect(response, False, 403)
        else:
            expect(response, in_scope, 404)
    elif resource == "incident_list":
        expect(response, True, 0)
        assert [i["id"] for i in response.json()] == ([district.incidents[school]] if in_scope else [])
    elif resource == "incident_csv":
        expect(response, role in REPORTS, 403)
        if role in REPORTS:
            assert (str(district.incidents[school]) in response.text) == in_scope
    elif resource in ("response_times", "device_uptime"):
        expect(response, role in REPORTS, 403)
        if role in REPORTS:
            rows = response.json()["weeks" if resource == "response_times" else "schools"]
            assert {r["school_id"] for r in rows} == ({school} if in_scope else set())
    elif resource == "geofence_put":
        expect(response, role in FENCES and in_scope, 403)
        if response.status_code == 201:
            assert client.delete(f"/api/v1/geofences/matrix-{school}", headers=sessions[role]).status_code == 204
    else:  # pragma: no cover - a resource added above without its expectation
        pytest.fail(f"no expectation for {resource}")


@pytest.mark.parametrize("path", ["/api/v1/schools", "/api/v1/buses", "/api/v1/devices", "/api/v1/geofences",
                                  "/api/v1/incidents", "/api/v1/reports/response-times",
                                  "/api/v1/reports/device-uptime", "/api/v1/incidents/export.csv",
                                  "/api/v1/audit", "/api/v1/audit/export.csv", "/api/v1/audit/verify",
                                  "/api/v1/map/basemap", "/api/v1/map/generated", "/api/v1/auth/me",
                                  "/api/v1/openapi.json",
                                  "/api/v1/ops/devices", "/api/v1/ops/dead-letters", "/api/v1/ops/unregistered",
                                  "/api/v1/ops/ingest-rates", "/api/v1/wall/counts", "/api/v1/classes"])
@pytest.mark.parametrize("role", list(PEOPLE))
def test_collections_hold_exactly_the_roles_schools(client: TestClient, sessions: dict[str, dict[str, str]],
                                                   role: str, path: str) -> None:
    response = client.get(path, headers=sessions[role])
    if path.startswith("/api/v1/audit"):
        expect(response, role in AUDIT, 403)
    elif path.startswith(("/api/v1/reports", "/api/v1/incidents/export")):
        expect(response, role in REPORTS, 403)
    elif path.startswith(("/api/v1/ops/", "/api/v1/wall/")):  # the wall is for those who read operations
        expect(response, role in OPS, 403)
    else:
        expect(response, True, 0)
    if path == "/api/v1/openapi.json" or path.startswith("/api/v1/audit"):
        return  # the schema names no school; the audit trail is read city-wide by whom it is allowed
    assert_no_leak(role, response.text, path)
    if path == "/api/v1/schools":
        assert {f["id"] for f in response.json()["features"]} >= SEES[role]


@pytest.mark.parametrize("role", list(PEOPLE))
def test_every_route_refuses_the_anonymous_and_every_role_is_asked(client: TestClient, role: str,
                                                                  district: District) -> None:
    schema = client.get("/api/v1/openapi.json", auth=("admin", TEST_ADMIN_PASSWORD)).json()
    covered = {"/api/v1/incidents/{incident_id}", "/api/v1/incidents/{incident_id}/seen",
               "/api/v1/incidents/{incident_id}/actions", "/api/v1/incidents", "/api/v1/incidents/export.csv",
               "/api/v1/buses/{bus_id}/eta", "/api/v1/buses/{bus_id}/track", "/api/v1/reports/response-times",
               "/api/v1/reports/device-uptime", "/api/v1/geofences/{fence_id}", "/api/v1/schools",
               "/api/v1/buses", "/api/v1/devices", "/api/v1/geofences", "/api/v1/audit", "/api/v1/audit/export.csv",
               "/api/v1/audit/verify", "/api/v1/map/basemap", "/api/v1/map/generated", "/api/v1/auth/me", "/health",
               "/api/v1/auth/login",
               "/api/v1/auth/logout", "/api/v1/auth/me/locale", "/api/v1/snapshots/{snapshot_id}.jpg",
               "/api/v1/incidents/{incident_id}/responders", "/api/v1/me/position",
               "/api/v1/incidents/{incident_id}/case-file", "/api/v1/incidents/{incident_id}/contacts",
               "/api/v1/alarms/shelves", "/api/v1/alarms/shelves/{shelf_id}", "/api/v1/alarms/drill-mode",
               "/api/v1/alarms/drill-mode/{school_id}", "/api/v1/alarms/board", "/api/v1/alarms/health",
               "/api/v1/cameras/{camera_id}/scene", "/api/v1/cameras/{camera_id}/scene/{object_id}/forget",
               "/api/v1/cameras/{camera_id}/scene/clear", "/api/v1/ops/devices", "/api/v1/ops/dead-letters",
               "/api/v1/ops/unregistered", "/api/v1/ops/ingest-rates", "/api/v1/wall/counts",
               "/api/v1/wall/cameras",
               "/api/v1/terminals", "/api/v1/terminals/{device_id}/revoke", "/api/v1/classes",
               "/api/v1/push/key", "/api/v1/push/subscriptions", "/api/v1/push/subscriptions/{subscription_id}",
               "/api/v1/patrols/checkpoint", "/api/v1/patrols/scans", "/api/v1/schools/{school_id}/patrols",
               "/api/v1/schools/{school_id}/patrols/codes", "/api/v1/patrols/checkpoints/{checkpoint_id}/qr.svg",
               "/api/v1/patrols/checkpoints/{checkpoint_id}/rotate", "/api/v1/video/incidents/{incident_id}/clips",
               "/api/v1/video/clips/{clip_id}.mp4", "/api/v1/video/clips/{clip_id}/export",
               "/api/v1/reports/scorecard", "/api/v1/reports/bulletin",
               "/api/v1/classes/{class_id}/buses/{bus_id}/child-check",
               "/api/v1/reports/bulletins", "/api/v1/reports/bulletins/{bulletin_id}",
               "/api/v1/video/cameras/{camera_id}/timeline", "/api/v1/video/cameras/{camera_id}/playback",
               "/api/v1/video/playback/{camera_id}/{name}"}
    # A camera's timeline and playback from a moment: roles, privacy and scope in tests/vision/test_video_timeline.py.
    # The bulletin archive's roles and scope (a county's officer, the city's, a guard): tests/command_ui/
    # test_bulletin_archive.py.
    # The scorecard's and the bulletin's roles and scope at every level: tests/command_ui/test_compliance.py.
    # The wall's camera tiles, its own scope's only: tests/ui/test_wall.py (test_the_wall_names_only_its_own...).
    # A head teacher's end-of-route check, their class's buses only: tests/command_ui/test_class_child_check.py.
    # Patrols' roles and scope (scans by the checkpoint's own school only): tests/command_ui/test_patrols.py.
    # Video clips' roles, privacy and scope: tests/command_ui/test_video.py (the live socket: tests/ui/test_video.py).
    # Push subscriptions are each person's own, whatever their scope: tests/command_ui/test_push.py.
    # Terminals' roles and scope: tests/command_ui/test_terminals.py.
    # Classes and their rosters at every level of a five-level tree: tests/command_ui/test_scope_matrix_city.py.
    # A new route must join the matrix (or this list, with a reason) before it ships. Snapshots' scoping is
    # tested end to end in tests/vision/test_worker.py; here they are asked like every route. A person's own
    # position writes only their own tracker, whatever their scope (tests/command_ui/test_responders.py). Alarm
    # management's roles and scope are tested in tests/command_ui/test_alarms.py, a camera's learned scene in
    # tests/vision/test_scene_store.py. Operations' lists against seeded rows: tests/command_ui/test_ops.py.
    unknown = {p for p in schema["paths"] if p not in covered}
    assert not unknown, f"routes missing from the role matrix: {unknown}"
    for path in covered - {"/health", "/api/v1/auth/login"}:
        concrete = path.replace("{incident_id}", str(district.incidents[OWN])).replace("{bus_id}", "bus-01")
        concrete = concrete.replace("{fence_id}", "x").replace("{snapshot_id}", "1").replace("{shelf_id}", "1")
        concrete = concrete.replace("{school_id}", "antelope-park-es").replace("{camera_id}", "antelope-park-cam-gate")
        concrete = concrete.replace("{object_id}", "1").replace("{device_id}", "bus-02-jt808")
        concrete = concrete.replace("{subscription_id}", "1").replace("{checkpoint_id}", "x").replace("{clip_id}", "1")
        concrete = concrete.replace("{class_id}", "x").replace("{bulletin_id}", "1").replace("{name}", "x.mp4")
        for method in schema["paths"][path]:
            assert client.request(method.upper(), concrete).status_code == 401, f"{method} {path}"


@pytest.mark.parametrize("role", list(PEOPLE))
def test_the_live_feed_carries_only_the_roles_schools(client: TestClient, sessions: dict[str, dict[str, str]],
                                                      district: District, role: str) -> None:
    with client.websocket_connect("/api/v1/live?after=0", headers=sessions[role]) as ws:
        incidents: set[str] = set()
        texts: list[str] = []
        # The present comes first, one message per visible incident; then a position update of the buses.
        while len(incidents) < len(SEES[role]):
            message = ws.receive_json()
            texts.append(json.dumps(message))
            if message["type"] == "incident":
                incidents.add(message["incident"]["school_id"])
        watch(ws)
        with psycopg.connect(district.url) as conn:
            for bus, _ in SCHOOLS.values():
                conn.execute("INSERT INTO latest_positions (device_id, time, lon, lat, source)"
                             " VALUES (%s, now(), -96.66, 40.80, 'test') ON CONFLICT (device_id)"
                             " DO UPDATE SET time = now(), stored_at = clock_timestamp()", (f"{bus}-gps",))
        # A snapshot of what the hub knew comes first, then each tick's moves: read until the own bus is seen.
        seen: set[str] = set()
        while OWN not in seen:
            skipped: list[dict[str, Any]] = []
            moved = next_fixes(ws, skipped)
            texts += [json.dumps(m) for m in skipped] + [json.dumps(moved)]
            assert {p["school_id"] for p in moved} <= SEES[role]
            seen |= {p["school_id"] for p in moved}
    assert incidents == SEES[role]
    for text in texts:
        assert_no_leak(role, text, "the live feed")
