"""The response-time report reads each incident's first moves from the rollup migration 0045 keeps (issue 21).

The report used to find them in the timeline; that query stays here as the oracle. Randomized incidents (reopened,
responded to before an acknowledgement, resolved straight away as false alarms, drills, never touched) have their
timelines written out of time order, row by row and by COPY, and the report must give the oracle's answer. The
rollup must hold on both storage paths, after a backfill of timelines written before the migration, and over a
generated year (bench/year writes the columns itself and loads the timeline by COPY).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.year.generate import load_year
from devtools.pglite import start_pglite
from domain.site.validate import load_site as read_site
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.partitions import ensure_partitions
from store.queries import ResponseWeek, response_times
from store.site_repo import load_site

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "district.yaml"
START = datetime(2026, 3, 2, 6, tzinfo=UTC)
SPAN = timedelta(weeks=6)
TIMELINE = ("incident_id", "seq", "time", "school_id", "kind", "actor")

ORACLE = """
WITH moves AS (
  SELECT e.incident_id, min(e.time) AS acked, min(e.time) FILTER (WHERE e.kind = 'resolve') AS resolved
  FROM incident_events e WHERE e.kind IN ('acknowledge', 'respond', 'resolve')
    AND e.time >= %(since)s::timestamptz - interval '1 day' GROUP BY e.incident_id
), firsts AS (
  SELECT i.id, i.school_id, i.opened_at, i.raised_at, s.timezone, m.acked, m.resolved
  FROM incidents i JOIN org_units u ON u.id = i.school_id JOIN schools s ON s.id = i.school_id
  LEFT JOIN moves m ON m.incident_id = i.id
  WHERE campusguard_within(u.path, %(scope)s) AND i.opened_at >= %(since)s AND i.opened_at < %(until)s
    AND NOT i.drill AND (%(schools)s::text[] IS NULL OR i.school_id = ANY(%(schools)s)))
SELECT school_id, date_trunc('week', opened_at AT TIME ZONE timezone)::date AS week, count(*),
  count(acked), percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM acked - raised_at)),
  percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM acked - raised_at)),
  count(resolved), percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved - raised_at)),
  percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM resolved - raised_at))
FROM firsts GROUP BY school_id, week ORDER BY school_id, week
"""
"""The report before migration 0045: first moves found in the timeline (store/queries.py until then)."""


def from_timeline(conn: psycopg.Connection, scope: str, since: datetime, until: datetime,
                  schools: tuple[str, ...] = ()) -> list[ResponseWeek]:
    rows = conn.execute(ORACLE, {"scope": scope, "since": since, "until": until,
                                 "schools": list(schools) or None}).fetchall()
    def opt(value: Any) -> float | None:
        return None if value is None else float(value)

    return [ResponseWeek(r[0], r[1], int(r[2]), int(r[3]), opt(r[4]), opt(r[5]), int(r[6]), opt(r[7]), opt(r[8]))
            for r in rows]


def timeline(rng: random.Random, raised: datetime) -> list[tuple[str, datetime]]:
    """One incident's timeline in time order: one of the ways people move incidents, or none."""
    def later(at: datetime, most_s: int = 1800) -> datetime:
        return at + timedelta(seconds=rng.randint(1, most_s), microseconds=rng.randint(0, 999_999))

    steps = [("raised", raised), ("seen", later(raised, 60))]
    shape = rng.choice(("untouched", "handled", "respond_first", "false_alarm", "reopened", "acknowledged_only"))
    at = later(raised)
    if shape == "handled":
        steps += [("acknowledge", at), ("respond", later(at)), ("resolve", later(later(at)))]
    elif shape == "respond_first":
        steps += [("respond", at), ("acknowledge", later(at)), ("resolve", later(later(at)))]
    elif shape == "false_alarm":
        steps += [("resolve", at), ("close", later(at))]
    elif shape == "reopened":
        resolved = later(at)
        reopened = later(resolved)
        again = later(reopened)
        steps += [("acknowledge", at), ("resolve", resolved), ("reopen", reopened), ("acknowledge", again),
                  ("resolve", later(again))]
    elif shape == "acknowledged_only":
        steps.append(("acknowledge", at))
    return sorted(steps, key=lambda s: s[1])


def write_incidents(conn: psycopg.Connection, rng: random.Random, count: int) -> None:
    """Raise ``count`` incidents over SPAN and write their timelines shuffled, half row by row, half by COPY."""
    schools = [r[0] for r in conn.execute("SELECT id FROM schools ORDER BY id").fetchall()][:6]
    rows: list[tuple[Any, ...]] = []
    for _ in range(count):
        opened = START + SPAN * rng.random()
        # opened_at is the device's time: some clocks run behind the server, some hours ahead (under a day).
        raised = opened + rng.choice((timedelta(seconds=rng.uniform(0, 5)), timedelta(minutes=-rng.randint(1, 600)),
                                      timedelta(minutes=rng.randint(1, 20))))
        school = rng.choice(schools)
        found = conn.execute(
            "INSERT INTO incidents (school_id, type, severity, status, title, opened_at, updated_at, raised_at,"
            " drill) VALUES (%s, 'panic', 'critical', 'raised', 'panic', %s, %s, %s, %s) RETURNING id",
            (school, opened, raised, raised, rng.random() < 0.1)).fetchone()
        assert found is not None
        rows += [(found[0], seq, at, school, kind, "guard")
                 for seq, (kind, at) in enumerate(timeline(rng, raised), start=1)]
    rng.shuffle(rows)
    half = len(rows) // 2
    for row in rows[:half]:
        conn.execute(f"INSERT INTO incident_events ({', '.join(TIMELINE)}) VALUES (%s, %s, %s, %s, %s, %s)", row)
    with conn.cursor() as cur, cur.copy(f"COPY incident_events ({', '.join(TIMELINE)}) FROM STDIN") as copy:
        for row in rows[half:]:
            copy.write_row(row)


