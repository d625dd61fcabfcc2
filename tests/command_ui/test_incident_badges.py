"""The alarm-management flags every incident list carries: cleared, chattering (with its toggle count), drill.

The incident list, its CSV export, one incident in full and the live feed's rows all say the same, so a screen's
badges ("cleared at 10:02, not yet acknowledged", "chattering, 4 toggles", "drill", "stale") never depend on where the
incident came from. Real app, real PostgreSQL with the example district; incidents written as the alert stage
writes them.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from store import live_repo
from tests.command_ui.district import sign_in

SCHOOL = "antelope-park-es"
ADMIN = "hannah-larsen"  # antelope-park-es's school admin: reads reports and exports
NOW = datetime.now(UTC).replace(microsecond=0)


def incident(db: str, title: str, *, raised: datetime, cleared: datetime | None = None, drill: bool = False,
             recent_toggles: tuple[datetime, ...] = (), toggles: int = 0) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute(
            "INSERT INTO incidents (school_id, type, severity, status, title, opened_at, updated_at, raised_at,"
            " last_signal_at, cleared_at, drill, toggles, recent_toggles)"
            " VALUES (%s, 'device_offline', 'medium', 'raised', %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (SCHOOL, title, raised, raised, raised, raised, cleared, drill, toggles, list(recent_toggles))).fetchone()
        assert row is not None
        conn.execute("INSERT INTO incident_events (incident_id, seq, time, school_id, kind) VALUES (%s, 1, %s, %s,"
                     " 'raised')", (row[0], raised, SCHOOL))
    return int(row[0])


def seed(url: str) -> dict[str, int]:
    minute = timedelta(minutes=1)
    return {
        "cleared": incident(url, "door contact", raised=NOW - 10 * minute, cleared=NOW - 2 * minute),
        # Three toggles within a minute: chattering (domain.incident.Incident.chattering), counted on the incident.
        "chattering": incident(url, "flaky contact", raised=NOW - 30 * minute, toggles=4, recent_toggles=(
            NOW - 50 * timedelta(seconds=1), NOW - 30 * timedelta(seconds=1), NOW - 10 * timedelta(seconds=1))),
        # Three toggles over three minutes: a condition coming and going, not chattering.
        "slow": incident(url, "slow contact", raised=NOW - 30 * minute, toggles=3,
                         recent_toggles=(NOW - 3 * minute, NOW - 2 * minute, NOW - minute)),
        "drill": incident(url, "drill press", raised=NOW - 26 * 60 * minute, drill=True),
    }


def test_the_list_and_the_detail_carry_cleared_chattering_and_drill(client: TestClient, url: str) -> None:
    ids = seed(url)
    admin = sign_in(client, ADMIN)
    listed = {i["id"]: i for i in client.get("/api/v1/incidents", params={"school": SCHOOL}, headers=admin).json()}
    cleared, chattering, slow, drill = (listed[ids[k]] for k in ("cleared", "chattering", "slow", "drill"))
    assert datetime.fromisoformat(cleared["cleared_at"]) == NOW - timedelta(minutes=2)
    assert (cleared["chattering"], cleared["toggles"], cleared["drill"]) == (False, 0, False)
    assert (chattering["chattering"], chattering["toggles"], chattering["cleared_at"]) == (True, 4, None)
    assert (slow["chattering"], slow["toggles"]) == (False, 3)
    assert drill["drill"] is True and drill["chattering"] is False
    # Staleness runs from raised_at (server time), which the list now carries.
    assert datetime.fromisoformat(drill["raised_at"]) == NOW - timedelta(hours=26)
    detail = client.get(f"/api/v1/incidents/{ids['chattering']}", headers=admin).json()
    assert (detail["chattering"], detail["toggles"], detail["drill"]) == (True, 4, False)


def test_the_csv_export_has_the_new_columns_and_keeps_the_old_ones(client: TestClient, url: str) -> None:
    ids = seed(url)
    admin = sign_in(client, ADMIN)
    response = client.get("/api/v1/incidents/export.csv", params={"school": SCHOOL}, headers=admin)
    assert response.status_code == 200, response.text
    rows = {int(r["id"]): r for r in csv.DictReader(io.StringIO(response.text.removeprefix("\ufeff")))}
    header = next(csv.reader(io.StringIO(response.text.removeprefix("\ufeff"))))
    # The old columns stay where spreadsheets and scripts expect them; the new ones follow.
    assert header[:17] == ["id", "school_id", "school", "type", "severity", "status", "outcome", "title", "lon",
                           "lat", "occurrences", "opened_at", "opened_local", "acknowledged_at", "resolved_at",
                           "updated_at", "escalation_level"]
    assert header[17:] == ["raised_at", "cleared_at", "drill", "toggles", "chattering"]
    cleared = rows[ids["cleared"]]
    assert (cleared["school"], cleared["title"], cleared["status"]) == ("Antelope Park Elementary", "door contact",
                                                                       "raised")
    assert datetime.fromisoformat(cleared["cleared_at"]) == NOW - timedelta(minutes=2)
    assert cleared["opened_local"].endswith(("-06:00", "-05:00"))
    assert (cleared["drill"], cleared["toggles"], cleared["chattering"]) == ("false", "0", "false")
    assert (rows[ids["chattering"]]["chattering"], rows[ids["chattering"]]["toggles"]) == ("true", "4")
    assert rows[ids["chattering"]]["cleared_at"] == ""
    assert rows[ids["slow"]]["chattering"] == "false"
    assert rows[ids["drill"]]["drill"] == "true"


def test_the_live_feed_rows_carry_the_same_flags(url: str) -> None:
    ids = seed(url)
    with psycopg.connect(url, autocommit=True) as conn:
        rows = {r["id"]: r for r in live_repo.replay(conn, "/", 0)}
    assert rows[ids["chattering"]]["chattering"] is True and rows[ids["chattering"]]["toggles"] == 4
    assert rows[ids["slow"]]["chattering"] is False
    assert rows[ids["drill"]]["drill"] is True
    assert rows[ids["cleared"]]["cleared_at"] == NOW - timedelta(minutes=2)
