"""The demo's guards walking their patrol rounds, so the city's plans show done rounds and one scripted miss a day.

Without it every round of every school would be missed and the demo would drown in alarms. Each round is walked
from a few minutes after its start, one checkpoint every few minutes, each scan made by a guard of the school at
the checkpoint's place, counted by the same rules (:mod:`alerts.patrols`) and audited like a phone's. One round a
day at :data:`SCRIPTED_SCHOOL` (10:00) leaves its last checkpoint unvisited: the missed round the demo shows.

:func:`planned_scans` is pure; :func:`walk_due` writes what is due; :func:`walk_forever` repeats it until stopped.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import psycopg

from alerts.patrols import Round, rounds_of_day
from domain.audit import AuditRecord
from store import audit_repo, patrol_repo
from store.db import connect
from store.patrol_repo import ScanIn

log = logging.getLogger(__name__)
SCRIPTED_SCHOOL = "wangzhuang-zxxx"
SCRIPTED_ROUND = dt.time(10, 0)
FIRST_AFTER_MIN = (3, 10)
BETWEEN_MIN = (2, 6)
TICK_S = 30.0


@dataclass(frozen=True, slots=True)
class PlannedScan:
    """One scan the demo's guard makes: which checkpoint, in which round, when (server time)."""

    checkpoint_id: str
    round_start: dt.datetime
    at: dt.datetime


def planned_scans(round_: Round) -> tuple[PlannedScan, ...]:
    """Return the scans a demo guard makes in a round (deterministic per round); the scripted round leaves one out."""
    rng = random.Random(f"{round_.school_id}-{round_.start.isoformat()}")  # noqa: S311 - demo timing, not secrets
    at = round_.start + dt.timedelta(minutes=rng.randint(*FIRST_AFTER_MIN))
    visits = list(round_.checkpoints)
    if round_.school_id == SCRIPTED_SCHOOL and round_.local_time == SCRIPTED_ROUND:
        visits = visits[:-1]
    scans = []
    for point in visits:
        scans.append(PlannedScan(point, round_.start, at))
        at += dt.timedelta(minutes=rng.randint(*BETWEEN_MIN))
    return tuple(scans)


def walk_due(conn: psycopg.Connection, now: dt.datetime) -> int:
    """Record every planned scan of today's rounds that is due and not yet made; returns how many."""
    made = 0
    for school in patrol_repo.school_patrols(conn):
        guard = patrol_repo.first_guard(conn, school.school_id)
        if guard is None:
            continue
        zone = ZoneInfo(school.timezone)
        places = {c.id: c for c in school.checkpoints}
        today = now.astimezone(zone).date()
        midnight = dt.datetime.combine(today, dt.time(0), tzinfo=zone)
        # Today's rounds and the one of yesterday that runs past midnight: the day the pages and scorecard show.
        rounds = [r for day in (today - dt.timedelta(days=1), today)
                  for r in rounds_of_day(school.school_id, school.plan, zone, day, list(places)) if r.close > midnight]
        done = patrol_repo.counted_scans(conn, school.school_id, rounds[0].start,
                                         rounds[-1].start + dt.timedelta(seconds=1))
        due = [(r, scan) for r in rounds for scan in planned_scans(r)
               if scan.at <= now and scan.checkpoint_id in places and scan.checkpoint_id not in done.get(r.start, {})]
        # One transaction per school: a demo started late in the day writes hundreds at once.
        with conn.transaction():
            for round_, scan in due:
                point = places[scan.checkpoint_id]
                scan_id, reason = patrol_repo.record_scan(conn, ScanIn(
                    point.id, school.school_id, guard, round_.start, scan.at, scan.at, point.lon,
                    point.lat, 5.0 if point.lon is not None else None), "counted")
                # Audited when written (the chain runs in time order); the scan keeps when it was made.
                audit_repo.append(conn, AuditRecord(now, guard, "patrol.scan", f"checkpoint:{point.id}",
                                                    {"scan": scan_id, "school_id": school.school_id,
                                                     "round": round_.start.isoformat(), "reason": reason,
                                                     "simulated": True}))
                made += 1
    return made


def walk_forever(database_url: str, stop: threading.Event, tick_s: float = TICK_S) -> None:
    """Walk the due rounds every ``tick_s`` until ``stop``; a failed pass is logged and tried again."""
    while not stop.wait(tick_s):
        try:
            with connect(database_url, autocommit=True) as conn:
                walk_due(conn, dt.datetime.now(dt.UTC))
        except Exception:
            log.exception("demo patrol pass failed; retrying")
