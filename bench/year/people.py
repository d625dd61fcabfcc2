"""What the scorecard reads besides incidents: guards' rounds, camera and button outages, drills, people's audit.

Over the generated year, with the audit records people leave as they go (each scan, each live view of a camera).
Shaped like a city's schools keep them: every school walks its patrol plan every day (most checkpoints scanned
within the grace, a few missed, a few scanned twice where the second does not count); each camera and one-button
alarm drops off now and then (about four outages a week, minutes to hours long); each school runs a drill a month
on one of its buttons (one in ten fails). A guard opens a camera's live view about
every half hour of a twelve-hour shift, audited at its start and end (``command_ui/routers/video.py``), as each
scan is (``command_ui/routers/patrols.py``): the audit trail grows with people, not only with incidents.

Rows are made here and written by ``bench.year.generate`` with binary COPY, seeded by the ``random.Random`` given.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from domain.audit import AuditRecord
from domain.site.patrols import PatrolPlan

MISSED = 0.04
"""Share of a round's checkpoints never scanned (the round stays incomplete)."""
REPLAYED = 0.02
"""Share of scans followed by a second, uncounted scan of the same checkpoint in the same round."""
OUTAGES = (0, 0, 0, 0, 1, 1, 2)
"""Outages of one device on one day, drawn uniformly: about four a week."""
LIVE_VIEWS = 24
"""Live views one guard opens in a day."""


@dataclass(frozen=True, slots=True)
class SchoolDay:
    """What a school's day needs: its zone, plan, checkpoints, guards, cameras and buttons."""

    school_id: str
    path: str
    zone: ZoneInfo
    plan: PatrolPlan | None
    checkpoints: tuple[str, ...]
    guards: tuple[str, ...]
    cameras: tuple[str, ...]
    buttons: tuple[str, ...]


@dataclass
class Made:
    """Rows for COPY: patrol scans, device events, drills; audit records to chain with the incidents'."""

    scans: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    drills: list[tuple[Any, ...]] = field(default_factory=list)
    audits: list[tuple[AuditRecord, str]] = field(default_factory=list)


def schools(conn: psycopg.Connection) -> list[SchoolDay]:
    """Every active school with what its days are made of."""
    rows = conn.execute(
        "SELECT s.id, u.path, s.timezone, p.plan,"
        " ARRAY(SELECT c.id FROM patrol_checkpoints c WHERE c.school_id = s.id AND c.active ORDER BY c.id),"
        " ARRAY(SELECT g.id FROM users g WHERE g.scope_id = s.id AND g.role = 'guard' AND g.active ORDER BY g.id),"
        " ARRAY(SELECT d.id FROM devices d WHERE d.school_id = s.id AND d.active AND d.kind = 'camera' ORDER BY d.id),"
        " ARRAY(SELECT d.id FROM devices d WHERE d.school_id = s.id AND d.active AND d.kind = 'panic_button'"
        "  ORDER BY d.id)"
        " FROM schools s JOIN org_units u ON u.id = s.id LEFT JOIN patrol_plans p ON p.id = s.id AND p.active"
        " WHERE s.active ORDER BY s.id").fetchall()
    return [SchoolDay(r[0], r[1], ZoneInfo(r[2]), PatrolPlan.model_validate(r[3]) if r[3] is not None else None,
                      tuple(r[4]), tuple(r[5]) or ("guard",), tuple(r[6]), tuple(r[7])) for r in rows]


def make(places: list[SchoolDay], start: datetime, end: datetime, rng: random.Random, first_scan: int) -> Made:
    """Generate the year's rounds, outages, drills and people's audit records for ``places``."""
    made = Made()
    scan_id = first_scan
    for school in places:
        _outages(made, school, start, end, rng)
        first_day = start.astimezone(school.zone).date()
        for n in range((end - start).days + 1):
            day = first_day + timedelta(days=n)
            if school.plan is not None:
                needed = school.plan.checkpoints or school.checkpoints
                for at in school.plan.times():
                    round_start = datetime.combine(day, at, school.zone)
                    if not start <= round_start < end:
                        continue
                    scan_id = _round(made, school, needed, round_start, school.plan.grace_min, rng, scan_id)
            _views(made, school, datetime.combine(day, datetime.min.time(), school.zone), start, end, rng)
            if day.day == 15 and school.buttons:
                drilled = datetime.combine(day, datetime.min.time(), school.zone) + timedelta(hours=10)
                if start <= drilled < end:
                    made.drills.append((school.school_id, rng.choice(school.buttons), drilled,
                                        float(rng.randint(80, 900)), float(rng.randint(5_000, 90_000)),
                                        rng.random() >= 0.1))
    return made


