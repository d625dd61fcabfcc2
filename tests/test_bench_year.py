"""The year generator (bench/year): a city's traffic shaped right, loaded whole, its audit chain intact.

The benchmark's figures are only as good as the data under them: a replayed day must be one bus's day, the
latest position must be the newest fix, and the audit records must be a chain ``campusguard audit verify``
accepts, or the audit search would be timed on a trail production could never hold.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg

from bench.year import fleet
from bench.year.generate import load_year, plan
from bench.year.run import top_up
from store import audit_repo, compliance_repo

ROUTE = ((-96.63, 40.79), (-96.63, 40.80), (-96.69, 40.80))
TRACKER = fleet.Tracker("t-1", "bus-1", "school-1", "America/Chicago", "campusguard", ROUTE, ROUTE[0])


def test_a_school_day_has_two_runs_and_a_weekend_only_heartbeats() -> None:
    path = fleet.run_path(ROUTE)
    monday = fleet.day_fixes(TRACKER, date(2026, 3, 2), path)
    saturday = fleet.day_fixes(TRACKER, date(2026, 3, 7), path)
    assert sum(f.speed_kmh > 0 for f in monday) == 2 * len(path)
    assert all(f.speed_kmh == 0 for f in saturday)
    assert len(saturday) == timedelta(days=1) // fleet.PARKED_EVERY
    assert not fleet.school_day(date(2026, 7, 15)) and not fleet.school_day(date(2026, 12, 28))


def test_days_follow_each_other_without_overlap_when_the_clocks_change() -> None:
    # 2026-03-08 is 23 hours long in Chicago, 2026-11-01 25 hours: a day's fixes must end before the next day's.
    path = fleet.run_path(ROUTE)
    for first in (date(2026, 3, 7), date(2026, 10, 31)):
        times = [f.time for n in range(3) for f in fleet.day_fixes(TRACKER, first + timedelta(days=n), path)]
        assert times == sorted(set(times))


def test_the_plan_drops_fleet_copies_before_days() -> None:
    end = datetime(2026, 12, 1, tzinfo=UTC)
    full, tenth = plan(1.0, 41, end), plan(0.1, 41, end)
    assert full.days == 365 and full.copies > 1 and full.incidents == 100_000
    assert tenth.copies == 1 and tenth.days < 365 and tenth.incidents == 10_000


def test_a_tiny_year_loads_with_an_intact_audit_chain(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        the_plan, loaded = load_year(conn, 0.0005, seed=3)
        assert all(loaded.rows[t] > 0 for t in ("positions", "device_events", "incidents", "incident_events",
                                                "audit_log", "patrol_scans", "device_events (cameras, buttons)"))
        verified = audit_repo.verify(conn)
        assert verified.ok, verified.explanation
        assert verified.records > loaded.rows["audit_log"]  # the site load's own records come first on the chain
        span = conn.execute("SELECT min(time), max(time) FROM positions").fetchone()
        assert span is not None and the_plan.start <= span[0] and span[1] < the_plan.end
        stale = conn.execute(
            "SELECT count(*) FROM latest_positions l WHERE l.time <> (SELECT max(time) FROM positions p"
            " WHERE p.device_id = l.device_id)").fetchone()
        assert stale == (0,)
        # Incidents raised after the load get fresh ids: the identity sequence was moved past the loaded ones.
        next_id = conn.execute("SELECT nextval(pg_get_serial_sequence('incidents', 'id'))").fetchone()
        assert next_id is not None and next_id[0] > loaded.rows["incidents"]


def test_the_scorecard_reads_rounds_outages_and_drills_and_a_kept_year_gets_them(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        the_plan, _ = load_year(conn, 0.0005, seed=4, end=datetime(2026, 3, 17, tzinfo=UTC))
        assert conn.execute("SELECT count(*) FROM drills").fetchone() == (7,)  # each school's drill of the 15th
        facts = [r.facts for r in compliance_repo.school_records(conn, "/", the_plan.start, the_plan.end,
                                                                  the_plan.end, lambda camera: 30.0)]
        assert len(facts) == 7 and all(f.rounds_done > 0 and f.last_drill is not None for f in facts)
        # Every round's checkpoints are scanned but a few: most rounds are complete, not all.
        assert 0 < sum(f.rounds_done for f in facts) < sum((f.rounds_per_day or 0) * 2 for f in facts)
        assert all(f.buttons_online <= f.buttons and f.cameras for f in facts)
        # A year loaded before the scorecard's rows were generated has them added when it is reused, its audit
        # chain whole and in time order as a live trail is (the site load's records first, stamped when it ran).
        conn.execute("DELETE FROM device_events WHERE device_id IN (SELECT id FROM devices"
                     " WHERE kind IN ('camera', 'panic_button'))")
        conn.execute("TRUNCATE patrol_scans, drills")
        conn.commit()
        added = top_up(conn, the_plan)
        assert added is not None and added.rows["patrol_scans"] > 0 and added.rows["audit_log"] > 0
        assert top_up(conn, the_plan) is None
        verified = audit_repo.verify(conn)
        assert verified.ok, verified.explanation
        backwards = conn.execute(
            "SELECT count(*) FROM (SELECT at < lag(at) OVER (ORDER BY id) AS back FROM audit_log"
            " WHERE at < %s) t WHERE back", (the_plan.end,)).fetchone()
        assert backwards == (0,)
