"""Loading the site file into the database: complete, idempotent, and retiring what was removed."""

from __future__ import annotations

from pathlib import Path

import psycopg
import yaml

from domain.site.validate import check_site
from domain.site.validate import load_site as read_site
from store.site_repo import load_site

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "district.yaml"


def scalar(conn: psycopg.Connection, query: str) -> object:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def test_the_example_district_loads_completely(conn: psycopg.Connection) -> None:
    site = read_site(EXAMPLE)
    report = load_site(conn, site)
    schools = list(site.iter_schools())
    assert report.tables["schools"].inserted == len(schools) == scalar(conn, "SELECT count(*) FROM schools")
    assert scalar(conn, "SELECT count(*) FROM buses") == sum(len(s.school.buses) for s in schools)
    assert scalar(conn, "SELECT count(*) FROM bus_stops") == sum(
        len(b.route.stops) for s in schools for b in s.school.buses)
    assert scalar(conn, "SELECT count(*) FROM devices WHERE kind = 'panic_button'") == sum(
        len(s.school.panic_buttons) for s in schools)
    assert scalar(conn, "SELECT count(*) FROM devices WHERE kind = 'camera'") == sum(
        len(s.school.cameras) for s in schools)
    assert scalar(conn, "SELECT count(*) FROM users") == sum(1 for _ in site.iter_people())
    # Scoping by path: every school sits under the city root, and guards are scoped to their school.
    assert scalar(conn, "SELECT count(*) FROM org_units WHERE kind = 'school' AND path LIKE '/lincoln/%'") == len(
        schools)
    assert scalar(conn, "SELECT bool_and(u.kind = 'school') FROM users JOIN org_units u ON u.id = scope_id"
                        " WHERE role = 'guard'") is True


def test_loading_twice_changes_nothing(conn: psycopg.Connection) -> None:
    site = read_site(EXAMPLE)
    load_site(conn, site)
    snapshot = conn.execute("SELECT id, updated_at FROM devices ORDER BY id").fetchall()
    again = load_site(conn, site)
    assert not again.changed
    assert all(c.inserted == c.updated == c.retired == 0 for c in again.tables.values())
    assert conn.execute("SELECT id, updated_at FROM devices ORDER BY id").fetchall() == snapshot


def test_a_changed_file_updates_and_retires(conn: psycopg.Connection) -> None:
    load_site(conn, read_site(EXAMPLE))
    data = yaml.safe_load(EXAMPLE.read_text())
    school = data["organisation"]["units"][0]["schools"][0]
    removed_bus = school["buses"].pop()
    school["name"] = "Renamed Elementary"
    site, errors = check_site(yaml.safe_dump(data), "edited.yaml")
    assert not errors and site is not None
    report = load_site(conn, site)
    assert report.tables["schools"].updated == 1
    assert report.tables["buses"].retired == 1
    assert report.tables["devices"].retired == len(removed_bus["trackers"])
    assert report.tables["bus_stops"].retired == len(removed_bus["route"]["stops"])
    assert scalar(conn, f"SELECT active FROM buses WHERE id = '{removed_bus['id']}'") is False
    assert scalar(conn, f"SELECT name FROM schools WHERE id = '{school['id']}'") == "Renamed Elementary"
