"""Alarm management through the API: shelves, drill mode, the board's floods and stale alarms, the health report.

Real app, real PostgreSQL with the example district; the incidents the board and the report read are written as
the alert stage writes them (incidents and their timelines), at the times each case needs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from store import alarm_repo
from tests.command_ui.district import sign_in

SCHOOL = "antelope-park-es"
ADMIN = "hannah-larsen"  # antelope-park-es's school admin
GUARD = "leah-wang"  # one of its guards


def incident(db: str, at: datetime, severity: str = "high", type_: str = "device_offline", status: str = "raised",
             school: str = SCHOOL, source: str = "btn-1", drill: bool = False, outcome: str | None = None) -> int:
    evidence = Jsonb([{"kind": "offline", "source_id": source, "signal_id": "s", "summary": "x",
                       "time": at.isoformat()}])
    with psycopg.connect(db) as conn:
        row = conn.execute(
            "INSERT INTO incidents (school_id, type, severity, status, title, opened_at, updated_at, raised_at,"
            " last_signal_at, evidence, drill, outcome) VALUES (%s, %s, %s, %s, 't', %s, %s, %s, %s, %s, %s, %s)"
            " RETURNING id", (school, type_, severity, status, at, at, at, at, evidence, drill, outcome)).fetchone()
    assert row is not None
    return int(row[0])


def act(db: str, incident_id: int, at: datetime, actor: str, kind: str = "acknowledge") -> None:
    with psycopg.connect(db) as conn:
        conn.execute("INSERT INTO incident_events (incident_id, seq, time, school_id, kind, actor, detail)"
                     " VALUES (%s, 2, %s, %s, %s, %s, '{}')", (incident_id, at, SCHOOL, kind, actor))


def audited(db: str, action: str) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT count(*) FROM audit_log WHERE action = %s", (action,)).fetchone()
    assert row is not None
    return int(row[0])


def test_a_school_admin_shelves_a_source_for_a_while_with_a_reason(client: TestClient, url: str) -> None:
    admin, guard = sign_in(client, ADMIN), sign_in(client, GUARD)
    body = {"school_id": SCHOOL, "source_id": "antelope-park-gate-contact", "minutes": 60,
            "reason": "contact loose, repair booked"}
    assert client.post("/api/v1/alarms/shelves", json=body, headers=guard).status_code == 403
    assert client.post("/api/v1/alarms/shelves", json=body | {"school_id": "holdrege-es"},
                       headers=admin).status_code == 403
    refused = client.post("/api/v1/alarms/shelves", json=body | {"type": "panic"}, headers=admin)
    assert refused.status_code == 422 and "never shelved" in refused.text
    assert client.post("/api/v1/alarms/shelves", json=body | {"reason": "   "}, headers=admin).status_code == 422
    assert client.post("/api/v1/alarms/shelves", json=body | {"minutes": 24 * 60 + 1},
                       headers=admin).status_code == 422
    created = client.post("/api/v1/alarms/shelves", json=body, headers=admin)
    assert created.status_code == 201, created.text
    shelf = created.json()
    assert shelf["active"] and shelf["shelved_by"] == ADMIN
    assert datetime.fromisoformat(shelf["until"]) - datetime.fromisoformat(shelf["shelved_at"]) == timedelta(hours=1)
    assert audited(url, "shelf.create") == 1
    listed = client.get("/api/v1/alarms/shelves", headers=guard).json()  # guards see what is shelved
    assert [s["id"] for s in listed] == [shelf["id"]]
    other = sign_in(client, "daniel-schultz")  # another school's admin
    assert client.get("/api/v1/alarms/shelves", headers=other).json() == []
    assert client.delete(f"/api/v1/alarms/shelves/{shelf['id']}", headers=other).status_code == 404
    assert client.delete(f"/api/v1/alarms/shelves/{shelf['id']}", headers=admin).status_code == 204
    assert client.delete(f"/api/v1/alarms/shelves/{shelf['id']}", headers=admin).status_code == 409
    assert audited(url, "shelf.end") == 1
    assert client.get("/api/v1/alarms/shelves", headers=admin).json()[0]["active"] is False


def test_drill_mode_starts_once_and_ends_audited(client: TestClient, url: str) -> None:
    admin = sign_in(client, ADMIN)
    body = {"minutes": 30, "reason": "lockdown drill"}
    assert client.put(f"/api/v1/alarms/drill-mode/{SCHOOL}", json=body, headers=sign_in(client, GUARD)
                      ).status_code == 403
    assert client.put(f"/api/v1/alarms/drill-mode/{SCHOOL}", json=body | {"minutes": 9 * 60},
                      headers=admin).status_code == 422
    assert client.put(f"/api/v1/alarms/drill-mode/{SCHOOL}", json=body, headers=admin).status_code == 201
    assert client.put(f"/api/v1/alarms/drill-mode/{SCHOOL}", json=body, headers=admin).status_code == 409
    assert [m["school_id"] for m in client.get("/api/v1/alarms/drill-mode", headers=admin).json()] == [SCHOOL]
    assert client.delete(f"/api/v1/alarms/drill-mode/{SCHOOL}", headers=admin).status_code == 204
    assert client.delete(f"/api/v1/alarms/drill-mode/{SCHOOL}", headers=admin).status_code == 409
    assert client.get("/api/v1/alarms/drill-mode", headers=admin).json() == []
    assert (audited(url, "drill_mode.start"), audited(url, "drill_mode.end")) == (1, 1)


def test_a_flood_is_grouped_with_the_critical_on_top_and_old_alarms_are_stale(client: TestClient, url: str) -> None:
    now = datetime.now(UTC)
    offline = [incident(url, now - timedelta(minutes=8) + timedelta(seconds=20 * i), source=f"btn-{i}")
               for i in range(11)]
    panic = incident(url, now - timedelta(minutes=1), "critical", "panic")
    old = incident(url, now - timedelta(hours=25), "low", "low_battery")
    drill = incident(url, now - timedelta(minutes=2), "critical", "panic", drill=True)  # not counted, not mixed
    elsewhere = incident(url, now - timedelta(minutes=3), school="holdrege-es")
    board = client.get("/api/v1/alarms/board", headers=sign_in(client, ADMIN)).json()
    assert board["flood"] and board["recent"] == 12
    assert [(s["school_id"], s["recent"], s["flood"]) for s in board["schools"]] == [(SCHOOL, 12, True)]
    groups = [(g["type"], g["severity"], g["count"], g["drill"]) for g in board["groups"]]
    assert groups == [("panic", "critical", 1, False), ("device_offline", "high", 11, False),
                      ("low_battery", "low", 1, False), ("panic", "critical", 1, True)]
    ids = [i["id"] for i in board["incidents"]]
    assert ids[0] == panic and ids[-1] == drill and elsewhere not in ids and set(offline) <= set(ids)
    assert board["stale"] == [old]
    # Below the threshold it is no flood.
    officer_view = client.get("/api/v1/alarms/board", headers=sign_in(client, "daniel-schultz")).json()
    assert not officer_view["flood"] and officer_view["recent"] == 1


def test_the_health_report_follows_its_definitions(client: TestClient, url: str) -> None:
    until = datetime.now(UTC).replace(microsecond=0)
    since = until - timedelta(hours=2)
    acks = [30, 60, 90, 300]
    for n, seconds in enumerate(acks):
        raised = since + timedelta(minutes=10 * n)
        ident = incident(url, raised, type_="intrusion" if n else "panic", source=f"cam-{n % 2}",
                         status="resolved", outcome="false_alarm" if n == 3 else "real")
        act(url, ident, raised + timedelta(seconds=seconds), GUARD if n < 3 else ADMIN)
    incident(url, since + timedelta(minutes=50), status="raised")  # never acknowledged
    incident(url, since + timedelta(minutes=55), drill=True)  # a drill: left out
    report = client.get("/api/v1/alarms/health", params={"since": since.isoformat(), "until": until.isoformat()},
                        headers=sign_in(client, "daniel-lindqvist")).json()
    [school] = report["schools"]
    guards = 2  # leah-wang and ruth-chen
    assert (school["alarms"], school["operators"], school["unacknowledged"]) == (5, guards, 1)
    assert school["per_operator_hour"] == pytest.approx(5 / 2 / guards)
    assert school["load"] == "manageable" and school["flood_share"] == 0 and school["peak_10min"] == 1
    assert school["false_alarm_ratio"] == pytest.approx(1 / 4)
    assert school["ack_p50_s"] == pytest.approx(75) and school["ack_p90_s"] == pytest.approx(90 + 0.7 * 210)
    assert school["noisiest_types"][0] == {"name": "intrusion", "alarms": 3}
    assert {s["name"] for s in school["noisiest_sources"]} == {"cam-0", "cam-1", "btn-1"}
    operators = {o["actor"]: o for o in report["operators"]}
    assert operators[GUARD]["acknowledged"] == 3 and operators[ADMIN]["acknowledged"] == 1
    assert operators[GUARD]["ack_p50_s"] == pytest.approx(60)
    assert client.get("/api/v1/alarms/health", headers=sign_in(client, GUARD)).status_code == 403


def test_the_first_move_and_who_made_it_outlive_a_reopen(url: str) -> None:
    raised = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    ident = incident(url, raised, status="acknowledged")
    # Acknowledged by the guard, resolved, reopened, acknowledged again by the admin: the report's first move is
    # the guard's (incidents.first_move_at, kept by migration 0045's trigger), not the last acknowledgement.
    with psycopg.connect(url) as conn:
        for seq, (kind, actor, minutes) in enumerate((("acknowledge", GUARD, 2), ("resolve", GUARD, 10),
                                                      ("reopen", ADMIN, 20), ("acknowledge", ADMIN, 21)), start=2):
            conn.execute("INSERT INTO incident_events (incident_id, seq, time, school_id, kind, actor)"
                         " VALUES (%s, %s, %s, %s, %s, %s)",
                         (ident, seq, raised + timedelta(minutes=minutes), SCHOOL, kind, actor))
        rows = alarm_repo.alarm_rows(conn, "/", raised, raised + timedelta(seconds=1), SCHOOL)
    assert [(r[0], r[6], r[7]) for r in rows] == [(ident, raised + timedelta(minutes=2), GUARD)]