def _round(made: Made, school: SchoolDay, needed: tuple[str, ...], round_start: datetime, grace_min: int,
           rng: random.Random, scan_id: int) -> int:
    guard = rng.choice(school.guards)
    for checkpoint in needed:
        if rng.random() < MISSED:
            continue
        at = round_start + timedelta(minutes=rng.uniform(1, grace_min - 1))
        reasons = ["counted"] + (["repeat"] if rng.random() < REPLAYED else [])
        for k, reason in enumerate(reasons):
            scanned = at + timedelta(seconds=20 * k)
            made.scans.append((scan_id, checkpoint, school.school_id, guard, round_start, scanned, scanned,
                               reason == "counted", reason))
            made.audits.append((AuditRecord(scanned, guard, "patrol.scan", f"checkpoint:{checkpoint}", {
                "scan": scan_id, "school_id": school.school_id, "round": round_start.isoformat(), "reason": reason,
                "lon": None, "lat": None}), school.path))
            scan_id += 1
    return scan_id


def _views(made: Made, school: SchoolDay, midnight: datetime, start: datetime, end: datetime,
           rng: random.Random) -> None:
    if not school.cameras:
        return
    for guard in school.guards:
        for k in range(LIVE_VIEWS):
            # Half-hourly from 07:00, a few minutes each.
            opened = midnight + timedelta(hours=7, minutes=30 * k + rng.uniform(0, 25))
            if not start <= opened < end:
                continue
            seconds = rng.randint(10, 300)
            camera = f"camera:{rng.choice(school.cameras)}"
            made.audits.append((AuditRecord(opened, guard, "video.live.start", camera, {"from": "10.0.0.2"}),
                                school.path))
            made.audits.append((AuditRecord(opened + timedelta(seconds=seconds), guard, "video.live.end", camera,
                                            {"seconds": seconds}), school.path))


def _outages(made: Made, school: SchoolDay, start: datetime, end: datetime, rng: random.Random) -> None:
    second = timedelta(seconds=1)
    for device in (*school.cameras, *school.buttons):
        made.events.append((device, start, "online", start + second))
        back = start
        for n in range((end - start).days):
            day = start + timedelta(days=n)
            for down in sorted(day + timedelta(seconds=rng.uniform(0, 86_000)) for _ in range(rng.choice(OUTAGES))):
                up = down + timedelta(minutes=rng.uniform(5, 480))
                # An outage starts after the last one ended: offline and online alternate, as ingest records them.
                if back < down and up < end:
                    made.events += [(device, down, "offline", down + second), (device, up, "online", up + second)]
                    back = up


def liveness(conn: psycopg.Connection, places: list[SchoolDay], start: datetime, end: datetime) -> None:
    """Say every camera and button was first heard at the year's start and is online now, as ingest keeps it."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO device_liveness (device_id, last_seen, online, first_seen) VALUES (%s, %s, true, %s)"
            " ON CONFLICT (device_id) DO UPDATE SET first_seen = excluded.first_seen",
            [(d, end, start) for s in places for d in (*s.cameras, *s.buttons)])



Copy = Callable[[str, Sequence[str], Sequence[str], Iterator[tuple[Any, ...]]], None]


def write(conn: psycopg.Connection, made: Made, places: list[SchoolDay], start: datetime, end: datetime,
          copy: Copy) -> None:
    """COPY the scans, the cameras' and buttons' events and the drills (the audit records go with the chain).

    ``copy`` is ``generate``'s timed COPY; the cameras' and buttons' events are counted apart from the trackers'.
    """
    copy("patrol_scans", ("id", "checkpoint_id", "school_id", "user_id", "round_start", "scanned_at", "device_time",
                          "counted", "reason"),
         ("int8", "text", "text", "text", "timestamptz", "timestamptz", "timestamptz", "bool", "text"),
         iter(made.scans))
    conn.execute("SELECT setval(pg_get_serial_sequence('patrol_scans', 'id'), (SELECT max(id) FROM patrol_scans))")
    copy("device_events (cameras, buttons)", ("device_id", "time", "kind", "received_at"),
         ("text", "timestamptz", "text", "timestamptz"), iter(made.events))
    copy("drills", ("school_id", "device_id", "started_at", "raised_ms", "acknowledged_ms", "ok"),
         ("text", "text", "timestamptz", "float8", "float8", "bool"), iter(made.drills))
    liveness(conn, places, start, end)
    conn.commit()
