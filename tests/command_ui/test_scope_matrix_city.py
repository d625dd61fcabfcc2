"""Every role at every level of the example city sees exactly its subtree on the API (issue 18).

The city has five levels (city, county-level district or county, township, school, class). Four schools are
seeded with one open incident and one moving bus each: the own school, a sibling in the same township, a cousin
in another township of the same county, and a stranger in another county. Seven people, one per role and level:
the city bureau's officer and auditor, the county's officer, the township centre school's admin, the school's
admin and guard, and a class's head teacher. Each must get exactly the schools below them, nothing of the others
in any body, and ``/auth/me`` must name the scope they sit at.

The site file stays the single source: people and paths are looked up in it, not written here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import shapely.geometry
from fastapi.testclient import TestClient

from command_ui.routers.auth import HASHER
from command_ui.routers.basemap import basemap_input
from command_ui.routers.reports import READ_REPORTS
from command_ui.routers.wall import WATCH_WALL
from domain.site import Site, load_site
from geo.basemap_clip import scope_area
from store import queries
from store.auth_repo import people_along
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.site_repo import load_site as store_site
from tests.command_ui.district import PASSWORD, add_incident, api, cover_past, sign_in
from tests.support.live import next_fixes, watch
from tests.support.postgres import scratch_database

CITY = Path(__file__).resolve().parents[2] / "examples" / "city.yaml"
OWN, SIBLING, COUSIN, STRANGER = "wangzhuang-zxxx", "wangzhuang-cz", "tunzi-zxxx", "gaocun-zxxx"
SCHOOLS = (OWN, SIBLING, COUSIN, STRANGER)
# role name in the matrix -> (site role, the unit or class they sit at, the schools they see)
LEVELS: dict[str, tuple[str, str, frozenset[str]]] = {
    "city_officer": ("district_admin", "hechuan", frozenset(SCHOOLS)),
    "city_auditor": ("auditor", "hechuan", frozenset(SCHOOLS)),
    "county_officer": ("district_officer", "junchuan", frozenset({OWN, SIBLING, COUSIN})),
    "township_admin": ("district_officer", "wangzhuang", frozenset({OWN, SIBLING})),
    "school_admin": ("school_admin", OWN, frozenset({OWN})),
    "guard": ("guard", OWN, frozenset({OWN})),
    # A class holds no incident, bus or device of its own: its head teacher sees none of the school's.
    "head_teacher": ("head_teacher", f"{OWN}-c1", frozenset()),
}


@dataclass(frozen=True, slots=True)
class City:
    """The loaded city: its site model, the database, each school's incident and bus, each role's person."""

    site: Site
    url: str
    incidents: dict[str, int]
    buses: dict[str, str]
    people: dict[str, str]
    paths: dict[str, str]


def person_at(site: Site, role: str, scope: str) -> str:
    """The first person of ``role`` sitting at ``scope`` in the site file."""
    return next(p.id for p, at in site.iter_people() if p.role == role and at == scope)


@pytest.fixture(scope="module")
def city(service_urls: object) -> Iterator[City]:
    site = load_site(CITY)
    buses = {e.school.id: e.school.buses[0].id for e in site.iter_schools() if e.school.id in SCHOOLS}
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        now = dt.datetime.now(dt.UTC)
        with psycopg.connect(db) as conn:
            migrate(conn, StorageBackend.AUTO, RetentionSettings())
            store_site(conn, site)
            conn.execute("UPDATE users SET password_hash = %s", (HASHER.hash(PASSWORD),))
            cover_past(conn, 3)
            incidents = {school: add_incident(conn, school, now - dt.timedelta(minutes=5), title=f"一键报警 {school}")
                         for school in SCHOOLS}
            for bus in buses.values():
                conn.execute("INSERT INTO positions (device_id, time, received_at, lon, lat, source)"
                             " VALUES (%s, %s, %s, 114.5, 35.6, 'test')", (f"{bus}-jt808", now, now))
                conn.execute("INSERT INTO latest_positions (device_id, time, lon, lat, source)"
                             " VALUES (%s, %s, 114.5, 35.6, 'test')", (f"{bus}-jt808", now))
            paths: dict[str, str] = dict(conn.execute("SELECT id, path FROM org_units").fetchall())
        people = {name: person_at(site, role, scope) for name, (role, scope, _) in LEVELS.items()}
        yield City(site, db, incidents, buses, people, paths)


@pytest.fixture(scope="module")
def client(city: City, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with api(city.url, tmp_path_factory.mktemp("data")) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def sessions(client: TestClient, city: City) -> dict[str, dict[str, str]]:
    return {name: sign_in(client, person) for name, person in city.people.items()}


def forbidden(city: City, name: str) -> list[str]:
    """Ids and names of the seeded schools (and their buses) ``name`` may not see."""
    names = {e.school.id: e.school.name for e in city.site.iter_schools()}
    return [word for school in SCHOOLS if school not in LEVELS[name][2]
            for word in (f'"{school}"', names[school], city.buses[school])]


def assert_no_leak(city: City, name: str, text: str, where: str) -> None:
    for word in forbidden(city, name):
        assert word not in text, f"{name} got {word!r} from {where}"


def test_the_tree_has_five_levels_down_to_the_class(city: City) -> None:
    with psycopg.connect(city.url) as conn:
        kinds = conn.execute("SELECT depth, array_agg(DISTINCT kind ORDER BY kind) FROM org_units GROUP BY depth"
                             " ORDER BY depth").fetchall()
        rosters = conn.execute("SELECT count(*) FROM class_buses").fetchone()
        school = conn.execute("SELECT stage, pupils, boarding FROM schools WHERE id = %s", (OWN,)).fetchone()
    assert kinds == [(0, ["city"]), (1, ["county", "district", "functional zone"]),
                     (2, ["subdistrict", "town", "township"]), (3, ["school"]), (4, ["class"])]
    assert city.paths[f"{OWN}-c1"] == f"/hechuan/junchuan/wangzhuang/{OWN}/{OWN}-c1/"
    expected = sum(len(c.buses) for e in city.site.iter_schools() for c in e.school.classes)
    assert rosters == (expected,) and expected > 0
    assert school == ("primary", 640, True)


def test_loading_the_city_again_changes_nothing(city: City) -> None:
    with psycopg.connect(city.url) as conn:
        report = store_site(conn, city.site)
    assert not report.changed
    assert report.tables["class_buses"].unchanged > 0


@pytest.mark.parametrize("name", list(LEVELS))
def test_me_names_the_scope_they_sit_at(client: TestClient, sessions: dict[str, dict[str, str]], city: City,
                                        name: str) -> None:
    me = client.get("/api/v1/auth/me", headers=sessions[name]).json()
    role, scope, _ = LEVELS[name]
    assert (me["role"], me["scope_path"], me["locale"]) == (role, city.paths[scope], "zh-CN")


@pytest.mark.parametrize("school", SCHOOLS)
@pytest.mark.parametrize("name", list(LEVELS))
def test_each_level_reaches_exactly_its_schools(client: TestClient, sessions: dict[str, dict[str, str]],
                                                city: City, name: str, school: str) -> None:
    seen = school in LEVELS[name][2]
    incident = client.get(f"/api/v1/incidents/{city.incidents[school]}", headers=sessions[name])
    assert incident.status_code == (200 if seen else 404), incident.text[:200]
    listed = client.get(f"/api/v1/incidents?school={school}", headers=sessions[name])
    assert [i["id"] for i in listed.json()] == ([city.incidents[school]] if seen else [])
    track = client.get(f"/api/v1/buses/{city.buses[school]}/track", headers=sessions[name])
    assert track.status_code == (200 if seen else 404), track.text[:200]
    for response in (incident, listed, track):
        if response.status_code == 200:
            assert_no_leak(city, name, response.text, response.request.url.path)


@pytest.mark.parametrize("path", ["/api/v1/schools", "/api/v1/buses", "/api/v1/devices", "/api/v1/incidents",
                                  "/api/v1/geofences"])
@pytest.mark.parametrize("name", list(LEVELS))
def test_collections_hold_exactly_the_levels_schools(client: TestClient, sessions: dict[str, dict[str, str]],
                                                    city: City, name: str, path: str) -> None:
    response = client.get(path, headers=sessions[name])
    assert response.status_code == 200, response.text[:200]
    assert_no_leak(city, name, response.text, path)
    visible = LEVELS[name][2]
    if path == "/api/v1/schools":
        below = {e.school.id for e in city.site.iter_schools()
                 if city.paths[e.school.id].startswith(city.paths[LEVELS[name][1]])}
        assert {f["id"] for f in response.json()["features"]} == below
    elif path == "/api/v1/incidents":
        assert {i["school_id"] for i in response.json()} == visible


# The head teacher is left out here: nothing of theirs comes, and a socket cannot show that nothing will come
# without waiting on the clock; their REST answers above are empty.
@pytest.mark.parametrize("name", [name for name in LEVELS if name != "head_teacher"])
def test_the_live_feed_carries_only_the_levels_schools(client: TestClient, sessions: dict[str, dict[str, str]],
                                                       city: City, name: str) -> None:
    visible = LEVELS[name][2]
    with client.websocket_connect("/api/v1/live?after=0", headers=sessions[name]) as ws:
        incidents: set[str] = set()
        texts: list[str] = []
        # The present comes first, one message per visible incident; then the positions of the buses.
        while incidents != visible:
            message = ws.receive_json()
            texts.append(json.dumps(message, ensure_ascii=False))
            if message["type"] == "incident":
                incidents.add(message["incident"]["school_id"])
        watch(ws)
        with psycopg.connect(city.url) as conn:
            for bus in city.buses.values():
                conn.execute("UPDATE latest_positions SET time = now(), stored_at = clock_timestamp()"
                             " WHERE device_id = %s", (f"{bus}-jt808",))
        seen: set[str] = set()
        while OWN not in seen:  # every level but the class's sees the own school's bus
            skipped: list[dict[str, Any]] = []
            moved = next_fixes(ws, skipped)
            texts += [json.dumps(m, ensure_ascii=False) for m in [*skipped, moved]]
            assert {p["school_id"] for p in moved} <= visible
            seen |= {p["school_id"] for p in moved}
    assert incidents == visible
    for text in texts:
        assert_no_leak(city, name, text, "the live feed")


@pytest.mark.parametrize("name", list(LEVELS))
def test_classes_hold_exactly_the_levels_classes_and_their_rosters(
        client: TestClient, sessions: dict[str, dict[str, str]], city: City, name: str) -> None:
    response = client.get("/api/v1/classes", headers=sessions[name])
    assert response.status_code == 200, response.text[:200]
    scope = city.paths[LEVELS[name][1]]
    rosters = {c.id: [*c.buses] for e in city.site.iter_schools() for c in e.school.classes
               if city.paths[c.id].startswith(scope)}
    got = {c["id"]: [b["id"] for b in c["buses"]] for c in response.json()}
    assert got == rosters and got  # every level, the class's own included, has classes to see
    # The head teacher sees their own school's name and their class's bus, and nothing of any other school.
    if name == "head_teacher":
        (own,) = response.json()
        assert (own["school_id"], own["head_teacher_id"]) == (OWN, city.people[name])
        assert [(b["id"], b["lon"], b["lat"]) for b in own["buses"]] == [(city.buses[OWN], 114.5, 35.6)]
        # A guard of the same school may not see the other three schools either: the same words are forbidden.
        assert_no_leak(city, "guard", response.text, "/api/v1/classes")
    else:
        assert_no_leak(city, name, response.text, "/api/v1/classes")


def test_the_demo_signs_in_one_person_of_every_level(city: City) -> None:
    with psycopg.connect(city.url) as conn:
        along = people_along(conn, OWN)
    assert [(role, unit, depth) for role, _, unit, depth in along] == [
        ("auditor", "hechuan", 0), ("district_admin", "hechuan", 0), ("district_officer", "junchuan", 1),
        ("district_officer", "wangzhuang", 2), ("guard", OWN, 3), ("school_admin", OWN, 3),
        ("head_teacher", f"{OWN}-c1", 4)]


def below(city: City, name: str) -> set[str]:
    """Every school of the city (seeded or not) under the level's unit: what its reports and wall may count."""
    scope = city.paths[LEVELS[name][1]]
    return {e.school.id for e in city.site.iter_schools() if city.paths[e.school.id].startswith(scope)}


