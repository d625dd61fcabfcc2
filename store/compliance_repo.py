"""The facts a scorecard judges, for every school of a unit's subtree over one period, in a handful of queries.

Five set-based statements, whatever the number of schools (a city's 30 or a province's 3,000): the schools with
their guards, plan and checkpoints; their cameras and one-button alarms with their time online in the period;
the counted patrol scans of the period's rounds; their drills; their real alarms with the time to the first
move. Scoping is the API's (``campusguard_within``, migration 0017). The rules that judge these facts are
:mod:`domain.compliance`.

Whether a camera or button was online is judged on the period's own history, so a past month reads the same
whenever it is asked: one statement gives each device's online seconds and counted seconds over the period (up to
now for a month in progress, from its first message on), from its online/offline events read as the uptime report
reads them (``command_ui/uptime.py``), and :func:`domain.compliance.online_over` judges them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg

from domain.compliance import CameraFact, SchoolFacts, online_over
from domain.site.patrols import PatrolPlan
from store.queries import OFFLINE_KINDS, ONLINE_KINDS


@dataclass(frozen=True, slots=True)
class SchoolRecord:
    """A school's scorecard facts with what the bulletin shows beside them."""

    facts: SchoolFacts
    timezone: str
    incidents: int
    """Real (non-drill) incidents opened in the period."""
    drills: int
    """Drills of the school's alarms in the period."""


@dataclass(frozen=True, slots=True)
class UnitRow:
    """A unit of the tree above the schools (city, county, township)."""

    id: str
    kind: str
    name: str
    path: str
    depth: int


@dataclass(frozen=True, slots=True)
class DeviceTime:
    """A camera or one-button alarm over a period: its online seconds of the seconds that count for it."""

    school_id: str
    device_id: str
    kind: str
    place_kind: str | None
    kept: bool
    """A camera whose video is kept (it has recordings)."""
    online_s: float
    counted_s: float
    """Seconds of the judged period from the device's first message on (0: never heard, or heard after it)."""


@dataclass(slots=True)
class _Gathering:
    cameras: list[CameraFact] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    buttons: int = 0
    buttons_online: int = 0
    rounds: dict[datetime, set[str]] = field(default_factory=dict)
    last_drill: datetime | None = None
    drills: int = 0
    ack: list[float] = field(default_factory=list)
    unacknowledged: int = 0