@pytest.fixture
def site(conn: psycopg.Connection) -> psycopg.Connection:
    """The migrated database with the example district and timeline partitions around SPAN."""
    load_site(conn, read_site(EXAMPLE))
    ensure_partitions(conn, "incident_events", START - timedelta(days=2), START + SPAN + timedelta(days=2))
    return conn


def district(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT path FROM org_units WHERE kind = 'district' ORDER BY path LIMIT 1").fetchone()
    assert row is not None
    return str(row[0])


def windows(conn: psycopg.Connection) -> Iterator[tuple[str, datetime, datetime, tuple[str, ...]]]:
    """Scopes, windows and school filters the report is asked for."""
    mid = START + SPAN / 2
    one = conn.execute("SELECT min(school_id) FROM incidents").fetchone()
    assert one is not None
    yield "/", START - timedelta(days=1), START + SPAN + timedelta(days=1), ()
    yield district(conn), START, mid, ()
    yield "/", mid, START + SPAN, (str(one[0]),)
    yield "/", mid + timedelta(days=3, hours=5), mid + timedelta(days=9), ()


def test_the_report_equals_the_timeline_oracle(site: psycopg.Connection) -> None:
    write_incidents(site, random.Random(45), 400)
    for scope, since, until, schools in windows(site):
        expected = from_timeline(site, scope, since, until, schools)
        assert expected, "the window holds incidents"
        assert response_times(site, scope, since, until, schools) == expected


def test_the_earliest_move_is_kept_whatever_the_order_and_a_reopen_resets_nothing(site: psycopg.Connection) -> None:
    t = START + timedelta(days=1)
    found = site.execute("INSERT INTO incidents (school_id, type, severity, status, title, opened_at, updated_at)"
                         " SELECT min(id), 'panic', 'critical', 'raised', 'panic', %s, %s FROM schools RETURNING id",
                         (t, t)).fetchone()
    assert found is not None
    incident = found[0]

    def move(seq: int, kind: str, seconds: int) -> tuple[Any, ...]:
        site.execute("INSERT INTO incident_events (incident_id, seq, time, school_id, kind)"
                     " SELECT %s, %s, %s, school_id, %s FROM incidents WHERE id = %s",
                     (incident, seq, t + timedelta(seconds=seconds), kind, incident))
        row = site.execute("SELECT first_move_at, first_resolved_at FROM incidents WHERE id = %s",
                           (incident,)).fetchone()
        assert row is not None
        return tuple(None if v is None else int((v - t).total_seconds()) for v in row)

    assert move(1, "seen", 5) == (None, None)
    assert move(2, "acknowledge", 60) == (60, None)
    assert move(3, "respond", 30) == (30, None)  # arrived late, happened first
    assert move(4, "resolve", 900) == (30, 900)
    assert move(5, "reopen", 1000) == (30, 900)
    assert move(6, "acknowledge", 1100) == (30, 900)
    assert move(7, "resolve", 1200) == (30, 900)
    assert move(8, "resolve", 20) == (20, 20)  # a false alarm's resolve recorded out of order


def test_timelines_written_before_the_migration_are_backfilled(site: psycopg.Connection) -> None:
    write_incidents(site, random.Random(7), 150)
    expected = from_timeline(site, "/", START - timedelta(days=1), START + SPAN + timedelta(days=1))
    # Back to the schema before 0045, then the runner applies it again over the timelines already there.
    site.execute("DROP TRIGGER incident_first_moves ON incident_events")
    site.execute("DROP FUNCTION incident_first_moves()")
    site.execute("ALTER TABLE incidents DROP COLUMN first_move_at, DROP COLUMN first_resolved_at")
    site.execute("DELETE FROM schema_migrations WHERE version = 45")
    assert migrate(site, StorageBackend.AUTO, RetentionSettings()).applied == (45,)
    assert response_times(site, "/", START - timedelta(days=1), START + SPAN + timedelta(days=1)) == expected


def test_a_generated_year_carries_the_rollup_its_timeline_gives(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        the_plan, _ = load_year(conn, 0.0005, seed=5)
        kept = conn.execute(
            "SELECT count(*), count(i.first_move_at), count(*) FILTER (WHERE i.first_move_at IS NOT DISTINCT FROM"
            " m.first_move AND i.first_resolved_at IS NOT DISTINCT FROM m.first_resolved) FROM incidents i"
            " LEFT JOIN (SELECT incident_id, min(time) AS first_move,"
            "  min(time) FILTER (WHERE kind = 'resolve') AS first_resolved FROM incident_events"
            "  WHERE kind IN ('acknowledge', 'respond', 'resolve') GROUP BY incident_id) m ON m.incident_id = i.id"
            ).fetchone()
        assert kept is not None and kept[0] == kept[2] and kept[1] > 0
        assert response_times(conn, "/", the_plan.start, the_plan.end) == from_timeline(
            conn, "/", the_plan.start, the_plan.end)


@pytest.mark.timescale
def test_the_rollup_is_kept_on_timescaledb_chunks_made_after_the_migration(tmp_path: Path) -> None:
    with start_pglite(tmp_path, conn_wait_ms=5000) as url, psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, StorageBackend.TIMESCALE, RetentionSettings())
        load_site(conn, read_site(EXAMPLE))
        write_incidents(conn, random.Random(3), 40)  # six weeks: chunks of 30 days made by these rows
        since, until = START - timedelta(days=1), START + SPAN + timedelta(days=1)
        expected = from_timeline(conn, "/", since, until)
        assert sum(w.acknowledged for w in expected) > 0
        assert response_times(conn, "/", since, until) == expected
