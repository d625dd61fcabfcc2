"""The audit trail follows the reader's scope (issue 16, finding 3).

Before, a district administrator of Salt Creek read East Prairie's incident notes, logins with their addresses
and snapshot views. Now each record carries the path of what it is about, and a reader finds only records
inside their scope; records about nothing in the tree (a site load, a failed login under an unknown name) are
for those who own the whole tree.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from fastapi.testclient import TestClient

from domain.audit import AuditRecord
from domain.scope import owns_tree
from store import audit_repo
from tests.command_ui.district import PASSWORD, add_incident, api, sign_in
from tests.support.ingest import prepare_database
from tests.support.postgres import scratch_database
from tests.support.secrets import TEST_ADMIN_PASSWORD

OWN, FOREIGN = "antelope-park-es", "walton-road-es"  # Salt Creek's school, East Prairie's school
FOREIGN_GUARD, FOREIGN_CAMERA = "priya-haddad", "walton-road-cam-gate"
OWN_ADMIN = "salt-creek-admin"  # a district administrator of Salt Creek only, added below
CITY_AUDITOR = "ruth-nguyen"  # the example's auditor, scoped to the whole city


@dataclass(frozen=True, slots=True)
class Seeded:
    url: str
    own_incident: int
    foreign_incident: int
    foreign_snapshot: int


@pytest.fixture(scope="module")
def seeded(service_urls: object) -> Iterator[Seeded]:
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        prepare_database(db, PASSWORD)
        now = dt.datetime.now(dt.UTC)
        with psycopg.connect(db, autocommit=True) as conn:
            own = add_incident(conn, OWN, now - dt.timedelta(minutes=3), title="Panic at Antelope Park")
            foreign = add_incident(conn, FOREIGN, now - dt.timedelta(minutes=3), title="Panic at Walton Road")
            hash_row = conn.execute("SELECT password_hash FROM users WHERE id = %s", (CITY_AUDITOR,)).fetchone()
            assert hash_row is not None
            conn.execute("INSERT INTO users (id, display_name, role, scope_id, password_hash)"
                         " VALUES (%s, 'Salt Creek admin', 'district_admin', 'salt-creek-sd', %s)",
                         (OWN_ADMIN, hash_row[0]))
            snap = conn.execute("INSERT INTO snapshots (camera_id, time, kind, width, height, faces, jpeg_blurred,"
                                " jpeg_original) VALUES (%s, %s, 'person', 1, 1, 0, '', '') RETURNING id",
                                (FOREIGN_CAMERA, now)).fetchone()
            assert snap is not None
            # What a snapshot view and an incident note of East Prairie leave in the trail.
            audit_repo.append(conn, AuditRecord(now, "someone", "snapshot.view", f"snapshot:{snap[0]}",
                                                {"faces": True, "client": "10.9.9.9"}))
            audit_repo.append(conn, AuditRecord(now, "someone", "incident.note", f"incident:{foreign}",
                                                {"note": "the east prairie note"}))
            audit_repo.append(conn, AuditRecord(now, "someone", "incident.note", f"incident:{own}",
                                                {"note": "the salt creek note"}))
        yield Seeded(db, own, foreign, int(snap[0]))


@pytest.fixture(scope="module")
def client(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with api(seeded.url, tmp_path_factory.mktemp("data")) as test_client:
        # Logins with their addresses: one of East Prairie's guards, and a name nobody has.
        sign_in(test_client, FOREIGN_GUARD)
        assert test_client.post("/api/v1/auth/login", json={"username": "nobody-here",
                                                            "password": "wrong password!"}).status_code == 401
        yield test_client


def targets(client: TestClient, who: str) -> set[str]:
    response = client.get("/api/v1/audit?limit=1000", headers=sign_in(client, who))
    assert response.status_code == 200, response.text
    return {record["target"] for record in response.json()}


def test_a_district_admin_reads_only_their_districts_records(client: TestClient, seeded: Seeded) -> None:
    seen = targets(client, OWN_ADMIN)
    assert f"incident:{seeded.own_incident}" in seen
    assert f"user:{OWN_ADMIN}" in seen  # their own login
    assert f"incident:{seeded.foreign_incident}" not in seen
    assert f"snapshot:{seeded.foreign_snapshot}" not in seen
    assert f"user:{FOREIGN_GUARD}" not in seen
    assert "user:nobody-here" not in seen  # about nobody in the tree: the whole tree's readers only


def test_the_csv_export_is_scoped_the_same_way(client: TestClient, seeded: Seeded) -> None:
    response = client.get("/api/v1/audit/export.csv", headers=sign_in(client, OWN_ADMIN))
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    exported = {row["target"] for row in rows}
    assert f"incident:{seeded.own_incident}" in exported
    assert f"incident:{seeded.foreign_incident}" not in exported
    assert "the east prairie note" not in response.text
    assert "10.9.9.9" not in response.text


def test_the_city_auditor_reads_every_record(client: TestClient, seeded: Seeded) -> None:
    seen = targets(client, CITY_AUDITOR)
    assert {f"incident:{seeded.own_incident}", f"incident:{seeded.foreign_incident}",
            f"snapshot:{seeded.foreign_snapshot}", f"user:{FOREIGN_GUARD}", "user:nobody-here"} <= seen
    # The built-in admin (the root) too, and a filter cannot widen a scoped reader's view.
    assert client.get("/api/v1/audit?limit=1000", auth=("admin", TEST_ADMIN_PASSWORD)).json()
    narrowed = client.get(f"/api/v1/audit?target=incident:{seeded.foreign_incident}",
                          headers=sign_in(client, OWN_ADMIN))
    assert narrowed.status_code == 200 and narrowed.json() == []


def test_each_target_kind_resolves_to_its_schools_path(seeded: Seeded) -> None:
    with psycopg.connect(seeded.url, autocommit=True) as conn:
        def path(target: str | None) -> str | None:
            row = conn.execute("SELECT campusguard_audit_scope(%s)", (target,)).fetchone()
            assert row is not None
            return row[0]  # type: ignore[no-any-return]

        foreign_path = path(f"school:{FOREIGN}")
        assert foreign_path is not None and foreign_path.endswith(f"/{FOREIGN}/")
        assert path(f"incident:{seeded.foreign_incident}") == foreign_path
        assert path(f"snapshot:{seeded.foreign_snapshot}") == foreign_path
        assert path(f"camera:{FOREIGN_CAMERA}") == foreign_path
        assert path(f"user:{FOREIGN_GUARD}") == foreign_path
        assert str(path(f"user:{OWN_ADMIN}")).endswith("/salt-creek-sd/")
        # Malformed or unknown targets are about nothing in the tree, and never fail the append they describe.
        for odd in ("incident:abc", "incident:99999999999999999999", "shelf:", "nothing", "site:/etc/x.yaml", None):
            assert path(odd) is None


@pytest.mark.parametrize(("scope", "whole"), [("/", True), ("/lincoln/", True), ("/lincoln/salt-creek-sd/", False)])
def test_the_whole_tree_is_the_root_or_its_top_unit(scope: str, whole: bool) -> None:
    assert owns_tree(scope) is whole


def test_each_record_names_what_its_actor_is_called_at_their_level(client: TestClient) -> None:
    """A person's title by role and unit (domain/titles.py); the system's own actors have none."""
    records = client.get("/api/v1/audit?limit=1000", headers=sign_in(client, CITY_AUDITOR)).json()
    by_actor = {r["actor"]: r["actor_title_key"] for r in records}
    assert by_actor[OWN_ADMIN] is not None and by_actor[OWN_ADMIN].startswith("title.")
    assert by_actor[CITY_AUDITOR] == "title.auditor"
    assert all(key is None for actor, key in by_actor.items() if actor in {"system", "scheduler"})
