"""End to end on a real database: a patrol round not complete at its deadline becomes one incident, once.

And the demo city's simulated guards walk their rounds, so the demo raises only its scripted miss.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from alerts.escalation import EscalationPolicy
from alerts.patrols import rounds_of_day
from alerts.rules import load_rules
from alerts.service import AlertService
from campusguard.simulate.patrol_rounds import SCRIPTED_SCHOOL, walk_due
from domain.site import load_site
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.patrol_repo import ScanIn, record_scan
from store.site_repo import load_site as store_site
from tests.site.test_patrol_site import PLAN, SCHOOL, district_with_patrols

CHICAGO = ZoneInfo("America/Chicago")
CITY = Path(__file__).resolve().parents[2] / "examples" / "city.yaml"


def test_a_missed_round_becomes_one_incident_and_a_complete_one_none(db: str, service: AlertService) -> None:
    now = dt.datetime.now(dt.UTC)
    today = now.astimezone(CHICAGO).date()
    rounds = [r for day in (today - dt.timedelta(days=2), today - dt.timedelta(days=1), today)
              for r in rounds_of_day(SCHOOL, PLAN, CHICAGO, day, ("ap-boiler", "ap-gate"))]
    # The newest round whose deadline has passed, and the one before it (4 hours earlier, inside the lookback).
    missed = [r for r in rounds if r.deadline <= now][-1]
    walked = rounds[rounds.index(missed) - 1]
    with psycopg.connect(db) as conn:
        store_site(conn, district_with_patrols())
        for point in walked.checkpoints:  # the earlier round walked in full, on time
            record_scan(conn, ScanIn(point, SCHOOL, "leah-wang", walked.start, walked.start + dt.timedelta(minutes=5),
                                     None, None, None, None), "counted")
        record_scan(conn, ScanIn("ap-gate", SCHOOL, "leah-wang", missed.start,
                                 missed.start + dt.timedelta(minutes=5), None, None, None, None), "counted")
    assert service.watch_patrols(now) == 1
    assert service.watch_patrols(now + dt.timedelta(seconds=30)) == 0  # the next pass sees the same round
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT type, school_id, severity, title_key, title_params FROM incidents").fetchall()
        assert rows == [("patrol_round_missed", SCHOOL, "high", "incident.title.patrol_round_missed",
                         {"round": missed.label, "visited": "1", "planned": "2"})]
        assert conn.execute("SELECT count(*) FROM audit_log WHERE action = 'incident.raised'").fetchone() == (1,)


def test_the_demo_city_s_guards_walk_their_rounds_but_one(fresh_database_url: str) -> None:
    """The city's 30 schools walk their rounds in the demo; the scripted round is the one alarm of the morning."""
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        migrate(conn, StorageBackend.AUTO, RetentionSettings())
        store_site(conn, load_site(CITY))
        # 11:00 Beijing time: the 06:30/07:00 and 10:00 rounds have passed their deadlines within the lookback.
        eleven = dt.datetime(2026, 12, 7, 11, 0, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(dt.UTC)
        made = walk_due(conn, eleven)
        assert made > 0 and walk_due(conn, eleven) == 0  # a second pass finds nothing left to walk
    service = AlertService(fresh_database_url, load_rules(), EscalationPolicy(), [])
    assert service.watch_patrols(eleven) == 1
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("SELECT school_id, title_params->>'round' FROM incidents").fetchall() == [
            (SCRIPTED_SCHOOL, "10:00")]