_SCHOOLS = """
SELECT s.id, s.name, u.path, s.timezone, s.pupils, s.boarding,
       (SELECT count(*) FROM users g WHERE g.active AND g.role = 'guard' AND g.scope_id = s.id),
       p.plan,
       (SELECT coalesce(array_agg(c.id ORDER BY c.id), '{}') FROM patrol_checkpoints c
        WHERE c.school_id = s.id AND c.active)
FROM schools s JOIN org_units u ON u.id = s.id LEFT JOIN patrol_plans p ON p.id = s.id AND p.active
WHERE s.active AND campusguard_within(u.path, %(scope)s) ORDER BY u.path
"""
# Each camera and button with its online and counted seconds over [since, judged): set-based, one pass over the
# period's events. The state when the device's part of the period opens (the period's start, or its first
# message if later) is read from the nearest evidence as command_ui/uptime.py reads it: the last change up to
# then; else the opposite of the first change after; else, with no change on record at all, its state now. A
# device never heard was down throughout.
_DEVICES = """
WITH watched AS (
    SELECT d.school_id, d.id, d.kind, d.subtype,
           d.kind = 'camera' AND EXISTS (SELECT 1 FROM video_segments v WHERE v.camera_id = d.id) AS kept,
           l.device_id IS NOT NULL AS heard, coalesce(l.online, false) AS online_now,
           greatest(%(since)s, coalesce(l.first_seen, %(since)s)) AS counted_from
    FROM devices d JOIN org_units u ON u.id = d.school_id LEFT JOIN device_liveness l ON l.device_id = d.id
    WHERE d.active AND d.kind IN ('camera', 'panic_button') AND campusguard_within(u.path, %(scope)s)
), opened AS (
    SELECT w.*, w.heard AND coalesce(
        (SELECT e.kind = ANY(%(online)s) FROM device_events e WHERE e.device_id = w.id AND e.kind = ANY(%(kinds)s)
         AND e.time <= w.counted_from ORDER BY e.time DESC LIMIT 1),
        (SELECT NOT e.kind = ANY(%(online)s) FROM device_events e WHERE e.device_id = w.id
         AND e.kind = ANY(%(kinds)s) AND e.time > w.counted_from ORDER BY e.time LIMIT 1),
        w.online_now) AS up
    FROM watched w
), marks AS (
    SELECT id, counted_from AS time, up FROM opened WHERE counted_from < %(judged)s
    UNION ALL
    SELECT o.id, e.time, e.kind = ANY(%(online)s) FROM opened o JOIN device_events e ON e.device_id = o.id
    WHERE o.heard AND e.kind = ANY(%(kinds)s) AND e.time >= %(since)s AND e.time < %(judged)s
      AND e.time > o.counted_from
), spans AS (
    SELECT id, up, lead(time, 1, %(judged)s::timestamptz) OVER (PARTITION BY id ORDER BY time) - time AS span
    FROM marks
), up_time AS (
    SELECT id, sum(span) AS span FROM spans WHERE up GROUP BY id
)
SELECT o.school_id, o.id, o.kind, o.subtype, o.kept, coalesce(extract(epoch FROM t.span), 0),
       greatest(extract(epoch FROM %(judged)s::timestamptz - o.counted_from), 0)
FROM opened o LEFT JOIN up_time t ON t.id = o.id
"""
_SCANS = """
SELECT s.school_id, s.round_start, array_agg(DISTINCT s.checkpoint_id)
FROM patrol_scans s JOIN org_units u ON u.id = s.school_id
WHERE s.counted AND s.round_start >= %(since)s AND s.round_start < %(until)s
  -- A scan falls within a day of its round's start: the bound lets the scans' time index cut a year down to
  -- the month (round_start alone has no index).
  AND s.scanned_at >= %(since)s - interval '1 day' AND s.scanned_at < %(until)s + interval '1 day'
  AND campusguard_within(u.path, %(scope)s)
GROUP BY s.school_id, s.round_start
"""
# A `campusguard drill` leaves a drills row and a drill incident: the incident counts only when no drills row
# names it (a drill run in drill mode by people pressing the real buttons, or an incident a person resolved as a
# drill: its outcome says so, while its drill flag stays as raised). A drill that failed earns no credit.
_DRILLS = """
SELECT d.school_id, max(d.at), count(*) FILTER (WHERE d.at >= %(since)s)
FROM (SELECT school_id, started_at AS at FROM drills WHERE ok
      UNION ALL
      SELECT i.school_id, i.raised_at FROM incidents i
      WHERE (i.drill OR i.outcome = 'drill') AND NOT EXISTS (SELECT 1 FROM drills x WHERE x.incident_id = i.id)) d
JOIN org_units u ON u.id = d.school_id
WHERE d.at < %(until)s AND campusguard_within(u.path, %(scope)s)
GROUP BY d.school_id
"""
# The time to the first move is kept on the incident (first_move_at, migration 0045: the earliest acknowledge,
# respond or resolve, drills included, never reset by a reopen), the same first move the timeline gave: a month's
# alarms are read from the incidents alone, with no pass over the timeline's partitions.
_ALARMS = """
SELECT i.school_id, extract(epoch FROM i.first_move_at - i.raised_at)
FROM incidents i JOIN org_units u ON u.id = i.school_id
WHERE NOT i.drill AND i.outcome IS DISTINCT FROM 'drill' AND i.opened_at >= %(since)s AND i.opened_at < %(until)s
  AND campusguard_within(u.path, %(scope)s)
"""


def device_times(conn: psycopg.Connection, scope: str, since: datetime, judged_until: datetime) -> list[DeviceTime]:
    """Give every active camera and one-button alarm under ``scope`` its online and counted seconds in the period.

    One statement for the whole subtree; the seconds are those the uptime report (``command_ui/uptime.py``) gives
    for the same window, and :func:`domain.compliance.online_over` judges them.
    """
    params = {"scope": scope, "since": since, "judged": max(judged_until, since),
              "kinds": [*OFFLINE_KINDS, *ONLINE_KINDS], "online": list(ONLINE_KINDS)}
    return [DeviceTime(school, device, kind, place, bool(kept), float(online_s), float(counted_s))
            for school, device, kind, place, kept, online_s, counted_s in conn.execute(_DEVICES, params)]