@pytest.mark.parametrize("name", list(LEVELS))
def test_the_generated_map_reaches_only_around_the_levels_schools(
        client: TestClient, sessions: dict[str, dict[str, str]], city: City, name: str) -> None:
    response = client.get("/api/v1/map/generated", headers=sessions[name])
    assert response.status_code == 200, response.text[:200]
    assert_no_leak(city, name, response.text, "/api/v1/map/generated")
    features = response.json()["features"]
    with psycopg.connect(city.url) as conn:
        scope = city.paths[LEVELS[name][1]]
        area = scope_area(basemap_input(queries.schools(conn, scope), queries.buses(conn, scope)))
    if not below(city, name):
        assert features == []  # a class has no campus of its own: nothing around nothing
        return
    assert features
    # Every street, block and landmark lies within the reach of the level's own campuses and routes.
    reach = area.buffer(1e-6)
    assert all(reach.contains(shapely.geometry.shape(f["geometry"])) for f in features)


@pytest.mark.parametrize("name", list(LEVELS))
def test_the_wall_counts_only_the_levels_schools(client: TestClient, sessions: dict[str, dict[str, str]],
                                                 city: City, name: str) -> None:
    response = client.get("/api/v1/wall/counts", headers=sessions[name])
    if LEVELS[name][0] not in WATCH_WALL:  # the auditor, the guard and the head teacher have no wall
        assert response.status_code == 403, response.text[:200]
        return
    assert response.status_code == 200, response.text[:200]
    counts = response.json()
    # One open critical per seeded school in view; the buses and devices of exactly the schools below.
    assert counts["open_critical"] == len(LEVELS[name][2])
    with psycopg.connect(city.url) as conn:
        devices = conn.execute("SELECT count(*) FROM devices WHERE active AND school_id = ANY(%s)",
                               (sorted(below(city, name)),)).fetchone()
    assert devices == (counts["devices"],)


@pytest.mark.parametrize("report", ["response-times", "device-uptime"])
@pytest.mark.parametrize("name", list(LEVELS))
def test_reports_hold_exactly_the_levels_schools(client: TestClient, sessions: dict[str, dict[str, str]],
                                                 city: City, name: str, report: str) -> None:
    response = client.get(f"/api/v1/reports/{report}", headers=sessions[name])
    if LEVELS[name][0] not in READ_REPORTS:  # a guard and a head teacher read no reports
        assert response.status_code == 403, response.text[:200]
        return
    assert response.status_code == 200, response.text[:200]
    assert_no_leak(city, name, response.text, f"/api/v1/reports/{report}")
    body = response.json()
    if report == "response-times":
        assert {w["school_id"] for w in body["weeks"]} == set(LEVELS[name][2])  # the seeded incidents in view
    else:
        with psycopg.connect(city.url) as conn:
            equipped = {r[0] for r in conn.execute("SELECT DISTINCT school_id FROM devices WHERE active"
                                                   " AND school_id = ANY(%s)", (sorted(below(city, name)),))}
        assert {s["school_id"] for s in body["schools"]} == equipped and equipped
