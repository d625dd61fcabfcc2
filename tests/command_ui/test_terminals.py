"""The terminals API: who reads the list, who revokes a JT/T 808 code, and that each sees only their subtree.

Antelope Park's buses carry bus-01-gt06 (GT06) and bus-02-jt808 (JT/T 808, registered and authenticated, one
report refused before it authenticated); Holdrege's bus-05-jt808 never registered. A number no site file lists
(13800000000) tried to register.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from store.terminal_repo import check_code, issue_code
from tests.command_ui.district import PASSWORD, api, sign_in
from tests.support.ingest import prepare_database
from tests.support.postgres import scratch_database

PEOPLE = {"guard": "leah-wang", "school_admin": "hannah-larsen", "other_school_admin": "daniel-schultz",
          "district_officer": "ahmed-wang", "district_admin": "daniel-lindqvist", "other_guard": "ahmed-schultz"}


@pytest.fixture(scope="module")
def client(service_urls: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        prepare_database(db, PASSWORD)
        now = dt.datetime.now(dt.UTC)
        with psycopg.connect(db, autocommit=True) as conn:
            issue_code(conn, "13805710002", "the code")
            assert check_code(conn, "13805710002", "the code")
            conn.execute("INSERT INTO dead_letters (time, digest, source, topic, reason, message, payload)"
                         " VALUES (%s, 'x', 'jt808-tcp', %s, 'not_authenticated', 'before authenticating', 'raw')",
                         (now - dt.timedelta(minutes=5), "jt808/13805710002\n\nnot_authenticated sent 0x0200"))
            conn.execute("INSERT INTO unregistered_devices (source, external_id, first_seen, last_seen, messages,"
                         " last_topic) VALUES ('jt808', '13800000000', %s, %s, 3, 'jt808/13800000000')", (now, now))
            conn.execute("INSERT INTO device_liveness (device_id, last_seen, online) VALUES ('bus-02-jt808', %s, true)",
                         (now,))
        with api(db, tmp_path_factory.mktemp("data")) as test_client:
            yield test_client, db


@pytest.fixture(scope="module")
def sessions(client: tuple[TestClient, str]) -> dict[str, dict[str, str]]:
    return {role: sign_in(client[0], person) for role, person in PEOPLE.items()}


def test_a_school_admin_lists_their_schools_terminals_with_their_state(
        client: tuple[TestClient, str], sessions: dict[str, dict[str, str]]) -> None:
    body = client[0].get("/api/v1/terminals", headers=sessions["school_admin"]).json()
    by_id = {t["device_id"]: t for t in body["terminals"]}
    assert set(by_id) == {"bus-01-gt06", "bus-02-jt808"}
    jt808 = by_id["bus-02-jt808"]
    assert (jt808["protocol"], jt808["number"], jt808["registered"], jt808["authenticated"], jt808["refused"]) == (
        "jt808", "13805710002", True, True, 1)
    assert jt808["last_seen"] is not None
    gt06 = by_id["bus-01-gt06"]
    assert (gt06["protocol"], gt06["number"], gt06["registered"], gt06["refused"]) == (
        "gt06", "868130040000001", None, 0)
    assert body["unknown"] == []  # an unlisted number could be anybody's: whole-tree readers only


def test_the_whole_tree_sees_every_terminal_and_the_unknown_numbers(
        client: tuple[TestClient, str], sessions: dict[str, dict[str, str]]) -> None:
    body = client[0].get("/api/v1/terminals", headers=sessions["district_admin"]).json()
    assert {"bus-02-jt808", "bus-05-jt808", "bus-17-jt808"} <= {t["device_id"] for t in body["terminals"]}
    holdrege = next(t for t in body["terminals"] if t["device_id"] == "bus-05-jt808")
    assert (holdrege["registered"], holdrege["authenticated"], holdrege["last_seen"]) == (False, False, None)
    assert [(u["protocol"], u["number"], u["messages"]) for u in body["unknown"]] == [("jt808", "13800000000", 3)]


@pytest.mark.parametrize("role", ["guard", "other_guard"])
def test_guards_neither_read_nor_revoke(client: tuple[TestClient, str], sessions: dict[str, dict[str, str]],
                                        role: str) -> None:
    assert client[0].get("/api/v1/terminals", headers=sessions[role]).status_code == 403
    assert client[0].post("/api/v1/terminals/bus-02-jt808/revoke", headers=sessions[role]).status_code == 403


def test_another_schools_admin_cannot_revoke_and_a_district_officer_only_reads(
        client: tuple[TestClient, str], sessions: dict[str, dict[str, str]]) -> None:
    response = client[0].post("/api/v1/terminals/bus-02-jt808/revoke", headers=sessions["other_school_admin"])
    assert response.status_code == 404  # exactly like a terminal that does not exist
    officer = client[0].post("/api/v1/terminals/bus-02-jt808/revoke", headers=sessions["district_officer"])
    assert officer.status_code == 403
    listed = client[0].get("/api/v1/terminals", headers=sessions["other_school_admin"]).json()
    assert "bus-02-jt808" not in {t["device_id"] for t in listed["terminals"]}


def test_the_schools_admin_revokes_the_code_and_it_is_audited(
        client: tuple[TestClient, str], sessions: dict[str, dict[str, str]]) -> None:
    test_client, db = client
    headers = sessions["school_admin"]
    gt06 = test_client.post("/api/v1/terminals/bus-01-gt06/revoke", headers=headers)
    assert gt06.status_code == 409  # GT06 has no code to revoke
    response = test_client.post("/api/v1/terminals/bus-02-jt808/revoke", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"device_id": "bus-02-jt808", "number": "13805710002", "revoked": 1}
    listed = test_client.get("/api/v1/terminals", headers=headers).json()
    state = next(t for t in listed["terminals"] if t["device_id"] == "bus-02-jt808")
    assert (state["registered"], state["authenticated"]) == (False, False)
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT actor, target, detail->>'number' FROM audit_log WHERE action = 'terminal.revoke'"
                           ).fetchall()
        assert row == [("hannah-larsen", "device:bus-02-jt808", "13805710002")]
        revoked_by = conn.execute("SELECT revoked_by FROM jt808_auth_codes WHERE phone = '13805710002'").fetchone()
    assert revoked_by == ("hannah-larsen",)


def test_the_ops_page_names_the_terminal_behind_a_tcp_dead_letter(
        client: tuple[TestClient, str], sessions: dict[str, dict[str, str]]) -> None:
    letters = client[0].get("/api/v1/ops/dead-letters", headers=sessions["school_admin"]).json()["letters"]
    assert [(d["source"], d["device_id"], d["school_id"]) for d in letters] == [
        ("jt808-tcp", "bus-02-jt808", "antelope-park-es")]
    other = client[0].get("/api/v1/ops/dead-letters", headers=sessions["other_school_admin"]).json()["letters"]
    assert other == []