def school_records(conn: psycopg.Connection, scope: str, since: datetime, until: datetime, now: datetime,
                   retention_of: Callable[[str], float]) -> list[SchoolRecord]:
    """Gather every active school under ``scope`` for the period [since, until), judged up to ``now``.

    ``retention_of`` gives a camera's configured retention in days (the video settings): the database knows
    which cameras keep video, the settings how long.
    """
    judged_until = max(min(until, now), since)
    params = {"scope": scope, "since": since, "until": until}
    schools = conn.execute(_SCHOOLS, params).fetchall()
    found: dict[str, _Gathering] = {row[0]: _Gathering() for row in schools}
    # Devices, scans, drills and alarms of a school no longer in the site file (retired: not active) are
    # skipped: the scorecard is of the schools there are.
    for device in device_times(conn, scope, since, judged_until):
        if (held := found.get(device.school_id)) is None:
            continue
        online = online_over(device.online_s, device.counted_s)
        if device.kind == "camera":
            held.cameras.append(CameraFact(device.place_kind, online))
            if device.kept:
                held.kept.append(device.device_id)
        else:
            held.buttons += 1
            held.buttons_online += online
    for school_id, start, points in conn.execute(_SCANS, params):
        if school_id in found:
            found[school_id].rounds[start] = set(points)
    for school_id, last, count in conn.execute(_DRILLS, params):
        if school_id in found:
            found[school_id].last_drill, found[school_id].drills = last, int(count)
    incidents: dict[str, int] = {}
    for school_id, seconds in conn.execute(_ALARMS, params):
        if (held := found.get(school_id)) is None:
            continue
        incidents[school_id] = incidents.get(school_id, 0) + 1
        if seconds is None:
            held.unacknowledged += 1
        else:
            held.ack.append(max(float(seconds), 0.0))
    days = (judged_until - since) / timedelta(days=1)
    out: list[SchoolRecord] = []
    for school_id, name, path, zone, pupils, boarding, guards, plan_json, checkpoints in schools:
        held = found[school_id]
        plan = PatrolPlan.model_validate(plan_json) if plan_json is not None else None
        # A round is complete when every checkpoint it visits has a counted scan (alerts/patrols.py).
        needed = set(plan.checkpoints or checkpoints) if plan is not None else set()
        done = sum(1 for start, points in held.rounds.items() if start < judged_until and needed <= points) \
            if plan is not None and needed else 0
        facts = SchoolFacts(
            school_id=school_id, name=name, path=path, pupils=pupils, boarding=bool(boarding), guards=int(guards),
            rounds_per_day=len(plan.times()) if plan is not None else None, rounds_done=done, days=days,
            cameras=tuple(held.cameras), retention_days=tuple(retention_of(c) for c in sorted(held.kept)),
            buttons=held.buttons, buttons_online=held.buttons_online, last_drill=held.last_drill,
            period_end=until, ack_seconds=tuple(held.ack), unacknowledged=held.unacknowledged)
        out.append(SchoolRecord(facts, zone, incidents.get(school_id, 0), held.drills))
    return out


def units(conn: psycopg.Connection, scope: str) -> list[UnitRow]:
    """List the units above the schools under ``scope`` (the scope's own unit among them), top first."""
    rows = conn.execute("SELECT id, kind, name, path, depth FROM org_units WHERE campusguard_within(path, %s)"
                        " AND kind NOT IN ('school', 'class') AND retired_at IS NULL ORDER BY depth, path",
                        (scope,)).fetchall()
    return [UnitRow(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]


def unit(conn: psycopg.Connection, unit_id: str) -> UnitRow | None:
    """Return one unit of the tree by id (a school too), or None."""
    row = conn.execute("SELECT id, kind, name, path, depth FROM org_units WHERE id = %s AND kind <> 'class'",
                       (unit_id,)).fetchone()
    return UnitRow(row[0], row[1], row[2], row[3], int(row[4])) if row else None


def scope_zone(conn: psycopg.Connection, scope: str) -> str | None:
    """Return the timezone most schools under ``scope`` keep (a month is read in it), or None without schools."""
    row = conn.execute("SELECT s.timezone FROM schools s JOIN org_units u ON u.id = s.id"
                       " WHERE s.active AND campusguard_within(u.path, %s)"
                       " GROUP BY s.timezone ORDER BY count(*) DESC, s.timezone LIMIT 1", (scope,)).fetchone()
    return str(row[0]) if row else None
