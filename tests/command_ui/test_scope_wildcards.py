"""Ids holding ``_`` and ``%`` scope exactly.

A guard of ``north_es`` sees nothing of ``north-es``, nor one of ``p%`` anything of ``park``. Before, every
scoped query matched ``LIKE scope || '%'``, so ``_`` and ``%`` were wildcards and such a guard listed, read and
acknowledged the other school's panic.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from domain.scope import within
from tests.command_ui.district import PASSWORD, add_incident, api, sign_in
from tests.support.ingest import prepare_database
from tests.support.postgres import scratch_database

NEIGHBOUR = "antelope-park-es"  # the new schools sit beside it, under its county
# Guard's school -> the school whose name its id would match as a LIKE pattern.
PAIRS = {"north_es": "north-es", "p%": "park"}


@dataclass(frozen=True, slots=True)
class Seeded:
    url: str
    incidents: dict[str, int]


@pytest.fixture(scope="module")
def seeded(service_urls: object) -> Iterator[Seeded]:
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        prepare_database(db, PASSWORD)
        now = dt.datetime.now(dt.UTC)
        incidents = {}
        with psycopg.connect(db) as conn:
            row = conn.execute("SELECT parent_id, path, depth FROM org_units WHERE id = %s", (NEIGHBOUR,)).fetchone()
            assert row is not None
            parent, path, depth = row
            county = path.removesuffix(f"{NEIGHBOUR}/")
            hash_row = conn.execute("SELECT password_hash FROM users WHERE role = 'guard' LIMIT 1").fetchone()
            assert hash_row is not None
            for school in [*PAIRS, *PAIRS.values()]:
                conn.execute("INSERT INTO org_units (id, parent_id, kind, name, path, depth)"
                             " VALUES (%s, %s, 'school', %s, %s, %s)",
                             (school, parent, school, f"{county}{school}/", depth))
                conn.execute("INSERT INTO schools (id, name, timezone, campus, school_zone_speed_kmh)"
                             " VALUES (%s, %s, 'Asia/Shanghai', '{}', 30)", (school, school))
                opened = now - dt.timedelta(minutes=2)
                incidents[school] = add_incident(conn, school, opened, title=f"Panic at {school}")
            for school in PAIRS:
                conn.execute("INSERT INTO users (id, display_name, role, scope_id, password_hash)"
                             " VALUES (%s, %s, 'guard', %s, %s)", (f"guard-{school}", school, school, hash_row[0]))
        yield Seeded(db, incidents)


@pytest.fixture(scope="module")
def client(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with api(seeded.url, tmp_path_factory.mktemp("data")) as test_client:
        yield test_client


@pytest.mark.parametrize(("own", "other"), list(PAIRS.items()))
def test_a_guard_sees_and_acts_only_in_their_exact_school(client: TestClient, seeded: Seeded, own: str,
                                                          other: str) -> None:
    cookie = sign_in(client, f"guard-{own}")
    listed = client.get("/api/v1/incidents", headers=cookie)
    assert listed.status_code == 200
    assert {i["school_id"] for i in listed.json()} == {own}
    assert client.get(f"/api/v1/incidents/{seeded.incidents[own]}", headers=cookie).status_code == 200
    foreign = seeded.incidents[other]
    assert client.get(f"/api/v1/incidents/{foreign}", headers=cookie).status_code == 404
    acted = client.post(f"/api/v1/incidents/{foreign}/actions", json={"action": "acknowledge"}, headers=cookie)
    assert acted.status_code == 404
    assert client.get(f"/api/v1/incidents/{foreign}/responders", headers=cookie).status_code == 404
    schools = client.get("/api/v1/schools", headers=cookie).json()["features"]
    assert {s["id"] for s in schools} == {own}
    with psycopg.connect(seeded.url) as conn:
        status = conn.execute("SELECT status FROM incidents WHERE id = %s", (foreign,)).fetchone()
    assert status == ("raised",)


@pytest.mark.parametrize(("path", "scope", "inside"), [
    ("/c/x/north-es/", "/c/x/north_es/", False), ("/c/x/park/", "/c/x/p%/", False),
    ("/c/x/north_es/", "/c/x/north_es/", True), ("/c/x/north_es/class-1/", "/c/x/", True),
    ("/c/xy/", "/c/x/", False), (None, "/", True), (None, "/c/", False),
])
def test_the_python_side_is_the_same_exact_prefix(path: str | None, scope: str, inside: bool) -> None:
    assert within(path, scope) is inside


def test_the_database_side_is_the_same_exact_prefix(seeded: Seeded) -> None:
    with psycopg.connect(seeded.url) as conn:
        rows = conn.execute("SELECT campusguard_within('/c/x/north-es/', '/c/x/north_es/'),"
                            " campusguard_within('/c/x/park/', '/c/x/p%/'),"
                            " campusguard_within('/c/x/north_es/a/', '/c/x/north_es/')").fetchone()
    assert rows == (False, False, True)


def test_no_query_scopes_by_like() -> None:
    repo = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"path\s+LIKE|LIKE\s+[\w.%()]*path", re.IGNORECASE)
    offenders = [f"{path.relative_to(repo)}:{n}" for package in ("store", "command_ui", "alerts", "geo", "ingest")
                 for path in (repo / package).rglob("*.py")
                 for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []
